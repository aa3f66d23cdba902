"""Device-correct by rule, checked on every commit (CI has no GPU, so the rules are read from the code).

On a CUDA GPU, models sit on `cuda:0` and `encode(..., convert_to_tensor=True)` returns CUDA tensors. Two
mistakes broke the course there: a tensor created on the CPU meeting a CUDA tensor, and `.numpy()` on a CUDA
tensor. The course's idiom, which this test enforces in notebooks, solutions, learner copies, helpers, tools and
scripts (and, for data leaving the device, in tests):

* every tensor a cell creates says where, and not "nowhere" or "the CPU": `torch.tensor(x, device=...)`,
  `torch.arange(n, device=...)` (also under aliases: `from torch import arange`, `import torch as th`); never the
  legacy `torch.LongTensor(...)` constructors; a deliberate CPU placement is marked `# cpu on purpose`;
* a CPU `torch.Generator()` never drives a factory on the device;
* data leaves the device explicitly: `.cpu().numpy()` (a no-op on the CPU), and `.cpu()` before NumPy, pandas,
  matplotlib, scipy or sklearn get a tensor the code can see is on the device (`util.cos_sim`, `model.similarity`,
  `encode(..., convert_to_tensor=True)`, torch ops on those, names assigned from them earlier in the same cell);
* every model says where it lives: `SentenceTransformer(..., device=device)`, `CrossEncoder(..., device=device)`,
  `AutoModel...from_pretrained(...).to(device)` (or the course's loaders, which use `helpers.device()`);
* a cell that does not parse fails (the rule cannot vouch for it).

What a reading of the code cannot see (data across cells, losses called by hand, `model.preprocess` output): the
runtime check on the `meta` device, `tests/test_meta_device.py`; the known limits are listed in docs/authoring.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
FACTORIES = {"tensor", "arange", "zeros", "ones", "eye", "full", "empty", "rand", "randn", "randint", "randperm",
             "linspace", "logspace", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "as_tensor",
             "from_numpy", "empty_like", "randint_like"}
# `*_like` factories inherit the device of their argument; from_numpy is always on the CPU and must move.
INHERITS = {"zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "empty_like", "randint_like"}
# The legacy typed constructors always build on the CPU (torch.LongTensor([1, 2]) has no device= at all).
CPU_CONSTRUCTORS = {"Tensor", "LongTensor", "FloatTensor", "DoubleTensor", "IntTensor", "BoolTensor", "HalfTensor",
                    "ByteTensor", "ShortTensor", "BFloat16Tensor"}
MODELS = {"SentenceTransformer", "CrossEncoder", "SparseEncoder"}
ON_PURPOSE = "# cpu on purpose"  # a line that places something on the CPU deliberately says so
# Where data leaves the device: these libraries read host memory. `np.asarray(t)` on a CUDA tensor raises.
HOST_LIBRARIES = ("np.", "numpy.", "pd.", "pandas.", "plt.", "matplotlib.", "scipy.", "stats.", "sklearn.", "sns.")
HOST_FUNCTIONS = {"spearmanr", "pearsonr", "kendalltau", "cosine_similarity", "roc_auc_score",
                  "average_precision_score", "accuracy_score", "f1_score"}
# Calls that return a tensor on the model's device (so the result must be moved before it reaches a host library).
DEVICE_RESULTS = {"cos_sim", "dot_score", "pairwise_cos_sim", "pairwise_dot_score", "euclidean_sim", "manhattan_sim",
                  "similarity", "similarity_pairwise"}
SAFE_METHODS = {"cpu", "tolist", "item", "numpy"}  # after these the value is on the host (`.numpy()` has its own rule)
NOT_TENSORS = {"no_grad", "inference_mode", "device", "manual_seed", "is_tensor", "set_grad_enabled", "compile",
               "load", "save", "get_default_dtype", "set_default_dtype", "cuda", "backends", "Size", "dtype",
               "Generator", "enable_grad", "autocast", "set_float32_matmul_precision", "get_float32_matmul_precision",
               "use_deterministic_algorithms", "set_num_threads", "get_num_threads", "finfo", "iinfo"}


def _cells(path: Path) -> list[tuple[str, str]]:
    nb = nbformat.read(path, as_version=4)
    items = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
            items.append((f"{path.relative_to(ROOT)} cell {i}", "\n".join(lines)))
    return items


def _sources() -> list[tuple[str, str]]:
    """(where, code) of every cell and module the rule reads. Under tests/ only the rules about data leaving the
    device apply (a unit test builds its small inputs on the CPU on purpose; the GPU suite runs them there too)."""
    items: list[tuple[str, str]] = []
    for folder in ("notebooks", "exercises/solutions", "exercises"):  # exercises/: the learners' generated copies
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            items.extend(_cells(path))
    for folder in ("helpers", "tools", "scripts", "tests"):  # tests run on CUDA too (../shared/gpu's suite)
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
    if isinstance(node, ast.Subscript):
        return _name(node.value) + "[]"
    return ""


def _torch_aliases(tree: ast.AST) -> tuple[set[str], dict[str, str]]:
    """Names bound to the torch module (`import torch as t`) and factories imported by name
    (`from torch import arange as ar` -> {"ar": "arange"})."""
    modules, factories = {"torch"}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name == "torch" and a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module == "torch":
            for alias in node.names:
                if alias.name in FACTORIES | CPU_CONSTRUCTORS:
                    factories[alias.asname or alias.name] = alias.name
    return modules, factories


def _device_value(node: ast.Call) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == "device"), None)


def _says_cpu_or_nothing(value: ast.expr) -> str | None:
    """'None' or 'cpu' when a device= argument puts the result nowhere in particular or on the CPU."""
    if isinstance(value, ast.Constant) and value.value is None:
        return "None"
    if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value.startswith("cpu"):
        return "'cpu'"
    if isinstance(value, ast.Call) and _name(value.func).endswith("device") and value.args:
        first = value.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.startswith("cpu"):
            return "torch.device('cpu')"
    return None


class _Tensors:
    """Which names hold a tensor on the device, following assignments in line order within one source."""

    def __init__(self, tree: ast.AST, torch_modules: set[str]) -> None:
        self.torch = torch_modules
        self.assigned: dict[str, list[tuple[int, bool]]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, []).append((node.lineno, self.on_device(node.value)))
        for history in self.assigned.values():
            history.sort()

    def name_on_device(self, name: str, line: int) -> bool:
        before = [kind for at, kind in self.assigned.get(name, []) if at < line]
        return bool(before) and before[-1]

    def on_device(self, node: ast.expr, line: int | None = None) -> bool:
        """True when the expression is (detectably) a tensor that lives where the model does."""
        if isinstance(node, ast.Name):
            return line is not None and self.name_on_device(node.id, line)
        if isinstance(node, ast.Subscript):
            return self.on_device(node.value, line)
        if isinstance(node, ast.BinOp):
            return self.on_device(node.left, line) or self.on_device(node.right, line)
        if isinstance(node, ast.Attribute):  # t.T, t.grad, t.data
            return node.attr in {"T", "mT", "grad", "data"} and self.on_device(node.value, line)
        if not isinstance(node, ast.Call):
            return False
        func = _name(node.func)
        attr = func.rsplit(".", 1)[-1]
        if attr in SAFE_METHODS:
            return False
        if attr == "encode" or attr.startswith("encode_"):
            return any(k.arg == "convert_to_tensor" and isinstance(k.value, ast.Constant) and k.value.value
                       for k in node.keywords)
        if attr in DEVICE_RESULTS:
            return True
        head = func.split(".")[0]
        if head in self.torch and func.count(".") == 1:
            if attr in NOT_TENSORS or attr == "from_numpy" or attr in CPU_CONSTRUCTORS:
                return False
            if attr in FACTORIES - INHERITS:
                value = _device_value(node)
                return value is not None and _says_cpu_or_nothing(value) is None
            return any(self.on_device(a, line) for a in node.args)  # torch.cat([...]), torch.stack, ...
        if isinstance(node.func, ast.Attribute):  # a method of a device tensor: t.mean(), t.argmax(dim=1), ...
            return self.on_device(node.func.value, line)
        return False


def problems(code: str, placement: bool = True) -> list[str]:
    """Lines that break the device rules, as 'line N: what'. `placement=False` checks only where data leaves the
    device (`.numpy()`, host libraries) and that the code parses."""
    try:
        tree = ast.parse(code)
    except SyntaxError as error:  # a cell the rule cannot read is a cell it cannot vouch for
        return [f"line {error.lineno}: does not parse ({error.msg}), so its device use cannot be checked"]
    lines = code.splitlines()
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    torch_modules, imported = _torch_aliases(tree)
    tensors = _Tensors(tree, torch_modules)
    found: list[str] = []
    cpu_generators = {  # g = torch.Generator() is a CPU generator: fine for samplers, not for a factory on a GPU
        t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
        and _name(n.value.func).rsplit(".", 1)[-1] == "Generator" and _device_value(n.value) is None
        for t in n.targets if isinstance(t, ast.Name)
    }

    def on_purpose(node: ast.AST) -> bool:
        return ON_PURPOSE in lines[node.lineno - 1] if node.lineno - 1 < len(lines) else False

    def moved(node: ast.AST) -> bool:
        return isinstance(parents.get(node), ast.Attribute) and parents[node].attr in {"to", "cuda", "cpu"}

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = _name(node.func)
        attr = func.rsplit(".", 1)[-1]
        head = func.split(".")[0]
        factory = None
        if head in torch_modules and func.count(".") == 1:
            factory = attr
        elif isinstance(node.func, ast.Name) and node.func.id in imported:
            factory = imported[node.func.id]
        if not placement:
            factory = None
        if factory in FACTORIES - INHERITS and not on_purpose(node):
            value = _device_value(node)
            if factory == "from_numpy":
                if not moved(node):
                    found.append(f"line {node.lineno}: torch.from_numpy(...) stays on the CPU: add .to(device)")
            elif value is None and not moved(node):
                found.append(f"line {node.lineno}: {func}(...) without device=")
            elif value is not None and (said := _says_cpu_or_nothing(value)) and not moved(node):
                found.append(f"line {node.lineno}: {func}(..., device={said}): say the device it will meet "
                             f"(or mark the line '{ON_PURPOSE}')")
        generator = next((k.value for k in node.keywords if k.arg == "generator"), None)
        if factory in FACTORIES and isinstance(generator, ast.Name) and generator.id in cpu_generators:
            value = _device_value(node)
            if value is not None and _says_cpu_or_nothing(value) is None:
                found.append(f"line {node.lineno}: {func}(..., generator={generator.id}) on the device with a CPU "
                             "generator: torch.Generator(device=...)")
        if factory in CPU_CONSTRUCTORS and not moved(node) and not on_purpose(node):
            found.append(f"line {node.lineno}: torch.{factory}(...) is always on the CPU: use torch.tensor(..., "
                         "device=...)")
        if attr == "numpy" and isinstance(node.func, ast.Attribute) and not node.args:
            inner = node.func.value
            if not (isinstance(inner, ast.Call) and _name(inner.func).rsplit(".", 1)[-1] in {"cpu", "detach"}):
                found.append(f"line {node.lineno}: .numpy() without .cpu() first")
            elif _name(inner.func).endswith("detach") and not _name(inner.func.value).endswith("cpu()"):
                found.append(f"line {node.lineno}: .detach().numpy() without .cpu()")
        if func.startswith(HOST_LIBRARIES) or (isinstance(node.func, ast.Name) and attr in HOST_FUNCTIONS):
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if any(tensors.on_device(a, node.lineno) for a in arguments) and not on_purpose(node):
                found.append(f"line {node.lineno}: {func}(...) is given a tensor on the device: .cpu() it first")
        qualified = MODELS | {f"sentence_transformers.{m}" for m in MODELS}
        if not placement:
            continue
        if attr in MODELS and func in qualified and not on_purpose(node):
            value = _device_value(node)
            if value is None:
                found.append(f"line {node.lineno}: {attr}(...) without device=")
            elif said := _says_cpu_or_nothing(value):
                found.append(f"line {node.lineno}: {attr}(..., device={said}): use the course's device")
        if attr == "from_pretrained" and func.split(".")[0].startswith("AutoModel"):
            chain = parents.get(node)
            if not (isinstance(chain, ast.Attribute) and chain.attr == "to"):
                found.append(f"line {node.lineno}: {func}(...) not followed by .to(device)")
    return found


SOURCES = _sources()


@pytest.mark.parametrize(("where", "code"), SOURCES, ids=[w for w, _ in SOURCES])
def test_device_rules(where, code):
    found = problems(code, placement=not where.startswith("tests/"))
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


def test_the_checker_closes_the_blind_spots_of_the_first_version():
    bad = {
        "labels = torch.tensor([1, 0], device=None)": "device=None",
        "labels = torch.zeros(3, device='cpu')": "device='cpu'",
        "idx = torch.arange(4, device=torch.device('cpu'))": "torch.device('cpu')",
        "model = SentenceTransformer(path, device='cpu')": "use the course's device",
        "from torch import arange\nidx = arange(4)": "arange(...) without device=",
        "from torch import tensor as T\nx = T([1])": "T(...) without device=",
        "import torch as th\nx = th.ones(2)": "th.ones(...) without device=",
        "x = torch.LongTensor([1, 2])": "always on the CPU",
        "g = torch.Generator()\np = torch.randperm(8, generator=g, device=device)": "CPU generator",
        "sims = util.cos_sim(a, b)\nrows = np.asarray(sims)": "np.asarray",
        "x = np.array(util.cos_sim(a, b))": "np.array",
        "emb = model.encode(texts, convert_to_tensor=True)\nframe = pd.DataFrame(emb)": "pd.DataFrame",
        "scores = model.similarity(a, b)\nplt.hist(scores.flatten())": "plt.hist",
        "s = util.cos_sim(a, b)\nrho = spearmanr(s.diagonal(), gold)": "spearmanr",
        "for x in range(3)\n    pass": "does not parse",
    }
    for code, what in bad.items():
        found = problems(code)
        assert len(found) == 1 and what in found[0], (code, found)
    good = """
g = torch.Generator()  # a sampler's generator lives on the CPU, where samplers run
batches = list(NoDuplicatesBatchSampler(data, batch_size=4, drop_last=False, generator=g, seed=0))
sims = util.cos_sim(a, b)
rows = np.asarray(sims.cpu())
frame = pd.DataFrame(sims.cpu().numpy())
plt.hist(sims.flatten().tolist())
sims = sims.cpu()
also = np.asarray(sims)
closeness = F.cosine_similarity(a, b)
emb = model.encode(texts)
frame = pd.DataFrame(emb)
x = torch.zeros(3, device="cpu")  # cpu on purpose: compared with a NumPy array below
on_host = torch.ones(2, device=device)
"""
    assert problems(good) == [], problems(good)
    tests_only = "x = torch.tensor([1.0])\nm = SentenceTransformer(path, device='cpu')\ny = util.cos_sim(a, b).numpy()"
    assert [p.split(":")[0] for p in problems(tests_only, placement=False)] == ["line 3"]
