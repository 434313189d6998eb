"""`striped_map`: the results of `fn` over a stream, in order, whatever the number of workers; each worker reads
the stream itself; a worker's error, or its death, reaches the reader instead of a hang."""

from __future__ import annotations

import errno
import os
import signal
import threading

import pytest

from data_modules.ordered_pool import striped_map


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


def test_a_workers_error_is_raised_by_the_reader_with_its_type():
    with pytest.raises(OSError) as e:
        list(striped_map(fail_on_five, range(20), 2))
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
