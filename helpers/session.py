"""`helpers.setup()`: the first cell of every notebook. Chooses the profile, quiets noise, seeds, prints a banner."""

from __future__ import annotations

import functools
import logging
import os
import warnings

from helpers.hub import go_offline, hub_status
from helpers.paths import output_dir
from helpers.profiles import Profile, resolve_profile

_active: Profile | None = None


def current_profile() -> Profile:
    """The profile chosen by `setup()` (resolved from the environment if setup was not called)."""
    global _active
    if _active is None:
        _active = resolve_profile()
    return _active


def silence_tqdm() -> None:
    """Turn every tqdm bar off, including Jupyter widget bars.

    TQDM_DISABLE is not enough: `tqdm.notebook.tqdm` passes `disable=False` explicitly (overriding the
    variable), so libraries using `tqdm.autonotebook` still draw widgets. Forcing the keyword in the base
    class covers every subclass.
    """
    import tqdm.std

    original = tqdm.std.tqdm.__init__
    if getattr(original, "course_silenced", False):
        return

    @functools.wraps(original)
    def init(self: tqdm.std.tqdm, *args: object, **kwargs: object) -> None:
        kwargs["disable"] = True
        original(self, *args, **kwargs)

    init.course_silenced = True  # type: ignore[attr-defined]
    tqdm.std.tqdm.__init__ = init  # type: ignore[method-assign]


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
        models += " -> substituted by all-MiniLM-L6-v2's encoder, so numbers differ from the book's"
    status = hub_status()
    hub = f"hub: {'online' if status.online else 'offline'} ({status.why})"
    return (
        f"[course] scale={scale.name} ({scale.description}) | source={profile.source} ({profile.reason}) | "
        f"{hub} | device={device_name()} (set {DEVICE_ENV} to change) | {models} | outputs: {output_dir()}"
    )


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
