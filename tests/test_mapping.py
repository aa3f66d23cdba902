from __future__ import annotations

import random

import pytest
from datasets import Dataset

from helpers import mapping
from helpers.profiles import CourseError


@pytest.fixture
def nli() -> Dataset:
    rows = [
        ("A man plays guitar.", "A person makes music.", 0),
        ("A man plays guitar.", "The man is famous.", 1),
        ("A man plays guitar.", "The man is asleep.", 2),
        ("Kids swim in a lake.", "Children are in the water.", 0),
        ("Kids swim in a lake.", "The lake is cold.", 1),
        ("Kids swim in a lake.", "The kids are at school.", 2),
        ("A chef cuts onions.", "Someone is cooking.", 0),
        ("Nobody labelled this.", "Unlabelled.", -1),
    ]
    return Dataset.from_dict(
        {"premise": [r[0] for r in rows], "hypothesis": [r[1] for r in rows], "label": [r[2] for r in rows],
         "idx": list(range(len(rows)))}
    )


def test_similarity_mapping_is_entailment_one_else_zero(nli):
    out = mapping.nli_to_similarity(nli)
    assert out.column_names == ["sentence1", "sentence2", "score"]
    assert list(out["score"]) == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]  # the -1 row is dropped


def test_binary_mapping_gives_int_labels(nli):
    out = mapping.nli_to_binary(nli)
    assert out.column_names == ["sentence1", "sentence2", "label"]
    assert list(out["label"]) == [1, 0, 0, 1, 0, 0, 1]


def test_entailment_pairs_keep_only_entailment(nli):
    out = mapping.entailment_pairs(nli)
    assert out.column_names == ["anchor", "positive"]
    assert list(out["positive"]) == ["A person makes music.", "Children are in the water.", "Someone is cooking."]


@pytest.mark.parametrize("seed", range(5))
def test_triplets_never_reuse_their_own_positive(nli, seed):
    out = mapping.entailment_triplets(nli, seed=seed)
    assert out.column_names == ["anchor", "positive", "negative"]
    assert all(p != n for p, n in zip(out["positive"], out["negative"]))
    assert sorted(out["negative"]) == sorted(out["positive"])  # a permutation of the positives


def test_triplets_are_seeded(nli):
    first, second = mapping.entailment_triplets(nli, 1), mapping.entailment_triplets(nli, 1)
    assert list(first["negative"]) == list(second["negative"])


def test_triplets_need_two_pairs(nli):
    with pytest.raises(CourseError, match="at least 2 entailment pairs"):
        mapping.entailment_triplets(nli.select([0]))


def test_wrong_columns_name_the_fix():
    ds = Dataset.from_dict({"text": ["a"], "label": [0]})
    with pytest.raises(CourseError) as err:
        mapping.nli_to_similarity(ds)
    assert "missing: ['premise', 'hypothesis']" in str(err.value) and "rename_column" in str(err.value)


def test_flatten_sentences_dedupes_in_order(nli):
    flat = mapping.flatten_sentences(nli, ["premise", "hypothesis"])
    assert flat[:3] == ["A man plays guitar.", "Kids swim in a lake.", "A chef cuts onions."]
    assert len(flat) == len(set(flat))


def test_train_dev_split_is_seeded(nli):
    a, b = mapping.train_dev_split(nli, 2, seed=3), mapping.train_dev_split(nli, 2, seed=3)
    assert (len(a["train"]), len(a["dev"])) == (6, 2) and list(a["dev"]["idx"]) == list(b["dev"]["idx"])


def test_word_deletion_ratio_and_order():
    rng = random.Random(0)
    text = " ".join(f"w{i}" for i in range(1000))
    damaged = mapping.delete_words(text, 0.6, rng).split()
    assert 340 < len(damaged) < 460  # about 40% kept
    assert damaged == sorted(damaged, key=lambda w: int(w[1:]))  # order preserved


def test_word_deletion_keeps_a_word_and_checks_ratio():
    assert mapping.delete_words("single", 0.99, random.Random(1)) == "single"
    with pytest.raises(CourseError):
        mapping.delete_words("a b", 1.0)


def test_denoising_pairs_columns():
    ds = mapping.denoising_pairs(["one two three four", "five six"], seed=0)
    assert ds.column_names == ["damaged", "original"] and list(ds["original"]) == ["one two three four", "five six"]


@pytest.mark.parametrize("seed", range(20))
def test_duplicate_hypotheses_never_become_their_own_negative(seed):
    rows = {
        "premise": [f"premise {i}" for i in range(6)],
        "hypothesis": ["I am not sure.", "I am not sure.", "b", "c", "I am not sure.", "d"],
        "label": [0] * 6,
    }
    out = mapping.entailment_triplets(Dataset.from_dict(rows), seed=seed)
    assert all(p != n for p, n in zip(out["positive"], out["negative"]))
    assert sorted(out["negative"]) == sorted(out["positive"])


def test_identical_hypotheses_cannot_make_triplets():
    rows = {"premise": ["a", "b"], "hypothesis": ["same", "same"], "label": [0, 0]}
    with pytest.raises(CourseError, match="same text"):
        mapping.entailment_triplets(Dataset.from_dict(rows))
