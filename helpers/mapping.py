"""Data mapping used across the course, written for datasets 5 (`ds["col"]` is a lazy Column, not a list)."""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

from helpers.data import require_columns
from helpers.errors import CourseError

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
