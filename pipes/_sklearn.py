"""Candidates written the scikit-learn way — an estimator plus parameter dicts — as DAG steps.

Each candidate is ``clone(estimator).set_params(**params)`` (as scikit-learn's searches do), then
decomposed: a ``Pipeline`` becomes one step per stage, nested pipelines are flattened (stage
``outer__inner``), ``None``/``"passthrough"`` stages add no node, a ``FeatureUnion`` becomes its
branches (each its own nodes, ``union__branch``) joined by a union node, and any other
estimator — ``ColumnTransformer`` and other meta-estimators included — is one opaque node.
Steps given as parameters (``{"clf": [SVC(), LogisticRegression()]}``) need nothing special:
the configured stage *is* the step, keyed by its class and parameters.

A candidate's parameters are also in the key of the step they set (``clf__C`` in step
``clf``'s): an estimator whose ``get_params`` does not show what ``set_params`` set is still
keyed apart.

Fit parameters (``sample_weight``, ...) go to the steps that consume them, as the estimator
itself routes them (a pipeline's ``step__param`` names, or metadata routing when it is on);
a step that receives any has them in its key, so it is never merged with one that does not.
"""

from __future__ import annotations

import dataclasses
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


def sklearn_steps(estimator: Any, prefix: str = "", fit_params: dict | None = None) -> list[Step]:
    """The steps of a configured scikit-learn estimator, each with the ``fit_params`` routed to
    it (see the module docstring)."""
    if isinstance(estimator, FeatureUnion) and _plain_union(estimator):
        if fit_params:
            raise ValueError(
                f"Fit parameters for the FeatureUnion {prefix.rstrip('_') or 'union'!r} are not "
                f"supported: pass them to the steps after it. Got {sorted(fit_params)}."
            )
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
        desc = canonical(estimator, f"The step {name!r}")
        if fit_params:
            desc = [desc, {"fit": canonical(fit_params, f"The fit parameters of step {name!r}")}]
        return [Step(name, kind, type(estimator).__name__, estimator, None, desc,
                     fit_params=fit_params or None)]
    routed = estimator._check_method_params("fit", props=fit_params) if fit_params else None
    steps: list[Step] = []
    for i, (name, step) in enumerate(estimator.steps):
        if _is_identity(step):
            steps.append(Step(prefix + name, "passthrough", "passthrough", None, None, "passthrough"))
            continue
        params = None
        if routed is not None:  # as Pipeline.fit calls its steps
            method = "fit" if i == len(estimator.steps) - 1 or not hasattr(
                step, "fit_transform") else "fit_transform"
            params = dict(routed[name].get(method, {}))
        steps.extend(sklearn_steps(step, prefix + name + "__", params))
    return steps


def _plain_union(union: FeatureUnion) -> bool:
    """A union we can split into branch nodes: default output (arrays, not pandas) and no
    branch dropped by a None (scikit-learn's own "drop" is handled)."""
    config = getattr(union, "_sklearn_output_config", {}) or {}
    return config.get("transform") in (None, "default") and all(
        t is not None for _, t in union.transformer_list)


def _with_candidate_params(steps: list[Step], params: dict[str, Any]) -> list[Step]:
    """``steps`` with each of ``params`` in the key of the step it sets: the step whose stage
    name is the longest prefix of the parameter's (all of them for a lone estimator)."""
    if not params:
        return steps
    stages = [s.stage for s in steps]
    out = []
    for step in steps:
        mine = {k: v for k, v in params.items() if len(steps) == 1 or _target(k, stages) == step.stage}
        if mine and step.kind not in ("passthrough", "union"):
            desc = [step.desc, {"set": canonical(mine, f"The parameters of step {step.stage!r}")}]
            step = dataclasses.replace(step, desc=desc)
        out.append(step)
    return out


def _target(param: str, stages: list[str]) -> str | None:
    names = [s for s in stages if param == s or param.startswith(s + "__")]
    return max(names, key=len) if names else None


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
    fit_params: dict | None = None,
    score_params: dict | None = None,
    resource: Any = None,
    levels: Sequence[Sequence[Any]] | None = None,
) -> DAG:
    """The merged DAG of ``estimator`` under each of ``candidate_params`` (scikit-learn style);
    ``fit_params`` (full length) go to the steps that consume them, ``score_params`` to the
    scorers, each sliced per fold as scikit-learn does. ``resource`` and ``levels`` as in
    :func:`dagreuse.pipes.merge`."""
    candidate_params = list(candidate_params)
    if not candidate_params:
        raise ValueError("No candidates: the parameter grid or distributions are empty.")
    candidates = []
    for params in candidate_params:
        est = clone(estimator).set_params(**clone(dict(params), safe=False))
        steps = _with_candidate_params(sklearn_steps(est, fit_params=fit_params), dict(params))
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
                         return_train_score=return_train_score, score_params=score_params)
    return assemble(candidates, candidate_params, problem, names, resource=resource,
                    levels=levels)
