"""Replay a trace under any policy and capacity: "what if I had used another cache?"

Semantics are the Runner's with ``max_in_flight=1`` — the same :func:`resolve`: each request
reuses the deepest cached node of its path (a hit), computes everything below it (misses; the
leaf is always computed) and offers each computed inner node to the cache; and the same known
future: from the trace's ``submit`` events the replay knows which requests were submitted and
not done yet (and from ``expect`` events, which finished ones a search expected to build on),
and the cache evicts the nodes none of them needs first (for online policies:
Belady and OPT see the whole future anyway). A trace without ``submit`` events (an
older or a synthetic one) is replayed without that rule; ``known_future=False`` replays a trace
that has them without it too (the plain policy, for comparison).

One cost model. Every offline figure charges a computation of a node the same
cost: the node's mean measured seconds (``Trace.seconds``). The replay charges it, :class:`OPT`
minimises it, and the profile's independent and merged seconds sum it — so OPT is never beaten
by a replay, and an :class:`Unbounded` replay's speedup is ``Profile.ideal_speedup`` exactly.
What a policy *weighs* when it decides is what the live Runner saw then: the k-th computation
of a node offers the cache the seconds its k-th live computation took (the running mean once
the live ones run out). So replaying a live trace with the live policy, capacity and seed makes
the live decisions — the same hits, misses and evictions — and, computing each node as often as
the live run did, charges the seconds it spent.

Two tiers (``disk=``: a policy with the persistent tier's capacity, as ``DiskCache`` uses one):
every inner node computed for at least ``disk_min_seconds`` is offered to the disk tier too, and
a memory miss that the disk tier holds costs reading it back — the trace's measured read
seconds per byte (``disk`` events), or ``DISK_SECONDS_PER_BYTE`` for a trace that has none —
instead of recomputing it and its missing ancestors.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Hashable
from dataclasses import dataclass, field

from ._future import EXPECTED, PENDING, KnownFuture
from ._policy import Policy
from ._resolve import resolve
from ._store import Cache
from ._trace import Trace, running_mean

__all__ = ["DISK_SECONDS_PER_BYTE", "SimResult", "simulate"]

#: what reading a result back from disk costs per byte when the trace measured none (1 GB/s)
DISK_SECONDS_PER_BYTE = 1e-9


class _Failed(Exception):
    """A node that failed live fails its request in the replay too."""


@dataclass
class SimResult:
    """Outcome of one replay: compute seconds spent and cache statistics."""

    policy: str
    capacity: float
    cost: str
    seconds: float
    hits: int
    misses: int
    evictions: int
    peak_bytes: int
    independent_seconds: float = 0.0
    computed: dict = field(default_factory=dict, repr=False)  # key -> times computed
    disk_hits: int = 0

    @property
    def speedup(self) -> float:
        """Independent evaluation's compute seconds / this replay's."""
        return self.independent_seconds / self.seconds if self.seconds > 0 else math.inf


def simulate(trace: Trace, policy: Policy, cost: str = "own", *,
             known_future: bool | None = None, disk: Policy | None = None,
             disk_min_seconds: float = 0.0) -> SimResult:
    """Replay ``trace`` with ``policy`` (which carries its capacity and seed). With
    ``known_future=False`` the policy decides as if no request were known ahead; default: as
    the traced run did (``Runner(known_future=...)``). ``disk``: the policy and capacity of a
    persistent second tier (module docstring)."""
    if not isinstance(trace, Trace):
        raise TypeError(f"The 'trace' parameter of simulate must be a Trace. Got {trace!r} instead.")
    if not isinstance(policy, Policy):
        raise TypeError(
            "The 'policy' parameter of simulate must be a dagreuse.cache policy such as "
            f"WReciprocal('64MB', seed=0). Got {policy!r} instead."
        )
    if disk is not None and not isinstance(disk, Policy):
        raise TypeError("The 'disk' parameter of simulate must be a dagreuse.cache policy such "
                        f"as WReciprocal('20GB'), or None. Got {disk!r} instead.")
    if getattr(policy, "solve", None) is not None:  # exact OPT: an optimisation, not a replay
        return policy.solve(trace, _requests(trace)[2])
    if known_future is None:
        known_future = trace.meta.get("known_future", True)
    return _Replay(trace, policy, cost, disk, disk_min_seconds).run(known_future)


class _Replay:
    """The state of one replay: the caches, what each node has cost so far, the known future."""

    def __init__(self, trace: Trace, policy: Policy, cost: str, disk: Policy | None,
                 disk_min_seconds: float):
        self.trace, self.policy, self.cost = trace, policy, cost
        self.paths, self.gone, self.live = _requests(trace)
        self.future = KnownFuture()  # nodes of the requests submitted and not done
        self.store = Cache(policy, cost=cost)
        self.second = None if disk is None else Cache(disk)
        self.disk_min_seconds = disk_min_seconds
        self.read = _read_seconds_per_byte(trace)
        self.measured = trace.computations()
        self.done: dict[Hashable, int] = {}
        self.means: dict[Hashable, float] = {}  # running means, as the live trace had them
        self.charges: list[float] = []  # the mean of each node computed, once per computation
        self.disk_hits = 0

    def run(self, known_future: bool) -> SimResult:
        # online policies of traces that record their submissions see the known future; offline
        # ones see the whole future anyway
        if (known_future and not getattr(self.policy, "offline", False)
                and self.trace.count("submit") > 0):
            self.store.needed = self.future.tier
        if hasattr(self.store.policy, "prepare"):
            self.store.policy.prepare(self.trace, self.live)
        known, t, lt = 0, 0, 0  # requests submitted so far; the next request; the next live one
        for e in self.trace.events:
            if e["ev"] == "submit":
                for p in self.paths[known:known + e["n"]]:
                    self.future.add(p, PENDING)
                known += e["n"]
            elif e["ev"] in ("expect", "unexpect"):
                for r in e["reqs"]:
                    self.future.add(self.paths[r], EXPECTED, 1 if e["ev"] == "expect" else -1)
            elif e["ev"] == "request":
                if t not in self.gone:  # else a resumed search submitted its job again
                    self._request(self.paths[t], lt)
                    lt += 1
                self.future.add(self.paths[t], PENDING, -1)
                t += 1
        return self._result()

    def _request(self, path: list[Hashable], lt: int) -> None:
        if hasattr(self.store.policy, "advance"):
            self.store.policy.advance(lt)
        with contextlib.suppress(_Failed):
            resolve(path[-1], parents=self.trace.parents,
                    leaf=lambda k: self.trace.nodes[k]["leaf"], cache=self.store,
                    compute=self._compute, mark=lambda ev, k: None,
                    load=None if self.second is None else self._load)

    def _load(self, key: Hashable) -> bool | None:
        if key not in self.second:
            return None
        self.disk_hits += 1
        nbytes = self.trace.nbytes(key)
        self.charges.append(self.read * nbytes)
        self.store.offer_computed(key, True, nbytes, self.trace.seconds(key), self.trace.parents,
                                  self._seconds_of)
        return True

    def _seconds_of(self, key: Hashable) -> float:
        return self.means.get(key, self.trace.seconds(key))

    def _compute(self, key: Hashable, args: list) -> bool:
        trace = self.trace
        if trace.nodes[key]["seconds"] is None:  # never completed live: it failed there
            raise _Failed(key)
        runs, n = self.measured.get(key, ()), self.done.get(key, 0)
        s = runs[n] if n < len(runs) else trace.seconds(key)
        self.done[key] = n + 1
        self.means[key] = running_mean(self.means.get(key), n, s)
        self.charges.append(trace.seconds(key))
        if not trace.nodes[key]["leaf"]:
            self.store.offer_computed(key, True, trace.nbytes(key), s, trace.parents,
                                      self._seconds_of)
            if self.second is not None and s >= self.disk_min_seconds:
                self.second.offer(key, True, trace.nbytes(key), s)
        return True

    def _result(self) -> SimResult:
        stats = self.store.stats()
        return SimResult(repr(self.policy), self.store.capacity, self.cost,
                         math.fsum(self.charges), stats["hits"], stats["misses"],
                         stats["evictions"], stats["peak_bytes"],
                         self.trace.independent_seconds(), self.done, self.disk_hits)


def _requests(trace: Trace) -> tuple[list, set[int], list]:
    """The path of every request by number, the numbers a resumed search abandoned (submitted
    again), and the paths of those that ran."""
    paths = [e["path"] for e in trace.requests(abandoned=True)]
    gone = set(trace.meta.get("abandoned", ()))
    return paths, gone, [p for t, p in enumerate(paths) if t not in gone]


def _read_seconds_per_byte(trace: Trace) -> float:
    """Measured disk read seconds per byte of the trace's ``disk`` events, where timed."""
    timed = [e for e in trace.events if e["ev"] == "disk" and e.get("seconds") is not None]
    total = sum(e["bytes"] for e in timed)
    return sum(e["seconds"] for e in timed) / total if total else DISK_SECONDS_PER_BYTE
