"""Which eviction policy comes closest to the optimum, and should it weigh own or recompute cost?

1. The thesis' Figure 4.5 (Li 2020, §4.4.3): competitive ratio to exact OPT (integer programming)
   against cache size on a 3-ary tree of depth 3 — (a) every size 10, root cost 100, others 1;
   (b) sizes 10 or 50 and costs 1 or 100 drawn per node — requests depth-first and in random
   order, averaged over tree/order seeds and policy seeds.
2. Figure 4.6-style: speedup over independent evaluation against cache size for the 100
   gridded-random text candidates whose trace bench/reuse.py recorded (bench/out/text.trace.json).
3. ``cost="own"`` against ``cost="recompute"`` for every cost-aware policy on both.

Each online policy is shown twice: plain (``-plain``, as the thesis ran it: Fig. 4.5 stays
reproducible) and with the known future a batch Runner gives it (all requests submitted before
the first starts: an entry no remaining request needs goes first).

Prints tables; writes bench/out/cache_policies.json and PNG plots.

    python bench/cache_policies.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics

from dagreuse.cache import (
    OPT,
    PLAIN,
    Trace,
    make_policy,
    plot_sweep,
    simulate,
    sweep,
    thesis_tree_a,
    thesis_tree_b,
)

OUT = pathlib.Path(__file__).parent / "out"
ONLINE = ["lru", "reciprocal", "wreciprocal", "gds"]
VARIANTS = [v for p in ONLINE for v in (p + PLAIN, p)]
CAPACITIES = {"a": [10, 20, 30, 40, 50, 60, 80, 100, 130],
              "b": [25, 50, 75, 100, 150, 200, 300, 400, 650]}


def tree_ratios(kind: str, order: str, seeds: int, cost: str) -> dict[str, list[float]]:
    """Mean competitive ratio (policy seconds / OPT seconds) per policy, one per capacity."""
    make = thesis_tree_a if kind == "a" else thesis_tree_b
    traces = [batch(make(order=order, seed=s))
              for s in (range(seeds) if (kind, order) != ("a", "dfs") else [0])]
    out = {p: [] for p in [*VARIANTS, "belady"]}
    for cap in CAPACITIES[kind]:
        opts = [simulate(t, OPT(cap)).seconds for t in traces]
        for p in out:
            ratios = []
            for t, opt in zip(traces, opts, strict=True):
                policy_seeds = range(seeds) if p.startswith(("reciprocal", "wreciprocal")) else [0]
                ratios += [simulate(t, make_policy(p, cap, s), cost=cost,
                                    known_future=not p.endswith(PLAIN)).seconds / opt
                           for s in policy_seeds]
            out[p].append(statistics.fmean(ratios))
    return out


def batch(trace: Trace) -> Trace:
    """``trace`` as a batch Runner would record it: every request submitted before the first."""
    data = trace.to_dict()
    data["events"] = [{"ev": "submit", "n": trace.count("request")}, *data["events"]]
    return Trace.from_dict(data)


def print_ratios(title: str, caps: list[int], ratios: dict[str, list[float]]) -> None:
    print(f"\n{title}: competitive ratio to OPT (1.00 = optimal)")
    print(f"{'capacity':>9}" + "".join(f"{p.upper():>18}" for p in ratios))
    for i, cap in enumerate(caps):
        print(f"{cap:>9}" + "".join(f"{ratios[p][i]:>18.2f}" for p in ratios))


def plot_ratios(results: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharey=False)
    for ax, (key, ratios) in zip(axes.flat, results.items(), strict=False):
        kind = key.split("/")[0]
        for p, ys in ratios.items():
            ax.plot(CAPACITIES[kind], ys, marker="o", label=p.upper(),
                    ls=":" if p.endswith(PLAIN) else "-")
        ax.set_title(f"tree ({key})")
        ax.set_xlabel("cache capacity (size units; every node is 10 or 50)")
        ax.set_ylabel("compute cost / OPT's cost")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Competitive ratio to exact OPT, 3-ary tree of depth 3 (thesis Fig. 4.5)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trace", default=str(OUT / "text.trace.json"))
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    report: dict = {"trees": {}, "text": {}, "cost_modes": {}}

    for cost in ("own", "recompute"):
        for kind in ("a", "b"):
            for order in ("dfs", "random"):
                ratios = tree_ratios(kind, order, args.seeds, cost)
                report["trees"][f"{kind}/{order}/{cost}"] = ratios
                if cost == "own":
                    print_ratios(f"Figure 4.5{kind}, {order} order (cost={cost})", CAPACITIES[kind], ratios)
    plot_ratios({k.rsplit("/", 1)[0]: v for k, v in report["trees"].items() if k.endswith("/own")},
                OUT / "fig4_5_trees.png")

    trace_path = pathlib.Path(args.trace)
    if trace_path.exists():
        trace = Trace.load(trace_path)
        ws = trace.working_set_bytes()
        caps = [int(ws * f) for f in (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)]
        n = sum(1 for _ in trace.requests())
        print(f"\nFigure 4.6-style: {trace_path.name}, {n} requests, working set {ws / 1e6:.1f} MB, "
              f"independent {trace.independent_seconds():.1f} s of compute")
        for cost in ("own", "recompute"):
            rows = sweep(trace, [*VARIANTS, "belady"], caps, seed=0, cost=cost)
            report["text"][cost] = rows
            if cost == "own":
                print(f"{'capacity':>10}" + "".join(f"{p.upper():>18}" for p in [*VARIANTS, "belady"]))
                for cap in caps:
                    cells = [next(r for r in rows if r["policy"] == p and r["capacity"] == cap)
                             for p in [*VARIANTS, "belady"]]
                    print(f"{cap / 1e6:>8.1f}MB" + "".join(f"{c['speedup']:>17.2f}x" for c in cells))
                plot_sweep(rows, OUT / "fig4_6_text.png",
                           title=f"Text pipeline, {n} requests: speedup vs cache size (thesis Fig. 4.6)")
    else:
        print(f"\n(no {trace_path}: run bench/reuse.py first for the Figure 4.6-style part)")

    print("\ncost='own' vs cost='recompute' (mean over capacities; trees: ratio to OPT, lower is "
          "better; text: speedup, higher is better)")
    print(f"{'policy':<18}" + "".join(f"{k:>22}" for k in ("trees own", "trees recompute",
                                                              "text own", "text recompute")))
    for p in VARIANTS:
        tree = {c: statistics.fmean(v for k, r in report["trees"].items() if k.endswith(c)
                                    for v in r[p]) for c in ("own", "recompute")}
        text = {c: statistics.fmean(r["speedup"] for r in report["text"].get(c, []) if r["policy"] == p)
                if report["text"] else float("nan") for c in ("own", "recompute")}
        report["cost_modes"][p] = {"trees": tree, "text": text}
        print(f"{p.upper():<18}{tree['own']:>22.3f}{tree['recompute']:>22.3f}"
              f"{text['own']:>22.2f}{text['recompute']:>22.2f}")
    (OUT / "cache_policies.json").write_text(json.dumps(report, indent=1, default=float))
    print(f"\nwrote {OUT / 'cache_policies.json'}, {OUT / 'fig4_5_trees.png'}"
          + (f", {OUT / 'fig4_6_text.png'}" if trace_path.exists() else ""))


if __name__ == "__main__":
    main()
