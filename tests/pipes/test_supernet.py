"""The NB201 supernet and its training loops: architectures as plain data, only the active path
computed and trained, stand-alone copies equal to the supernet, training reproducible and
resumable in chunks, and the evaluation DAG (many candidates per task) equal on the oracle and
on Dask."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402

from dagreuse.cache import Trace, Unbounded  # noqa: E402
from dagreuse.pipes import Problem, Runner, evaluations, neural, space  # noqa: E402
from dagreuse.pipes.space import NB201_OPS, Arch  # noqa: E402
from dagreuse.pipes.supernet import (  # noqa: E402
    CellNet,
    Supernet,
    SupernetTrainer,
    active_edges,
)

ARCH = Arch(["conv_3x3", "none", "skip_connect", "avg_pool_3x3", "none", "conv_1x1"])


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32).reshape(-1, 1, 8, 8), y


def digest(state: dict) -> str:
    return hashlib.sha256(b"".join(v.numpy().tobytes() for v in state.values())).hexdigest()


def test_an_arch_is_plain_data_printed_as_nb201():
    text = "|conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|conv_1x1~2|"
    assert str(ARCH) == text and Arch.parse(text) == ARCH
    assert hash(ARCH) == hash(Arch(list(ARCH))) and tuple(ARCH) == tuple(ARCH)
    assert ARCH.edges()[2] == (1, 2, "skip_connect") and ARCH.nodes == 4
    cell = space.cell()
    assert cell.size() == 5 ** 6 and cell.nodes == 4 and len(cell.values()) == 15_625
    with pytest.raises(ValueError, match="'edges' parameter of cell"):
        space.cell(edges=5)
    with pytest.raises(ValueError, match="'ops' parameter of cell"):
        space.cell(ops=["conv_3x3", "conv_3x3"])
    with pytest.raises(ValueError, match="not an NB201 architecture string"):
        Arch.parse("|conv_3x3~1|+|none~0|skip_connect~1|+|a~0|b~1|c~2|")


def test_active_edges_are_those_on_a_path_from_input_to_output():
    assert active_edges(ARCH) == [(0, 1, "conv_3x3"), (1, 2, "skip_connect"),
                                  (0, 3, "avg_pool_3x3"), (2, 3, "conv_1x1")]
    # node 1 reaches nothing, and nothing reaches node 2: only the direct edge counts
    assert active_edges(Arch(["conv_3x3", "none", "none", "skip_connect", "none",
                              "conv_1x1"])) == [(0, 3, "skip_connect")]
    assert active_edges(Arch(["none"] * 6)) == []


def test_forward_runs_and_trains_only_the_active_path():
    torch.manual_seed(0)
    net = Supernet(1, 10, channels=4)
    called = set()
    for name, module in net.named_modules():
        module.register_forward_hook(lambda m, i, o, name=name: called.add(name))
    x = torch.randn(8, 1, 8, 8)
    net(x, ARCH).sum().backward()
    edges = {n for n in called if ".edges." in n and n.count(".") == 4}
    assert edges == {"cells.0.edges.0_1.conv_3x3", "cells.0.edges.2_3.conv_1x1",
                     "cells.1.edges.0_1.conv_3x3", "cells.1.edges.2_3.conv_1x1",
                     "cells.2.edges.0_1.conv_3x3", "cells.2.edges.2_3.conv_1x1"}
    touched = net.touched(ARCH)
    assert {n for n, p in net.named_parameters() if p.grad is not None} == touched
    assert len(touched) < len(list(net.parameters()))
    # an optimizer step changes only what the path touched
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3).step()
    moved = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    assert moved <= touched


def test_a_cell_without_a_path_outputs_zeros_without_computing_its_edges():
    torch.manual_seed(0)
    net = Supernet(1, 10, channels=4)
    dead = Arch(["none", "conv_3x3", "conv_3x3", "none", "none", "none"])
    out = net(torch.randn(4, 1, 8, 8), dead)
    assert out.shape == (4, 10)
    out.sum().backward()
    assert {n for n, p in net.named_parameters() if p.grad is not None} == net.touched(dead)
    assert not any(".edges." in n for n in net.touched(dead))


def test_extract_gives_a_standalone_copy_with_equal_outputs():
    torch.manual_seed(0)
    net = Supernet(1, 10, channels=4, activation="mish")
    x = torch.randn(8, 1, 8, 8)
    sub = net.extract(ARCH)
    assert torch.equal(sub(x), net(x, ARCH))
    assert torch.equal(net.extract(ARCH)(x, activation="relu"), net(x, ARCH, "relu"))
    assert set(dict(sub.named_parameters())) == net.touched(ARCH)
    with pytest.raises(ValueError, match="not an architecture of this supernet"):
        Supernet(1, 10, 4, ops=("none", "skip_connect")).extract(ARCH)


def test_supernet_training_resumes_in_chunks_exactly(digits):
    X, y = digits[0][:600], digits[1][:600]
    trainer = SupernetTrainer(channels=4, activations=("relu", "mish"), batch_size=64)
    once = neural.train(trainer, X, y, 2, seed=3)
    again = neural.train(trainer, X, y, 2, seed=3)
    chunked = neural.train(trainer, X, y, 2, seed=3, previous=neural.train(trainer, X, y, 1, seed=3))
    assert digest(once.state["net"]) == digest(again.state["net"]) == digest(chunked.state["net"])
    other = neural.train(trainer, X, y, 2, seed=4)
    assert digest(other.state["net"]) != digest(once.state["net"])


def test_evaluate_scores_candidates_on_the_same_minibatches(digits):
    X, y = digits
    model = neural.restore(t := SupernetTrainer(channels=4),
                           neural.train(t, X[:1200], y[:1200], 2))
    cands = [{"cell": ARCH}, {"cell": Arch(["skip_connect"] * 6), "activation": "mish"}]
    scores = model.evaluate(X[1200:], y[1200:], cands, batches=2)
    assert scores == model.evaluate(X[1200:], y[1200:], cands, batches=2)
    assert all(0 <= s <= 1 for s in scores) and len(scores) == 2
    assert model.evaluate(X[1200:], y[1200:], cands[:1], batches=None)[0] != scores[0]
    with pytest.raises(TypeError, match="predicts only for an architecture"):
        model.predict(X[:3])


def test_cellnet_is_a_classifier_trained_from_scratch(digits):
    X, y = digits
    net = CellNet(cell=str(ARCH), channels=4)
    model = neural.restore(net, neural.train(net, X[:1400], y[:1400], 3))
    assert model.score(X[1400:], y[1400:]) > 0.5
    assert set(model.predict(X[:20])) <= set(range(10))


def test_evaluation_dags_share_the_checkpoints_and_agree_with_dask(digits):
    X, y = digits
    trainer = SupernetTrainer(channels=4)
    problem = Problem.of(X, y, 0.2, None, trainer)
    cells = [Arch(ops) for ops in itertools.islice(itertools.product(NB201_OPS, repeat=6), 0,
                                                   15625, 977)][:16]
    groups = [{"candidates": [{"cell": c} for c in cells[i:i + 8]], "batches": 2}
              for i in (0, 8)]
    results = {}
    for scheduler in ("sync", "dask"):
        kw = {"scheduler": "sync"} if scheduler == "sync" else {"processes": False, "n_workers": 1,
                                                                  "threads_per_worker": 2}
        with Runner(Unbounded(), **kw) as runner:
            first = runner.execute(evaluations(trainer, [1, 2], groups, problem))
            trace = Trace()
            longer = runner.execute(evaluations(trainer, [1, 2, 3], groups, problem), trace)
            # the second DAG computed its new checkpoint and its two leaves, nothing else
            done = [trace.nodes[e["key"]] for e in trace.events if e["ev"] == "compute"]
            assert [(n["leaf"], n.get("units")) for n in done if not n["leaf"]] == [(False, 1)]
            assert len(done) == 3
        results[scheduler] = [list(r["values"]) for r in first + longer]
    assert results["sync"] == results["dask"]
    assert len(results["sync"][0]) == 8
