"""What a shared run is made of: its events, its followers' queues and the share itself.

Memory is bounded in bytes: a share keeps its latest events, up to
BACKPROP_FOLLOW_BUFFER_BYTES, for pages that reconnect, and each follower's queue holds
up to as many bytes of the same events (shared, not copies: an event is kept once, as
its JSON). app/follow.py (FollowHub) publishes and streams them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from app.classroom_schemas import ExerciseMode
from app.exceptions import OutOfOrder
from app.exercise import StepNumbers

RECORDS = 8  # steps whose numbers a share keeps for exercise checks


def frame_bytes(seq: int, kind: str, data: str) -> bytes:
    """One server-sent event: id, type and a one-line JSON body."""
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode()


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    data: str  # JSON, one line, with "seq" and "kind" inside: the one copy kept
    step: int = -1  # the step a finished (not refused) step's trace belongs to

    @property
    def raw(self) -> bytes:
        """The event as sent."""
        return frame_bytes(self.seq, self.kind, self.data)

    @property
    def size(self) -> int:
        return len(self.data)


RESYNC = Event(0, "resync", "")  # queue marker: send a fresh state instead


@dataclass(eq=False)
class Follower:
    """One follow page's stream: granted by ``FollowHub.join``, claimed when it starts."""

    limit: int  # bytes of events the queue may hold
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    queued: int = 0
    granted_at: float = field(default_factory=time.monotonic)
    claimed: bool = False

    def offer(self, event: Event) -> None:
        if self.queued + event.size > self.limit and not self.queue.empty():
            # Too slow: what is queued is stale anyway; one fresh state replaces it.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queued = 0
            event = event if event.kind == "ended" else RESYNC
        self.queue.put_nowait(event)
        self.queued += event.size

    async def next(self, timeout: float) -> Event:
        event = await asyncio.wait_for(self.queue.get(), timeout)
        self.queued -= event.size
        return event


@dataclass(eq=False)
class Share:
    token: str
    session_id: str
    base_url: str
    seq: int = 0
    exercise: ExerciseMode | None = None
    followers: set[Follower] = field(default_factory=set)
    recent: deque[Event] = field(default_factory=deque)
    recent_bytes: int = 0
    frame: list[str] = field(default_factory=list)  # events of the step on show
    records: deque[StepNumbers] = field(default_factory=lambda: deque(maxlen=RECORDS))
    detached_at: float | None = None  # its session is gone; waiting to be continued
    ended: bool = False

    def since(self, last_id: int | None) -> list[Event] | None:
        """Events after ``last_id``, or None if some of them are no longer kept."""
        if last_id is None or last_id > self.seq:
            return None
        if last_id == self.seq:
            return []
        if not self.recent or self.recent[0].seq > last_id + 1:
            return None
        return [e for e in self.recent if e.seq > last_id]

    def step_frame(self, step: int) -> list[str]:
        """The last trace of ``step`` still kept: the step as it was (undo is exact)."""
        for event in reversed(self.recent):
            if event.step == step:
                return [event.data]
        return []

    def record(self, numbers: StepNumbers) -> None:
        if self.records and self.records[-1].step >= numbers.step:
            self.records.pop()  # the same step again (forward → update), or after an undo
        self.records.append(numbers)

    def numbers(self, step: int | None) -> StepNumbers:
        if not self.records:
            raise OutOfOrder("There is no step to predict yet: wait for the forward beat.")
        if step is None:
            return self.records[-1]
        for numbers in self.records:
            if numbers.step == step:
                return numbers
        raise OutOfOrder(
            f"Step {step} is no longer kept (the run is at step {self.records[-1].step}): "
            "predict the step on show."
        )
