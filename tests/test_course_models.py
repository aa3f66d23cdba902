"""helpers.results.course_models: the saved course models notebook 08 evaluates, each with its results-store row."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from helpers.results import course_models

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def save_model(models: Path, name: str, saved: datetime, model_type: str | None = "SentenceTransformer") -> Path:
    """A fake saved model: only its config file, written at `saved` (its modification time)."""
    folder = models / name
    folder.mkdir(parents=True)
    config = folder / "config_sentence_transformers.json"
    config.write_text(json.dumps({"model_type": model_type} if model_type else {}), encoding="utf-8")
    os.utime(config, (saved.timestamp(), saved.timestamp()))
    return folder


def store(outputs: Path, *rows: dict) -> None:
    path = outputs / "results" / "mixed.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def row(notebook: str, method: str, when: datetime, scale: str = "tiny", source: str = "sample", **extra) -> dict:
    return {"notebook": notebook, "method": method, "model": "m", "scale": scale, "source": source,
            "metric": "spearman", "value": 0.5, "baseline": None, "train_seconds": 1.0,
            "timestamp": when.isoformat(timespec="seconds"), **extra}


@pytest.fixture
def outputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "outputs"
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(folder))
    models = folder / "models"
    save_model(models, "04-mnrl-nli", T0)
    save_model(models, "04-cosent-stsb", T0 + timedelta(minutes=5))  # the newest save of notebook 04
    save_model(models, "03b-cosent-nli-seed42", T0 - timedelta(hours=2))
    save_model(models, "03b-cosent-nli-seed43", T0 - timedelta(hours=2) + timedelta(minutes=1))
    save_model(models, "07-finetune-only", T0 - timedelta(days=3))  # no row near it
    save_model(models, "06-tsdae", T0, model_type=None)  # an older config without model_type: a SentenceTransformer
    save_model(models, "02-cross-encoder", T0, model_type="CrossEncoder")  # not an embedding model: left out
    save_model(models, "scratch", T0)  # not <notebook>-<method>: left out
    (models / "05-empty").mkdir()  # no config: left out
    store(
        folder,
        row("04", "MNRL on NLI", T0 - timedelta(minutes=30), scale="quick", source="local"),  # an earlier run
        row("04", "MNRL on NLI", T0 + timedelta(seconds=20)),  # recorded right after the save: this run's
        row("04", "CoSENT on STS-B", T0 + timedelta(minutes=5, seconds=10)),
        # both seeds recorded after both saves, seed 43 first: only the seed tells them apart
        row("03b", "CoSENT (NLI)", T0 - timedelta(hours=2) + timedelta(minutes=1, seconds=30), seed=43),
        row("03b", "CoSENT (NLI)", T0 - timedelta(hours=2) + timedelta(minutes=3), seed=42),
        row("06", "TSDAE", T0 - timedelta(minutes=10), scale="quick", source="hub"),  # only a row before the save
    )
    return folder


def test_default_is_the_newest_save_of_each_notebook(outputs):
    found = course_models()
    assert [m.name for m in found] == ["03b-cosent-nli-seed43", "04-cosent-stsb", "06-tsdae", "07-finetune-only"]
    newest_04 = found[1]
    assert (newest_04.notebook, newest_04.method, newest_04.seed) == ("04", "cosent-stsb", None)
    assert newest_04.folder == outputs / "models" / "04-cosent-stsb"
    assert newest_04.record["method"] == "CoSENT on STS-B" and newest_04.trained_at == "tiny/sample"


def test_patterns_choose_folders_and_cross_encoders_are_left_out(outputs):
    assert [m.name for m in course_models(["04-*"])] == ["04-cosent-stsb", "04-mnrl-nli"]
    everything = {m.name for m in course_models(["*"])}
    assert everything == {"03b-cosent-nli-seed42", "03b-cosent-nli-seed43", "04-cosent-stsb", "04-mnrl-nli",
                          "06-tsdae", "07-finetune-only"}
    assert course_models(["nothing-*"]) == []


def test_each_save_gets_the_row_recorded_first_after_it(outputs):
    by_name = {m.name: m for m in course_models(["*"])}
    mnrl = by_name["04-mnrl-nli"]
    assert mnrl.record["method"] == "MNRL on NLI" and mnrl.trained_at == "tiny/sample"  # not the quick run before
    # seeds: the folder's -seed<N> suffix picks the row of that seed (seed 43's row comes first after both saves)
    seed42, seed43 = by_name["03b-cosent-nli-seed42"], by_name["03b-cosent-nli-seed43"]
    assert (seed42.method, seed42.seed, seed42.record["seed"]) == ("cosent-nli", 42, 42)
    assert (seed43.seed, seed43.record["seed"]) == (43, 43)
    # no row after the save: the last one before it, within the window
    assert by_name["06-tsdae"].trained_at == "quick/hub"
    # no row of that notebook within the window: unknown
    assert by_name["07-finetune-only"].record is None and by_name["07-finetune-only"].trained_at == "unknown"
    assert course_models(["06-*"], window_hours=0.1)[0].record is None  # the row 10 minutes before, out of 6 min


def test_summary_is_a_table_row(outputs):
    summary = course_models(["04-mnrl-nli"])[0].summary()
    assert summary == {"model": "04-mnrl-nli", "notebook": "04", "method": "mnrl-nli", "seed": None,
                       "saved": "2026-11-20 12:00 UTC", "trained at": "tiny/sample", "recorded as": "MNRL on NLI"}


def test_no_models_no_results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "empty"))
    assert course_models() == [] and course_models(["*"]) == []
