"""Hand-written training paths run once with the model on PyTorch's `meta` device: a device check without a GPU.

On a CUDA machine a CPU tensor that meets the model raises; on a machine without a GPU the `meta` device stands in
for "not the CPU" (torch 2.13): a `Linear` on `meta` given a CPU input raises, so do `meta + cpu` and `.numpy()`.
An `Embedding` on `meta` given CPU token ids does not raise (on CUDA it would), so the transformer's forward is
replaced here by a stand-in that first asserts that every feature tensor reaching it lives where the model's
parameters live, then returns token embeddings from the model's own (meta) embedding table. A whole BERT forward on
`meta` cannot run anyway: transformers 5.23 calls `Tensor.item()` while building the attention mask.

`meta` tensors have no values. So the chosen cells of a notebook run statement by statement: a statement that
needs values (`.item()`, `float(...)`, a formatted number, `torch.allclose`) is passed over, `assert` statements
are not run, and everything else must run (a statement that fails only because it reads a name that a
passed-over statement would have set is passed over too). A device error (a mismatch, `.numpy()` on the device,
features on the CPU) fails the test. Each path must reach the model (the stand-in counts its calls) in the cells
named below, so a path cannot pass by not running.

Paths that cannot run on `meta`, and why: training through `SentenceTransformerTrainer` (the trainer reads loss
values to log them and the optimiser needs numbers; the trainer moves the model, loss and batches itself), and
`model.encode(...)` results read as numbers (encode moves its own inputs: covered by the library).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
META = torch.device("meta")


class DeviceMismatch(AssertionError):
    """Features reached the model on another device than its parameters."""


def _is_value_error(error: BaseException) -> bool:
    """True for the errors `meta` raises because its tensors have no values (not because of a device mix-up)."""
    text = str(error)
    if isinstance(error, DeviceMismatch) or "device" in text.lower():
        return False  # "not on the expected device", "Expected all tensors ... same device", .numpy() on meta
    return any(s in text for s in ("cannot be called on meta tensors", "Cannot copy out of meta tensor",
                                   "unsupported format string passed to Tensor.__format__",
                                   "only one element tensors can be converted"))


def _statements(code: str) -> list[ast.stmt]:
    """Top-level statements; a `with` block becomes one `with` per inner statement (so one value read inside
    `torch.no_grad()` does not skip the rest of the block); asserts are dropped."""
    tree = ast.parse(code)  # a cell that does not parse fails here, loudly
    out: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Assert):
            continue
        if isinstance(node, ast.With):
            for inner in node.body:
                if not isinstance(inner, ast.Assert):
                    out.append(ast.copy_location(ast.With(items=node.items, body=[inner]), node))
            continue
        out.append(node)
    return out


def _targets(statement: ast.stmt) -> set[str]:
    """The names a statement binds (assignments, loop variables, definitions)."""
    names = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names | {n.name for n in ast.walk(statement) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


class MetaRun:
    """Runs notebook cells (by cell id) in one namespace and records what happened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cells = {c.get("id"): c for c in nbformat.read(path, as_version=4).cells}
        self.ns: dict[str, Any] = {"__name__": "__meta_run__"}
        self.reached: dict[str, int] = {}
        self.passed_over: list[str] = []
        self.unset: set[str] = set()  # names a passed-over statement would have set
        self.current = ""

    def run(self, cell_id: str) -> None:
        self.current = cell_id
        self.reached.setdefault(cell_id, 0)
        code = "\n".join(line for line in self.cells[cell_id].source.splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        for statement in _statements(code):
            module = ast.Module(body=[statement], type_ignores=[])
            try:
                exec(compile(module, f"{self.path.name}:{cell_id}", "exec"), self.ns)
            except Exception as error:  # classified right below
                depends = isinstance(error, NameError) and error.name in self.unset
                if depends or _is_value_error(error):
                    self.unset |= _targets(statement)
                    self.passed_over.append(f"{cell_id} line {statement.lineno}: {str(error)[:60]}")
                    continue
                where = f"{self.path.relative_to(ROOT)} cell {cell_id} line {statement.lineno}"
                raise AssertionError(f"{where}: {type(error).__name__}: {error}") from error


@pytest.fixture
def on_meta(monkeypatch: pytest.MonkeyPatch):
    """The course's device is `meta`: `helpers.device()` says so, models are built there, and the transformer's
    forward is the stand-in that checks where its features live."""
    from sentence_transformers.sentence_transformer.modules import Transformer

    import helpers
    import helpers.models

    monkeypatch.setenv("COURSE_SCALE", "tiny")
    monkeypatch.setenv("COURSE_SOURCE", "sample")
    monkeypatch.setenv("COURSE_QUIET", "1")
    for target in (helpers, helpers.models):
        monkeypatch.setattr(target, "device", lambda: "meta")
    monkeypatch.setattr(helpers.models, "_course_device", lambda: "meta")
    # Module.to() keeps a tied parameter tied on CUDA by changing it in place (`param.data = ...`, torch
    # nn/modules/module.py `compute_should_use_set_data`); CPU -> meta is not "compatible" for that and would
    # create new, untied parameters. Swapping the tensors in place keeps the same objects, as on CUDA.
    swap = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    runs: list[MetaRun] = []

    def forward(self: Transformer, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        want = next(self.parameters()).device
        wrong = {k: str(v.device) for k, v in features.items() if isinstance(v, torch.Tensor) and v.device != want}
        if wrong:
            raise DeviceMismatch(f"features reach the model on {wrong}, its parameters are on {want}")
        if runs:
            runs[-1].reached[runs[-1].current] += 1
        features["token_embeddings"] = self.auto_model.get_input_embeddings()(features["input_ids"])
        return features

    monkeypatch.setattr(Transformer, "forward", forward)

    def start(path: str) -> MetaRun:
        runs.append(MetaRun(ROOT / path))
        return runs[-1]

    yield start
    torch.__future__.set_swap_module_params_on_conversion(swap)


def _all_on(module: torch.nn.Module, where: torch.device = META) -> set[str]:
    """Names of parameters and buffers that are not on `where`."""
    tensors = [*module.named_parameters(remove_duplicate=False), *module.named_buffers(remove_duplicate=False)]
    return {name for name, t in tensors if t.device != where}


def test_the_stand_in_catches_cpu_features_and_meta_catches_mixing(on_meta):
    from sentence_transformers import util

    import helpers

    model = helpers.build_encoder(helpers.setup(show=False).scale.base_model, "mean")
    assert model.device == META and not _all_on(model)
    with pytest.raises(DeviceMismatch):
        model(model.preprocess(["a sentence"]))  # preprocess returns CPU tensors; nothing moved them
    out = model(util.batch_to_device(model.preprocess(["a sentence"]), model.device))
    assert out["sentence_embedding"].device == META
    with pytest.raises(RuntimeError, match="device"):
        _ = out["sentence_embedding"] + torch.ones(out["sentence_embedding"].shape)  # a CPU tensor meets the model's
    assert _is_value_error(RuntimeError("Tensor.item() cannot be called on meta tensors"))
    assert not _is_value_error(RuntimeError("Tensor on device cpu is not on the expected device meta!"))
    assert not _is_value_error(TypeError("can't convert meta device type tensor to numpy. Use Tensor.cpu()"))


def test_03a_softmax_loss_on_preprocessed_features(on_meta):
    run = on_meta("exercises/solutions/03a_softmax_exercises.ipynb")
    for cell in ("33ec7f63", "c5e3749e", "0e55370b", "d0fc34e4", "62ea0c98", "d8ecfdb4", "8b3be664"):
        run.run(cell)
    assert not _all_on(run.ns["model"]) and not _all_on(run.ns["loss"])
    assert run.reached["d0fc34e4"] >= 2 and run.reached["8b3be664"] >= 2, run.reached  # the hand-called loss ran


def test_03d_mnrl_losses_called_by_hand(on_meta):
    run = on_meta("exercises/solutions/03d_mnrl_exercises.ipynb")
    for cell in ("0a09a009", "267f3fdf", "3d19d4ef"):
        run.run(cell)
    # The cell's dict stops at the first loss value it reads: call the other hand-written paths, to their loss.
    # (`cached` cannot run on meta: GradCache reads values to cut mini-batches before the model sees them; its
    # features come from the same `features()` as the other two.)
    for name in ("full", "accumulated"):
        run.ns[name]().backward()
    assert run.reached["3d19d4ef"] >= 2 + 2 + 4, run.reached  # full (2 columns) twice, accumulated (2 x 2)
    assert not _all_on(run.ns["model"])


def test_06_tied_tsdae_loss_stays_on_the_model_device(on_meta):
    run = on_meta("exercises/solutions/06_tsdae_exercises.ipynb")
    for cell in ("b8a8437b", "d1e10b3f", "1f948ba8", "da70af84"):
        run.run(cell)
    model, tied = run.ns["model"], run.ns["tied_loss"]
    # The tie replaces the encoder's parameters by the decoder's: they must all be where the model was.
    assert not _all_on(model), sorted(_all_on(model))[:5]
    assert not _all_on(tied) and not _all_on(run.ns["untied_loss"])
    shared = {id(p) for p in model.parameters()} & {id(p) for p in tied.decoder.parameters()}
    assert len(shared) > 50, "the loss is still tied after the move"
    for cell in ("b5ee4fcc", "1ffb637b"):
        run.run(cell)
    # The decoder's own forward needs values (the attention mask): each cell stops there, after the encoder ran.
    assert run.reached["b5ee4fcc"] >= 1 and run.reached["1ffb637b"] >= 1, run.reached


def test_06_notebook_reconstructs_by_hand_on_the_models_device(on_meta):
    """Notebook 06's by-hand decoder calls after training, with the loss where the trainer leaves it (on the
    model's device: `prepare_loss` moves it)."""
    from sentence_transformers import util
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss
    from torch import nn

    import helpers
    from helpers.mapping import denoising_pairs

    run = on_meta("notebooks/06_tsdae.ipynb")
    scale = helpers.setup(show=False).scale
    model = helpers.build_encoder(scale.base_model, "cls", max_seq_length=scale.max_seq_length)
    train_loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True).to("meta")  # what the trainer does
    assert not _all_on(model) and not _all_on(train_loss)
    sentences = ["a man is playing a guitar on the street", "two dogs run across a green field today",
                 "the woman slices an onion in the kitchen", "children are playing football in the park"]
    run.ns.update(torch=torch, nn=nn, util=util, model=model, train_loss=train_loss,
                  train_dataset=denoising_pairs(sentences, seed=0))
    run.run("06-recon-code")
    assert run.reached["06-recon-code"] >= 1, run.reached


def test_after_the_tie_model_device_names_the_decoders_device(on_meta):
    """Why exercise 06 moves its TSDAE losses with `.to(device)`, not `.to(model.device)`: after the tie the
    encoder's first parameter is the decoder's (loaded on the CPU), and `model.device` reports that one
    (sentence_transformers/base/model.py, `device`: the transformers model's device, i.e. its first parameter's)."""
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    import helpers

    model = helpers.build_encoder(helpers.setup(show=False).scale.base_model, "cls")
    assert model.device == META
    loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    assert model.device.type == "cpu" and _all_on(model)  # the trap: "the model's device" is now the CPU
    loss.to("meta")  # the course's device, named before the tie
    assert model.device == META and not _all_on(model) and not _all_on(loss)
