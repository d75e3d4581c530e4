"""What the output layer sees: every point's x(l), and a 2-D view of it.

The lecture's last point: the hidden layers are a learned nonlinear transform, and the
output unit is a linear model of x(L−1). Over the input plane the boundary of XOR or
the circle is curved; in the plane of x(L−1) it is the straight line

    w_0(L) + w_1(L) x_1(L−1) + w_2(L) x_2(L−1) = 0,

where s(L) = 0: the output's decision threshold (tanh and identity: x = 0 for y = ±1;
sigmoid: θ(s) = 1/2).

A layer of more than two units is shown by PCA: centre x(l) on the training points'
mean m, take the singular value decomposition x(l) − m = U Σ Vᵀ, and project on the
first two right singular vectors v_1, v_2 (the rows of ``components``). The share of
variance kept is (σ_1² + σ_2²) / Σ σ_k². Each v_k's sign is fixed so that its largest
entry is positive, so that the view does not flip between steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .losses import INDEX, REAL
from .network import Network

Array = np.ndarray


@dataclass(frozen=True)
class Representation:
    layer: int  # l, 0 … L−1
    x_train: Array  # x(l) of every training point, without the bias unit: N × d(l)
    x_test: Array
    view_train: Array  # the 2-D view: x(l) itself when d(l) ≤ 2, else PCA: N × min(d(l), 2)
    view_test: Array
    method: str  # "coordinates" or "pca"
    variance_kept: float  # share of the variance of x(l) the view keeps (1 for coordinates)
    mean: Array | None  # m, the training points' mean (PCA only)
    components: Array | None  # v_1, v_2 as rows, 2 × d(l) (PCA only)
    boundary: Array | None  # (w_0, w_1, w_2) of W(L): w_0 + w_1 x_1 + w_2 x_2 = 0 in this plane


def pca(x: Array, k: int = 2) -> tuple[Array, Array, float]:
    """The mean m, the top ``k`` right singular vectors of x − m (rows) and the share of
    variance they keep."""
    m = x.mean(axis=0)
    _, sigma, vt = np.linalg.svd(x - m, full_matrices=False)
    v = vt[:k]
    # A singular vector's sign is arbitrary: make each one's largest entry positive.
    v = v * np.where(v[np.arange(len(v)), np.abs(v).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    total = float(np.sum(sigma**2))
    kept = float(np.sum(sigma[:k] ** 2)) / total if total > 0 else 1.0
    return m, v, kept


def representation(net: Network, layer: int | None = None) -> Representation:
    """x(``layer``) (default L−1) of every training and test point, and its 2-D view."""
    L = net.config.depth
    l = L - 1 if layer is None else layer
    if not 0 <= l <= L - 1:
        raise ValueError(f"layer must be between 0 and {L - 1} (L − 1 for this network)")
    d = net.dataset
    x_train, x_test = (net.propagate(net.inputs(p))[1][l][:, 1:] for p in (d.x_train, d.x_test))
    if not (np.isfinite(x_train).all() and np.isfinite(x_test).all()):
        raise ValueError(f"x({l}) is not finite at these weights; undo or reset first")
    if x_train.shape[1] <= 2:
        # One output unit that classifies: its line s(L) = 0 in the plane of x(L−1).
        one_unit = net.encoding not in (INDEX, REAL) and net.config.layers[-1] == 1
        boundary = None
        if l == L - 1 and x_train.shape[1] == 2 and one_unit:
            boundary = np.array(net.weights[-1][:, 0])
        return Representation(l, x_train, x_test, x_train, x_test, "coordinates", 1.0,
                              None, None, boundary)  # fmt: skip
    m, v, kept = pca(x_train)
    return Representation(
        l, x_train, x_test, (x_train - m) @ v.T, (x_test - m) @ v.T, "pca", kept, m, v, None
    )
