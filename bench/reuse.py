"""How much does reuse save, measured against evaluating every candidate on its own?

Writes bench/out/reuse.json and bench/out/text.trace.json (the text run's trace, which
bench/cache_policies.py replays).

For the demo workload (digits, scale -> Nystroem -> ridge, 75 candidates) and a front-loaded text
workload (Tfidf -> SelectPercentile(chi2) -> SGD | ComplementNB, 100 candidates), in one process
on one local Dask cluster:

* independent — every (candidate, fold) as a plain scikit-learn Pipeline fitted and scored in its
  own task (``client.map``): the same folds, the same cluster, the same parallelism;
* dagreuse with an Unbounded cache, and with WReciprocal at half the working set.

Prints wall seconds, computed node counts, measured speedup (independent wall / dagreuse wall)
and ``profile.ideal_speedup``; then the Runner's overhead per node on trivial operators at about
250, 2,500 and 25,000 nodes, sync and Dask (it must stay flat as the search grows).
Writes bench/out/reuse.json.

The contenders are interleaved finely, because this machine's speed drifts by 10-20% over tens
of seconds (bench/NOTES.md): each of ``--rounds`` rounds evaluates a strided 1/rounds share of the
candidates independently, then runs the whole dagreuse search once per cache. The independent
wall is the sum of its shares, dagreuse's wall and ideal the mean of its runs: both sample the
same minutes, and neither is a best-of. One continuous loop would start the cluster once (ship
the data, reach the threads) and drain it once (threads done while the last tasks run); each
share does both, so the independent wall counts the first share's start and the last one's
drain only: each measured per thread from when its first task started and its last one ended,
and printed.

    python bench/reuse.py [--quick] [--rounds 6] [--cluster auto|threads|processes]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys
import threading
import time

import numpy as np
from distributed import get_worker
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import get_scorer

from dagreuse.cache import Unbounded, WReciprocal
from dagreuse.pipes import Pipeline, Runner, merge, space
from dagreuse.search import GriddedRandomSearch, run
from dagreuse.search._demo import DEMO_BRANCHING, demo_data, demo_pipeline

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _workloads import TEXT_BRANCHING, cluster_of, text_corpus, text_pipeline

OUT = pathlib.Path(__file__).parent / "out"


def _fit_score(estimator, X, y, train, test, scoring):
    from sklearn.utils import _safe_indexing

    start, t0 = time.time(), time.perf_counter()  # time.time: the workers share this clock
    est = clone(estimator).fit(_safe_indexing(X, train), y[train])
    score = get_scorer(scoring)(est, _safe_indexing(X, test), y[test])
    thread = (get_worker().address, threading.get_ident())
    return score, time.perf_counter() - t0, (thread, start, time.time())


def independent(client, pipe, configs, X, y, folds, scoring):
    """Every (candidate, fold) on its own, as scikit-learn would, on the same cluster. Returns
    the wall, the scores, the compute seconds, and how much of the wall the cluster spent
    *starting* (shipping the data, the first tasks reaching the threads) and *draining* (threads
    done while the last tasks ran): per thread, wall-seconds idle before its first task and
    after its last, summed over the threads and divided by their number."""
    epoch, t0 = time.time(), time.perf_counter()  # shipping the data counts, as in dagreuse's run
    [Xf, yf] = client.scatter([X, y], broadcast=True, hash=False)
    futures = [client.submit(_fit_score, pipe.build(c), Xf, yf, tr, te, scoring, pure=False)
               for c in configs for tr, te in folds]
    scores, seconds, spans = zip(*client.gather(futures), strict=True)
    wall = time.perf_counter() - t0
    first = dict(sorted(((t, a) for t, a, _ in spans), reverse=True))  # thread -> first start
    last = dict(sorted((t, b) for t, _, b in spans))  # thread -> last end
    threads = _threads(client)
    start = sum(a - epoch for a in first.values()) / threads
    drain = sum(max(last.values()) - b for b in last.values()) / threads
    return wall, list(scores), sum(seconds), start, drain


def workload(name, client, pipe, branching, X, y, cv=3, scoring="accuracy", save=None, rounds=6):
    """Both contenders in ``rounds`` interleaved rounds: each round evaluates a 1/rounds share of
    the candidates independently (strided, so every share has the same mix), then runs the whole
    dagreuse search with each cache. The independent wall is the sum of its shares, dagreuse's
    the mean of its runs, so both are measured over the same minutes (see the module docstring)."""
    search = GriddedRandomSearch(pipe, branching, seed=0)
    configs = search.configs()
    dag = merge(pipe, configs, X, y, cv=cv, scoring=scoring)
    # nodes an independent evaluation computes: every non-identity stage of every path
    n_stage_nodes = np.mean([sum(alt.kind != "passthrough" for _, alt, _ in pipe.resolve(c))
                             for c in configs])
    folds = dag.folds
    # warm-up of both contenders (imports, first-call caches), not measured
    warm = configs[:2]
    independent(client, pipe, warm, X, y, folds[:1], scoring)
    with Runner(Unbounded(), client=client) as runner:
        runner.execute(merge(pipe, warm, X, y, cv=cv, scoring=scoring))

    def ours(policy):
        with Runner(policy, client=client) as runner:
            t0 = time.perf_counter()
            result = run(GriddedRandomSearch(pipe, branching, seed=0), X, y, cv=cv,
                         scoring=scoring, runner=runner)
            return _row(result, time.perf_counter() - t0), result

    runs: dict = {"dagreuse Unbounded": [], "dagreuse WReciprocal(1/2 WS)": []}
    indep_scores: list = []
    indep = {"wall_s": 0.0, "compute_s": 0.0, "chunk_walls": [], "starts": [], "drains": []}
    for r in range(rounds):
        wall, scores, seconds, start, drain = independent(client, pipe, configs[r::rounds], X, y,
                                                          folds, scoring)
        # one continuous loop starts and drains the cluster once: count the first share's start
        # and the last one's drain, not the others'
        indep["wall_s"] += wall - (start if r > 0 else 0.0) - (drain if r < rounds - 1 else 0.0)
        indep["compute_s"] += seconds
        indep["chunk_walls"].append(wall)
        indep["starts"].append(start)
        indep["drains"].append(drain)
        indep_scores += scores
        row, full = ours(Unbounded())
        runs["dagreuse Unbounded"].append(row)
        row, _ = ours(WReciprocal(full.profile.working_set_bytes // 2, seed=0))
        runs["dagreuse WReciprocal(1/2 WS)"].append(row)
    indep["computed_nodes"] = round(len(configs) * len(folds) * n_stage_nodes)
    if save:
        OUT.mkdir(exist_ok=True)
        full.profile.save(OUT / save)
    scores = [s for t in full.trials for s in t["scores"]]
    assert np.allclose(sorted(scores), sorted(indep_scores), atol=1e-9), "scores differ"
    rows = {"independent": indep, **{label: _mean(rs) for label, rs in runs.items()}}
    for r in rows.values():
        r["measured_speedup"] = indep["wall_s"] / r["wall_s"]
    ours_ = rows["dagreuse Unbounded"]
    ideal = ours_["ideal_speedup"]
    print(f"\n== {name}: {len(configs)} candidates x {len(folds)} folds, "
          f"working set {full.profile.working_set_bytes / 1e6:.0f} MB, {rounds} rounds ==")
    print(f"{'':<30}{'wall s':>9}{'nodes':>8}{'speedup':>9}{'ideal':>8}{'/ideal':>8}{'peak MB':>9}")
    for label, r in rows.items():
        share = f"{r['measured_speedup'] / ideal:>8.0%}" if "ideal_speedup" in r else f"{'':>8}"
        print(f"{label:<30}{r['wall_s']:>9.1f}{r['computed_nodes']:>8.0f}"
              f"{r['measured_speedup']:>9.2f}{ideal:>8.2f}{share}{r.get('peak_bytes', 0) / 1e6:>9.1f}")
    # measured / ideal = dagreuse's utilization / independent's x how well dagreuse's node costs
    # predict the independent tasks' (contention differs between the two runs)
    threads = _threads(client)
    factors = {"dagreuse_busy": ours_["compute_s"] / (ours_["wall_s"] * threads),
               "independent_busy": indep["compute_s"] / (indep["wall_s"] * threads),
               "predicted_over_measured": ours_["independent_s"] / indep["compute_s"]}
    print(f"workers busy: dagreuse {factors['dagreuse_busy']:.0%}, independent "
          f"{factors['independent_busy']:.0%}; independent tasks computed {indep['compute_s']:.1f} s, "
          f"dagreuse's node costs predict {ours_['independent_s']:.1f} s")
    shares = [indep["wall_s"] / r["wall_s"] / r["ideal_speedup"] for r in runs["dagreuse Unbounded"]]
    print("independent shares of the candidates, wall s: "
          + ", ".join(f"{w:.1f}" for w in indep["chunk_walls"]) + "; of it starting "
          + ", ".join(f"{a:.2f}" for a in indep["starts"]) + " (the first counted), draining "
          + ", ".join(f"{d:.2f}" for d in indep["drains"]) + " (the last counted)")
    print("dagreuse Unbounded, each run against the whole independent wall: "
          + ", ".join(f"{x:.0%}" for x in shares) + " of its ideal")
    return {"factors": factors, "unbounded_each_run_of_ideal": shares, "candidates": len(configs),
            "folds": len(folds), "rounds": rounds, "ideal_speedup": ideal,
            "working_set_bytes": full.profile.working_set_bytes, "rows": rows,
            "runs": runs}


def _threads(client) -> int:
    return sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())


def _mean(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def _row(result, wall):
    p = result.profile
    return {"wall_s": wall, "compute_s": p.spent_seconds,
            "computed_nodes": p.n_computed - p.stages[0]["computed"],
            "profile_speedup": p.speedup, "ideal_speedup": p.ideal_speedup,
            "independent_s": p.independent_seconds,
            "peak_bytes": p.cache_stats["peak_bytes"], "capacity": p.cache_stats["capacity"]}


def identity(X, k=0):
    return X


#: Branchings of the overhead search: 3 folds x (n + n^2 + 4 n^2) nodes, about 250, 2,500, 25,000.
OVERHEAD_SIZES = (4, 13, 41)


def overhead(client, sizes=OVERHEAD_SIZES):
    """Seconds per node on trivial operators, the Runner's own cost, at growing search sizes: it
    must stay flat per node. Every sampled value is distinct, so no two candidates merge."""
    X, y = np.zeros((60, 3)), np.arange(60) % 2
    pipe = Pipeline([("a", identity, {"k": space.uniform(0, 1)}),
                     ("b", identity, {"k": space.uniform(0, 1)}),
                     ("clf", DummyClassifier(), {"random_state": space.randint(0, 2**31)})])
    out = {}
    for n in sizes:
        for label, runner in (("dask", Runner(Unbounded(), client=client)),
                              ("sync", Runner(Unbounded(), scheduler="sync"))):
            with runner:
                t0 = time.perf_counter()
                result = run(GriddedRandomSearch(pipe, [n, n, 4], seed=0), X, y, cv=3, runner=runner)
                wall = time.perf_counter() - t0
            nodes = result.profile.n_computed
            row = {"nodes": nodes, "wall_s": wall, "ms_per_node": 1e3 * wall / nodes,
                   "compute_ms_per_node": 1e3 * result.profile.spent_seconds / nodes}
            out[f"{label} {nodes}"] = row
            print(f"runner overhead ({label}, {nodes:>6} nodes): {wall:6.2f} s -> "
                  f"{row['ms_per_node']:.2f} ms per node (of which {row['compute_ms_per_node']:.3f} ms "
                  "compute)", flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    parser.add_argument("--cluster", choices=["auto", "threads", "processes"], default="auto",
                        help="auto: the demo (numpy, releases the GIL) on one worker with 2 threads, "
                             "the text workload (tokenizes in Python) on 2 single-thread processes")
    parser.add_argument("--only", choices=["demo", "text", "overhead"], default=None,
                        help="one workload")
    parser.add_argument("--rounds", type=int, default=6,
                        help="interleaved rounds (default 6): each evaluates 1/rounds of the "
                             "candidates independently and runs the whole dagreuse search")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from threadpoolctl import threadpool_limits

    report = {"cores": os.cpu_count()}
    X, y = demo_data()
    docs, labels = text_corpus(per_package=200 if args.quick else 800)
    quick = [2, 2, 3]
    jobs = [
        ("demo", "threads", "demo: digits, scale -> Nystroem -> ridge", demo_pipeline(),
         quick if args.quick else DEMO_BRANCHING, X, y, None),
        ("text", "processes", f"text: {len(docs)} docstrings, Tfidf -> chi2 -> SGD | NB",
         text_pipeline(), quick if args.quick else TEXT_BRANCHING, docs, labels, "text.trace.json"),
    ]
    for key, auto, title, pipe, branching, Xw, yw, save in jobs:
        if args.only and key != args.only:
            continue
        kind = auto if args.cluster == "auto" else args.cluster
        with cluster_of(kind) as client, threadpool_limits(1):
            report[key] = workload(f"{title} [{kind}]", client, pipe, branching, Xw, yw, save=save,
                                   rounds=args.rounds)
            report[key]["cluster"] = kind
    if args.only in (None, "overhead"):
        print()
        with cluster_of("processes") as client:  # the Runner's default local cluster
            report["overhead"] = overhead(client, (2, 4) if args.quick else OVERHEAD_SIZES)
    OUT.mkdir(exist_ok=True)
    (OUT / "reuse.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"\nwrote {OUT / 'reuse.json'}")


if __name__ == "__main__":
    main()
