"""`fn` over a stream of batches in several processes, results in order, only a few batches in flight.

Why not `Pool.imap`: it reads its whole input ahead into the task queue, so a corpus of many GB would be
held in memory. Here at most `2 * num_proc` batches are queued; the reader waits for the oldest.
"""

from __future__ import annotations

import collections
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

In, Out = TypeVar("In"), TypeVar("Out")


def ordered_map(
    fn: Callable[[In], Out],
    items: Iterable[In],
    num_proc: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[Out]:
    """fn(item) for every item, in order; in this process when num_proc <= 1 (after `initializer(*initargs)`).

    `fn` and `initializer` must be module-level functions (they are pickled by name)."""
    if num_proc <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    # fork, as `datasets.map(num_proc=...)` does: the workers start in milliseconds with everything imported.
    with multiprocessing.get_context("fork").Pool(num_proc, initializer, initargs) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.apply_async(fn, (item,)))
            if len(pending) >= 2 * num_proc:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
