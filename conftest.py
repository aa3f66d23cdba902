"""Test harness: notebooks run under nbval, and any stderr a notebook cell prints fails that cell.

nbval's `--nbval-lax` only checks that cells run. The course promises more: no warning and no progress-bar
noise. Every cell's captured stderr stream is checked here, after nbval has run it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The learners' exercise copies stop at NotImplementedError by design; their solutions are what runs.
# Listed one by one: a glob's `*` would also match `exercises/solutions/...` and drop the solutions.
collect_ignore = [str(p.relative_to(Path(__file__).parent)) for p in Path(__file__).parent.glob("exercises/*.ipynb")]

# Tests never touch the network, and write to a throwaway output folder unless told otherwise.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# Slow checks of things that change rarely run in `make test-nightly`, not in `make test` (see the Makefile).
NIGHTLY = ("tests/test_ddp.py", "tests/test_diagrams.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(NIGHTLY):
            item.add_marker(pytest.mark.nightly)


_watch = None  # tools.expectations.StoreWatch over this run's results store, made on first use


def check_quality_floors(item: pytest.Item) -> None:
    """Fail the cell that recorded a result below its floor (tools/expectations.py; only at full scale on hub
    data with the real models, i.e. the GPU workflow)."""
    global _watch
    from helpers.profiles import output_dir
    from tools.expectations import QualityRegression, StoreWatch, check_row

    if _watch is None:
        _watch = StoreWatch(output_dir() / "results")
    notebook = Path(str(item.path)).name.split("_", 1)[0]
    for row in _watch.new_rows():
        if row.get("notebook") == notebook:
            try:
                check_row(row)
            except QualityRegression as err:
                pytest.fail(str(err), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    if str(item.path).endswith(".ipynb"):
        check_quality_floors(item)
    outputs = getattr(item, "test_outputs", None)  # set by nbval's IPyNbCell after running the cell
    if outputs:
        noise = [o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
        if any(text.strip() for text in noise):
            message = "notebook cell wrote to stderr (a warning or progress bar?):\n" + "".join(noise)[-3000:]
            pytest.fail(message, pytrace=False)
        widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        if widgets:
            texts = [w["data"].get("text/plain", "") for w in widgets]
            pytest.fail(f"notebook cell displayed {len(widgets)} progress widget(s): {texts}", pytrace=False)
    return result


@pytest.fixture(autouse=True)
def _restore_tqdm(monkeypatch: pytest.MonkeyPatch):
    """`helpers.setup()` silences tqdm for the whole process (what a notebook wants); each test gets it back."""
    from tqdm import std

    monkeypatch.setattr(std.tqdm, "__init__", std.tqdm.__dict__["__init__"])


@pytest.fixture
def sample_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The tiny/sample profile with outputs in a temporary folder."""
    import helpers
    from helpers import session

    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setattr(session, "_active", None)
    return helpers.setup("tiny", "sample", show=False)
