"""Device-correct by rule, checked on every commit (CI has no GPU, so the rules are read from the code).

On a CUDA GPU, models sit on `cuda:0` and `encode(..., convert_to_tensor=True)` returns CUDA tensors. Two
mistakes broke the course there: a tensor created on the CPU meeting a CUDA tensor, and `.numpy()` on a CUDA
tensor. The course's idiom, which this test enforces in notebooks, solutions, helpers, tools and scripts:

* every tensor a cell creates says where: `torch.tensor(x, device=...)`, `torch.arange(n, device=...)`, ...;
* data leaves the device explicitly: `.cpu().numpy()` (a no-op on the CPU);
* every model says where it lives: `SentenceTransformer(..., device=device)`, `CrossEncoder(..., device=device)`,
  `AutoModel...from_pretrained(...).to(device)` (or the course's loaders, which use `helpers.device()`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
FACTORIES = {"tensor", "arange", "zeros", "ones", "eye", "full", "empty", "rand", "randn", "randint", "randperm",
             "linspace", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "as_tensor", "from_numpy"}
# `*_like` factories inherit the device of their argument; from_numpy is always on the CPU and must move.
INHERITS = {"zeros_like", "ones_like", "full_like", "rand_like", "randn_like"}
MODELS = {"SentenceTransformer", "CrossEncoder", "SparseEncoder"}


def _sources() -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for folder in ("notebooks", "exercises/solutions"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
                    code = "\n".join(lines)
                    items.append((f"{path.relative_to(ROOT)} cell {i}", code))
    for folder in ("helpers", "tools", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            items.append((str(path.relative_to(ROOT)), path.read_text()))
    return items


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _name(node.func) + "()"
    return ""


def problems(code: str) -> list[str]:
    """Lines that break the device rules, as 'line N: what'."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = _name(node.func)
        keywords = {k.arg for k in node.keywords}
        attr = func.rsplit(".", 1)[-1]
        if func.startswith("torch.") and func.count(".") == 1 and attr in FACTORIES - INHERITS:
            moved = isinstance(parents.get(node), ast.Attribute) and parents[node].attr in {"to", "cuda", "cpu"}
            if "device" not in keywords and not moved and attr != "from_numpy":
                found.append(f"line {node.lineno}: {func}(...) without device=")
            if attr == "from_numpy" and not moved:
                found.append(f"line {node.lineno}: torch.from_numpy(...) stays on the CPU: add .to(device)")
        if attr == "numpy" and isinstance(node.func, ast.Attribute) and not node.args:
            inner = node.func.value
            if not (isinstance(inner, ast.Call) and _name(inner.func).rsplit(".", 1)[-1] in {"cpu", "detach"}):
                found.append(f"line {node.lineno}: .numpy() without .cpu() first")
            elif _name(inner.func).endswith("detach") and not _name(inner.func.value).endswith("cpu()"):
                found.append(f"line {node.lineno}: .detach().numpy() without .cpu()")
        qualified = MODELS | {f"sentence_transformers.{m}" for m in MODELS}
        if attr in MODELS and "device" not in keywords and func in qualified:
            found.append(f"line {node.lineno}: {attr}(...) without device=")
        if attr == "from_pretrained" and func.split(".")[0].startswith("AutoModel"):
            chain = parents.get(node)
            moved = isinstance(chain, ast.Attribute) and chain.attr == "to"
            if not moved:
                found.append(f"line {node.lineno}: {func}(...) not followed by .to(device)")
    return found


SOURCES = _sources()


@pytest.mark.parametrize(("where", "code"), SOURCES, ids=[w for w, _ in SOURCES])
def test_device_rules(where, code):
    found = problems(code)
    assert not found, f"{where}: " + "; ".join(found)


def test_the_checker_catches_each_mistake():
    bad = """
labels = torch.tensor([1, 0])
idx = torch.arange(4)
sims = util.cos_sim(a, b).numpy()
model = SentenceTransformer(path)
encoder = AutoModel.from_pretrained(path).eval()
x = torch.from_numpy(array)
"""
    assert len(problems(bad)) == 6, problems(bad)
    good = """
labels = torch.tensor([1, 0], device=device)
idx = torch.arange(4, device=emb.device)
sims = util.cos_sim(a, b).cpu().numpy()
grads = w.grad.detach().cpu().numpy()
model = SentenceTransformer(path, device=device)
encoder = AutoModel.from_pretrained(path).to(device).eval()
x = torch.from_numpy(array).to(device)
ones = torch.ones_like(emb)
"""
    assert problems(good) == [], problems(good)
