"""Follow mode and exercises: shares, what followers receive, predicted numbers checked."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.schemas import Finite, SessionConfig, State, Strict

# A follow token is a second name for a shared session that can only watch: the
# routes under /api/follow/{token} read, those under /api/sessions/{id} refuse it (403).
FollowToken = Annotated[str, Field(description="A read-only follow token (URL-safe, 192 bits).")]


class ExerciseMode(Strict):
    """What followers are asked to predict; each of them may click another target."""

    kind: Literal["delta", "weight"] = Field(
        "delta", description="δ_j(l) after the forward beat, or w_ij(l) after the backward beat."
    )
    layer: int | None = Field(None, ge=1, description="l; default: the output layer L.")
    unit: int | None = Field(None, ge=1, description="j of δ_j(l); default: every unit of layer l.")
    i: int | None = Field(None, ge=0, description="w_ij(l) from unit i of l−1 (0: the bias).")
    j: int | None = Field(None, ge=1, description="w_ij(l) into unit j of layer l.")


class ShareRequest(Strict):
    base_url: str | None = Field(
        None,
        max_length=200,
        pattern=r"^https?://[^\s/?#@]+/?$",
        description="The address students reach this server at, e.g. http://192.168.1.20:8000 "
        "(for the link and its QR code); default: the address of this request.",
    )
    continue_from: str | None = Field(
        None,
        max_length=64,
        description="The id of the session this one replaces (a new setup): the share of that "
        "session, its token and its followers, moves to this one.",
    )


class SharePatch(Strict):
    exercise: ExerciseMode | None = Field(description="Exercise mode for followers; null: off.")


class ShareOut(BaseModel):
    token: FollowToken
    url: str = Field(description="The follow page, relative: /follow?token=…")
    link: str = Field(description="The follow page, absolute: what the QR code holds.")
    qr_svg: str = Field(description="The link as a QR code, an SVG document.")
    followers: int = Field(description="Follow pages connected now.")
    exercise: ExerciseMode | None


class FollowOut(BaseModel):
    """A shared run as a follower sees it: everything but the session id."""

    seq: int = Field(description="Id of the last event sent to followers.")
    config: SessionConfig
    state: State
    exercise: ExerciseMode | None
    followers: int
    frame: list[dict[str, Any]] = Field(
        description="The events of the step on show (forward, backward, or the whole step)."
    )


class DeltaCheck(Strict):
    kind: Literal["delta"]
    layer: int = Field(ge=1, description="l")
    unit: int = Field(ge=1, description="j of δ_j(l)")
    example: int = Field(0, ge=0, description="Which example of the mini-batch (k).")
    step: int | None = Field(None, ge=1, description="The step predicted; default: the latest.")
    value: Finite = Field(ge=-1e12, le=1e12, description="δ_j(l) as the student computed it.")


class WeightCheck(Strict):
    kind: Literal["weight"]
    layer: int = Field(ge=1, description="l")
    i: int = Field(ge=0, description="from unit i of layer l−1 (0: the bias unit)")
    j: int = Field(ge=1, description="into unit j of layer l")
    step: int | None = Field(None, ge=1, description="The step predicted; default: the latest.")
    value: Finite = Field(ge=-1e12, le=1e12, description="w_ij(l) after this step's update.")


ExerciseCheck = Annotated[DeltaCheck | WeightCheck, Field(discriminator="kind")]


class Term(BaseModel):
    symbol: str
    value: float


class ExerciseCheckOut(BaseModel):
    kind: Literal["delta", "weight"]
    step: int
    layer: int
    unit: int | None
    i: int | None
    j: int | None
    example: int
    value: float
    expected: float = Field(description="The engine's number.")
    difference: float = Field(description="value − expected")
    correct: bool = Field(description="|difference| ≤ max(absolute, relative · |expected|)")
    relative_tolerance: float
    absolute_tolerance: float
    formula: str = Field(description="The lecture's formula with this step's numbers.")
    terms: list[Term] = Field(description="The numbers the formula combines.")
