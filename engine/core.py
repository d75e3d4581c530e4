"""The arithmetic of one SGD step, on buffers allocated once per batch size.

A ``Kernel`` holds every number of one step for one network and one batch size B in
a single flat float64 buffer, carved once into per-layer views (the ``Layout``):

    W_B | s(1 … L) | Σ|δ(l)|, ΣG(l)² | [1, x(0), y] | x(1 … L−1) augmented | x(L)
    | δ(1 … L) | G(1 … L) | W_A

(for small layers W_A | W_B | s … G: see below).

The [1, x(0), y] block is one row per example — the bias unit, the input and the
target — the same rows as the network keeps its training set in, so picking a
mini-batch is one copy (of consecutive rows, as the network keeps each epoch's rows in
visiting order). Its first d(0) + 1 columns are the augmented x(0).

From s to G is the step's *trace*: copying that one span is all it takes to keep the
step's numbers (``Network.step``); not copying it is fast-forward (``Network.run``).
Both run the same three functions below, so they agree bit for bit. ΔW = −η G is left
out of the trace: one multiplication, it is recomputed from G and η (to the same bits)
when asked for, and W + ΔW is kept as the new weights anyway.

W(l) lives twice, in W_A and W_B: a step reads one and writes W + ΔW into the other,
and the two swap roles once the step is accepted, so a refused step leaves the
weights as they were without copying them. The new weights and the trace are one
span, so an accepted step is kept with one copy: for large layers the two weight
buffers lie on either side of the trace; for small ones both lie before it (the copy
then holds the old weights as well when the new ones are in W_A, a few numbers more,
and W + ΔW, s and the sums are one span to check in one dot for either buffer). Each
step is

    forward   [1, x(0), y] ← the batch's rows, s(l) = x(l−1) W(l), x(l) = θ(s(l)); e and δ(L)
              (for tanh and sigmoid, θ' of all hidden layers in one pass over their x,
              kept outside the trace; one example and one output: e and δ(L) of the
              squared error in Python floats — the same operations, so the same bits)
    backward  δ(l−1) = θ'(s(l−1)) ⊙ δ(l) W(l)ᵀ (bias row left out), G(l) = x(l−1)ᵀ δ(l) / B,
              Σ|δ(l)| and ΣG(l)² for every layer (one ``reduceat`` for both; for large
              layers, ΣG(l)² is one dot per layer instead)
    update    ΔW = −η G, written straight into the new weights' buffer, and W + ΔW
              added onto it, for all layers at once; returns a sum that is finite
              exactly when every number of the step is: s, the sums (non-finite δ or G
              make them so) and W + ΔW. For large layers W + ΔW is not summed: a running
              bound on max |W| proves it finite (see ``_bound``) until the bound grows
              past ``_BOUND_LIMIT``, and only then are the new weights summed as well

with all per-layer argument tuples built once, so a step is a short run of NumPy
calls writing into given arrays and nothing else (the output array is passed by
position: a keyword costs a few per cent of a small call).
"""

from __future__ import annotations

import math

import numpy as np

from .activations import Activation, _ones, _sigmoid_prime, _tanh_prime
from .losses import Loss, _squared_output

Array = np.ndarray

# Kinds of per-layer arrays, in buffer order; the trace is "s" … "grad". Parity 0 reads
# w0 and writes w1. Large layers: W_B = w1 before the trace, W_A = w0 after it. Small
# layers: both before it (w0 | w1 | trace), so that the new weights, s and the sums are
# one span for either parity (see ``Kernel._build``).
TRACE_KINDS = ("s", "sums", "rows", "xa", "out", "delta", "grad")
WEIGHT_KINDS = ("w0", "w1")
KINDS = ("w1",) + TRACE_KINDS + ("w0",)
KINDS_SMALL = WEIGHT_KINDS + TRACE_KINDS
# Above this many weights per layer (on average), ΣG(l)² is one dot per layer rather
# than squaring G into a scratch buffer and summing by reduceat: fewer passes over G.
_DOT_SUMS_ABOVE = 512
# Weights whose bound (see ``_bound``) stays below this are finite without looking.
_BOUND_LIMIT = 1e300


def _bound(m: float, eta: float, grad_sums: float) -> float:
    """A bound on max |W + ΔW| from m >= max |W| and Σ_l ΣG(l)² (as computed).

    Every |G_ij| <= ‖G‖_F <= √(Σ_l ΣG(l)²), up to the rounding of those sums (a relative
    error far below 10⁻³), so |fl(−η G_ij)| <= 1.001 η √(grad_sums), and
    |fl(W_ij + ΔW_ij)| <= (m + that)(1 + 2⁻⁵³); the factor 1 + 2⁻⁵⁰ covers that and the
    rounding of this very formula. NaN in, NaN out (which is never below a limit).
    """
    return (m + eta * math.sqrt(grad_sums) * 1.001) * (1.0 + 2.0**-50)


# θ' that read x = θ(s) alone (not s): one call can do many layers at once.
_X_PRIMES = (_tanh_prime, _sigmoid_prime)
# θ'(s) from x = θ(s) for one number, operation for operation as the activations'
# derivative_into computes it on arrays (so to the same bits).
_SCALAR_PRIMES = {
    _tanh_prime: lambda x: 1.0 - x * x,
    _sigmoid_prime: lambda x: x * (1.0 - x),
    _ones: lambda x: 1.0,
}


def _viewer(slots):
    """flat -> the per-layer views ``flat[a:b].reshape(shape)`` for ``slots``, written out
    for up to three layers (a loop and its list cost a quarter µs per step)."""
    if len(slots) == 1:
        ((a, b, s),) = slots
        return lambda flat: (flat[a:b].reshape(s),)
    if len(slots) == 2:
        (a, b, s), (c, d, t) = slots
        return lambda flat: (flat[a:b].reshape(s), flat[c:d].reshape(t))
    if len(slots) == 3:
        (a, b, s), (c, d, t), (e, f, u) = slots
        return lambda flat: (flat[a:b].reshape(s), flat[c:d].reshape(t), flat[e:f].reshape(u))
    return lambda flat: tuple([flat[a:b].reshape(shape) for a, b, shape in slots])


def _max_abs(a: Array) -> float:
    return max(float(a.max()), -float(a.min()))


def _frozen(a: Array) -> Array:
    """A copy that cannot be written: its memory is an immutable ``bytes`` object (which
    is also faster to make than ``copy()`` and clearing the writeable flag)."""
    return np.frombuffer(a.tobytes())


class Layout:
    """Where each number of one step lives in a flat buffer (layer sizes d, batch size B)."""

    def __init__(
        self, layers: tuple[int, ...], batch: int, hidden: Activation, output: Activation
    ) -> None:
        d, L, B = layers, len(layers) - 1, batch
        self.layers, self.depth, self.batch = layers, L, B
        self.hidden, self.output = hidden, output  # for the saturation of a trace
        weights = [(d[l - 1] + 1, d[l]) for l in range(1, L + 1)]
        units = [(B, d[l]) for l in range(1, L + 1)]
        shapes = {
            "rows": [(B, d[0] + 2)],  # [1, x(0), y]
            "xa": [(B, d[l] + 1) for l in range(1, L)],  # x(1 … L−1) with the bias unit
            "out": [(B, d[L])],
            "delta": units,
            "grad": weights,
            "s": units,
            "sums": [(1, 2 * L)],
            "w0": weights,
            "w1": weights,
        }
        self.slots: dict[str, list[tuple[int, int, tuple[int, int]]]] = {}
        self.spans: dict[str, tuple[int, int]] = {}
        # Large layers: ΣG(l)² by dots, W + ΔW proved finite by a bound (see Kernel).
        self.large = sum(a * b for a, b in weights) > _DOT_SUMS_ABOVE * L
        at = 0
        for kind in KINDS if self.large else KINDS_SMALL:
            start = at
            self.slots[kind] = []
            for shape in shapes[kind]:
                n = shape[0] * shape[1]
                self.slots[kind].append((at, at + n, shape))
                at += n
            self.spans[kind] = (start, at)
        self.trace = (self.spans[TRACE_KINDS[0]][0], self.spans[TRACE_KINDS[-1]][1])
        # For the saturation of hidden layers from the span of their augmented x.
        xa0 = self.spans["xa"][0]
        self.xa_starts = np.array([a - xa0 for a, _, _ in self.slots["xa"]], dtype=np.intp)
        # When θ and the output's activation saturate alike, x(1 … L) are one span (the
        # hidden layers' augmented x, then x(L)): one mask and one reduceat for all.
        self.same_saturation = hidden.saturated is output.saturated
        self.x_starts = np.append(self.xa_starts, self.spans["out"][0] - xa0)
        self.bias_saturated = B * int(hidden.saturated(np.ones(1))[0])
        self.size = at
        self.unit_counts = np.array([B * n for n in layers[1:]], dtype=np.float64)
        self.unit_count_list = self.unit_counts.tolist()
        self.hidden_counts = [B * n for n in layers[1:-1]]

    def carve(self, buf: Array, kind: str, base: int = 0) -> tuple[Array, ...]:
        """Per-layer views of ``kind`` in ``buf``, whose element 0 is offset ``base``."""
        return tuple([buf[a - base : b - base].reshape(shape) for a, b, shape in self.slots[kind]])

    def carve_trace(self, buf: Array) -> dict[str, tuple[Array, ...]]:
        """Per-layer views of every trace kind in ``buf``, a copy of the trace span."""
        return {kind: self.carve(buf, kind, self.trace[0]) for kind in TRACE_KINDS}

    def augmented_x(self, buf: Array, base: int = 0) -> tuple[Array, ...]:
        """x(0 … L−1), each with the bias unit x_0 = 1 in column 0."""
        rows = self.carve(buf, "rows", base)[0]
        return (rows[:, : self.layers[0] + 1],) + self.carve(buf, "xa", base)

    def span(self, buf: Array, kind: str, base: int = 0) -> Array:
        """The flat span of ``kind`` in ``buf``, whose element 0 is offset ``base``."""
        a, b = self.spans[kind]
        return buf[a - base : b - base]


class Frame:
    """A read-only flat buffer of one step's numbers and the layout to read it with.

    The per-layer arrays are views of the buffer, all made at the first request
    (``numbers()``); derived figures are computed from them once, when first asked.
    """

    __slots__ = ("buf", "layout", "_numbers", "_derived")

    def __init__(self, buf: Array, layout: Layout) -> None:
        self.buf, self.layout, self._numbers, self._derived = buf, layout, None, {}

    def numbers(self) -> dict[str, tuple[Array, ...] | Array]:
        """Per-layer views by kind: s, delta, grad, xa (x(0 … L−1) augmented), x (1 … L),
        and input, target, sums."""
        got = self._numbers
        if got is None:
            lay, buf = self.layout, self.buf
            got = lay.carve_trace(buf)
            rows, xa_hidden = got["rows"][0], got["xa"]
            got["xa"] = (rows[:, :-1],) + xa_hidden
            got["x"] = tuple([a[:, 1:] for a in xa_hidden]) + got["out"]
            got["input"], got["target"] = rows[:, 1:-1], rows[:, -1]
            got["sums"] = got["sums"][0][0]
            self._numbers = got
        return got

    def _span(self, kind: str) -> Array:
        """The flat span of ``kind`` (without making per-layer views)."""
        return self.layout.span(self.buf, kind, self.layout.trace[0])

    def sums(self) -> Array:
        """Σ|δ(l)| for l = 1 … L, then ΣG(l)²."""
        return self._span("sums")

    def update(self, learning_rate: float) -> tuple[Array, ...]:
        """ΔW(l) = −η G(l), the same product the kernel formed (so the same bits)."""
        got = self._derived.get("update")
        if got is None:
            flat = np.multiply(self._span("grad"), -learning_rate)
            flat.flags.writeable = False
            lay = self.layout
            got = self._derived["update"] = lay.carve(flat, "grad", lay.spans["grad"][0])
        return got

    def grad_norm(self) -> tuple[float, ...]:
        """‖G(l)‖_F = √(Σ G_ij(l)²)."""
        got = self._derived.get("grad_norm")
        if got is None:
            L = self.layout.depth
            # On Python floats: a handful of numbers, and math.sqrt rounds as np.sqrt does
            # (IEEE), so these are the bits fast-forward's vectorised sqrt gives.
            sums = self.sums()[L:].tolist()
            got = self._derived["grad_norm"] = tuple([math.sqrt(g) for g in sums])
        return got

    def delta_mean_abs(self) -> tuple[float, ...]:
        """Mean over the batch and the units of |δ_j(l)|."""
        got = self._derived.get("delta_mean_abs")
        if got is None:
            lay = self.layout
            sums = self.sums()[: lay.depth].tolist()
            counts = lay.unit_count_list
            got = tuple([a / n for a, n in zip(sums, counts, strict=True)])  # IEEE, as NumPy
            self._derived["delta_mean_abs"] = got
        return got

    def saturation(self) -> tuple[float, ...]:
        """Per layer, the fraction of the B × d(l) values of x(l) in θ's flat region.

        The hidden layers' x are one span of the buffer (with their bias columns,
        which are taken out of the count): one mask and one ``reduceat`` for all.
        """
        got = self._derived.get("saturation")
        if got is None:
            lay = self.layout
            bias = lay.bias_saturated  # the bias units x_0 = 1, one per example
            sizes = lay.hidden_counts
            if lay.depth > 1 and lay.same_saturation:
                xa0, end = lay.spans["xa"][0], lay.spans["out"][1]
                base = lay.trace[0]
                flagged = lay.hidden.saturated(self.buf[xa0 - base : end - base])
                *counts, last = np.add.reduceat(flagged, lay.x_starts, dtype=np.intp).tolist()
                got = tuple([(c - bias) / n for c, n in zip(counts, sizes, strict=True)])
                got += (last / (lay.batch * lay.layers[-1]),)
            else:
                out = self._span("out")
                last = int(np.count_nonzero(lay.output.saturated(out))) / out.size
                if lay.depth == 1:
                    got = (last,)
                else:
                    flagged = lay.hidden.saturated(self._span("xa"))
                    counts = np.add.reduceat(flagged, lay.xa_starts, dtype=np.intp).tolist()
                    got = tuple([(c - bias) / n for c, n in zip(counts, sizes, strict=True)])
                    got += (last,)
            self._derived["saturation"] = got
        return got


class Kernel:
    """One network's SGD step for one batch size, on its own preallocated buffers.

    ``forward(rows)``, ``backward()`` and ``update(neg_eta)`` are the step's three
    phases (see the module docstring); ``accept()`` makes W + ΔW the current weights.
    ``weights`` is the tuple of weights whose values the kernel currently reads (the
    network compares it with its own by identity and ``load``s when they differ).
    """

    def __init__(self, layout: Layout, loss: Loss) -> None:
        self.layout = lay = layout
        self.work = work = np.zeros(lay.size)
        self.views = {kind: lay.carve(work, kind) for kind in KINDS}
        for xa in self.views["xa"]:
            xa[:, 0] = 1.0  # the bias unit x_0 = 1, never written again
        t0, t1 = lay.trace
        self.trace_span = work[t0:t1]
        self.sums = self.views["sums"][0][0]
        self._loss = loss
        self._w_flat = tuple(lay.span(work, kind) for kind in WEIGHT_KINDS)
        base = lay.spans["w0"][0]
        self._w_views = _viewer([(a - base, b - base, shape) for a, b, shape in lay.slots["w0"]])
        # What an accepted step keeps, by the parity of the buffer holding its new
        # weights: the one span of those weights and the trace (large layers:
        # [W_B | trace] or [trace | W_A]; small: [W_B | trace] or [W_A | W_B | trace]),
        # the views of the weights in its copy and where the trace lies in it.
        self._keep = []
        for kind in WEIGHT_KINDS:
            a, b = lay.spans[kind]
            lo, hi = min(a, t0), max(b, t1)
            slots = tuple([(x - lo, y - lo, shape) for x, y, shape in lay.slots[kind]])
            self._keep.append((work[lo:hi], _viewer(slots), t0 - lo, t1 - lo))
        self._scratch_out = tuple(np.empty((lay.batch, lay.layers[-1])) for _ in range(2))
        # Per weight buffer, a bound on max |W| of the weights in it (see ``_bound``).
        self.bounds = [0.0, 0.0]
        self._primes = self._span_primes(loss)
        self._passes = (self._build(0), self._build(1))
        self.parity = 0
        self.weights: tuple[Array, ...] | None = None
        self.holder: object | None = None  # the Forward/Backward whose numbers ``work`` holds
        self.bind()

    # ------------------------------------------------------------------ weights
    def w_read(self) -> tuple[Array, ...]:
        return self.views[WEIGHT_KINDS[self.parity]]

    def load(self, weights: tuple[Array, ...]) -> None:
        """Read ``weights`` from now on (the phases are bound afresh: a fast-forward
        interrupted by an exception may have left them on the other buffer)."""
        for dst, src in zip(self.w_read(), weights, strict=True):
            dst[...] = src
        self.bounds[self.parity] = _max_abs(self._w_flat[self.parity])
        self.bind()
        self.weights = weights

    def current_weights(self) -> tuple[Array, ...]:
        """The weights the next step reads, as read-only arrays of their own."""
        return self._w_views(_frozen(self._w_flat[self.parity]))

    def flip(self) -> None:
        """W + ΔW of the last update becomes the weights the next step reads."""
        self.parity ^= 1
        self.bind()

    def bind(self) -> None:
        """Point ``forward``, ``backward``, ``update`` at the phases reading ``parity``'s W
        (a fast-forward flips ``parity`` itself and binds once at the end)."""
        self.forward, self.backward, self.update = self._passes[self.parity]

    def accept(self) -> tuple[tuple[Array, ...], Frame]:
        """Take the last update: W + ΔW and the step's numbers (a ``Frame``), read-only
        and of their own — one copy of the span that holds both."""
        span, views, t0, t1 = self._keep[self.parity ^ 1]
        flat = _frozen(span)
        self.weights = weights = views(flat)
        self.parity = parity = self.parity ^ 1  # flip(), inline
        self.forward, self.backward, self.update = self._passes[parity]
        return weights, Frame(flat[t0:t1], self.layout)

    # ------------------------------------------------------------------- traces
    def capture(self) -> Frame:
        """The step's numbers (the layout's trace span), copied and read-only."""
        return Frame(_frozen(self.trace_span), self.layout)

    def restore(self, frame: Frame) -> None:
        """Put a captured step's numbers back (to continue a step phase by phase)."""
        self.trace_span[...] = frame.buf
        if self._primes is not None:  # θ' is not in the trace: from x again
            prime, x_span, t_span = self._primes[:3]
            prime(None, x_span, t_span)

    # ------------------------------------------------------------------- passes
    def _span_primes(self, loss: Loss):
        """θ' of all hidden layers in one call, for a θ' that reads x alone (tanh,
        sigmoid): over the span of their augmented x (the bias columns give θ'(1),
        unused), and of the output layer too when it has the same θ' and the squared
        error takes it from here. Elementwise, so the same bits as layer by layer.

        Returns (θ', x span, θ' span, per hidden layer its θ' view, the output's or
        None), or None when θ' goes layer by layer.
        """
        lay = self.layout
        prime, L, B = lay.hidden.derivative_into, lay.depth, lay.batch
        if L < 2 or prime not in _X_PRIMES:
            return None
        scalar = (  # the output's θ' in Python floats (see _build)
            B == 1
            and lay.layers[-1] == 1
            and loss.output is _squared_output
            and lay.output.derivative_into in _SCALAR_PRIMES
        )
        with_out = (
            not scalar and loss.output is _squared_output and lay.output.derivative_into is prime
        )
        lo, (out_lo, out_hi) = lay.spans["xa"][0], lay.spans["out"]
        x_span = self.work[lo : out_hi if with_out else out_lo]
        t_span = np.empty(x_span.size)
        hidden = tuple(
            [t_span[a - lo : b - lo].reshape(shape)[:, 1:] for a, b, shape in lay.slots["xa"]]
        )
        t_out = t_span[out_lo - lo :].reshape(B, lay.layers[-1]) if with_out else None
        return prime, x_span, t_span, hidden, t_out

    def _build(self, parity: int):
        """The three phases reading W from one of the two weight buffers."""
        lay, v = self.layout, self.views
        L, B = lay.depth, lay.batch
        hidden, output, loss = lay.hidden, lay.output, self._loss
        w_read = v[WEIGHT_KINDS[parity]]
        w_read_flat = lay.span(self.work, WEIGHT_KINDS[parity])
        w_new_flat = lay.span(self.work, WEIGHT_KINDS[1 - parity])
        xa, s, delta, g = lay.augmented_x(self.work), v["s"], v["delta"], v["grad"]
        x = [a[:, 1:] for a in xa]  # x(l) without the bias column, l = 0 … L−1
        rows, out = v["rows"][0], v["out"][0]
        y = rows[:, -1:]
        r, t = self._scratch_out

        # forward: per hidden layer (x(l-1) augmented, W(l), s(l), x(l))
        hidden_layers = tuple(zip(xa[:-1], w_read[:-1], s[:-1], x[1:], strict=True))
        xa_last, w_last, s_last = xa[-1], w_read[-1], s[-1]
        hidden_forward, output_forward, output_loss = hidden.forward, output.forward, loss.output

        dot, copyto, multiply = np.dot, np.copyto, np.multiply
        inv_b = 1.0 / B
        prime = _SCALAR_PRIMES.get(output.derivative_into)
        primes = self._primes
        if primes is not None:
            span_prime, x_span, t_span, t_hidden, t_out = primes

        def propagate(batch: Array) -> None:
            """s and x of every layer for the batch's rows [1, x(0), y] (and θ' in one pass
            when the activation allows: see _span_primes)."""
            copyto(rows, batch)
            for a, w, sl, xl in hidden_layers:
                dot(a, w, sl)
                hidden_forward(sl, xl)
            dot(xa_last, w_last, s_last)
            output_forward(s_last, out)
            if primes is not None:
                span_prime(None, x_span, t_span)

        if B == 1 and out.size == 1 and loss.output is _squared_output and prime is not None:
            # One example, one output unit, squared error: e and δ(L) are a handful of
            # operations on one number each, in Python floats — the very IEEE operations
            # the array path does (x − y, θ', r θ', × 2, r r), without five ufunc calls.
            d_last = delta[-1].reshape(-1)
            out_item, rows_item = out.item, rows.item

            def forward(batch: Array) -> float:
                """e for the one row [1, x(0), y]; fills s, x and δ(L)."""
                propagate(batch)
                x1 = out_item()
                res = x1 - rows_item(-1)  # x_1(L) − y
                d_last[0] = res * prime(x1) * 2.0  # δ_1(L) = 2 (x_1(L) − y) θ'(s_1(L))
                return res * res
        elif primes is not None and t_out is not None:
            # θ'(s(L)) came with the hidden layers': the squared error's δ(L), inline
            d_last, subtract, vdot, two = delta[-1], np.subtract, np.vdot, np.array(2.0)

            def forward(batch: Array) -> float:
                """Mean e over the batch's rows [1, x(0), y] (B of them); fills s, x and δ(L)."""
                propagate(batch)
                subtract(out, y, r)  # x(L) − y
                multiply(r, t_out, d_last)
                multiply(d_last, two, d_last)  # δ(L) = 2 (x(L) − y) θ'(s(L))
                return float(vdot(r, r)) * inv_b
        else:

            def forward(batch: Array) -> float:
                """Mean e over the batch's rows [1, x(0), y] (B of them); fills s, x and δ(L)."""
                propagate(batch)
                return output_loss(s_last, out, y, output, delta[-1], r, t) * inv_b

        # backward, layer L first: (δ(l), W(l)ᵀ without the bias row, δ(l-1), s(l-1),
        # x(l-1), a scratch for θ'(s(l-1)) — which is δ(l-1)'s own shape)
        scratch = [np.empty_like(a) for a in s]
        chain = tuple(
            (delta[l], w_read[l][1:].T, delta[l - 1], s[l - 1], x[l], scratch[l - 1])
            for l in range(L - 1, 0, -1)
        )
        if primes is not None:  # θ'(s(l-1)) from the forward pass, in place of a scratch
            chain = tuple(
                (dl, wt, dprev, None, None, t_hidden[l - 1])
                for l, (dl, wt, dprev, _, _, _) in zip(range(L - 1, 0, -1), chain, strict=True)
            )
        grads = tuple(zip([a.T for a in xa], delta, g, strict=True))
        hidden_prime = hidden.derivative_into
        g_flat = lay.span(self.work, "grad")
        d_flat = lay.span(self.work, "delta")
        sums = self.sums
        d_base, g_base = lay.spans["delta"][0], lay.spans["grad"][0]
        d_starts = [a - d_base for a, _, _ in lay.slots["delta"]]
        g_starts = [a - g_base for a, _, _ in lay.slots["grad"]]
        dot_sums = lay.large
        if dot_sums:  # |δ| summed by reduceat; ΣG(l)² = G(l)·G(l), into 0-d views of sums
            sq = np.empty(d_flat.size)
            starts = np.array(d_starts, dtype=np.intp)
            sums_out = sums[:L]
            g_dots = tuple(
                (g_flat[a - g_base : b - g_base], sums[L + l : L + l + 1].reshape(()))
                for l, (a, b, _) in enumerate(lay.slots["grad"])
            )
        else:  # |δ| and G² side by side: one reduceat sums every layer of both
            sq = np.empty(d_flat.size + g_flat.size)
            starts = np.array(d_starts + [d_flat.size + a for a in g_starts], dtype=np.intp)
            sums_out = sums
            g_dots = ()
        sq_d, sq_g = sq[: d_flat.size], sq[d_flat.size :]
        scale = B != 1  # G = xᵀδ · (1/B); with B = 1 the product would change nothing
        b_inv = np.array(inv_b)
        absolute, reduceat = np.abs, np.add.reduceat

        def backward() -> None:
            for dl, wt, dprev, sp, xp, tmp in chain:
                dot(dl, wt, dprev)  # Σ_j w_ij(l) δ_j(l), i ≥ 1
                if sp is not None:  # else θ'(s(l-1)) is in tmp already
                    hidden_prime(sp, xp, tmp)
                multiply(dprev, tmp, dprev)
            for at, dl, gl in grads:
                dot(at, dl, gl)  # Σ over the batch of x_i(l-1) δ_j(l); row 0 sums δ
            if scale:
                multiply(g_flat, b_inv, g_flat)
            absolute(d_flat, sq_d)
            if dot_sums:
                for gr, into in g_dots:
                    dot(gr, gr, into)
            else:
                multiply(g_flat, g_flat, sq_g)
            reduceat(sq, starts, 0, None, sums_out)

        # What update() sums: s, the sums and W + ΔW. Small layers: one span from the new
        # weights to the sums, which holds the old weights too when the new ones are w0
        # (they are finite: they were checked when they were made; main summed them as
        # well). Large layers: s and the sums; W + ΔW only when the bound on it is too
        # large to prove it finite (see ``_bound``).
        lo, mid = lay.spans["s"][0], lay.spans["sums"][1]
        w_new_span = lay.spans[WEIGHT_KINDS[1 - parity]]
        checked = self.work[lo:mid] if dot_sums else self.work[w_new_span[0] : mid]
        ones = np.ones(checked.size)
        ones_rest = np.ones(w_new_flat.size)
        # For the bound: one product gives the sum of s and the sums, and Σ_l ΣG(l)²
        both, pair = np.ones((2, checked.size)), np.empty(2)
        both[1, : checked.size - L] = 0.0  # ΣG(l)² are the last L numbers of the sums
        bounds, new = self.bounds, 1 - parity
        add, isfinite, bound = np.add, math.isfinite, _bound

        if not dot_sums:

            def update(neg_eta: Array) -> float:
                """ΔW = −η G and W + ΔW; the sum of s, the sums and W + ΔW (finite or not)."""
                multiply(g_flat, neg_eta, w_new_flat)
                add(w_read_flat, w_new_flat, w_new_flat)
                return dot(checked, ones)

            return forward, backward, update

        def update(neg_eta: Array) -> float:
            """ΔW = −η G and W + ΔW; a sum finite exactly when s, the sums and W + ΔW are."""
            multiply(g_flat, neg_eta, w_new_flat)
            add(w_read_flat, w_new_flat, w_new_flat)
            total, grad_sums = dot(both, checked, pair).tolist()
            m = bound(bounds[parity], -float(neg_eta), grad_sums)
            if m < _BOUND_LIMIT:  # W + ΔW finite: no need to look
                bounds[new] = m
                return total
            total = total + dot(w_new_flat, ones_rest)
            if isfinite(total):
                bounds[new] = _max_abs(w_new_flat)
            return total

        return forward, backward, update
