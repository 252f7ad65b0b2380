"""dagreuse.search — strategies that propose configs, and the driver that evaluates them.

Layering: ``search`` may import ``dagreuse.pipes`` and ``dagreuse.cache``; neither imports it.
A strategy has one narrow interface (``ask``/``tell``) and never holds the Runner; :func:`run`
drives it.
"""

from ._base import BatchStrategy, Proposal, Strategy
from ._driver import Result, run
from ._proposals import GriddedRandomSearch, GridSearch, RandomSearch
from ._sklearn import GriddedRandomSearchCV, GridSearchCV, RandomizedSearchCV

__all__ = [
    "BatchStrategy",
    "GridSearch",
    "GridSearchCV",
    "GriddedRandomSearch",
    "GriddedRandomSearchCV",
    "Proposal",
    "RandomSearch",
    "RandomizedSearchCV",
    "Result",
    "Strategy",
    "run",
]
