"""Byte sizes: parsing capacities and measuring real objects.

Sizes decide admission and eviction, so they must describe what a result really holds in memory:
array buffers, sparse matrix components, and the arrays inside fitted estimators — never
``sys.getsizeof`` of a container, which counts only pointers.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from dask.sizeof import sizeof as _dask_sizeof

__all__ = ["format_bytes", "parse_capacity", "sizeof"]

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_capacity(value: Any, *, owner: str = "cache", name: str = "capacity") -> float:
    """Return a capacity in bytes from an int, a float or a string such as ``"512MB"``.

    ``math.inf`` is allowed (an unbounded cache). Units are decimal (kB, MB, GB) or binary
    (KiB, MiB, GiB), as in dask's ``parse_bytes``.
    """
    allowed = "a number of bytes >= 0 or a string like '512MB' or '2GiB'"
    if isinstance(value, bool):
        raise TypeError(f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead.")
    if isinstance(value, int | float | np.integer | np.floating):
        if math.isnan(value) or value < 0:
            raise ValueError(
                f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead."
            )
        return float(value) if math.isinf(value) else int(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(
                f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead."
            )
        return int(float(match.group(1)) * _UNITS[unit])
    raise TypeError(f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead.")


def format_bytes(n: float) -> str:
    """``"256MB"``-style text that :func:`parse_capacity` reads back exactly."""
    if math.isinf(n):
        return "inf"
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale and n % scale == 0:
            return f"{int(n // scale)}{unit}"
    return f"{int(n)}B"


def sizeof(obj: Any, _depth: int = 0) -> int:
    """Bytes held by ``obj``, following containers and object attributes a few levels down.

    Arrays, sparse matrices and pandas objects use dask's registered measures; fitted estimators
    (any object with a ``__dict__``) are the sum of their attributes, so a fitted PCA counts its
    ``components_`` rather than the 56 bytes of its instance header.
    """
    if obj is None or isinstance(obj, bool | int | float | complex):
        return 16
    if isinstance(obj, str | bytes | np.ndarray | np.generic) or _depth > 4:
        return int(_dask_sizeof(obj))
    if isinstance(obj, list | tuple | set | frozenset):
        return 64 + sum(sizeof(item, _depth + 1) for item in obj)
    if isinstance(obj, dict):
        return 64 + sum(sizeof(k, _depth + 1) + sizeof(v, _depth + 1) for k, v in obj.items())
    registered = _dask_sizeof.dispatch(type(obj))
    if registered is not _dask_sizeof.dispatch(object):
        return int(registered(obj))
    attrs = getattr(obj, "__dict__", None)
    if attrs:
        return 64 + sum(sizeof(v, _depth + 1) for v in attrs.values())
    return int(_dask_sizeof(obj))
