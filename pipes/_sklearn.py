"""Candidates written the scikit-learn way — an estimator plus parameter dicts — as DAG steps.

Each candidate is ``clone(estimator).set_params(**params)`` (as scikit-learn's searches do), then
decomposed: a ``Pipeline`` becomes one step per stage, nested pipelines are flattened (stage
``outer__inner``), ``None``/``"passthrough"`` stages add no node, a ``FeatureUnion`` becomes its
branches (each its own nodes, ``union__branch``) joined by a union node, and any other
estimator — ``ColumnTransformer`` and other meta-estimators included — is one opaque node.
Steps given as parameters (``{"clf": [SVC(), LogisticRegression()]}``) need nothing special:
the configured stage *is* the step, keyed by its class and parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.base import clone
from sklearn.pipeline import FeatureUnion
from sklearn.pipeline import Pipeline as SkPipeline

from ._dag import DAG, Step, assemble
from ._evaluation import Problem
from ._keys import canonical

__all__ = ["merge_estimators", "sklearn_steps"]


def _is_identity(step: Any) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


def sklearn_steps(estimator: Any, prefix: str = "") -> list[Step]:
    """The steps of a configured scikit-learn estimator (see the module docstring)."""
    if isinstance(estimator, FeatureUnion) and _plain_union(estimator):
        name = prefix.rstrip("_") or "union"
        weights = estimator.transformer_weights or {}
        kept = [(n, t) for n, t in estimator.transformer_list if not (isinstance(t, str) and t == "drop")]
        branches = [[] if _is_identity(t) else sklearn_steps(t, f"{prefix}{n}__") for n, t in kept]
        w = [weights.get(n) for n, _ in kept]
        desc = {"union": [[n, canonical(weights.get(n), name)] for n, _ in kept]}
        return [Step(name, "union", "FeatureUnion", w, None, desc, branches)]
    if not isinstance(estimator, SkPipeline):
        kind = "transformer" if hasattr(estimator, "transform") else "estimator"
        name = prefix.rstrip("_") or type(estimator).__name__
        return [Step(name, kind, type(estimator).__name__, estimator, None,
                     canonical(estimator, f"The step {name!r}"))]
    steps: list[Step] = []
    for name, step in estimator.steps:
        if _is_identity(step):
            steps.append(Step(prefix + name, "passthrough", "passthrough", None, None, "passthrough"))
        else:
            steps.extend(sklearn_steps(step, prefix + name + "__"))
    return steps


def _plain_union(union: FeatureUnion) -> bool:
    """A union we can split into branch nodes: default output (arrays, not pandas) and no
    branch dropped by a None (scikit-learn's own "drop" is handled)."""
    config = getattr(union, "_sklearn_output_config", {}) or {}
    return config.get("transform") in (None, "default") and all(
        t is not None for _, t in union.transformer_list)


def merge_estimators(
    estimator: Any,
    candidate_params: Sequence[Mapping[str, Any]],
    X: Any,
    y: Any,
    cv: Any = 5,
    scoring: Any = None,
    *,
    groups: Any = None,
    return_train_score: bool = False,
) -> DAG:
    """The merged DAG of ``estimator`` under each of ``candidate_params`` (scikit-learn style)."""
    candidate_params = list(candidate_params)
    if not candidate_params:
        raise ValueError("No candidates: the parameter grid or distributions are empty.")
    candidates = []
    for params in candidate_params:
        est = clone(estimator).set_params(**clone(dict(params), safe=False))
        steps = sklearn_steps(est)
        if steps[-1].kind == "passthrough":
            raise ValueError(
                f"The last step of the pipeline must be an estimator to fit and score. "
                f"Got 'passthrough' for candidate {dict(params)!r}."
            )
        for step in steps[:-1]:
            if step.kind == "estimator":
                raise TypeError(
                    f"Step {step.stage!r} ({step.label}) is not the last step, so it must be a "
                    "transformer (with transform)."
                )
        candidates.append(steps)
    names = list(dict.fromkeys(s.stage for steps in candidates for s in steps))
    problem = Problem.of(X, y, cv, scoring, estimator, groups=groups,
                         return_train_score=return_train_score)
    return assemble(candidates, candidate_params, problem, names)
