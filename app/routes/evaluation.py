"""Looking without changing: x(l) for any inputs, every unit over the input plane, and
backprop's gradient against central differences."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from app import budget
from app.exceptions import Invalid, sentence
from app.routes.sessions import ERRORS, Config, SessionDep, compute
from app.schemas import BIG, Finite, Matrix, Strict
from engine.gradcheck import gradient_check

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERRORS)


class PredictRequest(Strict):
    inputs: list[Annotated[list[Finite], Field(max_length=64)]] = Field(
        min_length=1, max_length=BIG
    )


class GradcheckRequest(Strict):
    indices: list[Annotated[int, Field(ge=0, le=BIG)]] | None = Field(
        None, min_length=1, max_length=BIG
    )
    epsilon: Finite = Field(1e-5, gt=0, le=1.0)


class PredictLayer(BaseModel):
    layer: int
    x: Matrix


class PredictOut(BaseModel):
    layers: list[PredictLayer]
    output: Matrix


class GridLayer(BaseModel):
    layer: int
    x: list[Matrix] = Field(description="Per unit j: resolution × resolution values (row = y).")


class GridOut(BaseModel):
    resolution: int
    digits: int
    xs: list[float]
    ys: list[float]
    layers: list[GridLayer]


class LayerCheckOut(BaseModel):
    layer: int
    max_abs_diff: float
    max_rel_diff: float = Field(description="max |G − Ĝ| / max(max |G|, max |Ĝ|)")


class GradcheckOut(BaseModel):
    indices: list[int]
    epsilon: float
    layers: list[LayerCheckOut]
    max_rel_diff: float
    backprop_passes: int
    numerical_passes: int
    backprop_seconds: float
    numerical_seconds: float


@router.post("/{session_id}/predict", response_model=PredictOut)
async def predict(session: SessionDep, body: PredictRequest, settings: Config) -> PredictOut:
    """x(l) of every layer for any inputs, without changing the session."""
    if len(body.inputs) > settings.max_samples:
        raise Invalid(
            f"{len(body.inputs)} inputs is above the limit of {settings.max_samples} "
            "(BACKPROP_MAX_SAMPLES)."
        )
    units = sum(session.net.config.layers[1:])
    size = len(body.inputs) * units * budget.JSON_FLOAT_BYTES
    budget.check_response(size, f"x(l) of {len(body.inputs)} inputs", settings)
    try:
        xs = session.net.predict(body.inputs)
    except ValueError as e:
        raise Invalid(sentence(e)) from None
    if not all(np.isfinite(x).all() for x in xs):
        raise Invalid("The network's output is not finite for these inputs.")
    return PredictOut(
        layers=[PredictLayer(layer=l, x=x.tolist()) for l, x in enumerate(xs, 1)],
        output=xs[-1].tolist(),
    )


@router.get("/{session_id}/grid", response_model=GridOut)
async def grid(
    request: Request,
    session: SessionDep,
    settings: Config,
    resolution: Annotated[int, Query(ge=2, le=10_000, description="Points per axis.")] = 25,
    digits: Annotated[int, Query(ge=1, le=17, description="Decimals kept per value.")] = 3,
) -> GridOut:
    """The output and every hidden unit's x over the input plane (2-D inputs only).

    Values are rounded to ``digits`` decimals (default 3) to keep the response small:
    the default for a 2-8-8-1 network is about 75 KB.
    """
    if resolution > settings.max_grid_resolution:
        raise Invalid(
            f"The grid resolution {resolution} is above the limit of "
            f"{settings.max_grid_resolution} (BACKPROP_MAX_GRID_RESOLUTION)."
        )
    units = sum(session.net.config.layers[1:])
    size = resolution**2 * units * (digits + 4)  # "-0.123," per value
    budget.check_response(size, f"A grid of {resolution}² points for {units} units", settings)
    async with session.lock:
        try:
            xs, ys, layers = await compute(request, session.net.grid, resolution)
        except ValueError as e:
            raise Invalid(sentence(e)) from None
    if not all(np.isfinite(a).all() for a in layers):
        raise Invalid("The network's output is not finite over the input plane.")
    return GridOut(
        resolution=resolution,
        digits=digits,
        xs=xs.tolist(),
        ys=ys.tolist(),
        layers=[
            GridLayer(layer=l, x=np.round(np.moveaxis(a, 2, 0), digits).tolist())
            for l, a in enumerate(layers, 1)
        ],
    )


@router.post("/{session_id}/gradcheck", response_model=GradcheckOut)
async def gradcheck(
    request: Request, session: SessionDep, settings: Config, body: GradcheckRequest | None = None
) -> GradcheckOut:
    """Backprop's gradient against central differences, weight by weight.

    Reports per layer the largest absolute difference and the largest difference
    relative to the layer's largest gradient entry, with the passes and time each way
    took: 2 forward passes per weight against one forward and one backward pass.
    """
    body = body or GradcheckRequest()
    n_weights = sum(w.size for w in session.net.weights)
    if n_weights > settings.max_gradcheck_weights:
        raise Invalid(
            f"The network has {n_weights} weights; the gradient check runs on at most "
            f"{settings.max_gradcheck_weights} (BACKPROP_MAX_GRADCHECK_WEIGHTS)."
        )
    limit = settings.gradcheck_time_limit_seconds
    async with session.lock:
        session.check_indices(body.indices)
        try:
            check = await compute(
                request, gradient_check, session.net, body.indices, body.epsilon, limit
            )
        except TimeoutError as e:
            raise Invalid(
                f"{sentence(e)[:-1]}, the limit (BACKPROP_GRADCHECK_TIME_LIMIT_SECONDS): "
                "try a smaller network or batch."
            ) from None
    if not np.isfinite([c.max_abs_diff for c in check.layers]).all():
        raise Invalid("The gradient is not finite at these weights: undo or reset first.")
    return GradcheckOut(
        indices=check.indices.tolist(),
        epsilon=check.epsilon,
        layers=[
            LayerCheckOut(layer=c.layer, max_abs_diff=c.max_abs_diff, max_rel_diff=c.max_rel_diff)
            for c in check.layers
        ],
        max_rel_diff=check.max_rel_diff,
        backprop_passes=check.backprop_passes,
        numerical_passes=check.numerical_passes,
        backprop_seconds=check.backprop_seconds,
        numerical_seconds=check.numerical_seconds,
    )
