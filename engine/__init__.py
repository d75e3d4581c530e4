"""Backprop Lab's engine: a NumPy MLP trained by SGD one iteration at a time.

Pure NumPy, no web imports. Notation follows the lecture: s(l), x(l) with the bias
unit x_0 = 1, W(l) with the bias weights in row 0, δ(l) = ∂e/∂s(l), η. The algorithm
itself, forward, backward, gradient and update, is ``engine/backprop.py``.
"""

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, Activation
from .config import Config, State
from .datasets import DATASETS, Dataset, custom_dataset, make_dataset
from .init import INIT_SCHEMES
from .losses import LOSSES
from .network import Network
from .traces import Backward, Forward, LayerTrace, RunRecord, StepTrace

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "HIDDEN_ACTIVATIONS",
    "INIT_SCHEMES",
    "LOSSES",
    "OUTPUT_ACTIVATIONS",
    "Activation",
    "Backward",
    "Config",
    "Dataset",
    "Forward",
    "LayerTrace",
    "Network",
    "RunRecord",
    "State",
    "StepTrace",
    "custom_dataset",
    "make_dataset",
]
