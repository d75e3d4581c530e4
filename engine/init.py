"""Weight initialisation schemes. Each draws W(l), (d(l-1)+1) × d(l), bias in row 0.

    normal   w ~ N(0, σ²)                                 σ = scale
    uniform  w ~ U[−σ, σ]                                 σ = scale
    xavier   w ~ N(0, σ²), σ = scale · √(2 / (d(l-1) + d(l))), bias row 0
    he       w ~ N(0, σ²), σ = scale · √(2 / d(l-1)),          bias row 0

``scale`` stays a parameter for every scheme: the vanishing and exploding demos are
made by turning it down or up.
"""

from __future__ import annotations

import numpy as np

INIT_SCHEMES = ("normal", "uniform", "xavier", "he")


def init_weights(
    rng: np.random.Generator, layers: tuple[int, ...], scheme: str, scale: float
) -> tuple[np.ndarray, ...]:
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")
    weights = []
    for fan_in, fan_out in zip(layers[:-1], layers[1:], strict=True):
        shape = (fan_in + 1, fan_out)
        if scheme == "normal":
            w = rng.normal(0.0, scale, size=shape)
        elif scheme == "uniform":
            w = rng.uniform(-scale, scale, size=shape)
        else:
            fan = (fan_in + fan_out) / 2.0 if scheme == "xavier" else fan_in / 2.0
            w = rng.normal(0.0, scale * np.sqrt(1.0 / fan), size=shape)
            w[0] = 0.0
        w.flags.writeable = False
        weights.append(w)
    return tuple(weights)
