"""Everything the course writes goes under one folder (ignored by git): models, results, figures, runs."""

from __future__ import annotations

import os
from pathlib import Path

OUTPUT_ENV = "COURSE_OUTPUT_DIR"


def repo_root() -> Path | None:
    """The course checkout this package lives in (None when installed from a wheel, e.g. on Colab)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def output_dir() -> Path:
    """`COURSE_OUTPUT_DIR`, else `<repo>/outputs`, else `./course-outputs`."""
    env = os.environ.get(OUTPUT_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        root = repo_root()
        path = root / "outputs" if root else Path.cwd() / "course-outputs"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def out(*parts: str) -> Path:
    """A path under the output folder; its parent folder exists. E.g. `out("models", "01-mean")`."""
    path = output_dir().joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
