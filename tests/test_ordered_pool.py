"""`striped_map` (processes) and `threaded_map` (threads): the results of `fn` over a stream, in order, whatever the
number of workers; a worker's error, or its death, reaches the reader instead of a hang; the stream is read only
a few items ahead of the reader."""

from __future__ import annotations

import errno
import os
import signal
import threading
import time

import pytest

from data_modules.ordered_pool import striped_map, threaded_map


def square(x: int) -> int:
    return x * x


def lines_of(path) -> object:
    """A generator that opens its file when first advanced, as `text_stream.text_batches` does."""
    with open(path) as f:
        yield from (int(line) for line in f)


@pytest.mark.parametrize("num_proc", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 7, 50])
def test_results_are_in_order_from_a_list_and_from_an_unstarted_generator(tmp_path, num_proc, n):
    path = tmp_path / "numbers.txt"
    path.write_text("".join(f"{i}\n" for i in range(n)))
    assert list(striped_map(square, list(range(n)), num_proc)) == [i * i for i in range(n)]
    assert list(striped_map(square, lines_of(path), num_proc)) == [i * i for i in range(n)]
    assert list(threaded_map(square, list(range(n)), num_proc)) == [i * i for i in range(n)]
    assert list(threaded_map(square, lines_of(path), num_proc)) == [i * i for i in range(n)]


def slow_square(x: int) -> int:
    time.sleep(
        0.02 * (x % 3 == 0)
    )  # later items finish first: order must come from the reader, not the workers
    return x * x


@pytest.mark.parametrize("workers", [2, 3])
def test_threads_read_the_stream_a_few_items_ahead_only_and_stop_with_the_reader(workers):
    read = []

    def stream():
        for i in range(1000):
            read.append(i)
            yield i

    out = threaded_map(slow_square, stream(), workers)
    for k in range(10):
        assert next(out) == k * k
        assert len(read) <= k + 1 + 2 * workers  # never the whole stream
    out.close()  # the reader stops early: the pool shuts down, nothing more is read
    time.sleep(0.05)
    assert len(read) <= 10 + 2 * workers


def test_threads_run_the_initializer_once_here_and_the_work_in_other_threads():
    here, calls = threading.get_ident(), []
    out = list(
        threaded_map(
            shifted_in_thread,
            range(12),
            3,
            lambda v: calls.append((v, threading.get_ident())) or start(v),
            (7,),
        )
    )
    assert calls == [(7, here)]
    assert [v for v, _ in out] == list(range(7, 19))
    assert here not in {t for _, t in out}


def shifted_in_thread(x: int) -> tuple[int, int]:
    return x + _offset, threading.get_ident()


_offset = 0


def start(offset: int) -> None:
    global _offset
    _offset = offset


def shifted(x: int) -> tuple[int, int]:
    return x + _offset, os.getpid()


def test_the_initializer_runs_in_each_worker_and_item_k_goes_to_worker_k_mod_n():
    out = list(striped_map(shifted, range(12), 3, start, (100,)))
    assert [v for v, _ in out] == list(range(100, 112))
    pids = [p for _, p in out]
    assert len(set(pids)) == 3 and os.getpid() not in pids
    assert all(pids[k] == pids[k % 3] for k in range(12))


def fail_on_five(x: int) -> int:
    if x == 5:
        raise OSError(errno.ENOSPC, "No space left on device")
    return x


@pytest.mark.parametrize("pool", [striped_map, threaded_map])
def test_a_workers_error_is_raised_by_the_reader_with_its_type(pool):
    with pytest.raises(OSError) as e:
        list(pool(fail_on_five, range(20), 2))
    assert e.value.errno == errno.ENOSPC


class Unpicklable(Exception):
    def __init__(self, lock):
        super().__init__("held a lock")
        self.lock = lock

    def __reduce__(self):
        raise TypeError("cannot pickle")


def raise_unpicklable(x: int) -> int:
    raise Unpicklable(threading.Lock())


def test_an_error_that_cannot_be_pickled_arrives_as_its_text():
    with pytest.raises(RuntimeError, match="Unpicklable: held a lock"):
        list(striped_map(raise_unpicklable, range(4), 2))


def die_on_three(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_a_killed_worker_is_an_error_not_a_wait_forever():
    with pytest.raises(RuntimeError, match="worker process stopped"):
        list(striped_map(die_on_three, range(10), 2))
