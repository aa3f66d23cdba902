"""Exercises: each solution notebook is the source; the learner's notebook is generated from it.

`exercises/solutions/NN_*.ipynb` holds the exercises with their solutions and is what the tests run.
In a solution cell (tagged `solution`) the answer sits between `### BEGIN SOLUTION` and `### END SOLUTION`;
the learner's copy `exercises/NN_*.ipynb` has that block replaced by a `NotImplementedError` placeholder and
keeps everything else, including the check cells. `python -m tools colab` regenerates the learner copies;
`--check` (run by the tests) fails when one is stale.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLUTION_TAG = "solution"
EXERCISE_HEADING = re.compile(r"^## Exercise \d+", re.MULTILINE)
_BLOCK = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*$", re.DOTALL | re.MULTILINE)


def placeholder(indent: str, solution_path: str) -> str:
    return f'{indent}raise NotImplementedError("your turn (a worked solution: {solution_path})")'


def strip_solutions(source: str, solution_path: str) -> str:
    """Replace every BEGIN/END SOLUTION block by a placeholder at the block's indentation."""
    return _BLOCK.sub(lambda m: placeholder(m.group(1), solution_path), source)


def problems_in(nb: nbformat.NotebookNode) -> list[str]:
    """What is wrong with a solution notebook's exercise structure (empty list = fine)."""
    problems = []
    headings = sum(len(EXERCISE_HEADING.findall(c.source)) for c in nb.cells if c.cell_type == "markdown")
    if not 1 <= headings <= 3:
        problems.append(f"{headings} '## Exercise N' headings (expected 1 to 3)")
    tagged = [c for c in nb.cells if SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]
    if len(tagged) < headings:
        problems.append(f"{len(tagged)} cells tagged '{SOLUTION_TAG}' for {headings} exercises")
    for i, cell in enumerate(nb.cells):
        markers = BEGIN in cell.source or END in cell.source
        is_tagged = SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])
        if is_tagged and not _BLOCK.search(cell.source):
            problems.append(f"cell {i} is tagged '{SOLUTION_TAG}' but has no {BEGIN} ... {END} block")
        if markers and not is_tagged:
            problems.append(f"cell {i} has solution markers but no '{SOLUTION_TAG}' tag")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"cell {i} carries outputs")
    return problems


def learner_version(nb: nbformat.NotebookNode, solution_path: str) -> nbformat.NotebookNode:
    """The learner's notebook: solution blocks replaced, solution cells shown (not collapsed)."""
    learner = copy.deepcopy(nb)
    for cell in learner.cells:
        if cell.cell_type == "markdown":  # the learner copy sits one folder up: ../../notebooks -> ../notebooks
            cell.source = cell.source.replace("](../../", "](../")
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            cell.source = strip_solutions(cell.source, solution_path)
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != SOLUTION_TAG] + ["exercise"]
            cell.metadata.pop("jupyter", None)
    return learner


def solution_notebooks(root: Path) -> list[Path]:
    return sorted((root / "exercises" / "solutions").glob("*.ipynb"))


def learner_path(solution: Path) -> Path:
    return solution.parent.parent / solution.name
