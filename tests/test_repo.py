"""Repository hygiene: notebooks without outputs, every notebook starts with the set-up cell, ruff clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "exercises" / "solutions").glob("*.ipynb"))
LEARNER_COPIES = sorted((ROOT / "exercises").glob("*.ipynb"))
ALL_NOTEBOOKS = NOTEBOOKS + SOLUTIONS + LEARNER_COPIES


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `make clean-notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_starts_with_profile_setup(path):
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    setup = next((src for src in code if "helpers.setup(" in src), None)
    assert setup is not None and "SCALE = None" in setup and "SOURCE = None" in setup


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_cell_ends_with_a_housekeeping_value(path):
    """A cell ending in a bare `gc.collect()` shows a meaningless number as its output (seen in a quick run of 09)."""
    import ast

    noisy = {"gc.collect", "release_memory", "helpers.release_memory"}
    found = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        body = ast.parse(code).body
        last = body[-1] if body else None
        if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and ast.unparse(last.value.func) in noisy:
            found.append(i)
    assert not found, f"{path.name}: cells {found} end with a housekeeping call; write `_ = gc.collect()`"


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_call_the_readme_test_command():
    import yaml

    workflows = ROOT / ".github" / "workflows"
    steps = {}
    for name in ("ci.yml", "gpu.yml"):
        spec = yaml.safe_load((workflows / name).read_text())
        steps[name] = [s.get("run", "") for job in spec["jobs"].values() for s in job["steps"]]
    assert "make setup" in steps["ci.yml"] and "make test" in steps["ci.yml"]
    assert "make setup" in steps["gpu.yml"]
    assert any(run.startswith("make test SCALE=full SOURCE=hub OFFLINE=0") for run in steps["gpu.yml"])
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert "make setup" in ci_script and "make test" in ci_script
    readme = (ROOT / "README.md").read_text()
    assert "make setup" in readme and "make test" in readme


def test_every_notebook_has_the_current_colab_badge_and_setup_cell(capsys):
    """Course notebooks, exercise solutions and the generated learner copies (`python -m tools colab --check`)."""
    from tools.__main__ import main

    assert main(["colab", "--check"]) == 0, capsys.readouterr().out


def test_every_course_notebook_has_exercises_with_solutions():
    from tools import exercises

    prefixes = {path.name.split("_", 1)[0] for path in SOLUTIONS}
    missing = [path.name for path in NOTEBOOKS if path.name.split("_", 1)[0] not in prefixes]
    assert not missing, f"no exercises/solutions/<prefix>_*.ipynb for {missing}"
    assert [p.name for p in LEARNER_COPIES] == [p.name for p in SOLUTIONS]
    for path in SOLUTIONS:
        assert exercises.problems_in(nbformat.read(path, as_version=4)) == [], path.name


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS + LEARNER_COPIES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_in_markdown_point_at_files(path):
    import re

    nb = nbformat.read(path, as_version=4)
    links = [m for c in nb.cells if c.cell_type == "markdown" for m in re.findall(r"\]\(([^)#\s]+)", c.source)]
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    broken = [link for link in local if not (path.parent / link).exists()]
    assert not broken, f"{path.name}: links to missing files {broken}"


def test_make_test_collects_every_notebook_and_every_solution():
    """The README's test command runs each course notebook and each exercise solution (not the learner copies)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval-lax", "notebooks", "exercises"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    collected = {line.split("::", 1)[0] for line in result.stdout.splitlines() if ".ipynb::" in line}
    expected = {p.relative_to(ROOT).as_posix() for p in NOTEBOOKS + SOLUTIONS}
    assert expected <= collected, f"not collected: {sorted(expected - collected)}\n{result.stdout[-2000:]}"
    learner = {p.relative_to(ROOT).as_posix() for p in LEARNER_COPIES}
    assert not learner & collected, f"learner copies collected: {sorted(learner & collected)}"
