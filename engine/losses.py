"""Error measures e(w) for one example, each in one record with the output δ(L) it gives.

    squared         e = (x_1(L) − y)²                     δ_1(L) = 2 (x_1(L) − y) θ'(s_1(L))
    cross_entropy   softmax output, K classes:  e = −log h_y(x)               δ(L) = h − onehot(y)
                    sigmoid output, y ∈ {0, 1}: e = −y log h − (1−y) log(1−h)  δ_1(L) = h − y

The cross-entropy δ(L) is ∂e/∂x(L) times θ'(s(L)) multiplied out: θ''s factor cancels
the 1/h of the logarithm. It is written here explicitly, not hidden in a "matched pair"
shortcut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray

# How the targets y are encoded for an (output θ, loss) pair.
PM1 = "pm1"  # classification with y = ±1
ZERO_ONE = "01"  # classification with y ∈ {0, 1}
INDEX = "index"  # class index 0 … K−1
REAL = "real"  # regression


@dataclass(frozen=True)
class Loss:
    """e per example and δ(L) = ∂e/∂s(L), given s(L), x(L), the targets y (B) and θ'(s(L))."""

    name: str
    error: Callable[[Array, Array, Array], Array]  # (s, x, y) -> e, shape (B,)
    delta: Callable[[Array, Array, Array, Array | None], Array]  # (s, x, y, θ') -> δ(L)


def _squared_error(s: Array, x: Array, y: Array) -> Array:
    return (x[:, 0] - y) ** 2


def _squared_delta(s: Array, x: Array, y: Array, prime: Array) -> Array:
    return 2.0 * (x - y[:, None]) * prime  # δ_1(L) = 2 (x_1(L) − y) θ'(s_1(L))


def _cross_entropy_error(s: Array, x: Array, y: Array) -> Array:
    if s.shape[1] == 1:
        # −y log h − (1−y) log(1−h) with h = σ(s) is softplus(s) − y s: no log of 0.
        return np.logaddexp(0.0, s[:, 0]) - y * s[:, 0]
    # −log h_y = log Σ_k e^{s_k} − s_y, with max s taken out for stability.
    m = s.max(axis=1)
    log_sum = m + np.log(np.exp(s - m[:, None]).sum(axis=1))
    return log_sum - s[np.arange(len(y)), y.astype(np.intp)]


def _cross_entropy_delta(s: Array, x: Array, y: Array, prime: Array | None) -> Array:
    if s.shape[1] == 1:
        return x - y[:, None]  # δ_1(L) = h − y
    return x - np.eye(s.shape[1])[y.astype(np.intp)]  # δ(L) = h − onehot(y)


LOSSES: dict[str, Loss] = {
    "squared": Loss("squared", _squared_error, _squared_delta),
    "cross_entropy": Loss("cross_entropy", _cross_entropy_error, _cross_entropy_delta),
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
