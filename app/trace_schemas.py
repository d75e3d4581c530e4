"""The documents that carry a step's numbers: a whole step (``StepOut``), its forward
pass (``ForwardOut``) and its backward pass (``BackwardOut``), layer by layer in the
lecture's notation. app/encode.py writes them, in these models' shapes, straight from
the engine's traces; the models give the API its schema and its documentation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas import Matrix, Progress

PRIME = "θ'(s(l)), B × d(l): the slope backward multiplies by; null for a softmax layer"
PENALTY = "Ω(w), the regularisation penalty before the update (0 without one)."
TOTAL_ERROR = "e + Ω: what the update descends."


class ForwardLayer(BaseModel):
    layer: int
    s: Matrix
    x: Matrix
    prime: Matrix | None = Field(description=PRIME)


PENALTY_GRAD = "∂Ω/∂W(l), the penalty's gradient (0 in row 0); null without regularisation"


class BackwardLayer(BaseModel):
    layer: int
    delta: Matrix
    grad: Matrix
    penalty_grad: Matrix | None = Field(description=PENALTY_GRAD)
    grad_norm: float
    delta_mean_abs: float


class LayerOut(BaseModel):
    layer: int = Field(description="l, 1 … L")
    s: Matrix = Field(description="s(l), B × d(l)")
    x: Matrix = Field(description="x(l) = θ(s(l)), B × d(l), without the bias unit")
    prime: Matrix | None = Field(description=PRIME)
    delta: Matrix = Field(description="δ(l) = ∂e/∂s(l), B × d(l)")
    grad: Matrix = Field(description="G(l) = mean over the batch of x(l-1) δ(l); bias in row 0")
    penalty_grad: Matrix | None = Field(description=PENALTY_GRAD)
    update: Matrix = Field(description="ΔW(l) = −η (G(l) + ∂Ω/∂W(l))")
    weights: Matrix = Field(description="W(l) after the update")
    grad_norm: float = Field(description="‖G(l)‖_F")
    delta_mean_abs: float = Field(description="mean of |δ_j(l)| over the batch and units")
    saturation: float = Field(description="fraction of x(l) in θ's flat region")


class ForwardOut(BaseModel):
    phase: Literal["forward"] = "forward"
    step: int = Field(description="The step this mini-batch belongs to.")
    indices: list[int]
    input: Matrix
    target: list[float]
    error: float | None = Field(description="Mean error over the batch, before the update.")
    penalty: float = Field(description=PENALTY)
    total_error: float | None = Field(description=TOTAL_ERROR)
    diverged: bool = Field(description="Not every number was finite: the step is cancelled.")
    message: str
    layers: list[ForwardLayer]


class BackwardOut(BaseModel):
    phase: Literal["backward"] = "backward"
    step: int
    diverged: bool
    message: str
    layers: list[BackwardLayer]


class StepOut(BaseModel):
    step: int = Field(description="Steps done so far (this one included unless diverged).")
    indices: list[int]
    input: Matrix
    target: list[float]
    error: float | None = Field(description="Mean error over the batch, before the update.")
    penalty: float = Field(description=PENALTY)
    total_error: float | None = Field(description=TOTAL_ERROR)
    learning_rate: float
    diverged: bool
    message: str
    layers: list[LayerOut]
    state: Progress = Field(description="Where the run stands after this step.")
