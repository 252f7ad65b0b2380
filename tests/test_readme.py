"""Every Python example in the README runs, as written, on small real data: each block in a
namespace holding what its text assumes (``X, y`` and the like, named in ``GIVEN``)."""

import pathlib
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

README = pathlib.Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _digits(n):
    X, y = load_digits(return_X_y=True)
    return X[:n], y[:n]


def _text(n=240, seed=0):
    """Short documents whose words depend on their label."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(300)])
    y = rng.integers(0, 3, n)
    docs = [" ".join(rng.choice(vocab[c * 100:(c + 1) * 100 + 50], 25)) for c in y]
    return docs, y


def _small_result():
    from sklearn.linear_model import LogisticRegression

    from dagreuse.pipes import Pipeline, Runner, space
    from dagreuse.search import GridSearch, run

    X, y = _digits(200)
    pipe = Pipeline([("clf", LogisticRegression(max_iter=500), {"C": space.choice([0.1, 1.0])})])
    with Runner(scheduler="sync") as runner:
        return run(GridSearch(pipe), X, y, cv=2, runner=runner)


def _given(i, client):
    """What block ``i`` assumes is defined: data, imports its text leaves out, a cluster."""
    code = BLOCKS[i]
    ns = {"np": np}
    if "TfidfVectorizer" in code:  # the scikit-learn drop-in: text data
        from scipy.stats import loguniform
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.feature_selection import SelectPercentile, chi2
        from sklearn.linear_model import SGDClassifier
        from sklearn.pipeline import Pipeline

        X, y = _text()
        ns.update(TfidfVectorizer=TfidfVectorizer, SelectPercentile=SelectPercentile, chi2=chi2,
                  SGDClassifier=SGDClassifier, X=X, y=y, X_new=X[:5],
                  w=np.random.default_rng(0).uniform(0.5, 2.0, len(y)),
                  pipe=Pipeline([("vec", TfidfVectorizer()), ("clf", SGDClassifier(random_state=0))]),
                  dists={"clf__alpha": loguniform(1e-5, 1e-2)})
    elif "RBFSampler" in code:  # multi-fidelity
        from sklearn.kernel_approximation import RBFSampler
        from sklearn.linear_model import SGDClassifier
        from sklearn.preprocessing import StandardScaler

        ns.update(StandardScaler=StandardScaler, RBFSampler=RBFSampler,
                  SGDClassifier=SGDClassifier)
        ns["X"], ns["y"] = _digits(150)
    elif "skorch" in code:  # neural leaves: a module class the worker processes unpickle
        pytest.importorskip("skorch")
        ns["__name__"] = "readme_example"  # not importable there, so pickled by value
        ns["X"], ns["y"] = _digits(300)
    elif "RSWS" in code:  # weight sharing: digits as 1x8x8 images
        pytest.importorskip("torch")
        X, y = _digits(200)
        ns["X_images"], ns["y"] = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8), y
    elif "simulate" in code:  # replays a search's result
        ns["result"] = _small_result()
    elif "Client(" in code:  # the address of a cluster: here, the test's own
        ns["Client"] = lambda address: client
        from dagreuse.pipes import Runner

        ns["Runner"] = Runner
    else:
        ns["X"], ns["y"] = _digits(600)
    return ns


@pytest.mark.parametrize("i", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(i, client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write their traces and pictures here
    ns = _given(i, client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the examples' small fits
        exec(compile(BLOCKS[i], f"README.md block {i}", "exec"), ns)


def test_readme_is_short():
    """For users: the commands, a tour, a section per capability (issue 19: under 250 lines)."""
    assert len(README.read_text().splitlines()) < 250
