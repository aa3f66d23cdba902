"""Unit-test isolation: every test starts from the same process-wide state and leaves none behind.

`helpers.setup()` is written for notebooks: it sets the active profile, may set HF_HUB_OFFLINE and TQDM_DISABLE in
`os.environ`, flips huggingface_hub's offline constant and caches the hub check. Here each test gets a fresh
session, its own output folder (never the repository's `outputs/`), and the environment exactly as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import huggingface_hub.constants as hf_constants

    from helpers import data, profiles, session

    saved = dict(os.environ)
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "course-outputs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # tests never touch the network (a test may unset it)
    monkeypatch.setattr(session, "_active", None)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", hf_constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(profiles, "_said", set())  # say-once messages are said again in each test
    monkeypatch.setattr(data, "_verified", {})
    profiles.hub_status.cache_clear()
    yield
    profiles.hub_status.cache_clear()
    for key in set(os.environ) - set(saved):  # what the test (or helpers.setup inside it) added
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
