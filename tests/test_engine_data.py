"""Datasets, label encodings and the bounded history."""

from __future__ import annotations

import numpy as np
import pytest

from engine import DATASETS, Config, Network, custom_dataset, make_dataset


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "custom"])
def test_datasets_are_seeded_and_split(name):
    a = make_dataset(name, n=50, seed=2, test_ratio=0.2)
    b = make_dataset(name, n=50, seed=2, test_ratio=0.2)
    c = make_dataset(name, n=50, seed=3, test_ratio=0.2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.shape == (40, a.dim) and a.x_test.shape == (10, a.dim)
    if a.regression:
        assert a.classes == 0
    else:
        assert set(np.unique(a.y_train)) <= set(range(a.classes))


@pytest.mark.parametrize(
    "output,loss,layers,data,expected",
    [
        ("tanh", "squared", (2, 3, 1), "xor", {-1.0, 1.0}),
        ("sigmoid", "cross_entropy", (2, 3, 1), "xor", {0.0, 1.0}),
        ("sigmoid", "squared", (2, 3, 1), "xor", {0.0, 1.0}),
        ("softmax", "cross_entropy", (2, 3, 3), "spiral3", {0.0, 1.0, 2.0}),
    ],
)
def test_labels_follow_the_loss(output, loss, layers, data, expected):
    ds = make_dataset("spiral", classes=3, n=60) if data == "spiral3" else make_dataset(data)
    net = Network(Config(layers, "tanh", output, loss), ds)
    targets = {float(net.begin([i]).target[0]) for i in range(net.n_train)}
    assert targets == expected


def test_regression_targets_are_real():
    ds = make_dataset("sine", n=40, noise=0.0)
    net = Network(Config((1, 4, 1), output="identity"), ds)
    t = net.step()
    np.testing.assert_allclose(t.target, np.sin(np.pi * t.input[:, 0]))
    assert net.metrics()["train_accuracy"] is None


def test_custom_dataset_accepts_plus_minus_one_and_class_indices():
    a = custom_dataset([[0, 0], [1, 1]], [-1, 1])
    np.testing.assert_array_equal(a.y_train, [0, 1])
    b = custom_dataset([[0, 0], [1, 1], [2, 2]], [0, 2, 1])
    assert b.classes == 3
    with pytest.raises(ValueError, match="3 points but 2 labels"):
        custom_dataset([[0, 0], [1, 1], [2, 2]], [0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        custom_dataset([[0, 0], [1, 1]], [0.5, 1])
    with pytest.raises(ValueError, match="finite"):
        custom_dataset([[0, float("nan")]], [1])
