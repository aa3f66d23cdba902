from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from helpers import cli
from helpers.profiles import repo_root
from tools import colab
from tools.__main__ import main as tools_main


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
    assert tools_main(["run", "01", "--notebooks", str(books), "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert "01_demo.ipynb: ok" in out and "02_other" not in out
    executed = nbformat.read(tmp_path / "out" / "executed" / "01_demo.ipynb", as_version=4)
    assert "[course] scale=tiny" in executed.cells[0].outputs[0]["text"]
    assert "| 01 | demo | m | tiny | sample |" in (tmp_path / "out" / "results" / "results.md").read_text()


def test_run_reports_a_failing_notebook(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    _notebook(tmp_path / "01_bad.ipynb", "1 / 0")
    assert tools_main(["run", "--notebooks", str(tmp_path), "--timeout", "300"]) == 1


def test_clean_notebooks_strips_outputs_and_keeps_cell_ids(tmp_path):
    """`make clean-notebooks` runs nbstripout --keep-id: outputs go, the cell ids the exercises rely on stay."""
    import subprocess
    import sys

    path = _notebook(tmp_path / "x.ipynb", "1 + 1")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].id, nb.cells[0].execution_count = "solution-1", 1
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="2")]
    nbformat.write(nb, path)
    subprocess.run([str(Path(sys.executable).parent / "nbstripout"), "--keep-id", str(path)], check=True)
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs == [] and cell.execution_count is None and cell.id == "solution-1"


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
    from tools import bench

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


def test_run_records_every_outcome_and_writes_everything(monkeypatch, tmp_path, capsys):
    """A timeout and a dead kernel end their notebook, not the run: every notebook gets a status, an executed copy
    and a line in results.md."""
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    books = tmp_path / "books"
    books.mkdir()
    _notebook(books / "01_ok.ipynb", "print('first')")
    _notebook(books / "02_slow.ipynb", "print('before')", "import time\ntime.sleep(60)")
    _notebook(books / "03_dies.ipynb", "print('alive')", "import os\nos._exit(1)")
    _notebook(books / "04_fails.ipynb", "1 / 0")
    _notebook(books / "05_after.ipynb", "print('still running')")
    assert tools_main(["run", "--notebooks", str(books), "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    expected = {"01_ok": "ok", "02_slow": "TIMEOUT", "03_dies": "KERNEL DIED", "04_fails": "FAILED", "05_after": "ok"}
    report = (tmp_path / "out" / "results" / "results.md").read_text()
    for name, status in expected.items():
        assert f"{name}.ipynb: {status} in" in out
        assert f"| {name} | {status} |" in report
        executed = nbformat.read(tmp_path / "out" / "executed" / f"{name}.ipynb", as_version=4)
        assert executed.metadata["course_run"]["status"] == status
    slow = nbformat.read(tmp_path / "out" / "executed" / "02_slow.ipynb", as_version=4)
    assert slow.cells[0].outputs[0]["text"] == "before\n"  # what ran before the timeout is kept


def test_bench_reports_a_timeout_and_keeps_the_copy(monkeypatch, tmp_path):
    from tools import bench

    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    path = _notebook(tmp_path / "09_slow.ipynb", "import time\ntime.sleep(60)")
    row = bench.run_one(path, timeout=2)
    assert row.status == "TIMEOUT" and (tmp_path / "out" / "executed" / "09_slow.ipynb").is_file()
    assert "| 09_slow | TIMEOUT |" in bench.to_markdown([row], "tiny", "sample")


def test_bench_reports_the_recorded_peak_cuda_memory(sample_profile):
    from helpers.results import record
    from tools import bench

    since = "2000-01-01T00:00:00+00:00"
    record("09", "train", 0.5, peak_memory_mb=812.4, memory_kind="cuda")
    record("09", "train big", 0.6, peak_memory_mb=1500.0, memory_kind="cuda")
    record("09", "encode", 0.7, peak_memory_mb=3000.0, memory_kind="rss")  # host memory: not in this column
    record("10", "other", 0.7, peak_memory_mb=9999.0, memory_kind="cuda")  # another notebook
    assert bench._recorded(since, "09")[2] == 1500
    record("11", "cpu run", 0.7, peak_memory_mb=900.0, memory_kind="rss")
    assert bench._recorded(since, "11")[2] is None
    row = bench.BenchRow("09_demo", "ok", 1.0, 2000, None, None, 1500)
    table = bench.to_markdown([row, bench.BenchRow("11_cpu", "ok", 1.0, 900, None, None)], "tiny", "sample")
    assert f"| {bench.RSS_HEADER} | {bench.CUDA_HEADER} |" in table
    assert "| 09_demo | ok | 1.00 | 2000 | 1500 |" in table and "| 11_cpu | ok | 1.00 | 900 |  |" in table


@pytest.mark.skipif(repo_root() is None, reason="needs the course checkout")
def test_timing_tables_in_the_docs_agree_with_the_benchmark():
    from tools import bench

    stale = bench.stale_docs(repo_root())
    assert not stale, f"stale: {[str(p) for p in stale]}; fix: python -m tools bench --sync-docs"


def test_sync_docs_regenerates_blocks_and_inline_numbers(tmp_path):
    from tools import bench

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "benchmark.md").write_text(
        "### scale=tiny, source=sample\n\nMeasured on: x.\n\n"
        "| notebook | status | wall minutes | peak memory (MB) |\n|---|---|---|---|\n"
        "| 01_a | ok | 0.52 | 1 |\n| 02_b | ok | 2.35 | 1 |\n| **total** | | 2.9 | |\n\n"
        "### scale=quick, source=local (real data)\n\n"
        "| notebook | status | wall minutes | peak host RSS of the kernel (MB) | peak CUDA memory, recorded (MB) |\n"
        "|---|---|---|---|---|\n| 01_a | ok | 1.64 | 1 | |\n| 02_b | ok | 9.35 | 1 | |\n\n"
        "## On a CUDA GPU\n\n| model | fp32 | bf16 |\n|---|---|---|\n| MiniLM | 593 | 143 |\n"
    )
    (tmp_path / "README.md").write_text(
        "intro\n<!-- bench:start readme tiny/sample quick/local -->\nold table\n<!-- bench:end -->\nafter\n")
    (tmp_path / "docs" / "instructor.md").write_text(
        "<!-- bench:start instructor quick/local tiny/sample -->\n"
        "| notebook | run at `quick` (measured, min) | run at `tiny` (min) | exercises |\n|---|---|---|---|\n"
        "| 01_a | 9 | 9 | 1. Pooling by hand |\n<!-- bench:end -->\n"
        "Half day: <!-- bench:min0 quick/local 01 02 -->99 min; 02 runs <!-- bench:min quick/local 02 -->1.0 |\n"
    )
    assert bench.sync_docs(check=True, root=tmp_path) == 1
    assert bench.sync_docs(root=tmp_path) == 0 and bench.sync_docs(check=True, root=tmp_path) == 0
    readme = (tmp_path / "README.md").read_text()
    assert "| 01_a | 0.5 | 1.6 |\n| 02_b | 2.4 | 9.3 |\n| **all two** | **3** | **11** |\n" in readme
    assert readme.endswith("<!-- bench:end -->\nafter\n")
    guide = (tmp_path / "docs" / "instructor.md").read_text()
    assert "under 2.4 min (all two in 3 min)" in guide
    assert "| 01_a | 1.6 | 0.5 | 1. Pooling by hand |" in guide and "| 02_b | 9.3 | 2.4 |  |" in guide
    assert "-->11 min; 02 runs <!-- bench:min quick/local 02 -->9.3 |" in guide


def test_a_re_measured_section_updates_the_notebooks_it_lists():
    from tools import bench

    text = (
        "### scale=quick, source=local (real data)\n\n| notebook | status | wall minutes |\n|---|---|---|\n"
        "| 01_a | ok | 1.64 |\n| 02_b | ok | 9.35 |\n| **total** | | 11.0 |\n\n"
        "### scale=quick, source=local, a second full run (ignored: the first table of a scale/source is the run)\n\n"
        "| notebook | status | wall minutes |\n|---|---|---|\n| 01_a | ok | 5.0 |\n| 02_b | ok | 5.0 |\n\n"
        "### scale=quick, source=local, re-measured 2026-12-01 (after a change to 02)\n\n"
        "| notebook | wall minutes | conditions |\n|---|---|---|\n| 02_b | 27.5 | idle |\n| 03_c | 4.0 | idle |\n"
    )
    assert bench.read_benchmark(text) == {("quick", "local"): {"01_a": 1.64, "02_b": 27.5, "03_c": 4.0}}


def test_maintainer_commands_under_helpers_point_to_tools(capsys):
    """Scripts written before the move (e.g. `python -m helpers bench`) get the new command, not a bare usage error."""
    assert cli.main(["bench", "--scale", "quick"]) == 2
    err = capsys.readouterr().err
    assert "python -m tools bench" in err and "moved" in err
