"""helpers.mapping: random soft negatives for any pairs, and quiet progress bars around the library's miner."""

from __future__ import annotations

import io

import pytest
from datasets import Dataset

from helpers.mapping import random_negatives
from helpers.profiles import CourseError
from helpers.session import quiet_progress_bars


def _pairs(n: int) -> Dataset:
    return Dataset.from_dict({"anchor": [f"a{i}" for i in range(n)], "positive": [f"p{i}" for i in range(n)],
                              "extra": list(range(n))})


def test_random_negatives_are_other_rows_positives_and_seeded():
    pairs = _pairs(50)
    out = random_negatives(pairs, seed=3)
    assert out.column_names == ["anchor", "positive", "negative"]
    assert list(out["anchor"]) == list(pairs["anchor"]) and list(out["positive"]) == list(pairs["positive"])
    assert all(p != n for p, n in zip(out["positive"], out["negative"]))
    assert sorted(out["negative"]) == sorted(pairs["positive"])  # a permutation: every positive used once
    assert list(out["negative"]) == list(random_negatives(pairs, seed=3)["negative"])
    assert list(out["negative"]) != list(random_negatives(pairs, seed=4)["negative"])


def test_random_negatives_needs_two_rows_and_the_columns():
    with pytest.raises(CourseError):
        random_negatives(_pairs(1))
    with pytest.raises(CourseError):
        random_negatives(Dataset.from_dict({"premise": ["x", "y"], "hypothesis": ["u", "v"]}))
    two = random_negatives(_pairs(2))
    assert list(two["negative"]) == ["p1", "p0"]


def test_quiet_progress_bars_hides_default_bars_and_restores():
    from tqdm import std, tqdm

    original = std.tqdm.__dict__["__init__"]
    hidden, shown = io.StringIO(), io.StringIO()
    with quiet_progress_bars(True):
        for _ in tqdm(range(3), file=hidden, desc="hidden"):
            pass
    for _ in tqdm(range(3), file=shown, desc="shown", disable=False):
        pass
    assert hidden.getvalue() == ""
    assert "shown" in shown.getvalue()
    assert std.tqdm.__dict__["__init__"] is original


def test_quiet_progress_bars_inactive_changes_nothing():
    from tqdm import tqdm

    shown = io.StringIO()
    with quiet_progress_bars(False):
        for _ in tqdm(range(3), file=shown, desc="shown", disable=False):
            pass
    assert "shown" in shown.getvalue()


def test_quiet_progress_bars_restores_after_an_error():
    from tqdm import std

    original = std.tqdm.__dict__["__init__"]
    with pytest.raises(RuntimeError), quiet_progress_bars(True):
        raise RuntimeError("boom")
    assert std.tqdm.__dict__["__init__"] is original
