"""dagreuse.cache — byte-bounded caches of intermediate results, eviction policies and traces.

Layering: this package imports nothing else of dagreuse (``pipes`` may import it; ``search`` may
import both). Policies decide who leaves (``_policy``); the store owns the bytes (``_store``);
traces record what a run did so it can be replayed (``_trace``).
"""

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
from ._size import format_bytes, parse_capacity, sizeof
from ._store import Cache, CacheStats
from ._trace import Trace

__all__ = [
    "EPSILON",
    "LRU",
    "Cache",
    "CacheStats",
    "Entry",
    "GreedyDualSize",
    "NoCache",
    "Policy",
    "Reciprocal",
    "Trace",
    "Unbounded",
    "WReciprocal",
    "format_bytes",
    "parse_capacity",
    "sizeof",
]
