"""A benchmark (not a test): run notebooks headless and report wall time, peak memory and throughput.

`python -m helpers bench --scale tiny --source sample` runs every notebook once and writes a markdown table
(machine, versions and date included) that the README and the instructor guide quote. Timings are reported,
never asserted.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from helpers.paths import repo_root

VERSIONS = ("torch", "sentence-transformers", "transformers", "datasets", "mteb")


@dataclass
class BenchRow:
    notebook: str
    status: str
    minutes: float
    peak_rss_mb: float
    samples_per_second: float | None
    sentences_per_second: float | None


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
    except psutil.Error:
        return 0


def _throughput(since: str, notebook: str) -> tuple[float | None, float | None]:
    """Median training samples/s and encoding sentences/s recorded by this notebook's run."""
    from statistics import median

    from helpers.results import load_results

    frame = load_results(latest=False)
    if frame.empty:
        return None, None
    rows = frame[(frame["timestamp"] >= since) & (frame["notebook"] == notebook)]
    out: list[float | None] = []
    for column in ("samples_per_second", "sentences_per_second"):
        values = rows[column].dropna().tolist() if column in rows else []
        if column == "sentences_per_second" and "metric" in rows:
            values += rows.loc[rows["metric"] == "sentences_per_second", "value"].tolist()
        out.append(round(median(values), 1) if values else None)
    return out[0], out[1]


def run_one(path: Path, timeout: int) -> BenchRow:
    import nbformat
    from nbclient.exceptions import CellExecutionError

    from helpers.cli import execute
    from helpers.paths import out

    nb = nbformat.read(path, as_version=4)
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    peak = 0
    stop = threading.Event()
    kernel_pid: list[int] = []

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            if kernel_pid:
                peak = max(peak, _tree_rss(kernel_pid[0]))
            stop.wait(0.2)

    def on_start(km: object) -> None:  # called once the kernel process exists
        provisioner = getattr(km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None:
            kernel_pid.append(process.pid)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    status = "ok"
    try:
        execute(nb, path.parent, timeout, on_start=on_start)
    except CellExecutionError:
        status = "FAILED"
    minutes = (time.perf_counter() - start) / 60
    stop.set()
    thread.join()
    nbformat.write(nb, out("executed", path.name))
    notebook_id = path.name.split("_", 1)[0]
    samples, sentences = _throughput(since, notebook_id)
    return BenchRow(path.stem, status, round(minutes, 2), round(peak / 2**20), samples, sentences)


def environment_line() -> str:
    import torch

    versions = ", ".join(f"{name} {metadata.version(name)}" for name in VERSIONS)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {device}; Python "
        f"{platform.python_version()}; {versions}; {datetime.now(timezone.utc):%Y-%m-%d}"
    )


def to_markdown(rows: list[BenchRow], scale: str, source: str) -> str:
    def fmt(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    lines = [
        f"### scale={scale}, source={source}",
        "",
        f"Measured on: {environment_line()}.",
        "",
        "| notebook | status | wall minutes | peak memory (MB) | training samples/s | encoding sentences/s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.notebook} | {r.status} | {r.minutes:.2f} | {r.peak_rss_mb} | {fmt(r.samples_per_second)} | "
        f"{fmt(r.sentences_per_second)} |"
        for r in rows
    ]
    total = sum(r.minutes for r in rows)
    lines += [f"| **total** | | {total:.1f} | | | |", ""]
    return "\n".join(lines)


def bench(scale: str, source: str, only: list[str], timeout: int, write_to: Path | None) -> list[BenchRow]:
    from helpers.cli import notebooks_in

    os.environ["COURSE_SCALE"], os.environ["COURSE_SOURCE"] = scale, source
    root = repo_root()
    if root is None:
        raise RuntimeError("the benchmark runs from a checkout of the course")
    rows = []
    for path in notebooks_in(root / "notebooks", only):
        row = run_one(path, timeout)
        print(f"{row.notebook}: {row.status} {row.minutes:.2f} min, peak {row.peak_rss_mb} MB", flush=True)
        rows.append(row)
        if write_to is not None:  # after every notebook, so a long run that is stopped keeps what it measured
            write_to.parent.mkdir(parents=True, exist_ok=True)
            write_to.write_text(to_markdown(rows, scale, source), encoding="utf-8")
    print(to_markdown(rows, scale, source))
    if write_to is not None:
        print(f"wrote {write_to}")
    return rows
