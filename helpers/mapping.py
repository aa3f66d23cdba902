"""Data mapping used across the course, written for datasets 5 (`ds["col"]` is a lazy Column, not a list)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from helpers.data import require_columns
from helpers.profiles import CourseError

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2
NLI_LABELS = {ENTAILMENT: "entailment", NEUTRAL: "neutral", CONTRADICTION: "contradiction"}


def clean_nli(dataset: Dataset) -> Dataset:
    """Keep (premise, hypothesis, label) rows with a gold label (SNLI marks unlabelled rows with -1)."""
    require_columns(dataset, ["premise", "hypothesis", "label"], "NLI mapping")
    dataset = dataset.select_columns(["premise", "hypothesis", "label"])
    return dataset.filter(lambda row: row["label"] in NLI_LABELS)


def nli_to_similarity(dataset: Dataset) -> Dataset:
    """NLI 3-way labels -> a similarity score: entailment 1.0, neutral and contradiction 0.0 (the book's mapping).

    Columns become (sentence1, sentence2, score), the format of the cosine-style losses.
    """
    dataset = clean_nli(dataset)
    dataset = dataset.map(
        lambda row: {"score": 1.0 if row["label"] == ENTAILMENT else 0.0}, remove_columns=["label"]
    )
    return dataset.rename_columns({"premise": "sentence1", "hypothesis": "sentence2"})


def nli_to_binary(dataset: Dataset) -> Dataset:
    """Like `nli_to_similarity` but an integer label 1/0: the format of ContrastiveLoss and friends."""
    dataset = clean_nli(dataset)
    dataset = dataset.map(lambda row: {"label": int(row["label"] == ENTAILMENT)})
    return dataset.rename_columns({"premise": "sentence1", "hypothesis": "sentence2"})


def entailment_pairs(dataset: Dataset) -> Dataset:
    """(anchor, positive) pairs from entailment rows only: contradictions are not positives."""
    dataset = clean_nli(dataset).filter(lambda row: row["label"] == ENTAILMENT)
    return dataset.select_columns(["premise", "hypothesis"]).rename_columns(
        {"premise": "anchor", "hypothesis": "positive"}
    )


def other_rows(values: list[str], seed: int = 42) -> list[str]:
    """For each row, the value of another row, chosen at random, never equal to the row's own value.

    A cyclic shift over a seeded permutation (row order[i] takes the value of row order[i + 1]), so no row gets
    its own position back; then duplicates (e.g. "I am not sure." twice in MNLI) that still hand a row its own
    text are swapped with another row's, where neither ends up with its own value.
    """
    if len(values) < 2:
        raise CourseError(f"need at least 2 rows to draw from other rows, got {len(values)}")
    order = list(range(len(values)))
    random.Random(seed).shuffle(order)
    drawn = [""] * len(order)
    for i, row in enumerate(order):
        drawn[row] = values[order[(i + 1) % len(order)]]
    for i in range(len(drawn)):
        if drawn[i] != values[i]:
            continue
        j = next((j for j in order if drawn[j] != values[i] and drawn[i] != values[j]), None)
        if j is None:
            raise CourseError("every row has the same text: no other row's value differs from a row's own")
        drawn[i], drawn[j] = drawn[j], drawn[i]
    return drawn


def entailment_triplets(dataset: Dataset, seed: int = 42) -> Dataset:
    """(anchor, positive, negative): entailment pairs plus a *soft* negative, a hypothesis drawn at random
    from other rows (shuffled; a row never gets its own positive back)."""
    pairs = entailment_pairs(dataset)
    if len(pairs) < 2:
        raise CourseError(f"need at least 2 entailment pairs to draw negatives, got {len(pairs)}")
    return pairs.add_column("negative", other_rows(list(pairs["positive"]), seed))


def flatten_sentences(dataset: Dataset, columns: list[str] | None = None, unique: bool = True) -> list[str]:
    """All sentences of the given columns as one list (de-duplicated, first occurrence kept)."""
    columns = columns or [c for c in dataset.column_names if dataset.features[c].dtype == "string"]
    require_columns(dataset, columns, "flattening sentences")
    sentences: list[str] = []
    for column in columns:
        sentences.extend(list(dataset[column]))
    return list(dict.fromkeys(sentences)) if unique else sentences


def train_dev_split(dataset: Dataset, dev_size: float | int = 0.1, seed: int = 42) -> DatasetDict:
    """A seeded train/dev split: keys `train` and `dev`."""
    from datasets import DatasetDict

    parts = dataset.train_test_split(test_size=dev_size, seed=seed)
    return DatasetDict({"train": parts["train"], "dev": parts["test"]})


_WORD = re.compile(r"\S+")


def delete_words(text: str, ratio: float = 0.6, rng: random.Random | None = None) -> str:
    """TSDAE noise: delete each word with probability `ratio`, keeping at least one word (no NLTK needed)."""
    if not 0.0 <= ratio < 1.0:
        raise CourseError(f"deletion ratio must be in [0, 1), got {ratio}")
    rng = rng or random.Random()
    words = _WORD.findall(text)
    if not words:
        return text
    kept = [w for w in words if rng.random() >= ratio]
    if not kept:
        kept = [words[rng.randrange(len(words))]]
    return " ".join(kept)


def denoising_pairs(sentences: list[str], ratio: float = 0.6, seed: int = 42) -> Dataset:
    """(damaged, original) rows for DenoisingAutoEncoderLoss: the input first, the target second."""
    from datasets import Dataset

    rng = random.Random(seed)
    return Dataset.from_dict(
        {"damaged": [delete_words(s, ratio, rng) for s in sentences], "original": list(sentences)}
    )


# -------- Negatives for the in-batch losses -------------------------------------------------------------------
# Negatives for the in-batch losses (03d, 03e): `random_negatives` gives any (anchor, positive) dataset a third
# column drawn from the other rows' positives, so a run with mined hard negatives can be compared with random ones
# on exactly the same pairs.

def random_negatives(dataset: Dataset, seed: int = 42, column: str = "negative") -> Dataset:
    """(anchor, positive) -> (anchor, positive, negative): each row's negative is another row's positive.

    Drawn by `helpers.mapping.other_rows` (as 03d's soft negatives): never the row's own positive text.
    """
    require_columns(dataset, ["anchor", "positive"], "random negatives")
    base = dataset.select_columns(["anchor", "positive"])
    return base.add_column(column, other_rows(list(dataset["positive"]), seed))


# -------- Candidate pairs for Augmented SBERT -----------------------------------------------------------------
# Candidate pairs for Augmented SBERT's silver data: random pairs and BM25 neighbours (BM25 by `bm25s`).
#
# Augmented SBERT (Thakur et al., 2021) labels unlabelled sentence pairs with a cross-encoder and trains a
# bi-encoder on them. *Which* pairs are labelled matters: random pairs are nearly all unrelated, while pairs
# sampled by BM25 or semantic search include similar ones. The labelling and the semantic search stay in the
# notebook; this module only proposes pairs.

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
