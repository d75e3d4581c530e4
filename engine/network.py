"""A multilayer perceptron trained by SGD one iteration at a time, in the lecture's notation.

Shapes, once (B = mini-batch size, l = 1 … L):

    x(l-1)  B × (d(l-1)+1)   with the bias unit x_0 = 1 in column 0 ("augmented")
    W(l)    (d(l-1)+1) × d(l) with the bias weights w_0j(l) in row 0
    s(l)    B × d(l)          s(l) = x(l-1) W(l)
    x(l)    B × d(l)          x(l) = θ(s(l))       (returned without the bias column)
    δ(l)    B × d(l)          δ(l) = ∂e/∂s(l)
    G(l)    like W(l)         G(l) = (1/B) x(l-1)ᵀ δ(l)   (bias row = mean of δ)

One iteration is four calls, each its own function so the page can show them apart:
``begin`` (pick the mini-batch and go forward), ``backward`` (δ and G), ``apply``
(W ← W − η G, refused if any number is not finite). ``step`` is the three in a row.
Every array handed out is read-only and never written again: a trace stays true
after later steps, and an undo snapshot is a handful of references.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .activations import OUTPUT_ACTIVATIONS, Activation, get_activation
from .datasets import Dataset, encode_labels
from .init import INIT_SCHEMES, init_weights
from .losses import INDEX, REAL, ZERO_ONE, Loss, check_pair, get_loss, mean_error

Array = np.ndarray

# Seed-sequence keys: init and example order are independent streams of one seed, so
# that changing the init scheme never changes which examples are visited, and the
# order of epoch e is a pure function of (seed, e): nothing else needs to be saved.
_INIT_STREAM = 0
_ORDER_STREAM = 1


@dataclass(frozen=True)
class Config:
    """Everything that defines a run; with the dataset it fixes every number bit for bit."""

    layers: tuple[int, ...] = (2, 4, 1)
    activation: str = "tanh"  # hidden θ
    output: str = "tanh"  # θ of layer L
    loss: str = "squared"
    init: str = "xavier"
    init_scale: float = 1.0
    learning_rate: float = 0.1  # η
    batch_size: int = 1  # B
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(d) for d in self.layers))
        if len(self.layers) < 2 or min(self.layers) < 1:
            raise ValueError("layers needs at least an input and an output size, each >= 1")
        hidden = get_activation(self.activation)
        if not hidden.hidden:
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

    @property
    def depth(self) -> int:
        """L, the number of weight layers."""
        return len(self.layers) - 1


@dataclass(frozen=True)
class State:
    """The whole mutable state of a run: restore it and the run continues identically."""

    weights: tuple[Array, ...]
    step: int = 0
    epoch: int = 0  # completed passes over the training set
    position: int = 0  # examples of the current epoch already used


@dataclass(frozen=True)
class Forward:
    """Result of the forward phase for one mini-batch (phase 1 of a step)."""

    step: int  # the step this batch belongs to (1 for the first)
    indices: Array  # B
    target: Array  # B, encoded for the loss
    s: tuple[Array, ...]  # s(l), l = 1 … L
    xa: tuple[Array, ...]  # augmented x(l), l = 0 … L−1 (x(L) is ``output``)
    output: Array  # x(L), B × d(L)
    error: float  # mean over the batch of e, before the update
    epoch_after: int
    position_after: int

    @property
    def input(self) -> Array:
        return self.xa[0][:, 1:]

    def x(self, layer: int) -> Array:
        """x(l) without the bias column, l = 0 … L."""
        return self.output if layer == len(self.s) else self.xa[layer][:, 1:]

    @property
    def finite(self) -> bool:
        """Every s(l), x(l) and the error are finite (x(l) is finite where s(l) is)."""
        return math.isfinite(self.error + sum(float(s.sum()) for s in self.s))


@dataclass(frozen=True)
class Backward:
    """Result of the backward phase: δ(l) and G(l) for l = 1 … L (phase 2)."""

    delta: tuple[Array, ...]
    grad: tuple[Array, ...]
    grad_norm: tuple[float, ...]  # ‖G(l)‖_F
    delta_mean_abs: tuple[float, ...]  # mean over batch and units of |δ_j(l)|

    @property
    def finite(self) -> bool:
        """Every δ(l) and G(l) is finite (their norms are)."""
        return math.isfinite(sum(self.grad_norm) + sum(self.delta_mean_abs))


@dataclass(frozen=True)
class LayerTrace:
    """Every number of layer l in one step."""

    s: Array
    x: Array
    delta: Array
    grad: Array
    update: Array  # ΔW(l) = −η G(l)
    weights: Array  # W(l) after the update
    grad_norm: float
    delta_mean_abs: float
    saturation: float  # fraction of the B × d(l) values of x(l) in θ's flat region


@dataclass(frozen=True)
class StepTrace:
    """One SGD iteration, immutable.

    Per-layer numbers are stored column-wise: ``delta[l-1]`` is δ(l), l = 1 … L.
    ``layer(l)`` gives the same numbers as one ``LayerTrace``. A refused (diverged)
    step has empty per-layer tuples and leaves the network as it was.
    """

    step: int
    indices: Array
    input: Array
    target: Array
    error: float
    learning_rate: float
    diverged: bool
    message: str
    s: tuple[Array, ...] = ()
    x: tuple[Array, ...] = ()
    delta: tuple[Array, ...] = ()
    grad: tuple[Array, ...] = ()
    update: tuple[Array, ...] = ()  # ΔW(l) = −η G(l)
    weights: tuple[Array, ...] = ()  # W(l) after the update
    grad_norm: tuple[float, ...] = ()  # ‖G(l)‖_F
    delta_mean_abs: tuple[float, ...] = ()
    saturation: tuple[float, ...] = ()

    def layer(self, l: int) -> LayerTrace:
        """Every number of layer l (1 … L)."""
        i = l - 1
        if not 0 <= i < len(self.s):
            raise IndexError(f"layer {l} is not in this trace (layers 1 … {len(self.s)})")
        return LayerTrace(
            self.s[i],
            self.x[i],
            self.delta[i],
            self.grad[i],
            self.update[i],
            self.weights[i],
            self.grad_norm[i],
            self.delta_mean_abs[i],
            self.saturation[i],
        )

    @property
    def layers(self) -> tuple[LayerTrace, ...]:
        return tuple(self.layer(l) for l in range(1, len(self.s) + 1))


@dataclass(frozen=True)
class RunRecord:
    """What a fast-forward records per step: rows are steps, columns layers 1 … L."""

    steps: Array  # step numbers
    error: Array
    grad_norm: Array
    delta_mean_abs: Array
    diverged: bool = False
    message: str = ""


DIVERGED_MESSAGE = (
    "The step was refused: with η = {eta:g} some numbers became infinite or NaN "
    "(the weights are diverging). The weights are unchanged; lower the learning rate."
)
EXPLODED_MESSAGE = (
    "The step was refused: the weights have grown so large that the forward pass or "
    "the gradient is no longer finite. Undo a few steps or reset, then lower the "
    "learning rate (now η = {eta:g})."
)


def _refusal(fwd: Forward, bwd: Backward, eta: float) -> str:
    finite = math.isfinite(fwd.error + sum(bwd.grad_norm))
    return (DIVERGED_MESSAGE if finite else EXPLODED_MESSAGE).format(eta=eta)


def augment(x: Array) -> Array:
    """[1, x_1, …, x_d] for every row: the bias unit x_0 = 1 in column 0."""
    xa = np.empty((x.shape[0], x.shape[1] + 1))
    xa[:, 0] = 1.0
    xa[:, 1:] = x
    return xa


def _readonly(a: Array) -> Array:
    a.flags.writeable = False
    return a


class Network:
    """An MLP, its training data and its SGD state.

    >>> from engine import Config, Network, make_dataset
    >>> net = Network(Config(layers=(2, 4, 1)), make_dataset("xor", n=40))
    >>> trace = net.step()
    >>> trace.layers[0].delta.shape   # δ(1): B × d(1)
    (1, 4)
    """

    def __init__(self, config: Config, dataset: Dataset, weights=None) -> None:
        if dataset.dim != config.layers[0]:
            raise ValueError(
                f"layer 0 has {config.layers[0]} units but the {dataset.name} data has "
                f"{dataset.dim} input dimension(s); set d(0) = {dataset.dim}"
            )
        self.encoding = (
            REAL
            if dataset.regression
            else check_pair(config.output, config.loss, config.layers[-1])
        )
        if dataset.regression and config.loss != "squared":
            raise ValueError("regression data needs the squared error loss")
        if self.encoding == INDEX and config.layers[-1] != dataset.classes:
            raise ValueError(
                f"the output layer has {config.layers[-1]} units but the data has "
                f"{dataset.classes} classes; with softmax use one unit per class"
            )
        if self.encoding != INDEX and not dataset.regression and dataset.classes > 2:
            raise ValueError(
                f"the data has {dataset.classes} classes: use a softmax output with "
                "cross-entropy and one output unit per class"
            )
        self.config = config
        self.dataset = dataset
        self._hidden: Activation = get_activation(config.activation)
        self._out: Activation = get_activation(config.output)
        self._loss: Loss = get_loss(config.loss)
        # Training inputs with the bias column, and targets in the loss's encoding.
        self._xa_train = _readonly(augment(dataset.x_train))
        self._y_train = _readonly(encode_labels(dataset.y_train, self.encoding))
        self._order_cache: tuple[int, Array] = (-1, np.empty(0, np.intp))
        self._all_inputs: Array | None = None  # train + test, for metrics()
        if weights is None:
            weights = self.initial_weights()
        self.state = State(self.check_weights(weights))

    # ----------------------------------------------------------------- state
    @property
    def weights(self) -> tuple[Array, ...]:
        return self.state.weights

    @property
    def n_train(self) -> int:
        return self._xa_train.shape[0]

    def initial_weights(self, seed: int | None = None) -> tuple[Array, ...]:
        seed = self.config.seed if seed is None else seed
        rng = np.random.default_rng([seed, _INIT_STREAM])
        return init_weights(rng, self.config.layers, self.config.init, self.config.init_scale)

    def check_weights(self, weights) -> tuple[Array, ...]:
        """Validate shapes and finiteness; return read-only float64 copies."""
        layers = self.config.layers
        if len(weights) != len(layers) - 1:
            raise ValueError(f"expected {len(layers) - 1} weight matrices, got {len(weights)}")
        out = []
        for l, w in enumerate(weights, start=1):
            a = np.array(w, dtype=np.float64)
            shape = (layers[l - 1] + 1, layers[l])
            if a.shape != shape:
                raise ValueError(
                    f"W({l}) must be {shape[0]} x {shape[1]} ((d({l - 1})+1) x d({l}), "
                    f"bias in row 0), got {' x '.join(map(str, a.shape))}"
                )
            if not np.isfinite(a).all():
                raise ValueError(f"W({l}) contains a number that is not finite")
            out.append(_readonly(a))
        return tuple(out)

    def set_weights(self, weights) -> None:
        self.state = replace(self.state, weights=self.check_weights(weights))

    def reset(self, seed: int | None = None) -> None:
        """Back to step 0 with freshly drawn weights (same seed unless one is given)."""
        if seed is not None and seed != self.config.seed:
            self.config = replace(self.config, seed=seed)
        self.state = State(self.initial_weights())

    def snapshot(self) -> State:
        return self.state  # immutable: the reference is the snapshot

    def restore(self, state: State) -> None:
        self.state = state

    def set_learning_rate(self, eta: float) -> None:
        self.config = replace(self.config, learning_rate=eta)

    def set_batch_size(self, batch_size: int) -> None:
        self.config = replace(self.config, batch_size=batch_size)

    # ------------------------------------------------------- example order
    def epoch_order(self, epoch: int) -> Array:
        """The shuffled order of the training examples in ``epoch``."""
        cached_epoch, order = self._order_cache
        if cached_epoch != epoch:
            rng = np.random.default_rng([self.config.seed, _ORDER_STREAM, epoch])
            order = _readonly(rng.permutation(self.n_train))
            self._order_cache = (epoch, order)
        return order

    def _next_indices(
        self, batch_size: int, epoch: int | None = None, pos: int | None = None
    ) -> tuple[Array, int, int]:
        """The next B example indices and the (epoch, position) they lead to."""
        if epoch is None:
            epoch, pos = self.state.epoch, self.state.position
        n = self.n_train
        if pos + batch_size <= n:
            return self.epoch_order(epoch)[pos : pos + batch_size], epoch, pos + batch_size
        parts = []
        need = batch_size
        while need:
            if pos == n:
                epoch, pos = epoch + 1, 0
            take = min(need, n - pos)
            parts.append(self.epoch_order(epoch)[pos : pos + take])
            pos += take
            need -= take
        return np.concatenate(parts), epoch, pos

    def _check_indices(self, indices) -> Array:
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError("indices must be a non-empty list of whole numbers")
        if idx.min() < 0 or idx.max() >= self.n_train:
            raise ValueError(
                f"example indices must be between 0 and {self.n_train - 1} "
                f"(the training set has {self.n_train} examples)"
            )
        return idx.astype(np.intp)

    # ------------------------------------------------------------- phases
    def propagate(self, xa0: Array, weights: tuple[Array, ...] | None = None):
        """Forward pass from augmented inputs: (s(1…L), augmented x(0…L−1), x(L))."""
        weights = self.state.weights if weights is None else weights
        hidden, last = self._hidden, len(weights) - 1
        s_all, xa_all = [], [xa0]
        xa = xa0
        for l, w in enumerate(weights):
            s = np.dot(xa, w)  # s(l) = x(l-1) W(l), bias via x_0 = 1
            s_all.append(s)
            if l == last:
                out = self._out.forward(s, np.empty_like(s))
            else:
                xa = np.empty((s.shape[0], s.shape[1] + 1))
                xa[:, 0] = 1.0
                hidden.forward(s, xa[:, 1:])
                xa_all.append(xa)
        return s_all, xa_all, out

    def begin(self, indices=None) -> Forward:
        """Phase 1: pick the mini-batch (or take ``indices``) and go forward. No state changes."""
        with np.errstate(all="ignore"):
            return self._forward_phase(indices)

    def backward(self, fwd: Forward) -> Backward:
        """Phase 2: δ(l) of every layer and the gradient G(l). No state changes."""
        with np.errstate(all="ignore"):
            return self._backward_phase(fwd)

    def apply(self, fwd: Forward, bwd: Backward) -> StepTrace:
        """Phase 3: W(l) ← W(l) − η G(l) for every layer; refused if not all finite."""
        with np.errstate(all="ignore"):
            return self._apply_phase(fwd, bwd)

    def step(self, indices=None) -> StepTrace:
        """One SGD iteration: forward, backward, update."""
        with np.errstate(all="ignore"):
            fwd = self._forward_phase(indices)
            return self._apply_phase(fwd, self._backward_phase(fwd))

    def run(self, steps: int) -> RunRecord:
        """Fast-forward ``steps`` iterations, recording error, ‖G(l)‖_F and mean |δ(l)|.

        The same arithmetic as ``step`` (the weights agree bit for bit), in reused
        buffers and without traces. Stops early (``diverged``) before the first step
        that would not be finite. Call it in chunks to report progress and to stop.
        """
        from .fastforward import fast_forward

        return fast_forward(self, steps)

    def _forward_phase(self, indices) -> Forward:
        if indices is None:
            idx, epoch, pos = self._next_indices(self.config.batch_size)
        else:
            idx = self._check_indices(indices)
            epoch, pos = self.state.epoch, self.state.position
        s, xa, out = self.propagate(self._xa_train[idx])
        y = self._y_train[idx]
        err = mean_error(self._loss, s[-1], out, y)
        return Forward(self.state.step + 1, idx, y, tuple(s), tuple(xa), out, err, epoch, pos)

    def _backward_phase(self, fwd: Forward) -> Backward:
        weights, hidden = self.state.weights, self._hidden
        L = len(weights)
        inv_b = 1.0 / fwd.indices.shape[0]
        # δ(L) from the loss, then δ_i(l-1) = θ'(s_i(l-1)) Σ_j w_ij(l) δ_j(l), i ≥ 1
        # (row 0 of W(l) belongs to the bias unit, which has no δ).
        delta = [None] * L
        d = self._loss.output_delta(fwd.s[-1], fwd.output, fwd.target, self._out)
        delta[-1] = d
        for l in range(L - 1, 0, -1):
            d = hidden.derivative(fwd.s[l - 1], fwd.xa[l][:, 1:]) * (d @ weights[l][1:].T)
            delta[l - 1] = d
        grad, gnorm, dmean = [], [], []
        for xa, d in zip(fwd.xa, delta, strict=True):
            g = np.dot(xa.T, d)  # Σ_k x_i(l-1) δ_j(l) over the batch; row 0 sums δ (x_0 = 1)
            g *= inv_b
            grad.append(g)
            gnorm.append(math.sqrt(float(np.vdot(g, g))))
            dmean.append(float(np.abs(d).sum()) / d.size)
        return Backward(tuple(delta), tuple(grad), tuple(gnorm), tuple(dmean))

    def _updated(self, fwd: Forward, bwd: Backward, eta: float):
        """(ΔW(l) = −η G(l), W(l) + ΔW(l)) per layer; ``None`` if any number is not finite."""
        updates, new = [], []
        # A sum is finite only if every term is (or if it overflows, which with numbers
        # beyond 1e308 is divergence too): one cheap test covers s, δ, G and W.
        total = fwd.error + sum(bwd.grad_norm) + sum(bwd.delta_mean_abs)
        for w, g, s in zip(self.state.weights, bwd.grad, fwd.s, strict=True):
            u = g * -eta
            w2 = w + u
            w2.flags.writeable = False  # weights are shared by traces and snapshots
            total += float(w2.sum()) + float(s.sum())
            updates.append(u)
            new.append(w2)
        if not math.isfinite(total):
            return None
        return updates, new

    def _commit(self, fwd: Forward, new: list[Array]) -> None:
        self.state = State(tuple(new), fwd.step, fwd.epoch_after, fwd.position_after)

    def _apply_phase(self, fwd: Forward, bwd: Backward) -> StepTrace:
        eta = self.config.learning_rate
        result = self._updated(fwd, bwd, eta)
        if result is None:
            msg = _refusal(fwd, bwd, eta)
            return StepTrace(
                fwd.step - 1, fwd.indices, fwd.input, fwd.target, fwd.error, eta, True, msg
            )
        updates, new = result
        self._commit(fwd, new)
        L = len(new)
        xs = tuple(fwd.x(l) for l in range(1, L + 1))
        sat = [np.count_nonzero(self._hidden.saturated(x)) / x.size for x in xs[:-1]]
        sat.append(np.count_nonzero(self._out.saturated(xs[-1])) / xs[-1].size)
        return StepTrace(
            fwd.step,
            fwd.indices,
            fwd.input,
            fwd.target,
            fwd.error,
            eta,
            False,
            "",
            fwd.s,
            xs,
            bwd.delta,
            bwd.grad,
            tuple(updates),
            tuple(new),
            bwd.grad_norm,
            bwd.delta_mean_abs,
            tuple(sat),
        )

    # ---------------------------------------------------------- evaluation
    def _inputs(self, x) -> Array:
        """Augmented inputs [1, x_1, …, x_d(0)] from N points, checked."""
        x = np.asarray(x, dtype=np.float64)
        d0 = self.config.layers[0]
        if x.ndim != 2 or x.shape[1] != d0:
            raise ValueError(f"inputs must be a list of points with {d0} coordinate(s) each")
        return augment(x)

    def predict(self, x) -> tuple[Array, ...]:
        """x(1 … L) for arbitrary inputs (N × d(0)), without changing anything."""
        with np.errstate(all="ignore"):
            _, xa, out = self.propagate(self._inputs(x))
        return tuple(a[:, 1:] for a in xa[1:]) + (out,)

    def evaluate(self, x, y_raw) -> tuple[float | None, float | None]:
        """Mean error and accuracy (None for regression) on raw labels ``y_raw``."""
        y_raw = np.asarray(y_raw)
        if y_raw.size == 0:
            return None, None
        y = encode_labels(y_raw, self.encoding)
        with np.errstate(all="ignore"):
            s, _, out = self.propagate(self._inputs(x))
            err = mean_error(self._loss, s[-1], out, y)
        return err, self.accuracy(out, y_raw)

    def batch_error(self, indices, weights=None) -> float:
        """Mean e over the training examples ``indices`` for ``weights`` (default: current)."""
        idx = self._check_indices(indices)
        with np.errstate(all="ignore"):
            s, _, out = self.propagate(self._xa_train[idx], weights)
            return mean_error(self._loss, s[-1], out, self._y_train[idx])

    def grid(self, resolution: int = 41, padding: float = 0.1):
        """Output and every hidden unit's x over a square grid on the 2-D input plane.

        Returns ``(xs, ys, layers)``: grid coordinates (``resolution`` each) and, per
        layer l = 1 … L, an array resolution × resolution × d(l) (row = y, column = x).
        """
        if self.config.layers[0] != 2:
            raise ValueError("the input-plane grid needs 2-D inputs (d(0) = 2)")
        if resolution < 2:
            raise ValueError("the grid resolution must be at least 2")
        pts = np.concatenate([self.dataset.x_train, self.dataset.x_test])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = padding * np.maximum(hi - lo, 1e-9)
        xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
        ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
        gx, gy = np.meshgrid(xs, ys)
        out = self.predict(np.stack([gx.ravel(), gy.ravel()], axis=1))
        return xs, ys, tuple(x.reshape(resolution, resolution, -1) for x in out)

    def accuracy(self, out: Array, y_raw: Array) -> float | None:
        if self.encoding == REAL:
            return None
        if self.encoding == INDEX:
            pred = out.argmax(axis=1)
        elif self.encoding == ZERO_ONE:
            pred = (out[:, 0] > 0.5).astype(np.int64)
        else:
            pred = (out[:, 0] > 0.0).astype(np.int64)
        return float(np.mean(pred == y_raw))

    def metrics(self) -> dict[str, float | None]:
        """Error and accuracy on the training and test sets for the current weights.

        One forward pass over both sets (the API reports these after every step).
        """
        d = self.dataset
        if self._all_inputs is None:
            self._all_inputs = _readonly(augment(np.concatenate([d.x_train, d.x_test])))
            y_raw = np.concatenate([d.y_train, d.y_test])
            self._all_targets = _readonly(encode_labels(y_raw, self.encoding))
            self._all_labels = _readonly(y_raw)
        n = d.x_train.shape[0]
        with np.errstate(all="ignore"):
            s, _, out = self.propagate(self._all_inputs)
            e = self._loss.error(s[-1], out, self._all_targets)
        parts = []
        for sl in (slice(0, n), slice(n, None)):
            if e[sl].size == 0:
                parts.append((None, None))
            else:
                err = float(np.add.reduce(e[sl])) / e[sl].size
                parts.append((err, self.accuracy(out[sl], self._all_labels[sl])))
        (train_err, train_acc), (test_err, test_acc) = parts
        return {
            "train_error": train_err,
            "train_accuracy": train_acc,
            "test_error": test_err,
            "test_accuracy": test_acc,
        }
