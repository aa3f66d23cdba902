from __future__ import annotations

import json

import pytest

import helpers
from helpers import results
from helpers.profiles import CourseError


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


def test_expectations_apply_only_to_comparable_runs(sample_profile):
    from tools import expectations

    check = expectations.check
    mnrl = "MNRL (pairs + random soft negative)"  # the book's MNRL setting: the one 03d run with a floor
    check("full", "sample", False, "03d", mnrl, "spearman", 0.1)  # sample data: reported only
    check("full", "hub", True, "03d", mnrl, "spearman", 0.1)  # substituted model: reported only
    check("quick", "hub", False, "03d", mnrl, "spearman", 0.1)  # no floor at quick
    check("full", "hub", False, "03d", mnrl, "spearman", 0.81)
    check("full", "hub", False, "03d", "MNRL (batch 8)", "spearman", 0.5)  # a sweep run: no floor describes it
    with pytest.raises(expectations.QualityRegression, match=r"below the full-scale floor 0\.8"):
        check("full", "hub", False, "03d", mnrl, "spearman", 0.75)


def test_a_regression_is_kept_in_the_store_and_found_by_the_watch(sample_profile):
    from dataclasses import replace

    from helpers.profiles import output_dir
    from tools import expectations

    watch = expectations.StoreWatch(output_dir() / "results")
    full_hub = replace(sample_profile.with_scale(name="full"), source="hub")
    helpers.record("03d", "MNRL (batch 8)", 0.5, model="bert-base-uncased-local", profile=full_hub)
    assert [r["method"] for r in watch.new_rows()] == ["MNRL (batch 8)"]  # no floor describes it
    helpers.record("03d", "MNRL (pairs + random soft negative)", 0.5, model="bert-base-uncased-local", profile=full_hub)
    rows = watch.new_rows()
    assert [r["method"] for r in rows] == ["MNRL (pairs + random soft negative)"] and watch.new_rows() == []
    with pytest.raises(expectations.QualityRegression, match="below the full-scale floor"):
        expectations.check_row(rows[0])
    assert helpers.load_results(scale="full", source="hub")["value"].tolist() == [0.5, 0.5]


def test_a_corrupt_line_is_quarantined_and_recording_goes_on(sample_profile, capsys):
    helpers.record("01", "mean", 0.5, model="m")
    path = results.results_path("tiny", "sample")
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"notebook": "01", "method": "cut off\n[1, 2]\n')
    helpers.record("01", "cls", 0.2, model="m")  # a damaged store does not block recording
    capsys.readouterr()
    frame = helpers.load_results(latest=False)
    out = capsys.readouterr()
    assert sorted(frame["method"]) == ["cls", "mean"]  # no valid row lost
    assert f"results store {path}: line(s) 2, 3 not a valid row" in out.out and out.err == ""
    corrupt = path.with_name(path.name + ".corrupt")
    assert corrupt.read_text() == '{"notebook": "01", "method": "cut off\n[1, 2]\n'
    assert [json.loads(line)["method"] for line in path.read_text().splitlines()] == ["mean", "cls"]
    helpers.load_results()
    assert capsys.readouterr().out == ""  # reported once: the line has moved


def test_a_half_written_last_line_does_not_swallow_the_next_row(sample_profile, capsys):
    helpers.record("01", "mean", 0.5, model="m")
    path = results.results_path("tiny", "sample")
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"notebook": "01", "meth')  # a writer killed mid-line
    helpers.record("01", "cls", 0.2, model="m")
    assert sorted(helpers.load_results()["method"]) == ["cls", "mean"]
    assert "line(s) 2 not a valid row" in capsys.readouterr().out


def test_rows_with_unusual_line_separators_survive(sample_profile):
    helpers.record("01", "a\u2028b\rc", 0.5, model="m")
    helpers.record("01", "plain", 0.6, model="m")
    assert sorted(helpers.load_results()["method"]) == ["a\u2028b\rc", "plain"]


@pytest.mark.parametrize("key", ["scale", "source", "timestamp"])
def test_record_refuses_to_overwrite_reserved_columns(sample_profile, key):
    with pytest.raises(CourseError, match=f"record\\(\\) sets '{key}' itself"):
        helpers.record("01", "mean", 0.5, **{key: "x"})
    assert helpers.load_results().empty


def test_each_record_is_one_append(sample_profile, monkeypatch):
    import os

    writes = []
    real_write = os.write

    def spy(fd, data):
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(results.os, "write", spy)
    helpers.record("01", "mean", 0.5, model="m")
    helpers.record("01", "cls", 0.25, model="m")
    assert len(writes) == 2 and all(w.endswith(b"\n") and w.count(b"\n") == 1 for w in writes)
    assert results.results_path("tiny", "sample").read_bytes() == b"".join(writes)


def test_report_lists_how_each_notebook_ended(sample_profile):
    md = results.write_report(runs=[("01_a", "ok", 0.5), ("02_b", "TIMEOUT", 1.0)])[0].read_text()
    assert "| 01_a | ok | 0.50 |" in md and "| 02_b | TIMEOUT | 1.00 |" in md


def test_report_shows_the_seed_and_whole_numbers_as_integers(sample_profile):
    for seed, value in ((42, 0.81), (43, 0.82)):
        helpers.record("03b", "CoSENTLoss", value, model="m", baseline=0.8, train_seconds=1.5, seed=seed, steps=4)
    helpers.record("01", "pooling: mean", 0.57, model="m")
    text = results.write_report()[0].read_text()
    header = next(line for line in text.splitlines() if line.startswith("| notebook"))
    assert "| metric | seed | value |" in header
    assert "| spearman | 42 | 0.8100 | 0.8000 | 1.5000 |" in text and "| spearman | 43 | 0.8200 |" in text
    assert "42.0" not in text and "| spearman |  | 0.5700 |" in text  # a single run has an empty seed cell
    import pandas as pd

    table = results.markdown_table(pd.DataFrame({"steps": [4.0, float("nan")], "value": [0.5, 1.0]}))
    assert table.splitlines()[2:] == ["| 4 | 0.5000 |", "|  | 1.0000 |"]


def test_board_plot_shows_each_runs_difference_from_its_baseline(sample_profile):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.patches import Rectangle

    for seed, value in ((42, 0.803), (43, 0.806), (44, 0.809)):
        helpers.record("03b", "CoSENTLoss", value, model="m", baseline=0.8, seed=seed)
    helpers.record("03c", "ContrastiveLoss", 0.795, model="m", baseline=0.8)
    helpers.record("01", "pooling: mean", 0.57, model="m")
    ax = helpers.plot_results(helpers.load_results())
    fig = ax.figure
    widths = [round(p.get_width(), 4) for p in ax.patches if isinstance(p, Rectangle)]
    assert widths == [0.006, -0.005]  # differences (mean over seeds), not bars from 0 to the score
    low, high = ax.get_xlim()
    assert high - low < 0.05  # the axis spans the differences
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "03b: CoSENTLoss (3 seeds: 0.8000 → 0.8060)"
    assert len(fig.axes) == 2 and [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["01: pooling: mean"]
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0  # legend off the bars


def test_report_gives_each_loss_its_own_objective_before_and_after(sample_profile):
    own = {"objective": "calibration error", "objective_higher_is_better": False}
    for seed, value, after in ((42, 0.81, 0.030), (43, 0.79, 0.050)):
        helpers.record("03b", "CosineSimilarityLoss", value, model="m", baseline=0.80, seed=seed,
                       objective_before=0.060, objective_after=after, **own)
    helpers.record("01", "pooling: mean", 0.57, model="m")  # no objective: not in the table
    table = results.objective_summary(helpers.load_results())
    assert table[["notebook", "method", "runs"]].values.tolist() == [["03b", "CosineSimilarityLoss", 2]]
    row = table.iloc[0]
    assert row["sts_before"] == pytest.approx(0.80) and row["sts_after"] == pytest.approx(0.80)
    assert (row["sts_min"], row["sts_max"]) == (0.79, 0.81)
    assert row["objective_after"] == pytest.approx(0.040) and row["objective_std"] == pytest.approx(0.01414, abs=1e-4)
    assert row["objective_gain"] == pytest.approx(0.020)  # lower is better here: a fall is a gain
    text = results.write_report()[0].read_text()
    assert "### Each loss's own objective, held out (scale=tiny, source=sample)" in text
    assert "| 03b | CosineSimilarityLoss | 2 | 0.8000 | 0.8000 |" in text
    assert results.objective_summary(helpers.load_results()[lambda f: f["notebook"] == "01"]).empty
