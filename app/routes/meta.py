"""What the server offers: presets and datasets."""

from __future__ import annotations

from fastapi import APIRouter

from app.presets import PRESETS
from app.schemas import DatasetInfoOut, PresetOut
from engine.datasets import DATASETS

router = APIRouter(prefix="/api", tags=["catalogue"])

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
