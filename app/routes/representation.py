"""What the output layer sees: x(l) of every point and a 2-D view (engine/representation.py)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from anyio import to_thread
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.exceptions import Invalid, sentence
from app.routes.sessions import ERRORS, SessionDep
from app.schemas import Matrix
from engine.representation import representation

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERRORS)


class RepresentedPoints(BaseModel):
    x: Matrix = Field(description="x(l) of each point, without the bias unit: N × d(l)")
    view: Matrix = Field(description="The 2-D view: x(l) itself when d(l) ≤ 2, else PCA.")
    label: list[float] = Field(description="Class index, or the real target.")


class RepresentationOut(BaseModel):
    layer: int = Field(description="l, 0 … L−1")
    units: int = Field(description="d(l)")
    names: list[str] = Field(description="The units of layer l: features, or x_j(l).")
    method: Literal["coordinates", "pca"]
    variance_kept: float = Field(description="Share of the variance of x(l) the view keeps.")
    mean: list[float] | None = Field(description="PCA: the training points' mean m.")
    components: Matrix | None = Field(
        description="PCA: v_1, v_2, the top right singular vectors of x(l) − m; view = (x − m) vᵀ."
    )
    boundary: list[float] | None = Field(
        description="l = L−1, d(l) = 2, one output unit: (w_0, w_1, w_2) of W(L), the line "
        "w_0 + w_1 x_1 + w_2 x_2 = 0 where the output crosses its threshold (s(L) = 0)."
    )
    digits: int
    train: RepresentedPoints
    test: RepresentedPoints


def unit_names(net, l: int) -> list[str]:
    """Layer 0: the features (or x1, x2, …); a hidden layer: x_1(l), x_2(l), …"""
    if l == 0 and net.config.features is not None:
        return list(net.config.features)
    if l == 0:
        return [f"x{j}" for j in range(1, net.config.layers[0] + 1)]
    return [f"x_{j}({l})" for j in range(1, net.config.layers[l] + 1)]


def _rounded(a, digits: int) -> list:
    return np.round(a, digits).tolist()


@router.get("/{session_id}/representation", response_model=RepresentationOut)
async def read_representation(
    session: SessionDep,
    layer: Annotated[
        int | None, Query(ge=0, le=1000, description="l, 0 … L−1; default L−1.")
    ] = None,
    digits: Annotated[int, Query(ge=1, le=17, description="Decimals kept per value.")] = 4,
) -> RepresentationOut:
    """Every training and test point's x(l) (bias excluded), its label and a 2-D view:
    the coordinates when d(l) ≤ 2, else a PCA projection with the share of variance it
    keeps; for l = L−1 with d(l) = 2 and one output unit, the output unit's line there."""
    async with session.lock:
        net = session.net
        try:
            r = await to_thread.run_sync(representation, net, layer)
        except ValueError as e:
            raise Invalid(sentence(e)) from None
    d = net.dataset
    return RepresentationOut(
        layer=r.layer,
        units=r.x_train.shape[1],
        names=unit_names(net, r.layer),
        method=r.method,
        variance_kept=r.variance_kept,
        mean=None if r.mean is None else r.mean.tolist(),
        components=None if r.components is None else r.components.tolist(),
        boundary=None if r.boundary is None else r.boundary.tolist(),
        digits=digits,
        train=RepresentedPoints(
            x=_rounded(r.x_train, digits),
            view=_rounded(r.view_train, digits),
            label=d.y_train.astype(float).tolist(),
        ),
        test=RepresentedPoints(
            x=_rounded(r.x_test, digits),
            view=_rounded(r.view_test, digits),
            label=d.y_test.astype(float).tolist(),
        ),
    )
