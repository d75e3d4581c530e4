"""Backprop Lab's engine: a NumPy MLP trained by SGD one iteration at a time.

Pure NumPy, no web imports. Notation follows the lecture: s(l), x(l) with the bias
unit x_0 = 1, W(l) with the bias weights in row 0, δ(l) = ∂e/∂s(l), η.
"""

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, Activation
from .datasets import DATASETS, Dataset, custom_dataset, make_dataset
from .init import INIT_SCHEMES
from .losses import LOSSES
from .network import Config, Network, RunRecord, State
from .traces import Backward, Forward, LayerTrace, StepTrace

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
