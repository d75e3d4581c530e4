"""Error measures e(w) for one example and the output δ(L) = ∂e/∂s(L) they give.

    squared:        e = (x_1(L) − y)²          δ_1(L) = 2 (x_1(L) − y) θ'(s_1(L))
    cross_entropy:  softmax output, K classes   e = −log h_y          δ(L) = h − onehot(y)
                    sigmoid output, y ∈ {0,1}   e = −y log h − (1−y) log(1−h)
                                                                      δ_1(L) = h − y

The cross-entropy δ(L) is the product of ∂e/∂x(L) and θ'(s(L)) written out: the
θ' factor cancels the 1/h of the logarithm. It is computed explicitly here rather
than hidden in a "matched pair" shortcut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .activations import Activation

Array = np.ndarray

# How the targets y are encoded for an (output, loss) pair.
PM1 = "pm1"  # classification with y = ±1
ZERO_ONE = "01"  # classification with y ∈ {0, 1}
INDEX = "index"  # class index 0 … K−1
REAL = "real"  # regression


@dataclass(frozen=True)
class Loss:
    name: str
    # error(s, x, y) -> e per example, shape (B,); y has shape (B,)
    error: Callable[[Array, Array, Array], Array]
    # output(s, x, y, θ, delta, r, t) -> Σ e over the batch, writing δ(L) into ``delta``.
    # y is a column (B × 1); r and t are scratch arrays shaped like δ(L). Nothing is
    # allocated for the squared error: this runs in every training step.
    output: Callable[[Array, Array, Array, Activation, Array, Array, Array], float]


_TWO = np.array(2.0)


def _squared_error(s: Array, x: Array, y: Array) -> Array:
    r = x[:, 0] - y
    return r * r


_subtract, _multiply, _vdot = np.subtract, np.multiply, np.vdot


def _squared_output(s, x, y, theta, delta, r, t) -> float:
    # (Output arrays by position: a keyword costs a few per cent of a small call.)
    _subtract(x, y, r)  # x_1(L) − y
    theta.derivative_into(s, x, t)
    _multiply(r, t, delta)
    _multiply(delta, _TWO, delta)  # δ_1(L) = 2 (x_1(L) − y) θ'(s_1(L))
    return float(_vdot(r, r))


def _cross_entropy_error(s: Array, x: Array, y: Array) -> Array:
    if s.shape[1] == 1:
        # −y log h − (1−y) log(1−h) with h = σ(s), written as softplus(s) − y s.
        z = s[:, 0]
        return np.logaddexp(0.0, z) - y * z
    # −log h_y = log Σ_k e^{s_k} − s_y, shifted by max s for stability.
    m = s.max(axis=1)
    lse = m + np.log(np.exp(s - m[:, None]).sum(axis=1))
    return lse - s[np.arange(s.shape[0]), y.astype(np.intp)]


def _cross_entropy_output(s, x, y, theta, delta, r, t) -> float:
    if s.shape[1] == 1:
        np.subtract(x, y, out=delta)  # δ_1(L) = h − y
    else:
        np.copyto(delta, x)  # δ(L) = h − onehot(y)
        delta[np.arange(s.shape[0]), y[:, 0].astype(np.intp)] -= 1.0
    return float(np.add.reduce(_cross_entropy_error(s, x, y[:, 0])))


def mean_error(loss: Loss, s: Array, x: Array, y: Array) -> float:
    """e averaged over the B examples of a batch (one reduction, no ``.mean`` overhead)."""
    return float(np.add.reduce(loss.error(s, x, y))) / s.shape[0]


LOSSES: dict[str, Loss] = {
    "squared": Loss("squared", _squared_error, _squared_output),
    "cross_entropy": Loss("cross_entropy", _cross_entropy_error, _cross_entropy_output),
}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None


def check_pair(output: str, loss: str, n_out: int) -> str:
    """Validate an (output θ, loss, d(L)) combination; return the label encoding.

    Raises ``ValueError`` with a sentence a student can act on.
    """
    get_loss(loss)
    if output == "softmax":
        if loss != "cross_entropy":
            raise ValueError("a softmax output needs the cross-entropy loss")
        if n_out < 2:
            raise ValueError("a softmax output needs at least 2 output units (one per class)")
        return INDEX
    if n_out != 1:
        raise ValueError(
            f"a {output} output has exactly 1 unit (x_1(L)); use softmax for {n_out} classes"
        )
    if loss == "cross_entropy":
        if output != "sigmoid":
            raise ValueError(
                "cross-entropy needs a sigmoid output (2 classes) or a softmax output (K classes)"
            )
        return ZERO_ONE
    if output == "sigmoid":
        return ZERO_ONE
    if output in ("tanh", "identity"):
        return PM1
    raise ValueError(f"{output!r} cannot be an output activation")
