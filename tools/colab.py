"""The "Open in Colab" badge and the Colab set-up cell of every notebook, generated from one repository slug.

`python -m tools colab` rewrites both cells in every notebook (and normalises notebook metadata);
`python -m tools colab --check` lists what is missing or stale (the tests run it).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

REPO = "sbert-course/embedding-course"  # GitHub owner/name of this course: the one place the slug lives
BRANCH = "main"
# Libraries the Colab cell pins (from constraints.txt). torch, numpy and pandas stay Colab's own.
COLAB_PINNED = ("sentence-transformers", "transformers", "datasets", "accelerate", "mteb")
BADGE_TAG, SETUP_TAG = "colab-badge", "colab-setup"
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


def _tagged(nb: nbformat.NotebookNode, tag: str) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if tag in c.get("metadata", {}).get("tags", [])]


def expected_cells(path_in_repo: str, pinned: list[str]) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    badge = nbformat.v4.new_markdown_cell(badge_source(path_in_repo), metadata={"tags": [BADGE_TAG]}, id=BADGE_TAG)
    setup = nbformat.v4.new_code_cell(setup_source(pinned), metadata={"tags": [SETUP_TAG]}, id=SETUP_TAG)
    return badge, setup


def with_cells(nb: nbformat.NotebookNode, path_in_repo: str, pinned: list[str]) -> nbformat.NotebookNode:
    """The notebook with the current badge (first cell), Colab set-up cell (second) and clean metadata."""
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in set(_tagged(nb, BADGE_TAG) + _tagged(nb, SETUP_TAG))]
    nb.cells = [*expected_cells(path_in_repo, pinned), *nb.cells]
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    return nb


def apply(path: Path, pinned: list[str], path_in_repo: str | None = None) -> bool:
    """Put the current badge and Colab set-up cell into a notebook file. True if it changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    after = nbformat.writes(with_cells(nb, path_in_repo or f"notebooks/{path.name}", pinned))
    if after != before:
        nbformat.write(nb, path)
        return True
    return False


def check(path: Path, pinned: list[str], path_in_repo: str | None = None) -> list[str]:
    """What is missing or stale in one notebook (empty list = current)."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    badge, setup = expected_cells(path_in_repo or f"notebooks/{path.name}", pinned)
    if len(nb.cells) < 2 or BADGE_TAG not in nb.cells[0].metadata.get("tags", []):
        problems.append("first cell is not the Colab badge")
    elif nb.cells[0].source != badge.source:
        problems.append("Colab badge is stale")
    if len(nb.cells) < 2 or SETUP_TAG not in nb.cells[1].metadata.get("tags", []):
        problems.append("second cell is not the Colab set-up cell")
    elif nb.cells[1].source != setup.source:
        problems.append("Colab set-up cell is stale")
    if nb.metadata.get("kernelspec", {}).get("name") != KERNELSPEC["name"]:
        problems.append("kernelspec is not python3")
    if "widgets" in nb.metadata:
        problems.append("widget state stored in metadata")
    return problems
