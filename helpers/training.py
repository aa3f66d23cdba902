"""Training plumbing: seeds, device and precision, run-time trainer arguments, a loss-history callback."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from helpers.models import device
from helpers.profiles import CourseError, out

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from helpers.profiles import Profile


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) so a rerun gives the same numbers."""
    from transformers import set_seed

    set_seed(seed)


def precision_args(want: str | None, strict: bool = False) -> dict[str, bool]:
    """Trainer flags for mixed precision, only where the hardware supports it.

    fp16 needs a CUDA GPU; bf16 a GPU that supports it. Elsewhere: fp32 with a message, or with
    `strict=True` an error that says what is missing.
    """
    import torch

    if want in (None, "fp32"):
        return {}
    if want not in ("fp16", "bf16"):
        raise CourseError(f"Unknown precision {want!r}: use 'fp16', 'bf16' or None.")
    cuda = device() == "cuda"
    ok = cuda and (want == "fp16" or torch.cuda.is_bf16_supported())
    if ok:
        return {want: True}
    if not cuda:
        why = f"the course runs on {device()}, not a CUDA GPU"
    else:
        why = f"this GPU ({torch.cuda.get_device_name(0)}) has no {want}"
    if strict:
        raise CourseError(f"{want} training was asked for, but {why}. Fix: run on a GPU, or use precision=None.")
    print(f"[course] {want} asked for, but {why}: training in fp32.")
    return {}


def runtime_args(profile: Profile, run_name: str) -> dict[str, Any]:
    """The trainer arguments that depend on the machine and profile rather than on the method being taught.

    The trainer places the model itself: on `helpers.device()` (`use_cpu=True` when that is the CPU, also on a
    machine with a GPU). On CUDA, `scale.dataloader_workers` processes prepare batches while the GPU trains.
    """
    args: dict[str, Any] = {
        "output_dir": str(out("checkpoints", run_name)),
        "run_name": run_name,
        "report_to": "none",
        "seed": profile.seed,
        "data_seed": profile.seed,
        "disable_tqdm": profile.quiet,
        "save_strategy": "no",  # notebooks save the final model themselves, where they say
    }
    if device() == "cpu":
        args["use_cpu"] = True
    elif device() == "cuda" and profile.scale.dataloader_workers:
        args["dataloader_num_workers"] = profile.scale.dataloader_workers
    args.update(precision_args(profile.scale.precision))
    return args


class LossHistory(TrainerCallback):
    """Keeps every logged training loss (and evaluation metrics) so a notebook can plot the curve."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.evals: list[tuple[int, dict[str, float]]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.steps.append(state.global_step)
            self.losses.append(float(logs["loss"]))
        metrics = {k: float(v) for k, v in logs.items() if k.startswith("eval_") and isinstance(v, (int, float))}
        if metrics:
            self.evals.append((state.global_step, metrics))

    def plot(self, ax: Axes | None = None, label: str = "training loss") -> Axes:
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(self.steps, self.losses, marker="." if len(self.steps) < 40 else None, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend()
        return ax


def encode_speed(model: Any, sentences: list[str], batch_size: int, repeats: int = 3) -> float:
    """Encoding throughput in sentences/s: best of `repeats` timed `encode` calls after a warm-up call (the
    first call pays for memory allocation and kernel selection). Timed with `measure()`, which waits for the GPU."""
    if not sentences:
        raise CourseError("encode_speed() needs at least one sentence to encode.")
    model.encode(sentences[:batch_size], batch_size=batch_size, show_progress_bar=False)
    best = float("inf")
    for _ in range(repeats):
        with measure() as m:
            model.encode(sentences, batch_size=batch_size, show_progress_bar=False)
        best = min(best, m.seconds)
    return len(sentences) / best


@dataclass
class Measurement:
    """Wall time and peak memory of one block. On CUDA the memory that matters is the GPU's, elsewhere the host's."""

    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # the process's resident set size on the host
    # CUDA memory the block itself added at its peak: torch.cuda.max_memory_allocated minus what was allocated when
    # the block began (other models still on the GPU), summed over the visible GPUs. None when the course is not on
    # CUDA, or when the block allocated nothing there (its work ran on the host).
    peak_cuda_mb: float | None = None
    cuda_start_mb: float | None = None  # CUDA memory already allocated when the block began (on CUDA only)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def memory_kind(self) -> str:
        """"cuda" (GPU memory allocated by torch in the block) or "rss" (host memory of the process)."""
        return "cuda" if self.peak_cuda_mb is not None else "rss"

    @property
    def peak_mb(self) -> float:
        """The peak that matters where the block ran: its CUDA memory on a GPU, host RSS otherwise."""
        return self.peak_cuda_mb if self.peak_cuda_mb is not None else self.peak_rss_mb

    @property
    def memory_label(self) -> str:
        return MEMORY_LABELS[self.memory_kind]


MEMORY_LABELS = {"cuda": "peak CUDA memory", "rss": "peak host RSS"}


def process_tree_rss(pid: int | None = None) -> int:
    """Resident memory of a process and all its children, in bytes (this process by default; 0 once it is gone)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
    except psutil.Error:
        return 0


@contextmanager
def peak_sampler(read: Callable[[], int], poll_seconds: float = 0.05) -> Iterator[list[int]]:
    """Samples `read()` in a thread while the block runs; yields a one-item list that holds the peak at the end."""
    peak = [read()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], read())
            stop.wait(poll_seconds)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        peak[0] = max(peak[0], read())


# The running CUDA peak (bytes per GPU) of every measure() block still open. torch's peak counter is global, so a
# block that resets it first folds the peak so far into each enclosing block: nested measure() calls stay correct.
_open_cuda_peaks: list[dict[int, int]] = []


def _visible_gpus(torch: Any) -> list[int]:
    """The GPUs a block's memory is read from: every visible one (the trainer spreads over all of them with
    DataParallel), or only this process's own in a distributed run (each rank measures itself)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return [torch.cuda.current_device()]
    return list(range(torch.cuda.device_count()))


def _fold_cuda_peaks(torch: Any, gpus: list[int]) -> None:
    for running in _open_cuda_peaks:
        for gpu in gpus:
            if gpu in running:  # a block reads the GPUs it started with
                running[gpu] = max(running[gpu], torch.cuda.max_memory_allocated(gpu))


@contextmanager
def measure(poll_seconds: float = 0.05) -> Iterator[Measurement]:
    """Wall time and peak memory of a block; safe to nest.

    On CUDA (`helpers.device() == "cuda"`): the peak of `torch.cuda.max_memory_allocated()` over the block, after
    a synchronize, *above* what was allocated when the block began (models loaded earlier are not counted; that
    base is `cuda_start_mb`), summed over every visible GPU. A block that allocated nothing on the GPU ran on the
    host (e.g. a model moved to the CPU): its memory is then labelled as host RSS. Always: the process RSS (with
    its children), sampled in a thread.
    """
    import torch

    on_cuda = device() == "cuda"
    result = Measurement()
    gpus = _visible_gpus(torch) if on_cuda else []
    start: dict[int, int] = {}
    running: dict[int, int] = {}
    if on_cuda:
        torch.cuda.synchronize()
        _fold_cuda_peaks(torch, gpus)  # before the reset below wipes the enclosing blocks' peak
        start = {gpu: torch.cuda.memory_allocated(gpu) for gpu in gpus}
        for gpu in gpus:
            torch.cuda.reset_peak_memory_stats(gpu)
        running = dict(start)
        _open_cuda_peaks.append(running)
    try:
        with peak_sampler(process_tree_rss, poll_seconds) as peak:
            begin = time.perf_counter()
            try:
                yield result
            finally:
                if on_cuda:
                    torch.cuda.synchronize()  # GPU work is asynchronous: wait for it before reading the clock
                result.seconds = time.perf_counter() - begin
    finally:
        if on_cuda:
            _fold_cuda_peaks(torch, gpus)
            del _open_cuda_peaks[next(i for i, r in enumerate(_open_cuda_peaks) if r is running)]
    result.peak_rss_mb = peak[0] / 2**20
    if on_cuda:
        result.cuda_start_mb = sum(start.values()) / 2**20
        added = sum(max(0, running[gpu] - start[gpu]) for gpu in gpus)
        if added > 0:
            result.peak_cuda_mb = added / 2**20


# -------- Process memory --------------------------------------------------------------------------------------
# Process memory for before/after comparisons: the current resident set size, and a clean starting point.
#
# `helpers.measure()` reports a block's peak RSS. Comparing two runs in one process is only fair if memory that
# an earlier run freed has really been given back to the operating system: glibc's allocator keeps freed heap
# pages, so the next run can grow into them without its RSS growing. `release_memory()` collects garbage and
# asks glibc to return free pages (`malloc_trim`, Linux only; elsewhere it only collects garbage).

def rss_mb() -> float:
    """Resident set size of this process, in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def release_memory() -> bool:
    """Collect garbage and give free heap pages back to the OS; True if `malloc_trim` was available and ran."""
    gc.collect()
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl has no malloc_trim)
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True
