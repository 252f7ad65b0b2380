"""Cheap subtrees as one Dask task (``pipes/_granularity.py``): the nodes a task takes along
are still computed once, cached on their own (as parts of its result), read from the cache by
later tasks, and failing on their own — against the sync oracle, on a real in-process cluster."""

from distributed import get_task_stream
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from dagreuse.cache import Trace, Unbounded, WReciprocal
from dagreuse.pipes import Pipeline, Profile, Runner, merge, space
from dagreuse.pipes.testing import Counted, read_counts
from tests.conftest import counted_pipeline, fits
from tests.pipes.test_runner import Exploding


def configs(scale, cs=(0.1, 1.0), ks=(2, 3, 4, 5, 6), reduce="Counted"):
    key = "estimator__n_components" if reduce == "Counted" else "n_components"
    return [{"scale": (scale, {}), "reduce": (reduce, {key: k}),
             "clf": ("LogisticRegression", {"C": c})} for k in ks for c in cs]


def outcomes(results):
    return [r.get("test", r.get("error")) for r in results]


def oracle(dag):
    with Runner(Unbounded(), scheduler="sync") as runner:
        return runner.execute(dag)


def counted_run(runner, client, dag, log):
    """Execute ``dag``: its results, the Dask task keys it ran, the reduce fits it made."""
    open(log, "w").close()
    with get_task_stream(client=client) as tasks:
        results = runner.execute(dag)
    return results, [t["key"] for t in tasks.data], fits(read_counts(log), "reduce")


def prefixed(keys, prefix):
    return sum(k.startswith(prefix) for k in keys)


def test_cheap_subtrees_run_in_their_parents_task_and_are_cached(data, client, log):
    X, y = data
    pipe = counted_pipeline(log)
    with Runner(Unbounded(), client=client) as runner:
        runner.execute(merge(pipe, configs("std"), X, y, cv=3))  # measures every stage
        dag = merge(pipe, configs("minmax"), X, y, cv=3)
        results, keys, reduce_fits = counted_run(runner, client, dag, log)
        assert prefixed(keys, "reduce-") < dag.count("reduce")  # taken along by scale tasks
        assert reduce_fits == dag.count("reduce")  # each still computed once
        assert outcomes(results) == outcomes(oracle(dag))
        # new leaves below those nodes read them from the cache, as parts of the scale tasks
        dag = merge(pipe, configs("minmax", cs=(2.0, 3.0)), X, y, cv=3)
        results, keys, reduce_fits = counted_run(runner, client, dag, log)
        assert reduce_fits == 0 and not prefixed(keys, "scale-")
        assert not prefixed(keys, "part-")  # a cache that keeps all keeps bundles whole
        assert outcomes(results) == outcomes(oracle(dag))


def test_a_small_cache_extracts_the_parts_it_keeps(data, client, log):
    X, y = data
    pipe = counted_pipeline(log)
    with Runner(WReciprocal("30kB", seed=0), client=client) as runner:
        runner.execute(merge(pipe, configs("std"), X, y, cv=3))
        dag = merge(pipe, configs("minmax"), X, y, cv=3)
        results, keys, _ = counted_run(runner, client, dag, log)
        assert prefixed(keys, "part-") > 0  # some nodes kept, others not: kept ones extracted
        assert outcomes(results) == outcomes(oracle(dag))
        assert runner.cache.used <= 30_000
        later = merge(pipe, configs("minmax", cs=(2.0,)), X, y, cv=3)
        assert outcomes(runner.execute(later)) == outcomes(oracle(later))


def test_a_node_failing_inside_another_task_fails_only_its_requests(data, client):
    X, y = data
    pipe = Pipeline([
        ("scale", space.choice({"std": Counted(PCA(whiten=True)), "minmax": Counted(PCA())})),
        ("reduce", Exploding(random_state=0), {"n_components": space.randint(2, 8)}),
        ("clf", LogisticRegression(max_iter=500), {"C": space.loguniform(1e-2, 1e2)}),
    ])
    with Runner(Unbounded(), client=client) as runner:
        runner.execute(merge(pipe, configs("std", reduce="Exploding"), X, y, cv=3))
        dag = merge(pipe, configs("minmax", reduce="Exploding"), X, y, cv=3)
        trace = Trace()
        with get_task_stream(client=client) as tasks:
            results = runner.execute(dag, trace)
    assert prefixed([t["key"] for t in tasks.data], "reduce-") < dag.count("reduce")
    assert outcomes(results) == outcomes(oracle(dag))
    errors = [r["error"] for r in results if "error" in r]
    assert len(errors) == 2 * 3  # k=4, two C values, three folds
    assert all(e.startswith("stage 'reduce' (Exploding) failed: RuntimeError") for e in errors)
    assert Profile(trace).trace.count("fail") == 3  # the node, once per fold


def test_requests_submitted_later_read_nodes_computed_in_another_task(data, client, log):
    X, y = data
    pipe = counted_pipeline(log)
    first = merge(pipe, configs("minmax"), X, y, cv=3)
    second = merge(pipe, configs("minmax", cs=(5.0,)), X, y, cv=3)
    with Runner(Unbounded(), client=client) as runner:
        runner.execute(merge(pipe, configs("std"), X, y, cv=3))
        open(log, "w").close()
        with runner.open() as session:
            a = session.submit(first)  # its scale tasks start now, taking their subtrees along
            b = session.submit(second)  # its leaves wait for nodes live inside those tasks
            results = dict(session.results())
    assert fits(read_counts(log), "reduce") == first.count("reduce")
    assert outcomes(results[i] for i in a) == outcomes(oracle(first))
    assert outcomes(results[i] for i in b) == outcomes(oracle(second))
