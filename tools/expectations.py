"""Quality expectations per scale: a recorded result below its floor fails the notebook cell that recorded it.

A regression test for the GPU workflow (`make test SCALE=full SOURCE=hub`): the test harness (conftest.py) reads
the rows each notebook cell appends to the results store and checks them here. Only where the numbers are
comparable with a known figure: real data from the hub and the real base model (not an offline substitute).
Elsewhere results are reported, never asserted. Learners' runs never check floors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from helpers.profiles import CourseError


@dataclass(frozen=True)
class Floor:
    notebook: str
    method: str  # fnmatch pattern over the recorded method name
    metric: str
    minimum: float
    why: str


# At `full` (bert-base-uncased, 50k MNLI pairs, 1 epoch, GPU, hub data). The book's reference figures
# (softmax 0.610, cosine 0.736, MNRL 0.807 on STS-B validation) minus a small tolerance for seeds and versions.
FLOORS: dict[str, tuple[Floor, ...]] = {
    "full": (
        Floor("03a", "SoftmaxLoss*", "spearman", 0.58, "book: 0.610"),
        Floor("03b", "CosineSimilarityLoss (NLI*", "spearman", 0.70, "book: 0.736"),
        Floor("03d", "MNRL (pairs + random soft negative)", "spearman", 0.80,
              "book: 0.807, (anchor, entailment, shuffled soft negative) triplets"),
        Floor("01", "pretrained sentence model", "spearman", 0.86, "all-MiniLM-L6-v2 on STS-B validation: 0.867"),
    ),
}


class QualityRegression(CourseError):
    """A result fell below the floor expected at this scale."""


def floors_for(scale: str, notebook: str, method: str, metric: str) -> list[Floor]:
    return [
        f for f in FLOORS.get(scale, ())
        if f.notebook == notebook and f.metric == metric and fnmatchcase(method, f.method)
    ]


def check(scale: str, source: str, substituted: bool, notebook: str, method: str, metric: str, value: float) -> None:
    """Raise QualityRegression if `value` is below an applicable floor (hub data, real models only)."""
    if source != "hub" or substituted:
        return
    for floor in floors_for(scale, notebook, method, metric):
        if value < floor.minimum:
            raise QualityRegression(
                f"{notebook} / {method}: {metric} {value:.4f} is below the {scale}-scale floor {floor.minimum} "
                f"({floor.why}). Something regressed: data, model, library version or training settings."
            )


def check_row(row: dict[str, Any]) -> None:
    """`check` for one results-store row."""
    check(row.get("scale", ""), row.get("source", ""), "[offline substitute" in str(row.get("model", "")),
          row.get("notebook", ""), row.get("method", ""), row.get("metric", ""), float(row.get("value", 0.0)))


@dataclass
class StoreWatch:
    """The rows appended to a results folder (`<output dir>/results/*.jsonl`) since the last call of `new_rows`."""

    folder: Path
    seen: dict[Path, int] = field(default_factory=dict)  # file -> bytes already read

    def new_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for path in sorted(self.folder.glob("*.jsonl")):
            data = path.read_bytes()
            start, end = self.seen.get(path, 0), data.rfind(b"\n") + 1  # whole lines only
            for line in data[start:end].decode("utf-8", errors="replace").split("\n"):
                try:
                    row = json.loads(line)
                except ValueError:  # blank or damaged: the store itself reports those
                    continue
                if isinstance(row, dict):
                    rows.append(row)
            self.seen[path] = max(start, end)
        return rows
