"""Scale without leaks: once a search is done, no node, request or session of it stays alive in
the client beyond its trace; on the oracle, repeated searches retain no memory at all."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
import weakref

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from dagreuse.cache import WReciprocal
from dagreuse.pipes import Pipeline, Runner, merge, space
from dagreuse.search import GriddedRandomSearch, run

X, y = np.zeros((60, 3)), np.arange(60) % 2


def identity(X, k=0):
    return X


PIPE = Pipeline([("a", identity, {"k": space.uniform(0, 1)}), ("b", identity, {"k": space.uniform(0, 1)}),
                 ("clf", DummyClassifier(), {"random_state": space.randint(0, 2**31)})])


def test_a_finished_search_leaves_no_node_alive_on_dask(monkeypatch):
    with Runner(WReciprocal("200kB"), processes=False) as runner:
        sessions = []
        open_ = runner.open

        def opened(*args):
            session = open_(*args)
            sessions.append(weakref.ref(session))
            return session

        monkeypatch.setattr(runner, "open", opened)
        result = run(GriddedRandomSearch(PIPE, [4, 4, 4], seed=0), X, y, cv=3, runner=runner)
        assert result.profile.n_computed > 200
        del result
        runner._trace = None
        gc.collect()
        assert sessions and sessions[0]() is None  # and with it its nodes and requests


def retained_by_repeated_searches(n: int = 3) -> list[int]:
    """Bytes traced after each of ``n`` searches on one oracle Runner whose cache is full after
    the first."""
    with Runner(WReciprocal("200kB"), scheduler="sync") as runner:
        retained = []
        tracemalloc.start()
        try:
            for seed in range(n):
                run(GriddedRandomSearch(PIPE, [6, 6, 4], seed=seed), X, y, cv=3, runner=runner)
                runner._trace = None
                gc.collect()
                retained.append(tracemalloc.get_traced_memory()[0])
        finally:
            tracemalloc.stop()
    return retained


def test_repeated_searches_retain_no_memory_on_the_oracle():
    """In a fresh interpreter: tracemalloc counts every thread's allocations, and threads that
    earlier tests left behind (Dask's event loops) allocate while this one measures."""
    out = subprocess.run([sys.executable, __file__], capture_output=True, text=True, check=True)
    retained = json.loads(out.stdout)
    assert retained[2] - retained[0] < 100_000  # ~1,000 nodes a run: under 50 bytes a node


@pytest.mark.parametrize("scheduler", ["sync", "distributed"])
def test_an_open_session_forgets_the_nodes_of_reported_requests(scheduler):
    """A long search on one session holds only its unreported requests' nodes (and, on Dask,
    the few started ahead), not every node it merged; a later DAG merges them in again and
    finds their results in the cache."""
    dag = merge(PIPE, GriddedRandomSearch(PIPE, [6, 6, 4], seed=0).configs(), X, y, cv=3)
    kw = {"scheduler": "sync"} if scheduler == "sync" else {"processes": False}
    with Runner(WReciprocal("1MB"), **kw) as runner, runner.open() as session:
        ids = session.submit(dag)
        first = dict(session.results())
        assert len(dag.nodes) > 400 and len(session.nodes) <= 8, len(session.nodes)
        session.submit(dag)
        second = dict(session.results())
    assert [first[i]["test"] for i in ids] == [second[i + len(ids)]["test"] for i in ids]


if __name__ == "__main__":
    print(json.dumps(retained_by_repeated_searches()))
