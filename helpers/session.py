"""`helpers.setup()`: the first cell of every notebook. Chooses the profile, quiets noise, seeds, prints a banner."""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from helpers.profiles import SCALES, SEEDS_ENV, Profile, go_offline, hub_status, output_dir, resolve_profile

_active: Profile | None = None


def current_profile() -> Profile:
    """The profile chosen by `setup()` (resolved from the environment if setup was not called)."""
    global _active
    if _active is None:
        _active = resolve_profile()
    return _active


def _bars_forced_off(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def init(self: object, *args: object, **kwargs: object) -> None:
        kwargs["disable"] = True
        original(self, *args, **kwargs)

    init.course_silenced = True  # type: ignore[attr-defined]
    return init


def silence_tqdm() -> None:
    """Turn every tqdm bar off for the rest of the process, including Jupyter widget bars.

    TQDM_DISABLE is not enough: it is read once, when tqdm is first imported, and `tqdm.notebook.tqdm` passes
    `disable=False` explicitly (overriding it), so libraries using `tqdm.autonotebook` still draw widgets.
    Forcing the keyword in the base class covers every subclass.
    """
    import tqdm.std

    if not getattr(tqdm.std.tqdm.__init__, "course_silenced", False):
        tqdm.std.tqdm.__init__ = _bars_forced_off(tqdm.std.tqdm.__init__)  # type: ignore[method-assign]


@contextmanager
def quiet_progress_bars(active: bool = True) -> Iterator[None]:
    """While active, every tqdm bar is off (as `silence_tqdm` does for the whole process); restored afterwards.

    For calls that always draw bars, e.g. `sentence_transformers.util.mine_hard_negatives` (it hard-codes
    `show_progress_bar=True`): `with quiet_progress_bars(profile.quiet): ...`.
    """
    if not active:
        yield
        return
    import tqdm.std

    original = tqdm.std.tqdm.__dict__["__init__"]  # restored as it was (tqdm may store a partialmethod here)
    if not getattr(tqdm.std.tqdm.__init__, "course_silenced", False):
        tqdm.std.tqdm.__init__ = _bars_forced_off(tqdm.std.tqdm.__init__)  # type: ignore[method-assign]
    try:
        yield
    finally:
        tqdm.std.tqdm.__init__ = original  # type: ignore[method-assign]


def quiet_libraries(progress_bars: bool) -> None:
    """Keep notebook output to what teaches: no load bars, no library chatter, no telemetry."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if not progress_bars:
        os.environ["TQDM_DISABLE"] = "1"  # for tqdm imported later (it reads the variable once, on import)
        silence_tqdm()
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # "Loading weights" bars
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    for name in ("sentence_transformers", "mteb", "httpx", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Known, harmless warnings from inside third-party code (not from course code):
    warnings.filterwarnings("ignore", message=r".*`resume_download` is deprecated", category=FutureWarning)


def banner(profile: Profile) -> str:
    from helpers.models import DEVICE_ENV, FOLDER_ORIGINS, ResolvedModel, device_name, resolve_model

    def where(resolved: ResolvedModel) -> str:  # a folder is named: which one was used matters
        return f"{resolved.origin} {resolved.location}" if resolved.origin in FOLDER_ORIGINS else resolved.origin

    scale = profile.scale
    base = resolve_model(scale.base_model)
    sent = resolve_model(scale.sentence_model)
    models = f"models: {scale.sentence_model} ({where(sent)}), base {scale.base_model} ({where(base)})"
    if base.substituted:
        models += (" -> substituted by all-MiniLM-L6-v2's encoder (its model card: already trained on over 1B pairs, "
                   "AllNLI among them, batch 1024, lr 2e-5), so numbers differ from the book's")
    status = hub_status()
    hub = f"hub: {'online' if status.online else 'offline'} ({status.why})"
    seeds = ""
    if scale.seeds != SCALES[scale.name].seeds:
        own = len(SCALES[scale.name].seeds)
        seeds = f"seeds={','.join(map(str, scale.seeds))} ({SEEDS_ENV}; the scale's own: {own}) | "
    return (
        f"[course] scale={scale.name} ({scale.description}) | {seeds}source={profile.source} ({profile.reason}) | "
        f"{hub} | device={device_name()} (set {DEVICE_ENV} to change){gpu_note()} | {models} | outputs: {output_dir()}"
    )


def gpu_note() -> str:
    """What the banner says when more than one CUDA GPU is visible (empty otherwise).

    transformers' `Trainer` wraps the model in `torch.nn.DataParallel` over every visible GPU when it sees more than
    one (`args.n_gpu > 1`), so the batch is split and the timings are not one GPU's.
    """
    import torch

    from helpers.models import device

    count = torch.cuda.device_count() if device() == "cuda" else 0
    if count < 2:
        return ""
    return (f" [{count} GPUs visible: the trainer splits each batch over all of them (DataParallel) and "
            "helpers.measure adds up their memory; CUDA_VISIBLE_DEVICES=0 keeps the course on one GPU, "
            "scripts/train_ddp.py scales out]")


def setup(scale: str | None = None, source: str | None = None, seed: int = 42, show: bool = True) -> Profile:
    """Choose scale and source, go offline if the hub is unreachable, seed everything, print one banner."""
    global _active
    profile = resolve_profile(scale, source, seed)
    if not profile.hub_online:
        go_offline()
    quiet_libraries(progress_bars=not profile.quiet)
    from helpers.training import seed_everything

    seed_everything(seed)
    _active = profile
    if show:
        print(banner(profile))
    return profile
