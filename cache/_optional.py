"""Optional dependencies: a missing one is one clear line naming the extra to install.

Plotting needs matplotlib, data frames need pandas, the Dask dashboard bokeh; none is a
dependency of dagreuse. A
feature that needs one calls :func:`require`, which raises :class:`MissingDependency` (an
``ImportError``) with the ``pip install`` line; the command line prints that line alone.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingDependency", "require"]

#: module -> the dagreuse extra that installs it
EXTRAS = {"matplotlib": "plot", "pandas": "pandas", "bokeh": "dashboard"}


class MissingDependency(ImportError):
    """An optional dependency a feature needs is not installed."""


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingDependency` saying what to
    install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS.get(module.split(".")[0])
        how = f'pip install "dagreuse[{extra}]"' if extra else f"pip install {module}"
        raise MissingDependency(f"{feature} needs {module.split('.')[0]}, which is not "
                                f"installed: {how}") from None
