"""dagreuse.pipes — declare pipelines, merge candidate configs into one DAG, execute it, profile.

Layering: ``pipes`` may import ``dagreuse.cache``; it never imports ``dagreuse.search``.
Public: :class:`Pipeline` and :mod:`space` to declare, :func:`merge` to build the shared-prefix
DAG, :class:`Runner` to execute it on Dask (or in-process as the reference oracle), and
:class:`Profile` to see what reuse saved. :meth:`Runner.open` gives a :class:`Session` that takes DAGs
while earlier ones run (what successive halving and ASHA need); :mod:`resources` declares the
leaf's resource levels (training-set size, iterations) and how it resumes from a checkpoint.
:func:`evaluations` builds the DAG of a weight-sharing evaluation (one trained supernet, many
candidates scored on it), :func:`finetunes` that of supernet copies trained on one candidate
each; the supernet itself is in :mod:`dagreuse.pipes.supernet` (torch).
"""

from . import resources, space
from ._dag import DAG, Node, Request, Step, assemble, merge
from ._evaluation import Problem, check_data, resolve_cv, resolve_scoring
from ._keys import KeyingError, canonical, data_token, token
from ._memory import retain_freed_memory
from ._pipeline import Config, Pipeline
from ._profile import Profile
from ._runner import Runner
from ._session import Session
from ._sklearn import merge_estimators, sklearn_steps
from ._weights import Averaged, Finetuned, Warmup, evaluations, finetunes

__all__ = [
    "DAG",
    "Averaged",
    "Config",
    "Finetuned",
    "KeyingError",
    "Node",
    "Pipeline",
    "Problem",
    "Profile",
    "Request",
    "Runner",
    "Session",
    "Step",
    "Warmup",
    "assemble",
    "canonical",
    "check_data",
    "data_token",
    "evaluations",
    "finetunes",
    "merge",
    "merge_estimators",
    "resolve_cv",
    "resolve_scoring",
    "resources",
    "retain_freed_memory",
    "sklearn_steps",
    "space",
    "token",
]
