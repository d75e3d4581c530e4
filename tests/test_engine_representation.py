"""What the output layer sees: x(l) of every point, its 2-D view and the output's line."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Config, Network, make_dataset
from engine.representation import representation


@pytest.fixture(scope="module")
def xor_net():
    """A 2-2-1 tanh network trained on XOR: the hidden plane makes XOR separable."""
    net = Network(Config((2, 2, 1), seed=1), make_dataset("xor", n=200, seed=0))
    net.run(4000)
    assert net.metrics()["train_accuracy"] == 1.0
    return net


def test_the_output_line_separates_the_hidden_points_as_the_predictions_do(xor_net):
    r = representation(xor_net)
    assert r.layer == 1 and r.method == "coordinates" and r.variance_kept == 1.0
    h = r.view_train
    np.testing.assert_array_equal(h, xor_net.predict(xor_net.dataset.x_train)[0])
    w0, w1, w2 = r.boundary
    side = w0 + w1 * h[:, 0] + w2 * h[:, 1] > 0
    predicted = xor_net.predict(xor_net.dataset.x_train)[-1][:, 0] > 0
    np.testing.assert_array_equal(side, predicted)
    # Trained to 100 %: in the hidden plane one straight line separates XOR's classes.
    np.testing.assert_array_equal(side, xor_net.dataset.y_train == 1)


def test_layer_0_is_the_input_and_the_line_belongs_to_layer_L_minus_1_only(xor_net):
    r = representation(xor_net, 0)
    np.testing.assert_array_equal(r.x_train, xor_net.dataset.x_train)
    np.testing.assert_array_equal(r.view_test, xor_net.dataset.x_test)
    assert r.boundary is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        representation(xor_net, 2)


def test_pca_is_the_centred_x_times_the_top_two_right_singular_vectors():
    net = Network(Config((2, 3, 1), seed=2), make_dataset("circle", n=200, seed=0))
    net.run(2000)
    r = representation(net)
    assert r.method == "pca" and r.boundary is None and r.view_train.shape == (160, 2)
    x = net.predict(net.dataset.x_train)[0]
    centred = x - x.mean(axis=0)
    _, sigma, vt = np.linalg.svd(centred)
    signs = np.sign(vt[[0, 1], np.abs(vt[:2]).argmax(axis=1)])  # largest entry positive
    v = vt[:2] * signs[:, None]
    np.testing.assert_allclose(r.components, v, atol=1e-12)
    np.testing.assert_allclose(r.view_train, centred @ v.T, atol=1e-12)
    x_test = net.predict(net.dataset.x_test)[0]
    np.testing.assert_allclose(r.view_test, (x_test - x.mean(axis=0)) @ v.T, atol=1e-12)
    assert r.variance_kept == pytest.approx((sigma[:2] ** 2).sum() / (sigma**2).sum())


def test_features_are_layer_0():
    ds = make_dataset("circle", n=50, seed=0)
    net = Network(Config((3, 2, 1), features=["x1²", "x2²", "x1·x2"]), ds)
    r = representation(net, 0)
    assert r.method == "pca" and r.x_train.shape == (40, 3)
    np.testing.assert_array_equal(r.x_train[:, 2], ds.x_train[:, 0] * ds.x_train[:, 1])
