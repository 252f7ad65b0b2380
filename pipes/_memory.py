"""Keep the memory that nodes free for the nodes after them, while a Runner runs (glibc only).

Why: glibc gives a worker thread's freed memory back to the OS as soon as one of its arena's
64 MiB heaps is empty, and the next allocation faults those pages in again, zeroed by the
kernel. dagreuse keeps intermediate results alive between nodes, so a worker's heaps fill and
empty all through a run: on the demo's workload that was 90-430 thousand page faults per run
where the independent loop, which holds nothing, settled at about 2 thousand, and 5-9% of
dagreuse's wall (bench/NOTES.md). Dask's worker processes fare worse: the nanny
sets ``MALLOC_TRIM_THRESHOLD_=65536``, which also stops glibc from raising its mmap threshold,
so every array over 128 KiB is a fresh mapping.

While retained, arrays under 32 MiB come from the arenas (the most glibc's own adaptive
threshold reaches), and neither empty heaps nor a free top are handed back. On the last release
the thresholds go back (see :func:`_restored`) and ``malloc_trim`` returns what is free, so a
process does not stay at its peak after the search. The setting is per process: a Runner applies
it where it owns the processes (``scheduler="sync"``, a local cluster it started); on any other
cluster, ``retain_freed_memory(client)`` applies it to that cluster's workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import platform
import threading
import uuid
from collections.abc import Iterator
from typing import Any

__all__ = ["release", "retain", "retain_freed_memory", "retained"]

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
_MiB = 1 << 20
_INT_MAX = 2**31 - 1  # mallopt takes a C int
RETAIN = {M_MMAP_THRESHOLD: 32 * _MiB, M_TOP_PAD: 64 * _MiB, M_TRIM_THRESHOLD: _INT_MAX}
_ENV = {M_MMAP_THRESHOLD: "MALLOC_MMAP_THRESHOLD_", M_TOP_PAD: "MALLOC_TOP_PAD_",
        M_TRIM_THRESHOLD: "MALLOC_TRIM_THRESHOLD_"}
_GLIBC_DEFAULT = 128 * 1024  # each of the three, before glibc adapts them

_lock = threading.Lock()
_count = 0


@functools.cache
def _libc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def _set(libc: Any, values: dict[int, int]) -> None:
    for param, value in values.items():
        libc.mallopt(param, ctypes.c_int(min(value, _INT_MAX)))


def _restored() -> dict[int, int]:
    """What the thresholds go back to. With a ``MALLOC_*_`` variable set (Dask's nanny sets one)
    glibc never adapted them: its values, else glibc's defaults. Otherwise glibc's adaptive
    thresholds cannot be switched back on; the values they reach once a program frees a 32 MiB
    array (numpy code does) stand in: mmap 32 MiB, trim twice that, the default top pad."""
    if any(name in os.environ for name in _ENV.values()):
        return {p: _env_int(name) for p, name in _ENV.items()}
    return {M_MMAP_THRESHOLD: 32 * _MiB, M_TRIM_THRESHOLD: 64 * _MiB, M_TOP_PAD: _GLIBC_DEFAULT}


def _env_int(name: str) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else _GLIBC_DEFAULT  # glibc ignores what is no number


def retained() -> int:
    """How many holders keep freed memory in this process now (0: glibc's own behaviour)."""
    return _count


def retain() -> bool:
    """Keep freed memory in this process until the matching :func:`release`; nested calls
    count. False (and nothing changes) where the C library is not glibc."""
    global _count
    libc = _libc()
    if libc is None:
        return False
    with _lock:
        if _count == 0:
            _set(libc, RETAIN)
        _count += 1
    return True


def release() -> None:
    """Undo one :func:`retain`; the last one restores the thresholds and trims."""
    global _count
    libc = _libc()
    if libc is None:
        return
    with _lock:
        if _count == 0:
            return
        _count -= 1
        if _count == 0:
            _set(libc, _restored())
            libc.malloc_trim(ctypes.c_size_t(0))


def _plugin() -> Any:
    from distributed import WorkerPlugin

    class RetainFreedMemory(WorkerPlugin):
        """retain() on every worker of the cluster, now and when one joins; release() when the
        worker closes or the plugin is unregistered. A name of its own, so that nested blocks on
        one cluster do not replace each other's plugin."""

        def __init__(self) -> None:
            self.name = f"dagreuse-retain-freed-memory-{uuid.uuid4().hex}"

        def setup(self, worker: Any) -> None:
            retain()

        def teardown(self, worker: Any) -> None:
            release()

    return RetainFreedMemory()


@contextlib.contextmanager
def retain_freed_memory(client: Any = None) -> Iterator[None]:
    """Inside the block, the processes that compute nodes keep the memory nodes free for the next
    ones (module docstring): this process, or every worker of ``client``'s cluster."""
    if client is None:
        retain()
        try:
            yield
        finally:
            release()
        return
    plugin = _plugin()
    client.register_plugin(plugin)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # a cluster closing first has torn it down
            client.unregister_worker_plugin(plugin.name)
