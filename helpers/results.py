"""The results store: every notebook appends what it measured; one JSONL file per scale/source.

Each write rewrites the file through a temporary file and an atomic rename, so an interrupted notebook
never leaves a half-written store.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers import expectations
from helpers.errors import CourseError
from helpers.paths import out
from helpers.session import current_profile

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from helpers.profiles import Profile

COLUMNS = [
    "notebook", "method", "model", "scale", "source", "metric", "value", "baseline",
    "train_seconds", "timestamp",
]
KEY = ["notebook", "method", "model", "scale", "source", "metric", "seed"]  # seed: None for single runs


def results_path(scale: str, source: str) -> Path:
    return out("results", f"{scale}-{source}.jsonl")


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise writers (two notebooks running at once) with an advisory lock where the OS has one."""
    try:
        import fcntl
    except ImportError:  # Windows: single writer assumed
        yield
        return
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomic(path: Path, rows: list[dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the store is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def model_label(model: str) -> str:
    """The model name as recorded: says so when an offline substitute stood in for it."""
    from helpers.models import resolve_model
    from helpers.profiles import SCALES

    if model not in {m for s in SCALES.values() for m in (s.base_model, s.sentence_model, s.cross_encoder_base)}:
        return model
    try:
        substituted = resolve_model(model).substituted
    except CourseError:
        return model
    return f"{model} [offline substitute: all-MiniLM-L6-v2]" if substituted else model


def record(
    notebook: str,
    method: str,
    value: float,
    *,
    metric: str = "spearman",
    model: str = "",
    baseline: float | None = None,
    train_seconds: float | None = None,
    profile: Profile | None = None,
    **extra: float | str | None,
) -> dict[str, Any]:
    """Append one measured result (plus any extra numbers, e.g. samples_per_second) and return the row."""
    profile = profile or current_profile()
    try:
        value = float(value)
    except (TypeError, ValueError) as err:
        raise CourseError(f"record() needs a number for value, got {value!r}") from err
    row: dict[str, Any] = {
        "notebook": notebook, "method": method, "model": model_label(model),
        "scale": profile.scale.name, "source": profile.source, "metric": metric, "value": value,
        "baseline": None if baseline is None else float(baseline),
        "train_seconds": None if train_seconds is None else round(float(train_seconds), 2),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
    path = results_path(profile.scale.name, profile.source)
    with _locked(path):
        _write_atomic(path, [*_read(path), row])
    # Recorded first, then checked: a regression is kept in the store and fails the notebook.
    expectations.check(profile.scale.name, profile.source, "[offline substitute" in row["model"],
                       notebook, method, metric, value)
    return row


def load_results(scale: str | None = None, source: str | None = None, latest: bool = True) -> pd.DataFrame:
    """All recorded results (optionally one scale/source); by default only the newest row per result."""
    import pandas as pd

    folder = out("results", "x").parent
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        rows.extend(_read(path))
    frame = pd.DataFrame(rows, columns=None if rows else COLUMNS)
    if "seed" not in frame:
        frame["seed"] = None
    if scale:
        frame = frame[frame["scale"] == scale]
    if source:
        frame = frame[frame["source"] == source]
    if latest and len(frame):
        # A stable sort: rows recorded within the same second keep their file order, so "last" is the latest.
        frame = frame.sort_values("timestamp", kind="stable").drop_duplicates(KEY, keep="last")
    return frame.reset_index(drop=True)


def plot_results(frame: pd.DataFrame, metric: str = "spearman", ax: Axes | None = None, title: str = "") -> Axes:
    """Horizontal bars of one metric per notebook/method, with the baseline marked where there is one."""
    import matplotlib.pyplot as plt

    data = frame[frame["metric"] == metric].copy()
    if data.empty:
        raise CourseError(f"no results with metric {metric!r} yet: run a notebook that records one first.")
    data["label"] = data["notebook"] + ": " + data["method"]
    data = data.sort_values("value")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * len(data) + 1.2))
    ax.barh(data["label"], data["value"], color="tab:blue", label="result")
    if "baseline" in data and data["baseline"].notna().any():
        ax.scatter(data["baseline"], data["label"], color="black", marker="|", s=200, label="baseline", zorder=3)
    ax.set_xlabel(metric)
    ax.set_title(title or f"{metric} by notebook and method")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right")
    return ax


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def write_report(folder: Path | None = None) -> list[Path]:
    """results.md (a table per scale/source) and one plot per scale/source, for `python -m helpers run`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = folder or out("results", "x").parent
    frame = load_results()
    written: list[Path] = []
    lines = ["# Course results", ""]
    for (scale, source), part in frame.groupby(["scale", "source"]):
        lines += [f"## scale={scale}, source={source}", "", markdown_table(part[COLUMNS]), ""]
        if (part["metric"] == "spearman").any():
            ax = plot_results(part, title=f"STS Spearman, scale={scale}, source={source}")
            png = folder / f"{scale}-{source}.png"
            ax.figure.savefig(png, dpi=120, bbox_inches="tight")
            plt.close(ax.figure)
            written.append(png)
    md = folder / "results.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return [md, *written]
