"""Input features: x(0) is a list of hand-made columns of the raw point, d(0) follows it."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Config, Network, make_dataset
from engine.features import FEATURE_NAMES

ALL = list(FEATURE_NAMES)


def test_x0_is_the_chosen_columns_of_the_raw_point():
    ds = make_dataset("circle", n=40, seed=2)
    net = Network(Config((7, 3, 1), features=ALL), ds)
    p = ds.x_train
    x1, x2 = p[:, 0], p[:, 1]
    expected = np.stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)], axis=1)
    np.testing.assert_array_equal(net.x_train, expected)
    t = net.step([3, 5])
    np.testing.assert_array_equal(t.input, expected[[3, 5]])
    assert t.s[0].shape == (2, 3) and net.weights[0].shape == (8, 3)
    np.testing.assert_array_equal(ds.x_train, p)  # the data set stays raw


def test_grid_and_predict_take_raw_points_and_apply_the_features():
    ds = make_dataset("circle", n=40, seed=2)
    net = Network(Config((2, 1), features=["x1²", "x2²"]), ds)
    xs, ys, layers = net.grid(5)
    assert layers[-1].shape == (5, 5, 1)
    point = np.array([[xs[1], ys[3]]])
    np.testing.assert_allclose(layers[-1][3, 1], net.predict(point)[-1][0])
    w = net.weights[0]  # one tanh unit of x1² and x2²: the output is tanh(w0 + w1 x1² + w2 x2²)
    expected = np.tanh(w[0, 0] + w[1, 0] * xs[1] ** 2 + w[2, 0] * ys[3] ** 2)
    assert net.predict(point)[-1][0, 0] == pytest.approx(expected)


def test_squares_separate_the_circle_without_a_hidden_layer():
    ds = make_dataset("circle", n=200, seed=0)
    net = Network(Config((2, 1), learning_rate=0.05, features=["x1²", "x2²"]), ds)
    net.run(2000)
    assert net.metrics()["train_accuracy"] > 0.95


def test_default_is_the_raw_point_and_one_d_data_takes_the_x1_features():
    sine = make_dataset("sine", n=30)
    assert Network(Config((1, 4, 1), output="identity"), sine).config.features is None
    net = Network(Config((2, 4, 1), output="identity", features=["x1", "sin x1"]), sine)
    np.testing.assert_array_equal(net.x_train[:, 1], np.sin(sine.x_train[:, 0]))
    with pytest.raises(ValueError, match=r"there is no x2 \(needed by x1·x2\)"):
        Network(Config((2, 4, 1), output="identity", features=["x1", "x1·x2"]), sine)


@pytest.mark.parametrize(
    "layers,features,words",
    [
        ((2, 1), ["x1", "x3"], "unknown feature 'x3'; choose from x1, x2, x1², x2², x1·x2"),
        ((3, 1), ["x1", "x2"], "layer 0 has 3 units but 2 features are chosen"),
        ((2, 1), ["x1", "x1"], "only once"),
        ((1, 1), [], "at least one"),
    ],
)
def test_bad_features_are_refused_with_a_sentence(layers, features, words):
    with pytest.raises(ValueError, match=words):
        Config(layers, features=features)
