"""Negatives for the in-batch losses (03d, 03e): random soft negatives for any pairs, and a quiet miner.

`random_negatives` gives any (anchor, positive) dataset a third column drawn from the other rows' positives,
so a run with mined hard negatives can be compared with random ones on exactly the same pairs.
`quiet_progress_bars` hides the progress bars that `sentence_transformers.util.mine_hard_negatives` always
draws (it hard-codes `show_progress_bar=True`), at `tiny` only, where the course promises an empty stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partialmethod
from typing import TYPE_CHECKING

from helpers.data import require_columns
from helpers.mapping import other_rows

if TYPE_CHECKING:
    from datasets import Dataset


def random_negatives(dataset: Dataset, seed: int = 42, column: str = "negative") -> Dataset:
    """(anchor, positive) -> (anchor, positive, negative): each row's negative is another row's positive.

    Drawn by `helpers.mapping.other_rows` (as 03d's soft negatives): never the row's own positive text.
    """
    require_columns(dataset, ["anchor", "positive"], "random negatives")
    base = dataset.select_columns(["anchor", "positive"])
    return base.add_column(column, other_rows(list(dataset["positive"]), seed))


@contextmanager
def quiet_progress_bars(active: bool = True) -> Iterator[None]:
    """While active, tqdm progress bars default to disabled (a caller passing `disable=` explicitly still wins).

    `TQDM_DISABLE` is read by tqdm only when it is first imported, so setting it later has no effect; this
    sets the same default on the class for the duration of the block, then restores it.
    """
    if not active:
        yield
        return
    from tqdm import std

    original = std.tqdm.__dict__["__init__"]  # the class attribute itself (tqdm wraps it in a partialmethod)
    std.tqdm.__init__ = partialmethod(original, disable=True)  # type: ignore[method-assign]
    try:
        yield
    finally:
        std.tqdm.__init__ = original  # type: ignore[method-assign]
