"""What reuse saved: a summary computed from a run's trace (never estimated, always measured).

* ``spent_seconds`` — compute seconds actually spent on workers (recomputations included).
* ``independent_seconds`` — what evaluating every config on its own would have cost: the sum over
  configs and folds of the measured costs of every node on the path (TP(P), thesis §4.3).
* ``merged_seconds`` — every unique node once (TP(P_merged)): the cost with an infinite cache
  (a leaf requested twice counts twice: leaves are never cached).
* ``speedup = independent / spent``; ``ideal_speedup = independent / merged``.

Shared time is never double-counted: each computation is one ``compute`` event in the trace. The
independent and merged seconds use the one cost model of every offline figure
(``dagreuse.cache.simulate``): a node costs its mean measured seconds, so an ``Unbounded``
replay's speedup is ``ideal_speedup`` exactly.

For a multi-fidelity search the independent evaluation is that of the same schedule: every
(config, resource, fold) fitted from scratch as its own pipeline — what the thesis' Fig. 4.7
compares against. A request's path holds the prefix and, with ``Iterations``, every checkpoint
below its level, so its path cost is what training to that level from scratch costs. The
per-stage table has one row per resource level of the leaf stage (``clf@1/16``), and
:attr:`Profile.rungs` one per level: training units spent and what the independent evaluation
would train, checkpoint hits (promotions that resumed from a cached model) and prefix hits.
Torch nodes record the device they ran on: ``gpu_seconds`` are those that ran on CUDA.
"""

from __future__ import annotations

import fractions
import math
import os
from collections import defaultdict
from typing import Any

from dagreuse.cache import PLAIN, POLICIES, Trace, plot_sweep, sweep

__all__ = ["Profile", "level_text"]


class Profile:
    """Reuse profile of one or more executions recorded in ``trace``."""

    def __init__(self, trace: Trace):
        self.trace = trace
        paths = [(len(e.get("configs") or [0]), e["path"]) for e in trace.requests()]
        unique = dict.fromkeys(k for _, path in paths for k in path)
        computes = [e for e in trace.events if e["ev"] == "compute"]
        self.n_requests = len(paths)
        self.n_configs_evaluated = sum(n for n, _ in paths)
        self.independent_seconds = trace.independent_seconds()
        # an infinite cache computes every inner node once and each request's leaf (never cached)
        self.merged_seconds = math.fsum(
            [trace.seconds(k) for k in unique if not trace.nodes[k]["leaf"]]
            + [trace.seconds(path[-1]) for _, path in paths])
        self.spent_seconds = math.fsum(e["seconds"] for e in computes)
        #: compute seconds on GPUs (torch nodes that ran on CUDA); the rest ran on CPU
        self.gpu_seconds = math.fsum(e["seconds"] for e in computes if _on_gpu(e))
        self.cpu_seconds = self.spent_seconds - self.gpu_seconds
        #: the devices torch nodes ran on (empty when none ran)
        self.devices = sorted({e["device"] for e in computes if "device" in e})
        self.wall_seconds = float(trace.meta.get("wall_seconds", 0.0))
        self.cache_stats = dict(trace.meta.get("cache_stats") or {})
        self.n_unique_nodes = len(unique)
        self.n_computed = len(computes)
        self.working_set_bytes = trace.working_set_bytes()
        rows: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"nodes": 0, "computed": 0, "hits": 0, "shared": 0, "seconds": 0.0, "bytes": 0}
        )
        for k in unique:
            node = trace.nodes[k]
            rows[_label(node)]["nodes"] += 1
            rows[_label(node)]["bytes"] += 0 if node["leaf"] else trace.nbytes(k)
        for e in trace.events:
            if e["ev"] in ("compute", "hit", "share"):
                row = rows[_label(trace.nodes[e["key"]])]
                if e["ev"] == "compute":
                    row["computed"] += 1
                    row["seconds"] += e["seconds"]
                    if _on_gpu(e):
                        row["gpu_seconds"] = row.get("gpu_seconds", 0.0) + e["seconds"]
                else:
                    row["hits" if e["ev"] == "hit" else "shared"] += 1
        order = {s: i for i, s in enumerate(trace.meta.get("stages", []))}
        levels = {_label(n): n.get("resource") for n in trace.nodes.values()}
        ranked = sorted(rows.items(), key=lambda sr: (
            order.get(sr[0].split("@")[0], len(order)), levels.get(sr[0]) or 0))
        self.stages = [{"stage": s, **r} for s, r in ranked]
        self.rungs = _rungs(trace)
        self.units_trained = sum(r["units"] for r in self.rungs)
        self.independent_units = sum(r["independent_units"] for r in self.rungs)
        self.checkpoint_hits = sum(r["checkpoint_hits"] for r in self.rungs)
        #: the persistent tier (``Runner(disk=...)``): results read back, and written
        self.disk_hits = trace.count("disk")
        self.disk_writes = trace.count("disk_write")

    @property
    def speedup(self) -> float:
        return _ratio(self.independent_seconds, self.spent_seconds)

    @property
    def ideal_speedup(self) -> float:
        return _ratio(self.independent_seconds, self.merged_seconds)

    @property
    def actual(self) -> tuple[str, float] | None:
        """(policy name, capacity) of the cache this run used, as ``sweep`` names them."""
        policy = str(self.trace.meta.get("policy", ""))
        name = policy.split("(")[0].lower().replace("greedydualsize", "gds")
        cap = self.cache_stats.get("capacity")
        if self.trace.meta.get("known_future") is False:
            name += PLAIN
        known = name.removesuffix(PLAIN) in POLICIES
        return (name, cap) if known and cap is not None and math.isfinite(cap) else None

    def what_if(self, policies=("lru", "reciprocal", "wreciprocal", "gds"), capacities=None,
                cost: str | None = None) -> list[dict[str, Any]]:
        """Replay this run's trace under other policies and capacities (``cache.sweep``)."""
        seed = self.trace.meta.get("seed")
        return sweep(self.trace, policies, capacities, seed=0 if seed is None else seed,
                     cost=cost or self.trace.meta.get("cost", "own"))

    def plot(self, path: str | os.PathLike | None = None, **what_if: Any) -> Any:
        """Speedup against cache size per policy, this run's configuration marked."""
        rows = self.what_if(**what_if)
        return plot_sweep(rows, path, actual=self.actual)

    def draw(self, path: str | os.PathLike | None = None, ax: Any = None) -> Any:
        """The merged DAG as a layered tree, node area by compute seconds, colour by what
        happened to it (``_draw.draw_dag``); a PNG at ``path``; returns the Axes."""
        from ._draw import draw_dag

        return draw_dag(self.trace, path, ax)

    def save(self, path: str | os.PathLike) -> None:
        """Write the trace as JSON; ``dagreuse.cache.Trace.load`` reads it back."""
        self.trace.save(path)

    def to_dict(self) -> dict[str, Any]:
        keys = ("n_requests", "n_configs_evaluated", "n_unique_nodes", "n_computed",
                "independent_seconds", "merged_seconds", "spent_seconds", "wall_seconds",
                "speedup", "ideal_speedup", "cpu_seconds", "gpu_seconds", "devices",
                "working_set_bytes", "cache_stats", "stages", "rungs", "units_trained",
                "independent_units", "checkpoint_hits", "disk_hits", "disk_writes")
        return {k: getattr(self, k) for k in keys}

    def __str__(self) -> str:
        head = f"{'stage':<14}{'nodes':>7}{'computed':>10}{'hits':>7}{'shared':>8}{'seconds':>10}{'MB':>10}"
        lines = ["Reuse profile", head, "-" * len(head)]
        for r in self.stages:
            lines.append(
                f"{r['stage'][:13]:<14}{r['nodes']:>7}{r['computed']:>10}{r['hits']:>7}"
                f"{r['shared']:>8}{r['seconds']:>10.2f}{r['bytes'] / 1e6:>10.1f}"
            )
        if self.rungs:
            lines += ["-" * len(head), f"{'level':<14}{'requests':>9}{'units':>12}"
                      f"{'from scratch':>14}{'ckpt hits':>11}{'prefix hits':>13}"]
            for r in self.rungs:
                lines.append(
                    f"{level_text(r['resource']):<14}{r['requests']:>9}{r['units']:>12g}"
                    f"{r['independent_units']:>14g}{r['checkpoint_hits']:>11}{r['prefix_hits']:>13}")
        c = self.cache_stats
        cap = c.get("capacity", math.inf)
        cap_text = "unbounded" if cap == math.inf else f"{cap / 1e6:.1f} MB"
        lines += [
            "-" * len(head),
            f"requests (config x fold): {self.n_requests}   unique nodes: {self.n_unique_nodes}"
            f"   computed: {self.n_computed}",
            f"compute seconds: spent {self.spent_seconds:.2f}, independent evaluation would spend "
            f"{self.independent_seconds:.2f}, every unique node once {self.merged_seconds:.2f}",
            f"speedup {self.speedup:.2f}x (ideal {self.ideal_speedup:.2f}x)   wall {self.wall_seconds:.2f} s",
            *([f"torch nodes ran on {', '.join(self.devices)}: compute seconds on CPU "
               f"{self.cpu_seconds:.2f}, on GPU {self.gpu_seconds:.2f}"] if self.devices else []),
            f"cache {self.trace.meta.get('policy', '?')}: capacity {cap_text}, "
            f"peak {c.get('peak_bytes', 0) / 1e6:.1f} MB, hits {c.get('hits', 0)}, "
            f"misses {c.get('misses', 0)}, evictions {c.get('evictions', 0)}",
            *([f"disk tier: {self.disk_hits} results read back, {self.disk_writes} written"]
              if self.disk_hits or self.disk_writes else []),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Profile(speedup={self.speedup:.2f}, ideal_speedup={self.ideal_speedup:.2f})"


def level_text(level: Any) -> str:
    """A resource level as read: ``27``, or a fraction as ``1/16`` when it is one."""
    if isinstance(level, float) and not level.is_integer():
        f = fractions.Fraction(level).limit_denominator(10_000)
        return f"{f.numerator}/{f.denominator}" if abs(float(f) - level) < 1e-12 else f"{level:g}"
    return f"{level:g}" if isinstance(level, float) else str(level)


def _label(node: dict[str, Any]) -> str:
    level = node.get("resource")
    return node["stage"] if level is None else f"{node['stage']}@{level_text(level)}"


def _rungs(trace: Trace) -> list[dict[str, Any]]:
    """One row per resource level of the requests (class docstring of the module)."""
    level_of = {e["req"]: e["resource"] for e in trace.requests() if "resource" in e}
    if not level_of:
        return []
    rows: dict[Any, dict[str, Any]] = {}

    def row(level: Any) -> dict[str, Any]:
        return rows.setdefault(level, {"resource": level, "requests": 0, "units": 0,
                                       "independent_units": 0, "checkpoint_hits": 0,
                                       "prefix_hits": 0, "seconds": 0.0})

    for e in trace.requests():
        if "resource" in e:
            r = row(e["resource"])
            r["requests"] += 1
            r["independent_units"] += len(e.get("configs") or [0]) * sum(
                trace.nodes[k].get("units", 0) for k in e["path"])
    for e in trace.events:
        node = trace.nodes.get(e.get("key"))
        if e["ev"] == "compute" and node.get("resource") is not None:
            r = row(node["resource"])
            r["units"] += node.get("units", 0)
            r["seconds"] += e["seconds"]
        elif e["ev"] in ("hit", "share") and e.get("req") in level_of:
            r = row(level_of[e["req"]])
            if node.get("checkpoint"):
                r["checkpoint_hits"] += 1
            elif node.get("resource") is None and e["ev"] == "hit":
                r["prefix_hits"] += 1
    return [rows[k] for k in sorted(rows)]


def _on_gpu(event: dict[str, Any]) -> bool:
    return str(event.get("device", "cpu")).startswith("cuda")


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else (1.0 if a == 0 else math.inf)
