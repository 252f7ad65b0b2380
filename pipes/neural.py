"""Torch models as pipeline stages: the one interface ``Epochs`` trains, and its skorch adapter.

A neural stage is any scikit-learn estimator that can be trained epoch by epoch and checkpointed.
The interface is four methods (:class:`Trainable`): start a fresh model on a device, train some
more epochs in place, return its state with every tensor on CPU, and restore such a state on a
device. skorch's ``NeuralNet``/``NeuralNetClassifier``/``NeuralNetRegressor`` get it from
:class:`Skorch`; a user with a training loop of their own implements the four methods on their
estimator (``docs/neural.md`` has one in 40 lines of plain torch).

What dagreuse adds around it, so that a checkpoint resumes exactly:

* **Seeds.** torch's global generator is seeded (``Epochs(seed=)``, 0 otherwise) just before a
  fresh model is made, and its state and numpy's are part of every checkpoint: 4 epochs, a
  checkpoint and 12 more equal 16 in one go (weights and scores), dropout and shuffling included.
  Those generators are process-global, so a torch node holds one lock per process (:data:`LOCK`):
  nets train and score one at a time in a worker (a GPU worker has one thread anyway; torch
  uses the cores itself), and give the same results in any executor.
* **Devices.** A stage whose ``device`` is ``"cuda..."`` runs on CUDA where the process has it and
  on CPU otherwise (:func:`device`); results and checkpoints are always on CPU, so they can be
  cached, sized and sent to any worker. A net's data goes to the device once per task, as
  tensors, not batch by batch.
* **Errors.** A CUDA out-of-memory error frees torch's cached blocks and fails that candidate
  only, saying so.

torch and skorch are optional (``pip install "dagreuse[torch]"``): this module imports neither
until a net is trained, so the rest of dagreuse runs without them, and so does a Trainable that
does not use torch (its generators are numpy's then).
"""

from __future__ import annotations

import copy
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from dask.sizeof import sizeof as dask_sizeof
from sklearn.base import clone

__all__ = [
    "METHODS",
    "NetCheckpoint",
    "Skorch",
    "Trainable",
    "device",
    "device_of",
    "fit",
    "is_net",
    "restore",
    "train",
    "wants_gpu",
]

#: The methods of :class:`Trainable`, by which an estimator is recognised as one.
METHODS = ("begin", "train", "state", "restore")
LOCK = threading.RLock()  # torch's and numpy's global generators (module docstring)


@runtime_checkable
class Trainable(Protocol):
    """An estimator that ``Epochs`` can train, checkpoint and resume (module docstring).

    It is a scikit-learn estimator (``get_params`` keys it and searches set its parameters;
    scorers call its ``predict``/``score`` once trained), with ``max_epochs`` as its default
    highest level and a ``device`` parameter when it may run on a GPU.
    """

    def begin(self, X: Any, y: Any, *, device: str) -> None:
        """Make a fresh, untrained model on ``device`` (torch is seeded just before)."""

    def train(self, X: Any, y: Any, epochs: int) -> None:
        """Train ``epochs`` more epochs in place; ``X`` and ``y`` are tensors on the device."""

    def state(self) -> dict:
        """Everything training needs to go on (weights, optimizer, history), tensors on CPU."""

    def restore(self, state: dict, *, device: str) -> None:
        """Make the model of :meth:`state` on ``device``, ready to train on or to predict."""


class Skorch:
    """:class:`Trainable` for a skorch net: ``net`` is an unfitted copy, trained in place."""

    def __init__(self, net: Any):
        self.net = net

    def begin(self, X: Any, y: Any, *, device: str) -> None:
        self.net.set_params(device=device)
        self.net.initialize()

    def train(self, X: Any, y: Any, epochs: int) -> None:
        self.net.set_params(max_epochs=epochs)
        self.net.partial_fit(X, y)

    def state(self) -> dict:
        net = self.net
        out = {"module": _cpu(net.module_.state_dict()),
               "optimizer": _cpu(net.optimizer_.state_dict()),
               "criterion": _cpu(net.criterion_.state_dict()),
               "history": net.history.to_list()}
        if hasattr(net, "classes_inferred_"):
            out["classes_inferred_"] = net.classes_inferred_
        return out

    def restore(self, state: dict, *, device: str) -> None:
        from skorch.history import History

        net = self.net
        self.begin(None, None, device=device)
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])  # moves its tensors to the params'
        net.criterion_.load_state_dict(state["criterion"])
        net.history = History(state["history"])
        if "classes_inferred_" in state:
            net.classes_inferred_ = state["classes_inferred_"]


@dataclass
class NetCheckpoint:
    """A model trained to ``epochs``: its :meth:`Trainable.state` and the generators' states."""

    state: dict
    epochs: int
    rng: dict = field(default_factory=dict)


@dask_sizeof.register(NetCheckpoint)
def _sizeof_checkpoint(ckpt: NetCheckpoint) -> int:
    return _tensor_bytes(ckpt.state) + _tensor_bytes(ckpt.rng) + 256


def _tensor_bytes(obj: Any) -> int:
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_tensor_bytes(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    nbytes = getattr(obj, "nbytes", None)  # a torch tensor
    return int(nbytes) if isinstance(nbytes, int) else 16


def _torch() -> Any:
    """torch, or None where it is not installed (a Trainable need not use torch)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _cpu(obj: Any) -> Any:
    """``obj`` with every tensor in it detached, copied to CPU (nested dicts and lists)."""
    torch = _torch()
    if torch is not None and isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return type(obj)((k, _cpu(v)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def is_net(operator: Any) -> bool:
    """Whether ``operator`` is a skorch net or implements :class:`Trainable`."""
    skorch = sys.modules.get("skorch")
    if skorch is not None and isinstance(operator, skorch.NeuralNet):
        return True
    return all(callable(getattr(operator, m, None)) for m in METHODS)


def wants_gpu(operator: Any) -> bool:
    """Whether ``operator`` asks for a GPU: its ``device`` is ``"cuda"`` or ``"cuda:N"``."""
    dev = getattr(operator, "device", None)
    return isinstance(dev, str) and dev.startswith("cuda")


def device(operator: Any) -> str:
    """Where ``operator`` trains in this process (DESIGN §4, Devices): :func:`device_of` its
    ``device``."""
    return device_of(getattr(operator, "device", None))


def device_of(requested: Any) -> str:
    """``requested`` (``"cuda"``, ``"cuda:1"``, ``"cpu"``) where this process has it: a CUDA
    device only where CUDA is available, else ``"cpu"``."""
    if not isinstance(requested, str) or not requested:
        return "cpu"
    if not requested.startswith("cuda"):
        return requested
    torch = _torch()
    return requested if torch is not None and torch.cuda.is_available() else "cpu"


def _trainer(operator: Any) -> Any:
    """An unfitted copy of ``operator`` as a :class:`Trainable`."""
    model = clone(operator)
    return model if all(callable(getattr(model, m, None)) for m in METHODS) else Skorch(model)


def _estimator(trainer: Any) -> Any:
    return trainer.net if isinstance(trainer, Skorch) else trainer


def _tensors(X: Any, y: Any, dev: str) -> tuple[Any, Any]:
    """Dense arrays as tensors on ``dev``, once per task (others as they are: skorch's own)."""
    torch = _torch()
    if torch is None:
        return X, y

    def move(a: Any) -> Any:
        return torch.as_tensor(a, device=dev) if isinstance(a, np.ndarray) and a.dtype != object else a

    return move(X), move(y)


def _generators() -> dict:
    torch = _torch()
    out = {"numpy": np.random.get_state()}
    if torch is None:
        return out
    out["torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _set_generators(rng: dict) -> None:
    np.random.set_state(rng["numpy"])
    torch = _torch()
    if torch is None:
        return
    if "torch" in rng:
        torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _seed(seed: int) -> None:
    np.random.seed(seed)
    torch = _torch()
    if torch is not None:
        torch.manual_seed(seed)


def _oom(exc: BaseException, dev: str) -> BaseException:
    """A CUDA out-of-memory error as one that says so (and torch's cached blocks freed)."""
    torch = _torch()
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return RuntimeError(f"CUDA out of memory on {dev}: {exc}")
    return exc


def train(operator: Any, X: Any, y: Any, epochs: int, seed: int = 0,
          previous: NetCheckpoint | None = None) -> NetCheckpoint:
    """``operator`` trained to ``epochs``: from ``previous`` (a checkpoint at fewer epochs) or
    from a fresh model seeded with ``seed``; the result is on CPU."""
    trainer = _trainer(operator)
    with LOCK:  # the generators' states right after this training, not another thread's
        _train(trainer, device(operator), X, y, epochs, seed, previous)
        return NetCheckpoint(trainer.state(), epochs, _generators())


def fit(operator: Any, X: Any, y: Any, seed: int = 0, **fit_params: Any) -> Any:
    """A net fitted from scratch to its ``max_epochs`` (a stage without ``Epochs``): the same
    model as ``train`` to that many epochs, on this process's device."""
    trainer = _trainer(operator)
    _train(trainer, device(operator), X, y, operator.max_epochs, seed, None, fit_params)
    return _estimator(trainer)


def restore(operator: Any, checkpoint: NetCheckpoint) -> Any:
    """The trained estimator of ``checkpoint`` on this process's device, ready to score."""
    trainer = _trainer(operator)
    dev = device(operator)
    with LOCK:
        try:
            trainer.restore(copy.deepcopy(checkpoint.state), device=dev)
        except Exception as exc:
            raise _oom(exc, dev) from exc
    return _estimator(trainer)


def _train(trainer: Any, dev: str, X: Any, y: Any, epochs: int, seed: int,
           previous: NetCheckpoint | None, fit_params: dict | None = None) -> None:
    with LOCK:
        try:
            Xt, yt = _tensors(X, y, dev)
            if previous is None:
                _seed(seed)
                trainer.begin(Xt, yt, device=dev)
                done = 0
            else:
                # a copy: torch's optimizers keep the tensors they load, and train them in place
                trainer.restore(copy.deepcopy(previous.state), device=dev)
                _set_generators(previous.rng)
                done = previous.epochs
            if epochs <= done:
                return
            if fit_params:
                if not isinstance(trainer, Skorch):
                    raise TypeError(f"Fit parameters for {type(trainer).__name__} are not "
                                    f"supported (Trainable.train takes none). Got {sorted(fit_params)}.")
                trainer.net.set_params(max_epochs=epochs - done)
                trainer.net.partial_fit(Xt, yt, **fit_params)
            else:
                trainer.train(Xt, yt, epochs - done)
        except Exception as exc:
            raise _oom(exc, dev) from exc
