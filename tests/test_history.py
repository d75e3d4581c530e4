"""The training curve in bounded memory (app/history.py): exact means, any length."""

from __future__ import annotations

import numpy as np
import pytest

from app.history import History, row_dtype


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


def test_history_rows_round_trip_exactly_after_compaction_and_truncation():
    def made() -> History:
        rng = np.random.default_rng(1)
        h = History(3, capacity=8)
        n = 37  # compacts twice, then an open point
        h.extend(np.arange(1, n + 1), rng.random(n), rng.random((n, 3)), rng.random((n, 3)))
        h.truncate(30)
        return h

    more = (np.arange(31, 41), np.ones(10), np.ones((10, 3)), np.ones((10, 3)))
    h = made()
    rows = History.from_rows(3, h.capacity, h.stride, h.rows(0, len(h)))
    for copy in (rows, History.from_dict(3, made().to_dict())):
        h = made()
        assert (copy.capacity, copy.stride, len(copy)) == (8, h.stride, len(h))
        for g in (None, more):  # equal, and it goes on exactly as the original does
            if g is not None:
                copy.extend(*g)
                h.extend(*g)
            a, b = copy.curve(), h.curve()
            for name in ("first", "step", "error", "grad_norm", "delta_mean_abs"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
    with pytest.raises(ValueError):
        History.from_rows(3, 8, 1, made().rows(0, 3)[:-8])


def test_points_before_changed_from_are_as_they_were_when_saved():
    """What a store relies on to rewrite only the pieces from ``changed_from`` on:
    through appends, open points, compactions and truncations, the points before it are
    byte for byte the ones last saved."""
    rng = np.random.default_rng(7)
    h = History(2, capacity=16)
    assert h.changed_from == 0
    saved, step, rewritten = b"", 0, []
    for _ in range(300):
        if rng.random() < 0.15 and step:
            step = int(rng.integers(0, step + 1))
            h.truncate(step)
        else:
            k = int(rng.integers(1, 12))
            steps = np.arange(step + 1, step + k + 1)
            h.extend(steps, rng.random(k), rng.random((k, 2)), rng.random((k, 2)))
            step += k
        assert 0 <= h.changed_from <= len(h)
        size = h.changed_from * row_dtype(2).itemsize
        assert h.rows(0, h.changed_from) == saved[:size]
        rewritten.append(len(h) - h.changed_from)
        h.mark_saved()
        saved = h.rows(0, len(h))
    # mostly the last point or two; all of them only after a compaction or a truncation
    assert np.median(rewritten) <= 2
