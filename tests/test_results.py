from __future__ import annotations

import json

import pytest

import helpers
from helpers import results
from helpers.errors import CourseError


def test_record_appends_one_file_per_scale_and_source(sample_profile):
    helpers.record("01", "mean", 0.5, model="m", baseline=0.4, train_seconds=1.234, samples_per_second=9.0)
    helpers.record("01", "mean", 0.6, model="m")
    path = results.results_path("tiny", "sample")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["value"] for r in rows] == [0.5, 0.6]
    assert rows[0]["train_seconds"] == 1.23 and rows[0]["samples_per_second"] == 9.0
    assert {r["scale"] for r in rows} == {"tiny"} and {r["source"] for r in rows} == {"sample"}
    assert not list(path.parent.glob("*.tmp"))  # the atomic write cleaned up


def test_load_results_keeps_latest_per_result(sample_profile):
    helpers.record("01", "mean", 0.5, model="m")
    helpers.record("01", "mean", 0.7, model="m")
    helpers.record("01", "cls", 0.2, model="m")
    frame = helpers.load_results()
    assert len(frame) == 2 and set(frame["value"]) == {0.7, 0.2}
    assert len(helpers.load_results(latest=False)) == 3
    assert helpers.load_results(scale="full").empty


def test_substituted_models_are_labelled(sample_profile):
    row = helpers.record("01", "cls", 0.1, model="bert-base-uncased")
    assert row["model"] == "bert-base-uncased [offline substitute: all-MiniLM-L6-v2]"


def test_record_refuses_non_numbers(sample_profile):
    with pytest.raises(CourseError, match="needs a number"):
        helpers.record("01", "x", "high")


def test_report_and_plot(sample_profile):
    helpers.record("01", "mean", 0.8, model="m", baseline=0.6)
    written = results.write_report()
    assert written[0].name == "results.md" and "| 01 | mean | m |" in written[0].read_text()
    assert written[1].suffix == ".png" and written[1].stat().st_size > 1000


def test_plot_without_results_explains(sample_profile):
    with pytest.raises(CourseError, match="no results with metric"):
        helpers.plot_results(helpers.load_results())
