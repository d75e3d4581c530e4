"""A run as a file: everything needed to continue it elsewhere, exactly (export/import).

Read back as strictly as a new session's config: a tampered file is refused whole.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from app.schemas import BIG, COUNTER, Finite, SessionConfig, Strict

Count = Annotated[int, Field(ge=1, le=COUNTER)]


class HistorySnapshot(Strict):
    """A run's stored history (app/history.py), as exported: read back as strictly as it
    is written, so a tampered file is refused whole."""

    capacity: int = Field(ge=2, le=2**20)
    stride: int = Field(ge=1, le=COUNTER)
    first: list[Count] = Field(max_length=2**20)
    last: list[Count] = Field(max_length=2**20)
    count: list[Count] = Field(max_length=2**20)
    error: list[Finite] = Field(max_length=2**20)
    grad_norm: list[list[Finite]] = Field(max_length=2**20)
    delta_mean_abs: list[list[Finite]] = Field(max_length=2**20)

    @model_validator(mode="after")
    def _consistent(self) -> HistorySnapshot:
        n = len(self.first)
        columns = (self.last, self.count, self.error, self.grad_norm, self.delta_mean_abs)
        if any(len(column) != n for column in columns):
            raise ValueError("the history's columns have different lengths")
        if self.capacity % 2 or n > self.capacity:
            raise ValueError("the history's capacity must be even and hold all its points")
        if self.stride & (self.stride - 1):
            raise ValueError("the history's stride must be a power of two")
        for i in range(n):
            span = self.last[i] - self.first[i] + 1
            if span < 1 or self.count[i] > span or (i and self.first[i] <= self.last[i - 1]):
                raise ValueError(
                    f"the history's point {i} is out of order: points cover steps "
                    "first … last, one after the other"
                )
        return self


class Snapshot(Strict):
    """Everything needed to continue a run elsewhere, exactly."""

    # /2: epoch e's example order is draw e mod 16 of the generator of (seed, e // 16)
    # (in /1 each epoch had a generator of its own), so /1 runs cannot continue exactly.
    format: Literal["backprop-lab/2"] = "backprop-lab/2"
    config: SessionConfig
    step: int = Field(ge=0, le=COUNTER)
    epoch: int = Field(ge=0, le=COUNTER)
    position: int = Field(ge=0, le=BIG)
    weights: list[list[list[Finite]]] = Field(max_length=1000)
    history: HistorySnapshot | None = None

    @model_validator(mode="after")
    def _history_ends_at_the_step(self) -> Snapshot:
        if self.history is not None and self.history.last and self.history.last[-1] > self.step:
            raise ValueError("the history runs past the snapshot's step")
        return self

    @field_validator("format", mode="before")
    @classmethod
    def _current_format(cls, value: Any) -> Any:
        if value == "backprop-lab/1":
            raise ValueError(
                "this snapshot was written by an earlier Backprop Lab (backprop-lab/1) whose "
                "example order differs, so it cannot continue exactly; start a new run with "
                "its config and weights instead"
            )
        return value
