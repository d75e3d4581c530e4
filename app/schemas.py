"""Request and response schemas.

Inputs use finite floats only (``allow_inf_nan=False``): ``ge=`` alone lets ``inf``
through. Responses are built from engine objects by the ``from_*`` constructors below;
the documents that carry a step's numbers (app/trace_schemas.py) are written by
app/encode.py, in those models' shapes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.encode import finite_or_none
from engine import Config, Network
from engine.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from engine.datasets import DATASETS, Dataset, custom_dataset, make_dataset
from engine.features import FEATURE_NAMES
from engine.losses import check_pair

Finite = Annotated[float, Field(allow_inf_nan=False)]
Matrix = list[list[float]]
HiddenName = Literal[HIDDEN_ACTIVATIONS]  # type: ignore[valid-type]
OutputName = Literal[OUTPUT_ACTIVATIONS]  # type: ignore[valid-type]
FeatureName = Literal[FEATURE_NAMES]  # type: ignore[valid-type]
GeneratedName = Literal[tuple(n for n in DATASETS if n != "custom")]  # type: ignore[valid-type]
SessionId = Annotated[str, Field(description="The session's unguessable id (32 hex digits).")]


# Hard bounds on every integer a request may carry, far above any setting's limit: the
# settings (app/settings.py) narrow them, with a message naming the setting; these keep
# a number of 2⁶⁴ from ever reaching NumPy.
BIG = 10**6  # counts: points, units, batch sizes, indices
COUNTER = 2**53  # step and epoch numbers: exact in a float, so in JavaScript too
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


class Strict(BaseModel):
    """Reject unknown fields (a typo in a field name must not be silently ignored) and
    strings or booleans where numbers belong ("0.1", "2", true): strict mode."""

    model_config = ConfigDict(extra="forbid", strict=True)


# --------------------------------------------------------------------------- config
class InitConfig(Strict):
    scheme: Literal["normal", "uniform", "xavier", "he"] = "xavier"
    scale: Finite = Field(
        1.0, ge=0, le=100, description="σ for normal/uniform; a factor for xavier/he."
    )


class GeneratedDataset(Strict):
    name: GeneratedName = "xor"
    n: int = Field(200, ge=2, le=BIG, description="Number of points (train + test).")
    noise: Finite = Field(0.1, ge=0, le=5)
    seed: Seed = 0
    test_ratio: Finite = Field(0.2, ge=0, le=0.9)
    classes: int | None = Field(None, ge=2, le=10, description="K for spiral and blobs.")

    @property
    def size(self) -> int:
        return self.n

    def build(self) -> Dataset:
        return make_dataset(self.name, self.n, self.noise, self.seed, self.test_ratio, self.classes)


class CustomDataset(Strict):
    name: Literal["custom"]
    points: list[Annotated[list[Finite], Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=BIG
    )
    labels: list[Annotated[Finite, Field(ge=-1e9, le=1e9)]] = Field(
        max_length=BIG, description="±1 or class index 0 … K−1; real with regression."
    )
    regression: bool = False
    test_ratio: Finite = Field(0.0, ge=0, le=0.9)
    seed: Seed = 0

    @property
    def size(self) -> int:
        return len(self.points)

    def build(self) -> Dataset:
        return custom_dataset(self.points, self.labels, self.test_ratio, self.seed, self.regression)


DatasetConfig = Annotated[GeneratedDataset | CustomDataset, Field(discriminator="name")]


class Regularization(Strict):
    """A penalty Ω added to e over every non-bias weight: the update descends e + Ω."""

    kind: Literal["none", "l2", "l1"] = Field(
        "none", description="l2: Ω = λ Σ w², update adds 2λW; l1: Ω = λ Σ |w|, adds λ sign(W)."
    )
    strength: Finite = Field(0.0, ge=0, le=10, description="λ")


class SessionConfig(Strict):
    """Everything that defines a run. ``{}`` gives a small tanh network on XOR (±1)."""

    layers: list[Annotated[int, Field(ge=1, le=BIG)]] = Field(
        default_factory=lambda: [2, 4, 1],
        min_length=2,
        max_length=1000,
        description="[d(0), …, d(L)]: input size, hidden sizes, output size.",
    )
    activation: HiddenName = Field("tanh", description="Hidden θ.")
    output: OutputName = Field("tanh", description="θ of the output layer L.")
    loss: Literal["squared", "cross_entropy"] = "squared"
    init: InitConfig = Field(default_factory=InitConfig)
    learning_rate: Finite = Field(0.1, gt=0, le=1e6, description="η")
    batch_size: int = Field(1, ge=1, le=BIG, description="B, examples per SGD step.")
    dataset: DatasetConfig = Field(default_factory=GeneratedDataset)
    seed: Seed = Field(0, description="Seeds initial weights and example order.")
    features: list[FeatureName] | None = Field(
        None,
        min_length=1,
        max_length=len(FEATURE_NAMES),
        description="x(0) computed from the raw point (1-D or 2-D data), d(0) = their number; "
        "null: the raw point itself (x1, x2 for 2-D data).",
    )
    regularization: Regularization = Field(default_factory=Regularization)

    @model_validator(mode="after")
    def _pairs(self) -> SessionConfig:
        # The engine's own rule, so the message is the same from Python and HTTP.
        check_pair(self.output, self.loss, self.layers[-1])
        return self

    @model_validator(mode="after")
    def _engine_rules(self) -> SessionConfig:
        # Every other rule of the engine's Config (features against d(0), …), in its words.
        self.engine_config()
        return self

    @classmethod
    def from_engine(cls, config: Config, dataset: GeneratedDataset | CustomDataset):
        """The config of a run from its network's config (η, B and the seed change
        during a run) and its data set."""
        return cls.model_construct(
            layers=list(config.layers),
            activation=config.activation,
            output=config.output,
            loss=config.loss,
            init=InitConfig.model_construct(scheme=config.init, scale=config.init_scale),
            learning_rate=config.learning_rate,
            batch_size=config.batch_size,
            dataset=dataset,
            seed=config.seed,
            features=None if config.features is None else list(config.features),
            regularization=Regularization.model_construct(
                kind=config.regularization, strength=config.reg_strength
            ),
        )

    def engine_config(self) -> Config:
        return Config(
            tuple(self.layers),
            self.activation,
            self.output,
            self.loss,
            self.init.scheme,
            self.init.scale,
            self.learning_rate,
            self.batch_size,
            self.seed,
            features=self.features,
            regularization=self.regularization.kind,
            reg_strength=self.regularization.strength,
        )


class ConfigPatch(Strict):
    learning_rate: Finite | None = Field(None, gt=0, le=1e6)
    batch_size: int | None = Field(None, ge=1, le=BIG)
    regularization: Regularization | None = None


class ResetRequest(Strict):
    seed: Seed | None = Field(None, description="New seed; default: keep it.")


class WeightsRequest(Strict):
    weights: list[list[list[Finite]]] = Field(
        max_length=1000,
        description="W(1) … W(L), each (d(l-1)+1) × d(l) with the bias weights in row 0.",
    )


class IndicesRequest(Strict):
    indices: list[Annotated[int, Field(ge=0, le=BIG)]] | None = Field(
        None,
        min_length=1,
        max_length=BIG,
        description="Training-example indices (at most BACKPROP_MAX_BATCH); default: the "
        "next mini-batch.",
    )


class TrainRequest(Strict):
    steps: int = Field(
        ge=1, le=COUNTER, description="SGD steps to run (capped per call, see the limits)."
    )
    record_every: int = Field(
        1, ge=1, le=BIG, description="Return one point (the mean) per this many steps."
    )


# ------------------------------------------------------------------------- responses
class Progress(BaseModel):
    """Where a run stands, without the weights (a step's trace carries those)."""

    step: int
    epoch: int
    position: int = Field(description="Examples of the current epoch already used.")
    train_error: float | None
    train_accuracy: float | None
    test_error: float | None
    test_accuracy: float | None
    penalty: float | None = Field(description="Ω(w) at the current weights; 0 without one.")
    train_total_error: float | None = Field(
        description="train_error + Ω(w): what the update descends (train_error without a penalty)."
    )
    learning_rate: float
    batch_size: int
    pending: Literal["none", "forward", "backward"]
    undo_available: int

    @classmethod
    def from_network(cls, net: Network, pending: str, undo_available: int, **extra):
        return cls.model_construct(**progress_dict(net, pending, undo_available), **extra)


def progress_dict(net: Network, pending: str, undo_available: int) -> dict[str, Any]:
    """The fields of ``Progress`` as plain values (app/encode.py writes them as they are)."""
    st = net.state
    m = net.metrics()
    return {
        "step": st.step,
        "epoch": st.epoch,
        "position": st.position,
        "train_error": finite_or_none(m["train_error"]),
        "train_accuracy": m["train_accuracy"],
        "test_error": finite_or_none(m["test_error"]),
        "test_accuracy": m["test_accuracy"],
        "penalty": finite_or_none(m["penalty"]),
        "train_total_error": finite_or_none(m["train_total_error"]),
        "learning_rate": net.config.learning_rate,
        "batch_size": net.config.batch_size,
        "pending": pending,
        "undo_available": undo_available,
    }


class State(Progress):
    """Where a run stands, with W(1) … W(L) ((d(l-1)+1) × d(l), bias in row 0)."""

    weights: list[Matrix]

    @classmethod
    def from_network(cls, net: Network, pending: str, undo_available: int, **extra):
        weights = [w.tolist() for w in net.state.weights]
        return super().from_network(net, pending, undo_available, weights=weights)


class SessionOut(BaseModel):
    id: SessionId
    config: SessionConfig
    state: State


class DatasetOut(BaseModel):
    name: str
    classes: int = Field(description="K; 0 for regression.")
    encoding: Literal["pm1", "01", "index", "real"]
    x_train: Matrix
    y_train: list[float] = Field(description="Class index, or the real target.")
    targets_train: list[float] = Field(description="y as the loss sees it (±1, 0/1, index).")
    x_test: Matrix
    y_test: list[float]

    @classmethod
    def from_network(cls, net: Network) -> DatasetOut:
        d = net.dataset
        from engine.datasets import encode_labels

        return cls.model_construct(
            name=d.name,
            classes=d.classes,
            encoding=net.encoding,
            x_train=d.x_train.tolist(),
            y_train=d.y_train.astype(float).tolist(),
            targets_train=encode_labels(d.y_train, net.encoding).tolist(),
            x_test=d.x_test.tolist(),
            y_test=d.y_test.astype(float).tolist(),
        )


class Curve(BaseModel):
    step: list[int] = Field(description="Last step each point covers.")
    first: list[int] = Field(description="First step each point covers.")
    error: list[float]
    grad_norm: list[list[float]] = Field(description="Per point, ‖G(l)‖_F for l = 1 … L.")
    delta_mean_abs: list[list[float]]

    @classmethod
    def from_curve(cls, c) -> Curve:
        return cls.model_construct(
            step=c.step.tolist(),
            first=c.first.tolist(),
            error=c.error.tolist(),
            grad_norm=c.grad_norm.tolist(),
            delta_mean_abs=c.delta_mean_abs.tolist(),
        )


class HistoryOut(Curve):
    stride: int = Field(description="Steps per stored point (doubles when the store fills).")
    total_steps: int


class TrainOut(BaseModel):
    steps_done: int
    requested: int
    step: int
    stopped: Literal["done", "limit", "time", "diverged"]
    diverged: bool
    message: str
    history: Curve
    state: State


class PresetOut(BaseModel):
    name: str
    title: str
    description: str
    config: SessionConfig
