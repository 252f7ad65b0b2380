"""Deterministic content keys (DESIGN §4).

A node's key is a hash of canonical *data*: its parent's key, its stage name, the operator's
class path and its parameters (``get_params(deep=False)``, nested estimators recursively). Keys
never depend on ``id()``, memory addresses or the process, so equal-but-distinct objects (two
``PCA(2)``, equal tuples) get equal keys and keys agree across workers and runs; golden values
are pinned in ``tests/pipes/test_keys.py``.

Functions are keyed by what they are: an importable one by its module and qualified name; a
lambda or a function defined inside a function by its code (bytecode, constants, the names it
uses), its defaults and the values its closure holds, so two equal lambdas key alike in any
process and a closure over another value keys apart. The globals such a function reads are
keyed by name, not value. A value that cannot be described as data (a ``RandomState`` whose
state changes as it is used, an arbitrary object) is refused with an error naming the stage and
parameter and saying what to pass instead. A torch module instance (skorch takes one as well as
a class) is keyed by its class, its structure and its weights' content.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import math
import threading
import types
from typing import Any

import joblib
import numpy as np

__all__ = ["KeyingError", "canonical", "canonical_dict", "canonical_estimator", "data_token", "token"]


class KeyingError(TypeError):
    """A value cannot be keyed deterministically."""


def _path(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def canonical(value: Any, where: str = "value") -> Any:
    """Return a JSON-serialisable, process-independent description of ``value``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.generic):
        return canonical(value.item(), where)
    if isinstance(value, tuple | list):
        tag = "tuple" if isinstance(value, tuple) else "list"
        return {tag: [canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return canonical_dict({canonical(k, where): canonical(v, f"{where}[{k!r}]")
                               for k, v in value.items()})
    if isinstance(value, set | frozenset):
        items = [canonical(v, where) for v in value]
        return {"set": sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"ndarray": [list(value.shape), canonical(value.ravel().tolist(), where)]}
        data = np.ascontiguousarray(value)
        digest = hashlib.sha256(data.tobytes()).hexdigest()
        return {"ndarray": [data.dtype.str, list(data.shape), digest]}
    if isinstance(value, enum.Enum):
        return {"enum": [_path(type(value)), value.name]}
    if isinstance(value, functools.partial):
        return {"partial": [canonical(value.func, where), canonical(value.args, where),
                            canonical(value.keywords, where)]}
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return canonical_estimator(type(value), canonical(params, f"{where} ({type(value).__name__})"))
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType | type | np.ufunc):
        path = _path(value) if not isinstance(value, np.ufunc) else f"numpy.{value.__name__}"
        if isinstance(value, types.FunctionType) and ("<lambda>" in path or "<locals>" in path):
            return _function(value, path, where)
        return {"callable": path}
    if callable(getattr(value, "state_dict", None)) and callable(getattr(value, "named_parameters", None)):
        return _torch_module(value)
    if isinstance(value, types.MethodType):
        return {"method": [canonical(value.__self__, where), value.__func__.__name__]}
    raise KeyingError(
        f"{where} is {value!r} of type {type(value).__name__}, which cannot be keyed "
        "deterministically. Use plain values (numbers, strings, tuples, dicts, arrays), "
        "estimators, or module-level functions; for random_state pass an int."
    )


_keying = threading.local()  # functions being keyed on this thread (a closure may hold itself)


def _function(fn: types.FunctionType, path: str, where: str) -> dict:
    """A function with no stable import path, keyed by its code, defaults and closure values."""
    busy = _keying.__dict__.setdefault("busy", set())
    if id(fn) in busy:
        return {"recursive": path}
    busy.add(id(fn))
    try:
        cells = []
        for cell in fn.__closure__ or ():
            try:
                cells.append(canonical(cell.cell_contents, f"{where} (a value its closure holds)"))
            except ValueError:  # an empty cell
                cells.append({"empty": None})
        return {"function": [path, _code(fn.__code__, where), canonical(fn.__defaults__, where),
                             canonical(fn.__kwdefaults__, where), cells]}
    finally:
        busy.discard(id(fn))


def _code(code: types.CodeType, where: str) -> list:
    consts = [_code(c, where) if isinstance(c, types.CodeType) else canonical(c, where)
              for c in code.co_consts]
    return [hashlib.sha256(code.co_code).hexdigest(), consts, list(code.co_names),
            list(code.co_varnames)]


def _torch_module(module: Any) -> dict:
    """A torch module *instance* (a skorch ``module=MLP()``): its class, its structure as torch
    prints it, and its weights' content — the same for two equal modules in any process."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        if type(tensor).__name__.startswith("Uninitialized"):  # a lazy module's, before use
            digest.update(b"uninitialized")
        elif hasattr(tensor, "detach"):
            digest.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
            raw = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(raw.view(torch.uint8).numpy().tobytes())  # any dtype, bfloat16 too
    return {"torch_module": [_path(type(module)), repr(module), digest.hexdigest()]}


def canonical_dict(items: dict[Any, Any]) -> dict:
    """The canonical form of a dict whose keys and values are canonical already."""
    return {"dict": sorted(([k, v] for k, v in items.items()),
                           key=lambda kv: json.dumps(kv[0], sort_keys=True))}


def canonical_estimator(cls: type, params: dict) -> dict:
    """The canonical form of an estimator of class ``cls`` whose ``get_params(deep=False)`` has
    the canonical form ``params`` (a ``canonical_dict``)."""
    return {"estimator": [_path(cls), params]}


def token(*parts: Any) -> str:
    """A 32-hex-digit key for already canonical ``parts``."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def data_token(X: Any, y: Any) -> str:
    """Key of the input data; content-based (``joblib.hash``), so a copy of X keys the same."""
    return token("data", joblib.hash(X), joblib.hash(y))
