"""MTEB tasks with their data: downloaded by mteb from the hub, or injected from the local mirror or the samples.

Offline, mteb cannot download a task's dataset. `load_task` then reads the same rows with `helpers.load_data` and
sets them on the task in the task's own layout (a `DatasetDict` of its splits, in its own columns, for the
"default" subset), `task.dataset = ...; task.data_loaded = True`, which is how mteb 2 accepts preloaded data.
The evaluation split is cut to the profile's `n_eval` rows (0 = all), stratified by label for classification.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from helpers.data import load_data, require_columns
from helpers.errors import CourseError
from helpers.paths import out
from helpers.session import current_profile

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.abstask import AbsTask

    from helpers.profiles import Profile


@dataclass(frozen=True)
class SplitSource:
    """Where one split of a task comes from offline: a course dataset split, with columns renamed to the task's."""

    hub_id: str
    config: str | None
    split: str
    rename: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TaskSource:
    """The offline data of one mteb task: its splits, the columns it reads, and its label column (if any)."""

    splits: dict[str, SplitSource]
    columns: tuple[str, ...]
    label: str | None = None


# The v1 tasks, on purpose: the mirror holds the original releases (10,003/3,080 Banking77 rows and 1,379 STS-B
# test pairs, the row counts mteb lists for these v1 tasks; the .v2 tasks drop corrected or duplicated rows),
# and the MTEB(eng, v2) leaderboard benchmark itself runs these v1 tasks.
TASK_SOURCES: dict[str, TaskSource] = {
    # mteb/stsbenchmark-sts has 0..5 scores (the task sets max_score=5); sentence-transformers/stsb is 0..1,
    # so the English stsb_multi_mt split (the same pairs, gold 0..5) is the source.
    "STSBenchmark": TaskSource(
        splits={"test": SplitSource("PhilipMay/stsb_multi_mt", "en", "test", (("similarity_score", "score"),))},
        columns=("sentence1", "sentence2", "score"),
    ),
    "Banking77Classification": TaskSource(
        splits={s: SplitSource("mteb/banking77", None, s) for s in ("train", "test")},
        columns=("text", "label"),
        label="label",
    ),
}


def use_course_cache() -> None:
    """Point mteb's result cache into the course outputs (mteb creates `~/.cache/mteb` when it is imported)."""
    os.environ.setdefault("MTEB_CACHE", str(out("mteb")))


def stratified_indices(labels: Sequence[object], n: int, seed: int = 42) -> list[int]:
    """`n` row indices whose label mix matches the whole (seeded); all rows, in order, when n is 0 or too large.

    Rows are shuffled, numbered within their label, and taken by how far into its label each one is, so every
    label keeps its share: 6 of each of 10 equal labels for n=60.
    """
    if n <= 0 or n >= len(labels):
        return list(range(len(labels)))
    order = list(range(len(labels)))
    random.Random(seed).shuffle(order)
    counts: dict[object, int] = defaultdict(int)
    for label in labels:
        counts[label] += 1
    seen: dict[object, int] = defaultdict(int)
    ranked = []
    for position, index in enumerate(order):
        label = labels[index]
        ranked.append(((seen[label] + 0.5) / counts[label], position, index))
        seen[label] += 1
    return sorted(index for _, _, index in sorted(ranked)[:n])


def _offline_dataset(name: str, source: TaskSource, profile: Profile) -> DatasetDict:
    from datasets import DatasetDict

    splits = {}
    for split, where in source.splits.items():
        ds = load_data(where.hub_id, where.config, where.split, profile)
        for old, new in where.rename:
            ds = ds.rename_column(old, new)
        require_columns(ds, source.columns, f"the mteb task {name}")
        splits[split] = ds.select_columns(list(source.columns))
    return DatasetDict(splits)


def _check_scores(task: AbsTask, data: Dataset) -> None:
    """STS gold scores must be on the task's own scale (mteb normalises them with min_score/max_score)."""
    low, high = getattr(task, "min_score", None), getattr(task, "max_score", None)
    if low is None or high is None or "score" not in data.column_names:
        return
    scores = [float(s) for s in data["score"]]
    if min(scores) < low or max(scores) > high:
        span = f"{min(scores)}..{max(scores)}"
        raise CourseError(f"{task.metadata.name}: gold scores span {span}, outside the task's {low}..{high}.")
    if high > 1 and max(scores) <= 1:
        raise CourseError(
            f"{task.metadata.name} expects scores on a {low}..{high} scale, but these are all <= 1: "
            "that looks like sentence-transformers/stsb (gold / 5). Fix: use the 0..5 source, or multiply by 5."
        )


def load_task(name: str, profile: Profile | None = None, n_eval: int | None = None) -> AbsTask:
    """The mteb task `name` with its data loaded: by mteb from the hub online, injected offline.

    `n_eval` rows of each evaluation split are kept (default: the profile's `n_eval`; 0 = all), stratified by
    label for classification tasks. Training splits are kept whole.
    """
    profile = profile or current_profile()
    if name not in TASK_SOURCES:
        raise CourseError(f"No data mapping for mteb task {name!r}. Known: {', '.join(TASK_SOURCES)}.")
    source = TASK_SOURCES[name]
    use_course_cache()
    import mteb

    task = mteb.get_task(name)
    if profile.source == "hub":
        task.load_data()  # mteb downloads the dataset revision the task pins
        dataset = task.dataset
    else:
        dataset = _offline_dataset(name, source, profile)
    n = profile.scale.n_eval if n_eval is None else n_eval
    for split in task.eval_splits:
        data = dataset[split]
        labels = list(data[source.label]) if source.label else [0] * len(data)
        dataset[split] = data.select(stratified_indices(labels, n, profile.seed))
        _check_scores(task, dataset[split])
    task.dataset = dataset
    task.data_loaded = True
    return task
