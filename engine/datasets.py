"""Seeded toy datasets for the lecture.

Each generator returns points ``X`` (N × d(0)) and raw labels: a class index
0 … K−1 for classification, a real number for regression. ``encode_labels``
turns class indices into what the loss expects (±1, {0, 1} or the index itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .losses import INDEX, PM1, REAL, ZERO_ONE

Array = np.ndarray

MAX_CLASSES = 64  # a softmax output has one unit per class


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    dim: int  # d(0)
    regression: bool = False
    fixed_classes: int | None = 2  # None: K is a parameter
    parameters: tuple[str, ...] = ("n", "noise", "seed", "test_ratio")


@dataclass(frozen=True)
class Dataset:
    """A split dataset. ``y_*`` are raw labels (class index or real value)."""

    name: str
    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    classes: int  # 0 for regression
    info: DatasetInfo = field(repr=False)

    @property
    def dim(self) -> int:
        return self.x_train.shape[1]

    @property
    def regression(self) -> bool:
        return self.classes == 0


def _xor(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[Array, Array]:
    # Four clouds at (±1, ±1); the class is 1 where the signs differ.
    corners = rng.integers(0, 4, size=n)
    signs = np.stack([np.where(corners & 1, 1.0, -1.0), np.where(corners & 2, 1.0, -1.0)], 1)
    x = 0.5 * signs + rng.normal(0.0, 0.1 + noise * 0.3, size=(n, 2))
    y = (signs[:, 0] != signs[:, 1]).astype(np.int64)
    return x, y


def _circle(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[Array, Array]:
    # Class 1 inside radius 0.5, class 0 on a ring of radius 0.7–1.
    y = rng.integers(0, 2, size=n)
    r = np.where(y == 1, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    a = rng.uniform(0.0, 2.0 * np.pi, n)
    x = np.stack([r * np.cos(a), r * np.sin(a)], 1) + rng.normal(0.0, noise * 0.2, (n, 2))
    return x, y.astype(np.int64)


def _gaussians(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[Array, Array]:
    y = rng.integers(0, 2, size=n)
    centres = np.array([[-0.5, -0.5], [0.5, 0.5]])
    x = centres[y] + rng.normal(0.0, 0.15 + noise * 0.5, size=(n, 2))
    return x, y.astype(np.int64)


def _spiral(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[Array, Array]:
    # k interleaved arms; arm c is rotated by 2πc/k.
    y = rng.integers(0, k, size=n)
    t = rng.uniform(0.05, 1.0, n)
    a = 1.75 * 2.0 * np.pi * t + 2.0 * np.pi * y / k
    x = np.stack([t * np.cos(a), t * np.sin(a)], 1) + rng.normal(0.0, noise * 0.1, (n, 2))
    return x, y.astype(np.int64)


def _blobs(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[Array, Array]:
    y = rng.integers(0, k, size=n)
    angles = 2.0 * np.pi * np.arange(k) / k
    centres = 0.6 * np.stack([np.cos(angles), np.sin(angles)], 1)
    x = centres[y] + rng.normal(0.0, 0.1 + noise * 0.3, size=(n, 2))
    return x, y.astype(np.int64)


def _sine(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[Array, Array]:
    x = rng.uniform(-1.0, 1.0, size=(n, 1))
    y = np.sin(np.pi * x[:, 0]) + rng.normal(0.0, noise * 0.3, n)
    return x, y


_GENERATORS: dict[str, tuple[DatasetInfo, Callable]] = {
    "xor": (DatasetInfo("xor", "four clouds; class by the XOR of the signs", 2), _xor),
    "circle": (DatasetInfo("circle", "a disc inside a ring", 2), _circle),
    "gaussians": (DatasetInfo("gaussians", "two Gaussian clouds", 2), _gaussians),
    "spiral": (
        DatasetInfo(
            "spiral",
            "interleaved spiral arms (2 classes by default, K with classes)",
            2,
            fixed_classes=None,
            parameters=("n", "noise", "seed", "test_ratio", "classes"),
        ),
        _spiral,
    ),
    "blobs": (
        DatasetInfo(
            "blobs",
            "K Gaussian clouds on a circle",
            2,
            fixed_classes=None,
            parameters=("n", "noise", "seed", "test_ratio", "classes"),
        ),
        _blobs,
    ),
    "sine": (
        DatasetInfo("sine", "1-D regression: y = sin(πx) + noise", 1, True, fixed_classes=0),
        _sine,
    ),
}

CUSTOM = DatasetInfo(
    "custom",
    "points and labels given by the caller",
    2,
    fixed_classes=None,
    parameters=("points", "labels", "test_ratio", "seed"),
)

DATASETS: dict[str, DatasetInfo] = {name: info for name, (info, _) in _GENERATORS.items()}
DATASETS["custom"] = CUSTOM


def _split(
    rng: np.random.Generator, x: Array, y: Array, test_ratio: float
) -> tuple[Array, Array, Array, Array]:
    n = x.shape[0]
    n_test = int(round(n * test_ratio))
    if n - n_test < 1:
        n_test = n - 1
    order = rng.permutation(n)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def _frozen(*arrays: Array) -> tuple[Array, ...]:
    for a in arrays:
        a.flags.writeable = False
    return arrays


def make_dataset(
    name: str = "xor",
    n: int = 200,
    noise: float = 0.1,
    seed: int = 0,
    test_ratio: float = 0.2,
    classes: int | None = None,
) -> Dataset:
    """Generate a named dataset with its own ``Generator(seed)`` and split it."""
    if name == "custom":
        raise ValueError("use custom_dataset(points, labels) for your own points")
    try:
        info, gen = _GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None
    if n < 2:
        raise ValueError("a dataset needs at least 2 points")
    k = classes if classes is not None else (info.fixed_classes or 2)
    if info.fixed_classes is not None and k != info.fixed_classes and not info.regression:
        raise ValueError(f"the {name} dataset has exactly {info.fixed_classes} classes")
    if not info.regression and k < 2:
        raise ValueError("a classification dataset needs at least 2 classes")
    rng = np.random.default_rng(seed)
    x, y = gen(rng, n, noise, k)
    parts = _frozen(*_split(rng, x.astype(np.float64), y, test_ratio))
    return Dataset(name, *parts, classes=0 if info.regression else k, info=info)


def custom_dataset(
    points, labels, test_ratio: float = 0.0, seed: int = 0, regression: bool = False
) -> Dataset:
    """A dataset from the caller's points (N × d) and labels (class index or real)."""
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError("points must be a non-empty list of equal-length coordinate lists")
    raw = np.asarray(labels, dtype=np.float64)
    if raw.shape != (x.shape[0],):
        raise ValueError(f"there are {x.shape[0]} points but {raw.size} labels")
    if not (np.isfinite(x).all() and np.isfinite(raw).all()):
        raise ValueError("points and labels must be finite numbers")
    if regression:
        y, k = raw, 0
    else:
        if np.all(np.abs(raw) == 1.0):
            raw = (raw > 0).astype(np.float64)  # ±1 labels: −1 → class 0, +1 → class 1
        if np.any(raw != np.round(raw)) or np.any(raw < 0) or np.any(raw >= MAX_CLASSES):
            raise ValueError(
                f"class labels must be ±1 or whole numbers 0, 1, …, K−1 (K ≤ {MAX_CLASSES})"
            )
        y = raw.astype(np.int64)
        k = max(int(y.max()) + 1, 2)
    rng = np.random.default_rng(seed)
    if test_ratio > 0 and x.shape[0] > 1:
        parts = _split(rng, x, y, test_ratio)
    else:
        parts = (x, y, x[:0], y[:0])
    parts = _frozen(*(np.array(p) for p in parts))
    info = DatasetInfo(CUSTOM.name, CUSTOM.description, x.shape[1], regression, None)
    return Dataset("custom", *parts, classes=k, info=info)


def encode_labels(y: Array, encoding: str) -> Array:
    """Class indices → targets for the loss: ±1, {0, 1}, index; real values unchanged."""
    if encoding == PM1:
        return np.where(y == 1, 1.0, -1.0)
    if encoding in (ZERO_ONE, INDEX, REAL):
        return y.astype(np.float64)
    raise ValueError(f"unknown label encoding {encoding!r}")
