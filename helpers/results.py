"""The results store: every notebook appends what it measured; one JSONL file per scale/source.

A row is appended with one `write()` of one whole line to a file opened for appending, under an advisory lock:
two notebooks recording at once never interleave, and an interrupted notebook leaves at most nothing. A line
that is not a row (damaged by hand, a disk that filled up) is reported with its file and line number on stdout,
moved to `<file>.corrupt`, and never blocks reading or recording; every valid row is kept.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.profiles import CourseError, out
from helpers.session import current_profile

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from helpers.profiles import Profile

COLUMNS = [
    "notebook", "method", "model", "scale", "source", "metric", "value", "baseline",
    "train_seconds", "timestamp",
]
# results.md: the seed tells apart the rows of one method run over several seeds
REPORT_COLUMNS = [*COLUMNS[:6], "seed", *COLUMNS[6:]]
KEY = ["notebook", "method", "model", "scale", "source", "metric", "seed"]  # seed: None for single runs
RESERVED = ("scale", "source", "timestamp")  # set by record() itself: an extra column cannot overwrite them


def results_path(scale: str, source: str) -> Path:
    return out("results", f"{scale}-{source}.jsonl")


def _parse(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None


def _lines(path: Path) -> list[str]:
    """The file's lines, split at newlines only (a row's text may hold other line separators, e.g. U+2028)."""
    parts = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _read(path: Path) -> list[dict[str, Any]]:
    """The rows of one store file. Lines that are not rows are reported (file and line number, on stdout so a
    notebook cell does not fail on it), moved to `<file>.corrupt` and dropped from the store; valid rows stay."""
    if not path.is_file():
        return []
    lines = _lines(path)
    rows = [_parse(line) for line in lines]
    if all(row is not None or not line.strip() for row, line in zip(rows, lines)):
        return [row for row in rows if row is not None]
    with _locked(path):  # quarantine under the writers' lock, from the file as it is now
        lines = _lines(path)
        rows = [_parse(line) for line in lines]
        bad = [(number, line) for number, (row, line) in enumerate(zip(rows, lines), start=1)
               if row is None and line.strip()]
        if bad:
            corrupt = path.with_name(path.name + ".corrupt")
            with corrupt.open("a", encoding="utf-8") as fh:
                fh.writelines(line if line.endswith("\n") else line + "\n" for _, line in bad)
            _write_lines_atomic(path, [line if line.endswith("\n") else line + "\n"
                                       for row, line in zip(rows, lines) if row is not None])
            numbers = ", ".join(str(number) for number, _ in bad)
            print(f"[course] results store {path}: line(s) {numbers} not a valid row (damaged?); moved to "
                  f"{corrupt}. The other {sum(r is not None for r in rows)} rows are kept.")
    return [row for row in rows if row is not None]


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


def _append_line(path: Path, line: str) -> None:
    """Append one line with a single write() (O_APPEND); first end a previous line that lacks its newline, in
    the same write, so a half-written line never swallows the new row."""
    data = line.encode("utf-8")
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                data = b"\n" + data
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise CourseError(f"only {written} of {len(data)} bytes of a result reached {path} (disk full?)")


def _write_lines_atomic(path: Path, lines: list[str]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
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
    reserved = [key for key in RESERVED if key in extra]
    if reserved:
        raise CourseError(
            f"record() sets {', '.join(repr(k) for k in reserved)} itself (from the profile and the clock); an extra "
            f"column cannot overwrite it. Fix: rename the column, or pass profile=... to record another scale/source."
        )
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
    try:
        line = json.dumps(row, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as err:
        raise CourseError(f"record() can store numbers and text only: {err}") from err
    with _locked(path):
        _append_line(path, line)
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
    """The results board for one metric. Runs with a baseline (trained models): each notebook/method's difference
    from its baseline, mean over the recorded seeds with a min-max whisker (`difference_bars`; the tick label gives
    the number of seeds and baseline → after). Rows without a baseline (evaluations of ready models) go in a second
    panel as points with their min-max, on an axis spanning their values (no bars from 0). `ax` draws the first
    panel only, into that axes. Returns the first panel's axes."""
    import matplotlib.pyplot as plt

    data = frame[frame["metric"] == metric].copy()
    if data.empty:
        raise CourseError(f"no results with metric {metric!r} yet: run a notebook that records one first.")
    data["label"] = data["notebook"] + ": " + data["method"]
    has_baseline = data["baseline"].notna() if "baseline" in data else data["value"].isna()
    runs, evaluations = data[has_baseline].copy(), data[~has_baseline]
    runs["difference"] = runs["value"] - runs["baseline"]
    panels = [part for part in (runs, evaluations) if len(part)]
    if ax is None:
        rows = max(part["label"].nunique() for part in panels)
        _, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 0.38 * rows + 2.4), squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax]
    if len(runs):
        grouped = runs.groupby("label", sort=False).agg(
            notebook=("notebook", "first"), mean=("difference", "mean"), low=("difference", "min"),
            high=("difference", "max"), n=("difference", "size"), baseline=("baseline", "mean"),
            after=("value", "mean")).sort_values(["notebook", "mean"], ascending=[True, False])
        labels = [f"{label} ({n} seed{'s' if n > 1 else ''}: {b:.4f} → {v:.4f})"
                  for label, n, b, v in zip(grouped.index, grouped["n"], grouped["baseline"], grouped["after"])]
        difference_bars(axes[0], labels, grouped["mean"], grouped["low"], grouped["high"],
                        f"{metric}: after training - baseline (right = better)")
        axes[0].set_title(title or f"{metric}: each run's change from its baseline")
    if len(evaluations) and (len(axes) == 2 or not len(runs)):
        target = axes[-1]
        grouped = evaluations.groupby("label", sort=False)["value"].agg(["mean", "min", "max"]).sort_values("mean")
        target.errorbar(grouped["mean"], range(len(grouped)), xerr=[grouped["mean"] - grouped["min"],
                        grouped["max"] - grouped["mean"]], fmt="o", color="tab:blue", capsize=3)
        target.set_yticks(range(len(grouped)), list(grouped.index), fontsize=8)
        target.set_xlabel(f"{metric} (no baseline: evaluations of ready models)")
        target.set_title("evaluations" if len(runs) else (title or f"{metric} by notebook and method"))
        target.grid(axis="x", alpha=0.3)
    return axes[0]


def legend_below(ax: Axes, handles: list[Any] | None = None, ncol: int = 1) -> None:
    """A legend under the axes (outside the data: it never covers a bar, a whisker or a curve)."""
    kwargs: dict[str, Any] = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.16), "fontsize": 8,
                              "frameon": False, "ncol": ncol}
    if handles is not None:
        kwargs["handles"] = handles
    ax.legend(**kwargs)


def difference_bars(ax: Axes, labels: list[str], mean: Any, low: Any, high: Any, xlabel: str) -> None:
    """Horizontal bars of a difference (0 = no change; right = better) with min-max whiskers over seeds, one per
    label, top to bottom; a bar is green when its whole range is above 0, red when below, grey when the range
    crosses 0. The axis spans the differences, not [0, 1], so a change of 0.005 is visible; the legend sits below
    the axes."""
    import numpy as np
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    mean, low, high = (np.asarray(v, dtype=float) for v in (mean, low, high))
    colors = ["tab:green" if lo > 0 else "tab:red" if hi < 0 else "tab:gray" for lo, hi in zip(low, high)]
    y = np.arange(len(labels))
    ax.barh(y, mean, height=0.6, xerr=[mean - low, high - mean], capsize=3, color=colors, alpha=0.85)
    ax.axvline(0.0, color="black", linewidth=0.8)
    span = max(float(np.nanmax(np.abs(np.concatenate([low, high, [0.0]])))), 1e-4)
    ax.set_xlim(min(-0.15 * span, float(np.nanmin(low)) - 0.1 * span),
                max(0.15 * span, float(np.nanmax(high)) + 0.1 * span))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.tick_params(axis="x", labelsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    legend_below(ax, [Patch(color="tab:green", label="better on every seed"),
                      Patch(color="tab:red", label="worse on every seed"),
                      Patch(color="tab:gray", label="range crosses 0"),
                      Patch(facecolor="none", edgecolor="none", label="bar: mean over seeds; whisker: min-max")],
                 ncol=2)

def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured markdown table (no extra dependency). A column whose numbers are all whole (a seed, a
    step count, once pandas has made them floats) prints them as integers: seed 42, not 42.0."""
    import numbers

    def whole(value: Any) -> bool:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer()

    def missing(value: Any) -> bool:
        return value is None or (isinstance(value, float) and value != value)

    integer_columns = {
        column for column in frame.columns
        if (present := [v for v in frame[column] if not missing(v)])
        and all(whole(v) for v in present) and any(isinstance(v, float) for v in present)
    }

    def cell(column: str, value: Any) -> str:
        if missing(value):
            return ""
        if column in integer_columns:
            return str(int(value))
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def objective_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (notebook, method) that measured its loss's own objective held out (`loss_runs.Objective`):
    STS-B before (the baseline) and after (mean, std, min, max over the seeds run), and the objective before and
    after (same statistics), with the gain signed so that > 0 is an improvement. Empty when no row has one."""
    import pandas as pd

    columns = ["notebook", "method", "runs", "sts_before", "sts_after", "sts_std", "sts_min", "sts_max",
               "objective", "objective_before", "objective_after", "objective_std", "objective_min",
               "objective_max", "objective_gain"]
    if "objective" not in frame or "objective_after" not in frame:
        return pd.DataFrame(columns=columns)
    part = frame[frame["objective"].notna() & frame["objective_after"].notna()]

    def spread(values: pd.Series, name: str) -> dict[str, float]:  # std is NaN for a single run
        values = values.astype(float)
        return {f"{name}_after": values.mean(), f"{name}_std": values.std(ddof=1), f"{name}_min": values.min(),
                f"{name}_max": values.max()}

    rows = []
    for (notebook, method), runs in part.groupby(["notebook", "method"], sort=True):
        higher = runs["objective_higher_is_better"].iloc[0] if "objective_higher_is_better" in runs else True
        sign = 1.0 if pd.isna(higher) or bool(higher) else -1.0
        before = runs["objective_before"].astype(float).mean()
        objective = spread(runs["objective_after"], "objective")
        rows.append({
            "notebook": notebook, "method": method, "runs": len(runs),
            "sts_before": runs["baseline"].astype(float).mean(), **spread(runs["value"], "sts"),
            "objective": runs["objective"].iloc[0], "objective_before": before, **objective,
            "objective_gain": sign * (objective["objective_after"] - before),
        })
    return pd.DataFrame(rows, columns=columns)


def write_report(folder: Path | None = None, runs: list[tuple[str, str, float]] | None = None) -> list[Path]:
    """results.md (a table per scale/source) and one plot per scale/source, for `python -m tools run`;
    `runs` = [(notebook, status, minutes)] adds how each notebook of the run ended."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = folder or out("results", "x").parent
    frame = load_results()
    written: list[Path] = []
    lines = ["# Course results", ""]
    if runs:
        lines += ["## Notebooks in this run", "", "| notebook | status | minutes |", "|---|---|---|"]
        lines += [f"| {name} | {status} | {minutes:.2f} |" for name, status, minutes in runs] + [""]
    for (scale, source), part in frame.groupby(["scale", "source"]):
        table = part.reindex(columns=REPORT_COLUMNS).sort_values(["notebook", "method", "metric", "seed"],
                                                                  kind="stable", na_position="first")
        lines += [f"## scale={scale}, source={source}", "", markdown_table(table), ""]
        objectives = objective_summary(part)
        if len(objectives):
            lines += [f"### Each loss's own objective, held out (scale={scale}, source={source})", "",
                      "STS-B Spearman and the loss's own held-out objective, before training and after (mean, std, "
                      "min, max over the seeds run); `objective_gain` > 0 is an improvement, whichever direction "
                      "the objective counts as better.", "", markdown_table(objectives), ""]
        if (part["metric"] == "spearman").any():
            ax = plot_results(part, title=f"STS Spearman: change from baseline, scale={scale}, source={source}")
            png = folder / f"{scale}-{source}.png"
            ax.figure.savefig(png, dpi=120, bbox_inches="tight")
            plt.close(ax.figure)
            written.append(png)
    md = folder / "results.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return [md, *written]


# ---- The models the course saved: notebook 08 evaluates them ----------------------------------------------------

_MODEL_FOLDER = re.compile(r"(?P<notebook>\d\d[a-z]?)-(?P<method>.+?)(?:-seed(?P<seed>\d+))?")


@dataclass(frozen=True)
class CourseModel:
    """A sentence-embedding model a notebook saved as `<output dir>/models/<notebook>-<method>[-seed<N>]`."""

    folder: Path
    notebook: str  # "03e"
    method: str  # the folder name after "<notebook>-", without a "-seed<N>" suffix
    seed: int | None  # from a "-seed<N>" suffix (runs repeated over scale.seeds), else None
    saved: datetime  # when its config was written (UTC)
    record: dict[str, Any] | None  # the results-store row this save belongs to (see course_models), if any

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def trained_at(self) -> str:
        """"<scale>/<source>" of the matching results-store row, or "unknown" when no row matches."""
        return f"{self.record['scale']}/{self.record['source']}" if self.record else "unknown"

    def summary(self) -> dict[str, Any]:
        """One table row: name, notebook, method, seed, when saved, at which scale/source, and as what recorded."""
        return {
            "model": self.name, "notebook": self.notebook, "method": self.method, "seed": self.seed,
            "saved": self.saved.strftime("%Y-%m-%d %H:%M UTC"), "trained at": self.trained_at,
            "recorded as": self.record["method"] if self.record else "",
        }


def _matching_record(rows: list[dict[str, Any]], notebook: str, seed: int | None, saved: datetime,
                     window_hours: float) -> dict[str, Any] | None:
    """The row of `notebook` (and `seed`, where both say one) recorded first after the save, else the last before
    it, within `window_hours`. Notebooks record right after saving, or at their end: the first row after the save
    is that run's."""
    near = []
    for row in rows:
        if row.get("notebook") != notebook or not row.get("timestamp"):
            continue
        if seed is not None and row.get("seed") is not None and int(row["seed"]) != seed:
            continue
        gap = (datetime.fromisoformat(row["timestamp"]) - saved).total_seconds()
        if abs(gap) <= window_hours * 3600:
            near.append((gap, row))
    after = [(gap, row) for gap, row in near if gap >= -1]  # timestamps have whole seconds
    if after:
        return min(after, key=lambda item: item[0])[1]
    return max(near, key=lambda item: item[0])[1] if near else None


def course_models(names: list[str] | None = None, window_hours: float = 6.0) -> list[CourseModel]:
    """The sentence-embedding models saved under `<output dir>/models/`, sorted by notebook and name.

    `names=None`: the most recent save of each notebook; otherwise folder names or shell patterns, e.g.
    `["03e-*", "07-*"]`, or `["*"]` for every saved model. Folders that are not `<notebook>-<method>` or hold no
    SentenceTransformer (a cross-encoder, an encoder without pooling) are left out. Each model carries the
    results-store row of its notebook recorded nearest after its save (within `window_hours`; the same seed where
    the folder name has one), which says at which scale and source it was trained: a saved model is whatever the
    *last* run of its notebook wrote.
    """
    from fnmatch import fnmatch

    folder = out("models", "x").parent
    frame = load_results(latest=False)
    rows = [{k: v for k, v in row.items() if not (isinstance(v, float) and v != v)}  # NaN: a column the row lacks
            for row in frame.to_dict("records")]
    found = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        named = _MODEL_FOLDER.fullmatch(path.name)
        config = path / "config_sentence_transformers.json"
        if not named or not config.is_file():
            continue
        try:
            kind = json.loads(config.read_text(encoding="utf-8")).get("model_type", "SentenceTransformer")
        except json.JSONDecodeError:
            continue
        if kind != "SentenceTransformer":
            continue
        seed = int(named["seed"]) if named["seed"] else None
        saved = datetime.fromtimestamp(config.stat().st_mtime, tz=timezone.utc)
        found.append(CourseModel(path, named["notebook"], named["method"], seed, saved,
                                 _matching_record(rows, named["notebook"], seed, saved, window_hours)))
    if names is None:
        newest = {m.notebook: m for m in sorted(found, key=lambda m: m.saved)}
        found = list(newest.values())
    else:
        found = [m for m in found if any(fnmatch(m.name, pattern) for pattern in names)]
    return sorted(found, key=lambda m: (m.notebook, m.name))
