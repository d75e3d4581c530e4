"""The training curve of a run in bounded memory.

Per step: the error e (mean over the mini-batch) and, per layer, ‖G(l)‖_F and mean |δ(l)|.
At most ``capacity`` points are kept. When the store is full, neighbouring points are
merged pairwise (their means weighted by the number of steps they cover) and every
new point covers twice as many steps as before: after n steps each point covers
2^k ≥ n / capacity steps. Recent and old steps have the same resolution, so a chart of
100 000 steps is ``capacity`` points at most, and every point is an exact mean.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
# A point's numbers, as History.to_dict names them and row_dtype orders them.
COLUMNS = ("first", "last", "count", "error", "grad_norm", "delta_mean_abs")


@dataclass(frozen=True)
class Curve:
    """Points of a history; rows are points, columns of the 2-D arrays are layers 1 … L."""

    first: Array  # first step a point covers
    step: Array  # last step a point covers
    error: Array
    grad_norm: Array
    delta_mean_abs: Array


class History:
    def __init__(self, depth: int, capacity: int = 4096) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError("the history capacity must be an even number >= 2")
        self.depth, self.capacity = depth, capacity
        self._n = 0
        self.stride = 1  # steps per completed point
        # Points before this one are as they were at the last mark_saved(): a store
        # that keeps the points in pieces rewrites only the pieces from here on.
        self.changed_from = 0
        self._allocate(min(capacity, 64))  # grown on demand: most sessions stay short

    def _allocate(self, size: int) -> None:
        """(Re)allocate the columns with room for ``size`` points, keeping the first n."""
        n, d = self._n, self.depth
        old = getattr(self, "_first", None)
        cols = {
            "_first": np.zeros(size, np.int64),
            "_last": np.zeros(size, np.int64),
            "_count": np.zeros(size, np.int64),
            "_error": np.zeros(size),
            "_gn": np.zeros((size, d)),
            "_dm": np.zeros((size, d)),
        }
        for name, col in cols.items():
            if old is not None:
                col[:n] = getattr(self, name)[:n]
            setattr(self, name, col)

    def __len__(self) -> int:
        return self._n

    @property
    def last_step(self) -> int:
        return int(self._last[self._n - 1]) if self._n else 0

    def append(self, step: int, error: float, grad_norm, delta_mean_abs) -> None:
        self.extend(
            np.array([step]), np.array([error]), np.array([grad_norm]), np.array([delta_mean_abs])
        )

    def extend(self, steps: Array, error: Array, grad_norm: Array, delta_mean_abs: Array) -> None:
        """Add consecutive steps (as recorded by ``Network.run``).

        The open last point is filled first; the rest become new points of ``stride``
        steps each, written in one pass (compacting first whenever the store is full).
        """
        i, total = 0, len(steps)
        n = self._n
        if total and n and self._count[n - 1] < self.stride:  # fill the open point
            i = min(self.stride - int(self._count[n - 1]), total)
            self.changed_from = min(self.changed_from, n - 1)
            self._merge_into(n - 1, steps, error, grad_norm, delta_mean_abs, 0, i)
        while i < total:
            n = self._n
            if n == self.capacity:
                self._compact()
                continue
            g = self.stride
            points = min(self.capacity - n, -(-(total - i) // g))
            take = min(total - i, points * g)
            size = len(self._first)
            while size < n + points:  # grow by doubling, as far as the capacity
                size *= 2
            if size > len(self._first):
                self._allocate(min(size, self.capacity))
            new = slice(n, n + points)
            self.changed_from = min(self.changed_from, n)
            sl = slice(i, i + take)
            starts = np.arange(0, take, g)
            self._first[new] = steps[sl][starts]
            self._last[new] = steps[sl][np.minimum(starts + g, take) - 1]
            if g == 1:
                self._count[new] = 1
                self._error[new] = error[sl]
                self._gn[new] = grad_norm[sl]
                self._dm[new] = delta_mean_abs[sl]
            else:
                count = np.diff(np.append(starts, take))
                self._count[new] = count
                self._error[new] = np.add.reduceat(error[sl], starts) / count
                self._gn[new] = np.add.reduceat(grad_norm[sl], starts) / count[:, None]
                self._dm[new] = np.add.reduceat(delta_mean_abs[sl], starts) / count[:, None]
            self._n = n + points
            i += take

    def _merge_into(self, k, steps, error, gn, dm, a, b) -> None:
        c, m = int(self._count[k]), b - a
        w_old, w_new = c / (c + m), m / (c + m)
        self._error[k] = self._error[k] * w_old + error[a:b].mean() * w_new
        self._gn[k] = self._gn[k] * w_old + gn[a:b].mean(axis=0) * w_new
        self._dm[k] = self._dm[k] * w_old + dm[a:b].mean(axis=0) * w_new
        self._count[k] = c + m
        self._last[k] = steps[b - 1]

    def _compact(self) -> None:
        """Merge points pairwise: half the points, each covering twice the steps."""
        n = self._n
        c = self._count[:n].reshape(-1, 2).astype(np.float64)
        w = c / c.sum(axis=1, keepdims=True)
        half = n // 2
        self._error[:half] = (self._error[:n].reshape(-1, 2) * w).sum(axis=1)
        self._gn[:half] = (self._gn[:n].reshape(-1, 2, self.depth) * w[:, :, None]).sum(axis=1)
        self._dm[:half] = (self._dm[:n].reshape(-1, 2, self.depth) * w[:, :, None]).sum(axis=1)
        self._first[:half] = self._first[:n:2]
        self._last[:half] = self._last[1:n:2]
        self._count[:half] = self._count[:n].reshape(-1, 2).sum(axis=1)
        self._n = half
        self.stride *= 2
        self.changed_from = 0

    def truncate(self, step: int) -> None:
        """Forget the steps after ``step`` (after an undo or a reset).

        A merged point that covers steps on both sides of ``step`` cannot be split
        exactly: it is cut to end at ``step`` (its count with it) and keeps its mean, an
        approximation for at most one point, so that no step is counted twice when the
        run goes on from ``step``.
        """
        n = self._n = int(np.searchsorted(self._first[: self._n], step, side="right"))
        self.changed_from = min(self.changed_from, n)
        if n and self._last[n - 1] > step:
            self._count[n - 1] = step - self._first[n - 1] + 1
            self._last[n - 1] = step
            self.changed_from = n - 1
        if step == 0:
            self.stride = 1

    def curve(self, since: int = 0, max_points: int | None = None) -> Curve:
        """Points whose last step is > ``since``, averaged down to ``max_points`` if needed.

        Downsampling groups g = ⌈n / max_points⌉ consecutive points into one, the mean
        over the steps they cover; its ``step`` is the last step of the group.
        """
        n = self._n
        lo = int(np.searchsorted(self._last[:n], since, side="right"))
        sl = slice(lo, n)
        first, last, count = self._first[sl], self._last[sl], self._count[sl]
        err, gn, dm = self._error[sl], self._gn[sl], self._dm[sl]
        m = n - lo
        if max_points is not None and m > max_points:
            g = -(-m // max_points)
            starts = np.arange(0, m, g)
            w = count.astype(np.float64)
            csum = np.add.reduceat(w, starts)
            err = np.add.reduceat(err * w, starts) / csum
            gn = np.add.reduceat(gn * w[:, None], starts) / csum[:, None]
            dm = np.add.reduceat(dm * w[:, None], starts) / csum[:, None]
            first = first[starts]
            last = last[np.minimum(starts + g, m) - 1]
        return Curve(first.copy(), last.copy(), err.copy(), gn.copy(), dm.copy())

    # -------------------------------------------------------- serialisation
    def mark_saved(self) -> None:
        """A store now holds every point as it is (see ``changed_from``)."""
        self.changed_from = self._n

    def _arrays(self, start: int = 0, stop: int | None = None) -> dict[str, Array]:
        sl = slice(start, self._n if stop is None else stop)
        cols = (self._first, self._last, self._count, self._error, self._gn, self._dm)
        return {name: col[sl] for name, col in zip(COLUMNS, cols, strict=True)}

    def to_dict(self) -> dict:
        columns = {name: a.tolist() for name, a in self._arrays().items()}
        return {"capacity": self.capacity, "stride": self.stride, **columns}

    def rows(self, start: int, stop: int) -> bytes:
        """Points start … stop - 1 as raw records (``row_dtype``), one after the other:
        a store keeps a long history in pieces and rewrites only the ones that changed."""
        records = np.empty(stop - start, row_dtype(self.depth))
        for name, column in self._arrays(start, stop).items():
            records[name] = column
        return records.tobytes()

    @classmethod
    def from_rows(cls, depth: int, capacity: int, stride: int, data: bytes) -> History:
        """The history whose points ``rows`` gave, in order, marked as saved."""
        records = np.frombuffer(data, row_dtype(depth))
        columns = {name: records[name] for name in records.dtype.names}
        history = cls.from_dict(depth, {"capacity": capacity, "stride": stride, **columns})
        history.mark_saved()
        return history

    @classmethod
    def from_dict(cls, depth: int, data: dict) -> History:
        h = cls(depth, int(data["capacity"]))
        n = len(data["first"])
        if n > h.capacity:
            raise ValueError("the history has more points than its capacity")
        h._allocate(max(n, len(h._first)))
        h._n, h.stride = n, int(data["stride"])
        h._first[:n] = data["first"]
        h._last[:n] = data["last"]
        h._count[:n] = data["count"]
        h._error[:n] = data["error"]
        if n:
            h._gn[:n] = np.asarray(data["grad_norm"], dtype=np.float64).reshape(n, depth)
            h._dm[:n] = np.asarray(data["delta_mean_abs"], dtype=np.float64).reshape(n, depth)
        return h


@functools.cache
def row_dtype(depth: int) -> np.dtype:
    """One point of a history as a record, its fields COLUMNS in order (the last two
    have a number per layer), little-endian: the same bytes on every host."""
    first, last, count, error, grad_norm, delta_mean_abs = COLUMNS
    return np.dtype(
        [
            (first, "<i8"),
            (last, "<i8"),
            (count, "<i8"),
            (error, "<f8"),
            (grad_norm, "<f8", (depth,)),
            (delta_mean_abs, "<f8", (depth,)),
        ]
    )
