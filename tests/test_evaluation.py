from __future__ import annotations

import os
from pathlib import Path

import pytest

import helpers
from helpers.evaluation import sts_scores

MIRROR = os.environ.get("COURSE_DATA_DIR")


def test_sts_scores_stable_keys():
    raw = {"anything_pearson_cosine": 0.5, "anything_spearman_cosine": 0.25}
    assert sts_scores(raw) == {"spearman": 0.25, "pearson": 0.5}
    with pytest.raises(KeyError):
        sts_scores({"x_spearman_dot": 1.0})


def test_evaluator_on_sample_data(sample_profile):
    model = helpers.load_sentence_model("sentence-transformers/all-MiniLM-L6-v2")
    scores = helpers.evaluate_sts(model, helpers.load_sts("validation"))
    assert set(scores) == {"spearman", "pearson"}
    assert 0.6 < scores["spearman"] <= 1.0  # a trained model ranks the hand-graded sample pairs well


def test_wrong_columns_fail_clearly(sample_profile):
    ds = helpers.load_data("nyu-mll/glue", "mnli", "train")
    with pytest.raises(helpers.CourseError, match="STS evaluation needs columns"):
        helpers.sts_evaluator(ds)


@pytest.mark.skipif(not (MIRROR and (Path(MIRROR) / "sentence-transformers/stsb/test.jsonl").is_file()),
                    reason="real-data check: set COURSE_DATA_DIR to a mirror with sentence-transformers/stsb (CI does)")
def test_minilm_reproduces_published_stsb_test_score(monkeypatch, tmp_path):
    """all-MiniLM-L6-v2 on the real STS-B test split: the published 0.8203 Spearman."""
    from helpers import session

    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setattr(session, "_active", None)
    profile = helpers.setup("quick", "local", show=False)
    test = helpers.load_sts("test", n=0, profile=profile)
    assert len(test) == 1379
    model = helpers.load_sentence_model("sentence-transformers/all-MiniLM-L6-v2")
    spearman = helpers.evaluate_sts(model, test)["spearman"]
    print(f"all-MiniLM-L6-v2 STS-B test Spearman: {spearman:.4f}")
    assert spearman == pytest.approx(0.8203, abs=5e-4)
