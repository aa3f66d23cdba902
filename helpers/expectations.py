"""Quality expectations per scale: a recorded result below its floor fails the notebook (a regression test).

Only where the numbers are comparable with a known figure: real data from the hub and the real base model
(not an offline substitute). Elsewhere results are reported, never asserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from helpers.errors import CourseError


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
