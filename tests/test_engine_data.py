"""Datasets, label encodings and the bounded history."""

from __future__ import annotations

import numpy as np
import pytest

from engine import DATASETS, Config, Network, custom_dataset, make_dataset
from engine.history import History


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


def _fill(h: History, n: int, start: int = 1):
    steps = np.arange(start, start + n)
    h.extend(steps, steps * 1.0, np.stack([steps, -steps], 1) * 1.0, np.ones((n, 2)))
    return steps


def test_history_keeps_exact_means_in_bounded_memory():
    h = History(2, capacity=16)
    _fill(h, 1000)
    assert len(h) <= 16
    c = h.curve()
    assert c.step[-1] == 1000 and c.first[0] == 1
    for f, last, e, g in zip(c.first, c.step, c.error, c.grad_norm, strict=True):
        assert e == pytest.approx(np.mean(np.arange(f, last + 1)))
        assert g[1] == pytest.approx(-e)
    # Points tile the steps with no gap and no overlap.
    np.testing.assert_array_equal(c.first[1:], c.step[:-1] + 1)


def test_history_append_and_extend_agree():
    a, b = History(2, 8), History(2, 8)
    steps = _fill(a, 100)
    for s in steps:
        b.append(s, s * 1.0, [s, -s], [1.0, 1.0])
    ca, cb = a.curve(), b.curve()
    np.testing.assert_array_equal(ca.step, cb.step)
    np.testing.assert_allclose(ca.error, cb.error)


def test_history_since_and_downsampling():
    h = History(2, capacity=64)
    _fill(h, 50)
    assert h.curve(since=45).step.tolist() == [46, 47, 48, 49, 50]
    d = h.curve(max_points=10)
    assert len(d.step) == 10 and d.step[-1] == 50
    assert d.error[0] == pytest.approx(np.mean(np.arange(1, 6)))


def test_history_truncate_and_round_trip():
    h = History(2, capacity=64)
    _fill(h, 30)
    h.truncate(20)
    assert h.last_step == 20
    _fill(h, 5, start=21)
    h2 = History.from_dict(2, h.to_dict())
    np.testing.assert_array_equal(h2.curve().error, h.curve().error)
    assert h2.curve().step[-1] == 25


def test_history_grows_on_demand_and_keeps_its_bound():
    h = History(2, capacity=4096)
    assert len(h._first) == 64  # a short session holds a small history
    _fill(h, 300)
    assert len(h._first) == 512 and len(h) == 300
    np.testing.assert_array_equal(h.curve().step, np.arange(1, 301))
    _fill(h, 100_000, start=301)
    assert len(h._first) == 4096 and len(h) <= 4096
    assert h.curve().step[-1] == 100_300
