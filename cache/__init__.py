"""dagreuse.cache — byte-bounded caches of intermediate results, eviction policies and traces.

Layering: this package imports nothing else of dagreuse (``pipes`` may import it; ``search`` may
import both). Policies decide who leaves (``_policy``); the store owns the bytes (``_store``);
traces record what a run did (``_trace``) and the simulator replays them under any policy and
capacity (``_simulate``), including the offline Belady and exact OPT (``_offline``) on real or
synthetic traces (``_synthetic``). ``_future`` says which entries requests still to come need,
so the store evicts the others first. ``_disk`` is the persistent second tier.
"""

from ._disk import DiskCache
from ._future import KnownFuture
from ._offline import OPT, Belady
from ._optional import MissingDependency, require
from ._policy import (
    EPSILON,
    LRU,
    Entry,
    GreedyDualSize,
    NoCache,
    Policy,
    Reciprocal,
    Unbounded,
    WReciprocal,
)
from ._resolve import resolve
from ._simulate import SimResult, simulate
from ._size import format_bytes, parse_capacity, sizeof
from ._store import COSTS, Cache, CacheStats
from ._synthetic import thesis_tree_a, thesis_tree_b, tree_trace
from ._trace import Trace
from ._whatif import PLAIN, POLICIES, default_capacities, make_policy, plot_sweep, sweep

__all__ = [
    "COSTS",
    "EPSILON",
    "LRU",
    "OPT",
    "PLAIN",
    "POLICIES",
    "Belady",
    "Cache",
    "CacheStats",
    "DiskCache",
    "Entry",
    "GreedyDualSize",
    "KnownFuture",
    "MissingDependency",
    "NoCache",
    "Policy",
    "Reciprocal",
    "SimResult",
    "Trace",
    "Unbounded",
    "WReciprocal",
    "default_capacities",
    "format_bytes",
    "make_policy",
    "parse_capacity",
    "plot_sweep",
    "require",
    "resolve",
    "simulate",
    "sizeof",
    "sweep",
    "thesis_tree_a",
    "thesis_tree_b",
    "tree_trace",
]
