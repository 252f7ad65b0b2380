"""dagreuse.search — strategies that propose configs, and the driver that evaluates them.

Layering: ``search`` may import ``dagreuse.pipes`` and ``dagreuse.cache``; neither imports it.
A strategy has one narrow interface (``ask``/``tell``/``finished``) and never holds the Runner;
:func:`run` drives it. Batch strategies (grid, random, gridded random) propose configs; the
multi-fidelity ones (successive halving, Hyperband, ASHA) also resource levels, drawing their
configs from a pipeline or from any batch strategy; DEHB evolves its configs by differential
evolution across Hyperband's brackets. Weight-sharing searches (RSWS, DEHB-WS, AutoHAS) train
one supernet of a cell space as the shared prefix of every candidate architecture
(``_weight_sharing``).
"""

from ._asha import ASHA
from ._autohas import AutoHAS
from ._base import BatchStrategy, Proposal, Strategy
from ._dehb import DEHB
from ._dehbws import DEHBWS
from ._driver import Result, run
from ._halving import Hyperband, SuccessiveHalving
from ._journal import JournalError
from ._priorband import PriorBand
from ._proposals import GriddedRandomSearch, GridSearch, RandomSearch
from ._rsws import RSWS
from ._sklearn import GriddedRandomSearchCV, GridSearchCV, RandomizedSearchCV
from ._sklearn_halving import HalvingGridSearchCV, HalvingRandomSearchCV
from ._weight_sharing import SharedResult, WeightSharing

__all__ = [
    "ASHA",
    "DEHB",
    "DEHBWS",
    "RSWS",
    "AutoHAS",
    "BatchStrategy",
    "GridSearch",
    "GridSearchCV",
    "GriddedRandomSearch",
    "GriddedRandomSearchCV",
    "HalvingGridSearchCV",
    "HalvingRandomSearchCV",
    "Hyperband",
    "JournalError",
    "PriorBand",
    "Proposal",
    "RandomSearch",
    "RandomizedSearchCV",
    "Result",
    "SharedResult",
    "Strategy",
    "SuccessiveHalving",
    "WeightSharing",
    "run",
]
