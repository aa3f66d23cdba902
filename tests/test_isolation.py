"""The unit tests leave no process-wide state behind (tests/conftest.py), and write nothing into the repository."""

from __future__ import annotations

import os

import helpers
from helpers import session
from helpers.profiles import output_dir, repo_root


def test_outputs_go_to_a_temporary_folder():
    root = repo_root()
    assert root is None or not output_dir().is_relative_to(root)


def test_setup_changes_process_state_inside_a_test():
    os.environ["COURSE_TEST_LEAK"] = "1"
    helpers.setup("tiny", "sample", show=False)
    assert session._active is not None


def test_the_next_test_starts_clean():
    # runs after the test above in file order (and holds in any other order)
    assert session._active is None
    assert "COURSE_TEST_LEAK" not in os.environ
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
