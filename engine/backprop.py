"""Backpropagation as in the lecture: forward, backward (δ), gradient, update.

Every list here is indexed by the layer l, as in the lecture: ``W[l]``, ``s[l]``,
``x[l]``, ``delta[l]`` for l = 1 … L, and ``x[0]`` is the input (index 0 of the others
is unused, ``None``). Each array holds a mini-batch of B examples, one per row:

    x[l]      B × (d(l)+1)           x(l) = [1, x_1(l), …], the bias unit x_0 = 1 in column 0
                                     (x[L], the output, has no bias unit: B × d(L))
    W[l]      (d(l-1)+1) × d(l)      the bias weights w_0j(l) in row 0
    s[l]      B × d(l)
    delta[l]  B × d(l)               δ(l) = ∂e/∂s(l)
    G[l]      like W[l]              ∂e/∂W(l), averaged over the batch
    P[l]      like W[l]              ∂Ω/∂W(l), the gradient of the penalty Ω (row 0: 0)

Nothing is computed in place: every function returns new arrays, so the numbers of a
step can still be shown after the next one.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation

Array = np.ndarray


def with_bias(x: Array) -> Array:
    """[1, x_1, …, x_d] for every example: the bias unit x_0 = 1 in column 0."""
    return np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)


def forward(W: list, x0: Array, theta: Activation, theta_out: Activation):
    """s_j(l) = Σ_i w_ij(l) x_i(l-1) and x_j(l) = θ(s_j(l)), for l = 1 … L.

    θ is ``theta`` in the hidden layers and ``theta_out`` in layer L. Also returns
    θ'(s(l)), which the backward pass needs (None for a softmax layer).
    """
    L = len(W) - 1
    s, x, prime = [None] * (L + 1), [with_bias(x0)] + [None] * L, [None] * (L + 1)
    for l in range(1, L + 1):
        th = theta_out if l == L else theta
        s[l] = x[l - 1] @ W[l]
        out = th.theta(s[l])
        prime[l] = th.prime(s[l], out) if th.prime else None
        x[l] = out if l == L else with_bias(out)
    return s, x, prime


def backward(W: list, prime: list, delta_out: Array) -> list:
    """δ_i(l-1) = θ'(s_i(l-1)) Σ_j w_ij(l) δ_j(l) for i ≥ 1, from δ(L) = ``delta_out`` down to δ(1).

    Row 0 of W(l), the bias weights, is left out: the bias unit x_0 = 1 has no s.
    """
    L = len(W) - 1
    delta = [None] * L + [delta_out]
    for l in range(L, 1, -1):
        delta[l - 1] = prime[l - 1] * (delta[l] @ W[l][1:].T)
    return delta


def gradient(x: list, delta: list) -> list:
    """∂e/∂w_ij(l) = x_i(l-1) δ_j(l), averaged over the B examples of the batch.

    As a matrix, G(l) = x(l-1)ᵀ δ(l) / B; row 0 (x_0 = 1) is the mean of δ(l), the
    gradient of the bias weights.
    """
    B = x[0].shape[0]
    return [None] + [x[l - 1].T @ delta[l] / B for l in range(1, len(delta))]


# Regularisation: a penalty Ω(w) added to e, over every non-bias weight w_ij(l), i ≥ 1
# (the bias weights are not penalised). Each term beside its derivative:
PENALTIES = {
    "l2": (lambda w: w * w, lambda w: 2.0 * w),  # Ω = λ Σ w²,  ∂Ω/∂w = 2λw
    "l1": (np.abs, np.sign),  # Ω = λ Σ |w|, ∂Ω/∂w = λ sign(w)
}


def penalty(W: list, kind: str, lam: float) -> float:
    """Ω(w) = λ Σ_l Σ_{i≥1, j} term(w_ij(l)); 0 without regularisation (kind "none")."""
    if kind == "none":
        return 0.0
    term = PENALTIES[kind][0]
    return lam * sum(float(term(W[l][1:]).sum()) for l in range(1, len(W)))


def penalty_gradient(W: list, kind: str, lam: float) -> list | None:
    """∂Ω/∂w_ij(l): 2λ w_ij(l) (L2) or λ sign(w_ij(l)) (L1) for i ≥ 1, and 0 in row 0.

    None without regularisation: the update is then W − η G exactly.
    """
    if kind == "none":
        return None
    derivative = PENALTIES[kind][1]
    return [None] + [
        np.concatenate([np.zeros((1, W[l].shape[1])), lam * derivative(W[l][1:])])
        for l in range(1, len(W))
    ]


def update(W: list, G: list, eta: float, P: list | None = None) -> list:
    """w_ij(l) ← w_ij(l) − η ∂e/∂w_ij(l), for every layer; with a penalty Ω (``P`` its
    gradient), w_ij(l) ← w_ij(l) − η (∂e/∂w_ij(l) + ∂Ω/∂w_ij(l))."""
    if P is None:
        return [None] + [W[l] - eta * G[l] for l in range(1, len(W))]
    return [None] + [W[l] - eta * (G[l] + P[l]) for l in range(1, len(W))]
