"""The ``dagreuse`` command.

``dagreuse demo`` runs the main job on a local Dask cluster; ``dagreuse profile TRACE.json``
replays a saved trace under other policies and capacities and plots speedup against cache size.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from dagreuse.cache import MissingDependency

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
                processes=False if args.threads else None) as runner:
        kind = "worker processes" if runner.processes_used else "one in-process worker"
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


def _profile(args: argparse.Namespace) -> int:
    from dagreuse.cache import Trace, default_capacities, format_bytes, parse_capacity, sweep
    from dagreuse.pipes import Profile

    profile = Profile(Trace.load(args.trace))
    trace = profile.trace
    policies = [p.strip().lower() for p in args.policies.split(",") if p.strip()]
    if args.capacities:
        capacities = [parse_capacity(c, owner="dagreuse profile", name="--capacities")
                      for c in args.capacities.replace(",", " ").split()]
    else:
        capacities = default_capacities(trace)
    n_requests = profile.n_requests
    if "opt" in policies and n_requests > args.opt_max_requests:
        print(f"note: OPT skipped ({n_requests} requests > --opt-max-requests "
              f"{args.opt_max_requests}); Belady, a heuristic bound, is shown instead\n")
        policies = [p if p != "opt" else "belady" for p in policies]
    rows = sweep(trace, policies, capacities, seed=trace.meta.get("seed") or 0,
                 cost=args.cost or trace.meta.get("cost", "own"))
    actual = profile.actual
    print(f"trace {args.trace}: {n_requests} requests, {profile.n_unique_nodes} unique nodes, "
          f"working set {profile.working_set_bytes / 1e6:.1f} MB")
    print(f"independent evaluation: {profile.independent_seconds:.2f} s of compute; "
          f"every unique node once: {profile.merged_seconds:.2f} s "
          f"(ideal speedup {profile.ideal_speedup:.2f}x)")
    print(f"this run: {trace.meta.get('policy', '?')} spent {profile.spent_seconds:.2f} s "
          f"(speedup {profile.speedup:.2f}x)")
    print("replays run requests one at a time; they equal a live run exactly when it ran with "
          "max_in_flight=1\n")
    print("simulated compute seconds (speedup over independent evaluation); * = this run's cache")
    head = f"{'capacity':>12}" + "".join(f"{p.upper():>20}" for p in policies)
    print(head)
    print("-" * len(head))
    for cap in capacities:
        cells = []
        for p in policies:
            r = next(r for r in rows if r["policy"] == p and r["capacity"] == cap)
            mark = "*" if actual == (p, cap) else " "
            cells.append(f"{r['seconds']:>10.2f} s ({r['speedup']:>5.2f}x){mark}")
        print(f"{format_bytes(cap) if cap < 10**6 else f'{cap / 1e6:.1f}MB':>12}" + "".join(cells))
    if args.plot or args.html:
        from dagreuse.cache import plot_sweep

        with tempfile.TemporaryDirectory() as tmp:  # the page inlines its pictures
            png = args.plot or os.path.join(tmp, "whatif.png")
            plot_sweep(rows, png, actual=actual,
                       title=f"Speedup over independent evaluation ({n_requests} requests)")
            if args.plot:
                print(f"\nplot written to {png}")
            if args.html:
                _write_html(args.html, args.trace, profile, rows, png, actual, tmp)
    return 0


_STYLE = ("<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:"
          "collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
          "td.l{text-align:left}pre{background:#f6f6f6;padding:1em}</style>")


def _write_html(page: str, name: str, profile: object, rows: list[dict], png: str,
                actual: Any, tmp: str) -> None:
    """One self-contained page (images inlined): the per-stage profile, the merged DAG, the
    what-if plot and its table, and the trials when the trace holds them (``run`` saves them)."""
    import base64
    import html

    def inline(path: str) -> str:
        return "data:image/png;base64," + base64.b64encode(pathlib.Path(path).read_bytes()).decode()

    dag = os.path.join(tmp, "dag.png")
    profile.draw(dag)
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    by = {(r["policy"], r["capacity"]): r for r in rows}
    table = "\n".join(
        f"<tr><td>{cap / 1e6:.2f}</td>" + "".join(
            f"<td>{by[p, cap]['seconds']:.2f} s ({by[p, cap]['speedup']:.2f}x)"
            f"{' *' if actual == (p, cap) else ''}</td>" for p in policies) + "</tr>"
        for cap in dict.fromkeys(r["capacity"] for r in rows))
    trials = profile.trace.meta.get("trials") or []
    cols = ["config_id", "resource", "rung", "mean_score", "status", "config"]
    def cell(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))

    trial_rows = "\n".join("<tr>" + "".join(
        f"<td{' class=l' if c == 'config' else ''}>{cell(t.get(c))}</td>" for c in cols)
        + "</tr>" for t in trials)
    trials_html = (f"<h2>Trials</h2><table><tr>{''.join(f'<th>{c}</th>' for c in cols)}"
                   f"</tr>{trial_rows}</table>") if trials else ""
    with open(page, "w") as f:
        f.write(f"<!doctype html><meta charset=utf-8><title>dagreuse profile</title>{_STYLE}"
                f"<h1>{html.escape(str(name))}</h1><pre>{html.escape(str(profile))}</pre>"
                f"<h2>The merged DAG</h2><img src='{inline(dag)}'>"
                f"<h2>What if another cache?</h2><img src='{inline(png)}'>"
                f"<p>Simulated compute seconds (speedup over independent evaluation); * marks this "
                f"run's cache.</p><table><tr><th>capacity (MB)</th>"
                f"{''.join(f'<th>{p.upper()}</th>' for p in policies)}</tr>{table}</table>"
                f"{trials_html}")
    print(f"html written to {page}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dagreuse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="gridded random search on digits with a reuse profile")
    demo.add_argument("--branching", type=int, nargs="+", default=None,
                      help="branching factor per stage (default: 3 5 5 -> 75 candidates)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--workers", type=int, default=None,
                      help="local Dask workers (default: a single-thread worker process per core)")
    demo.add_argument("--threads", action="store_true",
                      help="threads of one in-process worker instead of worker processes")
    demo.add_argument("--cache", default="256MB", help="WReciprocal capacity (default 256MB)")
    demo.add_argument("--trace", default="demo.trace.json", help="where to save the trace")
    prof = sub.add_parser("profile", help="replay a saved trace under other policies and capacities")
    prof.add_argument("trace", help="a trace saved by result.profile.save() or `dagreuse demo`")
    prof.add_argument("--policies", default="lru,reciprocal,wreciprocal,gds",
                      help="comma-separated: lru, reciprocal, wreciprocal, gds, belady, opt; an online "
                      "one with -plain appended replays it without the known future")
    prof.add_argument("--capacities", default=None,
                      help="e.g. '16MB,64MB,256MB' (default: 1/64 .. 1 of the working set)")
    prof.add_argument("--cost", choices=["own", "recompute"], default=None,
                      help="cost the policies weigh (default: what the run used)")
    prof.add_argument("--opt-max-requests", type=int, default=300,
                      help="solve exact OPT only up to this many requests (default 300)")
    prof.add_argument("--plot", default=None, help="write speedup vs cache size as PNG")
    prof.add_argument("--html", default=None, help="write the table and plot as HTML")
    report = sub.add_parser("report", help="one self-contained HTML page of a saved trace")
    report.add_argument("trace", help="a trace saved by result.profile.save() or `dagreuse demo`")
    report.add_argument("--html", required=True, help="the page to write")
    draw = sub.add_parser("draw", help="draw a saved trace's merged DAG as a PNG")
    draw.add_argument("trace", help="a trace saved by result.profile.save() or `dagreuse demo`")
    draw.add_argument("--out", default=None, help="the PNG to write (default: TRACE.png)")
    args = parser.parse_args(argv)
    try:
        return _command(args)
    except MissingDependency as exc:  # one line, no traceback
        print(f"dagreuse: {exc}", file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    if args.command == "profile":
        return _profile(args)
    if args.command == "report":  # the profile's page, with its default replays
        for name, value in (("policies", "lru,reciprocal,wreciprocal,gds"), ("capacities", None),
                            ("cost", None), ("opt_max_requests", 300), ("plot", None)):
            setattr(args, name, value)
        return _profile(args)
    if args.command == "draw":
        from dagreuse.cache import Trace
        from dagreuse.pipes import Profile

        out = args.out or f"{args.trace}.png"
        Profile(Trace.load(args.trace)).draw(out)
        print(f"DAG drawn to {out}")
        return 0
    if args.command == "demo":
        if args.branching is None:
            from ._demo import DEMO_BRANCHING

            args.branching = DEMO_BRANCHING
        return _demo(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
