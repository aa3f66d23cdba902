"""`python -m tools throughput`: the table's format, and a tiny run on the CPU so the tool cannot rot."""

from __future__ import annotations

import pytest

from tools import throughput
from tools.throughput import RECIPES, Row, to_markdown


def test_every_row_sits_beside_the_books_t4_figure():
    rows = [
        Row("minilm", "all-MiniLM-L6-v2", 32, "bf16", 4, 1000, 5670.0, 1234.4, "peak CUDA memory", 1890),
        Row("tsdae", "", 16, "tf32", 0, 0, None, None, "peak CUDA memory", 280, "no TF32 on this GPU"),
    ]
    table = to_markdown(rows, "x86_64, 16 cores, device cuda (Stand-in)", steps=1000, warmup=50)
    lines = table.splitlines()
    assert lines[0].startswith("Measured on: x86_64, 16 cores, device cuda (Stand-in). Steady state: 1000")
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    assert header == ["recipe", "model", "batch", "precision", "workers", "samples/s", "peak memory (MB)",
                      "book T4 samples/s", "× T4"]
    first = [c.strip() for c in lines[4].strip("|").split("|")]
    assert first == [RECIPES["minilm"].title, "all-MiniLM-L6-v2", "32", "bf16", "4", "5,670",
                     "1,234 (peak CUDA memory)", "1,890", "3.00"]
    second = [c.strip() for c in lines[5].strip("|").split("|")]
    assert second[5] == "not run: no TF32 on this GPU" and second[7] == "280" and second[8] == ""
    assert {r.book_t4 for r in RECIPES.values()} == {661, 651, 511, 648, 280, 1890}  # seed 002's logged figures
    assert RECIPES["tsdae"].batch == 16 and all(r.batch == 32 for k, r in RECIPES.items() if k != "tsdae")


def test_a_tiny_run_on_the_cpu(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    target = tmp_path / "throughput.md"
    code = throughput.main(["--scale", "tiny", "--source", "sample", "--recipes", "minilm", "tsdae",
                            "--precisions", "fp32", "tf32", "--workers", "0", "--steps", "2", "--warmup", "1",
                            "--write", str(target)])
    assert code == 0
    table = target.read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| recipe")]
    assert len(rows) == 4, table
    ran = [r for r in rows if "| fp32 |" in r]
    assert len(ran) == 2 and all("(peak host RSS)" in r for r in ran), table
    for row in ran:
        speed = float(row.split("|")[6].replace(",", ""))
        assert speed > 0
    assert all("not run: no TF32 on cpu" in r for r in rows if "| tf32 |" in r)
    assert "2 optimiser steps timed after 1 warm-up steps" in table and "device cpu" in table
    assert "At tiny:" in table
    assert "train_runtime" not in capsys.readouterr().out  # the trainer's start-up-included summary is not printed


def test_steps_must_be_positive(monkeypatch):
    import helpers

    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    with pytest.raises(helpers.CourseError, match="at least 1"):
        throughput.main(["--scale", "tiny", "--source", "sample", "--steps", "0"])


def test_python_m_tools_passes_the_options_on(monkeypatch, capsys):
    from tools.__main__ import main

    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert main(["throughput", "--scale", "tiny", "--source", "sample", "--steps", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
