"""Pipeline declarations and configs.

A pipeline is an ordered list of stages. A stage is ``(name, operator_or_choice[, param_space])``;
a choice alternative is an operator or an ``(operator, param_space)`` pair. Operators are
scikit-learn transformers, a final scikit-learn estimator, plain functions ``f(X, **params)``, and
``None``/``"passthrough"`` (the identity, which adds no node to the DAG).

A *config* is plain data: ``{stage: (operator_label, {param: value})}``.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import clone

from . import neural
from . import space as sp
from ._keys import canonical, canonical_dict, canonical_estimator

__all__ = ["Alternative", "Config", "Pipeline", "Stage"]

Config = dict[str, tuple[str, dict[str, Any]]]

PASSTHROUGH = "passthrough"


def _kind(op: Any) -> str:
    if op is None or (isinstance(op, str) and op == PASSTHROUGH):
        return "passthrough"
    if isinstance(op, type):
        return "class"
    if hasattr(op, "fit") or neural.is_net(op):  # a Trainable needs no fit of its own
        if hasattr(op, "transform") or hasattr(op, "fit_transform"):
            return "transformer"
        return "estimator"
    if callable(op):
        return "function"
    return "invalid"


def _virtual(op: Any, param: str) -> bool:
    """A skorch net's ``module__hidden``-style parameter, which it takes for any name below one
    of its module, criterion, optimizer or ``prefixes_`` (its iterators', callbacks', ...)."""
    prefixes = getattr(op, "prefixes_", None)
    if not isinstance(prefixes, list | tuple):
        return False
    return any(param.startswith(f"{p}__") for p in ("module", "criterion", "optimizer", *prefixes))


def _label_of(op: Any) -> str:
    kind = _kind(op)
    if kind == "passthrough":
        return PASSTHROUGH
    if kind == "function":
        return getattr(op, "__name__", type(op).__name__)
    return type(op).__name__


def _split(alt: Any) -> tuple[Any, Any]:
    """An alternative is ``operator`` or ``(operator, param_space)``."""
    if isinstance(alt, tuple) and len(alt) == 2 and isinstance(alt[1], Mapping):
        return alt
    return alt, {}


@dataclass
class Alternative:
    """One operator a stage may use, with its fixed settings and searchable parameters."""

    label: str
    operator: Any
    kind: str
    space: dict[str, Any] = field(default_factory=dict)
    stage: str = ""  # the stage's name, for error messages

    @functools.cached_property
    def valid_params(self) -> set[str] | None:
        """Names ``params`` may use; ``None`` when any keyword is accepted (computed once: every
        config of a search is checked against it)."""
        if self.kind in ("transformer", "estimator"):
            return set(self.operator.get_params(deep=True))
        if self.kind == "function":
            sig = inspect.signature(self.operator)
            ps = list(sig.parameters.values())
            if any(p.kind is p.VAR_KEYWORD for p in ps):
                return None
            return {p.name for p in ps[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        return set()

    def build(self, params: Mapping[str, Any]) -> Any:
        """The operator configured with ``params`` (a fresh unfitted clone for estimators)."""
        if self.kind in ("transformer", "estimator"):
            return clone(self.operator).set_params(**params)
        return self.operator

    # -- what merge needs, fast: a search builds and keys thousands of these ------------------
    @functools.cached_property
    def _template(self) -> Any:
        return clone(self.operator)

    @functools.cached_property
    def _canonical_params(self) -> dict[str, Any]:
        where = f"The operator of stage {self.stage!r} ({type(self.operator).__name__})"
        return {k: canonical(v, f"{where}[{k!r}]")
                for k, v in self.operator.get_params(deep=False).items()}

    def task_operator(self, params: Mapping[str, Any], desc: Mapping[str, Any]) -> tuple[Any, Any]:
        """``(operator, key material)`` of an estimator configured with ``params`` (canonical
        form ``desc``), for a task. scikit-learn's ``clone`` and ``get_params`` inspect the
        constructor's signature at every call; a search builds the steps of every config at
        every rung, so top-level parameters are set on a shallow copy of a clone made once, and
        keyed from the base's canonical parameters made once. Never fitted as it is: workers
        clone it before fitting. Nested (``step__param``) parameters take the exact slow path."""
        if any("__" in p for p in params):
            op = self.build(params)
            return op, canonical(op, f"The operator of stage {self.stage!r}")
        op = copy.copy(self._template)
        for p, v in params.items():
            setattr(op, p, v)
        return op, canonical_estimator(type(op), canonical_dict({**self._canonical_params, **desc}))


@dataclass
class Stage:
    name: str
    alternatives: dict[str, Alternative]
    prior: str | None = None  # the label a choice's prior names
    confidence: float | None = None

    @property
    def single(self) -> Alternative | None:
        return next(iter(self.alternatives.values())) if len(self.alternatives) == 1 else None


class Pipeline:
    """An ordered list of stages to search over (see the module docstring for the forms).

    >>> Pipeline([("scale", space.choice({"std": StandardScaler(), "none": None})),
    ...           ("clf", LogisticRegression(), {"C": space.loguniform(1e-3, 1e2)})])
    """

    def __init__(self, steps: Sequence[tuple]):
        if isinstance(steps, str | bytes) or not isinstance(steps, Sequence) or not steps:
            raise ValueError(
                "The 'steps' parameter of Pipeline must be a non-empty list of "
                f"(name, operator[, param_space]) tuples. Got {steps!r} instead."
            )
        self.steps = list(steps)
        self.stages: list[Stage] = []
        for i, step in enumerate(self.steps):
            self.stages.append(self._stage(i, step, last=i == len(self.steps) - 1))
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"Pipeline stage names must be unique. Got {dupes[0]!r} more than once.")

    # -- declaration --------------------------------------------------------------------------
    def _stage(self, i: int, step: Any, last: bool) -> Stage:
        if not isinstance(step, tuple) or len(step) not in (2, 3) or not isinstance(step[0], str):
            raise ValueError(
                f"The 'steps' parameter of Pipeline: step {i} must be a (name, operator) or (name, "
                f"operator, param_space) tuple with a string name. Got {step!r} instead."
            )
        name, op = step[0], step[1]
        if not name or "__" in name:
            raise ValueError(f"Pipeline stage names must be non-empty and contain no '__'. Got {name!r}.")
        param_space = step[2] if len(step) == 3 else {}
        if isinstance(op, sp.Choice):
            if param_space:
                raise ValueError(
                    f"Stage {name!r} is a choice: give each alternative its own param space, as "
                    "choice({'label': (operator, {param: space})}), not a stage-level one."
                )
            options = op.options if op.labelled else {_label_of(_split(o)[0]): o for o in op.options}
            if not op.labelled and len(options) != len(op.options):
                raise ValueError(
                    f"Stage {name!r}: choice alternatives share a class name; use a dict to label them."
                )
            alts = {}
            for label, alt in options.items():
                alt_op, alt_space = _split(alt)
                alts[label] = self._alternative(name, label, alt_op, alt_space, last)
            if op.prior is not None:
                return Stage(name, alts, list(options)[op.index(op.prior)], op.confidence)
        else:
            label = _label_of(op)
            alts = {label: self._alternative(name, label, op, param_space, last)}
        return Stage(name, alts)

    def _alternative(self, stage: str, label: str, op: Any, space_: Any, last: bool) -> Alternative:
        kind = _kind(op)
        where = f"stage {stage!r}" + (f" alternative {label!r}" if label != _label_of(op) else "")
        if kind == "invalid":
            raise TypeError(
                f"The operator of {where} must be a scikit-learn estimator (with fit), a function "
                f"f(X, **params), None or 'passthrough'. Got {op!r} of type {type(op).__name__}."
            )
        if kind == "class":
            raise TypeError(
                f"The operator of {where} must be an estimator instance, e.g. {op.__name__}(). "
                f"Got the class {op.__name__} instead."
            )
        if last and kind not in ("estimator", "transformer"):
            raise TypeError(
                f"The last stage must be a scikit-learn estimator with fit (it is fitted and "
                f"scored). {where} is {op!r}."
            )
        if not isinstance(space_, Mapping):
            raise TypeError(f"The param space of {where} must be a dict. Got {space_!r} instead.")
        alt = Alternative(label, op, kind, stage=stage)
        valid = alt.valid_params
        for param, dim in space_.items():
            if valid is not None and param not in valid and not _virtual(op, param):
                raise ValueError(
                    f"Unknown parameter {param!r} for {where} ({_label_of(op)}). "
                    f"Allowed: {', '.join(sorted(valid)) or 'none'}."
                )
            if isinstance(dim, list):
                raise TypeError(
                    f"Parameter {param!r} of {where} is a list: write space.choice([...]) to "
                    "search over values or space.constant([...]) for a fixed list."
                )
            alt.space[param] = dim if isinstance(dim, sp.Dimension) else sp.Constant(dim)
        return alt

    # -- configs ------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def resolve(self, config: Mapping[str, Any]) -> list[tuple[Stage, Alternative, dict[str, Any]]]:
        """Validate ``config`` and return ``(stage, alternative, params)`` for every stage.

        A stage missing from the config is allowed when it has a single operator; it then uses
        that operator's constant parameters.
        """
        if not isinstance(config, Mapping):
            raise TypeError(f"A config must be a dict {{stage: (label, params)}}. Got {config!r}.")
        unknown = [k for k in config if k not in self.names]
        if unknown:
            raise ValueError(
                f"Unknown stage {unknown[0]!r} in config. Stages: {', '.join(self.names)}."
            )
        out = []
        for stage in self.stages:
            if stage.name in config:
                entry = config[stage.name]
                ok = isinstance(entry, tuple | list) and len(entry) == 2
                if not (ok and isinstance(entry[1], Mapping)):
                    raise ValueError(
                        f"Config entry for stage {stage.name!r} must be (label, {{param: value}}). "
                        f"Got {entry!r} instead."
                    )
                label, params = entry[0], dict(entry[1])
            elif stage.single is not None:
                label, params = stage.single.label, {}
            else:
                raise ValueError(
                    f"Config has no entry for stage {stage.name!r}, which is a choice among "
                    f"{', '.join(stage.alternatives)}."
                )
            alt = stage.alternatives.get(label)
            if alt is None:
                raise ValueError(
                    f"Unknown operator label {label!r} for stage {stage.name!r}. "
                    f"Allowed: {', '.join(stage.alternatives)}."
                )
            valid = alt.valid_params
            for p in params:
                if valid is not None and p not in valid and not _virtual(alt.operator, p):
                    raise ValueError(
                        f"Unknown parameter {p!r} for stage {stage.name!r} ({label}). "
                        f"Allowed: {', '.join(sorted(valid)) or 'none'}."
                    )
            fixed = {p: d.value for p, d in alt.space.items() if isinstance(d, sp.Constant)}
            out.append((stage, alt, {**fixed, **params}))
        return out

    def build(self, config: Mapping[str, Any]) -> Any:
        """The scikit-learn ``Pipeline`` of one config (unfitted): to refit the best candidate, or
        to evaluate it independently. Functions become ``FunctionTransformer``s."""
        from sklearn.pipeline import Pipeline as SkPipeline
        from sklearn.preprocessing import FunctionTransformer

        steps = []
        for stage, alt, params in self.resolve(config):
            if alt.kind == "passthrough":
                steps.append((stage.name, "passthrough"))
            elif alt.kind == "function":
                steps.append((stage.name, FunctionTransformer(alt.operator, kw_args=params)))
            else:
                steps.append((stage.name, alt.build(params)))
        return SkPipeline(steps)

    def __repr__(self) -> str:
        parts = []
        for s in self.stages:
            alts = []
            for a in s.alternatives.values():
                params = ", ".join(f"{k}: {v!r}" for k, v in a.space.items())
                alts.append(a.label + (f"{{{params}}}" if params else ""))
            parts.append(f"{s.name}: {' | '.join(alts)}")
        return "Pipeline(" + "; ".join(parts) + ")"
