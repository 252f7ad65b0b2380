"""The main job: the search ``dagreuse demo`` runs (and ``bench/reuse.py`` measures)."""

from __future__ import annotations

from typing import Any

from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import RidgeClassifier
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dagreuse.pipes import Pipeline, space

__all__ = ["DEMO_BRANCHING", "demo_data", "demo_pipeline"]

#: 3 scalers x 5 feature maps x 5 regularisations = 75 gridded-random candidates.
DEMO_BRANCHING = [3, 5, 5]


def demo_pipeline() -> Pipeline:
    """Scale -> random kernel features (Nystroem) -> ridge classifier.

    A front-loaded pipeline, like the thesis' random-features speech task: the kernel map is
    the expensive, shared part and the linear classifier on top is cheap, so reuse pays.
    """
    return Pipeline([
        ("scale", space.choice({"std": StandardScaler(), "minmax": MinMaxScaler(), "none": None})),
        ("features", Nystroem(random_state=0), {
            "gamma": space.loguniform(1e-4, 1e-1),
            "n_components": space.choice([300, 600, 900]),
        }),
        ("clf", RidgeClassifier(), {"alpha": space.loguniform(1e-3, 1e2)}),
    ])


def demo_data() -> tuple[Any, Any]:
    """scikit-learn's bundled digits (1,797 images, 64 pixels, 10 classes): no download."""
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)
