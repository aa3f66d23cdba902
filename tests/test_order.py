"""Any order, any number of times: the notebooks that read what others wrote, run after them and twice.

03f reads the results store, 08 the saved models (`helpers.results.course_models`), 10's "which model for which
job" everything. `make test` runs each notebook in its own throwaway output folder, so it never sees a reader
after its producers: this test runs them on ONE output folder at tiny/sample, producers first, then the readers,
then each reader a second time (what a learner does who reruns a notebook, or `make course` twice). Notebook 08
evaluates every saved model (`MODELS = ["*"]`), so it meets every kind the course saves: 06's CLS-pooled TSDAE
model, 07's adapted encoders, 09's Matryoshka, adaptive-layer and distilled models (with `Normalize`), 10's
static model. A nightly check (several minutes): `make test-nightly`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PRODUCERS = ["06", "07", "09", "10"]
READERS = ["03f", "08", "10"]


def _notebook(prefix: str):
    import nbformat

    (path,) = [p for p in NOTEBOOKS.glob(f"{prefix}_*.ipynb")]
    nb = nbformat.read(path, as_version=4)
    if prefix == "08":  # every saved model, not only the newest of each notebook
        cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("MODELS = None")]
        assert len(cells) == 1, "08's model-choice cell moved: update this test"
        cells[0].source = cells[0].source.replace("MODELS = None", 'MODELS = ["*"]', 1)
    return nb


@pytest.mark.nightly
def test_readers_run_after_their_producers_and_twice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from helpers.results import course_models, load_results
    from tools.runner import run_notebook

    outputs = tmp_path / "outputs"
    for key, value in {"COURSE_OUTPUT_DIR": str(outputs), "COURSE_SCALE": "tiny", "COURSE_SOURCE": "sample",
                       "HF_HUB_OFFLINE": "1", "COURSE_QUIET": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
        monkeypatch.setenv(key, value)
    ran: list[str] = []
    for prefix in PRODUCERS + READERS + READERS:
        outcome = run_notebook(_notebook(prefix), NOTEBOOKS, timeout=900)
        assert outcome.ok, f"{prefix} after {ran or 'nothing'}: {outcome.status}: {outcome.detail[-1500:]}"
        ran.append(prefix)

    saved = {m.name for m in course_models(["*"])}
    assert {"06", "09", "10"} <= {name.split("-")[0] for name in saved}, saved
    assert any(name.startswith("10-static") for name in saved), saved
    evaluated = set(load_results(scale="tiny", source="sample").query("notebook == '08'")["method"])
    missing = {name for name in saved if f"MTEB: {name}" not in evaluated}
    # 08 skips a model whose embeddings equal one already evaluated (and says so); every other one has a row
    assert len(missing) < len(saved) and "MTEB: 10-static-minilm" in evaluated, (missing, sorted(evaluated))
