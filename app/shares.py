"""What a shared run is made of: its events, its followers' queues and the share itself.

Memory is bounded in bytes: a share keeps its latest events, up to
BACKPROP_FOLLOW_BUFFER_BYTES, for pages that reconnect, and each follower's queue holds
up to as many bytes of the same events (shared, not copies: an event is kept once, as
its JSON). app/follow.py (FollowHub) publishes and streams them; the share is kept in
the process (app/follow_memory.py) or in Redis (app/follow_redis.py).
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
CLOSE = Event(0, "close", "")  # queue marker: this worker stops; end the stream quietly


@dataclass(frozen=True)
class Publication:
    """One event as the hub builds it, before it has a number.

    ``frame`` says what the step on show becomes: None, by the kind (``forward`` and
    ``step`` start it, ``backward`` and ``update`` add to it, the rest leave it); a list,
    exactly that (and the kept step numbers are cleared); an int, the last trace of that
    step still kept (undo: the step as it was; kept numbers after it are dropped). A
    ``state`` event's body ends before its share's part (exercise, followers, frame),
    which is added when it is published.
    """

    kind: str
    body: str  # JSON members after "seq" and "kind"
    step: int = -1  # see Event.step
    frame: list[str] | int | None = None
    record: StepNumbers | None = None  # numbers of the step to keep for exercise checks


def share_part(exercise: str, followers: int, frame: str) -> str:
    """The members of a ``state`` that belong to the share: JSON texts, one number."""
    return f',"exercise":{exercise},"followers":{followers},"frame":{frame}'


def frame_text(frame: list[str]) -> str:
    return f"[{','.join(frame)}]"


def choose(steps: list[int], step: int | None) -> int:
    """Which of the kept steps (oldest first) a check means; 409 if none."""
    if not steps:
        raise OutOfOrder("There is no step to predict yet: wait for the forward beat.")
    if step is None:
        return len(steps) - 1
    if step in steps:
        return steps.index(step)
    raise OutOfOrder(
        f"Step {step} is no longer kept (the run is at step {steps[-1]}): predict the step on show."
    )


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
    watching: int | None = None  # followers on every worker, when kept in Redis

    @property
    def follower_count(self) -> int:
        return len(self.followers) if self.watching is None else self.watching

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
        return self.records[choose([r.step for r in self.records], step)]
