"""What a step hands out: immutable records of its numbers, per phase and whole.

A record keeps the step's numbers as the one read-only flat buffer the kernel copied
(see ``core``) and makes per-layer views of it when first asked; derived figures
(‖G(l)‖_F, mean |δ(l)|, the saturation) are computed from those numbers once, on first
use. Nothing a record hands out can be written, and no record can be changed, so a
trace stays true after later steps and costs one copy to keep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .core import Frame

Array = np.ndarray


_PER_LAYER = ("s", "x", "delta", "grad", "update", "weights")


class _Record:
    """Immutable: fields live in one tuple, read through properties."""

    __slots__ = ("_v",)

    def __setattr__(self, name, value):
        raise AttributeError(f"a {type(self).__name__} cannot be changed")

    __delattr__ = __setattr__

    @classmethod
    def _of(cls, *values):
        record = object.__new__(cls)
        object.__setattr__(record, "_v", values)
        return record


def _field(i: int, doc: str) -> property:
    return property(lambda self: self._v[i], doc=doc)


def _numbers(kind: str, doc: str) -> property:
    """Arrays of the record's frame (made on first access); () for a record without one."""

    def get(self):
        frame = self.frame
        return () if frame is None else frame.numbers()[kind]

    return property(get, doc=doc)


def _derived(name: str, doc: str) -> property:
    """A figure the frame computes from its numbers once (``Frame.<name>()``)."""

    def get(self):
        frame = self.frame
        return () if frame is None else getattr(frame, name)()

    return property(get, doc=doc)


class Forward(_Record):
    """Phase 1 of a step for one mini-batch: s(l) and x(l) of every layer, and e."""

    __slots__ = ()
    step = _field(0, "The step this batch belongs to (1 for the first).")
    indices = _field(1, "The B example indices.")
    error = _field(2, "Mean over the batch of e, before the update.")
    epoch_after = _field(3, "The epoch once this step is taken.")
    position_after = _field(4, "Examples of that epoch used once this step is taken.")
    frame = _field(5, "The numbers (private).")
    finite = _field(6, "Every s(l), x(l) and the error are finite.")

    s = _numbers("s", "s(l), l = 1 … L.")
    xa = _numbers("xa", "Augmented x(l), l = 0 … L−1 (x(L) is ``output``).")
    input = _numbers("input", "x(0) of the batch, B × d(0).")
    target = _numbers("target", "y for each example, encoded for the loss.")

    @property
    def output(self) -> Array:
        """x(L), B × d(L)."""
        return self.frame.numbers()["out"][0]

    def x(self, layer: int) -> Array:
        """x(l) without the bias column, l = 0 … L."""
        return self.input if layer == 0 else self.frame.numbers()["x"][layer - 1]


class Backward(_Record):
    """Phase 2: δ(l) and G(l) for l = 1 … L, continuing ``forward``."""

    __slots__ = ()
    forward = _field(0, "The forward phase this continues.")
    frame = _field(1, "The numbers (private).")

    delta = _numbers("delta", "δ(l), l = 1 … L, B × d(l).")
    grad = _numbers("grad", "G(l) = x(l-1)ᵀ δ(l) / B, l = 1 … L.")
    grad_norm = _derived("grad_norm", "‖G(l)‖_F, l = 1 … L.")
    delta_mean_abs = _derived("delta_mean_abs", "Mean |δ_j(l)| over the batch and the units.")

    @property
    def finite(self) -> bool:
        """Every δ(l) and G(l) is finite (their sums are)."""
        return math.isfinite(float(self.frame.sums().sum()))


@dataclass(frozen=True)
class LayerTrace:
    """Every number of layer l in one step."""

    s: Array
    x: Array
    delta: Array
    grad: Array
    update: Array  # ΔW(l) = −η G(l)
    weights: Array  # W(l) after the update
    grad_norm: float
    delta_mean_abs: float
    saturation: float  # fraction of the B × d(l) values of x(l) in θ's flat region


class StepTrace(_Record):
    """One SGD iteration, immutable.

    Per-layer numbers are tuples over l = 1 … L: ``delta[l-1]`` is δ(l). ``layer(l)``
    gives the same numbers as one ``LayerTrace``. A refused (diverged) step has empty
    per-layer tuples and leaves the network as it was.
    """

    __slots__ = ()
    step = _field(0, "The step number (the last one taken, for a refused step).")
    indices = _field(1, "The B example indices.")
    error = _field(4, "Mean over the batch of e, before the update.")
    learning_rate = _field(5, "η of this step.")
    diverged = _field(6, "The step was refused: some number was not finite.")
    message = _field(7, "Why it was refused (empty otherwise).")
    weights = _field(8, "W(l) after the update, l = 1 … L.")

    def __init__(
        self,
        step: int,
        indices: Array,
        input: Array,
        target: Array,
        error: float,
        learning_rate: float,
        diverged: bool,
        message: str,
    ) -> None:
        """A trace without per-layer numbers (a refused step)."""
        values = (step, indices, input, target, error, learning_rate, diverged, message, (), None)
        object.__setattr__(self, "_v", values)

    @classmethod
    def of_step(cls, step, indices, error, learning_rate, weights, frame: Frame) -> StepTrace:
        return cls._of(step, indices, None, None, error, learning_rate, False, "", weights, frame)

    frame = _field(9, "The numbers (private); None for a refused step.")

    @property
    def input(self) -> Array:
        """x(0) of the batch, B × d(0)."""
        frame = self.frame
        return self._v[2] if frame is None else frame.numbers()["input"]

    @property
    def target(self) -> Array:
        """y of the batch, encoded for the loss."""
        frame = self.frame
        return self._v[3] if frame is None else frame.numbers()["target"]

    s = _numbers("s", "s(l), l = 1 … L, B × d(l).")
    x = _numbers("x", "x(l) without the bias column, l = 1 … L.")
    delta = _numbers("delta", "δ(l), l = 1 … L, B × d(l).")
    grad = _numbers("grad", "G(l) = x(l-1)ᵀ δ(l) / B, l = 1 … L.")
    grad_norm = _derived("grad_norm", "‖G(l)‖_F, l = 1 … L.")
    delta_mean_abs = _derived("delta_mean_abs", "Mean |δ_j(l)| over the batch and the units.")
    saturation = _derived("saturation", "Fraction of x(l) in θ's flat region, l = 1 … L.")

    @property
    def update(self) -> tuple[Array, ...]:
        """ΔW(l) = −η G(l)."""
        frame = self.frame
        return () if frame is None else frame.update(self.learning_rate)

    def views(self) -> dict[str, Array | tuple[Array, ...]]:
        """The step's numbers as fresh read-only views, for a reader that looks once.

        ``input`` (B × d(0)), ``target`` (B), and per kind a tuple over l = 1 … L: ``s``,
        ``x``, ``delta`` (B × d(l)), ``grad``, ``update``, ``weights`` ((d(l-1) + 1) ×
        d(l)). The same numbers as the properties, without making (and keeping) every
        kind's views and caches: what a serialiser wants (``app.schemas.step_json``).
        All are C-contiguous but the hidden layers' x, which leave out the bias column.
        A refused step has its input and target, and empty tuples.
        """
        frame = self.frame
        if frame is None:
            return dict.fromkeys(_PER_LAYER, ()) | {"input": self.input, "target": self.target}
        lay, buf = frame.layout, frame.buf
        base, (g0, g1) = lay.trace[0], lay.spans["grad"]
        update = np.multiply(buf[g0 - base : g1 - base], -self.learning_rate)  # as update()
        update.flags.writeable = False
        slots = lay.slots

        def views(kind: str, flat: Array = buf, at: int = base) -> tuple[Array, ...]:
            return tuple([flat[a - at : b - at].reshape(shape) for a, b, shape in slots[kind]])

        ((a, b, shape),) = slots["rows"]  # [1, x(0), y]
        rows = buf[a - base : b - base].reshape(shape)
        return {
            "input": rows[:, 1:-1],
            "target": rows[:, -1],
            "s": views("s"),
            "x": tuple([xa[:, 1:] for xa in views("xa")]) + views("out"),
            "delta": views("delta"),
            "grad": views("grad"),
            "update": views("grad", update, g0),
            "weights": self.weights,
        }

    def layer(self, l: int) -> LayerTrace:
        """Every number of layer l (1 … L)."""
        i = l - 1
        if not 0 <= i < len(self.s):
            raise IndexError(f"layer {l} is not in this trace (layers 1 … {len(self.s)})")
        return LayerTrace(
            self.s[i],
            self.x[i],
            self.delta[i],
            self.grad[i],
            self.update[i],
            self.weights[i],
            self.grad_norm[i],
            self.delta_mean_abs[i],
            self.saturation[i],
        )

    @property
    def layers(self) -> tuple[LayerTrace, ...]:
        return tuple(self.layer(l) for l in range(1, len(self.s) + 1))
