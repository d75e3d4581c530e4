"""A multilayer perceptron trained by SGD one iteration at a time.

One iteration is three calls, so that the page can show them apart: ``begin`` (pick
the mini-batch and go forward), ``backward`` (δ and the gradient G), ``apply``
(W ← W − η G, refused if any number is not finite). ``step`` is the three in a row
and ``run`` fast-forwards. All of them do their arithmetic with the four functions of
``backprop``, so a fast-forward and a step agree bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cached_property

import numpy as np

from . import backprop
from .activations import get_activation
from .config import Config, State
from .datasets import Dataset, encode_labels
from .features import apply_features, check_data
from .init import init_weights
from .losses import INDEX, REAL, ZERO_ONE, check_pair, get_loss
from .sampling import Orders
from .traces import (
    Backward,
    Forward,
    RunRecord,
    StepTrace,
    delta_mean_abs,
    forward_finite,
    frozen,
    grad_norms,
)

Array = np.ndarray

INIT_STREAM = 0  # the initial weights come from the generator of [seed, 0]

DIVERGED_MESSAGE = (
    "The step was refused: with η = {eta:g} some numbers became infinite or NaN "
    "(the weights are diverging). The weights are unchanged; lower the learning rate."
)
EXPLODED_MESSAGE = (
    "The step was refused: the weights have grown so large that the forward pass or "
    "the gradient is no longer finite. Undo a few steps or reset, then lower the "
    "learning rate (now η = {eta:g})."
)


class Network:
    """An MLP, its training data and its SGD state.

    >>> from engine import Config, Network, make_dataset
    >>> net = Network(Config(layers=(2, 4, 1)), make_dataset("xor", n=40))
    >>> trace = net.step()
    >>> trace.delta[0].shape   # δ(1): B × d(1)
    (1, 4)
    """

    def __init__(self, config: Config, dataset: Dataset, weights=None) -> None:
        if config.features is not None:
            check_data(config.features, dataset.dim)
        elif dataset.dim != config.layers[0]:
            raise ValueError(
                f"layer 0 has {config.layers[0]} units but the {dataset.name} data has "
                f"{dataset.dim} input dimension(s); set d(0) = {dataset.dim}"
            )
        if dataset.regression and config.loss != "squared":
            raise ValueError("regression data needs the squared error loss")
        encoding = check_pair(config.output, config.loss, config.layers[-1])
        self.encoding = REAL if dataset.regression else encoding
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
        self.theta = get_activation(config.activation)
        self.theta_out = get_activation(config.output)
        self.loss = get_loss(config.loss)
        self.x_train = self.inputs(dataset.x_train)  # x(0) of each training example
        self.y_train = encode_labels(dataset.y_train, self.encoding)  # y as the loss sees it
        self.n_train: int = len(self.y_train)
        self.orders = Orders(config.seed, self.n_train)
        if weights is None:
            weights = self.initial_weights()
        self.state = State(self.check_weights(weights))

    # ----------------------------------------------------------------- state
    @property
    def weights(self) -> tuple[Array, ...]:
        return self.state.weights

    def initial_weights(self) -> tuple[Array, ...]:
        c = self.config
        rng = np.random.default_rng([c.seed, INIT_STREAM])
        return init_weights(rng, c.layers, c.init, c.init_scale)

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
            out.append(a)
        return frozen(out)

    def set_weights(self, weights) -> None:
        self.state = self.state._replace(weights=self.check_weights(weights))

    def reset(self, seed: int | None = None) -> None:
        """Back to step 0 with freshly drawn weights (same seed unless one is given)."""
        if seed is not None and seed != self.config.seed:
            self.config = replace(self.config, seed=seed)
            self.orders = Orders(seed, self.n_train)
        self.state = State(self.initial_weights())

    def snapshot(self) -> State:
        return self.state  # immutable: the reference is the snapshot

    def restore(self, state: State) -> None:
        self.state = state

    def set_learning_rate(self, eta: float) -> None:
        self.config = replace(self.config, learning_rate=eta)

    def set_batch_size(self, batch_size: int) -> None:
        self.config = replace(self.config, batch_size=batch_size)

    def set_regularization(self, kind: str, strength: float) -> None:
        self.config = replace(self.config, regularization=kind, reg_strength=strength)

    def inputs(self, points: Array) -> Array:
        """x(0) (without the bias unit) for raw data points: the features, or the points."""
        features = self.config.features
        return points if features is None else frozen([apply_features(features, points)])[0]

    def penalty(self, weights=None) -> float:
        """Ω(w), the regularisation penalty at ``weights`` (default: the current ones)."""
        c = self.config
        W = (None, *(self.state.weights if weights is None else weights))
        return backprop.penalty(W, c.regularization, c.reg_strength)

    def epoch_order(self, epoch: int) -> Array:
        """The shuffled order of the training examples in ``epoch``."""
        return self.orders(epoch)

    def check_indices(self, indices) -> Array:
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError("indices must be a non-empty list of whole numbers")
        if idx.min() < 0 or idx.max() >= self.n_train:
            raise ValueError(
                f"example indices must be between 0 and {self.n_train - 1} "
                f"(the training set has {self.n_train} examples)"
            )
        return frozen([idx.astype(np.intp)])[0]

    # ------------------------------------------------------------- phases
    def begin(self, indices=None) -> Forward:
        """Phase 1: pick the mini-batch (or take ``indices``) and go forward. No state changes."""
        idx, epoch, position = self._pick(indices)
        with np.errstate(all="ignore"):
            y, s, x, prime, error = self._forward(idx)
        x_bias = frozen(x[:-1])
        return Forward(
            self.state.step + 1,
            *frozen([idx, y]),
            frozen(s[1:]),
            tuple(a[:, 1:] for a in x_bias[1:]) + frozen(x[-1:]),
            frozen(prime[1:]),
            error,
            epoch,
            position,
            x_bias,
            self.penalty(),
        )

    def backward(self, fwd: Forward) -> Backward:
        """Phase 2: δ(l) of every layer, from the output back, and the gradient G(l)."""
        x = [*fwd.x_bias, fwd.x[-1]]
        with np.errstate(all="ignore"):
            delta, G = self._backward((None, *fwd.s), x, (None, *fwd.prime), fwd.target)
            P = self._penalty_gradient()
        return Backward(fwd, frozen(delta[1:]), frozen(G[1:]), () if P is None else frozen(P))

    def apply(self, fwd: Forward, bwd: Backward) -> StepTrace:
        """Phase 3: W(l) ← W(l) − η G(l) (+ the penalty's gradient) for every layer;
        refused if any number is not finite."""
        if bwd.forward is not fwd:
            raise ValueError("this backward pass belongs to another forward pass")
        eta, P = self.config.learning_rate, bwd.penalty_grad or None
        with np.errstate(all="ignore"):
            weights, message = self._update(fwd.finite, bwd.grad, P, bwd.grad_norm)
            if P is None:
                delta_W = [-eta * G for G in bwd.grad]
            else:
                delta_W = [-eta * (G + p) for G, p in zip(bwd.grad, P, strict=True)]
        common = (fwd.indices, fwd.input, fwd.target, fwd.error, eta)
        if message:
            return StepTrace(self.state.step, *common, diverged=True, message=message)
        self.state = State(weights, fwd.step, fwd.epoch_after, fwd.position_after)
        return StepTrace(
            fwd.step,
            *common,
            fwd.s,
            fwd.x,
            fwd.prime,
            bwd.delta,
            bwd.grad,
            frozen(delta_W),  # ΔW(l) = −η (G(l) + ∂Ω/∂W(l))
            weights,
            bwd.grad_norm,
            bwd.delta_mean_abs,
            self.saturation(fwd.x),
            penalty=fwd.penalty,
            penalty_grad=bwd.penalty_grad,
        )

    def step(self, indices=None) -> StepTrace:
        """One SGD iteration: forward, backward, update."""
        fwd = self.begin(indices)
        return self.apply(fwd, self.backward(fwd))

    def run(self, steps: int) -> RunRecord:
        """Fast-forward ``steps`` iterations, recording e, ‖G(l)‖_F and mean |δ(l)| per step.

        The same arithmetic as ``step`` (so the weights agree bit for bit), without
        keeping the numbers of each step. Stops early (``diverged``) before the first
        step that would not be finite. Call it in chunks to report progress and to stop.
        """
        first = self.state.step + 1
        errors, norms, deltas, message = [], [], [], ""
        with np.errstate(all="ignore"):
            for _ in range(steps):
                st = self.state
                idx, epoch, position = self._pick()
                y, s, x, prime, error = self._forward(idx)
                delta, G = self._backward(s, x, prime, y)
                P = self._penalty_gradient()
                norm = grad_norms(G[1:])
                weights, message = self._update(forward_finite(s, error), G[1:], P, norm)
                if message:
                    break
                self.state = State(weights, st.step + 1, epoch, position)
                errors.append(error)
                norms.append(norm)
                deltas.append(delta_mean_abs(delta[1:]))
        done, L = len(errors), self.config.depth
        return RunRecord(
            np.arange(first, first + done),
            np.array(errors, dtype=np.float64),
            np.array(norms, dtype=np.float64).reshape(done, L),
            np.array(deltas, dtype=np.float64).reshape(done, L),
            bool(message),
            message,
        )

    # The three phases on lecture-indexed lists (see ``backprop``), with NumPy's
    # floating-point warnings off: a diverging step is refused, not warned about.
    def _pick(self, indices=None) -> tuple[Array, int, int]:
        """The next mini-batch's example indices (or ``indices``, checked), and the epoch
        and position in it after this batch."""
        st = self.state
        if indices is not None:
            return self.check_indices(indices), st.epoch, st.position
        return self.orders.next_batch(self.config.batch_size, st.epoch, st.position)

    def _forward(self, idx: Array) -> tuple[Array, list, list, list, float]:
        """For the training examples ``idx``: y, then s, x and θ' of every layer, and e
        (the mean over the batch)."""
        W, y = (None, *self.state.weights), self.y_train[idx]
        s, x, prime = backprop.forward(W, self.x_train[idx], self.theta, self.theta_out)
        return y, s, x, prime, float(self.loss.error(s[-1], x[-1], y).sum()) / len(y)

    def _backward(self, s, x, prime, y) -> tuple[list, list]:
        """δ of every layer, starting from the loss's δ(L), and the gradient G."""
        W = (None, *self.state.weights)
        delta = backprop.backward(W, prime, self.loss.delta(s[-1], x[-1], y, prime[-1]))
        return delta, backprop.gradient(x, delta)

    def _penalty_gradient(self) -> list | None:
        """∂Ω/∂W(l) at the current weights for l = 1 … L; None without a penalty."""
        c = self.config
        P = backprop.penalty_gradient((None, *self.state.weights), c.regularization, c.reg_strength)
        return None if P is None else P[1:]

    def _update(self, forward_ok: bool, G, P, norm) -> tuple[tuple[Array, ...], str]:
        """(W − η (G + P) for every layer, "") or, if a number of the step is not finite,
        ((), why the step is refused). ``P`` is the penalty's gradient (None: no penalty).
        ``norm`` is ‖G(l)‖ per layer: finite only if every G_ij(l) is, and so every δ(l)
        (row 0 of G(l) is the mean of δ(l))."""
        eta, W = self.config.learning_rate, self.state.weights
        if forward_ok and math.isfinite(sum(norm)):
            P = None if P is None else (None, *P)
            W_new = backprop.update((None, *W), (None, *G), eta, P)[1:]
            if all(np.isfinite(w).all() for w in W_new):
                return frozen(W_new), ""
            return (), DIVERGED_MESSAGE.format(eta=eta)  # finite up to η G: η is too large
        return (), EXPLODED_MESSAGE.format(eta=eta)

    def saturation(self, x) -> tuple[float, ...]:
        """Per layer, the fraction of x(l) in θ's flat region (θ' nearly 0)."""
        last = len(x)
        return tuple(
            np.count_nonzero((self.theta_out if l == last else self.theta).saturated(a)) / a.size
            for l, a in enumerate(x, start=1)
        )

    # ---------------------------------------------------------- evaluation
    def propagate(self, x0, weights=None) -> tuple[list, list]:
        """s(1 … L) and x(0 … L) for any N inputs (N × d(0)), as ``backprop.forward``
        gives them (x(0 … L−1) with the bias unit), without changing anything."""
        W = (None, *(self.state.weights if weights is None else weights))
        with np.errstate(all="ignore"):
            s, x, _ = backprop.forward(W, x0, self.theta, self.theta_out)
        return s, x

    def _inputs(self, x) -> Array:
        """x(0) for raw points given by the caller (checked: the data's coordinates)."""
        x = np.asarray(x, dtype=np.float64)
        dim = self.dataset.dim
        if x.ndim != 2 or x.shape[1] != dim:
            raise ValueError(f"inputs must be a list of points with {dim} coordinate(s) each")
        return self.inputs(x)

    def predict(self, x) -> tuple[Array, ...]:
        """x(1 … L) for arbitrary raw points (N × the data's dimension), without the bias unit."""
        x = self.propagate(self._inputs(x))[1]
        return tuple(a[:, 1:] for a in x[1:-1]) + (x[-1],)

    def evaluate(self, x, y_raw) -> tuple[float | None, float | None]:
        """Mean error and accuracy (None for regression) on raw labels ``y_raw``."""
        y_raw = np.asarray(y_raw)
        if y_raw.size == 0:
            return None, None
        s, x = self.propagate(self._inputs(x))
        with np.errstate(all="ignore"):
            error = float(self.loss.error(s[-1], x[-1], encode_labels(y_raw, self.encoding)).mean())
        return error, self.accuracy(x[-1], y_raw)

    def batch_error(self, indices, weights=None) -> float:
        """Mean e over the training examples ``indices`` for ``weights`` (default: current)."""
        idx = self.check_indices(indices)
        s, x = self.propagate(self.x_train[idx], weights)
        with np.errstate(all="ignore"):
            return float(self.loss.error(s[-1], x[-1], self.y_train[idx]).mean())

    def accuracy(self, out: Array, y_raw: Array) -> float | None:
        """The share of examples whose output picks the right class (None for regression)."""
        return None if self.encoding == REAL else float(np.mean(self._correct(out, y_raw)))

    def _correct(self, out: Array, y_raw: Array) -> Array:
        if self.encoding == INDEX:
            return out.argmax(axis=1) == y_raw
        # one output unit: the decision threshold is the middle of its range
        return (out[:, 0] > (0.5 if self.encoding == ZERO_ONE else 0.0)) == (y_raw == 1)

    @cached_property
    def _all_points(self) -> tuple[Array, Array, Array]:
        """The training points, then the test points: x, raw labels, y for the loss."""
        d = self.dataset
        y_raw = np.concatenate([d.y_train, d.y_test])
        x = self.inputs(np.concatenate([d.x_train, d.x_test]))  # x(0): the features
        return x, y_raw, encode_labels(y_raw, self.encoding)

    def metrics(self) -> dict[str, float | None]:
        """Error and accuracy on the training and test sets for the current weights
        (one forward pass over both: the API reports these after every step)."""
        n = self.n_train
        x, y_raw, y = self._all_points
        s, out = self.propagate(x)
        with np.errstate(all="ignore"):
            e = self.loss.error(s[-1], out[-1], y)
        right = None if self.encoding == REAL else self._correct(out[-1], y_raw)
        sets = {"train": slice(0, n), "test": slice(n, len(y_raw))}
        result = {}
        for name, part in sets.items():
            empty = part.start == part.stop
            result[f"{name}_error"] = None if empty else float(e[part].mean())
            result[f"{name}_accuracy"] = (
                None if empty or right is None else float(right[part].mean())
            )
        result["penalty"] = omega = self.penalty()
        e_train = result["train_error"]
        result["train_total_error"] = None if e_train is None else e_train + omega
        return result

    def grid(self, resolution: int = 41, padding: float = 0.1):
        """Output and every hidden unit's x over a square grid on the 2-D input plane.

        Returns ``(xs, ys, layers)``: grid coordinates (``resolution`` each) and, per
        layer l = 1 … L, an array resolution × resolution × d(l) (row = y, column = x).
        """
        if self.dataset.dim != 2:
            raise ValueError("the input-plane grid needs 2-D inputs (data with 2 coordinates)")
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
