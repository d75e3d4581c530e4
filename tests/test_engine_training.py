"""SGD state: reproducibility, undo, divergence, vanishing gradients, evaluation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from engine import Config, Network, custom_dataset, make_dataset
from engine.sampling import Orders


def _trajectory(net: Network, n: int):
    return [
        (t.indices.tolist(), t.error, [w.tobytes() for w in t.weights])
        for t in (net.step() for _ in range(n))
    ]


def test_same_seed_gives_identical_100_step_trajectory():
    cfg = Config((2, 5, 3, 1), "tanh", "tanh", "squared", "normal", 0.5, 0.05, 3, seed=7)
    a = _trajectory(Network(cfg, make_dataset("spiral", n=50, seed=3)), 100)
    b = _trajectory(Network(cfg, make_dataset("spiral", n=50, seed=3)), 100)
    assert a == b
    other = Config((2, 5, 3, 1), "tanh", "tanh", "squared", "normal", 0.5, 0.05, 3, seed=8)
    c = _trajectory(Network(other, make_dataset("spiral", n=50, seed=3)), 100)
    assert a != c


def test_epochs_visit_every_example_once_in_a_seeded_order():
    net = Network(Config((2, 3, 1), batch_size=4), make_dataset("xor", n=25, test_ratio=0.2))
    n = net.n_train
    assert n == 20
    seen = np.concatenate([net.step().indices for _ in range(5)])
    assert sorted(seen.tolist()) == list(range(n))
    assert net.state.epoch == 0 and net.state.position == n
    nxt = net.step()  # the next batch starts epoch 1
    assert net.state.epoch == 1 and net.state.position == 4
    np.testing.assert_array_equal(nxt.indices, net.epoch_order(1)[:4])
    assert not np.array_equal(net.epoch_order(0), net.epoch_order(1))


def test_batches_that_straddle_an_epoch_boundary():
    net = Network(Config((2, 3, 1), batch_size=3), make_dataset("xor", n=8, test_ratio=0))
    idx = [net.step().indices for _ in range(3)]  # 9 examples from an 8-example set
    assert net.state.epoch == 1 and net.state.position == 1
    assert idx[2].tolist() == [*net.epoch_order(0)[6:8], net.epoch_order(1)[0]]


def test_changing_the_init_scheme_keeps_the_example_order():
    ds = make_dataset("xor", n=30)
    a = Network(Config((2, 4, 1), init="normal", init_scale=0.1), ds)
    b = Network(Config((2, 4, 1), "relu", init="he"), ds)
    assert [a.step().indices[0] for _ in range(40)] == [b.step().indices[0] for _ in range(40)]


def test_undo_restores_exactly_the_previous_state():
    net = Network(Config((2, 4, 4, 1), batch_size=2), make_dataset("circle", n=30))
    for _ in range(7):
        net.step()
    snap = net.snapshot()
    before = [w.copy() for w in net.weights]
    first = net.step()
    for _ in range(13):  # across an epoch boundary
        net.step()
    net.restore(snap)
    assert net.state == snap
    for w, b in zip(net.weights, before, strict=True):
        np.testing.assert_array_equal(w, b)
    again = net.step()  # continues exactly as it did the first time
    np.testing.assert_array_equal(again.indices, first.indices)
    for a, b in zip(again.weights, first.weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layers", [(2, 3, 1), (2, 64, 64, 1)])
def test_a_trace_holds_each_layers_numbers_by_their_definitions(layers):
    """G = x(l-1)ᵀ δ(l) / B, ΔW = −η G, W after = W before + ΔW (to the bit), the sizes."""
    net = Network(Config(layers, batch_size=3, learning_rate=0.05), make_dataset("xor", n=20))
    for _ in range(4):
        before = net.weights
        t = net.step()
        xs = (t.input,) + t.x[:-1]
        for l in range(len(layers) - 1):
            xa = np.hstack([np.ones((3, 1)), xs[l]])
            np.testing.assert_allclose(t.grad[l], xa.T @ t.delta[l] / 3, rtol=1e-12, atol=1e-15)
            np.testing.assert_array_equal(t.update[l], t.grad[l] * -0.05)
            np.testing.assert_array_equal(t.weights[l], before[l] + t.update[l])
            assert t.grad_norm[l] == pytest.approx(np.linalg.norm(t.grad[l]), rel=1e-12)
            assert t.delta_mean_abs[l] == pytest.approx(np.abs(t.delta[l]).mean(), rel=1e-12)
        np.testing.assert_array_equal(t.weights[-1], net.weights[-1])


def test_traces_and_weights_are_immutable():
    net = Network(Config((2, 3, 1)), make_dataset("xor", n=10))
    t = net.step()
    with pytest.raises(ValueError):
        t.weights[0][0, 0] = 1.0
    with pytest.raises(ValueError):
        net.weights[1][0, 0] = 1.0
    for arrays in (t.s, t.x, t.delta, t.grad, t.update, (t.input, t.target)):
        with pytest.raises(ValueError):
            arrays[0][0] = 1.0
    with pytest.raises(AttributeError):
        t.error = 0.0
    kept = t.weights[0].copy()
    net.step()
    np.testing.assert_array_equal(t.weights[0], kept)


def _exploding_net(eta=1e6):
    ds = make_dataset("sine", n=20)
    return Network(Config((1, 8, 8, 1), "identity", "identity", "squared", learning_rate=eta), ds)


def test_divergence_is_refused_with_weights_unchanged_and_no_warnings():
    net = _exploding_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any NumPy RuntimeWarning fails the test
        for _ in range(100):
            before = net.snapshot()
            trace = net.step()
            if trace.diverged:
                break
        else:
            pytest.fail("η = 1e6 on a linear network should diverge within 100 steps")
    assert net.state is before
    assert trace.step == before.step
    assert "1e+06" in trace.message and "lower the learning rate" in trace.message
    assert trace.weights == () and trace.delta == ()
    assert all(np.isfinite(w).all() for w in net.weights)
    # A step tried again is refused again, and a reset with a sane η trains again.
    assert net.step().diverged and net.state is before
    net.reset()
    net.set_learning_rate(1e-3)
    assert not any(net.step().diverged for _ in range(20))


def test_metrics_of_overflowing_weights_leak_no_warnings():
    ds = make_dataset("sine", n=20)
    huge = [np.full((2, 8), 1e200), np.full((9, 8), 1e200), np.full((9, 1), -1e200)]
    net = Network(Config((1, 8, 8, 1), "identity", "identity", "squared"), ds, huge)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any NumPy RuntimeWarning fails the test
        m = net.metrics()
    assert not math.isfinite(m["train_error"])
    assert np.geterr()["over"] == "warn"  # nothing left switched off


def test_a_finite_gradient_times_a_huge_eta_blames_the_learning_rate():
    # s = 10, y = −10: δ = 2 (s − y) = 40 and G = [40, 400], so η G overflows.
    ds = custom_dataset([[10.0]], [-10.0], regression=True)
    cfg = Config((1, 1), output="identity", loss="squared", learning_rate=1e307)
    net = Network(cfg, ds, [[[0.0], [1.0]]])
    trace = net.step()
    assert trace.diverged and trace.error == 400.0
    assert trace.message.startswith("The step was refused: with η = 1e+307")
    assert net.state.step == 0


def test_fast_forward_stops_at_divergence_and_records_each_step():
    net = _exploding_net()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = net.run(200)
    assert rec.diverged
    k = len(rec.steps)
    assert net.state.step == k and 0 < k < 200
    assert np.isfinite(rec.error).all() and np.isfinite(rec.grad_norm).all()


@pytest.mark.parametrize(
    "layers,batch",
    [((2, 4, 3, 1), 2), ((2, 64, 64, 1), 1), ((2, 64, 64, 1), 3)],  # small and large layers
)
def test_fast_forward_records_what_full_steps_report(layers, batch):
    cfg = Config(layers, batch_size=batch, seed=4)
    ds = make_dataset("xor", n=30)
    full, fast = Network(cfg, ds), Network(cfg, ds)
    traces = [full.step() for _ in range(25)]
    rec = fast.run(25)
    np.testing.assert_array_equal(rec.steps, np.arange(1, 26))
    np.testing.assert_array_equal(rec.error, [t.error for t in traces])
    # The same kernel sums, then √ and / (IEEE, vectorised or not): the same bits.
    np.testing.assert_array_equal(rec.grad_norm, [t.grad_norm for t in traces])
    np.testing.assert_array_equal(rec.delta_mean_abs, [t.delta_mean_abs for t in traces])
    for a, b in zip(full.weights, fast.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def _deep(hidden, init, scale, depth=10):
    ds = make_dataset("circle", n=100, seed=0)
    cfg = Config(
        (2,) + (8,) * depth + (1,),
        hidden,
        "sigmoid" if hidden == "sigmoid" else "tanh",
        "squared",
        init,
        scale,
        0.1,
        1,
        seed=0,
    )
    return Network(cfg, ds)


def test_vanishing_gradients_in_a_deep_sigmoid_network():
    t = _deep("sigmoid", "normal", 0.5).step()
    assert len(t.grad_norm) == 11
    assert t.grad_norm[0] * 100 <= t.grad_norm[-1]


def test_relu_with_he_initialisation_does_not_vanish():
    t = _deep("relu", "he", 1.0).step()
    assert t.grad_norm[0] * 100 > t.grad_norm[-1]


def test_saturation_counts_units_in_the_flat_region():
    ds = custom_dataset([[3.0, 3.0]], [1])
    w1 = [[0.0, 0.0, 0.0], [1.0, 0.0, -1.0], [1.0, 0.01, -1.0]]  # s = 6, 0.03, −6
    w2 = [[0.0], [1.0], [1.0], [1.0]]
    net = Network(Config((2, 3, 1), "tanh", "tanh", "squared"), ds, [w1, w2])
    t = net.step()
    assert t.saturation[0] == pytest.approx(2 / 3)
    sig = Network(Config((2, 3, 1), "sigmoid", "sigmoid", "squared"), ds, [w1, w2])
    assert sig.step().saturation[0] == pytest.approx(2 / 3)
    relu = Network(Config((2, 3, 1), "relu", "tanh", "squared"), ds, [w1, w2])
    assert relu.step().saturation[0] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "hidden, output, loss",
    [
        ("tanh", "tanh", "squared"),
        ("sigmoid", "sigmoid", "squared"),
        ("relu", "tanh", "squared"),
        ("tanh", "sigmoid", "cross_entropy"),
        ("tanh", "identity", "squared"),
    ],
)
def test_saturation_of_every_layer_is_counted_from_its_x(hidden, output, loss):
    """Every layer, the output's included, against x(l) and the definitions."""
    flat = {
        "tanh": lambda x: np.abs(x) > 0.99,
        "sigmoid": lambda x: (x < 0.01) | (x > 0.99),
        "relu": lambda x: x == 0.0,
        "identity": lambda x: np.zeros(x.shape, bool),
    }
    cfg = Config((2, 5, 3, 1), hidden, output, loss, "normal", 4.0, batch_size=7, seed=3)
    t = Network(cfg, make_dataset("circle", n=60)).step()
    thetas = [hidden, hidden, output]
    want = [flat[th](x).mean() for th, x in zip(thetas, t.x, strict=True)]
    assert list(t.saturation) == pytest.approx(want, abs=1e-15)
    assert sum(want[:2]) > 0  # a large init scale: some hidden units are flat


def test_predict_and_metrics_leave_the_state_alone():
    net = Network(Config((2, 4, 1)), make_dataset("xor", n=40))
    net.step()
    snap = net.snapshot()
    xs = net.predict([[0.1, 0.2], [-1, 1]])
    assert [x.shape for x in xs] == [(2, 4), (2, 1)]
    m = net.metrics()
    assert 0 <= m["train_accuracy"] <= 1 and m["train_error"] >= 0
    xs_, ys_, layers = net.grid(21)
    assert layers[-1].shape == (21, 21, 1) and layers[0].shape == (21, 21, 4)
    # The grid's last layer is exactly predict() at the grid's points.
    np.testing.assert_allclose(layers[-1][3, 5], net.predict([[xs_[5], ys_[3]]])[-1][0])
    assert net.state is snap


def test_accuracy_follows_the_label_encoding():
    ds = custom_dataset([[1.0, 0.0], [-1.0, 0.0]], [1, 0])
    w1 = [[0.0], [5.0], [0.0]]
    for out, loss, w in [("tanh", "squared", [w1]), ("sigmoid", "cross_entropy", [w1])]:
        net = Network(Config((2, 1), output=out, loss=loss), ds, w)
        assert net.metrics()["train_accuracy"] == 1.0
        net.set_weights([[[0.0], [-5.0], [0.0]]])
        assert net.metrics()["train_accuracy"] == 0.0


@pytest.mark.parametrize(
    "kwargs,data,message",
    [
        ({"output": "softmax", "loss": "squared", "layers": (2, 3)}, "xor", "softmax output needs"),
        ({"output": "tanh", "loss": "cross_entropy"}, "xor", "cross-entropy needs a sigmoid"),
        ({"layers": (3, 4, 1)}, "xor", "layer 0 has 3 units"),
        ({"layers": (2, 4, 1)}, "sine", "layer 0 has 2 units"),
        (
            {"layers": (2, 4, 4), "output": "softmax", "loss": "cross_entropy"},
            "blobs3",
            "has 3 classes",
        ),
        ({"layers": (2, 4, 1)}, "blobs3", "softmax output"),
        ({"learning_rate": float("inf")}, "xor", "learning rate"),
        ({"activation": "softmax"}, "xor", "only be used in the output"),
        ({"init": "zeros"}, "xor", "unknown init scheme"),
    ],
)
def test_nonsensical_setups_are_rejected_with_a_sentence(kwargs, data, message):
    ds = make_dataset("blobs", classes=3) if data == "blobs3" else make_dataset(data)
    with pytest.raises(ValueError, match=message):
        Network(Config(**kwargs), ds)


def test_set_weights_checks_shape_and_finiteness():
    net = Network(Config((2, 3, 1)), make_dataset("xor", n=10))
    with pytest.raises(ValueError, match=r"W\(1\) must be 3 x 3"):
        net.set_weights([np.zeros((2, 3)), np.zeros((4, 1))])
    with pytest.raises(ValueError, match="not finite"):
        net.set_weights([np.full((3, 3), np.nan), np.zeros((4, 1))])
    with pytest.raises(ValueError, match="between 0 and 7"):
        net.step([8])


def test_reset_returns_to_the_seeded_start():
    net = Network(Config((2, 3, 1), seed=5), make_dataset("xor", n=10))
    w0 = [w.copy() for w in net.weights]
    net.run(20)
    net.reset()
    assert net.state.step == 0
    for a, b in zip(net.weights, w0, strict=True):
        np.testing.assert_array_equal(a, b)
    net.reset(seed=6)
    assert not np.array_equal(net.weights[0], w0[0])


@pytest.mark.parametrize(
    "name,kwargs,cfg",
    [
        ("xor", {}, Config((2, 4, 1))),
        ("blobs", {"classes": 3}, Config((2, 4, 3), output="softmax", loss="cross_entropy")),
        ("sine", {}, Config((1, 4, 1), output="identity")),
    ],
)
def test_metrics_equal_evaluate_on_each_set(name, kwargs, cfg):
    net = Network(cfg, make_dataset(name, n=50, **kwargs))
    net.run(20)
    m, d = net.metrics(), net.dataset
    train, test = net.evaluate(d.x_train, d.y_train), net.evaluate(d.x_test, d.y_test)
    assert m["train_error"] == pytest.approx(train[0], rel=1e-12)
    assert m["test_error"] == pytest.approx(test[0], rel=1e-12)
    assert (m["train_accuracy"], m["test_accuracy"]) == (train[1], test[1])
    assert (
        Network(cfg, make_dataset(name, n=50, test_ratio=0, **kwargs)).metrics()["test_error"]
        is None
    )


def test_metrics_from_two_threads_at_once_are_both_right():
    """metrics() keeps its buffers between calls, shared by the networks of one shape;
    concurrent callers, of one network or of two, must not write into each other's."""
    import threading

    cfg = Config((2, 16, 16, 1))
    nets = [Network(cfg, make_dataset("circle", n=400, seed=s)) for s in (1, 2)]
    want = [net.metrics() for net in nets]
    assert want[0] != want[1]
    got, barrier = [], threading.Barrier(4)

    def worker(i):
        barrier.wait()
        for _ in range(200):
            got.append((i, nets[i].metrics()))

    threads = [threading.Thread(target=worker, args=(i % 2,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(got) == 800 and all(m == want[i] for i, m in got)


def test_a_fast_forward_interrupted_midway_leaves_the_network_as_it_was():
    """An exception inside run() (say, Ctrl-C in a notebook) must not corrupt later steps."""
    cfg, ds = Config((2, 5, 1), batch_size=4, seed=3), make_dataset("xor", n=30)
    net, twin = Network(cfg, ds), Network(cfg, ds)
    net.run(3), twin.run(3)
    real_orders = net.orders

    class Interrupting(Orders):
        def __call__(self, epoch):
            if epoch > 0:
                raise KeyboardInterrupt
            return super().__call__(epoch)

    net.orders = Interrupting(cfg.seed, net.n_train)
    with pytest.raises(KeyboardInterrupt):
        net.run(50)  # stops at the first epoch boundary, some steps in
    net.orders = real_orders
    assert net.state.step == 6  # the 3 steps before the boundary are kept, each whole
    twin.run(net.state.step - 3)
    assert net.state[1:] == twin.state[1:]  # step, epoch, position
    for wa, wb in zip(net.weights, twin.weights, strict=True):
        np.testing.assert_array_equal(wa, wb)
    a, b = net.step(), twin.step()
    np.testing.assert_array_equal(a.indices, b.indices)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(wa, wb)
