"""The persistent tier: results kept in a directory, so that a second run of the same or an
overlapping search — or a search resumed from its journal — reuses the first one's prefixes and
checkpoints instead of recomputing them.

One file per entry, named by a digest of its key: a JSON header line (the full key, the
payload's SHA-256 and length, the seconds the result cost) and the payload, the value as
``joblib.dump`` writes it. joblib, not a hand-made pickler, because it is what scikit-learn's own
caching (``joblib.Memory``) stores fitted models and numpy arrays with, efficiently; zict
(Dask's spilling) was the other candidate, but its ``File`` writes in place and keeps its index
in the memory of one process, where this tier needs atomic writes and a budget shared by
processes.

* **Atomic**: an entry is written to a temporary file in the directory and renamed into place,
  so a reader sees a whole entry or none.
* **Verified**: a read checks the key and the checksum before unpickling; a damaged or
  truncated entry is removed, with a warning, and reads as a miss (the node is recomputed).
* **Private**: the directory is created with mode 0700, and there is no default one: nothing
  is unpickled from a directory the user did not name.
* **Bounded across processes**: admissions hold an exclusive ``fcntl`` lock on the directory's
  lock file while they read the index (``index.json``: each entry's bytes and cost), ask the
  policy which entries make room (the same admission loop as the memory tier:
  ``Cache.offer``), write, and remove the victims.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Hashable, Iterator
from typing import Any

import joblib

from ._policy import Policy, WReciprocal
from ._size import format_bytes, parse_capacity
from ._store import Cache

__all__ = ["DiskCache"]

_FORMAT = 1
_INDEX, _LOCK = "index.json", ".lock"


class DiskCache:
    """A byte-bounded directory of results, the second tier behind a Runner's memory cache.

    Parameters
    ----------
    path:
        The directory (created with mode 0700; ``~`` is expanded). Several Runners and
        processes may share it.
    capacity:
        Its byte budget (``"20GB"``), held across the processes that share it.
    policy:
        The eviction policy class that chooses what leaves the directory when it is full
        (``WReciprocal`` by default: the cheapest to recompute per byte goes first).
    min_seconds:
        Results that cost less to compute are not written: recomputing them is about as quick
        as reading them back.
    """

    def __init__(self, path: str | os.PathLike, capacity: Any = "20GB",
                 policy: type[Policy] = WReciprocal, *, min_seconds: float = 0.01):
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"The 'path' parameter of DiskCache must be a directory name (str or "
                            f"path). Got {path!r} instead.")
        if not (isinstance(policy, type) and issubclass(policy, Policy)):
            raise TypeError(f"The 'policy' parameter of DiskCache must be a dagreuse.cache policy "
                            f"class such as WReciprocal or LRU. Got {policy!r} instead.")
        if isinstance(min_seconds, bool) or not isinstance(min_seconds, int | float) or not (
                min_seconds >= 0):
            raise ValueError(f"The 'min_seconds' parameter of DiskCache must be a number >= 0. "
                             f"Got {min_seconds!r} instead.")
        self.path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        self.capacity = parse_capacity(capacity, owner="DiskCache")
        self.policy = policy
        self.min_seconds = float(min_seconds)
        if not os.path.isdir(self.path):
            os.makedirs(self.path, mode=0o700, exist_ok=True)
            os.chmod(self.path, 0o700)  # whatever the umask

    # -- reading ------------------------------------------------------------------------------
    def file(self, key: Hashable) -> str:
        return os.path.join(self.path, hashlib.sha256(str(key).encode()).hexdigest()[:40] + ".entry")

    def __contains__(self, key: Hashable) -> bool:
        return os.path.exists(self.file(key))

    def verified(self, key: Hashable) -> tuple[dict, bytes] | None:
        """The header and payload of ``key``'s entry, checked; None when absent or damaged (a
        damaged entry is removed, with a warning)."""
        try:
            with open(self.file(key), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        head, _, payload = data.partition(b"\n")
        try:
            header = json.loads(head)
            ok = (header.get("dagreuse_entry") == _FORMAT and header.get("key") == str(key)
                  and header.get("size") == len(payload)
                  and header.get("sha256") == hashlib.sha256(payload).hexdigest())
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            warnings.warn(f"DiskCache: the entry for {str(key)[:40]}... in {self.path} is damaged "
                          "or truncated; it is removed and will be recomputed.", stacklevel=2)
            self.remove(key)
            return None
        return header, payload

    def load(self, key: Hashable) -> tuple[Any, dict] | None:
        """``(value, header)`` of ``key``, or None (absent or damaged)."""
        found = self.verified(key)
        if found is None:
            return None
        header, payload = found
        t0 = time.perf_counter()
        value = joblib.load(io.BytesIO(payload))
        return value, {**header, "read_seconds": time.perf_counter() - t0}

    def entries(self) -> dict[str, dict]:
        """The index: key -> ``{"bytes", "seconds"}`` of every entry."""
        try:
            with open(os.path.join(self.path, _INDEX)) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return {}

    @property
    def used(self) -> int:
        return sum(e["bytes"] for e in self.entries().values())

    # -- writing ------------------------------------------------------------------------------
    def store(self, key: Hashable, value: Any, seconds: float, nbytes: int | None = None) -> bool:
        """Offer a result that cost ``seconds`` (``nbytes`` in memory); whether it is (now) on
        disk. Results cheaper than ``min_seconds`` and those the policy turns away are not
        written."""
        if seconds < self.min_seconds:
            return False
        if str(key) in self.entries() and key in self:
            return True
        buf = io.BytesIO()
        joblib.dump(value, buf)
        payload = buf.getvalue()
        header = json.dumps({"dagreuse_entry": _FORMAT, "key": str(key), "seconds": seconds,
                             "size": len(payload), "nbytes": nbytes,
                             "sha256": hashlib.sha256(payload).hexdigest()}).encode()
        nbytes = len(header) + 1 + len(payload)
        with self._locked():
            index = {k: e for k, e in self.entries().items() if os.path.exists(self.file(k))}
            if str(key) in index:
                return True
            gone: list[Hashable] = []
            room = Cache(self.policy(self.capacity, seed=0), on_evict=lambda k, v: gone.append(k))
            for k, e in index.items():
                room.offer(k, None, e["bytes"], e["seconds"])
            if not room.offer(str(key), None, nbytes, seconds):
                return False
            _atomic_write(self.path, os.path.basename(self.file(key)), header + b"\n" + payload)
            for k in gone:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.file(k))
                del index[k]
            index[str(key)] = {"bytes": nbytes, "seconds": seconds}
            _atomic_write(self.path, _INDEX, json.dumps(index).encode())
        return True

    def remove(self, key: Hashable) -> None:
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.file(key))
            index = self.entries()
            if index.pop(str(key), None) is not None:
                _atomic_write(self.path, _INDEX, json.dumps(index).encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(os.path.join(self.path, _LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def __repr__(self) -> str:
        return (f"DiskCache({self.path!r}, {format_bytes(self.capacity)!r}, "
                f"policy={self.policy.__name__})")


def _atomic_write(directory: str, name: str, data: bytes) -> None:
    """Write ``data`` to ``directory/name`` whole or not at all: a temporary file, renamed."""
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
