"""The one place where the numbers of a step become JSON: forward, backward, whole step.

Documents are built from the engine's traces as dicts of NumPy arrays and written by
orjson straight from the arrays (a step carries hundreds of floats; orjson writes them
without making a Python float of each). Floats are written in their shortest form that
reads back as the same float, so the page shows the engine's numbers bit for bit. The
shapes are those of ``StepOut``, ``ForwardOut`` and ``BackwardOut`` (app/trace_schemas.py),
which the routes declare as their response models; tests/test_encode.py holds the
bytes to the models.

Every number is finite: the engine refuses a step that is not (a refused step says
``diverged: true`` and carries no per-layer numbers), and ``error`` is null when it is
not finite. Should a non-finite number ever slip through, orjson writes ``null``, never
invalid JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from fastapi.responses import Response

from engine import Backward, Forward, StepTrace


def finite_or_none(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _array(a: np.ndarray | None):
    """orjson writes C-contiguous arrays only (x(l) are views without the bias column)."""
    return None if a is None else np.ascontiguousarray(a)


def dumps(document: Any) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


class TraceResponse(Response):
    """A document of this module as JSON (GZipMiddleware compresses it like any other)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def forward_document(fwd: Forward, message: str = "") -> dict[str, Any]:
    """``ForwardOut``: s(l), x(l) and θ'(s(l)) of every layer, and e."""
    layers = [] if message else [
        {"layer": l, "s": s, "x": _array(x), "prime": _array(prime)}
        for l, (s, x, prime) in enumerate(zip(fwd.s, fwd.x, fwd.prime, strict=True), start=1)
    ]  # fmt: skip
    return {
        "phase": "forward",
        "step": fwd.step,
        "indices": fwd.indices,
        "input": _array(fwd.input),
        "target": fwd.target,
        "error": finite_or_none(fwd.error),
        "penalty": fwd.penalty,
        "total_error": finite_or_none(fwd.error + fwd.penalty),
        "diverged": bool(message),
        "message": message,
        "layers": layers,
    }


def backward_document(step: int, bwd: Backward, message: str = "") -> dict[str, Any]:
    """``BackwardOut``: δ(l), G(l) and ∂Ω/∂W(l) of every layer, with their sizes."""
    penalty_grad = bwd.penalty_grad or (None,) * len(bwd.grad)
    layers = [] if message else [
        {
            "layer": l,
            "delta": delta,
            "grad": grad,
            "penalty_grad": p,
            "grad_norm": finite_or_none(norm),
            "delta_mean_abs": finite_or_none(mean),
        }
        for l, (delta, grad, p, norm, mean) in enumerate(
            zip(bwd.delta, bwd.grad, penalty_grad, bwd.grad_norm, bwd.delta_mean_abs, strict=True),
            start=1,
        )
    ]  # fmt: skip
    return {
        "phase": "backward",
        "step": step,
        "diverged": bool(message),
        "message": message,
        "layers": layers,
    }


def step_document(t: StepTrace, progress: dict[str, Any]) -> dict[str, Any]:
    """``StepOut``: every number of one SGD step, and ``progress`` (``Progress``) after it."""
    return {
        "step": t.step,
        "indices": t.indices,
        "input": _array(t.input),
        "target": t.target,
        "error": finite_or_none(t.error),
        "penalty": t.penalty,
        "total_error": finite_or_none(t.total_error),
        "learning_rate": t.learning_rate,
        "diverged": t.diverged,
        "message": t.message,
        "layers": [
            {
                "layer": l,
                "s": layer.s,
                "x": _array(layer.x),
                "prime": _array(layer.prime),
                "delta": layer.delta,
                "grad": layer.grad,
                "penalty_grad": layer.penalty_grad,
                "update": layer.update,
                "weights": layer.weights,
                "grad_norm": layer.grad_norm,
                "delta_mean_abs": layer.delta_mean_abs,
                "saturation": layer.saturation,
            }
            for l, layer in enumerate(t.layers, start=1)
        ],
        "state": progress,
    }
