"""`tools.exercises`: learner copies are the solutions with each solution block replaced by a placeholder."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools import exercises

SOLUTION = '''def f(x):
    """Doc stays."""
    ### BEGIN SOLUTION
    y = x * 2
    return y
    ### END SOLUTION


### BEGIN SOLUTION
answer = f(2)
### END SOLUTION
print(answer)'''


def test_strip_solutions_keeps_indentation_and_the_code_around_the_blocks():
    stripped = exercises.strip_solutions(SOLUTION, "exercises/solutions/x.ipynb")
    lines = stripped.splitlines()
    assert lines[:3] == ["def f(x):", '    """Doc stays."""', '    raise NotImplementedError("your turn (a worked '
                         'solution: exercises/solutions/x.ipynb)")']
    assert lines[-2].startswith('raise NotImplementedError("your turn') and lines[-1] == "print(answer)"
    assert "x * 2" not in stripped and "answer = f(2)" not in stripped and "BEGIN" not in stripped


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return new_notebook(cells=list(cells))


def test_learner_version_strips_only_tagged_cells_and_uncollapses_them():
    tagged = new_code_cell(SOLUTION, metadata={"tags": ["solution"], "jupyter": {"source_hidden": True}})
    check = new_code_cell("assert answer == 4")
    nb = _notebook(new_markdown_cell("## Exercise 1 · double it"), tagged, check)
    assert exercises.problems_in(nb) == []
    learner = exercises.learner_version(nb, "exercises/solutions/x.ipynb")
    assert "x * 2" in nb.cells[1].source  # the solution notebook itself is untouched
    assert "x * 2" not in learner.cells[1].source and learner.cells[2].source == check.source
    assert learner.cells[1].metadata["tags"] == ["exercise"] and "jupyter" not in learner.cells[1].metadata


def test_problems_in_reports_untagged_markers_missing_blocks_and_counts():
    untagged = new_code_cell(SOLUTION)
    empty_tag = new_code_cell("x = 1", metadata={"tags": ["solution"]})
    problems = exercises.problems_in(_notebook(untagged, empty_tag))
    assert "0 '## Exercise N' headings (expected 1 to 3)" in problems
    assert any("has solution markers but no 'solution' tag" in p for p in problems)
    assert any("tagged 'solution' but has no" in p for p in problems)
    four = [new_markdown_cell(f"## Exercise {i}") for i in range(1, 5)]
    assert "4 '## Exercise N' headings (expected 1 to 3)" in exercises.problems_in(_notebook(*four))
