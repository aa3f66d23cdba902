"""A benchmark (not a test): run notebooks headless and report wall time, peak memory and throughput.

`python -m tools bench --scale tiny --source sample` runs every notebook once and writes a markdown table
(machine, versions and date included). Timings are reported, never asserted. docs/benchmark.md is the one source
of the measured minutes: `python -m tools bench --sync-docs` copies them into the blocks between
`<!-- bench:start -->` and `<!-- bench:end -->` in README.md and docs/instructor.md (a unit test checks they agree).
The generated tables list notebooks in course order (03g after 03f, 11 after 10); the instructor table's exercises
column is the `## Exercise N · title` headings of each notebook's solutions. How a notebook joins the tables (the
"re-measured" sections, the columns read): docs/authoring.md, "The benchmark and the timing tables".
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from helpers.profiles import repo_root

VERSIONS = ("torch", "sentence-transformers", "transformers", "datasets", "mteb")


@dataclass
class BenchRow:
    notebook: str
    status: str
    minutes: float
    peak_rss_mb: float  # the kernel process tree's host RSS, sampled
    samples_per_second: float | None
    sentences_per_second: float | None
    peak_cuda_mb: float | None = None  # the largest peak CUDA memory the notebook's own records report; None on CPU


def _recorded(since: str, notebook: str) -> tuple[float | None, float | None, float | None]:
    """What this notebook's run recorded: median training samples/s, median encoding sentences/s, and the largest
    peak CUDA memory (rows with memory_kind == "cuda", column peak_memory_mb; None when it recorded none)."""
    from statistics import median

    from helpers.results import load_results

    frame = load_results(latest=False)
    if frame.empty:
        return None, None, None
    rows = frame[(frame["timestamp"] >= since) & (frame["notebook"] == notebook)]
    out: list[float | None] = []
    for column in ("samples_per_second", "sentences_per_second"):
        values = rows[column].dropna().tolist() if column in rows else []
        if column == "sentences_per_second" and "metric" in rows:
            values += rows.loc[rows["metric"] == "sentences_per_second", "value"].tolist()
        out.append(round(median(values), 1) if values else None)
    cuda = None
    if "memory_kind" in rows and "peak_memory_mb" in rows:
        values = rows.loc[rows["memory_kind"] == "cuda", "peak_memory_mb"].dropna().tolist()
        cuda = round(max(values)) if values else None
    return out[0], out[1], cuda


def run_one(path: Path, timeout: int) -> BenchRow:
    """Run one notebook and measure it; its status says how it ended (ok, FAILED, TIMEOUT, KERNEL DIED, ERROR),
    and the executed copy is written whatever happened."""
    import nbformat

    from helpers.profiles import out
    from helpers.training import peak_sampler, process_tree_rss
    from tools.runner import run_notebook

    nb = nbformat.read(path, as_version=4)
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    kernel_pid: list[int] = []

    def on_start(km: object) -> None:  # called once the kernel process exists
        provisioner = getattr(km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None:
            kernel_pid.append(process.pid)

    def kernel_rss() -> int:
        return process_tree_rss(kernel_pid[0]) if kernel_pid else 0

    with peak_sampler(kernel_rss, poll_seconds=0.2) as peak:
        try:
            outcome = run_notebook(nb, path.parent, timeout, on_start=on_start)
        finally:
            nbformat.write(nb, out("executed", path.name))
    notebook_id = path.name.split("_", 1)[0]
    samples, sentences, cuda = _recorded(since, notebook_id)
    return BenchRow(path.stem, outcome.status, round(outcome.minutes, 2), round(peak[0] / 2**20), samples, sentences,
                    cuda)


def environment_line() -> str:
    import torch

    versions = ", ".join(f"{name} {metadata.version(name)}" for name in VERSIONS)
    from helpers.models import DEVICE_ENV, device, device_name

    # The device the notebooks ran on (helpers.device(), which COURSE_DEVICE overrides), not merely what is present.
    if device() != "cpu":
        where = device_name()
    elif torch.cuda.is_available():
        where = f"cpu (GPU {torch.cuda.get_device_name(0)} present, not used ({DEVICE_ENV}=cpu))"
    else:
        where = "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {where}; Python "
        f"{platform.python_version()}; {versions}; {datetime.now(timezone.utc):%Y-%m-%d}"
    )


RSS_HEADER = "peak host RSS of the kernel (MB)"
CUDA_HEADER = "peak CUDA memory, recorded (MB)"


def to_markdown(rows: list[BenchRow], scale: str, source: str) -> str:
    def fmt(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    lines = [
        f"### scale={scale}, source={source}",
        "",
        f"Measured on: {environment_line()}.",
        "",
        f"| notebook | status | wall minutes | {RSS_HEADER} | {CUDA_HEADER} | training samples/s | "
        "encoding sentences/s |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.notebook} | {r.status} | {r.minutes:.2f} | {r.peak_rss_mb} | {fmt(r.peak_cuda_mb)} | "
        f"{fmt(r.samples_per_second)} | {fmt(r.sentences_per_second)} |"
        for r in rows
    ]
    total = sum(r.minutes for r in rows)
    lines += [f"| **total** | | {total:.1f} | | | | |", ""]
    return "\n".join(lines)


def bench(scale: str, source: str, only: list[str], timeout: int, write_to: Path | None) -> list[BenchRow]:
    from tools.runner import notebooks_in

    os.environ["COURSE_SCALE"], os.environ["COURSE_SOURCE"] = scale, source
    root = repo_root()
    if root is None:
        raise RuntimeError("the benchmark runs from a checkout of the course")
    rows = []
    for path in notebooks_in(root / "notebooks", only):
        row = run_one(path, timeout)
        cuda = "" if row.peak_cuda_mb is None else f", peak CUDA {row.peak_cuda_mb:g} MB (recorded)"
        print(f"{row.notebook}: {row.status} {row.minutes:.2f} min, peak host RSS {row.peak_rss_mb} MB{cuda}",
              flush=True)
        rows.append(row)
        if write_to is not None:  # after every notebook, so a long run that is stopped keeps what it measured
            write_to.parent.mkdir(parents=True, exist_ok=True)
            write_to.write_text(to_markdown(rows, scale, source), encoding="utf-8")
    print(to_markdown(rows, scale, source))
    if write_to is not None:
        print(f"wrote {write_to}; if it feeds {BENCHMARK_DOC}, `python -m tools bench --sync-docs` updates the "
              "minutes that README.md and docs/instructor.md quote")
    return rows


# ---------------------------------------------------------------------------------------------------------------
# docs/benchmark.md is the one source of measured minutes. README.md and docs/instructor.md quote them in blocks
#   <!-- bench:start KIND SCALE/SOURCE ... -->  (generated)  <!-- bench:end -->
# and in inline numbers `<!-- bench:min SCALE/SOURCE ID ... -->1.6` (sum of those notebooks' minutes, one decimal;
# `bench:min0` rounds to whole minutes). `python -m tools bench --sync-docs` regenerates both.
# ---------------------------------------------------------------------------------------------------------------
BENCHMARK_DOC = "docs/benchmark.md"
SYNCED_DOCS = ("README.md", "docs/instructor.md")
_SECTION = re.compile(r"^### scale=(?P<scale>[\w-]+), source=(?P<source>[\w-]+)(?P<rest>.*)$", re.M)
_HEADING = re.compile(r"^#{1,3} ", re.M)
_BLOCK = re.compile(r"(?P<start><!-- bench:start (?P<args>[^>]*?) -->\n)(?P<body>.*?)(?P<end><!-- bench:end -->)", re.S)
_INLINE = re.compile(
    r"(?P<marker><!-- bench:(?P<kind>min0?) (?P<section>[\w-]+/[\w-]+) (?P<ids>[\w ]+?) -->)"
    r"(?P<value>[0-9]+(?:\.[0-9])?)"
)
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")

Minutes = dict[tuple[str, str], dict[str, float]]


def notebook_order(name: str) -> tuple[int, str, str]:
    """Sort key in course order: 01 < 03 < 03a < 03g < 04 < 10 < 11 (the number, then its letter)."""
    match = re.match(r"(\d+)([a-z]*)", name)
    return (int(match[1]), match[2], name) if match else (10**6, "", name)


def read_benchmark(text: str) -> Minutes:
    """{(scale, source): {notebook: wall minutes}} from docs/benchmark.md.

    The first table of each scale/source is the full run. A later section for the same scale/source whose heading
    says "re-measured" updates the notebooks it lists (a notebook that changed is measured again without re-running
    all of them); the latest measurement of each notebook wins."""
    tables: Minutes = {}
    for match in _SECTION.finditer(text):
        key = (match["scale"], match["source"])
        update = key in tables and "re-measured" in match["rest"]
        following = _HEADING.search(text, match.end())
        section = text[match.end():following.start() if following else len(text)].splitlines()
        first = next((i for i, line in enumerate(section) if line.startswith("|")), len(section))
        rows = list(itertools.takewhile(lambda line: line.startswith("|"), section[first:]))  # the first table
        if (key in tables and not update) or len(rows) < 3:
            continue
        header = [cell.strip() for cell in rows[0].strip("|").split("|")]
        if "notebook" not in header or "wall minutes" not in header:
            continue
        name_at, minutes_at = header.index("notebook"), header.index("wall minutes")
        table: dict[str, float] = {}
        for row in rows[2:]:
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            if cells[name_at].startswith("**"):  # the total
                continue
            table[cells[name_at]] = float(cells[minutes_at])
        merged = {**tables[key], **table} if update else table
        tables[key] = dict(sorted(merged.items(), key=lambda item: notebook_order(item[0])))  # 03g before 04
    return tables


def _sections(args: list[str], tables: Minutes) -> list[tuple[str, str]]:
    keys = [tuple(arg.split("/", 1)) for arg in args]
    missing = [f"{scale}/{source}" for scale, source in keys if (scale, source) not in tables]
    if missing:
        raise ValueError(f"{BENCHMARK_DOC} has no table for {', '.join(missing)}")
    return keys  # type: ignore[return-value]


def _count(n: int) -> str:
    return _WORDS[n] if n < len(_WORDS) else str(n)


def _cell(table: dict[str, float], name: str) -> str:
    return f"{table[name]:.1f}" if name in table else "–"


def _render_readme(tables: Minutes, args: list[str], body: str) -> str:
    keys = _sections(args, tables)
    names = sorted({n for key in keys for n in tables[key]}, key=notebook_order)
    label = {key: f"`{key[0]}` / `{key[1]}`" + (" (real data)" if key[1] in ("local", "hub") else "") for key in keys}
    lines = ["| notebook | " + " | ".join(label[k] for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(_cell(tables[k], name) for k in keys) + " |" for name in names]
    totals = " | ".join(f"**{sum(tables[k].values()):.0f}**" for k in keys)
    lines.append(f"| **all {_count(len(names))}** | {totals} |")
    return "\n".join(lines) + "\n"


def exercise_titles(root: Path) -> dict[str, str]:
    """{notebook prefix: "1. title; 2. title"} from the `## Exercise N · title` headings of each solution notebook."""
    import nbformat

    from tools.exercises import solution_notebooks

    titles = {}
    for path in solution_notebooks(root):
        cells = nbformat.read(path, as_version=4).cells
        headings = [m for c in cells if c.cell_type == "markdown" for m in _EXERCISE_TITLE.findall(c.source)]
        titles[path.name.split("_", 1)[0]] = "; ".join(f"{n}. {title.strip()}" for n, title in headings)
    return titles


_EXERCISE_TITLE = re.compile(r"^## Exercise (\d+)\s*[·:.–-]?\s*(.*)$", re.M)


def _render_instructor(tables: Minutes, args: list[str], body: str, titles: dict[str, str] | None = None) -> str:
    """The instructor guide's timing table: measured minutes generated; the exercises column from the solution
    notebooks' `## Exercise N · title` headings (`titles`), or kept as written for a notebook without them."""
    keys = _sections(args, tables)
    exercises = {}
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and cells[0] not in ("notebook", "---"):
            exercises[cells[0]] = cells[-1]
    for name in exercises.keys() | {n for key in keys for n in tables[key]}:
        prefix = name.split("_", 1)[0]
        if titles and titles.get(prefix):
            exercises[name] = titles[prefix].replace("|", "\\|")
    names = sorted({n for key in keys for n in tables[key]}, key=notebook_order)
    tiny = next((tables[k] for k in keys if k[0] == "tiny"), None)
    lines = []
    if tiny:
        slowest = math.ceil(max(tiny.values()) * 10) / 10
        lines += [f"At `tiny` every notebook runs in under {slowest:.1f} min (all {_count(len(tiny))} in "
                  f"{sum(tiny.values()):.0f} min), so a learner who falls behind can always catch up at `tiny`.", ""]
    header = [f"run at `{k[0]}` ({'measured, ' if k[0] != 'tiny' else ''}min)" for k in keys]
    lines += ["| notebook | " + " | ".join(header) + " | exercises |", "|---" * (len(keys) + 2) + "|"]
    lines += [f"| {name} | " + " | ".join(_cell(tables[k], name) for k in keys) + f" | {exercises.get(name, '')} |"
              for name in names]
    return "\n".join(lines) + "\n"


_RENDERERS = {"readme": _render_readme, "instructor": _render_instructor}


def render_doc(text: str, tables: Minutes, titles: dict[str, str] | None = None) -> str:
    """`text` with every bench block and inline bench number regenerated from `tables` (and the instructor
    table's exercises column from `titles`, see `exercise_titles`)."""

    def block(match: re.Match[str]) -> str:
        kind, *args = match["args"].split()
        if kind not in _RENDERERS:
            raise ValueError(f"unknown bench block {kind!r} (known: {', '.join(_RENDERERS)})")
        if kind == "instructor":
            return match["start"] + _render_instructor(tables, args, match["body"], titles) + match["end"]
        return match["start"] + _RENDERERS[kind](tables, args, match["body"]) + match["end"]

    def inline(match: re.Match[str]) -> str:
        (key,) = _sections([match["section"]], tables)
        table, ids = tables[key], match["ids"].split()
        picked = [name for name in table if any(name == i or name.startswith(f"{i}_") for i in ids)]
        if len(picked) != len(ids):
            raise ValueError(f"bench marker {match['marker']}: found {picked} for {ids} in {BENCHMARK_DOC}")
        total = sum(table[name] for name in picked)
        return match["marker"] + (f"{total:.0f}" if match["kind"] == "min0" else f"{total:.1f}")

    return _INLINE.sub(inline, _BLOCK.sub(block, text))


def stale_docs(root: Path) -> dict[Path, str]:
    """{doc: regenerated text} for each synced doc whose bench numbers differ from docs/benchmark.md."""
    tables = read_benchmark((root / BENCHMARK_DOC).read_text(encoding="utf-8"))
    titles = exercise_titles(root)
    stale = {}
    for name in SYNCED_DOCS:
        path = root / name
        text = path.read_text(encoding="utf-8")
        new = render_doc(text, tables, titles)
        if new != text:
            stale[path] = new
    return stale


def sync_docs(check: bool = False, root: Path | None = None) -> int:
    """Regenerate (or with check=True, only report) the bench blocks of README.md and docs/instructor.md."""
    root = root or repo_root()
    if root is None:
        raise RuntimeError("--sync-docs works on a checkout of the course")
    stale = stale_docs(root)
    for path, text in stale.items():
        rel = path.relative_to(root)
        if check:
            print(f"{rel}: measured minutes differ from {BENCHMARK_DOC}")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"updated {rel}")
    if check and stale:
        print("fix: python -m tools bench --sync-docs")
    return 1 if check and stale else 0
