"""The GPU path: run where CUDA is available (skipped, with the reason, elsewhere — as in CI).

    python -m pytest tests/gpu -q        # on a machine with an NVIDIA GPU and a CUDA build of torch
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device here: the GPU path is tested on a machine with one",
                allow_module_level=True)

from sklearn.datasets import load_digits  # noqa: E402

from dagreuse.pipes import Runner, resources  # noqa: E402
from dagreuse.search import ASHA, run  # noqa: E402
from tests.pipes.test_neural import _net, _pipe  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype("float32"), y


def test_checkpoints_of_a_cuda_net_are_on_cpu_and_resume(digits):
    X, y = digits
    net = _net(device="cuda", lr=0.01)
    res = resources.Epochs()
    four = res.fit(net, X, y, 4)
    assert all(t.device.type == "cpu" for t in four.state["module"].values())
    resumed = res.fit(net, X, y, 16, previous=four, previous_level=4)
    once = res.fit(net, X, y, 16)
    for name, w in once.state["module"].items():  # CUDA kernels may differ in the last bits
        np.testing.assert_allclose(resumed.state["module"][name], w, atol=1e-3)
    model = res.model(net, resumed)
    assert next(model.module_.parameters()).device.type == "cuda"


def test_runner_gpus_auto_trains_the_nets_on_gpu_workers(digits):
    X, y = digits
    asha = ASHA(_pipe(_net(device="cuda")), resource=resources.Epochs(), min_resource=1,
                max_resource=8, eta=2, seed=0, n_configs=8, brackets=[0])
    with Runner(gpus="auto") as runner:
        gpu = [w for w, i in runner.client.scheduler_info()["workers"].items()
               if (i.get("resources") or {}).get("GPU")]
        assert len(gpu) == torch.cuda.device_count()
        result = run(asha, X, y, cv=3, runner=runner)
    p = result.profile
    assert not result.errors() and p.gpu_seconds > 0 and "cuda" in p.devices
    prefix = {n.get("device") for n in p.trace.nodes.values() if n["stage"] != "net"}
    assert prefix == {None}  # the scikit-learn prefix records no device: CPU


def test_rsws_trains_its_supernet_on_a_gpu_worker_reproducibly(digits):
    from dagreuse.pipes import space
    from dagreuse.search import RSWS

    X, y = digits
    images = (X / 16).reshape(-1, 1, 8, 8)
    arch_space = {"cell": space.cell(), "channels": 8}
    runs = []
    for _ in range(2):
        rsws = RSWS(arch_space, epochs=4, n_candidates=32, eval_batches=2, top=4,
                    retrain_epochs=2, chunk=2, seed=0, device="cuda")
        with Runner(gpus="auto") as runner:
            result = run(rsws, images, y, cv=0.2, runner=runner)
        assert not result.errors() and "cuda" in result.profile.devices
        runs.append([(r["arch"], r["shared_score"]) for r in result.ranking])
    assert runs[0] == runs[1]  # cuDNN's deterministic algorithms, torch seeded (ALGORITHMS §4)
