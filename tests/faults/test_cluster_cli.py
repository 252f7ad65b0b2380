"""A real cluster, as users start one: ``dask scheduler`` and ``dask worker`` as separate
processes, the Runner connecting by address. Workers join, retire and die mid-search; the
results equal the in-process oracle's. And a worker over Dask's memory limit is reported as the
candidate's error, not a hang."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import dask
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.feature_selection import SelectKBest, VarianceThreshold
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from dagreuse.pipes import Pipeline, Runner, space
from dagreuse.search import GridSearch, RandomSearch, run

from .test_faults import Flaky

distributed = pytest.importorskip("distributed")
ROOT = pathlib.Path(__file__).resolve().parents[2]
DASK = str(pathlib.Path(sys.executable).parent / "dask")
X, y = load_digits(return_X_y=True)


def pipeline(delay=0.0, gate=None):
    """``gate`` holds a third of the candidates until the test has changed the cluster, so the
    search is still running then however fast or slow the machine; neither changes a result."""
    return Pipeline([
        ("scale", StandardScaler()),
        ("slow", Flaky(delay=delay, gate=gate), {"factor": space.uniform(0.5, 2.0)}),
        ("var", VarianceThreshold()),  # no constant pixel in a fold: SelectKBest would warn
        ("select", SelectKBest(), {"k": space.randint(5, 40)}),
        ("clf", GaussianNB(), {"var_smoothing": space.loguniform(1e-10, 1e-6)}),
    ])


def outcome(result):
    return [(repr(t["config"]), tuple(t["scores"]), t["status"]) for t in result.trials]


@contextlib.contextmanager
def started(args, env):
    proc = subprocess.Popen([DASK, *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and one ``dask worker --nworkers 2 --nthreads 1``, started from the CLI."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the workers unpickle this module's classes
    file = tmp_path / "scheduler.json"
    with started(["scheduler", "--scheduler-file", str(file), "--port", "0", "--no-dashboard"],
                 env):
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with started(["worker", "--scheduler-file", str(file), "--nworkers", "2", "--nthreads",
                      "1", "--no-dashboard"], env), \
                distributed.Client(scheduler_file=str(file), timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            yield client, file, env


@pytest.mark.parametrize("kill", [False, True], ids=["join-retire", "join-retire-kill"])
def test_workers_joining_retiring_and_dying_mid_search_lose_nothing(cluster, tmp_path, kill):
    """A worker joins and gets work, one retires gracefully (and with ``kill``, another is
    SIGKILLed), all while a third of the candidates wait at the gate: the oracle's trials."""
    client, file, env = cluster
    with Runner(scheduler="sync") as r:
        oracle = run(RandomSearch(pipeline(), n=60, seed=0), X, y, cv=3, runner=r)
    first = sorted(client.scheduler_info()["workers"])
    pids = client.run(os.getpid)
    gate, runners, executed = tmp_path / "gate", [], []
    done = threading.Event()

    def disturb():
        with started(["worker", "--scheduler-file", str(file), "--nthreads", "1",
                      "--no-dashboard", "--name", "joined"], env):
            client.wait_for_workers(3, timeout=60)
            joined = next(w for w, i in client.scheduler_info()["workers"].items()
                          if i.get("name") == "joined")
            # the Runner copies the input data to a worker that joins when it next reads the
            # workers (at most a second apart while it sends tasks); until then the first two
            # hold the only copies (docs/reliability.md)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                    runners and runners[0]._data and runners[0]._data[1].key in
                    client.has_what().get(joined, ())):
                time.sleep(0.1)
            client.retire_workers([first[0]])  # graceful: its data moves first
            if kill:
                os.kill(pids[first[1]], signal.SIGKILL)  # its nanny restarts it
            gate.touch()
            done.wait()
            executed.append(client.run(lambda dask_worker: dask_worker.state.executed_count,
                                   workers=[joined]))

    thread = threading.Thread(target=disturb)
    thread.start()
    try:
        with Runner(client=client) as runner:
            runners.append(runner)
            result = run(RandomSearch(pipeline(delay=0.02, gate=str(gate)), n=60, seed=0), X, y,
                         cv=3, runner=runner)
    finally:
        gate.touch()
        done.set()
        thread.join()
    assert any(n > 0 for n in executed[0].values()), "the worker that joined got no work"
    assert len(result.trials) == len(oracle.trials)  # never a crash, never a trial missing
    errors = [t["error"] for t in result.trials if t["status"] == "error"]
    assert not errors, errors[:2]  # results lost with a worker are computed again (pipes/_lost)
    assert outcome(result) == outcome(oracle)
    assert result.best_config == oracle.best_config


def _hog(X, size=0):
    """A stage that holds ``size`` bytes for two seconds: over the worker's memory limit."""
    block = np.ones(max(size // 8, 1))
    time.sleep(2.0)
    return X + block[:1]


def test_a_worker_over_its_memory_limit_is_reported_not_a_hang():
    pipe = Pipeline([("hog", _hog, {"size": space.choice([0, 2_000_000_000])}),
                     ("clf", GaussianNB())])
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, memory_limit="600MB",
                                     dashboard_address=None) as local, \
            distributed.Client(local) as client, Runner(client=client) as runner:
        result = run(GridSearch(pipe), X, y, cv=2, runner=runner, max_in_flight=1)
    by_size = {t["config"]["hog"][1]["size"]: t for t in result.trials}
    assert by_size[0]["status"] == "ok"
    assert by_size[2_000_000_000]["status"] == "error"
    assert "stage 'hog' failed: the worker computing it died (over Dask's memory limit" in by_size[
        2_000_000_000]["error"]
