"""Request and response schemas.

Inputs use finite floats only (``allow_inf_nan=False``): ``ge=`` alone lets ``inf``
through. Responses are built from engine objects by the ``from_*`` constructors below;
the documents that carry a step's numbers (``StepOut``, ``ForwardOut``,
``BackwardOut``) are written by app/encode.py, in these models' shapes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.encode import finite_or_none
from engine import Config, Network
from engine.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from engine.datasets import DATASETS, Dataset, custom_dataset, make_dataset
from engine.losses import check_pair

Finite = Annotated[float, Field(allow_inf_nan=False)]
Matrix = list[list[float]]
HiddenName = Literal[HIDDEN_ACTIVATIONS]  # type: ignore[valid-type]
OutputName = Literal[OUTPUT_ACTIVATIONS]  # type: ignore[valid-type]
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

    @model_validator(mode="after")
    def _pairs(self) -> SessionConfig:
        # The engine's own rule, so the message is the same from Python and HTTP.
        check_pair(self.output, self.loss, self.layers[-1])
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
        )


class ConfigPatch(Strict):
    learning_rate: Finite | None = Field(None, gt=0, le=1e6)
    batch_size: int | None = Field(None, ge=1, le=BIG)


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


class PredictRequest(Strict):
    inputs: list[Annotated[list[Finite], Field(max_length=64)]] = Field(
        min_length=1, max_length=BIG
    )


class GradcheckRequest(Strict):
    indices: list[Annotated[int, Field(ge=0, le=BIG)]] | None = Field(
        None, min_length=1, max_length=BIG
    )
    epsilon: Finite = Field(1e-5, gt=0, le=1.0)


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


PRIME = "θ'(s(l)), B × d(l): the slope backward multiplies by; null for a softmax layer"


class ForwardLayer(BaseModel):
    layer: int
    s: Matrix
    x: Matrix
    prime: Matrix | None = Field(description=PRIME)


class BackwardLayer(BaseModel):
    layer: int
    delta: Matrix
    grad: Matrix
    grad_norm: float
    delta_mean_abs: float


class LayerOut(BaseModel):
    layer: int = Field(description="l, 1 … L")
    s: Matrix = Field(description="s(l), B × d(l)")
    x: Matrix = Field(description="x(l) = θ(s(l)), B × d(l), without the bias unit")
    prime: Matrix | None = Field(description=PRIME)
    delta: Matrix = Field(description="δ(l) = ∂e/∂s(l), B × d(l)")
    grad: Matrix = Field(description="G(l) = mean over the batch of x(l-1) δ(l); bias in row 0")
    update: Matrix = Field(description="ΔW(l) = −η G(l)")
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
    learning_rate: float
    diverged: bool
    message: str
    layers: list[LayerOut]
    state: Progress = Field(description="Where the run stands after this step.")


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


class PredictLayer(BaseModel):
    layer: int
    x: Matrix


class PredictOut(BaseModel):
    layers: list[PredictLayer]
    output: Matrix


class GridLayer(BaseModel):
    layer: int
    x: list[Matrix] = Field(description="Per unit j: resolution × resolution values (row = y).")


class GridOut(BaseModel):
    resolution: int
    digits: int
    xs: list[float]
    ys: list[float]
    layers: list[GridLayer]


class LayerCheckOut(BaseModel):
    layer: int
    max_abs_diff: float
    max_rel_diff: float = Field(description="max |G − Ĝ| / max(max |G|, max |Ĝ|)")


class GradcheckOut(BaseModel):
    indices: list[int]
    epsilon: float
    layers: list[LayerCheckOut]
    max_rel_diff: float
    backprop_passes: int
    numerical_passes: int
    backprop_seconds: float
    numerical_seconds: float


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


class PresetOut(BaseModel):
    name: str
    title: str
    description: str
    config: SessionConfig


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


# ------------------------------------------------------------ follow mode, exercises
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
