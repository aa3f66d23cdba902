"""helpers.training: current RSS, and giving freed memory back before a measured run."""

from __future__ import annotations

import sys

import pytest

from helpers.training import release_memory, rss_mb


def test_rss_is_a_plausible_number_of_mib():
    assert 10 < rss_mb() < 1_000_000


def test_release_memory_runs_and_reports_trim():
    done = release_memory()
    assert isinstance(done, bool)
    if sys.platform.startswith("linux") and "musl" not in sys.version.lower():
        assert done  # glibc Linux: malloc_trim exists


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc-only")
def test_release_memory_returns_freed_small_blocks():
    # Many small blocks live on the heap (not mmap): after freeing them, RSS only drops once they are trimmed.
    blocks = [bytearray(2048) for _ in range(100_000)]  # ~200 MiB in heap-sized chunks
    for block in blocks:
        block[0] = 1
    grown = rss_mb()
    del blocks, block
    release_memory()
    assert rss_mb() < grown - 100
