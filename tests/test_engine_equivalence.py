"""Fast-forward (``run``) and full-trace steps (``step``) agree bit for bit, everywhere.

The grid covers every hidden θ, every output θ with each loss it allows, depths 1, 3
and 10, widths 1, 8 and 64 and batch sizes 1, 7 and 32, plus a diverging run, and runs
with an L2 or L1 penalty.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from engine import HIDDEN_ACTIVATIONS, Config, Network, make_dataset

OUTPUTS = [
    ("tanh", "squared", "xor", 1),
    ("identity", "squared", "xor", 1),
    ("sigmoid", "squared", "xor", 1),
    ("sigmoid", "cross_entropy", "circle", 1),
    ("softmax", "cross_entropy", "blobs", 3),
]
DEPTHS, WIDTHS, BATCHES = (1, 3, 10), (1, 8, 64), (1, 7, 32)
STEPS = 4


def _pair(hidden, output, loss, data, d_out, depth, width, batch, eta=0.05):
    classes = d_out if data == "blobs" else None
    ds = make_dataset(data, n=60, seed=1, classes=classes)
    cfg = Config(
        (2, *[width] * (depth - 1), d_out) if depth > 1 else (2, d_out),
        hidden,
        output,
        loss,
        learning_rate=eta,
        batch_size=batch,
        seed=depth * 100 + width,
    )
    return Network(cfg, ds), Network(cfg, ds)


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize(("output", "loss", "data", "d_out"), OUTPUTS)
def test_run_and_step_agree_bit_for_bit(hidden, output, loss, data, d_out):
    for depth, width, batch in itertools.product(DEPTHS, WIDTHS, BATCHES):
        full, fast = _pair(hidden, output, loss, data, d_out, depth, width, batch)
        traces = [full.step() for _ in range(STEPS)]
        rec = fast.run(STEPS)
        case = f"depth {depth}, width {width}, B {batch}"
        assert not rec.diverged and not any(t.diverged for t in traces), case
        assert full.state[1:] == fast.state[1:], case
        for a, b in zip(full.weights, fast.weights, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=case)
        np.testing.assert_array_equal(rec.error, [t.error for t in traces], err_msg=case)
        np.testing.assert_array_equal(rec.grad_norm, [t.grad_norm for t in traces], err_msg=case)
        np.testing.assert_array_equal(
            rec.delta_mean_abs, [t.delta_mean_abs for t in traces], err_msg=case
        )
        # And the trace is the lecture's: G(l) = x(l-1)ᵀ δ(l) / B, ΔW = −η G, W + ΔW.
        t = traces[-1]
        assert len(t.s) == depth and t.delta[0].shape == (batch, t.s[0].shape[1]), case
        for G, update in zip(t.grad, t.update, strict=True):
            np.testing.assert_array_equal(update, -0.05 * G, err_msg=case)


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_a_diverging_run_stops_where_step_refuses(hidden):
    full, fast = _pair(hidden, "identity", "squared", "xor", 1, 3, 8, 7, eta=1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow stays silent: refused, not warned
        traces = [full.step() for _ in range(40)]
        rec = fast.run(40)
    refused = [t for t in traces if t.diverged]
    assert rec.diverged and refused
    k = len(rec.steps)
    assert full.state.step == fast.state.step == k < 40
    assert not any(t.diverged for t in traces[:k]) and rec.message == refused[0].message
    for a, b in zip(full.weights, fast.weights, strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.isfinite(a).all()
    assert refused[0].s == () and refused[0].weights == ()  # no per-layer numbers


@pytest.mark.parametrize("kind", ["l2", "l1"])
@pytest.mark.parametrize("batch", [1, 7])
def test_run_and_step_agree_bit_for_bit_with_a_penalty(kind, batch):
    ds = make_dataset("xor", n=60, seed=1)
    cfg = Config(
        (2, 8, 8, 1), "tanh", "tanh", "squared", learning_rate=0.05, batch_size=batch,
        regularization=kind, reg_strength=0.01,
    )  # fmt: skip
    full, fast = Network(cfg, ds), Network(cfg, ds)
    traces = [full.step() for _ in range(6)]
    rec = fast.run(6)
    for a, b in zip(full.weights, fast.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(rec.error, [t.error for t in traces])
    t = traces[-1]
    for G, P, update in zip(t.grad, t.penalty_grad, t.update, strict=True):
        np.testing.assert_array_equal(update, -0.05 * (G + P))
