"""The persistent tier on its own: atomic, verified, private, and bounded across processes."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading

import numpy as np
import pytest

from dagreuse.cache import LRU, DiskCache, WReciprocal


def test_round_trip_and_private_directory(tmp_path):
    disk = DiskCache(tmp_path / "cache", "1MB", min_seconds=0)
    assert stat.S_IMODE(os.stat(disk.path).st_mode) == 0o700
    value = {"a": np.arange(1000.0), "b": "text"}
    assert disk.store("k1", value, seconds=2.0)
    assert "k1" in disk and "k2" not in disk
    got, header = disk.load("k1")
    np.testing.assert_array_equal(got["a"], value["a"])
    assert header["key"] == "k1" and header["seconds"] == 2.0
    assert disk.load("k2") is None
    assert DiskCache(disk.path).load("k1") is not None  # another instance, the same directory


def test_cheap_results_and_results_over_the_budget_are_not_written(tmp_path):
    disk = DiskCache(tmp_path, "10kB", min_seconds=0.5)
    assert not disk.store("cheap", np.zeros(10), seconds=0.1)
    assert not disk.store("huge", np.zeros(10_000), seconds=5.0)  # 80 kB > 10 kB
    assert disk.entries() == {} and not any(tmp_path.glob("*.entry"))


@pytest.mark.parametrize("damage", ["flip", "truncate", "header", "other key"])
def test_a_damaged_entry_is_removed_with_a_warning(tmp_path, damage):
    disk = DiskCache(tmp_path, "1MB", min_seconds=0)
    disk.store("k", np.arange(100.0), seconds=1.0)
    path = disk.file("k")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if damage == "flip":
        data[-5] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "header":
        data[:10] = b"xxxxxxxxxx"
    else:
        os.replace(path, disk.file("k2"))
        path = disk.file("k2")
    with open(path, "wb") as f:
        f.write(bytes(data))
    key = "k2" if damage == "other key" else "k"
    with pytest.warns(UserWarning, match="damaged or truncated"):
        assert disk.load(key) is None
    assert not os.path.exists(path)


def _hammer(path, worker, n):
    disk = DiskCache(path, "200kB", min_seconds=0)
    rng = np.random.default_rng(worker)
    for i in range(n):
        disk.store(f"w{worker}-{i}", np.zeros(int(rng.integers(500, 3000))), seconds=float(rng.random()))


def _on_disk(path):
    return sum(os.path.getsize(p) for p in path.glob("*.entry"))


def test_the_budget_holds_under_concurrent_writers(tmp_path):
    """Threads and processes sharing the directory: never over the budget, index = files."""
    threads = [threading.Thread(target=_hammer, args=(tmp_path, w, 40)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(tmp_path, 10 + w, 40)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    disk = DiskCache(tmp_path, "200kB")
    assert 0 < _on_disk(tmp_path) <= 200_000
    assert disk.used == _on_disk(tmp_path)
    assert {os.path.basename(disk.file(k)) for k in disk.entries()} == {
        p.name for p in tmp_path.glob("*.entry")}


def test_the_policy_chooses_the_victims(tmp_path):
    disk = DiskCache(tmp_path, "30kB", policy=LRU, min_seconds=0)
    for i in range(5):
        disk.store(f"k{i}", np.zeros(1000), seconds=1.0)  # 8 kB each: three fit
    assert sorted(disk.entries()) == ["k2", "k3", "k4"]


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="'path' parameter of DiskCache"):
        DiskCache(None)
    with pytest.raises(TypeError, match="'policy' parameter of DiskCache"):
        DiskCache("/tmp/x", policy=WReciprocal("1GB"))
    with pytest.raises(ValueError, match="'min_seconds' parameter of DiskCache"):
        DiskCache("/tmp/x", min_seconds=-1)
    with pytest.raises(ValueError, match="capacity"):
        DiskCache("/tmp/x", capacity="lots")
