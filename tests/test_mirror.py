"""A local mirror's integrity: atomic downloads, MANIFEST.json, and errors that name the damaged file and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import helpers
from helpers import cli, data
from helpers.data import COURSE_SPLITS, MANIFEST_NAME, DatasetSplit
from helpers.profiles import CourseError, sample_dir

STSB_TEST = DatasetSplit("sentence-transformers/stsb", None, "test")


@pytest.fixture
def fake_hub(monkeypatch):
    """`datasets.load_dataset` answering every course split with three rows (no network)."""
    import datasets

    calls: list[str] = []

    def load_dataset(hub_id, config=None, split=None, **kwargs):
        calls.append(DatasetSplit(hub_id, config, split).key)
        rows = [{"sentence1": f"a {i}", "sentence2": f"b {i}", "score": i / 3} for i in range(3)]
        return datasets.Dataset.from_list(rows)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def _mirror(tmp_path: Path) -> Path:
    """A copy of the shipped samples, with their manifest: a complete local mirror."""
    root = tmp_path / "mirror"
    shutil.copytree(sample_dir(), root)
    return root


def _local(monkeypatch, root: Path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(root))
    return helpers.setup("tiny", "local", show=False)


def test_sample_manifest_matches_the_shipped_files():
    recorded = data.read_manifest(sample_dir())
    assert recorded == data.manifest_for(sample_dir())
    assert {s.relpath().as_posix() for s in COURSE_SPLITS} <= set(recorded)
    assert cli.main(["manifest", str(sample_dir()), "--check"]) == 0


def test_download_writes_atomically_and_records_a_manifest(fake_hub, tmp_path, capsys):
    assert cli.main(["download", "--to", str(tmp_path), "--split", STSB_TEST.key]) == 0
    path = tmp_path / STSB_TEST.relpath()
    manifest = data.read_manifest(tmp_path)
    assert manifest == {STSB_TEST.relpath().as_posix(): data.file_facts(path)} and manifest[
        STSB_TEST.relpath().as_posix()]["rows"] == 3
    assert not list(path.parent.glob(".*.tmp"))
    assert cli.main(["download", "--to", str(tmp_path), "--split", STSB_TEST.key]) == 0
    assert fake_hub == [STSB_TEST.key] and "have sentence-transformers/stsb [test]" in capsys.readouterr().out


def test_an_interrupted_download_leaves_no_file_and_is_redone(fake_hub, monkeypatch, tmp_path, capsys):
    import datasets

    real_to_json = datasets.Dataset.to_json

    def interrupted(self, path, **kwargs):
        Path(path).write_text('{"sentence1": "a 0", "sentence2": "b 0", "score": 0.0}\n{"sentence1": "a')
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets.Dataset, "to_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["download", "--to", str(tmp_path), "--split", STSB_TEST.key])
    path = tmp_path / STSB_TEST.relpath()
    assert not path.exists() and not list(path.parent.glob(".*.tmp"))
    assert data.read_manifest(tmp_path) == {}
    # a truncated file left by an older download (no manifest entry) is not taken as present
    path.write_text('{"sentence1": "a 0", "sentence2": "b 0", "score": 0.0}\n')
    monkeypatch.setattr(datasets.Dataset, "to_json", real_to_json)
    assert cli.main(["download", "--to", str(tmp_path), "--split", STSB_TEST.key]) == 0
    assert "is not in" in capsys.readouterr().out and data.file_facts(path)["rows"] == 3


def test_download_rejects_an_unknown_split(tmp_path, capsys):
    assert cli.main(["download", "--to", str(tmp_path), "--split", "nyu-mll/glue/mnli/nonsense"]) == 2
    assert "unknown split nyu-mll/glue/mnli/nonsense" in capsys.readouterr().err


def test_truncated_file_is_named_with_its_line_and_the_fix(monkeypatch, tmp_path, capsys):
    root = _mirror(tmp_path)
    path = root / STSB_TEST.relpath()
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # cut inside a line, as an interrupted copy would
    profile = _local(monkeypatch, root)
    with pytest.raises(CourseError) as err:
        helpers.load_sts("test", profile=profile)
    message = str(err.value)
    line = text[: len(text) // 2].count("\n") + 1
    assert f"{path} is damaged: line {line}: unparsable JSON" in message and "cut off" in message
    assert f"python -m helpers download --to {root} --force --split sentence-transformers/stsb/test" in message
    assert cli.main(["doctor", "--source", "local"]) == 1
    report = capsys.readouterr().out
    assert f"data sentence-transformers/stsb [test]: DAMAGED {path}: line {line}" in report
    assert f"fix: python -m helpers download --to {root} --force --split sentence-transformers/stsb/test" in report
    assert "data sentence-transformers/stsb [validation]: ok" in report


def test_rows_cut_at_a_line_boundary_are_caught_by_the_manifest(monkeypatch, tmp_path):
    root = _mirror(tmp_path)
    path = root / STSB_TEST.relpath()
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-5]))  # parses fine: only the manifest can tell
    with pytest.raises(CourseError, match=rf"{len(lines) - 5} rows, but the manifest \(MANIFEST.json\) says "
                                          rf"{len(lines)}"):
        helpers.load_data("sentence-transformers/stsb", None, "test", _local(monkeypatch, root))


def test_a_changed_file_fails_its_checksum(monkeypatch, tmp_path):
    root = _mirror(tmp_path)
    path = root / STSB_TEST.relpath()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["score"] = 0.123
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(CourseError, match=r"SHA-256 .* differs from the manifest"):
        helpers.load_data("sentence-transformers/stsb", None, "test", _local(monkeypatch, root))


def test_a_mirror_without_manifest_loads_and_still_finds_bad_lines(monkeypatch, tmp_path):
    root = _mirror(tmp_path)
    (root / MANIFEST_NAME).unlink()
    profile = _local(monkeypatch, root)
    assert len(helpers.load_sts("test", n=0, profile=profile)) == 60
    path = root / "mteb" / "banking77" / "test.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[6] = "[1, 2]\n"
    path.write_text("".join(lines))
    with pytest.raises(CourseError, match=r"line 7: a JSON list, not an object"):
        helpers.load_data("mteb/banking77", None, "test", profile)


def test_a_damaged_manifest_is_named(monkeypatch, tmp_path):
    root = _mirror(tmp_path)
    (root / MANIFEST_NAME).write_text("{")
    with pytest.raises(CourseError, match=rf"{MANIFEST_NAME} is damaged .*python -m helpers manifest"):
        helpers.load_data("sentence-transformers/stsb", None, "test", _local(monkeypatch, root))


def test_a_damaged_sample_file_says_how_to_restore_it(monkeypatch, tmp_path, sample_profile):
    from dataclasses import replace

    root = _mirror(tmp_path)
    (root / STSB_TEST.relpath()).write_text("nonsense\n")
    monkeypatch.setattr("helpers.profiles.sample_dir", lambda: root)
    with pytest.raises(CourseError, match=r"sample data shipped with the course is damaged: restore it"):
        helpers.load_data("sentence-transformers/stsb", None, "test", replace(sample_profile, data_dir=root))


def test_manifest_command_refuses_damaged_files(tmp_path, capsys):
    root = _mirror(tmp_path)
    (root / MANIFEST_NAME).unlink()
    (root / STSB_TEST.relpath()).write_text('{"a": 1}\n{"a": \n')
    assert cli.main(["manifest", str(root)]) == 1
    assert "line 2: unparsable JSON" in capsys.readouterr().out and not (root / MANIFEST_NAME).exists()


def test_an_interrupted_forced_download_keeps_the_good_file_and_its_entry(fake_hub, monkeypatch, tmp_path):
    import datasets

    assert cli.main(["download", "--to", str(tmp_path), "--split", STSB_TEST.key]) == 0
    before = data.read_manifest(tmp_path)

    def interrupted(self, path, **kwargs):
        Path(path).write_text('{"sentence1": "a')
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets.Dataset, "to_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["download", "--to", str(tmp_path), "--split", STSB_TEST.key, "--force"])
    assert data.read_manifest(tmp_path) == before
    assert data.file_problem(tmp_path, STSB_TEST.relpath().as_posix(), before) is None
