"""Regularisation: Ω = λ Σ w² (L2) or λ Σ |w| (L1) over the non-bias weights, added to e.

The update W ← W − η (G + ∂Ω/∂W) is checked against the lecture's formulas by hand on a
2-2-1 network, the gradient check differentiates e + Ω, and fast-forward agrees with
full steps bit for bit (tests/test_engine_equivalence.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import Config, Network, custom_dataset, make_dataset
from engine.gradcheck import gradient_check

W1 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]  # row 0: bias weights w_0j(1)
W2 = [[0.2], [0.7], [-0.3]]
X_IN, Y, ETA, LAM = (1.0, -2.0), 1.0, 0.5, 0.1


def _data_gradient():
    """G(1), G(2) of the worked example (tests/test_engine_gradients.py), by hand."""
    x0 = (1.0, *X_IN)
    s1 = [sum(W1[i][j] * x0[i] for i in range(3)) for j in range(2)]
    x1 = (1.0, math.tanh(s1[0]), math.tanh(s1[1]))
    x2 = math.tanh(sum(W2[i][0] * x1[i] for i in range(3)))
    d2 = 2.0 * (x2 - Y) * (1.0 - x2 * x2)
    d1 = [(1.0 - x1[i] ** 2) * W2[i][0] * d2 for i in (1, 2)]
    g1 = [[x0[i] * d1[j] for j in range(2)] for i in range(3)]
    g2 = [[x1[i] * d2] for i in range(3)]
    return g1, g2, (x2 - Y) ** 2


def _net(kind, lam=LAM):
    cfg = Config(
        (2, 2, 1), "tanh", "tanh", "squared", learning_rate=ETA,
        regularization=kind, reg_strength=lam,
    )  # fmt: skip
    return Network(cfg, custom_dataset([X_IN], [Y]), [W1, W2])


@pytest.mark.parametrize(
    "kind,derivative",
    [("l2", lambda w: 2.0 * LAM * w), ("l1", lambda w: LAM * math.copysign(1.0, w))],
)
def test_update_by_hand_on_a_2_2_1_network(kind, derivative):
    g1, g2, e = _data_gradient()
    trace = _net(kind).step()

    # ∂Ω/∂w_ij(l) for i ≥ 1; the bias weights (row 0) are not penalised.
    p1 = [[0.0, 0.0]] + [[derivative(W1[i][j]) for j in range(2)] for i in (1, 2)]
    p2 = [[0.0]] + [[derivative(W2[i][0])] for i in (1, 2)]
    # w ← w − η (∂e/∂w + ∂Ω/∂w)
    new_W1 = [[W1[i][j] - ETA * (g1[i][j] + p1[i][j]) for j in range(2)] for i in range(3)]
    new_W2 = [[W2[i][0] - ETA * (g2[i][0] + p2[i][0])] for i in range(3)]
    term = (lambda w: w * w) if kind == "l2" else abs
    omega = LAM * sum(term(w) for w in (0.3, 0.4, -0.5, 0.6, 0.7, -0.3))

    tol = dict(rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.grad[0], g1, **tol)  # G stays the data gradient
    np.testing.assert_allclose(trace.grad[1], g2, **tol)
    np.testing.assert_allclose(trace.penalty_grad[0], p1, **tol)
    np.testing.assert_allclose(trace.penalty_grad[1], p2, **tol)
    np.testing.assert_allclose(trace.weights[0], new_W1, **tol)
    np.testing.assert_allclose(trace.weights[1], new_W2, **tol)
    np.testing.assert_allclose(trace.update[0], np.subtract(new_W1, W1), **tol)
    assert trace.error == pytest.approx(e, rel=0, abs=1e-12)
    assert trace.penalty == pytest.approx(omega, rel=0, abs=1e-12)
    assert trace.total_error == pytest.approx(e + omega, rel=0, abs=1e-12)
    assert trace.layer(1).penalty_grad is trace.penalty_grad[0]


def test_one_number_written_out():
    """w_11(1) = 0.3 under L2 with λ = 0.1: w − η (G + 2λw) = 0.3 − 0.5 (G + 0.06)."""
    g1, _, _ = _data_gradient()
    assert _net("l2").step().weights[0][1, 0] == pytest.approx(0.3 - 0.5 * (g1[1][0] + 0.06))
    assert _net("l1").step().weights[0][1, 0] == pytest.approx(0.3 - 0.5 * (g1[1][0] + 0.1))


def test_no_penalty_is_the_plain_update():
    plain = Network(
        Config((2, 2, 1), "tanh", "tanh", "squared", learning_rate=ETA),
        custom_dataset([X_IN], [Y]),
        [W1, W2],
    ).step()
    for kind, lam in (("none", 0.0), ("none", 3.0), ("l2", 0.0), ("l1", 0.0)):
        t = _net(kind, lam).step()
        for a, b in zip(t.weights, plain.weights, strict=True):
            np.testing.assert_array_equal(a, b)
        assert t.penalty == 0.0
        assert (t.penalty_grad == ()) == (kind == "none")


@pytest.mark.parametrize("kind", ["l2", "l1"])
@pytest.mark.parametrize("batch", [1, 5])
def test_gradient_check_differentiates_e_plus_penalty(kind, batch):
    ds = make_dataset("circle", n=30, seed=3)
    cfg = Config(
        (2, 4, 3, 1), "tanh", "tanh", "squared", "normal", 0.8, 0.1, batch, 2,
        regularization=kind, reg_strength=0.05,
    )  # fmt: skip
    net = Network(cfg, ds)
    net.run(3)
    check = gradient_check(net, epsilon=1e-6)
    for layer in check.layers:
        assert layer.max_rel_diff < 1e-6, (layer.layer, layer.max_rel_diff)
    # Without Ω on the backprop side the check must fail: Ω is really differentiated.
    bwd = net.backward(net.begin(check.indices))
    assert not np.allclose(bwd.grad[0], check.layers[0].numerical, atol=1e-6)


def test_l2_shrinks_the_weights():
    ds = make_dataset("xor", n=60, seed=1)

    def norm_after(lam):
        cfg = Config((2, 8, 1), learning_rate=0.1, regularization="l2", reg_strength=lam)
        net = Network(cfg, ds)
        net.run(300)
        return sum(float(np.square(w[1:]).sum()) for w in net.weights)

    assert norm_after(0.05) < 0.5 * norm_after(0.0)


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"regularization": "l3"}, "choose none, l2 or l1"),
        ({"regularization": "l2", "reg_strength": -1.0}, "finite number >= 0"),
        ({"regularization": "l2", "reg_strength": math.inf}, "finite number >= 0"),
    ],
)
def test_bad_regularization_is_refused_with_a_sentence(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Config(**kwargs)
