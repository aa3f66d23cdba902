"""helpers.evaluation: offline injection of the course data into mteb tasks, and stratified subsets."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from helpers.evaluation import TASK_SOURCES, SplitSource, TaskSource, load_task, stratified_indices
from helpers.profiles import CourseError


def test_stratified_indices_keep_each_label_share():
    labels = [i % 10 for i in range(100)]
    picked = stratified_indices(labels, 60, seed=1)
    assert len(picked) == len(set(picked)) == 60
    assert picked == sorted(picked)
    assert set(Counter(labels[i] for i in picked).values()) == {6}


def test_stratified_indices_are_seeded_and_proportional():
    labels = [0] * 80 + [1] * 20
    picked = stratified_indices(labels, 10, seed=3)
    assert picked == stratified_indices(labels, 10, seed=3)
    assert Counter(labels[i] for i in picked) == {0: 8, 1: 2}


@pytest.mark.parametrize("n", [0, 100, 500])
def test_stratified_indices_all_rows_when_n_is_zero_or_large(n):
    assert stratified_indices([1, 2] * 50, n) == list(range(100))


def test_sts_task_gets_0_to_5_scores_offline(sample_profile):
    task = load_task("STSBenchmark", sample_profile)
    assert task.data_loaded and task.metadata.name == "STSBenchmark"
    test = task.dataset["test"]
    assert test.column_names == ["sentence1", "sentence2", "score"]
    assert len(test) == 60  # the sample's test split; tiny's n_eval is 60 too
    scores = [float(s) for s in test["score"]]
    assert min(scores) >= 0 and 1 < max(scores) <= 5


def test_banking_task_keeps_train_whole_and_cuts_test_by_label(sample_profile):
    task = load_task("Banking77Classification", sample_profile, n_eval=20)
    train, test = task.dataset["train"], task.dataset["test"]
    assert set(train.column_names) == {"text", "label"}
    assert len(test) == 20
    assert len(set(Counter(test["label"]).values())) == 1  # equal share per intent, as in the sample
    assert min(Counter(train["label"]).values()) >= task.samples_per_label


def test_mteb_cache_goes_to_the_outputs(sample_profile, monkeypatch):
    monkeypatch.delenv("MTEB_CACHE", raising=False)
    load_task("STSBenchmark", sample_profile)
    assert os.environ["MTEB_CACHE"].startswith(os.environ["COURSE_OUTPUT_DIR"])


def test_unknown_task_says_which_are_known(sample_profile):
    with pytest.raises(CourseError, match="Known: STSBenchmark"):
        load_task("SciFact", sample_profile)


def test_scores_on_the_wrong_scale_are_refused(sample_profile, monkeypatch):
    wrong = TaskSource(  # sentence-transformers/stsb: gold / 5
        splits={"test": SplitSource("sentence-transformers/stsb", None, "test")},
        columns=("sentence1", "sentence2", "score"),
    )
    monkeypatch.setitem(TASK_SOURCES, "STSBenchmark", wrong)
    with pytest.raises(CourseError, match=r"0\.\.5 source"):
        load_task("STSBenchmark", sample_profile)
