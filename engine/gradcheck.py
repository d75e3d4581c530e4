"""Gradient check: backprop against central differences, weight by weight.

    ∂e/∂w ≈ (e(w + ε) − e(w − ε)) / 2ε

costs two forward passes per weight, where backprop gets every ∂e/∂w_ij(l) from one
forward and one backward pass: the lecture's reason for backprop, measured. With
regularisation the function differentiated is e + Ω, so backprop's side is G + ∂Ω/∂W.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .network import Network


@dataclass(frozen=True)
class LayerCheck:
    layer: int
    max_abs_diff: float  # max_ij |G_ij − Ĝ_ij|
    max_rel_diff: float  # max_ij |G_ij − Ĝ_ij| / max(max|G|, max|Ĝ|)
    backprop: np.ndarray  # G(l) (+ ∂Ω/∂W(l) with a penalty) from backprop
    numerical: np.ndarray  # Ĝ(l) from central differences


@dataclass(frozen=True)
class GradCheck:
    indices: np.ndarray
    epsilon: float
    layers: tuple[LayerCheck, ...]
    backprop_passes: int  # forward + backward passes backprop used
    numerical_passes: int  # forward passes the central differences used
    backprop_seconds: float
    numerical_seconds: float

    @property
    def max_rel_diff(self) -> float:
        return max(c.max_rel_diff for c in self.layers)


def gradient_check(
    net: Network, indices=None, epsilon: float = 1e-5, time_limit: float | None = None
) -> GradCheck:
    """Compare backprop's G(l) (+ ∂Ω/∂W(l)) with central differences of e + Ω on one
    mini-batch.

    ``indices`` defaults to the mini-batch the next step would use. The network's
    state is not changed. With ``time_limit`` (seconds), raises ``TimeoutError`` once
    the central differences take longer than that.
    """
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise ValueError("epsilon must be a finite number > 0")
    if indices is None:
        indices = net.begin().indices
    indices = np.asarray(indices)

    t0 = time.perf_counter()
    fwd = net.begin(indices)
    bwd = net.backward(fwd)
    t_bp = time.perf_counter() - t0

    weights = [np.array(w) for w in net.weights]  # private, writable copies
    numerical = [np.empty_like(w) for w in weights]
    passes = 0
    t0 = time.perf_counter()
    deadline = math.inf if time_limit is None else t0 + time_limit
    for w, g in zip(weights, numerical, strict=True):
        for ij in np.ndindex(w.shape):
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"the gradient check took longer than {time_limit:g} s "
                    f"({passes} of {2 * sum(a.size for a in weights)} forward passes done)"
                )
            w0 = w[ij]
            w[ij] = w0 + epsilon
            e_plus = net.batch_error(fwd.indices, weights) + net.penalty(weights)
            w[ij] = w0 - epsilon
            e_minus = net.batch_error(fwd.indices, weights) + net.penalty(weights)
            w[ij] = w0
            g[ij] = (e_plus - e_minus) / (2.0 * epsilon)
            passes += 2
    t_num = time.perf_counter() - t0

    grad = bwd.grad
    if bwd.penalty_grad:  # the gradient of e + Ω
        grad = [G + P for G, P in zip(bwd.grad, bwd.penalty_grad, strict=True)]
    checks = []
    for l, (a, b) in enumerate(zip(grad, numerical, strict=True), start=1):
        diff = float(np.max(np.abs(a - b)))
        scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
        rel = diff / scale if scale > 0 else 0.0
        checks.append(LayerCheck(l, diff, rel, a, b))
    return GradCheck(indices, epsilon, tuple(checks), 2, passes, t_bp, t_num)
