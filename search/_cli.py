"""The ``dagreuse`` command: ``dagreuse demo`` runs the main job on a local Dask cluster."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from dagreuse.cache import WReciprocal
    from dagreuse.pipes import Runner

    from ._demo import demo_data, demo_pipeline
    from ._driver import run
    from ._proposals import GriddedRandomSearch

    X, y = demo_data()
    search = GriddedRandomSearch(demo_pipeline(), branching=args.branching, seed=args.seed)
    print(f"dagreuse demo: digits {X.shape}, {search!r}, 3-fold CV")
    t0 = time.perf_counter()
    with Runner(cache=WReciprocal(args.cache, seed=0), n_workers=args.workers,
                processes=args.processes) as runner:
        kind = "worker processes" if args.processes else "one in-process worker"
        print(f"local Dask cluster: {kind}, {runner.n_threads} thread(s); "
              f"cache {runner.cache.policy!r}")
        result = run(search, X, y, cv=3, scoring="accuracy", runner=runner)
    wall = time.perf_counter() - t0
    failed = sum(t["status"] != "ok" for t in result.trials)
    print(f"\n{len(result.trials)} candidates evaluated ({failed} failed) in {wall:.1f} s")
    print(f"best accuracy {result.best_score:.4f} with {json.dumps(result.best_config)}\n")
    print(result.profile)
    if args.trace:
        result.profile.save(args.trace)
        print(f"\ntrace written to {args.trace} (replay it with the simulator)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dagreuse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="gridded random search on digits with a reuse profile")
    demo.add_argument("--branching", type=int, nargs="+", default=None,
                      help="branching factor per stage (default: 3 5 5 -> 75 candidates)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--workers", type=int, default=None,
                      help="local Dask workers (default: one in-process worker, a thread per core)")
    demo.add_argument("--processes", action="store_true",
                      help="worker processes instead of an in-process worker")
    demo.add_argument("--cache", default="256MB", help="WReciprocal capacity (default 256MB)")
    demo.add_argument("--trace", default="demo.trace.json", help="where to save the trace")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.branching is None:
            from ._demo import DEMO_BRANCHING

            args.branching = DEMO_BRANCHING
        return _demo(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
