from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from helpers import cli, colab
from helpers.paths import repo_root


def test_doctor_offline_reports_profile_models_and_data(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(["doctor", "--scale", "tiny", "--source", "sample"]) == 0
    report = capsys.readouterr().out
    assert "profile: scale=tiny source=sample" in report
    assert "sentence-transformers/all-MiniLM-L6-v2: offline-package" in report
    assert "data sentence-transformers/stsb [validation]: ok" in report and report.rstrip().endswith("OK")


def test_doctor_flags_an_incomplete_mirror(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert cli.main(["doctor", "--source", "local"]) == 1
    assert "sentence-transformers/stsb [test]: MISSING" in capsys.readouterr().out


def test_unknown_scale_is_a_clear_error(capsys):
    assert cli.main(["doctor", "--scale", "enormous"]) == 1
    assert "Unknown scale 'enormous'" in capsys.readouterr().out


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return path


def test_run_executes_records_and_reports(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    books = tmp_path / "books"
    books.mkdir()
    _notebook(books / "01_demo.ipynb", "import helpers\nprofile = helpers.setup('tiny', 'sample')",
              "helpers.record('01', 'demo', 0.5, model='m')")
    _notebook(books / "02_other.ipynb", "raise SystemExit('not selected')")
    assert cli.main(["run", "01", "--notebooks", str(books), "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert "01_demo.ipynb: ok" in out and "02_other" not in out
    executed = nbformat.read(tmp_path / "out" / "executed" / "01_demo.ipynb", as_version=4)
    assert "[course] scale=tiny" in executed.cells[0].outputs[0]["text"]
    assert "| 01 | demo | m | tiny | sample |" in (tmp_path / "out" / "results" / "results.md").read_text()


def test_run_reports_a_failing_notebook(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    _notebook(tmp_path / "01_bad.ipynb", "1 / 0")
    assert cli.main(["run", "--notebooks", str(tmp_path), "--timeout", "300"]) == 1


def test_strip_removes_outputs(tmp_path):
    path = _notebook(tmp_path / "x.ipynb", "1 + 1")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="2")]
    nb.cells[0].execution_count = 1
    nbformat.write(nb, path)
    assert cli.main(["strip", str(path)]) == 0
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.skipif(repo_root() is None, reason="needs the course checkout")
def test_colab_cells_are_generated_idempotently(tmp_path):
    pinned = colab.pins(repo_root() / "constraints.txt")
    assert any(p.startswith("sentence-transformers==") for p in pinned) and not any("torch" in p for p in pinned)
    path = shutil.copy(repo_root() / "notebooks" / "01_pooling_from_scratch.ipynb", tmp_path / "01.ipynb")
    colab.apply(Path(path), pinned)
    assert colab.check(Path(path), pinned) == []
    assert not colab.apply(Path(path), pinned)  # a second run changes nothing
    nb = nbformat.read(path, as_version=4)
    assert f"github/{colab.REPO}/blob/{colab.BRANCH}/notebooks/01.ipynb" in nb.cells[0].source
    assert '"google.colab" in sys.modules' in nb.cells[1].source
    nb.cells[1].source = nb.cells[1].source.replace("6.", "5.")
    nbformat.write(nb, path)
    assert colab.check(Path(path), pinned) == ["Colab set-up cell is stale"]


def test_bench_measures_a_notebook(monkeypatch, tmp_path):
    from helpers import bench

    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = _notebook(tmp_path / "09_demo.ipynb", "import helpers\nprofile = helpers.setup('tiny', 'sample')",
                     "blob = bytearray(200 * 2**20)",
                     "helpers.record('09', 'demo', 0.5, samples_per_second=12.0)\n"
                     "helpers.record('09', 'speed', 300.0, metric='sentences_per_second')")
    row = bench.run_one(path, timeout=120)
    assert row.status == "ok" and row.minutes > 0
    assert row.peak_rss_mb > 200  # the kernel process, with the 200 MB it allocated
    assert (row.samples_per_second, row.sentences_per_second) == (12.0, 300.0)
    table = bench.to_markdown([row], "tiny", "sample")
    assert "| 09_demo | ok |" in table and "Measured on:" in table and "sentence-transformers" in table
