"""Process memory for before/after comparisons: the current resident set size, and a clean starting point.

`helpers.measure()` reports a block's peak RSS. Comparing two runs in one process is only fair if memory that
an earlier run freed has really been given back to the operating system: glibc's allocator keeps freed heap
pages, so the next run can grow into them without its RSS growing. `release_memory()` collects garbage and
asks glibc to return free pages (`malloc_trim`, Linux only; elsewhere it only collects garbage).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys


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
