"""One device decision: `helpers.device()`, overridable with COURSE_DEVICE, used by models, trainer and measure."""

from __future__ import annotations

import pytest
import torch

import helpers
from helpers.models import DEVICE_ENV, device
from helpers.profiles import CourseError
from helpers.training import measure, runtime_args


def test_device_follows_the_hardware_without_override(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert device() == expected


def test_cpu_override_is_honoured_and_the_trainer_follows(monkeypatch, sample_profile):
    monkeypatch.setenv(DEVICE_ENV, "CPU ")
    assert device() == "cpu"
    assert runtime_args(sample_profile, "x")["use_cpu"] is True
    model = helpers.load_sentence_model(sample_profile.scale.sentence_model)
    assert model.device.type == "cpu"
    assert helpers.build_encoder(sample_profile.scale.sentence_model).device.type == "cpu"


def test_unknown_device_names_the_choices(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(CourseError, match="cpu, cuda, mps"):
        device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_says_how_to_fix(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(CourseError, match=f"unset {DEVICE_ENV}"):
        device()


def test_banner_names_the_device_and_the_override(sample_profile, capsys):
    from helpers.session import banner

    line = banner(sample_profile)
    assert f"device={helpers.device_name()}" in line and DEVICE_ENV in line


def test_measure_labels_its_memory(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    with measure() as m:
        _ = bytearray(50 * 2**20)
    assert m.memory_kind == "rss" and m.peak_cuda_mb is None
    assert m.peak_mb == m.peak_rss_mb > 50 and m.memory_label == "peak host RSS"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_measure_reports_cuda_memory_on_a_gpu(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    with measure() as m:
        block = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda")
    del block
    assert m.memory_kind == "cuda" and m.peak_mb >= 64 and m.memory_label == "peak CUDA memory"


def test_encode_speed_is_the_best_of_the_timed_calls_after_a_warm_up(monkeypatch):
    import time

    from helpers.training import encode_speed

    monkeypatch.setenv(DEVICE_ENV, "cpu")
    calls: list[int] = []

    class Slow:
        def encode(self, sentences, batch_size, show_progress_bar):
            calls.append(len(sentences))
            time.sleep([0.3, 0.4, 0.1, 0.25][len(calls) - 1])  # warm-up, then three timed calls

    speed = encode_speed(Slow(), ["a"] * 40, batch_size=8)
    assert calls == [8, 40, 40, 40]
    assert 40 / 0.25 < speed <= 40 / 0.1  # the fastest timed call counts; the warm-up never does
    with pytest.raises(CourseError, match="at least one sentence"):
        encode_speed(Slow(), [], batch_size=8)
