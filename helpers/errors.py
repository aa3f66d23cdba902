"""What the course tells the learner: one exception type for every mistake a learner can fix (its message says
how), and notes printed once per process (on stdout: a notebook cell that writes to stderr fails the tests)."""

from __future__ import annotations


class CourseError(RuntimeError):
    """A problem with the course set-up or input: the message names the fix."""


_said: set[str] = set()


def say_once(message: str) -> None:
    """Print `[course] message` the first time this process sees `message`."""
    if message not in _said:
        _said.add(message)
        print(f"[course] {message}")
