"""AutoHAS: the reward never writes the shared weights, the controller stays frozen through its
warm-up, hyperparameters are read from the basis as specified, and a search runs end to end
(real torch training on digits as 1x8x8 images)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402

from dagreuse.cache import Unbounded  # noqa: E402
from dagreuse.pipes import Runner, space  # noqa: E402
from dagreuse.pipes.space import Arch  # noqa: E402
from dagreuse.pipes.supernet import AutoHASTrainer  # noqa: E402
from dagreuse.search import AutoHAS, run  # noqa: E402
from dagreuse.search._autohas import basis  # noqa: E402

SPACE = {"cell": space.cell(), "channels": 4, "activation": space.choice(["relu", "mish"]),
         "lr": space.loguniform(1e-3, 1.0), "weight_decay": space.choice([0.0, 1e-3])}
BASES = (("lr", (0.01, 0.1, 0.3)), ("weight_decay", (0.0, 1e-3)))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32).reshape(-1, 1, 8, 8), y


def started(digits, **kw):
    X, y = digits
    trainer = AutoHASTrainer(channels=4, activations=("relu", "mish"), bases=BASES, **kw)
    torch.manual_seed(0)
    trainer.begin(torch.as_tensor(X[:300]), torch.as_tensor(y[:300]), device="cpu")
    return trainer, torch.as_tensor(X[:300]), torch.as_tensor(y[:300])


def test_the_reward_uses_temporary_weights_and_writes_no_weight(digits):
    trainer, X, y = started(digits)
    arch = Arch(["conv_3x3", "skip_connect", "conv_1x1", "none", "avg_pool_3x3", "conv_3x3"])
    before = {k: v.clone() for k, v in trainer.net_.state_dict().items()}
    hp = {"lr": 0.3, "weight_decay": 0.0}
    _, _, q = trainer.reward(X[:64], y[:64], X[64:192], y[64:192], arch, "relu", hp)
    after = trainer.net_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    _, _, q_shared = AutoHASTrainer.reward(
        trainer.set_params(temporary=False), X[:64], y[:64], X[64:192], y[64:192], arch, "relu",
        hp)
    assert q != q_shared  # the temporary step changed what was scored


def test_the_controller_is_frozen_through_the_warm_up(digits):
    trainer, X, y = started(digits, epochs=10, warmup=0.3, batch_size=64)
    theta = {k: v.detach().clone() for k, v in trainer.theta_.items()}
    trainer.train(X, y, 2)  # 2 of 10 planned epochs: inside the warm-up
    assert all(torch.equal(theta[k], v) for k, v in trainer.theta_.items())
    assert trainer.baseline_ > 0  # the baseline follows the rewards from the first step
    trainer.train(X, y, 2)
    assert not all(torch.equal(theta[k], v) for k, v in trainer.theta_.items())
    assert trainer.step_ == 4 * 4  # 240 training rows (60 held for rewards) in batches of 64


def test_bases_and_the_final_choice():
    assert basis(space.loguniform(1e-3, 1e-1), 3) == pytest.approx((1e-3, 1e-2, 1e-1))
    assert basis(space.choice(["a", "b"]), 5) == ("a", "b")
    assert basis(space.randint(1, 4), 5) == (1, 2, 3)
    ah = AutoHAS(SPACE, epochs=1, basis_size=3)
    assert dict(ah.bases) == {"lr": pytest.approx((1e-3, 10 ** -1.5, 1.0)),
                              "weight_decay": (0.0, 1e-3)}
    policy = {"cell": [[0, 0, 0, 1, 0]] * 6, "activation": [0.2, 0.8],
              "lr": [0.5, 0.5, 0.0], "weight_decay": [0.3, 0.7]}
    choice = ah._choose(policy)
    assert choice["cell"] == Arch(["conv_3x3"] * 6) and choice["activation"] == "mish"
    assert choice["lr"] == pytest.approx(0.5 * 1e-3 + 0.5 * 10 ** -1.5)  # continuous: weighted
    assert choice["weight_decay"] == 1e-3  # a choice: the most likely value


def test_autohas_searches_and_retrains_its_choice(digits):
    X, y = digits
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(AutoHAS(SPACE, epochs=2, retrain_epochs=2, chunk=1), X, y, cv=0.2,
                     runner=runner)
    assert set(result.policy) == {"cell", "activation", "lr", "weight_decay"}
    assert all(sum(p) == pytest.approx(1) for p in result.policy["cell"])
    assert isinstance(result.best_config["cell"], Arch)
    assert 1e-3 <= result.best_config["lr"] <= 1.0
    assert result.trials[0]["status"] == "ok" and 0 < result.best_score <= 1


@pytest.mark.parametrize("kw, match", [
    ({"warmup": 1.0}, "'warmup' parameter of AutoHAS"),
    ({"meta_lr": 0}, "'meta_lr' parameter of AutoHAS"),
    ({"bases": {"momentum": [0.5, 0.9]}}, r"'bases' parameter of AutoHAS names \['momentum'\]"),
    ({"basis_size": 1}, "'basis_size' parameter of AutoHAS"),
])
def test_bad_input_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        AutoHAS(SPACE, **kw)
