"""Offline policies, which need the future and so exist only in simulation.

* :class:`Belady` evicts the entry whose next use is farthest away. It is optimal for classic
  paging (one cacheable node per request, unit sizes and costs); with paths of several nodes or
  weighted entries it is a heuristic (a miss then costs the uncached ancestors too), and is
  reported as such.
* :class:`OPT` is the exact optimum, by integer programming (``scipy.optimize.milp``), for small
  traces. The cache may change only between requests, which loses nothing: within a request the
  nodes already walked past are not needed again by it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable

import numpy as np

from ._policy import Policy

__all__ = ["OPT", "Belady"]


class Belady(Policy):
    """Evict the entry (or refuse the candidate) whose next use is farthest in the future.

    Ties go to the shallower node (a deeper one also spares its ancestors' recomputation).
    """

    offline = True

    def reset(self) -> None:
        super().reset()
        self._uses: dict[Hashable, list[int]] = {}
        self._depth: dict[Hashable, int] = {}
        self._now = 0

    def prepare(self, trace, paths) -> None:
        for t, path in enumerate(paths):
            for depth, key in enumerate(path):
                self._uses.setdefault(key, []).append(t)
                self._depth[key] = depth

    def advance(self, t: int) -> None:
        self._now = t

    def _next_use(self, key: Hashable) -> float:
        uses = self._uses.get(key, [])
        i = bisect.bisect_right(uses, self._now)
        return uses[i] if i < len(uses) else math.inf

    def victim(self, entries, new_key, new):
        candidates = [*entries, *([] if new_key is None else [new_key])]
        return max(candidates, key=lambda k: (self._next_use(k), -self._depth.get(k, 0)))


class OPT(Policy):
    """The optimal offline cache for a trace: minimum compute seconds, by integer programming.

    Variables: ``x[k, t]`` — node k is cached when request t starts; ``c[k, t]`` — request t
    computes node k (only for k on its path). Constraints: capacity at every t; a node enters the
    cache only right after it was computed; a computed node's parent is cached or computed; the
    leaf is always computed. Objective: the sum of ``seconds(k) * c[k, t]``, with the replay's
    cost model (``_simulate``: each computation charged the node's mean seconds), solved to a
    zero optimality gap so that no replay beats it. Practical for tens of requests over tens of
    nodes (``time_limit`` seconds; ``exact`` says whether it proved the optimum).
    """

    offline = True

    def __init__(self, capacity, *, time_limit: float = 60.0):
        super().__init__(capacity)
        self.time_limit = time_limit

    def victim(self, entries, new_key, new):  # pragma: no cover - solved, not replayed
        raise TypeError("OPT is solved as a whole by simulate(); it makes no online decisions.")

    def solve(self, trace, paths):
        program = _Program(trace, paths, self.capacity)
        x, self.exact = program.solve(self.time_limit)
        return program.result(x, repr(self))


class _Program:
    """OPT's integer program over one trace (:class:`OPT`): its variables and constraints, built
    once; solved; read back as a replay's result."""

    def __init__(self, trace, paths: list[list[Hashable]], capacity: float):
        self.trace, self.paths, self.capacity = trace, paths, capacity
        self.cacheable = sorted({k for p in paths for k in p[:-1]})
        self.sizes = {k: trace.nbytes(k) for k in self.cacheable}
        self.index: dict[tuple[str, Hashable, int], int] = {}
        for t, path in enumerate(paths):
            for k in path:
                self._var("c", k, t)
        for t in range(1, len(paths)):
            for k in self.cacheable:
                self._var("x", k, t)
        self.rows: list[dict[int, float]] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self._cache_rows()
        self._request_rows()

    def _var(self, kind: str, k: Hashable, t: int) -> int:
        return self.index.setdefault((kind, k, t), len(self.index))

    def _add(self, coefs: dict[int, float], low: float, high: float) -> None:
        self.rows.append(coefs)
        self.lo.append(low)
        self.hi.append(high)

    def _cache_rows(self) -> None:
        """Capacity at every request; a node enters the cache only right after it was computed."""
        index = self.index
        for t in range(1, len(self.paths)):
            if math.isfinite(self.capacity):
                self._add({index[("x", k, t)]: self.sizes[k] for k in self.cacheable}, -np.inf,
                          self.capacity)
            for k in self.cacheable:  # x[k,t] <= x[k,t-1] + c[k,t-1]
                coefs = {index[("x", k, t)]: 1.0}
                if ("x", k, t - 1) in index:
                    coefs[index[("x", k, t - 1)]] = -1.0
                if ("c", k, t - 1) in index:
                    coefs[index[("c", k, t - 1)]] = -1.0
                self._add(coefs, -np.inf, 0.0)

    def _request_rows(self) -> None:
        """The leaf is computed; a computed node's parents are cached or computed."""
        index = self.index
        for t, path in enumerate(self.paths):
            self._add({index[("c", path[-1], t)]: 1.0}, 1.0, 1.0)
            for child in path:
                for parent in self.trace.parents(child):
                    coefs = {index[("c", child, t)]: -1.0, index[("c", parent, t)]: 1.0}
                    if ("x", parent, t) in index:
                        coefs[index[("x", parent, t)]] = 1.0
                    self._add(coefs, 0.0, np.inf)

    def solve(self, time_limit: float) -> tuple[np.ndarray, bool]:
        """The 0/1 solution, and whether it is proved optimal."""
        from scipy import sparse
        from scipy.optimize import Bounds, LinearConstraint, milp

        n = len(self.index)
        cost = np.zeros(n)
        for (kind, k, _), i in self.index.items():
            if kind == "c":
                cost[i] = max(self.trace.seconds(k), 0.0)
        r_idx = [r for r, coefs in enumerate(self.rows) for _ in coefs]
        c_idx = [i for coefs in self.rows for i in coefs]
        vals = [v for coefs in self.rows for v in coefs.values()]
        A = sparse.csr_array((vals, (r_idx, c_idx)), shape=(len(self.rows), n))
        res = milp(cost, constraints=LinearConstraint(A, self.lo, self.hi), integrality=np.ones(n),
                   bounds=Bounds(0, 1), options={"time_limit": time_limit, "mip_rel_gap": 0.0})
        if res.x is None:
            raise RuntimeError(f"OPT: the integer program found no solution ({res.message}).")
        return np.round(res.x).astype(int), bool(res.status == 0)

    def result(self, x: np.ndarray, name: str):
        """The solution ``x`` as a replay's outcome: hits, misses, evictions, seconds charged."""
        from ._simulate import SimResult

        index, sizes, cacheable = self.index, self.sizes, self.cacheable
        hits = misses = evictions = peak = 0
        computed: dict[Hashable, int] = {}
        for t, path in enumerate(self.paths):
            inner = path[:-1]
            hits += any(t > 0 and x[index[("x", k, t)]] for k in inner)
            for k in path:
                if x[index[("c", k, t)]]:
                    computed[k] = computed.get(k, 0) + 1
                    misses += k in inner
            if t > 0:
                peak = max(peak, sum(sizes[k] for k in cacheable if x[index[("x", k, t)]]))
                if t > 1:
                    evictions += sum(1 for k in cacheable
                                     if x[index[("x", k, t - 1)]] and not x[index[("x", k, t)]])
        seconds = math.fsum(self.trace.seconds(k) for k, c in computed.items() for _ in range(c))
        return SimResult(name, self.capacity, "opt", seconds, hits, misses, evictions, peak,
                         self.trace.independent_seconds(), computed)
