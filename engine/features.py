"""Input features: hand-made columns of x(0) computed from the raw 2-D point (x1, x2).

Playground's point, here too: a network given x1² and x2² separates the circle with no
hidden layer at all, where one given x1 and x2 has to learn such features in layer 1.
The data set stays raw; the network applies the map, so x(0) = [1, φ_1(p), …, φ_d(0)(p)]
for a raw point p and d(0) = the number of features.

    x1, x2          the coordinates themselves
    x1², x2²        their squares
    x1·x2           their product
    sin x1, sin x2  their sines

Features are defined for 1-D and 2-D data; on 1-D data only those of x1 exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Feature:
    name: str
    of: Callable[[Array, Array], Array]  # (x1, x2) columns → the feature's column
    uses_x2: bool


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("x1", lambda x1, x2: x1, False),
        Feature("x2", lambda x1, x2: x2, True),
        Feature("x1²", lambda x1, x2: x1 * x1, False),
        Feature("x2²", lambda x1, x2: x2 * x2, True),
        Feature("x1·x2", lambda x1, x2: x1 * x2, True),
        Feature("sin x1", lambda x1, x2: np.sin(x1), False),
        Feature("sin x2", lambda x1, x2: np.sin(x2), True),
    )
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)


def check_features(names: Sequence[str]) -> tuple[str, ...]:
    """The names as a tuple; raises ``ValueError`` naming the allowed ones."""
    names = tuple(names)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r}; choose from {', '.join(FEATURE_NAMES)}")
    if not names:
        raise ValueError("features needs at least one name")
    if len(set(names)) != len(names):
        raise ValueError("each feature may be chosen only once")
    return names


def check_data(names: Sequence[str], dim: int) -> None:
    """Features need 1-D or 2-D data, and x2 needs two coordinates."""
    if dim > 2:
        raise ValueError(
            f"input features are defined for 1-D and 2-D data; this data has {dim} coordinates"
        )
    if dim == 1 and any(FEATURES[n].uses_x2 for n in names):
        used = [n for n in names if FEATURES[n].uses_x2]
        raise ValueError(
            f"the data is 1-D, so there is no x2 (needed by {', '.join(used)}); "
            "use x1, x1² or sin x1"
        )


def apply_features(names: Sequence[str], points: Array) -> Array:
    """x(0) without the bias unit: one column φ_k(p) per feature, N × len(names)."""
    x1 = points[:, 0]
    x2 = points[:, 1] if points.shape[1] > 1 else None
    return np.stack([FEATURES[n].of(x1, x2) for n in names], axis=1)
