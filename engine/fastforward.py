"""Fast-forward: many SGD steps in reused buffers, recording only what the charts need.

The arithmetic is the one ``Network.step`` does — the same NumPy calls in the same
order (s = x W with ``np.dot``, θ, the loss's δ(L), δ(l-1) = θ'(s) ⊙ δ(l) W(l)ᵀ,
G = xᵀ δ · (1/B), ΔW = −η G, W + ΔW) — so a fast-forwarded run and a stepped run
have bit-identical weights. What differs is bookkeeping: buffers are allocated once
per call instead of once per step, and no trace objects are built. Nothing here is
handed out: the weights leave as fresh read-only arrays when the call ends.
"""

from __future__ import annotations

import math

import numpy as np

from .losses import mean_error
from .network import DIVERGED_MESSAGE, EXPLODED_MESSAGE, Network, RunRecord, State


def fast_forward(net: Network, steps: int) -> RunRecord:
    cfg = net.config
    B, layers, L, eta = cfg.batch_size, cfg.layers, cfg.depth, cfg.learning_rate
    hidden, out_act, loss = net._hidden, net._out, net._loss
    inv_b = 1.0 / B

    # W(l) and W(l) + ΔW(l) live in two flat buffers that swap roles each step; G(l)
    # and ΔW(l) in one each. Per-layer views are made once.
    shapes = [(layers[l] + 1, layers[l + 1]) for l in range(L)]
    offsets = np.cumsum([0] + [a * b for a, b in shapes])

    def views(flat, offsets=offsets, shapes=shapes):
        return [flat[offsets[l] : offsets[l + 1]].reshape(shapes[l]) for l in range(L)]

    # s(l) and δ(l), B × d(l), also flat, so that sums over all layers are one call.
    unit_shapes = [(B, d) for d in layers[1:]]
    unit_offsets = np.cumsum([0] + [B * d for d in layers[1:]])
    unit_sizes = np.diff(unit_offsets).astype(np.float64)

    w_flat, w2_flat = np.empty(offsets[-1]), np.empty(offsets[-1])
    g_flat, u_flat = np.empty(offsets[-1]), np.empty(offsets[-1])
    w, w2, g = views(w_flat), views(w2_flat), views(g_flat)
    for dst, src in zip(w, net.state.weights, strict=True):
        dst[...] = src
    w_rows_t, w2_rows_t = [v[1:].T for v in w], [v[1:].T for v in w2]  # Σ_j w_ij δ_j, i ≥ 1
    # Augmented x(1 … L−1) with the bias column; x(0) is gathered from the data.
    xa = [np.empty((B, d + 1)) for d in layers[:-1]]
    for a in xa:
        a[:, 0] = 1.0
    x_in = [a[:, 1:] for a in xa]  # x(l) without the bias column
    xa_t = [a.T for a in xa]
    s_flat, d_flat = np.empty(unit_offsets[-1]), np.empty(unit_offsets[-1])
    s = views(s_flat, unit_offsets, unit_shapes)
    delta = views(d_flat, unit_offsets, unit_shapes)
    out = np.empty((B, layers[-1]))
    abs_d, g_sq = np.empty(unit_offsets[-1]), np.empty(offsets[-1])
    unit_starts, weight_starts = unit_offsets[:-1], offsets[:-1]
    xa_train, y_train = net._xa_train, net._y_train

    err = np.empty(steps)
    gn = np.empty((steps, L))
    dm = np.empty((steps, L))
    first = net.state.step + 1
    epoch, pos = net.state.epoch, net.state.position
    n_train, order = net.n_train, net.epoch_order(epoch)
    ones_w, ones_s, ones_l = np.ones(offsets[-1]), np.ones(unit_offsets[-1]), np.ones(L)
    done, message = 0, ""
    with np.errstate(all="ignore"):
        for k in range(steps):
            if pos + B <= n_train:  # the common case, inline
                idx = order[pos : pos + B]
                epoch_next, pos_next = epoch, pos + B
            else:
                idx, epoch_next, pos_next = net._next_indices(B, epoch, pos)
                order = net.epoch_order(epoch_next)
            xa[0] = xa_train[idx]  # a gathered copy, as in Network.step
            xa_t[0] = xa[0].T
            y = y_train[idx]
            # forward
            for l in range(L - 1):
                np.dot(xa[l], w[l], out=s[l])
                hidden.forward(s[l], x_in[l + 1])
            np.dot(xa[L - 1], w[L - 1], out=s[L - 1])
            out_act.forward(s[L - 1], out)
            e = mean_error(loss, s[L - 1], out, y)
            # backward
            delta[L - 1][...] = loss.output_delta(s[L - 1], out, y, out_act)
            for l in range(L - 1, 0, -1):
                back = np.dot(delta[l], w_rows_t[l])
                np.multiply(hidden.derivative(s[l - 1], x_in[l]), back, out=delta[l - 1])
            # gradient and its sizes: ‖G(l)‖_F and mean |δ(l)|, all layers at once
            for l in range(L):
                np.dot(xa_t[l], delta[l], out=g[l])
            g_flat *= inv_b
            np.multiply(g_flat, g_flat, out=g_sq)
            norms = np.sqrt(np.add.reduceat(g_sq, weight_starts))
            np.abs(d_flat, out=abs_d)
            means = np.add.reduceat(abs_d, unit_starts) / unit_sizes
            # update, refused unless every number is finite
            np.multiply(g_flat, -eta, out=u_flat)
            np.add(w_flat, u_flat, out=w2_flat)
            # A sum is finite only if every term is: the error, ‖G(l)‖, s and the new W
            # (δ and G not finite would make W not finite through the bias row).
            check = e + float(np.dot(norms, ones_l))
            total = check + float(np.dot(w2_flat, ones_w)) + float(np.dot(s_flat, ones_s))
            if not math.isfinite(total):
                finite = math.isfinite(check)
                message = (DIVERGED_MESSAGE if finite else EXPLODED_MESSAGE).format(eta=eta)
                break
            err[k] = e
            gn[k] = norms
            dm[k] = means
            w_flat, w2_flat, w, w2 = w2_flat, w_flat, w2, w
            w_rows_t, w2_rows_t = w2_rows_t, w_rows_t
            epoch, pos = epoch_next, pos_next
            done = k + 1

    if done:
        weights = tuple(v.copy() for v in w)
        for a in weights:
            a.flags.writeable = False
        net.state = State(weights, net.state.step + done, epoch, pos)
    return RunRecord(
        np.arange(first, first + done), err[:done], gn[:done], dm[:done], bool(message), message
    )
