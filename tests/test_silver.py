from __future__ import annotations

import math

import pytest

from helpers import mapping
from helpers.profiles import CourseError

DOCS = [
    "A man is playing a guitar.",
    "A man plays the guitar on stage.",
    "A woman is slicing an onion.",
    "Someone is cutting an onion.",
    "The stock market fell sharply today.",
]


def test_tokenize_lowercases_and_drops_punctuation():
    assert mapping.tokenize("A Man, playing GUITAR!") == ["a", "man", "playing", "guitar"]


def test_pair_key_is_order_free():
    assert mapping.pair_key("b", "a") == mapping.pair_key("a", "b") == ("a", "b")


def test_bm25_ranks_the_text_sharing_rare_terms_first():
    index = mapping.BM25(DOCS)
    assert set(index.top_k("guitar man", 2)) == {0, 1}
    assert set(index.top_k("onion", 2)) == {2, 3}
    assert index.top_k("stock", 1, exclude=[4]) == []  # the only match is excluded; zero scores are dropped


def test_bm25_scores_match_the_formula_on_one_term():
    index = mapping.BM25(["x y", "y z z"], k1=1.2, b=0.75)
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    avgdl = 2.5
    expected = idf * 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / avgdl))
    assert index.scores("z") == pytest.approx([0.0, expected])
    x_in_first = math.log(1 + 1.5 / 1.5) * 2.2 / (1 + 1.2 * (1 - 0.75 + 0.75 * 2 / avgdl))
    assert index.scores("x") == pytest.approx([x_in_first, 0])
    assert index.scores("") == [0.0, 0.0] and index.scores("unknown") == [0.0, 0.0]


def test_bm25_needs_texts():
    with pytest.raises(CourseError):
        mapping.BM25([])


def test_random_pairs_are_distinct_seeded_and_respect_exclude():
    excluded = [(DOCS[1], DOCS[0])]
    pairs = mapping.random_pairs(DOCS, 6, seed=1, exclude=excluded)
    assert len(pairs) == 6
    keys = {mapping.pair_key(a, b) for a, b in pairs}
    assert len(keys) == 6 and mapping.pair_key(DOCS[0], DOCS[1]) not in keys
    assert all(a != b for a, b in pairs)
    assert pairs == mapping.random_pairs(DOCS, 6, seed=1, exclude=excluded)


def test_random_pairs_refuses_impossible_requests():
    with pytest.raises(CourseError):
        mapping.random_pairs(DOCS[:3], 4)  # 3 sentences make 3 pairs


def test_neighbour_pairs_take_rank_one_first_and_skip_duplicates():
    neighbours = mapping.bm25_neighbours(DOCS, k=2)
    assert all(i not in ns for i, ns in enumerate(neighbours))
    pairs = mapping.neighbour_pairs(DOCS, neighbours, 2, seed=0)
    keys = {mapping.pair_key(a, b) for a, b in pairs}
    assert mapping.pair_key(DOCS[0], DOCS[1]) in keys and mapping.pair_key(DOCS[2], DOCS[3]) in keys


def test_neighbour_pairs_excludes_and_complains_when_exhausted():
    neighbours = [[1], [0], [3], [2], []]
    pairs = mapping.neighbour_pairs(DOCS, neighbours, 1, exclude=[(DOCS[0], DOCS[1])])
    assert pairs == [(DOCS[2], DOCS[3])] or pairs == [(DOCS[3], DOCS[2])]
    with pytest.raises(CourseError):
        mapping.neighbour_pairs(DOCS, neighbours, 3)
    with pytest.raises(CourseError):
        mapping.neighbour_pairs(DOCS, neighbours[:2], 1)
