"""What the server offers: presets, datasets and the catalogue of every choice."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.presets import PRESETS
from app.schemas import PresetOut
from engine.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from engine.datasets import DATASETS
from engine.init import INIT_SCHEMES
from engine.losses import LOSSES, check_pair

router = APIRouter(prefix="/api", tags=["catalogue"])


class DatasetInfoOut(BaseModel):
    name: str
    description: str
    dim: int
    regression: bool
    classes: int | None = Field(description="Fixed K, or null when it is a parameter.")
    parameters: list[str]
    labels: str


class OutputChoice(BaseModel):
    output: str = Field(description="θ of the output layer L.")
    loss: str
    encoding: Literal["pm1", "01", "index", "real"] = Field(
        description="The labels this pair trains on (real with a regression dataset)."
    )


class CatalogueOut(BaseModel):
    """Every choice a session config offers, so that a client need not hard-code them."""

    activations: list[str] = Field(description="Hidden θ.")
    outputs: list[OutputChoice] = Field(description="The (output θ, loss) pairs that train.")
    losses: list[str]
    init_schemes: list[str]
    datasets: list[DatasetInfoOut]


LABELS = (
    "Class labels follow the loss: y = ±1 for squared error with a tanh or identity "
    "output, y ∈ {0, 1} for a sigmoid output, the class index 0 … K−1 for softmax with "
    "cross-entropy; real y for regression."
)


@router.get("/presets", response_model=list[PresetOut])
async def presets() -> list[PresetOut]:
    """One-click setups from the lecture: each a complete session config."""
    return PRESETS


@router.get("/datasets", response_model=list[DatasetInfoOut])
async def datasets() -> list[DatasetInfoOut]:
    """The datasets, their parameters and label conventions."""
    return _datasets()


@router.get("/catalogue", response_model=CatalogueOut)
async def catalogue() -> CatalogueOut:
    """Every choice of a session config: hidden θ, output θ with its loss, init schemes,
    datasets. The page builds its menus from this, so a new one needs no page change."""
    return CatalogueOut(
        activations=list(HIDDEN_ACTIVATIONS),
        outputs=[
            OutputChoice(output=o, loss=loss, encoding=encoding)
            for o in OUTPUT_ACTIVATIONS
            for loss in LOSSES
            if (encoding := _encoding(o, loss))
        ],
        losses=list(LOSSES),
        init_schemes=list(INIT_SCHEMES),
        datasets=_datasets(),
    )


def _encoding(output: str, loss: str) -> str | None:
    """The labels (output, loss) trains on, or None when the engine refuses the pair."""
    try:
        return check_pair(output, loss, 2 if output == "softmax" else 1)
    except ValueError:
        return None


def _datasets() -> list[DatasetInfoOut]:
    return [
        DatasetInfoOut(
            name=d.name,
            description=d.description,
            dim=d.dim,
            regression=d.regression,
            classes=d.fixed_classes,
            parameters=list(d.parameters),
            labels="real y" if d.regression else LABELS,
        )
        for d in DATASETS.values()
    ]
