"""`python -m tools <command>`: the maintainers' commands (learners use `python -m helpers doctor|download`).

    python -m tools run [NN ...]        execute notebooks headless; executed copies and results.md in the output folder
    python -m tools bench [NN ...]      the benchmark: wall time, peak memory, throughput per notebook (not a test)
    python -m tools bench --sync-docs   regenerate the README's and the instructor guide's timing blocks
    python -m tools colab [--check]     Colab badge and set-up cells, and the learners' exercise copies
    python -m tools throughput [...]    steady-state training samples/s of the book's recipes beside its T4 figures
    python -m tools.diagrams            redraw the diagrams in imgs/
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helpers.cli import dispatch
from helpers.profiles import CourseError
from tools.runner import notebooks_in, run_notebook


def run(args: argparse.Namespace) -> int:
    """Execute notebooks headless; executed copies, results table and plot land in the output folder.

    Every notebook ends with a status (ok, FAILED, TIMEOUT, KERNEL DIED, ERROR); its executed copy and the report
    are written whatever happened, also when the run is interrupted."""
    import nbformat

    from helpers.profiles import out, repo_root
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
    runs: list[tuple[str, str, float]] = []
    try:
        for book in books:
            nb = nbformat.read(book, as_version=4)
            target = out("executed", book.name)
            try:
                outcome = run_notebook(nb, folder, args.timeout)
            except BaseException:  # Ctrl-C: keep what ran, then stop
                nbformat.write(nb, target)
                runs.append((book.stem, "INTERRUPTED", 0.0))
                raise
            nbformat.write(nb, target)
            runs.append((book.stem, outcome.status, outcome.minutes))
            if not outcome.ok:
                print(f"{book.name}: {outcome.detail[-2000:]}", file=sys.stderr)
            print(f"{book.name}: {outcome.status} in {outcome.minutes:.2f} min -> {target}", flush=True)
    finally:
        for path in write_report(runs=runs):
            print(f"wrote {path}")
        for name, status, minutes in runs:
            print(f"  {name}: {status} ({minutes:.2f} min)")
    return 0 if all(status == "ok" for _, status, _ in runs) else 1


def colab(args: argparse.Namespace) -> int:
    """Regenerate (or with --check, verify) the Colab cells of every notebook and the learners' exercises."""
    import nbformat

    from helpers.profiles import repo_root
    from tools import colab as cb
    from tools import exercises as ex

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
        print("fix: python -m tools colab")
    return 1 if stale else 0


def bench(args: argparse.Namespace) -> int:
    """Time every notebook headless at one scale/source and write the table; or (--sync-docs) copy the measured
    minutes from docs/benchmark.md into the README and the instructor guide."""
    from tools.bench import bench as run_bench
    from tools.bench import sync_docs

    if args.sync_docs:
        return sync_docs(check=args.check)
    target = Path(args.write) if args.write else None
    rows = run_bench(args.scale, args.source, args.only, args.timeout, target)
    return 1 if any(r.status != "ok" for r in rows) else 0


def throughput(args: argparse.Namespace) -> int:
    """Steady-state training throughput of the book's recipes (its own options: python -m tools throughput -h)."""
    from tools.throughput import main as run_throughput

    return run_throughput(args.options)


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["throughput"]:  # its own options (argparse's REMAINDER would not pass leading --options on)
        from tools.throughput import main as run_throughput

        try:
            return run_throughput(given[1:])
        except CourseError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="execute the notebooks headless and write the results report")
    p.add_argument("only", nargs="*", help="notebook name prefixes, e.g. 01 03a (default: all)")
    p.add_argument("--scale")
    p.add_argument("--source")
    p.add_argument("--notebooks", help="folder of notebooks (default: the repo's notebooks/)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.set_defaults(func=run)
    p = sub.add_parser("bench", help="benchmark (not a test): wall time, peak memory, throughput per notebook")
    p.add_argument("only", nargs="*", help="notebook name prefixes (default: all)")
    p.add_argument("--scale", default="tiny")
    p.add_argument("--source", default="sample")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    p.add_argument("--write", help="also write the markdown table to this file (e.g. docs/benchmark-tiny.md)")
    p.add_argument("--sync-docs", action="store_true",
                   help="run nothing: regenerate the timing blocks of README.md and docs/instructor.md "
                        "from docs/benchmark.md")
    p.add_argument("--check", action="store_true", help="with --sync-docs: only report blocks that are stale")
    p.set_defaults(func=bench)
    p = sub.add_parser("colab", help="regenerate Colab cells in every notebook and the learners' exercise copies")
    p.add_argument("--check", action="store_true", help="only report notebooks whose cells are missing or stale")
    p.set_defaults(func=colab)
    p = sub.add_parser("throughput", add_help=False,
                       help="steady-state training samples/s of the book's recipes beside its T4 figures (on a GPU)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="see python -m tools throughput -h")
    p.set_defaults(func=throughput)
    return dispatch(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
