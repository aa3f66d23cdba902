"""Run notebooks headless in a fresh kernel and say how each run ended: what `run` and `bench` share.

Self-contained on purpose (no other course module is imported): maintainer tools can move out of `helpers/`
and take this file with them. Every run ends with a status, whatever happened:

* `ok`: every cell ran;
* `FAILED`: a cell raised (its traceback is in the executed copy, as in Jupyter);
* `TIMEOUT`: a cell ran longer than the per-cell limit;
* `KERNEL DIED`: the kernel process ended (out of memory and killed, a crash, `os._exit`);
* `ERROR`: the run could not start or stopped for another reason (the message says which).

The notebook object keeps the outputs of every cell that ran, so the caller can always write the executed copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OK, FAILED, TIMEOUT, KERNEL_DIED, ERROR = "ok", "FAILED", "TIMEOUT", "KERNEL DIED", "ERROR"


@dataclass
class Outcome:
    """How one notebook run ended."""

    status: str  # one of OK, FAILED, TIMEOUT, KERNEL_DIED, ERROR
    minutes: float
    detail: str = ""  # the error's message (the end of a traceback), empty when ok

    @property
    def ok(self) -> bool:
        return self.status == OK


def notebooks_in(folder: Path, only: list[str]) -> list[Path]:
    """The notebooks of a folder in name order (not `_*`), or those whose names start with one of `only`."""
    books = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("_"))
    if only:
        books = [p for p in books if any(p.name.startswith(o) or p.stem == o for o in only)]
    return books


def execute(nb: object, folder: Path, timeout: int, on_start: Callable[[object], None] | None = None) -> None:
    """Run a notebook in a fresh kernel: over IPC sockets in a temporary folder where the OS has them
    (no network port, no plain-TCP warning, nothing left in the working directory). Raises what nbclient raises;
    `run_notebook` turns that into a status."""
    from jupyter_client import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    sockets = Path(tempfile.mkdtemp(prefix="course-kernel-"))
    ipc = {"transport": "ipc", "ip": str(sockets / "kernel")} if os.name == "posix" else {}
    # The asynchronous manager, not the blocking one: with a blocking client, nbclient waits for output in a call
    # that never returns when the kernel dies (killed for memory, os._exit), and its liveness check never runs.
    km = AsyncKernelManager(kernel_name="python3", **ipc)
    try:
        run_sync(km.start_kernel)(cwd=str(folder))
        if on_start is not None:
            on_start(km)
        NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        try:
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        finally:
            shutil.rmtree(sockets, ignore_errors=True)


def classify(err: BaseException) -> tuple[str, str]:
    """(status, detail) for an exception raised while a notebook ran."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(err, CellTimeoutError):
        return TIMEOUT, str(err).strip().splitlines()[0] if str(err).strip() else "a cell timed out"
    if isinstance(err, DeadKernelError):
        return KERNEL_DIED, "the kernel process died (out of memory and killed? a crash?)"
    if isinstance(err, CellExecutionError):
        return FAILED, f"{err.ename}: {err.evalue}"
    return ERROR, f"{type(err).__name__}: {err}"


def run_notebook(
    nb: Any, folder: Path, timeout: int, on_start: Callable[[object], None] | None = None
) -> Outcome:
    """Execute `nb` (an nbformat notebook, filled in place) and return how it ended; never raises for what a
    notebook can do (a failing cell, a timeout, a dead kernel). KeyboardInterrupt still stops the caller."""
    start = time.perf_counter()
    status, detail = OK, ""
    try:
        execute(nb, folder, timeout, on_start=on_start)
    except Exception as err:  # every way a notebook run can end badly is reported, not raised
        status, detail = classify(err)
    minutes = (time.perf_counter() - start) / 60
    nb.metadata["course_run"] = {"status": status, "minutes": round(minutes, 2), "detail": detail[-2000:]}
    return Outcome(status, minutes, detail)
