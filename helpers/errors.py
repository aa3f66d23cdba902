"""One exception type for every mistake a learner can fix; its message says how."""

from __future__ import annotations


class CourseError(RuntimeError):
    """A problem with the course set-up or input: the message names the fix."""
