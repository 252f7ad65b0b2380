"""The persistent tier behind a Runner: a second run reuses the first one's prefixes and
checkpoints, on the oracle and on worker processes; damaged entries are recomputed; the
simulator replays two tiers; a killed search resumes from its journal without retraining."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import DiskCache, WReciprocal, simulate
from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.pipes.testing import COUNT_LOG, Counted, CountedSGDClassifier, read_counts, read_units
from dagreuse.search import ASHA, GridSearch, run

X, y = load_digits(return_X_y=True)


def pipeline(log, ks):
    return Pipeline([
        ("scale", Counted(StandardScaler(), log=log, tag="scale")),
        ("pca", Counted(PCA(random_state=0), log=log, tag="pca"),
         {"estimator__n_components": space.choice(ks)}),
        ("clf", LogisticRegression(max_iter=200), {"C": space.choice([0.1, 1.0])}),
    ])


def searched(tmp_path, ks, runner_kw):
    log = tmp_path / "fits.log"  # a parameter of the steps, so part of their keys: one name
    log.unlink(missing_ok=True)
    with Runner(disk=DiskCache(tmp_path / "disk", "1GB", min_seconds=0), **runner_kw) as r:
        result = run(GridSearch(pipeline(str(log), ks)), X, y, cv=3, runner=r)
    fits = sum(n for line, n in read_counts(log).items() if line[0] == "fit")
    return result, fits


@pytest.mark.parametrize("runner_kw", [{"scheduler": "sync"},
                                       {"n_workers": 2, "processes": True}],
                         ids=["sync", "processes"])
def test_a_second_run_reuses_the_first_runs_prefixes(tmp_path, runner_kw):
    first, fits = searched(tmp_path, [5, 10], runner_kw)
    assert fits == 3 + 6 and first.profile.disk_writes == 12  # splits, scalers, PCAs
    second, fits = searched(tmp_path, [5, 10], runner_kw)
    assert fits == 0 and second.profile.disk_hits == 6  # every PCA read back, nothing above it
    assert [t["scores"] for t in second.trials] == [t["scores"] for t in first.trials]
    third, fits = searched(tmp_path, [5, 10, 20], runner_kw)
    assert fits == 3  # only the new PCA, on each fold
    assert [t["scores"] for t in third.trials][:4] == [t["scores"] for t in first.trials]
    assert "disk tier: 9 results read back" in str(third.profile)


def test_a_damaged_entry_is_recomputed_with_a_warning(tmp_path):
    first, _ = searched(tmp_path, [5], {"scheduler": "sync"})
    disk = DiskCache(tmp_path / "disk")
    pca = next(k for k in disk.entries() if first.profile.trace.nodes[k]["stage"] == "pca")
    with open(disk.file(pca), "r+b") as f:
        f.truncate(os.path.getsize(disk.file(pca)) - 10)
    with pytest.warns(UserWarning, match="damaged or truncated"):
        second, fits = searched(tmp_path, [5], {"scheduler": "sync"})
    assert fits == 1  # that fold's scaler was on disk: its PCA alone was refitted
    assert [t["scores"] for t in second.trials] == [t["scores"] for t in first.trials]


def test_the_simulator_replays_two_tiers(tmp_path):
    result, _ = searched(tmp_path, [5, 10, 20], {"scheduler": "sync"})
    trace = result.profile.trace
    small = max(trace.nbytes(k) for k in trace.nodes if not trace.nodes[k]["leaf"])
    memory = simulate(trace, WReciprocal(small, seed=0))
    both = simulate(trace, WReciprocal(small, seed=0), disk=WReciprocal("1GB", seed=0))
    assert both.disk_hits > 0 and both.seconds < memory.seconds
    with pytest.raises(TypeError, match="'disk' parameter of simulate"):
        simulate(trace, WReciprocal(small), disk="1GB")


def test_runner_refuses_a_disk_that_is_not_a_disk_cache():
    with pytest.raises(TypeError, match=r"'disk' parameter of Runner must be a dagreuse\.cache\.DiskCache"):
        Runner(disk="/tmp/cache")


# -- a killed driver, resumed with its journal and the disk tier ---------------------------------
def asha(disk):
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("pca", PCA(random_state=0), {"n_components": space.choice([10, 20])}),
        ("clf", CountedSGDClassifier(random_state=0, tol=None), {"alpha": space.loguniform(1e-5, 1e-1)}),
    ])
    return ASHA(pipe, resources.Iterations("max_iter"), min_resource=1, max_resource=16, eta=2,
                brackets=[0], seed=0, n_configs=16)


def resumed(journal, disk):
    with Runner(scheduler="sync", disk=DiskCache(disk, "1GB", min_seconds=0)) as r:
        return run(asha(disk), X, y, cv=3, runner=r, journal=journal, resume=True, max_in_flight=1)


_KILLED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_disk_tier import resumed
    resumed({journal!r}, {disk!r})
""")


def test_a_killed_search_resumes_from_its_checkpoints_on_disk(tmp_path, monkeypatch):
    """Iterations: with the checkpoints on disk, the resumed search trains no epoch twice, except
    the one job in flight at the kill."""
    monkeypatch.setenv(COUNT_LOG, str(tmp_path / "full.log"))
    full = resumed(tmp_path / "full.journal", tmp_path / "full-disk")
    lines = (tmp_path / "full.journal").read_bytes().count(b"\n")
    journal, disk = tmp_path / "killed.journal", tmp_path / "disk"
    script = _KILLED.format(tests=os.path.dirname(__file__), journal=str(journal), disk=str(disk))
    proc = subprocess.Popen([sys.executable, "-c", script],
                            env={**os.environ, COUNT_LOG: str(tmp_path / "before.log")})
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.exists() and journal.read_bytes().count(b"\n") >= lines // 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the search ended before it could be killed"
    monkeypatch.setenv(COUNT_LOG, str(tmp_path / "after.log"))
    again = resumed(journal, disk)
    assert [(t["config_id"], t["resource"], t["scores"]) for t in again.trials] == [
        (t["config_id"], t["resource"], t["scores"]) for t in full.trials]
    before, after = read_units(tmp_path / "before.log"), read_units(tmp_path / "after.log")
    spent = sum(before.values()) + sum(after.values())
    assert spent - sum(read_units(tmp_path / "full.log").values()) <= 3 * 16  # one job's folds
    assert again.profile.disk_hits > 0
