"""What-if sweeps over policies and capacities, and the speedup-against-cache-size figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._offline import OPT, Belady
from ._optional import require
from ._policy import LRU, GreedyDualSize, Policy, Reciprocal, WReciprocal
from ._simulate import simulate
from ._size import format_bytes
from ._trace import Trace

__all__ = ["PLAIN", "POLICIES", "default_capacities", "is_plain", "make_policy", "plot_sweep", "sweep"]

#: Names accepted by ``dagreuse profile --policies`` and :func:`sweep`.
POLICIES = {"lru": LRU, "reciprocal": Reciprocal, "wreciprocal": WReciprocal,
            "gds": GreedyDualSize, "belady": Belady, "opt": OPT}


#: A policy name with this suffix (``"wreciprocal-plain"``) replays without the known future.
PLAIN = "-plain"


def is_plain(name: str) -> bool:
    """Whether a policy name asks for the plain policy, without the known future."""
    return name.lower().endswith(PLAIN)


def make_policy(name: str, capacity: float, seed: int | None = 0) -> Policy:
    cls = POLICIES.get(name.lower().removesuffix(PLAIN))
    if cls is None or (is_plain(name) and getattr(cls, "offline", False)):
        raise ValueError(f"Unknown policy {name!r}. Allowed: {', '.join(POLICIES)}, and an "
                         f"online one with {PLAIN!r} appended (without the known future).")
    return cls(capacity, seed=seed) if cls.randomized else cls(capacity)


def default_capacities(trace: Trace) -> list[float]:
    """Fractions 1/64 .. 1 of the working set, plus the capacity the run actually used."""
    ws = trace.working_set_bytes()
    caps = {int(ws * f) for f in (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)}
    live = trace.meta.get("capacity")
    if isinstance(live, int | float) and math.isfinite(live) and live <= 2 * ws:
        caps.add(int(live))
    return sorted(caps)


def sweep(
    trace: Trace,
    policies: Sequence[str] = ("lru", "reciprocal", "wreciprocal", "gds"),
    capacities: Sequence[float] | None = None,
    *,
    seed: int | None = 0,
    cost: str = "own",
) -> list[dict[str, Any]]:
    """Replay ``trace`` for every policy x capacity; one row each with seconds and speedup. A
    name ending in ``-plain`` replays that policy without the known future, any other online
    one with it (where the trace records its submissions)."""
    rows = []
    for capacity in capacities if capacities is not None else default_capacities(trace):
        for name in policies:
            r = simulate(trace, make_policy(name, capacity, seed), cost=cost,
                         known_future=not is_plain(name))
            rows.append({"policy": name, "capacity": capacity, "seconds": r.seconds,
                         "speedup": r.speedup, "hits": r.hits, "misses": r.misses,
                         "evictions": r.evictions, "peak_bytes": r.peak_bytes})
    return rows


def plot_sweep(rows: list[dict[str, Any]], path: Any = None, *, actual: tuple[str, float] | None = None,
               title: str = "Speedup over independent evaluation", ax: Any = None) -> Any:
    """Speedup against cache size, one line per policy; ``actual`` = (policy, capacity) marked.

    Writes ``path`` (PNG) when given; returns the matplotlib Axes (for notebooks).
    """
    matplotlib = require("matplotlib", "Plotting")
    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in dict.fromkeys(r["policy"] for r in rows):
        pts = sorted((r["capacity"] / 1e6, r["speedup"]) for r in rows if r["policy"] == name)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name.upper())
    if actual is not None:
        hit = [r for r in rows if r["policy"] == actual[0] and r["capacity"] == actual[1]]
        if hit:
            ax.scatter([actual[1] / 1e6], [hit[0]["speedup"]], s=160, facecolors="none",
                       edgecolors="black", linewidths=2, zorder=5,
                       label=f"this run ({actual[0]}, {format_bytes(actual[1])})")
    ax.set_xlabel("cache capacity (MB)")
    ax.set_ylabel("speedup over independent evaluation (x)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if fig is not None and path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return ax
