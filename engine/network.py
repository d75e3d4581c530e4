"""A multilayer perceptron trained by SGD one iteration at a time, in the lecture's notation.

Shapes, once (B = mini-batch size, l = 1 … L):

    x(l-1)  B × (d(l-1)+1)   with the bias unit x_0 = 1 in column 0 ("augmented")
    W(l)    (d(l-1)+1) × d(l) with the bias weights w_0j(l) in row 0
    s(l)    B × d(l)          s(l) = x(l-1) W(l)
    x(l)    B × d(l)          x(l) = θ(s(l))       (returned without the bias column)
    δ(l)    B × d(l)          δ(l) = ∂e/∂s(l)
    G(l)    like W(l)         G(l) = (1/B) x(l-1)ᵀ δ(l)   (bias row = mean of δ)

One iteration is three calls, each its own function so the page can show them apart:
``begin`` (pick the mini-batch and go forward), ``backward`` (δ and G), ``apply``
(W ← W − η G, refused if any number is not finite). ``step`` is the three in a row and
``run`` fast-forwards; all of them run the same arithmetic, ``core.Kernel``'s.
Every array handed out is read-only and never written again: a trace stays true
after later steps, and an undo snapshot is a handful of references.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from .activations import OUTPUT_ACTIVATIONS, Activation, get_activation
from .core import Kernel, Layout
from .datasets import Dataset, encode_labels
from .init import INIT_SCHEMES, init_weights
from .losses import INDEX, REAL, ZERO_ONE, Loss, check_pair, get_loss, mean_error
from .traces import Backward, Forward, StepTrace

Array = np.ndarray

# Seed-sequence keys: init and example order are independent streams of one seed, so
# that changing the init scheme never changes which examples are visited, and the
# order of epoch e is a pure function of (seed, e): nothing else needs to be saved.
# Epoch e's order is permutation number e mod 16 drawn from the generator of
# [seed, 1, e // 16]: one generator serves 16 epochs in a row (seeding one costs
# three times as much as drawing a permutation), and any epoch is a few draws away.
_INIT_STREAM = 0
_ORDER_STREAM = 1
_EPOCHS_PER_GENERATOR = 16
# The rows of up to that many epochs are gathered at once, in visiting order, into one
# array of at most this many bytes: a batch across an epoch boundary inside it is a
# slice, and a new epoch costs its permutation and nothing else.
_BLOCK_BYTES = 1 << 17  # 128 KiB: 16 epochs of a 200-point 2-D set (6.5 KB each)
_KERNELS_KEPT = 2  # batch sizes whose buffers a network keeps (the set B, and one more)


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


class State(NamedTuple):
    """The whole mutable state of a run: restore it and the run continues identically."""

    weights: tuple[Array, ...]
    step: int = 0
    epoch: int = 0  # completed passes over the training set
    position: int = 0  # examples of the current epoch already used


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


def _quiet_switch():
    """(set, reset, value) of the context variable behind ``np.errstate``, or a fallback.

    ``with np.errstate(all="ignore")`` costs about a microsecond to enter and leave, a
    tenth of a small network's whole step. All it does is set one context variable
    (NumPy's own, private): ``step`` sets that variable to the value ``errstate`` gives
    it, for a quarter of the cost — checked here to silence NumPy, else ``errstate``.
    """
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var

        with np.errstate(all="ignore"):
            quiet = var.get()
        token = var.set(quiet)
        try:
            works = set(np.geterr().values()) == {"ignore"}
        finally:
            var.reset(token)
        if works:
            return var.set, var.reset, quiet
    except (ImportError, AttributeError, LookupError, TypeError, ValueError):
        pass

    def enter(_):
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    return enter, lambda state: state.__exit__(None, None, None), None


# _quiet(_QUIET) silences NumPy's floating-point warnings until _loud(its result).
_quiet, _loud, _QUIET = _quiet_switch()


def _refusal(error: float, sums: Array, eta: float) -> str:
    """Why a step was refused: η (the numbers were finite up to η G) or the weights."""
    finite = math.isfinite(error + float(sums.sum()))
    return (DIVERGED_MESSAGE if finite else EXPLODED_MESSAGE).format(eta=eta)


def augment(x: Array) -> Array:
    """[1, x_1, …, x_d] for every row: the bias unit x_0 = 1 in column 0."""
    xa = np.empty((x.shape[0], x.shape[1] + 1))
    xa[:, 0] = 1.0
    xa[:, 1:] = x
    return xa


# The hot path's constructors: State(…) and StepTrace.of_step(…) without the calls around them.
_new_tuple = tuple.__new__
_step_trace = StepTrace._of


class _Scratch:
    """``propagate`` buffers for ``metrics``, shared by every network of one shape and
    data size: a server stepping many sessions (metrics after each step) then writes
    one set that stays in cache, not one per session (for 2-8-8-1 on 200 points, ~75
    KB each). Held by those networks; gone with the last of them (weak values)."""

    __slots__ = ("lock", "buffers", "__weakref__")

    def __init__(self, buffers) -> None:
        self.lock = threading.Lock()  # one user at a time; others make their own
        self.buffers = buffers


_SCRATCH: weakref.WeakValueDictionary[tuple, _Scratch] = weakref.WeakValueDictionary()


def _scratch_for(net: Network, n: int) -> _Scratch:
    key = (net.config.layers, n)
    scratch = _SCRATCH.get(key)
    if scratch is None:  # two threads may both get here: then each keeps its own
        scratch = _SCRATCH[key] = _Scratch(net._buffers(n))
    return scratch


def _readonly(a: Array) -> Array:
    a.flags.writeable = False
    return a


class Network:
    """An MLP, its training data and its SGD state.

    Steps reuse buffers kept per batch size (``core.Kernel``): step one network from one
    thread at a time (the API holds a lock per session). What a step hands out is
    never written again, so traces and weights may be read from any thread.

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
        # The training set as rows [1, x, y]: the bias unit, the input, the target in
        # the loss's encoding (the layout of a step's first block, see ``core``).
        y = encode_labels(dataset.y_train, self.encoding)
        self._rows_train = _readonly(np.column_stack([augment(dataset.x_train), y]))
        self._xa_train = self._rows_train[:, :-1]  # augmented x(0)
        self.n_train: int = self._rows_train.shape[0]  # training examples
        self._y_train = self._rows_train[:, -1]
        self._forget_orders()
        self._order_rng: tuple[np.random.Generator | None, tuple, int] = (None, (), 0)
        self._evaluation: tuple | None = None  # train + test data and buffers, for metrics()
        self._kernels: dict[int, Kernel] = {}  # per batch size
        self._eta: tuple[float | None, Array] = (None, np.array(0.0))
        if weights is None:
            weights = self.initial_weights()
        self.state = State(self.check_weights(weights))

    # ----------------------------------------------------------------- state
    @property
    def weights(self) -> tuple[Array, ...]:
        return self.state.weights

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
        self.state = self.state._replace(weights=self.check_weights(weights))

    def reset(self, seed: int | None = None) -> None:
        """Back to step 0 with freshly drawn weights (same seed unless one is given)."""
        if seed is not None and seed != self.config.seed:
            self.config = replace(self.config, seed=seed)
            self._forget_orders()  # those of the old seed
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
        return self._epoch(epoch)[1]

    def _forget_orders(self) -> None:
        # A block of consecutive epochs (first, their orders, their rows in visiting
        # order, one after the other) and the current epoch: its order and rows in it.
        rows = self._rows_train
        self._epoch_cache: tuple[int, Array, Array] = (-1, np.empty(0, np.intp), rows[:0])
        self._block: tuple[int, Array, Array] = (-1, np.empty((0, 0), np.intp), rows[:0])

    def _epoch(self, epoch: int) -> tuple[int, Array, Array]:
        """(epoch, its order, the training rows in that order): batches are slices."""
        cached = self._epoch_cache
        if cached[0] != epoch:
            first, orders, rows = self._block
            j = epoch - first
            if not 0 <= j < len(orders):
                first, orders, rows = self._block = self._new_block(epoch)
                j = 0
            n = self.n_train
            cached = self._epoch_cache = (epoch, orders[j], rows[j * n : (j + 1) * n])
        return cached

    def _new_block(self, epoch: int) -> tuple[int, Array, Array]:
        """Epochs ``epoch`` … (up to the last of its generator's): (epoch, their orders,
        read-only, one per row, and their training rows in visiting order, one array)."""
        key = (self.config.seed, epoch // _EPOCHS_PER_GENERATOR)
        rng, rng_key, drawn = self._order_rng
        want, n = epoch % _EPOCHS_PER_GENERATOR, self.n_train
        if rng_key != key or drawn > want:
            rng, drawn = np.random.default_rng([key[0], _ORDER_STREAM, key[1]]), 0
        for _ in range(want - drawn):  # the orders of earlier epochs of this generator
            rng.permutation(n)
        fit = _BLOCK_BYTES // max(self._rows_train.nbytes, 1)
        count = max(1, min(_EPOCHS_PER_GENERATOR - want, fit))
        orders = np.empty((count, n), dtype=np.intp)
        for order in orders:
            order[...] = rng.permutation(n)
        self._order_rng = (rng, key, want + count)
        rows = np.take(self._rows_train, orders.reshape(-1), axis=0)  # only ever copied from
        return epoch, _readonly(orders), rows

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
    def propagate(self, xa0: Array, weights: tuple[Array, ...] | None = None, into=None):
        """Forward pass from augmented inputs: (s(1…L), augmented x(0…L−1), x(L)), each
        N × d (views).

        Computed with the examples in columns, s(l)ᵀ = W(l)ᵀ x(l−1)ᵀ into d(l) × N
        buffers, so that θ writes each layer's x as one contiguous block (rows 1 … d(l)
        of the augmented buffer; row 0 holds the bias unit): a third faster for a
        training set than writing columns 1 … d(l) of N rows (``metrics`` runs after
        every API step). ``into``: buffers from ``_buffers(N)`` to write into.
        """
        weights = self.state.weights if weights is None else weights
        hidden, last = self._hidden, len(weights) - 1
        s_t, xa_t, out_t = into or self._buffers(xa0.shape[0])
        a = xa0.T
        for l, w in enumerate(weights):
            s = np.dot(w.T, a, out=s_t[l])  # s(l)ᵀ = W(l)ᵀ x(l-1)ᵀ, bias via x_0 = 1
            if l == last:
                out = self._out.forward(s.T, out_t.T)
            else:
                a = xa_t[l]
                hidden.forward(s, a[1:])
        return [s.T for s in s_t], [xa0] + [a.T for a in xa_t], out

    def _buffers(self, n: int) -> tuple[list[Array], list[Array], Array]:
        """Arrays for ``propagate`` over n examples, examples in columns: s(1…L)ᵀ,
        augmented x(1…L−1)ᵀ (row 0: the bias unit) and x(L)ᵀ."""
        d = self.config.layers
        xa = [np.empty((k + 1, n)) for k in d[1:-1]]
        for a in xa:
            a[0] = 1.0
        return [np.empty((k, n)) for k in d[1:]], xa, np.empty((d[-1], n))

    def kernel(self, batch_size: int) -> Kernel:
        """The step arithmetic for ``batch_size`` examples, on buffers kept for the next call."""
        k = self._kernels.get(batch_size)
        if k is None:
            if len(self._kernels) >= _KERNELS_KEPT:
                self._kernels.pop(next(iter(self._kernels)))
            layout = Layout(self.config.layers, batch_size, self._hidden, self._out)
            k = self._kernels[batch_size] = Kernel(layout, self._loss)
        if k.weights is not self.state.weights:
            k.load(self.state.weights)
        return k

    def _batch(self, indices) -> tuple[Array, Array, int, int]:
        """The next step's example indices, their rows, and the (epoch, position) after it."""
        st = self.state
        if indices is not None:
            idx = self._check_indices(indices)
            return idx, self._rows_train[idx], st.epoch, st.position
        B, pos, epoch = self.config.batch_size, st.position, st.epoch
        if pos + B <= self.n_train:  # the common case: a slice of this epoch's rows
            cached = self._epoch_cache
            _, order, rows = cached if cached[0] == epoch else self._epoch(epoch)
            return order[pos : pos + B], rows[pos : pos + B], epoch, pos + B
        return self._straddle(B, epoch, pos)

    def _straddle(
        self, B: int, epoch: int, pos: int, indices: bool = True
    ) -> tuple[Array | None, Array, int, int]:
        """A batch that runs past the end of ``epoch``: its indices (None unless
        ``indices``), its rows and the (epoch, position) after it — the tail of this
        epoch's rows, then the head of the next one's (no gather from the training set)."""
        n = self.n_train
        if n < B:  # more than one epoch boundary: take it index by index
            idx, epoch, pos = self._next_indices(B, epoch, pos)
            return _readonly(idx), self._rows_train[idx], epoch, pos
        first, orders, block = self._block
        j = epoch - first
        if 0 <= j < len(orders) - 1:  # this epoch and the next are in the block: a slice
            at, take = j * n + pos, pos + B - n
            idx = orders.reshape(-1)[at : at + B] if indices else None
            self._epoch(epoch + 1)  # the next step's epoch, at hand for its slice
            return idx, block[at : at + B], epoch + 1, take
        _, order, rows = self._epoch(epoch)
        tail_idx, tail_rows, take = order[pos:], rows[pos:], pos + B - n
        _, order, rows = self._epoch(epoch + 1)
        if take == B:  # this epoch is used up: the next one's first rows
            return order[:B], rows[:B], epoch + 1, B
        idx = _readonly(np.concatenate((tail_idx, order[:take]))) if indices else None
        return idx, np.concatenate((tail_rows, rows[:take])), epoch + 1, take

    def _neg_eta(self) -> Array:
        eta = self.config.learning_rate
        if self._eta[0] != eta:
            self._eta = (eta, np.array(-eta))
        return self._eta[1]

    def begin(self, indices=None) -> Forward:
        """Phase 1: pick the mini-batch (or take ``indices``) and go forward. No state changes."""
        idx, rows, epoch, pos = self._batch(indices)
        k = self.kernel(len(idx))
        with np.errstate(all="ignore"):
            err = k.forward(rows)
            finite = math.isfinite(err + float(k.layout.span(k.work, "s").sum()))
        fwd = Forward._of(self.state.step + 1, idx, err, epoch, pos, k.capture(), finite)
        k.holder = fwd
        return fwd

    def backward(self, fwd: Forward) -> Backward:
        """Phase 2: δ(l) of every layer and the gradient G(l). No state changes."""
        k = self.kernel(fwd.frame.layout.batch)
        if k.holder is not fwd:
            k.restore(fwd.frame)
        with np.errstate(all="ignore"):
            k.backward()
        bwd = Backward._of(fwd, k.capture())
        k.holder = bwd
        return bwd

    def apply(self, fwd: Forward, bwd: Backward) -> StepTrace:
        """Phase 3: W(l) ← W(l) − η G(l) for every layer; refused if not all finite."""
        if bwd.forward is not fwd:
            raise ValueError("this backward pass belongs to another forward pass")
        k = self.kernel(fwd.frame.layout.batch)
        if k.holder is not bwd:
            k.restore(bwd.frame)
        k.holder = None
        with np.errstate(all="ignore"):
            return self._update(k, fwd.indices, fwd.error, fwd.epoch_after, fwd.position_after)

    def step(self, indices=None) -> StepTrace:
        """One SGD iteration: forward, backward, update."""
        st, B = self.state, self.config.batch_size
        pos, epoch, cached = st.position, st.epoch, self._epoch_cache
        if indices is None and pos + B <= self.n_train and cached[0] == epoch:
            # _batch()'s common case and kernel()'s, inline: a slice of this epoch
            _, order, rows = cached
            idx, rows, pos = order[pos : pos + B], rows[pos : pos + B], pos + B
        else:
            idx, rows, epoch, pos = self._batch(indices)
            B = len(idx)
        k = self._kernels.get(B)
        if k is None or k.weights is not st.weights:
            k = self.kernel(B)
        k.holder = None
        token = _quiet(_QUIET)  # as np.errstate(all="ignore"), but cheaper
        try:
            err = k.forward(rows)
            k.backward()
            return self._update(k, idx, err, epoch, pos)
        finally:
            _loud(token)

    def _update(self, k: Kernel, idx: Array, err: float, epoch: int, pos: int) -> StepTrace:
        """Phase 3 on the kernel's numbers: keep them as a trace, or refuse the step.

        Called with NumPy's floating-point warnings off (``np.errstate`` or ``_quiet``).
        """
        eta = self.config.learning_rate
        total = err + k.update(self._neg_eta())
        if not math.isfinite(total):
            msg = _refusal(err, k.sums, eta)
            frame = k.capture()
            return StepTrace(
                self.state.step,
                idx,
                frame.numbers()["input"],
                frame.numbers()["target"],
                err,
                eta,
                True,
                msg,
            )
        weights, frame = k.accept()
        step = self.state.step + 1
        self.state = _new_tuple(State, (weights, step, epoch, pos))  # State(…), faster
        return _step_trace(step, idx, None, None, err, eta, False, "", weights, frame)

    def run(self, steps: int) -> RunRecord:
        """Fast-forward ``steps`` iterations, recording error, ‖G(l)‖_F and mean |δ(l)|.

        The same kernel as ``step`` (the weights agree bit for bit), without copying
        the numbers of each step. Stops early (``diverged``) before the first step that
        would not be finite. Call it in chunks to report progress and to stop.
        """
        B, L = self.config.batch_size, self.config.depth
        k = self.kernel(B)
        k.holder = k.weights = None  # until the end: W is only in the kernel meanwhile
        neg_eta, eta = self._neg_eta(), self.config.learning_rate
        first = self.state.step + 1
        epoch, pos, n = self.state.epoch, self.state.position, self.n_train
        rows = self._epoch(epoch)[2]
        message = ""
        passes, k_sums, parity = k._passes, k.sums, k.parity
        forward, backward, update = passes[parity]
        straddle, isfinite, epoch_next = self._straddle, math.isfinite, epoch
        # Per step, e and a snapshot of the sums' bytes go on lists (cheaper than
        # writing rows of preallocated arrays); one array of each at the end.
        errors, kept = [], []
        keep_error, keep_sums, snapshot = errors.append, kept.append, k_sums.tobytes
        with np.errstate(all="ignore"):
            for _ in range(steps):
                if pos + B <= n:  # the common case, inline
                    batch, pos_next = rows[pos : pos + B], pos + B
                else:
                    _, batch, epoch_next, pos_next = straddle(B, epoch, pos, False)
                    rows = self._epoch(epoch_next)[2]
                e = forward(batch)
                backward()
                if not isfinite(e + update(neg_eta)):
                    message = _refusal(e, k_sums, eta)
                    break
                keep_error(e)
                keep_sums(snapshot())
                parity ^= 1
                forward, backward, update = passes[parity]
                epoch, pos = epoch_next, pos_next
        k.parity = parity  # (an exception above leaves k.weights None: the next step loads)
        k.bind()  # the phases of the parity the loop left
        done = len(errors)
        if done:
            self.state = State(k.current_weights(), self.state.step + done, epoch, pos)
        k.weights = self.state.weights
        sums = np.frombuffer(b"".join(kept)).reshape(done, 2 * L)
        return RunRecord(
            np.arange(first, first + done),
            np.array(errors, dtype=np.float64),
            np.sqrt(sums[:, L:]),
            sums[:, :L] / k.layout.unit_counts,
            bool(message),
            message,
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
        return float(np.mean(self._correct(out, y_raw)))

    def _correct(self, out: Array, y_raw: Array) -> Array:
        """Per example, whether the output picks the right class."""
        if self.encoding == INDEX:
            return out.argmax(axis=1) == y_raw
        # The decision threshold: the middle of the output's range.
        return (out[:, 0] > (0.5 if self.encoding == ZERO_ONE else 0.0)) == (y_raw == 1)

    def metrics(self) -> dict[str, float | None]:
        """Error and accuracy on the training and test sets for the current weights.

        One forward pass over both sets, in buffers kept for the next call (the API
        reports these after every step).
        """
        ev = self._evaluation
        if ev is None:
            d = self.dataset
            y_raw = _readonly(np.concatenate([d.y_train, d.y_test]))
            targets = _readonly(encode_labels(y_raw, self.encoding))
            xa0 = _readonly(augment(np.concatenate([d.x_train, d.x_test])))
            n, total = d.x_train.shape[0], len(y_raw)
            # reduceat over [0, n) and [n, total): train and test in one call each.
            starts = np.array([0, n] if 0 < n < total else [0], dtype=np.intp)
            scratch = _scratch_for(self, total)
            ev = self._evaluation = (xa0, targets, y_raw, starts, scratch, n, total)
        xa0, targets, y_raw, starts, scratch, n, total = ev
        # The shared buffers serve one caller at a time; a second thread meanwhile (say,
        # a report being written while a page asks for the state) gets fresh ones.
        mine = scratch.lock.acquire(blocking=False)
        token = _quiet(_QUIET)  # np.errstate(all="ignore"), cheaper: called every step
        try:
            s, _, out = self.propagate(xa0, into=scratch.buffers if mine else None)
            errors = np.add.reduceat(self._loss.error(s[-1], out, targets), starts).tolist()
            if self.encoding != REAL:
                correct = self._correct(out, y_raw)
                right = np.add.reduceat(correct, starts, dtype=np.intp).tolist()
        finally:
            _loud(token)
            if mine:
                scratch.lock.release()
        sizes = [n, total - n] if len(starts) == 2 else [total]  # the training set is never empty
        errs = [e / k for e, k in zip(errors, sizes, strict=True)]
        if self.encoding == REAL:
            accs = [None] * len(sizes)
        else:
            accs = [r / k for r, k in zip(right, sizes, strict=True)]
        test_err, test_acc = (errs[-1], accs[-1]) if total > n else (None, None)
        return {
            "train_error": errs[0],
            "train_accuracy": accs[0],
            "test_error": test_err,
            "test_accuracy": test_acc,
        }
