"""Runner behaviour, checked by counting real work (DESIGN §6): what ran, how often, with what
scores — on the sync oracle, an in-process Dask cluster and a multi-process one."""

import math
import sys

import numpy as np
import pytest
from distributed import get_task_stream
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import NoCache, Trace, Unbounded, WReciprocal
from dagreuse.pipes import Pipeline, Profile, Runner, _ops, merge, space
from dagreuse.pipes._granularity import jobs as jobs_of
from dagreuse.pipes._memory import _libc, retained
from dagreuse.pipes.testing import read_counts
from tests.conftest import counted_pipeline, fits

SCALES = ["std", "minmax", "none"]


def configs(n_reduce=(3, 5), cs=(0.1, 1.0)):
    return [{"scale": (s, {}), "reduce": ("Counted", {"estimator__n_components": k}),
             "clf": ("LogisticRegression", {"C": c})}
            for s in SCALES for k in n_reduce for c in cs]


def execute(runner, dag):
    trace = Trace()
    results = runner.execute(dag, trace)
    return results, Profile(trace)


def untimed(results):
    """Results without their measured seconds, which differ between any two runs."""
    return [{k: v for k, v in r.items() if k not in ("fit_time", "score_time")} for r in results]


@pytest.fixture(params=["sync", "dask"])
def make_runner(request, client):
    def make(cache, **kw):
        if request.param == "sync":
            return Runner(cache, scheduler="sync")
        return Runner(cache, client=client, **kw)
    make.sequential = request.param == "sync"
    return make


def test_unbounded_computes_every_unique_node_once(data, log, make_runner):
    X, y = data
    dag = merge(counted_pipeline(log), configs(), X, y, cv=3, scoring="accuracy")
    with make_runner(Unbounded()) as runner:
        results, profile = execute(runner, dag)
    counts = read_counts(log)
    assert all(n == 1 for n in counts.values())  # no (event, node, data) line twice
    assert fits(counts, "scale") == 2 * 3  # std and minmax, per fold ("none" is no node)
    assert fits(counts, "reduce") == dag.count("reduce") == 3 * 2 * 3
    # validation folds are transformed once per node too
    assert fits(counts, "reduce", "transform") == dag.count("reduce")
    assert profile.n_computed == len(dag) and profile.cache_stats["evictions"] == 0
    assert all("test" in r for r in results)


def test_nocache_sequential_recomputes_every_path(data, log, make_runner):
    X, y = data
    cfgs = configs()
    dag = merge(counted_pipeline(log), cfgs, X, y, cv=3, scoring="accuracy")
    with make_runner(NoCache(), max_in_flight=1) as runner:
        _, profile = execute(runner, dag)
    counts = read_counts(log)
    scaled = sum(c["scale"][0] != "none" for c in cfgs)
    assert fits(counts, "scale") == scaled * 3  # = independent evaluation
    assert fits(counts, "reduce") == len(cfgs) * 3
    assert profile.cache_stats["peak_bytes"] == 0
    assert profile.spent_seconds == pytest.approx(profile.independent_seconds, rel=0.5)


def test_small_cache_stays_under_capacity_with_equal_scores(data, log, make_runner):
    X, y = data
    dag = merge(counted_pipeline(log), configs((2, 3, 4, 5), (0.1, 1.0, 10.0)), X, y, cv=3,
                scoring="accuracy")
    with make_runner(Unbounded()) as runner:
        full, profile = execute(runner, dag)
    capacity = profile.working_set_bytes // 3
    with make_runner(WReciprocal(capacity, seed=0)) as runner:
        small, small_profile = execute(runner, dag)
    stats = small_profile.cache_stats
    assert 0 < stats["peak_bytes"] <= capacity
    assert stats["evictions"] + stats["rejections"] > 0
    assert [r["test"] for r in small] == [r["test"] for r in full]
    assert small_profile.n_computed >= profile.n_computed
    if make_runner.sequential:
        # In depth-first order the nodes the requests still to come need fit in a third of the
        # working set, and the cache evicts the others first (the known future): nothing is lost
        assert small_profile.n_computed == profile.n_computed


def test_first_stage_nodes_started_ahead_are_held_until_claimed(data, client, log):
    # NoCache admits nothing, so only the hold keeps a node started ahead for its requests
    X, y = data
    dag = merge(counted_pipeline(log), configs((2, 3, 4, 5), (0.1, 1.0, 10.0)), X, y, cv=3,
                scoring="accuracy")
    heads = {k for k, n in dag.nodes.items()
             if n.parents and all(dag.nodes[p].stage == "split" for p in n.parents)}
    with Runner(NoCache(), client=client) as runner:  # 2 threads: 2 started ahead at a time
        results, _ = execute(runner, dag)
    trace = runner._trace
    ahead = [e["key"] for e in trace.events if e["ev"] == "miss" and e.get("req", 0) is None]
    assert ahead and set(ahead) - {k for k in dag.nodes if dag.nodes[k].stage == "split"} <= heads
    for key in set(ahead) & heads:
        first = next(e for e in trace.events if e.get("key") == key and e.get("req") is not None
                     and e["ev"] in ("miss", "share", "hit"))
        assert first["ev"] == "share"  # its first request found it, not a recomputation
    with Runner(Unbounded(), scheduler="sync") as oracle:
        expected, _ = execute(oracle, dag)
    assert [r["test"] for r in results] == [r["test"] for r in expected]


def test_scores_equal_cross_val_score(data):
    X, y = data
    pipe = Pipeline([
        ("scale", space.choice({"std": StandardScaler(), "none": None})),
        ("reduce", PCA(random_state=0), {"n_components": space.randint(2, 12)}),
        ("clf", LogisticRegression(max_iter=500), {"C": space.loguniform(1e-2, 1e2)}),
    ])
    cfgs = [{"scale": (s, {}), "reduce": ("PCA", {"n_components": k}),
             "clf": ("LogisticRegression", {"C": c})}
            for s in ("std", "none") for k in (3, 7) for c in (0.05, 3.0)]
    cv = StratifiedKFold(4, shuffle=True, random_state=1)
    dag = merge(pipe, cfgs, X, y, cv=cv, scoring="accuracy")
    with Runner(Unbounded(), scheduler="sync") as runner:
        results = runner.execute(dag)
    got = {}
    for req, res in zip(dag.requests, results, strict=True):
        for i in req.configs:
            got.setdefault(i, {})[req.fold] = res["test"]["score"]
    for i, c in enumerate(cfgs):
        steps = [StandardScaler()] if c["scale"][0] == "std" else []
        est = make_pipeline(*steps, PCA(c["reduce"][1]["n_components"], random_state=0),
                            LogisticRegression(max_iter=500, C=c["clf"][1]["C"]))
        expected = cross_val_score(est, X, y, cv=cv, scoring="accuracy")
        np.testing.assert_allclose([got[i][f] for f in range(4)], expected, rtol=0, atol=1e-12)


def test_dask_and_sync_oracle_agree_exactly(data, client, log):
    X, y = data
    dag = merge(counted_pipeline(log), configs(), X, y, cv=3, scoring=["accuracy", "f1_macro"])
    with Runner(WReciprocal("50kB", seed=0), scheduler="sync") as runner:
        oracle = runner.execute(dag)
    with Runner(WReciprocal("50kB", seed=0), client=client) as runner:
        dask = runner.execute(dag)
    assert untimed(oracle) == untimed(dask)


def _unreported(topic, name, fn, payload, paths, *args):
    args = [a if p is None else _ops.part(a, p) for a, p in zip(args, paths, strict=True)]
    return fn(payload, *args)  # as if the worker's report were lost


def test_lost_worker_reports_are_fetched_instead(data, client, log, monkeypatch):
    X, y = data
    dag = merge(counted_pipeline(log), configs(), X, y, cv=3)
    with Runner(Unbounded(), scheduler="sync") as runner:
        oracle = runner.execute(dag)
    monkeypatch.setattr("dagreuse.pipes._ops.reported", _unreported)  # in-process workers
    with Runner(Unbounded(), client=client) as runner:
        results, profile = execute(runner, dag)
    assert [r["test"] for r in results] == [r["test"] for r in oracle]
    assert profile.n_computed == profile.n_unique_nodes
    assert all(profile.trace.nbytes(k) > 0 for k, n in profile.trace.nodes.items()
               if not n["leaf"])


class Exploding(PCA):
    """A real PCA that refuses one setting, as a broken operator would."""

    def fit_transform(self, X, y=None):
        if self.n_components == 4:
            raise RuntimeError("refusing 4 components")
        return super().fit_transform(X, y)


def test_failing_operator_fails_only_its_candidates(data, make_runner):
    X, y = data
    pipe = Pipeline([("reduce", Exploding(), {"n_components": space.randint(2, 8)}),
                     ("clf", LogisticRegression(max_iter=500), {"C": space.loguniform(0.1, 10)})])
    cfgs = [{"reduce": ("Exploding", {"n_components": k}), "clf": ("LogisticRegression", {"C": c})}
            for k in (3, 4, 5) for c in (0.5, 2.0)]
    dag = merge(pipe, cfgs, X, y, cv=3)
    with make_runner(Unbounded()) as runner:
        results, profile = execute(runner, dag)
    for req, res in zip(dag.requests, results, strict=True):
        k = cfgs[req.configs[0]]["reduce"][1]["n_components"]
        if k == 4:
            assert res["error"].startswith("stage 'reduce' (Exploding) failed: RuntimeError: "
                                           "refusing 4 components")
        else:
            assert 0 <= res["test"]["score"] <= 1
    assert profile.trace.count("fail") >= 3  # once per fold at least


class Refusing(LogisticRegression):
    """A real classifier that refuses one setting."""

    def fit(self, X, y, sample_weight=None):
        if self.C == 1.0:
            raise RuntimeError("refusing C=1")
        return super().fit(X, y, sample_weight)


def test_failing_leaf_fails_only_itself_when_leaves_share_a_task(data, client):
    X, y = data
    pipe = Pipeline([("reduce", PCA(), {"n_components": space.randint(2, 8)}),
                     ("clf", Refusing(max_iter=200), {"C": space.loguniform(0.01, 100)})])
    cs = [0.01, 0.1, 1.0, 10.0, 100.0] * 4  # duplicates merge: 5 leaves per parent
    cfgs = [{"reduce": ("PCA", {"n_components": k}), "clf": ("Refusing", {"C": c})}
            for k in (3, 5, 7) for c in cs]
    dag = merge(pipe, cfgs, X, y, cv=3)
    with Runner(Unbounded(), scheduler="sync") as runner:
        oracle = runner.execute(dag)
    # max_in_flight=2 < 5 siblings: grouped before and after the first leaves are measured
    with (get_task_stream(client=client) as tasks,
          Runner(Unbounded(), client=client, max_in_flight=2) as runner):
        results, profile = execute(runner, dag)
    leaf_tasks = [t for t in tasks.data if t["key"].startswith("clf-")]
    assert len(leaf_tasks) < len(dag.requests)  # leaves sharing a parent ran together
    for req, res, want in zip(dag.requests, results, oracle, strict=True):
        if cfgs[req.configs[0]]["clf"][1]["C"] == 1.0:
            assert res["error"] == want["error"]
            assert res["error"].startswith("stage 'clf' (Refusing) failed: RuntimeError: refusing")
        else:
            assert res["test"] == want["test"]
    assert profile.trace.count("fail") == 3 * 3


def test_a_node_and_all_its_leaves_run_as_one_task(data, client):
    # one classifier per reduce node, and reduce is not a first stage (those start ahead): each
    # leaf group holds every child of a node still in the pool, so it runs in that node's task
    X, y = data
    pipe = Pipeline([("scale", StandardScaler()),
                     ("reduce", Exploding(), {"n_components": space.randint(2, 8)}),
                     ("clf", LogisticRegression(max_iter=500), {"C": space.loguniform(0.1, 10)})])
    cfgs = [{"scale": ("StandardScaler", {}), "reduce": ("Exploding", {"n_components": k}),
             "clf": ("LogisticRegression", {"C": 1.0})} for k in (3, 4, 5)]
    dag = merge(pipe, cfgs, X, y, cv=3)
    with Runner(Unbounded(), scheduler="sync") as runner:
        oracle, want = execute(runner, dag)
    with get_task_stream(client=client) as tasks, Runner(Unbounded(), client=client) as runner:
        results, profile = execute(runner, dag)
    assert not [t for t in tasks.data if t["key"].startswith("clf-")]  # all in reduce tasks
    assert untimed(oracle) == untimed(results)
    assert sum("error" in r for r in results) == 3  # k=4 fails its leaf on every fold, once
    assert profile.trace.count("fail") == want.trace.count("fail") == 3
    assert profile.n_computed == want.n_computed


def test_jobs_group_consecutive_leaves_of_one_parent(data):
    X, y = data
    pipe = Pipeline([("reduce", PCA(), {"n_components": space.randint(2, 8)}),
                     ("clf", LogisticRegression(), {"C": space.loguniform(0.01, 100)})])
    cfgs = [{"reduce": ("PCA", {"n_components": k}), "clf": ("LogisticRegression", {"C": c})}
            for k in (3, 5) for c in (0.1, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)]
    dag = merge(pipe, cfgs, X, y, cv=2)
    jobs = list(jobs_of(dag.nodes, dag.requests, 3))
    assert [i for job in jobs for i in job] == list(range(len(dag.requests)))
    assert [len(job) for job in jobs] == [3, 2, 2] * 4  # 7 leaves per (fold, PCA) node, evenly
    for job in jobs:
        assert len({tuple(dag.nodes[dag.requests[i].leaf].parents) for i in job}) == 1


def test_cache_is_reused_across_executions(data, log, make_runner):
    X, y = data
    pipe = counted_pipeline(log)
    with make_runner(Unbounded()) as runner:
        runner.execute(merge(pipe, configs(cs=(0.1,)), X, y, cv=3))
        before = fits(read_counts(log), "reduce")
        _, profile = execute(runner, merge(pipe, configs(cs=(5.0,)), X, y, cv=3))
    assert fits(read_counts(log), "reduce") == before  # second batch: prefixes all hit
    assert profile.cache_stats["hits"] > 0


def test_data_is_sent_once_per_runner_and_dataset(data, client, monkeypatch):
    X, y = data
    sent = []
    scatter = client.scatter
    monkeypatch.setattr(client, "scatter", lambda d, **kw: sent.append(d) or scatter(d, **kw))
    pipe = Pipeline([("clf", LogisticRegression(max_iter=200), {"C": space.choice([0.1, 1.0])})])

    def batch(c, n=None):
        return merge(pipe, [{"clf": ("LogisticRegression", {"C": c})}], X[:n], y[:n], cv=3)

    with Runner(Unbounded(), client=client) as runner:
        first = runner.execute(batch(0.1))
        runner.execute(batch(1.0))
        assert len(sent) == 1  # the second batch found the data on the workers
        runner.execute(batch(1.0, n=150))
        assert len(sent) == 2  # another dataset is sent
    assert runner._data is None  # closing lets Dask free it
    with Runner(Unbounded(), scheduler="sync") as oracle:
        assert untimed(first) == untimed(oracle.execute(batch(0.1)))


def test_runners_sharing_a_cluster_never_share_a_task(data, client, log, monkeypatch):
    """Dask keys are global to the scheduler: two Runners computing the same nodes (the first
    still holding its results) must not take each other's tasks, whose fused leaves differ."""
    X, y = data
    keys: list[list[str]] = []
    submit = client.submit
    monkeypatch.setattr(client, "submit", lambda *a, **kw: keys[-1].append(kw.get("key"))
                        or submit(*a, **kw))

    def dag(cs):
        return merge(counted_pipeline(log), [c for c in configs(cs=cs) if c["scale"][0] == "std"],
                     X, y, cv=3)

    first, second = dag((0.01, 0.1)), dag((1.0, 10.0))
    with Runner(Unbounded(), client=client) as r1, Runner(Unbounded(), client=client) as r2:
        keys.append([])
        r1.execute(first)
        keys.append([])
        got = r2.execute(second)
    assert not (set(keys[0]) & set(keys[1])) - {None}  # None: fetches keyed by Dask
    with Runner(Unbounded(), scheduler="sync") as oracle:
        assert untimed(got) == untimed(oracle.execute(second))


def test_a_runner_reports_under_one_topic_however_many_executions(data, client):
    """The scheduler keeps every event topic it has seen until it closes."""
    X, y = data

    def topics():
        seen = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler._broker._topics))
        return {t for t in seen if t.startswith("dagreuse-")}

    pipe = Pipeline([("clf", LogisticRegression(max_iter=200), {"C": space.choice([0.1, 1.0])})])
    before = topics()
    with Runner(Unbounded(), client=client) as runner:
        for c in (0.1, 1.0, 0.1):
            runner.execute(merge(pipe, [{"clf": ("LogisticRegression", {"C": c})}], X, y, cv=3))
    assert len(topics() - before) == 1


@pytest.mark.slow
def test_multiprocess_cluster_computes_every_unique_node_once(data, log):
    X, y = data
    dag = merge(counted_pipeline(log), configs(), X, y, cv=3, scoring="accuracy")
    with Runner(Unbounded(), n_workers=2, threads_per_worker=1, processes=True) as runner:
        assert len(runner.client.scheduler_info()["workers"]) == 2
        results, _ = execute(runner, dag)
        if _libc() is not None:  # the worker processes are the Runner's: they keep freed memory
            assert set(runner.client.run(retained).values()) == {1}
    counts = read_counts(log)
    assert all(n == 1 for n in counts.values())
    assert fits(counts, "reduce") == dag.count("reduce")
    with Runner(Unbounded(), scheduler="sync") as runner:
        oracle = runner.execute(dag)
    assert [r["test"] for r in results] == [r["test"] for r in oracle]


def test_runner_arguments_are_checked():
    with pytest.raises(ValueError, match=r"'scheduler' parameter of Runner must be one of"):
        Runner(scheduler="threads")
    with pytest.raises(TypeError, match=r"'cache' parameter of Runner must be a dagreuse.cache"):
        Runner(cache="512MB")
    with pytest.raises(ValueError, match=r"'max_in_flight' parameter of Runner must be an int >= 1"):
        Runner(max_in_flight=0)
    with pytest.raises(ValueError, match=r"'dashboard' parameter of Runner must be True or False"):
        Runner(scheduler="sync", dashboard=True)


def test_the_dashboard_prints_its_link_or_names_what_to_install(client, capsys, monkeypatch):
    with Runner(client=client, dashboard=True) as runner:
        runner.start()
    assert capsys.readouterr().err.startswith("Dask dashboard: ")
    monkeypatch.setitem(sys.modules, "bokeh", None)  # as where bokeh is not installed
    with pytest.raises(ImportError, match=r'pip install "dagreuse\[dashboard\]"'):
        Runner(dashboard=True)  # before any cluster starts


def test_default_cache_is_a_quarter_of_worker_memory(client):
    with Runner(client=client) as runner:
        policy = runner.cache.policy
        limit = sum(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
    assert isinstance(policy, WReciprocal) and policy.capacity == int(limit / 4)


def test_profile_is_consistent(data, log):
    X, y = data
    dag = merge(counted_pipeline(log), configs(), X, y, cv=3)
    with Runner(Unbounded(), scheduler="sync") as runner:
        _, profile = execute(runner, dag)
    costs = {k: profile.trace.seconds(k) for k in dag.nodes}
    assert profile.independent_seconds == pytest.approx(dag.independent_cost(costs))
    assert profile.merged_seconds == pytest.approx(dag.merged_cost(costs))
    assert profile.speedup == pytest.approx(profile.ideal_speedup)  # unbounded: nothing redone
    assert [r["stage"] for r in profile.stages] == ["split", "scale", "reduce", "clf"]
    text = str(profile)
    assert "speedup" in text and "reduce" in text and math.isfinite(profile.speedup)


def test_a_session_merges_dags_submitted_while_earlier_ones_run(data, log, make_runner):
    X, y = data
    pipe = counted_pipeline(log)
    first = merge(pipe, configs(cs=(0.1,)), X, y, cv=3)
    second = merge(pipe, configs(cs=(1.0, 10.0)), X, y, cv=3)  # the same prefixes
    trace = Trace()
    with make_runner(Unbounded()) as runner, runner.open(trace) as session:
        a = session.submit(first)
        early = session.wait()  # some of the first batch, the rest still running
        b = session.submit(second)
        got = dict(early)
        got.update(session.results())
        assert session.pending == 0 and session.wait() == []
    assert sorted(got) == a + b and len(early) >= 1
    counts = read_counts(log)  # the second batch shared the live nodes and hit the cached ones
    assert all(n == 1 for n in counts.values())
    assert fits(counts, "reduce") == first.count("reduce")
    assert trace.count("share") + trace.count("hit") > 0
    with Runner(Unbounded(), scheduler="sync") as oracle:
        want = oracle.execute(first) + oracle.execute(second)
    assert untimed([got[i] for i in a + b]) == untimed(want)


def test_one_session_at_a_time_and_none_after_close(data):
    X, y = data
    pipe = Pipeline([("clf", LogisticRegression(max_iter=200), {"C": space.choice([0.1, 1.0])})])
    dag = merge(pipe, [{"clf": ("LogisticRegression", {"C": 0.1})}], X, y, cv=2)
    with Runner(Unbounded(), scheduler="sync") as runner:
        session = runner.open()
        with pytest.raises(RuntimeError, match="already has an open session"):
            runner.open()
        session.close()
        with pytest.raises(RuntimeError, match="session is closed"):
            session.submit(dag)
        assert len(runner.execute(dag)) == 2  # a new session
