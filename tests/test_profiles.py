from __future__ import annotations

import pytest

from helpers import profiles
from helpers.profiles import SCALES, CourseError, resolve_profile, sample_dir


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch):
    for env in ("COURSE_SCALE", "COURSE_SOURCE", "COURSE_DATA_DIR", "COURSE_SEEDS"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    profiles.hub_status.cache_clear()
    yield
    profiles.hub_status.cache_clear()


def test_offline_default_is_sample_at_tiny_and_says_why():
    profile = resolve_profile()
    assert (profile.source, profile.scale.name) == ("sample", "tiny")
    assert profile.data_dir == sample_dir()
    assert "HF_HUB_OFFLINE=1" in profile.reason and "COURSE_DATA_DIR is not set" in profile.reason


def test_offline_with_mirror_defaults_to_local_quick(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    profile = resolve_profile()
    assert (profile.source, profile.scale.name, profile.data_dir) == ("local", "quick", tmp_path.resolve())


def test_arguments_beat_environment(monkeypatch):
    monkeypatch.setenv("COURSE_SCALE", "full")
    assert resolve_profile(scale="Quick ").scale.name == "quick"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": "huge"}, "Unknown scale 'huge'. Choose one of tiny, quick, full"),
        ({"source": "s3"}, "Unknown source 's3'. Choose one of hub, local, sample"),
        ({"source": "hub"}, "cannot be reached (HF_HUB_OFFLINE=1)"),
        ({"source": "local"}, "COURSE_SOURCE=local needs COURSE_DATA_DIR"),
    ],
)
def test_bad_profiles_name_the_fix(kwargs, message):
    with pytest.raises(CourseError) as err:
        resolve_profile(**kwargs)
    assert message in str(err.value)


def test_missing_mirror_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(CourseError, match="is not a directory"):
        resolve_profile(source="local")


def test_scale_table_grows_monotonically():
    tiny, quick, full = SCALES["tiny"], SCALES["quick"], SCALES["full"]
    assert tiny.n_train < quick.n_train < full.n_train
    assert full.base_model == "bert-base-uncased"
    assert full.precision is None and full.dataloader_workers > 0  # chosen from the H200 measurements
    assert tiny.dataloader_workers == 0
    assert all(s.sentence_model == "sentence-transformers/all-MiniLM-L6-v2" for s in SCALES.values())


def test_with_scale_overrides_one_number():
    profile = resolve_profile().with_scale(batch_size=3)
    assert profile.scale.batch_size == 3 and profile.scale.name == "tiny"


def test_hub_check_answers_offline_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(profiles.urllib.request, "urlopen", no_network)
    assert profiles.hub_status() == profiles.HubStatus(False, "HF_HUB_OFFLINE=1")


def test_unreachable_hub_is_reported(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    def refused(*args, **kwargs):
        raise profiles.urllib.error.URLError("connection refused")

    monkeypatch.setattr(profiles.urllib.request, "urlopen", refused)
    status = profiles.hub_status()
    assert not status.online and "connection refused" in status.why


def test_quiet_switch_silences_progress_bars_at_every_scale(monkeypatch):
    monkeypatch.delenv("COURSE_QUIET", raising=False)
    assert resolve_profile("tiny").quiet and not resolve_profile("quick").quiet
    monkeypatch.setenv("COURSE_QUIET", "1")
    assert resolve_profile("quick").quiet and resolve_profile("full").quiet


def test_seeds_can_be_set_for_a_workshop_and_the_banner_says_so(monkeypatch):
    from helpers.session import banner

    monkeypatch.setenv("COURSE_SEEDS", "42")
    profile = resolve_profile(scale="quick", source="sample")
    assert profile.scale.seeds == (42,) and profile.scale.n_train == SCALES["quick"].n_train
    assert "seeds=42 (COURSE_SEEDS; the scale's own: 3)" in banner(profile)
    monkeypatch.setenv("COURSE_SEEDS", "7, 8")
    assert resolve_profile(scale="quick", source="sample").scale.seeds == (7, 8)
    monkeypatch.delenv("COURSE_SEEDS")
    assert resolve_profile(scale="quick", source="sample").scale.seeds == SCALES["quick"].seeds
    assert "seeds=" not in banner(resolve_profile(scale="quick", source="sample"))


@pytest.mark.parametrize("raw", ["forty-two", "42,42", ","])
def test_bad_seeds_name_the_fix(monkeypatch, raw):
    monkeypatch.setenv("COURSE_SEEDS", raw)
    with pytest.raises(CourseError, match="COURSE_SEEDS=42"):
        resolve_profile(scale="quick", source="sample")
