"""The diagrams: `tools/diagrams.py` draws every one of them, and every image a notebook shows is in imgs/."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMGS = ROOT / "imgs"
SCRIPT = ROOT / "tools" / "diagrams.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# File names are fixed: notebooks refer to them.
EXPECTED = {
    "pooling",
    "bi_encoder",
    "cross_encoder",
    "retrieve_rerank",
    "mnrl_in_batch_negatives",
    "triplet_loss",
    "augmented_sbert",
    "tsdae",
    "adaptive_pretraining",
}
# `../imgs/x.png` in markdown links, <img src="..."> tags and attachments alike.
IMAGE_REF = re.compile(r"\.\./imgs/([A-Za-z0-9_.-]+\.png)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> Path:
    """Every diagram, drawn once by the script into a temporary folder (the layout check runs as part of it)."""
    out = tmp_path_factory.mktemp("diagrams")
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_script_draws_every_expected_diagram_and_nothing_else(drawn):
    assert {p.stem for p in drawn.glob("*.png")} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_diagram_is_a_real_picture(drawn, name):
    path = drawn / f"{name}.png"
    width, height = png_size(path)
    assert 1000 <= width <= 1500 and 300 <= height <= 1100, (width, height)
    assert 15_000 < path.stat().st_size < 150_000, path.stat().st_size


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_diagram_is_committed_with_the_drawn_size(drawn, name):
    committed = IMGS / f"{name}.png"
    assert committed.is_file(), f"imgs/{name}.png is missing: run `python -m tools.diagrams {name}`"
    assert png_size(committed) == png_size(drawn / f"{name}.png"), f"imgs/{name}.png is stale: redraw it"


def test_one_diagram_by_name_is_deterministic(drawn, tmp_path, monkeypatch):
    """`python -m tools.diagrams NAME` draws only that one, byte for byte what the full run drew in another process."""
    spec = importlib.util.spec_from_file_location("draw_diagrams", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "draw_diagrams", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert module.main(["bi_encoder.png", "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["bi_encoder.png"]
    assert (tmp_path / "bi_encoder.png").read_bytes() == (drawn / "bi_encoder.png").read_bytes()


def notebook_image_refs() -> list[tuple[str, str]]:
    refs = []
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for c in cells:
            if c["cell_type"] == "markdown":
                source = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                refs += [(path.name, name) for name in IMAGE_REF.findall(source)]
    return refs


def test_notebooks_show_diagrams():
    assert notebook_image_refs(), "no notebook refers to ../imgs/*.png (has the link format changed?)"


@pytest.mark.parametrize(("notebook", "image"), notebook_image_refs())
def test_every_image_a_notebook_shows_exists(notebook, image):
    assert (IMGS / image).is_file(), f"{notebook} shows ../imgs/{image}, which is not in imgs/"
