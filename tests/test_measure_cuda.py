"""`helpers.measure()` on CUDA, with a stand-in for torch's CUDA memory counters (CI has no GPU).

The stand-in keeps what torch keeps: per GPU, the bytes allocated now and the peak since the last
`reset_peak_memory_stats`, which is global to the process (not per `measure()` block).
"""

from __future__ import annotations

import pytest
import torch

import helpers.training
from helpers.training import measure

MB = 2**20


class FakeCuda:
    def __init__(self, gpus: int = 1) -> None:
        self.now = [0] * gpus
        self.peak = [0] * gpus

    def alloc(self, mb: float, gpu: int = 0) -> None:
        self.now[gpu] += int(mb * MB)
        self.peak[gpu] = max(self.peak[gpu], self.now[gpu])

    def free(self, mb: float, gpu: int = 0) -> None:
        self.now[gpu] -= int(mb * MB)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeCuda:
        def index(gpu=None) -> int:
            return 0 if gpu is None else int(gpu)

        def reset(gpu=None) -> None:
            self.peak[index(gpu)] = self.now[index(gpu)]

        monkeypatch.setattr(helpers.training, "device", lambda: "cuda")
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: len(self.now))
        monkeypatch.setattr(torch.cuda, "synchronize", lambda gpu=None: None)
        monkeypatch.setattr(torch.cuda, "memory_allocated", lambda gpu=None: self.now[index(gpu)])
        monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda gpu=None: self.peak[index(gpu)])
        monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
        return self


def test_peak_is_above_the_start_and_nesting_keeps_the_outer_peak(monkeypatch):
    cuda = FakeCuda().install(monkeypatch)
    cuda.alloc(500)  # another model still on the GPU: not this block's memory
    with measure(poll_seconds=1) as outer:
        cuda.alloc(300)
        cuda.free(300)
        with measure(poll_seconds=1) as inner:  # resets torch's global peak counter
            cuda.alloc(100)
            cuda.free(100)
        cuda.alloc(20)
    assert inner.memory_kind == "cuda" and inner.peak_mb == pytest.approx(100)
    assert inner.cuda_start_mb == pytest.approx(500)
    assert outer.memory_kind == "cuda" and outer.peak_mb == pytest.approx(300), outer.peak_mb
    assert outer.cuda_start_mb == pytest.approx(500) and outer.memory_label == "peak CUDA memory"


def test_a_block_that_uses_no_gpu_memory_is_labelled_host_memory(monkeypatch):
    cuda = FakeCuda().install(monkeypatch)
    cuda.alloc(800)  # models on the GPU, but the block's work runs on the CPU (notebook 10, a model moved there)
    with measure(poll_seconds=1) as m:
        _ = bytearray(20 * MB)
    assert m.peak_cuda_mb is None and m.memory_kind == "rss" and m.peak_mb == m.peak_rss_mb
    assert m.memory_label == "peak host RSS" and m.cuda_start_mb == pytest.approx(800)


def test_every_visible_gpu_counts(monkeypatch):
    cuda = FakeCuda(gpus=2).install(monkeypatch)
    with measure(poll_seconds=1) as m:
        cuda.alloc(60, gpu=0)
        cuda.alloc(40, gpu=1)  # DataParallel's replica on the second GPU
    assert m.peak_mb == pytest.approx(100)


def test_an_error_inside_closes_the_block(monkeypatch):
    cuda = FakeCuda().install(monkeypatch)
    with pytest.raises(ValueError), measure(poll_seconds=1):
        cuda.alloc(10)
        raise ValueError("boom")
    assert helpers.training._open_cuda_peaks == []


def test_the_banner_says_when_several_gpus_are_visible(monkeypatch, sample_profile):
    import helpers.models
    from helpers.session import banner, gpu_note

    monkeypatch.setattr(helpers.models, "device", lambda: "cuda")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda gpu=0: "Stand-in GPU")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert gpu_note() == "" and "GPUs visible" not in banner(sample_profile)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    line = banner(sample_profile)
    assert "device=cuda (Stand-in GPU)" in line and "2 GPUs visible" in line and "DataParallel" in line
    assert "CUDA_VISIBLE_DEVICES=0" in line


def test_a_distributed_rank_reads_only_its_own_gpu(monkeypatch):
    cuda = FakeCuda(gpus=2).install(monkeypatch)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    with measure(poll_seconds=1) as m:
        cuda.alloc(60, gpu=0)  # not this rank's GPU
        cuda.alloc(40, gpu=1)
    assert m.peak_mb == pytest.approx(40)
