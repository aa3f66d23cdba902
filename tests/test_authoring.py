"""What docs/authoring.md promises a new notebook: the tools put it in course order, fill its instructor-guide row
and write its closing "Exercises" cell, and the instructor guide's learning objectives cover every notebook."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools import bench, colab

ROOT = Path(__file__).resolve().parent.parent


def _objective_rows(text: str) -> list[str]:
    section = text.split("## Learning objectives", 1)[1].split("\n## ", 1)[0]
    return [line.strip("|").split("|")[0].strip() for line in section.splitlines() if line.startswith("| ")]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_the_instructor_guide_states_learning_objectives_for_every_notebook(path):
    rows = _objective_rows((ROOT / "docs" / "instructor.md").read_text(encoding="utf-8"))
    prefix = path.name.split("_", 1)[0]
    assert any(row.split()[0] == prefix for row in rows if row != "notebook"), (
        f"docs/instructor.md: the 'Learning objectives' table has no row '| {prefix} ... | after it, a learner can "
        "... |' (docs/authoring.md, 'Adding a notebook')")


def test_the_objectives_table_is_in_course_order():
    rows = [r for r in _objective_rows((ROOT / "docs" / "instructor.md").read_text(encoding="utf-8"))
            if r != "notebook"]
    prefixes = [row.split()[0] for row in rows]
    assert prefixes == sorted(prefixes, key=bench.notebook_order)


def test_notebook_order_puts_letters_after_their_number_and_11_after_10():
    names = ["11_new", "03g_new", "10_static", "03_formats", "04_fine", "03f_cmp", "01_pool", "03a_soft", "12_x"]
    assert sorted(names, key=bench.notebook_order) == [
        "01_pool", "03_formats", "03a_soft", "03f_cmp", "03g_new", "04_fine", "10_static", "11_new", "12_x"]


def test_a_re_measured_notebook_joins_the_tables_in_course_order(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "benchmark.md").write_text(
        "### scale=quick, source=local\n\n| notebook | status | wall minutes |\n|---|---|---|\n"
        "| 03f_cmp | ok | 0.1 |\n| 04_fine | ok | 9.0 |\n| 10_static | ok | 2.0 |\n\n"
        "### scale=quick, source=local, re-measured 2026-12-02 (new notebooks)\n\n"
        "| notebook | wall minutes | conditions |\n|---|---|---|\n| 11_new | 1.0 | idle |\n| 03g_new | 3.0 | idle |\n"
    )
    (tmp_path / "README.md").write_text("<!-- bench:start readme quick/local -->\n<!-- bench:end -->\n")
    (tmp_path / "docs" / "instructor.md").write_text(
        "<!-- bench:start instructor quick/local -->\n<!-- bench:end -->\n")
    solutions = tmp_path / "exercises" / "solutions"
    solutions.mkdir(parents=True)
    nbformat.write(new_notebook(cells=[
        new_markdown_cell("## Exercise 1 · Prompts by hand\ntext"), new_code_cell("x = 1"),
        new_markdown_cell("## Exercise 2 · A | in a title")]), solutions / "03g_new_exercises.ipynb")
    assert bench.sync_docs(root=tmp_path) == 0
    readme = (tmp_path / "README.md").read_text()
    assert [line.split("|")[1].strip() for line in readme.splitlines()[3:-2]] == [
        "03f_cmp", "03g_new", "04_fine", "10_static", "11_new"], readme
    guide = (tmp_path / "docs" / "instructor.md").read_text()
    assert "| 03g_new | 3.0 | 1. Prompts by hand; 2. A \\| in a title |" in guide  # filled from the headings
    assert "| 11_new | 1.0 |  |" in guide  # no solutions yet: left empty
    assert guide.index("03g_new") < guide.index("04_fine") < guide.index("11_new")


def test_instructor_exercises_column_is_the_solution_headings_of_the_repository():
    titles = bench.exercise_titles(ROOT)
    assert titles["01"].startswith("1. Position-weighted mean pooling; 2. ")
    for prefix, line in titles.items():
        assert re.fullmatch(r"1\. .+?(; 2\. .+?)?(; 3\. .+)?", line), (prefix, line)


def test_colab_writes_the_closing_exercises_link_cell(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "exercises" / "solutions").mkdir(parents=True)
    nbformat.write(new_notebook(), tmp_path / "exercises" / "solutions" / "03g_prompts_exercises.ipynb")
    path = tmp_path / "notebooks" / "03g_query_prompts.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# 03g"), new_code_cell("x = 1")]), path)
    pinned = ["sentence-transformers==6.2.0"]
    assert 'the last cell is not the one "Exercises" link cell' in colab.check(path, pinned)
    assert colab.apply(path, pinned) and colab.check(path, pinned) == []
    last = nbformat.read(path, as_version=4).cells[-1]
    assert last.id == "exercises-link" and last.cell_type == "markdown"
    assert "[exercises/03g_prompts_exercises.ipynb](../exercises/03g_prompts_exercises.ipynb)" in last.source
    assert not colab.apply(path, pinned)  # current: nothing to do
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("y = 2"))  # a cell written after the link: the link moves back to the end
    nbformat.write(nb, path)
    assert colab.check(path, pinned) and colab.apply(path, pinned) and colab.check(path, pinned) == []
    cells = nbformat.read(path, as_version=4).cells
    assert [c.source for c in cells[-2:-1]] == ["y = 2"] and sum(c.id == "exercises-link" for c in cells) == 1


def test_a_notebook_without_exercises_yet_gets_no_link_cell(tmp_path):
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "11_draft.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), path)
    colab.apply(path, ["sentence-transformers==6.2.0"])
    assert all(c.id != "exercises-link" for c in nbformat.read(path, as_version=4).cells)


def test_pins_lists_the_packages_that_differ_from_constraints_and_the_torch_spec(tmp_path):
    from tools import pins

    (tmp_path / "Makefile").write_text("PYTHON ?= python3\nTORCH_SPEC ?= torch==2.13.0\n")
    (tmp_path / "constraints.txt").write_text(
        f"# comment\nnbformat==0.0.1  # an old pin\npytest=={pins._installed('pytest')}\nnot-a-real-package==1.0\n")
    assert pins.pinned(tmp_path) == {"torch": "2.13.0", "nbformat": "0.0.1", "pytest": pins._installed("pytest"),
                                     "not-a-real-package": "1.0"}
    differ = {name for name, _, _ in pins.differences(tmp_path)}
    assert "nbformat" in differ and "pytest" not in differ and "not-a-real-package" not in differ
    assert pins._same("2.13.0", "2.13.0+cpu") and not pins._same("2.13.0", "2.14.1")
    text = pins.report(tmp_path)
    assert "pinned packages differ" in text and "1 not installed here" in text
    assert "| nbformat | 0.0.1 | **" in pins.report(tmp_path, markdown=True)


def test_colab_collapses_the_solution_cells_of_a_solution_notebook(tmp_path):
    (tmp_path / "exercises" / "solutions").mkdir(parents=True)
    path = tmp_path / "exercises" / "solutions" / "03g_prompts_exercises.ipynb"
    cells = [new_markdown_cell("## Exercise 1 · x"), new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
                                                                   metadata={"tags": ["solution"]})]
    nbformat.write(new_notebook(cells=cells), path)
    rel, pinned = "exercises/solutions/03g_prompts_exercises.ipynb", ["sentence-transformers==6.2.0"]
    assert "solution cells [1] are not collapsed (jupyter.source_hidden)" in colab.check(path, pinned, rel)
    assert colab.apply(path, pinned, rel) and colab.check(path, pinned, rel) == []
    assert nbformat.read(path, as_version=4).cells[3].metadata["jupyter"] == {"source_hidden": True}


def test_the_weekly_canary_runs_make_test_latest_on_the_python_range_the_readme_states():
    import yaml

    spec = yaml.safe_load((ROOT / ".github" / "workflows" / "latest.yml").read_text())
    triggers = spec[True] if True in spec else spec["on"]  # YAML 1.1 reads the key `on` as True
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    job = spec["jobs"]["newest-releases"]
    assert any(step.get("run", "").startswith("make test-latest") for step in job["steps"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    low, high = re.search(r"Python (3\.\d+) to (3\.\d+)", readme).groups()
    assert job["strategy"]["matrix"]["python-version"] == [low, high]
    requires = re.search(r'requires-python = ">=(3\.\d+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert requires == low
    makefile = (ROOT / "Makefile").read_text()
    assert "test-latest:" in makefile and ".venv-latest/" in (ROOT / ".gitignore").read_text()
