"""Scale without leaks: the client's memory across repeated searches, and a 100,000-node trace
saved and loaded.

Memory: trivial operators (two identity functions, a DummyClassifier; every sampled value
distinct, so nothing merges), a 200 kB cache (full after the first search, so it is not what
grows), seven searches of about 2,500 nodes and two of about 10,000 on one Runner, the sync
oracle and two worker processes. After each: the client process's Python memory (tracemalloc),
the Runner's trace dropped, against before the first; and the trace's JSON bytes per node.
Trace: a synthetic 111,111-node trace (``cache.tree_trace``, k = 10, depth 5) saved and loaded.

    python bench/scale.py              # all of it
    python bench/scale.py --session    # only what an open session holds at a search's end
"""

from __future__ import annotations

import gc
import json
import os
import pathlib
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from sklearn.dummy import DummyClassifier

from dagreuse.cache import Trace, WReciprocal, tree_trace
from dagreuse.pipes import Pipeline, Runner, space
from dagreuse.search import GriddedRandomSearch, run

OUT = pathlib.Path(__file__).parent / "out"


def identity(X, k=0):
    return X


PIPE = Pipeline([("a", identity, {"k": space.uniform(0, 1)}),
                 ("b", identity, {"k": space.uniform(0, 1)}),
                 ("clf", DummyClassifier(), {"random_state": space.randint(0, 2**31)})])


def memory(runner_kw: dict, branchings=(13,) * 7 + (26, 26)) -> list[dict]:
    X, y = np.zeros((60, 3)), np.arange(60) % 2
    pipe = PIPE
    rows = []
    with Runner(WReciprocal("200kB"), **runner_kw) as runner:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for seed, n in enumerate(branchings):
            result = run(GriddedRandomSearch(pipe, [n, n, 4], seed=seed), X, y, cv=3,
                         runner=runner, progress=False)
            nodes = result.profile.n_computed
            trace_bytes = len(json.dumps(result.profile.trace.to_dict()))
            del result
            runner._trace = None
            gc.collect()
            rows.append({"nodes": nodes, "trace_bytes_per_node": trace_bytes / nodes,
                         "retained_mb": (tracemalloc.get_traced_memory()[0] - base) / 1e6})
            print(f"  {runner_kw}: {nodes} nodes, trace {trace_bytes / nodes:.0f} B/node, "
                  f"retained {rows[-1]['retained_mb']:.2f} MB", flush=True)
        tracemalloc.stop()
    return rows


def session_state(runner_kw: dict, n: int = 26) -> dict:
    """What the open session itself holds at the end of a search (its state, not the trace):
    the traced memory just before it closes, less that after its state is dropped."""
    from dagreuse.pipes._session import Session

    close, seen = Session.close, {}

    def closing(session: Session) -> None:
        gc.collect()
        seen["open"] = tracemalloc.get_traced_memory()[0]
        close(session)
        for name in list(vars(session)):
            if name not in ("trace", "runner", "cache", "closed"):
                setattr(session, name, None)
        gc.collect()
        seen["closed"] = tracemalloc.get_traced_memory()[0]

    X, y = np.zeros((60, 3)), np.arange(60) % 2
    Session.close = closing
    try:
        with Runner(WReciprocal("200kB"), **runner_kw) as runner:
            tracemalloc.start()
            result = run(GriddedRandomSearch(PIPE, [n, n, 4], seed=0), X, y, cv=3, runner=runner,
                         progress=False)
            tracemalloc.stop()
    finally:
        Session.close = close
    nodes = result.profile.n_computed
    row = {"nodes": nodes, "session_bytes_per_node": (seen["open"] - seen["closed"]) / nodes}
    print(f"  {runner_kw}: the open session held {row['session_bytes_per_node']:.0f} B/node "
          f"of {nodes} nodes at the end of the search")
    return row


def trace_io() -> dict:
    trace = tree_trace(k=10, depth=5, size=lambda level, rng: 100, cost=lambda level, rng: 0.01)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.trace.json")
        t0 = time.perf_counter()
        trace.save(path)
        saved = time.perf_counter() - t0
        t0 = time.perf_counter()
        Trace.load(path)
        loaded = time.perf_counter() - t0
        size = os.path.getsize(path)
    row = {"nodes": len(trace.nodes), "events": len(trace.events), "mb": size / 1e6,
           "save_s": saved, "load_s": loaded}
    print(f"  trace of {row['nodes']} nodes, {row['events']} events, {row['mb']:.1f} MB: "
          f"saved in {saved:.2f} s, loaded in {loaded:.2f} s")
    return row


def main() -> None:
    if "--session" in sys.argv:  # only what the open session holds
        print({"sync": session_state({"scheduler": "sync"}),
               "threads": session_state({"processes": False})})
        return
    report = {"sync": memory({"scheduler": "sync"}),
              "processes": memory({"n_workers": 2, "processes": True}), "trace": trace_io()}
    OUT.mkdir(exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
