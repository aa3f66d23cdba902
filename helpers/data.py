"""Load the course's datasets from the hub, a local mirror, or the samples shipped in this package.

A mirror (and the samples) is laid out `<hub dataset id>[/<config>]/<split>.jsonl` with the hub dataset's
own columns, so the code after loading is the same whatever the source.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.profiles import CourseError, say_once
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

    @property
    def key(self) -> str:
        """The split on the command line: its path in a mirror without `.jsonl`, e.g. `nyu-mll/glue/mnli/train`."""
        return self.relpath().with_suffix("").as_posix()

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

# ---------------------------------------------------------------------------------------------------------------
# Mirror integrity: `python -m helpers download` writes every split atomically and records its rows and SHA-256 in
# MANIFEST.json at the mirror's root. Loaders and `doctor` check a file against it (a mirror without a manifest,
# like one copied by hand, is checked line by line instead), and name the damaged file and the command that
# repairs it.
# ---------------------------------------------------------------------------------------------------------------
MANIFEST_NAME = "MANIFEST.json"


def file_facts(path: Path) -> dict[str, Any]:
    """What a manifest records about one file: its rows (non-empty lines), bytes and SHA-256."""
    digest, rows, size = hashlib.sha256(), 0, 0
    with path.open("rb") as fh:
        for line in fh:
            digest.update(line)
            size += len(line)
            rows += bool(line.strip())
    return {"rows": rows, "bytes": size, "sha256": digest.hexdigest()}


def first_bad_line(path: Path) -> tuple[int, str] | None:
    """The first line of a JSON Lines file that is not a JSON object: (line number from 1, why), or None."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                why = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8"
                end = "" if raw.endswith(b"\n") else " (the file ends inside this line: cut off while writing?)"
                return number, f"unparsable JSON ({why}){end}"
            if not isinstance(value, dict):
                return number, f"a JSON {type(value).__name__}, not an object (a row)"
    return None


def read_manifest(root: Path) -> dict[str, dict[str, Any]] | None:
    """`{relative path: {rows, bytes, sha256}}` from the mirror's MANIFEST.json; None when it has none."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError) as err:
        raise CourseError(
            f"{path} is damaged ({err}). Fix: `python -m helpers manifest {root}` records the files as they are "
            f"now (after checking them), or `python -m helpers download --to {root} --force` downloads them again."
        ) from err
    return files


def _write_text_atomic(path: Path, text: str) -> None:
    """Write a file through a temporary file in the same folder and an atomic rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(root: Path, files: dict[str, dict[str, Any]]) -> Path:
    """Write MANIFEST.json (sorted, atomically) for `files` = {relative path: file_facts(...)}."""
    path = root / MANIFEST_NAME
    body = {"about": "rows and SHA-256 of every file in this mirror; checked by the course's loaders and doctor",
            "files": dict(sorted(files.items()))}
    _write_text_atomic(path, json.dumps(body, indent=1, ensure_ascii=False) + "\n")
    return path


def manifest_for(root: Path) -> dict[str, dict[str, Any]]:
    """file_facts of every .jsonl file under `root` (what `python -m helpers manifest DIR` records)."""
    return {p.relative_to(root).as_posix(): file_facts(p) for p in sorted(root.rglob("*.jsonl"))}


def file_problem(root: Path, relpath: str, manifest: dict[str, dict[str, Any]] | None) -> str | None:
    """Why `root/relpath` cannot be trusted (rows or checksum differ from the manifest, an unparsable line), or
    None. Without a manifest entry, every line is parsed instead."""
    path = root / relpath
    entry = (manifest or {}).get(relpath)
    if entry is None:
        bad = first_bad_line(path)
        return None if bad is None else f"line {bad[0]}: {bad[1]}"
    facts = file_facts(path)
    if facts["sha256"] == entry.get("sha256"):
        return None
    bad = first_bad_line(path)
    if bad is not None:
        return f"line {bad[0]}: {bad[1]}"
    if facts["rows"] != entry.get("rows"):
        return f"{facts['rows']} rows, but the manifest ({MANIFEST_NAME}) says {entry.get('rows')}"
    return f"SHA-256 {facts['sha256'][:12]}... differs from the manifest's {str(entry.get('sha256'))[:12]}..."


def repair_command(root: Path, split: DatasetSplit | None = None) -> str:
    """The command that downloads a damaged file again (one split, or the whole mirror)."""
    one = f" --split {split.key}" if split is not None else ""
    return f"python -m helpers download --to {root} --force{one}"


def _fix_for(root: Path, split: DatasetSplit | None) -> str:
    from helpers.profiles import sample_dir

    if root.resolve() == sample_dir().resolve():
        return ("the sample data shipped with the course is damaged: restore it (`git checkout -- helpers/sample_data` "
                "in a checkout, or reinstall the course)")
    return f"`{repair_command(root, split)}` on a connected machine (or copy the file again from a good mirror)"


_verified: dict[tuple[str, int, int], str | None] = {}


def check_split_file(root: Path, path: Path, split: DatasetSplit | None = None) -> None:
    """Raise a CourseError naming the file, what is wrong and the fix, when a mirror file is damaged.

    Checked once per process per file version (path, size, modification time)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = file_problem(root, path.relative_to(root).as_posix(), read_manifest(root))
    problem = _verified[key]
    if problem:
        raise CourseError(f"{path} is damaged: {problem}. Fix: {_fix_for(root, split)}.")


def _load_jsonl(path: Path) -> Dataset:
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train")


def _load_checked(root: Path, split: DatasetSplit) -> Dataset:
    path = root / split.relpath()
    check_split_file(root, path, split)
    return _load_jsonl(path)


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

    if profile.data_dir is None:
        raise CourseError(
            f"the profile (source={profile.source}) has no data folder. Fix: set COURSE_DATA_DIR to a local mirror "
            "and use COURSE_SOURCE=local, or use COURSE_SOURCE=sample."
        )
    root = profile.data_dir
    wanted = DatasetSplit(hub_id, config, split)
    path = root / wanted.relpath()
    if path.is_file():
        return _load_checked(root, wanted)
    stand_in = MIRROR_STAND_INS.get((hub_id, config, split))
    if stand_in and (root / DatasetSplit(hub_id, config, stand_in[0]).relpath()).is_file():
        say_once(stand_in[1])
        return _load_checked(root, DatasetSplit(hub_id, config, stand_in[0]))
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
