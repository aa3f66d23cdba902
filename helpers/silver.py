"""Candidate pairs for Augmented SBERT's silver data: random pairs and BM25 neighbours (BM25 by `bm25s`).

Augmented SBERT (Thakur et al., 2021) labels unlabelled sentence pairs with a cross-encoder and trains a
bi-encoder on them. *Which* pairs are labelled matters: random pairs are nearly all unrelated, while pairs
sampled by BM25 or semantic search include similar ones. The labelling and the semantic search stay in the
notebook; this module only proposes pairs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from helpers.errors import CourseError

_TOKEN = re.compile(r"\w+", re.UNICODE)

Pair = tuple[str, str]


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore), the only text processing BM25 needs here."""
    return _TOKEN.findall(text.lower())


def pair_key(a: str, b: str) -> Pair:
    """An order-free key for a pair, so (a, b) and (b, a) count as the same pair."""
    return (a, b) if a <= b else (b, a)


class BM25:
    """Okapi BM25 over a fixed list of texts, computed by the `bm25s` library (sparse matrices), on the course's
    tokens.

    score(q, d) = sum over query terms t of idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl)),
    with Lucene's idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5)), which is never negative. bm25s's "lucene"
    method leaves out the constant factor (k1 + 1), which does not change a ranking; it is put back here so that
    the scores are the textbook ones (exercise 05 rebuilds them by hand as a sparse matrix product).
    """

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        import bm25s

        if not texts:
            raise CourseError("BM25 needs at least one text to index.")
        self.k1, self.b, self.n_docs = k1, b, len(texts)
        self._index = bm25s.BM25(k1=k1, b=b, method="lucene")
        self._index.index([tokenize(t) for t in texts], show_progress=False)

    def scores(self, query: str) -> list[float]:
        """The BM25 score of `query` against every indexed text, in index order."""
        tokens = tokenize(query)
        if not tokens:
            return [0.0] * self.n_docs
        return (self._index.get_scores(tokens) * (self.k1 + 1)).tolist()

    def top_k(self, query: str, k: int, exclude: Iterable[int] = ()) -> list[int]:
        """Indices of the `k` best-scoring texts with a score above zero (ties: lower index first)."""
        skip = set(exclude)
        scored = self.scores(query)
        candidates = [i for i, s in enumerate(scored) if s > 0 and i not in skip]
        candidates.sort(key=lambda i: (-scored[i], i))
        return candidates[:k]


def random_pairs(sentences: Sequence[str], n: int, seed: int = 42, exclude: Iterable[Pair] = ()) -> list[Pair]:
    """`n` distinct random pairs of different sentences (order-free), none of them in `exclude`."""
    unique = list(dict.fromkeys(sentences))
    seen = {pair_key(a, b) for a, b in exclude}
    possible = len(unique) * (len(unique) - 1) // 2
    if n > possible - len(seen):
        raise CourseError(
            f"asked for {n} random pairs, but {len(unique)} distinct sentences give at most {possible} pairs "
            f"({len(seen)} excluded). Fix: use more sentences or fewer pairs."
        )
    rng = random.Random(seed)
    pairs: list[Pair] = []
    while len(pairs) < n:
        a, b = rng.sample(unique, 2)
        key = pair_key(a, b)
        if key not in seen:
            seen.add(key)
            pairs.append((a, b))
    return pairs


def neighbour_pairs(
    sentences: Sequence[str], neighbours: Sequence[Sequence[int]], n: int, seed: int = 42, exclude: Iterable[Pair] = ()
) -> list[Pair]:
    """`n` distinct pairs (anchor, neighbour), taking each anchor's best neighbour first.

    `neighbours[i]` ranks the indices of the sentences closest to sentence i (by BM25, by embeddings, ...).
    Anchors are visited in a seeded random order: first every anchor's rank-1 neighbour, then rank 2, and so on,
    so the pairs spread over many anchors instead of exhausting a few. Self-pairs, identical texts, repeated
    pairs and pairs in `exclude` are skipped.
    """
    if len(neighbours) != len(sentences):
        raise CourseError(f"need one neighbour list per sentence: {len(neighbours)} lists, {len(sentences)} sentences")
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    seen = {pair_key(a, b) for a, b in exclude}
    pairs: list[Pair] = []
    depth = max((len(x) for x in neighbours), default=0)
    for rank in range(depth):
        for i in order:
            if len(pairs) == n:
                return pairs
            if rank >= len(neighbours[i]):
                continue
            j = neighbours[i][rank]
            a, b = sentences[i], sentences[j]
            key = pair_key(a, b)
            if i == j or a == b or key in seen:
                continue
            seen.add(key)
            pairs.append((a, b))
    if len(pairs) < n:
        raise CourseError(
            f"asked for {n} neighbour pairs, but the neighbour lists give only {len(pairs)} distinct pairs. "
            "Fix: retrieve more neighbours per sentence (a larger k) or use more sentences."
        )
    return pairs


def bm25_neighbours(sentences: Sequence[str], k: int, bm25: BM25 | None = None) -> list[list[int]]:
    """For each sentence, the indices of its `k` best BM25 matches among the others (query = the sentence)."""
    index = bm25 or BM25(sentences)
    return [index.top_k(s, k, exclude=[i]) for i, s in enumerate(sentences)]
