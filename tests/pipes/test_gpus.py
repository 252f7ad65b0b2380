"""GPU tasks on Dask: nets asking for CUDA never hang a cluster without a GPU, go to the workers
that advertise one, and the Runner starts GPU workers pinned to their device (all on CPU here;
tests/gpu runs the CUDA path where there is one)."""

from __future__ import annotations

import os
import warnings

import dask
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from distributed import Client, LocalCluster, Scheduler, SpecCluster, Worker  # noqa: E402

from dagreuse.pipes import Pipeline, Runner  # noqa: E402
from dagreuse.pipes.testing import read_counts  # noqa: E402
from dagreuse.search import run  # noqa: E402

from .test_neural import _asha, _net, _pipe  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:600].astype("float32"), y[:600]


def _log_worker(X, path=""):
    """A function stage that notes which worker computed it."""
    from distributed import get_worker

    with open(path, "a") as f:
        f.write(f"{get_worker().name}\n")
    return X


def test_cuda_nets_on_a_cluster_without_gpu_run_on_cpu(digits):
    X, y = digits
    pipe = _pipe(_net(device="cuda"))
    with Runner(processes=False, n_workers=1, threads_per_worker=2) as runner, \
            pytest.warns(RuntimeWarning, match=r"asks for a GPU.*no worker.*GPU resource"):
        result = run(_asha(pipe, 3), X, y, cv=2, runner=runner)
    assert not result.errors() and len(result.trials) >= 3
    devices = {n.get("device") for n in result.profile.trace.nodes.values() if n["stage"] == "net"}
    assert devices == {"cpu"}


def test_gpu_tasks_go_to_the_worker_with_a_gpu_resource(digits, tmp_path):
    X, y = digits
    log = str(tmp_path / "epochs")
    workers = {"cpu": {"cls": Worker, "options": {"nthreads": 2}},
               "gpu": {"cls": Worker, "options": {"nthreads": 1, "resources": {"GPU": 1}}}}
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": ":0"}}
    # no work stealing, as a Runner(gpus=...) cluster (_gpus): it may move a CPU node there
    with dask.config.set({"distributed.scheduler.work-stealing": False}), \
            SpecCluster(workers=workers, scheduler=scheduler) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        pipe = _pipe(_net(log, device="cuda"))
        pipe = Pipeline([("where", _log_worker, {"path": str(tmp_path / "prefix")}), *pipe.steps])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "no GPU" warning: one worker has one
            with Runner(client=client) as runner:
                result = run(_asha(pipe, 4), X, y, cv=2, runner=runner)
    assert not result.errors()
    assert {w for w, *_ in read_counts(log)} == {"gpu"}  # every epoch on the GPU worker
    assert {w for w, in read_counts(tmp_path / "prefix")} == {"cpu"}  # the prefix elsewhere


# -- the Runner's GPU workers ---------------------------------------------------------------
def test_runner_gpus_parameter_is_checked():
    with pytest.raises(ValueError, match="'gpus' parameter of Runner must be 'auto'"):
        Runner(gpus=-1)
    with pytest.raises(ValueError, match=r"'gpus' parameter of Runner.*scheduler='sync'"):
        Runner(scheduler="sync", gpus=1)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"asks for 1 GPU workers.*0 visible"):
            Runner(gpus=1, processes=False).start()


def test_a_runner_on_a_machine_without_gpu_starts_no_gpu_worker():
    from dagreuse.pipes._gpus import devices_for, gpu_workers

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU (tests/gpu covers it)")
    assert devices_for("auto") == []
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as c, Client(c) as cl:
        assert gpu_workers(cl.scheduler_info()["workers"]) == set()


@pytest.mark.slow
def test_gpu_workers_join_the_local_cluster_pinned_to_their_device():
    from dagreuse.pipes._gpus import add_gpu_workers, gpu_workers

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        add_gpu_workers(cluster, client, ["3"])  # a fake device: only the pinning is checked
        info = client.scheduler_info()["workers"]
        [gpu] = gpu_workers(info)
        assert info[gpu]["nthreads"] == 1 and len(info) == 2
        env = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"), workers=[gpu])
        assert env == {gpu: "3"}


def test_the_oracle_warns_once_for_cuda_nets_without_cuda(digits):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, y = digits
    with Runner(scheduler="sync") as runner, pytest.warns(RuntimeWarning, match="no CUDA") as seen:
        result = run(_asha(_pipe(_net(device="cuda")), 3), X, y, cv=2, runner=runner)
    assert len([w for w in seen if "asks for a GPU" in str(w.message)]) == 1
    assert not result.errors()
