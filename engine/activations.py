"""Activation functions θ, each in one record with its derivative θ'.

θ' is written in terms of s and x = θ(s), so tanh and sigmoid reuse the forward value
instead of another exponential:

    tanh        x = tanh(s)               θ'(s) = 1 − x²
    sigmoid     x = 1 / (1 + e^{−s})      θ'(s) = x (1 − x) ≤ 1/4: why deep sigmoid nets' δ vanish
    relu        x = max(0, s)             θ'(s) = [s > 0]
    leaky_relu  x = max(0.01 s, s)        θ'(s) = 1 if s > 0 else 0.01
    identity    x = s                     θ'(s) = 1
    softmax     h_k = e^{s_k} / Σ_m e^{s_m}   output only, with cross-entropy: there
                δ(L) = h − onehot(y), so its Jacobian is never needed (``prime`` is None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """θ and θ' together, and where θ is flat ("saturated": θ' is nearly 0 there)."""

    name: str
    theta: Callable[[Array], Array]  # x = θ(s)
    prime: Callable[[Array, Array], Array] | None  # θ'(s), given s and x = θ(s)
    saturated: Callable[[Array], Array]  # mask of the x(l) in θ's flat region
    hidden: bool = True  # usable in the hidden layers
    output_range: tuple[float, float] = (-np.inf, np.inf)


def _sigmoid(s: Array) -> Array:
    # 1 / (1 + e^{−s}), written as (1 + tanh(s/2)) / 2 so that no e^{−s} overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * s))


def _softmax(s: Array) -> Array:
    # e^{s_k} / Σ_m e^{s_m}, with max s taken out first so that no e^{s} overflows.
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _never(x: Array) -> Array:
    return np.zeros(x.shape, dtype=bool)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "tanh",
            np.tanh,
            lambda s, x: 1.0 - x * x,
            lambda x: np.abs(x) > 0.99,
            output_range=(-1.0, 1.0),
        ),
        Activation(
            "sigmoid",
            _sigmoid,
            lambda s, x: x * (1.0 - x),
            lambda x: (x < 0.01) | (x > 0.99),
            output_range=(0.0, 1.0),
        ),
        Activation(
            "relu",
            lambda s: np.maximum(s, 0.0),
            lambda s, x: (s > 0.0).astype(np.float64),
            lambda x: x == 0.0,
        ),
        Activation(
            "leaky_relu",
            lambda s: np.maximum(s, LEAKY_SLOPE * s),
            lambda s, x: np.where(s > 0.0, 1.0, LEAKY_SLOPE),
            _never,
        ),
        Activation("identity", lambda s: s.copy(), lambda s, x: np.ones_like(s), _never),
        Activation(
            "softmax", _softmax, None, lambda x: x > 0.99, hidden=False, output_range=(0.0, 1.0)
        ),
    )
}

HIDDEN_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.hidden)
OUTPUT_ACTIVATIONS = ("tanh", "sigmoid", "identity", "softmax")


def get_activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
