"""`tools.bench`'s "Measured on" line names the device the notebooks ran on, not just the hardware present."""

from __future__ import annotations

import torch

from tools.bench import environment_line


def test_a_gpu_the_course_did_not_use_is_not_reported_as_the_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda gpu=0: "Stand-in GPU")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    line = environment_line()
    assert "cpu (GPU Stand-in GPU present, not used (COURSE_DEVICE=cpu))" in line, line
    monkeypatch.delenv("COURSE_DEVICE")
    line = environment_line()
    assert "cuda (Stand-in GPU)" in line and "not used" not in line, line


def test_no_gpu_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert ", no GPU;" in environment_line()
