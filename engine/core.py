"""The arithmetic of one SGD step, on buffers allocated once per batch size.

A ``Kernel`` holds every number of one step for one network and one batch size B in
a single flat float64 buffer, carved once into per-layer views (the ``Layout``):

    ΔW(1 … L) | [1, x(0), y] | x(1 … L−1) augmented | x(L) | δ(1 … L) | G(1 … L)
    | s(1 … L) | Σ|δ(l)|, ΣG(l)² | W_A | W_B

The first block is one row per example — the bias unit, the input and the target —
the same rows as the network keeps its training set in, so picking a mini-batch is
one copy (of consecutive rows, as the network keeps each epoch's rows in visiting
order). Its first d(0) + 1 columns are the augmented x(0).

From the rows to the sums is the step's *trace*: copying that one span is all it takes
to keep the step's numbers (``Network.step``); not copying it is fast-forward
(``Network.run``). Both run the same three functions below, so they agree bit for bit.
ΔW = −η G is left out of the trace: one multiplication, it is recomputed from G and η
(to the same bits) when asked for, and W + ΔW is kept as the new weights anyway.

W(l) lives twice, in W_A and W_B: a step reads one and writes W + ΔW into the other,
and the two swap roles once the step is accepted, so a refused step leaves the
weights as they were without copying them. Each step is

    forward   [1, x(0), y] ← the batch's rows, s(l) = x(l−1) W(l), x(l) = θ(s(l)); e and δ(L)
    backward  δ(l−1) = θ'(s(l−1)) ⊙ δ(l) W(l)ᵀ (bias row left out), G(l) = x(l−1)ᵀ δ(l) / B,
              Σ|δ(l)| and ΣG(l)² for every layer (one ``reduceat`` for both; for large
              layers, ΣG(l)² is one dot per layer instead)
    update    ΔW = −η G and W + ΔW for all layers at once; returns the sum of s, the
              sums and the new W: finite exactly when every number of the step is
              (non-finite δ or G reach the new W through its bias row)

with all per-layer argument tuples built once, so a step is a short run of NumPy
calls with ``out=`` and nothing else.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .activations import Activation
from .losses import Loss

Array = np.ndarray

# Kinds of per-layer arrays, in buffer order; the trace is "rows" … "sums".
TRACE_KINDS = ("rows", "xa", "out", "delta", "grad", "s", "sums")
WEIGHT_KINDS = ("w0", "w1")
KINDS = ("update",) + TRACE_KINDS + WEIGHT_KINDS
# Above this many weights per layer (on average), ΣG(l)² is one dot per layer rather
# than squaring G into a scratch buffer and summing by reduceat: fewer passes over G.
_DOT_SUMS_ABOVE = 512


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
            "update": weights,
            "s": units,
            "sums": [(1, 2 * L)],
            "w0": weights,
            "w1": weights,
        }
        self.slots: dict[str, list[tuple[int, int, tuple[int, int]]]] = {}
        self.spans: dict[str, tuple[int, int]] = {}
        at = 0
        for kind in KINDS:
            start = at
            self.slots[kind] = []
            for shape in shapes[kind]:
                n = shape[0] * shape[1]
                self.slots[kind].append((at, at + n, shape))
                at += n
            self.spans[kind] = (start, at)
        self.trace = (self.spans["rows"][0], self.spans["sums"][1])
        # For the saturation of hidden layers from the span of their augmented x.
        xa0 = self.spans["xa"][0]
        self.xa_starts = np.array([a - xa0 for a, _, _ in self.slots["xa"]], dtype=np.intp)
        self.bias_saturated = B * int(hidden.saturated(np.ones(1))[0])
        self.size = at
        self.unit_counts = np.array([B * n for n in layers[1:]], dtype=np.float64)
        self.hidden_counts = [B * n for n in layers[1:-1]]

    @cached_property
    def row_slices(self) -> dict[str, tuple[tuple[slice, ...], ...]]:
        """Per kind, per layer, one slice per row into the flat trace span: to read a
        trace's numbers as nested lists (``StepTrace.lists``) without making arrays.

        "x" is x(1 … L) without the bias column; "input" and "target" (one slice for all
        the rows) are the parts of the [1, x(0), y] rows; "update" slices the flat ΔW,
        which has G's layout."""

        def rows(kinds, start=1, stop=0, at=self.trace[0]):
            return tuple(
                tuple(slice(i + start, i + c - stop) for i in range(a - at, b - at, c))
                for kind in kinds
                for a, b, (_, c) in self.slots[kind]
            )

        ((a, b, (_, c)),) = self.slots["rows"]
        base = self.trace[0]
        return {
            "s": rows(["s"], 0),
            "x": rows(["xa"]) + rows(["out"], 0),
            "delta": rows(["delta"], 0),
            "grad": rows(["grad"], 0),
            "update": rows(["grad"], 0, at=self.spans["grad"][0]),
            "input": rows(["rows"], 1, 1),
            "target": ((slice(a - base + c - 1, b - base, c),),),
        }

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
            got = self._derived["grad_norm"] = tuple(np.sqrt(self.sums()[L:]).tolist())
        return got

    def delta_mean_abs(self) -> tuple[float, ...]:
        """Mean over the batch and the units of |δ_j(l)|."""
        got = self._derived.get("delta_mean_abs")
        if got is None:
            lay = self.layout
            means = self.sums()[: lay.depth] / lay.unit_counts
            got = self._derived["delta_mean_abs"] = tuple(means.tolist())
        return got

    def saturation(self) -> tuple[float, ...]:
        """Per layer, the fraction of the B × d(l) values of x(l) in θ's flat region.

        The hidden layers' x are one span of the buffer (with their bias columns,
        which are taken out of the count): one mask and one ``reduceat`` for all.
        """
        got = self._derived.get("saturation")
        if got is None:
            lay = self.layout
            out = self._span("out")
            last = int(np.count_nonzero(lay.output.saturated(out))) / out.size
            if lay.depth == 1:
                got = (last,)
            else:
                flagged = lay.hidden.saturated(self._span("xa"))
                counts = np.add.reduceat(flagged, lay.xa_starts, dtype=np.intp).tolist()
                bias = lay.bias_saturated  # the bias units x_0 = 1, one per example
                sizes = lay.hidden_counts
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
        self.trace_span = work[lay.trace[0] : lay.trace[1]]
        self.sums = self.views["sums"][0][0]
        self._loss = loss
        self._w_flat = tuple(lay.span(work, kind) for kind in WEIGHT_KINDS)
        base = lay.spans["w0"][0]
        self._w_slots = [(a - base, b - base, shape) for a, b, shape in lay.slots["w0"]]
        self._scratch_out = tuple(np.empty((lay.batch, lay.layers[-1])) for _ in range(2))
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
        self.bind()
        self.weights = weights

    def _copy_weights(self, parity: int) -> tuple[Array, ...]:
        flat = _frozen(self._w_flat[parity])
        return tuple([flat[a:b].reshape(shape) for a, b, shape in self._w_slots])

    def current_weights(self) -> tuple[Array, ...]:
        """The weights the next step reads, as read-only arrays of their own."""
        return self._copy_weights(self.parity)

    def flip(self) -> None:
        """W + ΔW of the last update becomes the weights the next step reads."""
        self.parity ^= 1
        self.bind()

    def bind(self) -> None:
        """Point ``forward``, ``backward``, ``update`` at the phases reading ``parity``'s W
        (a fast-forward flips ``parity`` itself and binds once at the end)."""
        self.forward, self.backward, self.update = self._passes[self.parity]

    def accept(self) -> tuple[Array, ...]:
        """Take the last update: returns W + ΔW as read-only arrays of their own."""
        self.weights = weights = self._copy_weights(self.parity ^ 1)
        self.flip()
        return weights

    # ------------------------------------------------------------------- traces
    def capture(self) -> Frame:
        """The step's numbers (the layout's trace span), copied and read-only."""
        return Frame(_frozen(self.trace_span), self.layout)

    def restore(self, frame: Frame) -> None:
        """Put a captured step's numbers back (to continue a step phase by phase)."""
        self.trace_span[...] = frame.buf

    # ------------------------------------------------------------------- passes
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

        def forward(batch: Array) -> float:
            """Mean e over the batch's rows [1, x(0), y] (B of them); fills s, x and δ(L)."""
            copyto(rows, batch)
            for a, w, sl, xl in hidden_layers:
                dot(a, w, out=sl)
                hidden_forward(sl, xl)
            dot(xa_last, w_last, out=s_last)
            output_forward(s_last, out)
            return output_loss(s_last, out, y, output, delta[-1], r, t) * inv_b

        # backward, layer L first: (δ(l), W(l)ᵀ without the bias row, δ(l-1), s(l-1),
        # x(l-1), a scratch for θ'(s(l-1)) — which is δ(l-1)'s own shape)
        scratch = [np.empty_like(a) for a in s]
        chain = tuple(
            (delta[l], w_read[l][1:].T, delta[l - 1], s[l - 1], x[l], scratch[l - 1])
            for l in range(L - 1, 0, -1)
        )
        grads = tuple(zip([a.T for a in xa], delta, g, strict=True))
        hidden_prime = hidden.derivative_into
        g_flat = lay.span(self.work, "grad")
        d_flat = lay.span(self.work, "delta")
        sums = self.sums
        d_base, g_base = lay.spans["delta"][0], lay.spans["grad"][0]
        d_starts = [a - d_base for a, _, _ in lay.slots["delta"]]
        g_starts = [a - g_base for a, _, _ in lay.slots["grad"]]
        dot_sums = g_flat.size > _DOT_SUMS_ABOVE * L
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
                dot(dl, wt, out=dprev)  # Σ_j w_ij(l) δ_j(l), i ≥ 1
                hidden_prime(sp, xp, tmp)
                multiply(dprev, tmp, out=dprev)
            for at, dl, gl in grads:
                dot(at, dl, out=gl)  # Σ over the batch of x_i(l-1) δ_j(l); row 0 sums δ
            if scale:
                multiply(g_flat, b_inv, out=g_flat)
            absolute(d_flat, out=sq_d)
            if dot_sums:
                for gr, into in g_dots:
                    dot(gr, gr, out=into)
            else:
                multiply(g_flat, g_flat, out=sq_g)
            reduceat(sq, starts, out=sums_out)

        u_flat = lay.span(self.work, "update")
        # s, the sums and the new W: one span when the new W follows the sums (W_A) or
        # the weights are small; two when large current weights (W_A) lie in between.
        lo, mid = lay.spans["s"][0], lay.spans["sums"][1]
        w_new_span = lay.spans[WEIGHT_KINDS[1 - parity]]
        if w_new_span[0] == mid or not dot_sums:
            checked, rest = self.work[lo : w_new_span[1]], None
        else:
            checked, rest = self.work[lo:mid], w_new_flat
        ones = np.ones(checked.size)
        ones_rest = None if rest is None else np.ones(rest.size)
        add = np.add

        def update(neg_eta: Array) -> float:
            """ΔW = −η G and W + ΔW; the sum of s, the sums and W + ΔW (finite or not)."""
            multiply(g_flat, neg_eta, out=u_flat)
            add(w_read_flat, u_flat, out=w_new_flat)
            if rest is None:
                return dot(checked, ones)
            return dot(checked, ones) + dot(rest, ones_rest)

        return forward, backward, update
