"""retain_freed_memory: freed memory stays in the process while held, and goes back after."""

import resource
import threading

import numpy as np
import pytest

from dagreuse.cache import Unbounded
from dagreuse.pipes import Runner, merge, retain_freed_memory
from dagreuse.pipes._memory import _libc, release, retain, retained
from tests.conftest import counted_pipeline
from tests.pipes.test_runner import configs

glibc = pytest.mark.skipif(_libc() is None, reason="mallopt needs glibc")
ARRAYS, FLOATS = 24, 1_000_000  # 192 MB in 8 MB arrays: three of a thread arena's 64 MB heaps


def refault_pages() -> int:
    """Page faults of allocating again, in a worker thread, the arrays it has just freed."""
    out = []

    def work():
        arrays = [np.ones(FLOATS) for _ in range(ARRAYS)]
        arrays.clear()
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        arrays.extend(np.ones(FLOATS) for _ in range(ARRAYS))
        out.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return out[0]


@glibc
def test_nested_holders_count_and_the_last_release_restores():
    start = retained()
    assert retain() and retain()
    assert retained() == start + 2
    release()
    assert retained() == start + 1
    release()
    assert retained() == start
    if start == 0:
        release()  # one release too many changes nothing
        assert retained() == 0


@glibc
def test_freed_memory_is_reused_while_held_and_returned_after():
    pages = ARRAYS * FLOATS * 8 // 4096
    with retain_freed_memory():
        held = refault_pages()
    after = refault_pages()
    assert held < pages // 20, held  # the pages are still mapped: no fresh ones
    if retained() == 0:
        assert after > pages // 20, after  # glibc's own behaviour again: fresh pages


@glibc
def test_runner_holds_only_where_it_owns_the_processes(data, client, log):
    X, y = data
    dag = merge(counted_pipeline(log), configs()[:2], X, y, cv=2, scoring="accuracy")
    start = retained()
    with Runner(Unbounded(), scheduler="sync") as runner:
        runner.execute(dag)
        assert retained() == start + 1
    assert retained() == start
    with Runner(Unbounded(), client=client) as runner:  # someone else's cluster: left alone
        runner.execute(dag)
        assert retained() == start
    with Runner(Unbounded(), threads_per_worker=2, processes=False) as runner:  # in this process
        runner.execute(dag)
        assert retained() == start + 1
    assert retained() == start
    with retain_freed_memory(client):
        assert retained() == start + 1  # the session cluster's worker runs in this process
        with retain_freed_memory(client):  # nested on one cluster: each block counts
            assert retained() == start + 2
        assert retained() == start + 1
    assert retained() == start
