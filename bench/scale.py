"""Scale without leaks: the client's memory across repeated searches, and a 100,000-node trace
saved and loaded.

Memory: trivial operators (two identity functions, a DummyClassifier; every sampled value
distinct, so nothing merges), a 200 kB cache (full after the first search, so it is not what
grows), seven searches of about 2,500 nodes and two of about 10,000 on one Runner, the sync
oracle and two worker processes. After each: the client process's Python memory (tracemalloc),
the Runner's trace dropped, against before the first; and the trace's JSON bytes per node.
Trace: a synthetic 111,111-node trace (``cache.tree_trace``, k = 10, depth 5) saved and loaded.

    python bench/scale.py
"""

from __future__ import annotations

import gc
import json
import os
import pathlib
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


def memory(runner_kw: dict, branchings=(13,) * 7 + (26, 26)) -> list[dict]:
    X, y = np.zeros((60, 3)), np.arange(60) % 2
    pipe = Pipeline([("a", identity, {"k": space.uniform(0, 1)}),
                     ("b", identity, {"k": space.uniform(0, 1)}),
                     ("clf", DummyClassifier(), {"random_state": space.randint(0, 2**31)})])
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
    report = {"sync": memory({"scheduler": "sync"}),
              "processes": memory({"n_workers": 2, "processes": True}), "trace": trace_io()}
    OUT.mkdir(exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
