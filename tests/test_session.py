"""`helpers.session`: progress bars stay off in notebooks, including tqdm's Jupyter widgets."""

from __future__ import annotations

import io

from helpers.session import silence_tqdm


def test_silence_tqdm_disables_bars_even_when_disable_false_is_passed() -> None:
    import tqdm.notebook
    import tqdm.std

    silence_tqdm()
    silence_tqdm()  # idempotent: wrapping twice would still work, but is not done
    assert getattr(tqdm.std.tqdm.__init__, "course_silenced", False)
    stream = io.StringIO()
    bar = tqdm.std.tqdm(range(3), disable=False, file=stream)
    assert bar.disable and list(bar) == [0, 1, 2] and stream.getvalue() == ""
    # tqdm.notebook passes disable=False explicitly (what TQDM_DISABLE cannot override): still off, no widget
    widget_bar = tqdm.notebook.tqdm(range(2), desc="Computing widget examples")
    assert widget_bar.disable and list(widget_bar) == [0, 1]
    assert not hasattr(widget_bar, "container")
