from __future__ import annotations

import json

import pytest

import helpers
from helpers.data import COURSE_SPLITS
from helpers.profiles import CourseError, sample_dir

REQUIRED_SAMPLES = [s for s in COURSE_SPLITS]


@pytest.mark.parametrize("split", REQUIRED_SAMPLES, ids=str)
def test_samples_ship_every_course_split(split):
    assert (sample_dir() / split.relpath()).is_file()


def _rows(relpath):
    return [json.loads(line) for line in (sample_dir() / relpath).read_text(encoding="utf-8").splitlines()]


def test_sample_nli_has_all_three_labels_and_enough_rows():
    rows = _rows("nyu-mll/glue/mnli/train.jsonl") + _rows("nyu-mll/glue/mnli/validation_matched.jsonl")
    assert len(rows) >= 300 and {r["label"] for r in rows} == {0, 1, 2}
    assert list(rows[0]) == ["premise", "hypothesis", "label", "idx"]


def test_sample_sts_is_graded_and_aligned():
    pairs = 0
    for split, mt in [("train", "train"), ("validation", "dev"), ("test", "test")]:
        st = _rows(f"sentence-transformers/stsb/{split}.jsonl")
        en = _rows(f"PhilipMay/stsb_multi_mt/en/{mt}.jsonl")
        it = _rows(f"PhilipMay/stsb_multi_mt/it/{mt}.jsonl")
        assert len(st) == len(en) == len(it)
        for a, b, c in zip(st, en, it):
            assert (a["sentence1"], a["sentence2"]) == (b["sentence1"], b["sentence2"])
            assert abs(a["score"] * 5 - b["similarity_score"]) < 1e-3 and c["similarity_score"] == b["similarity_score"]
        gold = [r["similarity_score"] for r in en]
        assert min(gold) < 1 and max(gold) > 4  # every split covers the scale
        pairs += len(st)
    assert pairs >= 200


def test_load_sts_scales_other_languages_to_unit_interval(sample_profile):
    it = helpers.load_sts("validation", lang="it", n=0)
    en = helpers.load_sts("validation", n=0)
    assert it.column_names == en.column_names == ["sentence1", "sentence2", "score"]
    assert list(it["score"]) == pytest.approx(list(en["score"]), abs=1e-3)


def test_subset_is_seeded_and_sized(sample_profile):
    ds = helpers.load_data("nyu-mll/glue", "mnli", "train")
    a, b = helpers.subset(ds, 10, seed=1), helpers.subset(ds, 10, seed=1)
    assert len(a) == 10 and list(a["idx"]) == list(b["idx"])
    assert len(helpers.subset(ds, 0)) == len(ds)


def test_missing_split_names_the_fix(sample_profile):
    with pytest.raises(CourseError) as err:
        helpers.load_data("nyu-mll/glue", "mnli", "validation_mismatched")
    assert "splits there: train, validation_matched" in str(err.value)


def test_local_mirror_layout_and_stand_in(monkeypatch, tmp_path, capsys):
    mnli = tmp_path / "nyu-mll" / "glue" / "mnli"
    mnli.mkdir(parents=True)
    (mnli / "validation_matched.jsonl").write_text(
        json.dumps({"premise": "p", "hypothesis": "h", "label": 0, "idx": 0}) + "\n"
    )
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    profile = helpers.setup("tiny", "local", show=False)
    ds = helpers.load_data("nyu-mll/glue", "mnli", "train", profile)
    assert len(ds) == 1 and "no MNLI train split" in capsys.readouterr().out
    with pytest.raises(CourseError, match="python -m helpers download"):
        helpers.load_data("sentence-transformers/stsb", None, "test", profile)


def test_a_profile_without_a_data_folder_is_a_clear_error(sample_profile):
    from dataclasses import replace

    with pytest.raises(CourseError, match="has no data folder"):
        helpers.load_data("sentence-transformers/stsb", None, "test", replace(sample_profile, data_dir=None))
