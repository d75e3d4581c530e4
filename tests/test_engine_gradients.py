"""Backprop's gradients against central differences and against the lecture by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import Config, Network, custom_dataset, make_dataset
from engine.gradcheck import gradient_check

HIDDEN = ("tanh", "sigmoid", "relu", "leaky_relu", "identity")
# (output θ, loss, dataset kwargs)
OUTPUTS = [
    ("tanh", "squared", {"name": "xor"}),
    ("sigmoid", "squared", {"name": "circle"}),
    ("identity", "squared", {"name": "sine"}),
    ("sigmoid", "cross_entropy", {"name": "gaussians"}),
    ("softmax", "cross_entropy", {"name": "blobs", "classes": 3}),
]


def _net(hidden, output, loss, data, depth, batch, seed=1):
    ds = make_dataset(n=30, seed=seed, **data)
    d_out = ds.classes if output == "softmax" else 1
    layers = (ds.dim,) + (4,) * (depth - 1) + (d_out,)
    cfg = Config(layers, hidden, output, loss, "normal", 0.8, 0.1, batch, seed)
    return Network(cfg, ds)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("output,loss,data", OUTPUTS, ids=[f"{o}-{l}" for o, l, _ in OUTPUTS])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("batch", [1, 5])
def test_backprop_matches_central_differences(hidden, output, loss, data, depth, batch):
    net = _net(hidden, output, loss, data, depth, batch)
    for _ in range(3):  # a few steps in, away from the symmetric start
        net.step()
    check = gradient_check(net, epsilon=1e-6)
    assert len(check.layers) == depth
    assert check.indices.shape == (batch,)
    for layer in check.layers:
        assert layer.backprop.shape == net.weights[layer.layer - 1].shape
        assert layer.max_rel_diff < 1e-6, (layer.layer, layer.max_rel_diff)
    # Two forward passes per weight against one forward + one backward pass.
    assert check.numerical_passes == 2 * sum(w.size for w in net.weights)
    assert check.backprop_passes == 2


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("batch", [1, 9])
def test_backprop_matches_central_differences_on_64_wide_layers(hidden, batch):
    """Wide layers too: a 2-64-64-1 network, 4,417 weights each checked numerically."""
    ds = make_dataset("circle", n=40, seed=2)
    cfg = Config((2, 64, 64, 1), hidden, "tanh", "squared", "xavier", 1.0, 0.05, batch, 4)
    net = Network(cfg, ds)
    net.run(5)
    check = gradient_check(net, epsilon=1e-6)
    assert check.numerical_passes == 2 * 4417
    for layer in check.layers:
        assert layer.max_rel_diff < 1e-6, (layer.layer, layer.max_rel_diff)
        assert np.abs(layer.backprop).max() > 0  # a real gradient, not zeros on both sides


def test_gradient_check_notices_a_wrong_gradient(monkeypatch):
    """The check itself can fail: break θ' and it must report a large difference."""
    import dataclasses

    net = _net("tanh", "tanh", "squared", {"name": "xor"}, 3, 1)
    # 1 − x instead of 1 − x²
    wrong = dataclasses.replace(net.theta, prime=lambda s, x: 1.0 - x)
    monkeypatch.setattr(net, "theta", wrong)
    check = gradient_check(net)
    assert check.max_rel_diff > 1e-3


def test_worked_example_2_2_1_tanh_by_hand():
    """One step of a 2-2-1 tanh network, every number from the lecture's formulas."""
    W1 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]  # row 0: bias weights w_0j(1)
    W2 = [[0.2], [0.7], [-0.3]]
    x_in, y, eta = (1.0, -2.0), 1.0, 0.5
    ds = custom_dataset([x_in], [y])
    net = Network(Config((2, 2, 1), "tanh", "tanh", "squared", learning_rate=eta), ds, [W1, W2])
    trace = net.step()

    # forward: s_j(l) = Σ_i w_ij(l) x_i(l-1) with x_0 = 1
    x0 = (1.0, *x_in)
    s1 = [sum(W1[i][j] * x0[i] for i in range(3)) for j in range(2)]
    assert s1 == pytest.approx([1.4, -1.0], abs=1e-15)
    x1 = (1.0, math.tanh(s1[0]), math.tanh(s1[1]))
    s2 = sum(W2[i][0] * x1[i] for i in range(3))
    x2 = math.tanh(s2)
    # δ_1(2) = 2 (x_1(2) − y) θ'(s_1(2)), θ' = 1 − x²
    d2 = 2.0 * (x2 - y) * (1.0 - x2 * x2)
    # δ_i(1) = θ'(s_i(1)) w_i1(2) δ_1(2)
    d1 = [(1.0 - x1[i] ** 2) * W2[i][0] * d2 for i in (1, 2)]
    # ∂e/∂w_ij(l) = x_i(l-1) δ_j(l);  w ← w − η ∂e/∂w
    g2 = [[x1[i] * d2] for i in range(3)]
    g1 = [[x0[i] * d1[j] for j in range(2)] for i in range(3)]
    new_W2 = [[W2[i][0] - eta * g2[i][0]] for i in range(3)]
    new_W1 = [[W1[i][j] - eta * g1[i][j] for j in range(2)] for i in range(3)]

    tol = dict(rel=0, abs=1e-12)
    assert trace.error == pytest.approx((x2 - y) ** 2, **tol)
    np.testing.assert_allclose(trace.s[0], [s1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.x[0], [x1[1:]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.s[1], [[s2]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.delta[1], [[d2]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.delta[0], [d1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.grad[1], g2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.grad[0], g1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.update[0], -eta * np.array(g1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.weights[1], new_W2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.weights[0], new_W1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(net.weights[0], new_W1, rtol=0, atol=1e-12)
    assert trace.grad_norm[1] == pytest.approx(math.sqrt(sum(g[0] ** 2 for g in g2)), **tol)
    assert trace.delta_mean_abs[0] == pytest.approx((abs(d1[0]) + abs(d1[1])) / 2, **tol)


def test_softmax_cross_entropy_output_delta_is_h_minus_onehot():
    ds = make_dataset("blobs", n=20, classes=3)
    net = Network(Config((2, 3), "tanh", "softmax", "cross_entropy"), ds)
    t = net.step()
    h = t.x[-1][0]
    onehot = np.eye(3)[int(t.target[0])]
    np.testing.assert_allclose(t.delta[-1][0], h - onehot, atol=1e-15)
    assert t.error == pytest.approx(-math.log(h[int(t.target[0])]), abs=1e-12)


@pytest.mark.parametrize(
    "hidden,output,loss", [("tanh", "tanh", "squared"), ("relu", "softmax", "cross_entropy")]
)
def test_minibatch_gradient_is_mean_of_single_example_gradients(hidden, output, loss):
    data = {"name": "blobs", "classes": 3} if output == "softmax" else {"name": "xor"}
    net = _net(hidden, output, loss, data, 3, 6)
    batch = net.begin()
    full = net.backward(batch).grad
    singles = [net.backward(net.begin([i])).grad for i in batch.indices]
    for l, g in enumerate(full):
        np.testing.assert_allclose(g, np.mean([s[l] for s in singles], axis=0), atol=1e-15)
    assert batch.error == pytest.approx(np.mean([net.begin([i]).error for i in batch.indices]))
