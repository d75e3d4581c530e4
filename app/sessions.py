"""Sessions: one network, its history and its undo stack per browser.

A session's state is small and serialisable (``Session.snapshot``): the config, the
weights, the step, and the epoch position — the example order of epoch e is a pure
function of (seed, e), so that *is* the RNG state. Sessions expire when idle, the
least recently used one is evicted when the store is full, and each has an
``asyncio.Lock`` so concurrent requests on one session run one after the other.

Where sessions are kept is app/store.py (in this process, the default) or
app/redis_store.py (in Redis, shared by several worker processes and hosts).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app import budget
from app.exceptions import Invalid, OutOfOrder, sentence
from app.history import History
from app.schemas import DatasetConfig, SessionConfig
from app.settings import Settings
from app.snapshot import HistorySnapshot, Snapshot
from engine import Backward, Forward, Network, RunRecord, State, StepTrace
from engine.network import EXPLODED_MESSAGE


def check_limits(config: SessionConfig, settings: Settings) -> None:
    """The configurable limits, each named in its message (422)."""
    hidden = config.layers[1:-1]
    if len(hidden) > settings.max_hidden_layers:
        raise Invalid(
            f"The network has {len(hidden)} hidden layers; the limit is "
            f"{settings.max_hidden_layers} (BACKPROP_MAX_HIDDEN_LAYERS)."
        )
    for l, d in enumerate(config.layers):
        if d > settings.max_units:
            raise Invalid(
                f"Layer {l} has {d} units; the limit is {settings.max_units} per layer "
                "(BACKPROP_MAX_UNITS)."
            )
    n = config.dataset.size
    if n > settings.max_samples:
        raise Invalid(
            f"The dataset has {n} points; the limit is {settings.max_samples} "
            "(BACKPROP_MAX_SAMPLES)."
        )
    budget.check_session(config.layers, config.batch_size, n, settings)


def build_network(config: SessionConfig, settings: Settings, weights=None) -> Network:
    check_limits(config, settings)
    try:
        return Network(config.engine_config(), config.dataset.build(), weights)
    except ValueError as e:
        raise Invalid(sentence(e)) from None


NO_SESSION = (
    "There is no session with this id: it expired after being idle, was deleted, or the "
    "server restarted. Create a new one."
)


def new_id() -> str:
    return secrets.token_hex(16)  # 128 bits


# Told after every change of a session's state, with what changed:
#   "forward" (Forward, message)      "backward" (step, Backward, message)
#   "update", "step" StepTrace        "train" RunRecord
#   "undo", "reset", "weights", "patch" None
# The follow hub (app/follow.py) listens, to show a shared run to its followers.
ChangeHook = Callable[["Session", str, Any], None]


@dataclass
class Session:
    """One browser's run. Its configuration is the network's (which η, B and the seed
    change during the run) and the data set it was built with."""

    id: str
    dataset: DatasetConfig
    net: Network
    history: History
    undo: deque[State]
    settings: Settings
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    pending: Forward | None = None  # forward done, backward not yet
    pending_backward: Backward | None = None  # backward done, update not yet
    on_change: ChangeHook | None = None
    last_trace: StepTrace | None = None  # the latest applied step (for exports)
    shared: bool = False  # its follow buffer counts in its memory budget (app/budget.py)

    @property
    def config(self) -> SessionConfig:
        return SessionConfig.from_engine(self.net.config, self.dataset)

    def current_trace(self) -> StepTrace | None:
        """The latest step's trace if the weights are still the ones it produced (the
        same numbers: after an undo back to them too, and read back from any store)."""
        t = self.last_trace
        if t is None:
            return None
        pairs = zip(t.weights, self.net.weights, strict=True)
        return t if all(a is b or np.array_equal(a, b) for a, b in pairs) else None

    def _changed(self, kind: str, detail: Any = None) -> None:
        if self.on_change is not None:
            self.on_change(self, kind, detail)

    # ----------------------------------------------------------- phases
    @property
    def phase(self) -> str:
        if self.pending is None:
            return "none"
        return "forward" if self.pending_backward is None else "backward"

    def _push_undo(self) -> None:
        self.undo.append(self.net.snapshot())

    def _record(self, trace: StepTrace) -> None:
        self.last_trace = trace
        self.history.append(trace.step, trace.error, trace.grad_norm, trace.delta_mean_abs)

    def check_indices(self, indices) -> None:
        if indices is None:
            return
        budget.check_indices(len(indices), self.settings)
        if max(indices) >= self.net.n_train:
            raise Invalid(
                f"Example indices must be between 0 and {self.net.n_train - 1} "
                f"(the training set has {self.net.n_train} examples)."
            )

    def forward(self, indices=None) -> tuple[Forward, str]:
        if self.pending is not None:
            nxt = "backward" if self.pending_backward is None else "update"
            raise OutOfOrder(
                f"Step {self.pending.step} is in progress: its forward pass is done, call "
                f"{nxt} next (or undo to cancel it)."
            )
        self.check_indices(indices)
        fwd = self.net.begin(indices)
        if not fwd.finite:
            message = EXPLODED_MESSAGE.format(eta=self.net.config.learning_rate)
            self._changed("forward", (fwd, message))
            return fwd, message
        self.pending = fwd
        self._changed("forward", (fwd, ""))
        return fwd, ""

    def backward(self) -> tuple[int, Backward, str]:
        if self.pending is None:
            raise OutOfOrder("There is no forward pass to go back through: call forward first.")
        if self.pending_backward is not None:
            raise OutOfOrder("The backward pass of this step is done: call update next.")
        bwd = self.net.backward(self.pending)
        step = self.pending.step
        if not bwd.finite:
            self.pending = None
            message = EXPLODED_MESSAGE.format(eta=self.net.config.learning_rate)
            self._changed("backward", (step, bwd, message))
            return step, bwd, message
        self.pending_backward = bwd
        self._changed("backward", (step, bwd, ""))
        return step, bwd, ""

    def update(self) -> StepTrace:
        if self.pending is None or self.pending_backward is None:
            first = "forward" if self.pending is None else "backward"
            raise OutOfOrder(f"There is no gradient to apply yet: call {first} first.")
        snap = self.net.snapshot()
        trace = self.net.apply(self.pending, self.pending_backward)
        self.pending = self.pending_backward = None
        if not trace.diverged:
            self.undo.append(snap)
            self._record(trace)
        self._changed("update", trace)
        return trace

    def step(self, indices=None) -> StepTrace:
        """All three phases, or the rest of a step whose forward pass is done."""
        if self.pending is not None:
            if indices is not None:
                raise OutOfOrder(
                    f"Step {self.pending.step} is in progress with its own examples: finish "
                    "it (backward, update) or undo to cancel it before choosing examples."
                )
            if self.pending_backward is None:
                _, _, msg = self.backward()
                if msg:
                    return self._refused(msg)
            return self.update()
        self.check_indices(indices)
        snap = self.net.snapshot()
        trace = self.net.step(indices)
        if not trace.diverged:
            self.undo.append(snap)
            self._record(trace)
        self._changed("step", trace)
        return trace

    def _refused(self, message: str) -> StepTrace:
        empty = np.empty((0,))
        eta = self.net.config.learning_rate
        return StepTrace(
            self.net.state.step, empty, np.empty((0, 0)), empty, math.nan, eta,
            diverged=True, message=message,
        )  # fmt: skip

    def _cancel_pending(self) -> None:
        self.pending = self.pending_backward = None

    def train(self, steps: int) -> tuple[RunRecord, str]:
        """Fast-forward up to ``steps`` (capped), in chunks, within the time limit.

        Chunks are sized by the measured cost of a step (the first chunk is one step),
        each to take about a tenth of the limit, so a call ends within about 10 % of
        BACKPROP_TRAIN_TIME_LIMIT_SECONDS (plus at most one step)."""
        if self.pending is not None:
            raise OutOfOrder(
                "A step is in progress: finish it (backward, update) or undo to cancel it."
            )
        limit = self.settings.train_time_limit_seconds
        todo = min(steps, self.settings.max_steps_per_call)
        start = time.monotonic()
        self._push_undo()
        records, done, n = [], 0, 1
        stopped = "done" if todo == steps else "limit"
        while done < todo:
            rec = self.net.run(min(n, todo - done))
            records.append(rec)
            done += len(rec.steps)
            self.history.extend(rec.steps, rec.error, rec.grad_norm, rec.delta_mean_abs)
            if rec.diverged:
                stopped = "diverged"
                break
            spent = time.monotonic() - start
            left = limit - spent
            if done < todo and left <= 0:
                stopped = "time"
                break
            per_step = spent / done
            n = max(1, min(int(min(0.1 * limit, left) / per_step), 10_000))
        if done == 0:
            self.undo.pop()  # nothing changed: nothing to undo
        L = self.net.config.depth
        merged = RunRecord(
            np.concatenate([r.steps for r in records]) if records else np.empty(0, np.int64),
            np.concatenate([r.error for r in records]) if records else np.empty(0),
            np.concatenate([r.grad_norm for r in records]) if records else np.empty((0, L)),
            np.concatenate([r.delta_mean_abs for r in records]) if records else np.empty((0, L)),
            stopped == "diverged",
            records[-1].message if records else "",
        )
        self._changed("train", merged)
        return merged, stopped

    # ------------------------------------------------------------- state
    def undo_last(self) -> None:
        if self.pending is not None:
            self._cancel_pending()  # undo a half-done step: nothing else changed
            self._changed("undo")
            return
        if not self.undo:
            raise OutOfOrder("There is nothing to undo.")
        self.net.restore(self.undo.pop())
        self.history.truncate(self.net.state.step)
        self._changed("undo")

    def reset(self, seed: int | None) -> None:
        self._cancel_pending()
        self._push_undo()
        self.net.reset(seed)
        self.history.truncate(0)
        self._changed("reset")

    def set_weights(self, weights) -> None:
        try:
            checked = self.net.check_weights(weights)
        except ValueError as e:
            raise Invalid(sentence(e)) from None
        self._cancel_pending()
        self._push_undo()
        self.net.set_weights(checked)
        self._changed("weights")

    def patch(
        self, learning_rate: float | None, batch_size: int | None, regularization=None
    ) -> None:
        if batch_size is not None:  # checked first: a refused patch changes nothing
            layers, points = self.net.config.layers, self.dataset.size
            budget.check_session(layers, batch_size, points, self.settings, self.shared)
            depth = budget.undo_depth(layers, batch_size, points, self.settings)
            self.undo = deque(self.undo, maxlen=depth)  # bigger traces: fewer undo steps
        if learning_rate is not None:
            self.net.set_learning_rate(learning_rate)
        if batch_size is not None:
            self.net.set_batch_size(batch_size)
        if regularization is not None:
            self.net.set_regularization(regularization.kind, regularization.strength)
        self._changed("patch")

    def snapshot(self) -> Snapshot:
        st = self.net.state
        return Snapshot(
            config=self.config,
            step=st.step,
            epoch=st.epoch,
            position=st.position,
            weights=[w.tolist() for w in st.weights],
            history=HistorySnapshot(**self.history.to_dict()),
        )
