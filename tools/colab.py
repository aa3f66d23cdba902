"""The "Open in Colab" badge and the Colab set-up cell of every notebook, generated from one repository slug,
and the closing "Exercises" cell of each course notebook, which links its learner copy. In the exercise solutions,
the solution cells (tagged `solution`) are collapsed, so that a learner who opens one sees the check cells first.

`python -m tools colab` rewrites these cells in every notebook (and normalises notebook metadata);
`python -m tools colab --check` lists what is missing or stale (the tests run it).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

REPO = "sbert-course/embedding-course"  # GitHub owner/name of this course: the one place the slug lives
BRANCH = "main"
# Libraries the Colab cell pins (from constraints.txt). torch, numpy and pandas stay Colab's own.
COLAB_PINNED = ("sentence-transformers", "transformers", "datasets", "accelerate", "mteb")
BADGE_TAG, SETUP_TAG, LINK_TAG = "colab-badge", "colab-setup", "exercises-link"
SOLUTION_TAG = "solution"  # as in tools/exercises.py
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def pins(constraints: Path) -> list[str]:
    """`name==version` for the Colab-pinned libraries, read from constraints.txt."""
    found = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if name.strip() in COLAB_PINNED and version:
            found[name.strip()] = f"{name.strip()}=={version.strip()}"
    missing = [n for n in COLAB_PINNED if n not in found]
    if missing:
        raise ValueError(f"{constraints} pins none of {missing}")
    return [found[n] for n in COLAB_PINNED]


def badge_source(path_in_repo: str) -> str:
    """The badge for a notebook at `path_in_repo` (e.g. notebooks/01_pooling_from_scratch.ipynb)."""
    url = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{path_in_repo}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def setup_source(pinned: list[str]) -> str:
    requirements = ", ".join(f'"{p}"' for p in pinned)
    return (
        "# Colab only: install the course package and its pinned libraries (Colab's own torch is kept).\n"
        "# Anywhere else this cell does nothing: `make setup` installed everything.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f"    course = \"embedding-course-helpers @ git+https://github.com/{REPO}@{BRANCH}\"\n"
        f"    pinned = [{requirements}]\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", course, *pinned], check=True)"
    )


def exercises_link_source(learner: str) -> str:
    """The closing cell of a course notebook: a link to its learner copy `exercises/<learner>`."""
    return (
        f"## Exercises\n[exercises/{learner}](../exercises/{learner}): 1–3 exercises on this notebook, each with a "
        "check cell that tells you whether your answer is right (worked solutions in `exercises/solutions/`)."
    )


def learner_copy_for(path: Path) -> str | None:
    """The file name of a course notebook's exercises (`exercises/solutions/<its prefix>_*.ipynb`), if any."""
    prefix = path.name.split("_", 1)[0]
    found = sorted((path.parent.parent / "exercises" / "solutions").glob(f"{prefix}_*.ipynb"))
    return found[0].name if found else None


def _link_for(path: Path, path_in_repo: str) -> str | None:
    return learner_copy_for(path) if path_in_repo.startswith("notebooks/") else None


def _tagged(nb: nbformat.NotebookNode, tag: str) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if tag in c.get("metadata", {}).get("tags", [])]


def _link_cells(nb: nbformat.NotebookNode) -> list[int]:
    """The "Exercises" link cells: tagged, or with the cell id (older notebooks carry only the id)."""
    return [i for i, c in enumerate(nb.cells) if LINK_TAG in c.get("metadata", {}).get("tags", []) or
            c.get("id") == LINK_TAG]


def _uncollapsed_solutions(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i in _tagged(nb, SOLUTION_TAG) if not nb.cells[i].metadata.get("jupyter", {}).get("source_hidden")]


def _link_problem(nb: nbformat.NotebookNode, learner: str) -> str | None:
    found = _link_cells(nb)
    if found != [len(nb.cells) - 1]:
        return 'the last cell is not the one "Exercises" link cell'
    if nb.cells[-1].cell_type != "markdown" or nb.cells[-1].source != exercises_link_source(learner):
        return '"Exercises" link cell is stale'
    return None


def expected_cells(path_in_repo: str, pinned: list[str]) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    badge = nbformat.v4.new_markdown_cell(badge_source(path_in_repo), metadata={"tags": [BADGE_TAG]}, id=BADGE_TAG)
    setup = nbformat.v4.new_code_cell(setup_source(pinned), metadata={"tags": [SETUP_TAG]}, id=SETUP_TAG)
    return badge, setup


def link_cell(learner: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(exercises_link_source(learner), metadata={"tags": [LINK_TAG]}, id=LINK_TAG)


def with_cells(
    nb: nbformat.NotebookNode, path_in_repo: str, pinned: list[str], learner: str | None = None
) -> nbformat.NotebookNode:
    """The notebook with the current badge (first cell), Colab set-up cell (second) and clean metadata; with
    `learner` (a course notebook's exercises file name), also the closing "Exercises" link cell (last)."""
    relink = learner is not None and _link_problem(nb, learner) is not None  # a current link cell is kept as it is
    generated = set(_tagged(nb, BADGE_TAG) + _tagged(nb, SETUP_TAG) + (_link_cells(nb) if relink else []))
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in generated]
    nb.cells = [*expected_cells(path_in_repo, pinned), *nb.cells, *([link_cell(learner)] if relink else [])]
    if path_in_repo.startswith("exercises/solutions/"):
        for i in _uncollapsed_solutions(nb):
            nb.cells[i].metadata.setdefault("jupyter", {})["source_hidden"] = True
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    return nb


def apply(path: Path, pinned: list[str], path_in_repo: str | None = None) -> bool:
    """Put the current badge and Colab set-up cell into a notebook file. True if it changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    path_in_repo = path_in_repo or f"notebooks/{path.name}"
    after = nbformat.writes(with_cells(nb, path_in_repo, pinned, _link_for(path, path_in_repo)))
    if after != before:
        nbformat.write(nb, path)
        return True
    return False


def check(path: Path, pinned: list[str], path_in_repo: str | None = None) -> list[str]:
    """What is missing or stale in one notebook (empty list = current)."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    path_in_repo = path_in_repo or f"notebooks/{path.name}"
    badge, setup = expected_cells(path_in_repo, pinned)
    if len(nb.cells) < 2 or BADGE_TAG not in nb.cells[0].metadata.get("tags", []):
        problems.append("first cell is not the Colab badge")
    elif nb.cells[0].source != badge.source:
        problems.append("Colab badge is stale")
    if len(nb.cells) < 2 or SETUP_TAG not in nb.cells[1].metadata.get("tags", []):
        problems.append("second cell is not the Colab set-up cell")
    elif nb.cells[1].source != setup.source:
        problems.append("Colab set-up cell is stale")
    learner = _link_for(path, path_in_repo)
    link = _link_problem(nb, learner) if learner else None
    if link:
        problems.append(link)
    hidden = _uncollapsed_solutions(nb) if path_in_repo.startswith("exercises/solutions/") else []
    if hidden:
        problems.append(f"solution cells {hidden} are not collapsed (jupyter.source_hidden)")
    if nb.metadata.get("kernelspec", {}).get("name") != KERNELSPEC["name"]:
        problems.append("kernelspec is not python3")
    if "widgets" in nb.metadata:
        problems.append("widget state stored in metadata")
    return problems
