"""Load the course's datasets from the hub, a local mirror, or the samples shipped in this package.

A mirror (and the samples) is laid out `<hub dataset id>[/<config>]/<split>.jsonl` with the hub dataset's
own columns, so the code after loading is the same whatever the source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.errors import CourseError
from helpers.session import current_profile

if TYPE_CHECKING:
    from datasets import Dataset

    from helpers.profiles import Profile


@dataclass(frozen=True)
class DatasetSplit:
    hub_id: str
    config: str | None
    split: str

    def relpath(self) -> Path:
        parts = [self.hub_id, *([self.config] if self.config else []), f"{self.split}.jsonl"]
        return Path(*parts)

    def __str__(self) -> str:
        return f"{self.hub_id}{'/' + self.config if self.config else ''} [{self.split}]"


# Every split the course reads: `python -m helpers download` mirrors exactly these.
COURSE_SPLITS: tuple[DatasetSplit, ...] = (
    *(DatasetSplit("sentence-transformers/stsb", None, s) for s in ("train", "validation", "test")),
    *(DatasetSplit("nyu-mll/glue", "mnli", s) for s in ("train", "validation_matched")),
    *(DatasetSplit("PhilipMay/stsb_multi_mt", lang, s) for lang in ("en", "it") for s in ("train", "dev", "test")),
    *(DatasetSplit("mteb/banking77", None, s) for s in ("train", "test")),
    DatasetSplit("BeIR/scifact", "corpus", "corpus"),
    DatasetSplit("BeIR/scifact", "queries", "queries"),
    *(DatasetSplit("BeIR/scifact-qrels", None, s) for s in ("train", "test")),
)

# Splits a local mirror may lack, with the stand-in it uses and what the learner is told.
MIRROR_STAND_INS: dict[tuple[str, str | None, str], tuple[str, str]] = {
    ("nyu-mll/glue", "mnli", "train"): (
        "validation_matched",
        "this mirror has no MNLI train split: training on MNLI validation_matched instead "
        "(the course never evaluates on MNLI, so nothing is tested on training data).",
    ),
}

_told: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _told:
        _told.add(message)
        print(f"[course] {message}")


def _load_jsonl(path: Path) -> Dataset:
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train")


def _available(root: Path, hub_id: str, config: str | None) -> list[str]:
    folder = root / hub_id / (config or "")
    return sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []


def load_data(hub_id: str, config: str | None = None, split: str = "train", profile: Profile | None = None) -> Dataset:
    """One split of a hub dataset, from wherever the profile says (see `helpers.setup`)."""
    profile = profile or current_profile()
    if profile.source == "hub":
        from datasets import load_dataset

        try:
            return load_dataset(hub_id, config, split=split)
        except Exception as err:
            raise CourseError(
                f"Could not load {DatasetSplit(hub_id, config, split)} from the hub: {err}. "
                "Fix: check the id/config/split on the hub, or use COURSE_SOURCE=local / sample."
            ) from err

    assert profile.data_dir is not None
    root = profile.data_dir
    wanted = DatasetSplit(hub_id, config, split)
    path = root / wanted.relpath()
    if path.is_file():
        return _load_jsonl(path)
    stand_in = MIRROR_STAND_INS.get((hub_id, config, split))
    if stand_in and (root / DatasetSplit(hub_id, config, stand_in[0]).relpath()).is_file():
        _say_once(stand_in[1])
        return _load_jsonl(root / DatasetSplit(hub_id, config, stand_in[0]).relpath())
    available = _available(root, hub_id, config)
    fix = (
        "run `python -m helpers download --to DIR` on a connected machine and point COURSE_DATA_DIR at DIR"
        if profile.source == "local"
        else "this sample does not ship that split; use COURSE_SOURCE=local or hub for it"
    )
    raise CourseError(
        f"{wanted} is not in the {profile.source} data at {root} (looked for {path}; "
        f"splits there: {', '.join(available) or 'none'}). Fix: {fix}."
    )


def require_columns(dataset: Dataset, columns: Iterable[str], what: str = "this step") -> None:
    """Fail early, with the fix, when a dataset lacks a column (a typo or the wrong dataset)."""
    columns = list(columns)
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise CourseError(
            f"{what} needs columns {columns}, but the dataset has {dataset.column_names} (missing: {missing}). "
            "Fix: pick the right dataset, or rename with dataset.rename_column(old, new)."
        )


def subset(dataset: Dataset, n: int, seed: int = 42) -> Dataset:
    """A seeded random subset of `n` rows (all rows when n is 0 or larger than the dataset)."""
    if n <= 0 or n >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(n))


def load_sts(
    split: str = "validation", lang: str = "en", n: int | None = None, profile: Profile | None = None
) -> Dataset:
    """STS Benchmark pairs as (sentence1, sentence2, score in 0..1), in English or a translation.

    English comes from `sentence-transformers/stsb`; other languages from `PhilipMay/stsb_multi_mt`
    (0..5 scores, divided by 5 here). `n` defaults to the profile's `n_eval` (0 = the whole split).
    """
    profile = profile or current_profile()
    if lang == "en":
        ds = load_data("sentence-transformers/stsb", None, split, profile)
    else:
        mt_split = {"validation": "dev"}.get(split, split)
        ds = load_data("PhilipMay/stsb_multi_mt", lang, mt_split, profile)
        require_columns(ds, ["sentence1", "sentence2", "similarity_score"], "STS loading")
        ds = ds.map(lambda row: {"score": row["similarity_score"] / 5.0}, remove_columns=["similarity_score"])
    require_columns(ds, ["sentence1", "sentence2", "score"], "STS loading")
    n = profile.scale.n_eval if n is None else n
    return subset(ds.select_columns(["sentence1", "sentence2", "score"]), n, profile.seed)
