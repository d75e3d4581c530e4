"""Predict-the-δ exercises: a student's number against the engine's, within a tolerance.

A check compares with a step the engine has computed; nothing is recomputed here (θ'(s)
for the worked formula comes with the trace too):

- a session's owner checks against the step in progress (after ``forward``: δ comes
  from the engine's backward pass, which changes nothing; the new weight is
  W(l) + (−η G(l)), the engine's update arithmetic, element by element);
- a follower checks against one of the shared run's recent steps (app/follow.py).

A prediction is correct when |value − expected| ≤ max(ABSOLUTE, RELATIVE · |expected|):
one percent of the number, or 10⁻³ for numbers near zero — what a student reaches by
hand with three or four significant digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.classroom_schemas import DeltaCheck, ExerciseCheckOut, Term, WeightCheck
from app.exceptions import Invalid, OutOfOrder
from app.schemas import SessionConfig
from engine import Backward, Forward, StepTrace

RELATIVE = 1e-2
ABSOLUTE = 1e-3

Array = np.ndarray


@dataclass(frozen=True)
class StepNumbers:
    """What a check needs of one step; per-layer tuples hold l = 1 … L at index l − 1."""

    step: int
    input: Array  # B × d(0)
    target: Array  # B, encoded for the loss
    s: tuple[Array, ...]  # B × d(l)
    x: tuple[Array, ...]  # B × d(l), without the bias unit
    prime: tuple[Array | None, ...]  # θ'(s(l)), B × d(l); None for a softmax layer
    delta: tuple[Array, ...]  # B × d(l)
    grad: tuple[Array, ...]  # W's shape
    weights_before: tuple[Array, ...]
    weights_after: tuple[Array, ...] | None  # None until the update is done

    @classmethod
    def pending(cls, fwd: Forward, bwd: Backward, weights: tuple[Array, ...]) -> StepNumbers:
        return cls(
            fwd.step,
            fwd.input,
            fwd.target,
            fwd.s,
            fwd.x,
            fwd.prime,
            bwd.delta,
            bwd.grad,
            weights,
            None,
        )

    @classmethod
    def done(cls, trace: StepTrace, weights_before: tuple[Array, ...] | None) -> StepNumbers:
        # Without the weights the step started from, W − ΔW is exact to a rounding:
        # good enough for the terms shown, and the checked value is the trace's own.
        before = weights_before or tuple(
            w - u for w, u in zip(trace.weights, trace.update, strict=True)
        )
        return cls(
            trace.step,
            trace.input,
            trace.target,
            trace.s,
            trace.x,
            trace.prime,
            trace.delta,
            trace.grad,
            before,
            trace.weights,
        )


def correct(value: float, expected: float) -> bool:
    return abs(value - expected) <= max(ABSOLUTE, RELATIVE * abs(expected))


# ------------------------------------------------------------------ writing it out
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sub(*indices: int) -> str:
    text = (
        ",".join(map(str, indices)) if any(i >= 10 for i in indices) else "".join(map(str, indices))
    )
    return text.translate(SUBSCRIPT)


def _n(v: float) -> str:
    """4 significant digits and a real minus sign: 0.4871, −1.203e-05."""
    return f"{float(v):.4g}".replace("-", "−")


def _f(v: float) -> str:
    """A number ready to be multiplied: negative ones in brackets."""
    return f"({_n(v)})" if v < 0 else _n(v)


def _limits(numbers: StepNumbers, layer: int) -> int:
    L = len(numbers.s)
    if layer > L:
        raise Invalid(f"layer {layer} is not in this network: its layers are 1 … {L}.")
    return L


def check_delta(numbers: StepNumbers, body: DeltaCheck, config: SessionConfig):
    L = _limits(numbers, body.layer)
    l, j, k = body.layer, body.unit, body.example
    d = numbers.delta[l - 1]
    if j > d.shape[1]:
        raise Invalid(f"Layer {l} has {d.shape[1]} units: unit {j} is not one of them.")
    if k >= d.shape[0]:
        raise Invalid(f"The mini-batch has {d.shape[0]} examples: example {k} is not one of them.")
    expected = float(d[k, j - 1])
    x = float(numbers.x[l - 1][k, j - 1])
    prime = numbers.prime[l - 1]
    slope = float(prime[k, j - 1]) if prime is not None else float("nan")  # softmax: unused
    dj, sj, xj = f"δ{_sub(j)}({l})", f"s{_sub(j)}({l})", f"x{_sub(j)}({l})"
    if l == L:
        y = float(numbers.target[k])
        if config.output == "softmax":
            hit = 1.0 if int(y) == j - 1 else 0.0
            formula = f"{dj} = h{_sub(j)} − [y = {j - 1}] = {_n(x)} − {hit:g} = {_n(expected)}"
            terms = [(f"h{_sub(j)} = {xj}", x), ("y (class index)", y)]
        elif config.loss == "cross_entropy":
            formula = f"{dj} = {xj} − y = {_n(x)} − {_f(y)} = {_n(expected)}"
            terms = [(xj, x), ("y", y)]
        else:
            formula = (
                f"{dj} = 2 ({xj} − y) θ′({sj}) = 2 · ({_n(x)} − {_f(y)}) · {_f(slope)}"
                f" = {_n(expected)}"
            )
            terms = [(xj, x), ("y", y), (f"θ′({sj})", slope)]
    else:
        nxt = numbers.delta[l][k]
        w = numbers.weights_before[l][j]  # row j of W(l+1): the weights out of unit j
        parts = [f"{_f(w[m])} · {_f(nxt[m])}" for m in range(len(nxt))]
        if len(parts) > 6:
            parts = parts[:4] + ["…", parts[-1]]
        total = float(np.dot(w, nxt))
        formula = (
            f"{dj} = θ′({sj}) Σₘ w{_sub(j)}ₘ({l + 1}) δₘ({l + 1}) = {_f(slope)} · "
            f"({' + '.join(parts)}) = {_f(slope)} · {_f(total)} = {_n(expected)}"
        )
        terms = [(f"θ′({sj})", slope)]
        for m in range(len(nxt)):
            terms.append((f"w{_sub(j, m + 1)}({l + 1})", float(w[m])))
            terms.append((f"δ{_sub(m + 1)}({l + 1})", float(nxt[m])))
    return _out(body, numbers.step, expected, formula, terms, unit=j, example=k)


def check_weight(numbers: StepNumbers, body: WeightCheck, eta: float):
    _limits(numbers, body.layer)
    l, i, j = body.layer, body.i, body.j
    g = numbers.grad[l - 1]
    if i >= g.shape[0] or j > g.shape[1]:
        raise Invalid(
            f"W({l}) is {g.shape[0]} × {g.shape[1]}: i runs 0 … {g.shape[0] - 1} (0 is the "
            f"bias) and j runs 1 … {g.shape[1]}."
        )
    before = float(numbers.weights_before[l - 1][i, j - 1])
    grad = float(g[i, j - 1])
    if numbers.weights_after is not None:
        expected = float(numbers.weights_after[l - 1][i, j - 1])
    else:  # the engine's update, W + (−η G), for this one element
        expected = float(numbers.weights_before[l - 1][i, j - 1] + g[i, j - 1] * -eta)
    batch = numbers.delta[l - 1].shape[0]
    w = f"w{_sub(i, j)}({l})"
    terms = [(w, before), ("η", eta), (f"∂e/∂{w}", grad)]
    if batch == 1:
        prev = numbers.x[l - 2] if l > 1 else numbers.input
        xi = 1.0 if i == 0 else float(prev[0, i - 1])
        dj = float(numbers.delta[l - 1][0, j - 1])
        terms += [(f"x{_sub(i)}({l - 1})", xi), (f"δ{_sub(j)}({l})", dj)]
        gradient = f"x{_sub(i)}({l - 1}) δ{_sub(j)}({l}) = {_f(xi)} · {_f(dj)} = {_n(grad)}"
    else:
        gradient = (
            f"mean over the {batch} examples of x{_sub(i)}({l - 1}) δ{_sub(j)}({l}) = {_n(grad)}"
        )
    formula = (
        f"∂e/∂{w} = {gradient};  {w} ← {w} − η ∂e/∂{w} = {_n(before)} − {_n(eta)} · "
        f"{_f(grad)} = {_n(expected)}"
    )
    return _out(body, numbers.step, expected, formula, terms, i=i, j=j)


def _out(body, step, expected, formula, terms, *, unit=None, i=None, j=None, example=0):
    return ExerciseCheckOut.model_construct(
        kind=body.kind,
        step=step,
        layer=body.layer,
        unit=unit,
        i=i,
        j=j,
        example=example,
        value=body.value,
        expected=expected,
        difference=body.value - expected,
        correct=correct(body.value, expected),
        relative_tolerance=RELATIVE,
        absolute_tolerance=ABSOLUTE,
        formula=formula,
        terms=[Term.model_construct(symbol=sym, value=v) for sym, v in terms],
    )


def check(numbers: StepNumbers, body: DeltaCheck | WeightCheck, config: SessionConfig, eta: float):
    if body.step is not None and body.step != numbers.step:
        raise OutOfOrder(
            f"This prediction is for step {body.step}, but the step on show is {numbers.step}."
        )
    if isinstance(body, DeltaCheck):
        return check_delta(numbers, body, config)
    return check_weight(numbers, body, eta)
