"""Where does a dagreuse run's wall time go? One search, timed task by task.

Runs one dagreuse search (Unbounded cache) on a fresh local cluster and prints, from Dask's task
stream: how busy each worker was, its idle gaps, compute seconds per task prefix (a node's stage;
leaves fused into their node's task count under that stage), and the CPU
seconds of this process (client and scheduler; with ``--cluster threads`` the in-process worker
too, and a worker's busy share counts both its threads). The switches turn off Dask's work
stealing (which may still move a task the Runner sent to a worker) or the grouping of leaves into
one task, to see what each contributes:

    python bench/timeline.py [--workload text|demo] [--cluster processes|threads]
                             [--no-stealing] [--one-leaf-per-task] [--repeat 3]
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
import time

import dask
from distributed import get_task_stream
from threadpoolctl import threadpool_limits

from dagreuse.cache import Unbounded
from dagreuse.pipes import Runner, _granularity
from dagreuse.search import GriddedRandomSearch, run
from dagreuse.search._demo import DEMO_BRANCHING, demo_data, demo_pipeline

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _workloads import TEXT_BRANCHING, cluster_of, text_corpus, text_pipeline


def summarize(tasks: list[dict], wall: float, cpu: float) -> dict:
    computes = [(s["start"], s["stop"], t["worker"], t["key"].split("-")[0])
                for t in tasks for s in t["startstops"] if s["action"] == "compute"]
    t0 = min(c[0] for c in computes)
    span = max(c[1] for c in computes) - t0
    busy: dict = collections.defaultdict(float)
    prefix: dict = collections.defaultdict(lambda: [0, 0.0])
    for a, b, w, k in computes:
        busy[w] += b - a
        prefix[k][0] += 1
        prefix[k][1] += b - a
    moved = sum(s["stop"] - s["start"] for t in tasks for s in t["startstops"]
                if s["action"] == "transfer")
    print(f"wall {wall:.2f} s, tasks {len(computes)}, client+scheduler CPU {cpu:.2f} s, "
          f"transfers {moved:.2f} s")
    for w in sorted(busy):
        gaps = []
        last = 0.0
        for a, b, _, _ in sorted(c for c in computes if c[2] == w):
            if a - t0 - last > 0.25:
                gaps.append(f"{last:.1f}-{a - t0:.1f}")
            last = max(last, b - t0)
        print(f"  worker {w}: busy {busy[w]:.2f} s = {busy[w] / span:.0%} of {span:.2f} s; "
              f"idle > 0.25 s: {', '.join(gaps) or 'none'}")
    for k, (n, s) in prefix.items():
        print(f"  {k:<10} {n:>4} tasks {s:>7.2f} s")
    return {"wall": wall, "cpu": cpu, "busy": [busy[w] / span for w in sorted(busy)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=["text", "demo"], default="text")
    parser.add_argument("--cluster", choices=["processes", "threads"], default="processes")
    parser.add_argument("--no-stealing", action="store_true", help="turn Dask's work stealing off")
    parser.add_argument("--one-leaf-per-task", action="store_true",
                        help="do not group leaves that share their parents")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.one_leaf_per_task:
        _granularity.MAX_LEAVES_PER_TASK = 1  # a session reads it when it groups leaves
    if args.workload == "text":
        (X, y), pipe, branching = text_corpus(), text_pipeline(), TEXT_BRANCHING
    else:
        (X, y), pipe, branching = demo_data(), demo_pipeline(), DEMO_BRANCHING
    stealing = dask.config.set({"distributed.scheduler.work-stealing": not args.no_stealing})
    with stealing, threadpool_limits(1), cluster_of(args.cluster) as client:
        with Runner(Unbounded(), client=client) as runner:  # warm-up: imports, first calls
            run(GriddedRandomSearch(pipe, [1, 1, 2], seed=0), X, y, cv=3, runner=runner)
        for i in range(args.repeat):
            with Runner(Unbounded(), client=client) as runner, get_task_stream(client) as ts:
                cpu0, t0 = time.process_time(), time.perf_counter()
                run(GriddedRandomSearch(pipe, branching, seed=0), X, y, cv=3, runner=runner)
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            print(f"run {i + 1}:", end=" ")
            summarize(ts.data, wall, cpu)


if __name__ == "__main__":
    main()
