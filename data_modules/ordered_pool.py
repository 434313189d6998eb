"""`fn` over a stream of batches by several workers, results in order, only a few results in flight.

`threaded_map`: threads, for work that runs in Arrow and NumPy kernels, which release the GIL (splitting,
hashing and looking up words): nothing is copied between workers and nothing is started but a thread.
`striped_map`: processes, for work that holds the GIL (Python objects per line, as the `tokenizers` path
builds).

Why not `Pool.imap`: it reads its whole input ahead into the task queue, so a corpus of many GB would be
held in memory; and handing each batch of text to a worker through a pipe costs the parent about as much
CPU as the work saves (the parent shares the cores with the workers; measured on 100 MB, session 9). Here
no batch is handed over: each worker reads the stream itself and keeps every `num_proc`-th batch (reading
from the page cache is ~100x faster than the work), and only the results travel, a few ahead per worker.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

In, Out = TypeVar("In"), TypeVar("Out")

_POLL_S = 1.0
"""How often a reader waiting for a result checks that the worker it waits for is alive."""


def cores() -> int:
    """CPU cores this process may run on (its affinity: a SLURM or container CPU set, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threaded_map(
    fn: Callable[[In], Out],
    items: Iterable[In],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[Out]:
    """fn(item) for every item, in order, by `workers` threads; `items` is read here, at most 2 per worker ahead
    of the reader (a stream of many GB is never held). `initializer` runs once, here. An error in `fn` is raised
    here, after the items in flight are finished or cancelled."""
    if initializer is not None:
        initializer(*initargs)
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="ordered-map") as pool:
        flight: deque = deque()
        try:
            for item in items:
                flight.append(pool.submit(fn, item))
                if len(flight) >= 2 * workers:
                    yield flight.popleft().result()
            while flight:
                yield flight.popleft().result()
        finally:  # an error, or a reader that stopped early: start nothing more
            for f in flight:
                f.cancel()


def striped_map(
    fn: Callable[[In], Out],
    items: Iterable[In],
    num_proc: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[Out]:
    """fn(item) for every item, in order, item k computed by worker k % num_proc of `num_proc` forked workers.

    Every worker walks its own copy of `items`, so `items` must not have been started: a list, or a generator
    not yet advanced whose files are opened inside it (as `text_stream.text_batches`). A worker's error is
    raised here; a worker that dies (killed) is a RuntimeError, not a wait forever."""
    if num_proc <= 1:
        yield from threaded_map(fn, items, 1, initializer, initargs)  # here, in this thread
        return
    ctx = multiprocessing.get_context("fork")
    results = [ctx.Queue(maxsize=2) for _ in range(num_proc)]  # a few results ahead per worker, no more
    workers = [
        ctx.Process(target=_stripe, args=(fn, items, k, num_proc, results[k], initializer, initargs), daemon=True)
        for k in range(num_proc)
    ]  # fmt: skip
    for w in workers:
        w.start()
    try:
        for k in range(2**63):
            kind, value = _next(results[k % num_proc], workers[k % num_proc])
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            w.join()


def _next(results, worker) -> tuple[str, object]:
    while True:
        try:
            return results.get(timeout=_POLL_S)
        except queue.Empty:
            if not worker.is_alive() and results.empty():
                raise RuntimeError(f"a worker process stopped (exit code {worker.exitcode})") from None


def _stripe(fn, items, k: int, n: int, results, initializer, initargs) -> None:
    try:
        if initializer is not None:
            initializer(*initargs)
        for i, item in enumerate(items):
            if i % n == k:
                results.put(("item", fn(item)))
        results.put(("end", None))
    except BaseException as e:  # noqa: BLE001 (handed to the reader, which raises it)
        try:
            pickle.dumps(e)
        except Exception:  # noqa: BLE001
            e = RuntimeError(f"{type(e).__name__}: {e}")
        results.put(("error", e))
