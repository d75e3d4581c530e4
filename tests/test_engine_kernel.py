"""The fast paths of the step kernel: each must give what the plain arithmetic gives."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engine import Config, Network, make_dataset
from engine import network as network_module
from engine.core import _BOUND_LIMIT


def _big(eta=0.1, batch=1, **kw):
    """Large layers: ΣG(l)² by dots, W + ΔW proved finite by a bound instead of summed."""
    cfg = Config((2, 64, 64, 1), learning_rate=eta, batch_size=batch, seed=2, **kw)
    return Network(cfg, make_dataset("xor", n=40))


def test_a_huge_eta_on_large_layers_is_refused_as_before():
    """The second step's η G overflows W + ΔW while every sum stays finite: the bound
    cannot prove the new weights finite, so they are summed, and the step refused."""
    net, twin = _big(eta=1e300, activation="relu"), _big(eta=1e300, activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first, second = net.step(), net.step()
        rec = twin.run(5)
    assert not first.diverged and second.diverged and net.state.step == 1
    assert second.message.startswith("The step was refused: with η = 1e+300")
    assert rec.diverged and len(rec.steps) == 1 and rec.message == second.message
    for a, b in zip(net.weights, twin.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_weights_beyond_the_bound_are_summed_and_still_step_like_run():
    """One bias weight of 1e300 saturates its unit: every number stays finite, but the
    bound on max |W| is past its limit, so each step sums the new weights instead."""
    full, fast = _big(batch=2), _big(batch=2)
    w = [a.copy() for a in full.weights]
    w[0][0, 0] = 1e300
    full.set_weights(w), fast.set_weights(w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traces = [full.step() for _ in range(6)]
        rec = fast.run(6)
    assert not any(t.diverged for t in traces) and not rec.diverged
    assert full.kernel(2).bounds[full.kernel(2).parity] >= _BOUND_LIMIT
    for a, b in zip(full.weights, fast.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(rec.error, [t.error for t in traces])


def test_the_bound_holds_max_abs_w_along_a_run():
    net = _big(eta=0.5)
    for _ in range(30):
        net.step()
        k = net.kernel(1)
        assert k.bounds[k.parity] >= max(np.abs(a).max() for a in net.weights)


@pytest.mark.parametrize("n,batch", [(8, 3), (8, 5), (8, 8), (8, 11), (8, 17)])
def test_a_batch_across_epochs_is_the_rows_of_its_indices(n, batch):
    net = Network(Config((2, 3, 1), batch_size=batch), make_dataset("xor", n=n, test_ratio=0))
    for epoch in range(3):
        for pos in range(net.n_train + 1):
            if pos + batch <= net.n_train:
                continue
            idx, rows, epoch_after, pos_after = net._straddle(batch, epoch, pos)
            want, e, p = net._next_indices(batch, epoch, pos)
            np.testing.assert_array_equal(idx, want)
            np.testing.assert_array_equal(rows, net._rows_train[want])
            assert (epoch_after, pos_after) == (e, p)
            assert not idx.flags.writeable


def test_steps_without_the_cheap_warning_switch_are_the_same(monkeypatch):
    """step() silences NumPy through errstate's context variable; the fallback (plain
    np.errstate) must give the same steps and leak no warnings either."""
    twin = _big(eta=1e300, activation="relu")
    want = [twin.step() for _ in range(2)]

    def fallback(_):
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    monkeypatch.setattr(network_module, "_quiet", fallback)
    monkeypatch.setattr(network_module, "_loud", lambda s: s.__exit__(None, None, None))
    net = _big(eta=1e300, activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = [net.step() for _ in range(2)]
    assert [t.diverged for t in got] == [t.diverged for t in want] == [False, True]
    assert got[1].message == want[1].message
    for a, b in zip(net.weights, twin.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.geterr()["over"] == "warn"  # nothing left switched off


def test_epoch_orders_are_the_seeded_draws_whatever_order_they_are_asked_in():
    """Orders are drawn 16 epochs (one generator) at a time; each must be the draw of
    its own (seed, epoch), asked for in any order, with batches sliced across them."""
    net = Network(Config((2, 3, 1), batch_size=7, seed=9), make_dataset("xor", n=40))
    n = net.n_train

    def drawn(epoch):
        rng = np.random.default_rng([9, 1, epoch // 16])
        for _ in range(epoch % 16):
            rng.permutation(n)
        return rng.permutation(n)

    for epoch in (0, 15, 16, 3, 40, 31, 32, 17):
        np.testing.assert_array_equal(net.epoch_order(epoch), drawn(epoch))
        assert not net.epoch_order(epoch).flags.writeable
    seen = np.concatenate([net.step().indices for _ in range(3 * 16 * n // 7)])
    want = np.concatenate([drawn(e) for e in range(3 * 16)])
    np.testing.assert_array_equal(seen, want[: len(seen)])


def test_a_reset_to_another_seed_draws_that_seeds_order():
    ds = make_dataset("xor", n=40)
    net = Network(Config((2, 3, 1), seed=0), ds)
    net.step()
    net.reset(seed=6)
    fresh = Network(Config((2, 3, 1), seed=6), ds)
    np.testing.assert_array_equal(net.epoch_order(0), fresh.epoch_order(0))
    np.testing.assert_array_equal(net.step().indices, fresh.step().indices)


@pytest.mark.parametrize(
    "layers,hidden,output,batch",
    [
        ((2, 8, 8, 1), "tanh", "tanh", 4),
        ((2, 5, 5, 1), "sigmoid", "sigmoid", 1),
        ((2, 6, 1), "tanh", "identity", 3),
        ((2, 64, 64, 1), "tanh", "tanh", 2),
    ],
)
def test_a_step_continued_phase_by_phase_after_other_steps_is_the_same(
    layers, hidden, output, batch
):
    """θ' of the hidden layers is kept outside the trace: a backward pass continued
    from a Forward after the kernel did other steps must recompute it."""
    ds = make_dataset("xor", n=30)
    cfg = Config(layers, hidden, output, batch_size=batch, seed=3)
    net, twin = Network(cfg, ds), Network(cfg, ds)
    other = Network(Config(layers, hidden, output, batch_size=batch, seed=7), ds)
    other.run(3)
    fwd = net.begin()
    net.state, saved = other.state, net.state  # meanwhile, the kernel steps elsewhere
    net.step()
    net.state = saved
    got = net.apply(fwd, net.backward(fwd))
    want = twin.step()
    assert len(got.delta) == len(want.delta) == len(layers) - 1
    for a, b in zip(
        got.delta + got.grad + got.weights, want.delta + want.grad + want.weights, strict=True
    ):
        np.testing.assert_array_equal(a, b)
