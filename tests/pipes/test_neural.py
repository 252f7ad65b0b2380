"""Torch stages: skorch nets and the Trainable interface, Epochs checkpoints (GPU placement:
``test_gpus.py``).

Real torch training on CPU (small nets on digits): checkpointed training equals one-go training,
promotions train only the missing epochs, the oracle and Dask agree, and a net that asks for a
GPU never hangs a cluster that has none.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from torch import nn  # noqa: E402

from dagreuse.cache import NoCache, Unbounded  # noqa: E402
from dagreuse.pipes import Pipeline, Runner, merge, neural, resources, space  # noqa: E402
from dagreuse.pipes._keys import canonical, token  # noqa: E402
from dagreuse.pipes.testing import Counted, read_counts  # noqa: E402
from dagreuse.search import (  # noqa: E402
    ASHA,
    GridSearch,
    RandomSearch,
    SuccessiveHalving,
    run,
)


class MLP(nn.Module):
    def __init__(self, hidden: int = 16, dropout: float = 0.2, n_in: int = 64):
        super().__init__()
        self.seq = nn.Sequential(nn.LazyLinear(hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 10))

    def forward(self, x):
        return self.seq(x)


class EpochLog(skorch.callbacks.Callback):
    """Appends ``"<worker> <config> <data>"`` to ``path`` after every epoch trained."""

    def __init__(self, path: str = ""):
        self.path = path

    def on_train_begin(self, net, X=None, y=None, **kw):
        self.data_ = str(hash(np.asarray(X.cpu() if hasattr(X, "cpu") else X).tobytes()))[-8:]

    def on_epoch_end(self, net, **kw):
        try:
            from distributed import get_worker

            where = get_worker().name
        except ValueError:
            where = "client"
        config = f"{net.lr:.6g}-{net.module__hidden}"
        with open(self.path, "a") as f:
            f.write(f"{where} {config} {self.data_}\n")


def _net(log: str = "", device: str = "cpu", module=MLP, **kw):
    callbacks = [("log", EpochLog(log))] if log else None
    return skorch.NeuralNetClassifier(
        module, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.AdamW, batch_size=256,
        train_split=None, device=device, iterator_train__shuffle=True, verbose=0,
        callbacks=callbacks, **kw)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600].astype("float32"), y[:600]


def _pipe(net, pca=None):
    reduce = ("reduce", PCA(random_state=0), {"n_components": space.choice([16, 24])})
    if pca is not None:
        reduce = ("reduce", pca, {"estimator__n_components": space.choice([16, 24])})
    return Pipeline([
        ("scale", StandardScaler()),
        reduce,
        ("net", net, {"lr": space.loguniform(1e-3, 1e-1), "module__hidden": space.choice([16, 32])}),
    ])


def _epochs(log: str) -> dict[tuple[str, str], int]:
    """Epochs trained by (config, data) in ``log``."""
    out: dict[tuple[str, str], int] = {}
    for (_, config, data), n in read_counts(log).items():
        out[config, data] = out.get((config, data), 0) + n
    return out


# -- keys -------------------------------------------------------------------------------------
def test_nets_are_keyed_by_class_names_and_params_never_identity():
    a, b = _net(module__hidden=32), _net(module__hidden=32)
    assert token(canonical(a)) == token(canonical(b))
    assert token(canonical(a)) != token(canonical(_net(module__hidden=64)))
    text = str(canonical(a))
    assert "test_neural.MLP" in text and "torch.optim.adamw.AdamW" in text and "0x" not in text
    # a module instance: by its class, structure and weights
    torch.manual_seed(0)
    m1 = nn.Linear(4, 2)
    torch.manual_seed(0)
    m2 = nn.Linear(4, 2)
    assert token(canonical(_net(module=m1))) == token(canonical(_net(module=m2)))
    assert token(canonical(_net(module=m1))) != token(canonical(_net(module=nn.Linear(4, 2))))


def test_skorch_virtual_params_are_searchable_and_checked():
    pipe = _pipe(_net())
    assert "module__hidden" in pipe.stage("net").single.space
    with pytest.raises(ValueError, match="Unknown parameter 'modul__hidden'"):
        Pipeline([("net", _net(), {"modul__hidden": space.choice([1, 2])})])


# -- checkpoints ------------------------------------------------------------------------------
def test_checkpointed_training_equals_one_go(digits):
    X, y = digits
    net = _net(lr=0.01, module__dropout=0.3)
    res = resources.Epochs(seed=3)
    four = res.fit(net, X, y, 4)
    sixteen = res.fit(net, X, y, 16, previous=four, previous_level=4)
    once = res.fit(net, X, y, 16)
    for name, w in once.state["module"].items():
        np.testing.assert_allclose(sixteen.state["module"][name], w, atol=1e-6)
    a, b = res.model(net, sixteen), res.model(net, once)
    assert a.score(X, y) == b.score(X, y)
    assert len(a.history) == 16
    # the checkpoint is on CPU and sized by its tensors
    from dagreuse.cache import sizeof

    assert all(t.device.type == "cpu" for t in sixteen.state["module"].values())
    assert sizeof(sixteen) > sum(t.numel() * 4 for t in sixteen.state["module"].values())
    # a plain stage (no Epochs) is the same model as Epochs at max_epochs
    plain = neural.fit(net.set_params(max_epochs=16), X, y, seed=3)
    np.testing.assert_allclose(plain.predict_proba(X), b.predict_proba(X), atol=1e-6)


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """A plain torch training loop implementing ``neural.Trainable`` (no skorch)."""

    def __init__(self, hidden=16, lr=0.01, max_epochs=8, device="cpu"):
        self.hidden, self.lr, self.max_epochs, self.device = hidden, lr, max_epochs, device

    def begin(self, X, y, *, device):
        self.classes_ = np.arange(10)
        self.model_ = nn.Sequential(nn.Linear(X.shape[1], self.hidden), nn.ReLU(),
                                    nn.Linear(self.hidden, 10)).to(device)
        self.opt_ = torch.optim.SGD(self.model_.parameters(), lr=self.lr, momentum=0.9)
        self.device_ = device

    def train(self, X, y, epochs):
        for _ in range(epochs):
            for idx in torch.randperm(len(X), device=X.device).split(128):
                self.opt_.zero_grad()
                nn.functional.cross_entropy(self.model_(X[idx]), y[idx]).backward()
                self.opt_.step()

    def state(self):
        return {"model": self.model_.state_dict(), "opt": self.opt_.state_dict(),
                "n_in": self.model_[0].in_features}

    def restore(self, state, *, device):
        self.begin(np.empty((0, state["n_in"])), None, device=device)
        self.model_.load_state_dict(state["model"])
        self.opt_.load_state_dict(state["opt"])

    def predict(self, X):
        with torch.no_grad():
            out = self.model_(torch.as_tensor(X, device=self.device_))
        return out.argmax(1).cpu().numpy()


def test_own_training_loop_resumes_exactly(digits):
    X, y = digits
    est = TorchMLPClassifier()
    assert isinstance(est, neural.Trainable) and neural.is_net(est)
    res = resources.Epochs()
    two = res.fit(est, X, y, 2)
    both = res.fit(est, X, y, 6, previous=two, previous_level=2)
    once = res.fit(est, X, y, 6)
    for name, w in once.state["model"].items():
        np.testing.assert_allclose(both.state["model"][name], w, atol=1e-6)
    assert res.model(est, both).score(X, y) == res.model(est, once).score(X, y)


def test_epochs_refuses_a_leaf_it_cannot_train(digits):
    X, y = digits
    pipe = Pipeline([("clf", LogisticRegression())])
    with pytest.raises(TypeError, match=r"Epochs.*'clf'.*LogisticRegression.*Trainable"):
        merge(pipe, [{"clf": ("LogisticRegression", {})}], X, y, cv=2,
              resource=resources.Epochs(), levels=[[1]])
    with pytest.raises(TypeError, match="'seed' parameter of Epochs"):
        resources.Epochs(seed="0")


# -- searches ---------------------------------------------------------------------------------
def _asha(pipe, n=6):
    return ASHA(pipe, resource=resources.Epochs(), min_resource=1, max_resource=8, eta=2,
                seed=0, n_configs=n, brackets=[0])


def test_asha_trains_each_config_to_its_highest_level_once(digits, tmp_path):
    X, y = digits
    epochs, fits = str(tmp_path / "epochs"), str(tmp_path / "fits")
    pipe = _pipe(_net(epochs), Counted(PCA(random_state=0), fits, "pca"))
    with Runner(scheduler="sync", cache=Unbounded()) as runner:
        result = run(_asha(pipe), X, y, cv=2, runner=runner)
    highest: dict[tuple, int] = {}
    for t in result.trials:
        cfg = t["config"]["net"][1]
        k = f"{cfg['lr']:.6g}-{cfg['module__hidden']}"
        highest[k] = max(highest.get(k, 0), t["resource"])
    trained = _epochs(epochs)
    assert {c for c, _ in trained} == set(highest)
    for (config, _), n in trained.items():  # per fold: the highest level, not the sum of rungs
        assert n == highest[config]
    assert result.profile.units_trained < result.profile.independent_units
    assert all(n == 1 for (e, *_), n in read_counts(fits).items() if e == "fit")  # prefix once


def test_nocache_recomputes_and_dask_agrees_with_the_oracle(digits):
    X, y = digits
    pipe = _pipe(_net())

    def scores(**kw):
        sha = SuccessiveHalving(RandomSearch(pipe, n=4, seed=0), resource=resources.Epochs(),
                                min_resource=2, max_resource=8, eta=2)
        with Runner(**kw) as runner:
            res = run(sha, X, y, cv=2, runner=runner)
        return sorted((str(t["config"]), t["resource"], t["mean_score"]) for t in res.trials), res.profile

    # Dask's workers compute with one BLAS thread each; so does the oracle here, so that the
    # prefix's outputs, which SGD amplifies, are the same to the last bit
    with threadpool_limits(1):
        oracle, prof = scores(scheduler="sync")
        nocache, prof0 = scores(scheduler="sync", cache=NoCache())
    dask, prof1 = scores(processes=False, n_workers=1, threads_per_worker=2)
    assert oracle == nocache
    assert oracle == dask
    assert prof0.units_trained > prof.units_trained
    assert prof1.devices == ["cpu"] and prof1.gpu_seconds == 0


def test_a_failing_net_fails_its_candidate_only(digits):
    X, y = digits

    class Narrow(nn.Module):  # expects 5 features, gets 16 or 24: a shape error
        def __init__(self, hidden=16):
            super().__init__()
            self.lin = nn.Linear(5, 10)

        def forward(self, x):
            return self.lin(x)

    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("net", space.choice({"good": (_net(), {"lr": space.choice([0.01])}),
                              "narrow": (_net(module=Narrow), {"lr": space.choice([0.02])})})),
    ])
    with Runner(scheduler="sync") as runner:
        result = run(GridSearch(pipe), X, y, cv=2, runner=runner)
    scores = {t["config"]["net"][0]: t["mean_score"] for t in result.trials}
    assert np.isnan(scores["narrow"]) and scores["good"] > 0.5
    [error] = result.errors()
    assert "mat1 and mat2 shapes cannot be multiplied" in error["error"]


class OutOfMemory(TorchMLPClassifier):
    def train(self, X, y, epochs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_cuda_out_of_memory_is_reported_as_such(digits):
    X, y = digits
    pipe = Pipeline([("net", OutOfMemory())])
    with Runner(scheduler="sync") as runner:
        result = run(SuccessiveHalving(RandomSearch(pipe, n=1, seed=0),
                                       resource=resources.Epochs(), min_resource=2, max_resource=2),
                     X, y, cv=2, runner=runner)
    assert "CUDA out of memory on cpu" in result.errors()[0]["error"]


def test_without_torch_the_rest_of_dagreuse_runs(tmp_path):
    script = tmp_path / "no_torch.py"
    script.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'skorch'):\n"
        "            raise ImportError(f'no {name} here')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from dagreuse.pipes import Pipeline, Runner, space, resources\n"
        "from dagreuse.search import GridSearch, run\n"
        "X, y = load_iris(return_X_y=True)\n"
        "pipe = Pipeline([('clf', LogisticRegression(), {'C': space.choice([0.1, 1.0])})])\n"
        "with Runner(scheduler='sync') as r:\n"
        "    print(run(GridSearch(pipe), X, y, cv=2, runner=r).best_score > 0.5)\n"
        "import numpy as np\n"
        "from sklearn.base import BaseEstimator, ClassifierMixin\n"
        "from dagreuse.search import SuccessiveHalving\n"
        "class Softmax(ClassifierMixin, BaseEstimator):  # a Trainable without torch\n"
        "    def __init__(self, lr=0.1, max_epochs=8):\n"
        "        self.lr, self.max_epochs = lr, max_epochs\n"
        "    def begin(self, X, y, *, device):\n"
        "        self.classes_ = np.arange(3); self.W_ = np.random.normal(0, .01, (X.shape[1], 3))\n"
        "    def train(self, X, y, epochs):\n"
        "        for _ in range(epochs):\n"
        "            P = np.exp(X @ self.W_); P /= P.sum(1, keepdims=True)\n"
        "            self.W_ -= self.lr * X.T @ (P - np.eye(3)[y]) / len(X)\n"
        "    def state(self): return {'W': self.W_}\n"
        "    def restore(self, state, *, device): self.classes_, self.W_ = np.arange(3), state['W']\n"
        "    def predict(self, X): return (X @ self.W_).argmax(1)\n"
        "lrs = {'lr': space.choice([.01, .03, .1, .3])}\n"
        "sha = SuccessiveHalving(GridSearch(Pipeline([('clf', Softmax(), lrs)])),\n"
        "                        resource=resources.Epochs(), min_resource=2, max_resource=8, eta=2)\n"
        "with Runner(scheduler='sync') as r:\n"
        "    res = run(sha, X / 8, y, cv=2, runner=r)\n"
        "print(not res.errors(), res.profile.units_trained < res.profile.independent_units)\n"
        "print('torch' in sys.modules, resources.Epochs())\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True", "False", "Epochs(seed=0)"]


class NetTransformer(skorch.NeuralNetClassifier):
    """A net as a transformer stage: its class probabilities are the features."""

    def transform(self, X):
        return self.predict_proba(X)


def test_nets_in_scikit_learn_searchers_and_as_transformers(digits, tmp_path):
    from sklearn.pipeline import Pipeline as SkPipeline

    from dagreuse.search import GridSearchCV

    X, y = digits
    log = str(tmp_path / "epochs")
    net = NetTransformer(MLP, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.AdamW,
                         batch_size=256, train_split=None, verbose=0, max_epochs=3,
                         callbacks=[("log", EpochLog(log))], module__hidden=16)
    pipe = SkPipeline([("scale", StandardScaler()), ("net", net),
                       ("clf", LogisticRegression(max_iter=200))])
    search = GridSearchCV(pipe, {"net__lr": [0.01, 0.03], "clf__C": [0.1, 1.0]}, cv=2).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 4 and np.all(scores > 0.3)
    # the two C values share each (lr, fold) net's training; then the refit's
    assert sum(read_counts(log).values()) == 2 * 2 * 3 + 3
