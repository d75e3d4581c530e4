"""What defines a run (``Config``) and where it stands (``State``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .activations import OUTPUT_ACTIVATIONS, get_activation
from .backprop import PENALTIES
from .features import check_features
from .init import INIT_SCHEMES
from .losses import check_pair


@dataclass(frozen=True)
class Config:
    """Everything that defines a run; with the dataset it fixes every number bit for bit."""

    layers: tuple[int, ...] = (2, 4, 1)  # d(0), …, d(L)
    activation: str = "tanh"  # hidden θ
    output: str = "tanh"  # θ of layer L
    loss: str = "squared"
    init: str = "xavier"
    init_scale: float = 1.0
    learning_rate: float = 0.1  # η
    batch_size: int = 1  # B
    seed: int = 0
    features: tuple[str, ...] | None = None  # x(0) from the raw point; None: the raw point
    regularization: str = "none"  # the penalty Ω added to e: none, l2 or l1
    reg_strength: float = 0.0  # λ

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(d) for d in self.layers))
        if self.features is not None:
            object.__setattr__(self, "features", check_features(self.features))
            if len(self.features) != self.layers[0]:
                raise ValueError(
                    f"layer 0 has {self.layers[0]} units but {len(self.features)} features "
                    f"are chosen ({', '.join(self.features)}); d(0) must equal the number "
                    "of features"
                )
        if len(self.layers) < 2 or min(self.layers) < 1:
            raise ValueError("layers needs at least an input and an output size, each >= 1")
        if not get_activation(self.activation).hidden:
            raise ValueError(f"{self.activation} can only be used in the output layer")
        if self.output not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"unknown output activation {self.output!r}; "
                f"choose one of {', '.join(OUTPUT_ACTIVATIONS)}"
            )
        check_pair(self.output, self.loss, self.layers[-1])
        if self.init not in INIT_SCHEMES:
            raise ValueError(
                f"unknown init scheme {self.init!r}; choose one of {', '.join(INIT_SCHEMES)}"
            )
        if not (math.isfinite(self.init_scale) and self.init_scale >= 0):
            raise ValueError("init_scale must be a finite number >= 0")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError("the learning rate η must be a finite number > 0")
        if self.batch_size < 1:
            raise ValueError("the batch size must be at least 1")
        if self.regularization != "none" and self.regularization not in PENALTIES:
            raise ValueError(
                f"unknown regularization {self.regularization!r}; choose none, l2 or l1"
            )
        if not (math.isfinite(self.reg_strength) and self.reg_strength >= 0):
            raise ValueError("the regularization strength λ must be a finite number >= 0")

    @property
    def depth(self) -> int:
        """L, the number of weight layers."""
        return len(self.layers) - 1


class State(NamedTuple):
    """The whole mutable state of a run: restore it and the run continues identically.

    The example order of every epoch is a function of (seed, epoch), so (epoch,
    position) is all the random state there is.
    """

    weights: tuple[np.ndarray, ...]  # W(1) … W(L), read-only
    step: int = 0
    epoch: int = 0  # completed passes over the training set
    position: int = 0  # examples of the current epoch already used
