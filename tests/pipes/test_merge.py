"""The merged DAG: node counts and ideal speedups (thesis §4.3), as property tests."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from dagreuse.pipes import Pipeline, merge, space

X = np.random.default_rng(0).random((30, 6))
Y = np.arange(30) % 2


def chain(n_stages: int) -> Pipeline:
    """n_stages - 1 transformers with a continuous parameter, then a regressor."""
    steps = [(f"s{i}", StandardScaler(), {"with_std": space.choice([True, False])}) for i in range(0)]
    for i in range(n_stages - 1):
        steps.append((f"s{i}", PCA(), {"tol": space.uniform(0.0, 1.0)}))
    steps.append(("est", Ridge(), {"alpha": space.uniform(0.1, 10.0)}))
    return Pipeline(steps)


def gridded_configs(pipe, branching, seed=0):
    rng = np.random.default_rng(seed)
    out = []

    def grow(i, prefix):
        if i == len(branching):
            out.append(prefix)
            return
        stage = pipe.stages[i]
        label, alt = next(iter(stage.alternatives.items()))
        for _ in range(branching[i]):
            (param,) = alt.space
            grow(i + 1, {**prefix, stage.name: (label, {param: float(rng.uniform(0.1, 1.0))})})

    grow(0, {})
    return out


@settings(max_examples=25, deadline=None)
@given(branching=st.lists(st.integers(1, 4), min_size=1, max_size=4),
       folds=st.integers(2, 3))
def test_gridded_dag_has_sum_of_prefix_products_nodes_per_fold(branching, folds):
    pipe = chain(len(branching))
    dag = merge(pipe, gridded_configs(pipe, branching), X, Y, cv=folds)
    per_fold = sum(math.prod(branching[: i + 1]) for i in range(len(branching)))
    assert len(dag) == folds * (per_fold + 1)  # + the fold's split node
    assert len(dag.requests) == folds * math.prod(branching)
    for n, stage in enumerate(pipe.names):
        assert dag.count(stage) == folds * math.prod(branching[: n + 1])


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 6), n_paths=st.integers(1, 12))
def test_paths_differing_in_the_last_node_give_the_thesis_speedup(length, n_paths):
    """|P| paths of |V| constant-cost nodes sharing all but the last: |V||P|/(|V|+|P|-1)."""
    pipe = chain(length)
    shared = {f"s{i}": ("PCA", {"tol": 0.5}) for i in range(length - 1)}
    configs = [{**shared, "est": ("Ridge", {"alpha": 1.0 + i})} for i in range(n_paths)]
    dag = merge(pipe, configs, X, Y, cv=2)
    # count only the pipeline's own nodes: the split is the data, not a stage of |V|
    cost = {k: 0.0 if n.stage == "split" else 1.0 for k, n in dag.nodes.items()}
    expected = length * n_paths / (length + n_paths - 1)
    assert math.isclose(dag.ideal_speedup(cost), expected)


def test_equal_configs_and_passthrough_merge():
    pipe = Pipeline([("scale", space.choice({"std": StandardScaler(), "none": None})),
                     ("clf", LogisticRegression(), {"C": space.loguniform(0.1, 10)})])
    c = {"scale": ("std", {}), "clf": ("LogisticRegression", {"C": 1.0})}
    dag = merge(pipe, [c, dict(c), {"scale": ("none", {}), "clf": ("LogisticRegression", {"C": 1.0})}],
                X, Y, cv=2)
    assert len(dag.requests) == 4  # 2 distinct leaves x 2 folds
    assert [r.configs for r in dag.requests[:2]] == [[0, 1], [2]]
    assert dag.count("scale") == 2  # "none" adds no node
    assert dag.independent_cost(lambda n: 1.0) == 3 * 2 * 2 + 2 * 2  # 3 configs; split+...
