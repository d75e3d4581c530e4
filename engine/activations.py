"""Activation functions θ, each with its derivative in the same record.

Every record computes θ'(s) from the pair (s, x = θ(s)), so tanh and sigmoid reuse
the forward value instead of recomputing an exponential (written into a buffer the
caller owns, so that a training step allocates nothing):

    tanh:     θ' = 1 − x²
    sigmoid:  θ' = x (1 − x)   (≤ 1/4: the root of vanishing gradients)
    relu:     θ' = [s > 0]
    identity: θ' = 1

Softmax is an output-only θ; its Jacobian is never formed because it is only used
with cross-entropy, where δ(L) = h − onehot(y) (see ``losses``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """θ, its derivative and what "saturated" means for it.

    ``forward(s, out)`` writes θ(s) into ``out``; ``derivative_into(s, x, out)`` writes
    θ'(s) into ``out`` (both arrays owned by the caller); ``saturated(x)`` is a boolean
    mask of units whose θ' is (nearly) zero, used for the saturation fraction.
    """

    name: str
    forward: Callable[[Array, Array], Array]
    derivative_into: Callable[[Array, Array, Array], Array]
    saturated: Callable[[Array], Array]
    hidden: bool = True  # usable in hidden layers
    output_range: tuple[float, float] = (-np.inf, np.inf)

    def derivative(self, s: Array, x: Array) -> Array:
        """θ'(s) as a new array, from s and x = θ(s)."""
        return self.derivative_into(s, x, np.empty(np.shape(s)))


# The ufunc itself: np.tanh(s, out) writes into out, with no Python call around it.
_tanh = np.tanh


# 0-d arrays: ufuncs take them faster than Python floats (this runs in every step).
_ONE = np.array(1.0)
# The output array by position, not ``out=``: a keyword costs a few per cent of a call.
_multiply, _subtract = np.multiply, np.subtract


def _tanh_prime(s: Array, x: Array, out: Array) -> Array:
    _multiply(x, x, out)
    return _subtract(_ONE, out, out)  # 1 − x²


def _sigmoid(s: Array, out: Array) -> Array:
    # 1 / (1 + e^{-s}) written as (tanh(s/2) + 1) / 2: no overflow for large |s|.
    np.multiply(s, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _sigmoid_prime(s: Array, x: Array, out: Array) -> Array:
    _subtract(_ONE, x, out)
    return _multiply(x, out, out)  # x (1 − x)


def _relu(s: Array, out: Array) -> Array:
    return np.maximum(s, 0.0, out=out)


def _relu_prime(s: Array, x: Array, out: Array) -> Array:
    return np.greater(s, 0.0, out=out)  # [s > 0] as 1.0 / 0.0


def _leaky_relu(s: Array, out: Array) -> Array:
    np.multiply(s, LEAKY_SLOPE, out=out)
    return np.maximum(s, out, out=out)


def _leaky_relu_prime(s: Array, x: Array, out: Array) -> Array:
    out[...] = np.where(s > 0.0, 1.0, LEAKY_SLOPE)
    return out


def _identity(s: Array, out: Array) -> Array:
    out[...] = s
    return out


def _ones(s: Array, x: Array, out: Array) -> Array:
    out.fill(1.0)
    return out


def _softmax(s: Array, out: Array) -> Array:
    # h_k = e^{s_k} / Σ_m e^{s_m}, shifted by max s for stability.
    np.subtract(s, s.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def _softmax_prime(s: Array, x: Array, out: Array) -> Array:
    raise ValueError("softmax has no element-wise derivative; use it with cross-entropy")


def _never(x: Array) -> Array:
    return np.zeros(x.shape, dtype=bool)


LEAKY_SLOPE = 0.01

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", _tanh, _tanh_prime, lambda x: np.abs(x) > 0.99, True, (-1.0, 1.0)),
        Activation(
            "sigmoid",
            _sigmoid,
            _sigmoid_prime,
            lambda x: (x < 0.01) | (x > 0.99),
            True,
            (0.0, 1.0),
        ),
        Activation("relu", _relu, _relu_prime, lambda x: x == 0.0),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_prime, _never),
        Activation("identity", _identity, _ones, _never),
        Activation("softmax", _softmax, _softmax_prime, lambda x: x > 0.99, False, (0.0, 1.0)),
    )
}

HIDDEN_ACTIVATIONS = tuple(n for n, a in ACTIVATIONS.items() if a.hidden)
OUTPUT_ACTIVATIONS = ("tanh", "sigmoid", "identity", "softmax")


def get_activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
