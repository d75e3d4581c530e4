"""What a step hands out: immutable records of its numbers, per phase and whole.

Per-layer numbers are tuples over l = 1 … L (``delta[l-1]`` is δ(l)); shapes as in
``backprop`` (B = batch size). Every array in a record is read-only and never written
again, so a trace stays true after later steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

Array = np.ndarray


def frozen(arrays) -> tuple:
    """The arrays as a tuple, each made read-only (None, for a softmax θ', stays None)."""
    for a in arrays:
        if a is not None:
            a.flags.writeable = False
    return tuple(arrays)


def forward_finite(s, error: float) -> bool:
    """e and every s(l) are finite (then so are x(l) = θ(s(l)) and θ'(s(l)))."""
    return math.isfinite(error) and all(a is None or np.isfinite(a).all() for a in s)


def grad_norms(G) -> tuple[float, ...]:
    """‖G(l)‖_F = √(Σ_ij G_ij(l)²) per layer: the vanishing-gradient chart."""
    return tuple(math.sqrt(float(np.vdot(g, g))) for g in G)


def delta_mean_abs(delta) -> tuple[float, ...]:
    """Mean of |δ_j(l)| over the batch and the units, per layer."""
    return tuple(float(np.abs(d).sum()) / d.size for d in delta)


@dataclass(frozen=True)
class Forward:
    """Phase 1 of a step for one mini-batch: s(l), x(l) and θ'(s(l)) of every layer, and e."""

    step: int  # the step this batch belongs to (1 for the first)
    indices: Array  # the B example indices
    target: Array  # y of each example, encoded for the loss (B)
    s: tuple[Array, ...]
    x: tuple[Array, ...]  # x(1 … L), without the bias unit
    prime: tuple[Array | None, ...]  # θ'(s(l)); None for a softmax output
    error: float  # e, the mean over the batch, before the update
    epoch_after: int  # the epoch once this step is taken
    position_after: int  # examples of that epoch used once this step is taken
    x_bias: tuple[Array, ...] = field(repr=False)  # x(0 … L−1) with the bias unit x_0 = 1
    penalty: float = 0.0  # Ω(w), the regularisation penalty at the weights of this step

    @property
    def input(self) -> Array:
        """x(0), B × d(0)."""
        return self.x_bias[0][:, 1:]

    @property
    def finite(self) -> bool:
        return forward_finite(self.s, self.error)


@dataclass(frozen=True)
class Backward:
    """Phase 2: δ(l) and the gradient G(l) for l = 1 … L, continuing ``forward``."""

    forward: Forward
    delta: tuple[Array, ...]
    grad: tuple[Array, ...]  # G(l) = x(l-1)ᵀ δ(l) / B, bias in row 0
    penalty_grad: tuple[Array, ...] = ()  # ∂Ω/∂W(l); empty without regularisation

    @property
    def finite(self) -> bool:
        """‖G(l)‖ is finite only if every G_ij(l) is, and so every δ(l): row 0 of G(l)
        is the mean of δ(l)."""
        return math.isfinite(sum(self.grad_norm))

    @cached_property
    def grad_norm(self) -> tuple[float, ...]:
        return grad_norms(self.grad)

    @cached_property
    def delta_mean_abs(self) -> tuple[float, ...]:
        return delta_mean_abs(self.delta)


@dataclass(frozen=True)
class LayerTrace:
    """Every number of layer l in one step."""

    s: Array
    x: Array
    prime: Array | None  # θ'(s(l)); None for a softmax output
    delta: Array
    grad: Array
    update: Array  # ΔW(l) = −η (G(l) + ∂Ω/∂W(l))
    weights: Array  # W(l) after the update
    grad_norm: float
    delta_mean_abs: float
    saturation: float  # fraction of the B × d(l) values of x(l) in θ's flat region
    penalty_grad: Array | None  # ∂Ω/∂W(l); None without regularisation


@dataclass(frozen=True)
class StepTrace:
    """One SGD iteration, immutable: forward, backward and update of one mini-batch.

    A refused (diverged) step keeps its input and target, has empty per-layer tuples
    and left the network as it was; ``message`` says why.
    """

    step: int  # steps done after this one (the last one taken, for a refused step)
    indices: Array
    input: Array  # x(0), B × d(0)
    target: Array  # y, encoded for the loss
    error: float  # e, the mean over the batch, before the update
    learning_rate: float  # η
    s: tuple[Array, ...] = ()
    x: tuple[Array, ...] = ()
    prime: tuple[Array | None, ...] = ()
    delta: tuple[Array, ...] = ()
    grad: tuple[Array, ...] = ()
    update: tuple[Array, ...] = ()  # ΔW(l) = −η (G(l) + ∂Ω/∂W(l))
    weights: tuple[Array, ...] = ()  # W(l) after the update
    grad_norm: tuple[float, ...] = ()  # ‖G(l)‖_F
    delta_mean_abs: tuple[float, ...] = ()  # mean |δ_j(l)| over the batch and the units
    saturation: tuple[float, ...] = ()
    diverged: bool = False
    message: str = ""
    penalty: float = 0.0  # Ω(w) before the update; 0 without regularisation
    penalty_grad: tuple[Array, ...] = ()  # ∂Ω/∂W(l); empty without regularisation

    @property
    def total_error(self) -> float:
        """e + Ω: what the update descends when there is a penalty."""
        return self.error + self.penalty

    def layer(self, l: int) -> LayerTrace:
        """Every number of layer l (1 … L)."""
        if not 1 <= l <= len(self.s):
            raise IndexError(f"layer {l} is not in this trace (layers 1 … {len(self.s)})")
        i = l - 1
        return LayerTrace(
            self.s[i],
            self.x[i],
            self.prime[i],
            self.delta[i],
            self.grad[i],
            self.update[i],
            self.weights[i],
            self.grad_norm[i],
            self.delta_mean_abs[i],
            self.saturation[i],
            self.penalty_grad[i] if self.penalty_grad else None,
        )

    @property
    def layers(self) -> tuple[LayerTrace, ...]:
        return tuple(self.layer(l) for l in range(1, len(self.s) + 1))


@dataclass(frozen=True)
class RunRecord:
    """What a fast-forward records per step: rows are steps, columns layers 1 … L."""

    steps: Array  # step numbers
    error: Array
    grad_norm: Array
    delta_mean_abs: Array
    diverged: bool = False
    message: str = ""
