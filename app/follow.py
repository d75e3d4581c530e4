"""Follow mode: a read-only, live view of one session for a room full of browsers.

A teacher shares a session (``POST /api/sessions/{id}/share``) and gets a *follow
token*: a second, unguessable name for the run that can only watch. Follow pages
connect to ``GET /api/follow/{token}/events``, a stream of server-sent events. After
every change of the session (app/sessions.py tells the hub through ``on_change``) each
follower gets the JSON the teacher's page got for that call — the forward, backward or
whole-step trace — or, for changes that redraw everything (fast-forward, undo, reset,
new weights, η, batch size), a fresh ``state``. Each event carries an increasing id.

The session id never leaves the teacher's page: no event, follow route or error names
it, and every ``/api/sessions/{id}`` route refuses a token with 403.

Memory stays bounded, in bytes: a share keeps its latest events, up to
BACKPROP_FOLLOW_BUFFER_BYTES, for pages that reconnect (``Last-Event-ID``), and each
follower's queue holds up to as many bytes of the same events (shared, not copies; an
event is kept once, as its JSON); a follower that falls further behind loses its queue
and gets one fresh ``state`` instead. A share keeps the numbers of its last RECORDS steps
for exercise checks. Followers are counted when their stream is granted (the route), not
when it starts, so a crowd connecting at once cannot pass the caps. A share ends with its
session (deleted, expired, evicted) — unless the teacher's page moves it to the session
of a new setup within GRACE_SECONDS.

This module is what both kinds of hub share: the events made of a session's changes,
the ``state`` a follower starts from, the caps and the stream itself. Where shares and
their events are kept is the subclass's: ``MemoryHub`` (app/follow_memory.py) in this
process, ``RedisHub`` (app/follow_redis.py) in Redis, so that followers connected to any
worker see every step of a teacher served by any other. ``open_hub`` picks the one that
matches the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from app import budget
from app.classroom_schemas import ExerciseMode
from app.exceptions import NotFound, OutOfOrder, Refused, TooMany
from app.exercise import StepNumbers
from app.follow_events import publication, session_part
from app.sessions import Session
from app.settings import Settings
from app.shares import (
    CLOSE,
    RESYNC,
    Event,
    Follower,
    Publication,
    Share,
    frame_bytes,
    frame_text,
    share_part,
)
from app.store import Store

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing the stream
RETRY_MS = 2000  # how soon a browser's EventSource reconnects after a dropped stream
UNCLAIMED_SECONDS = 10.0  # a granted stream that never started is forgotten after this
GRACE_SECONDS = 120.0

READ_ONLY = (
    "This is a read-only follow link: it can watch the shared run but not step, change or "
    "delete it, and it does not give the run's session id. Open the run with "
    "/follow?token=<this token>, or read it under /api/follow/<this token>."
)
NOT_SHARED = (
    "This follow link is not valid (any more): the teacher stopped sharing, the run "
    "expired, or the server restarted. Ask the teacher for the new link."
)
NOT_SHARED_YET = "This session is not shared: POST …/share to share it first."
RUN_ENDED = "The teacher's run has ended; the page is waiting for the teacher's next one."


def open_hub(store: Store, settings: Settings) -> FollowHub:
    """The hub for this store: shares in Redis when the sessions are."""
    from app.follow_memory import MemoryHub
    from app.store import SessionStore

    if isinstance(store, SessionStore):
        return MemoryHub(store, settings)
    from app.follow_redis import RedisHub

    return RedisHub(store, settings)


class FollowHub(ABC):
    """Shares by token and by session; the store's hooks feed it."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.followers = 0  # streams granted by this process
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._signals: dict[int, Any] = {}
        store.on_change = self._changed
        store.on_forget = self._forgot
        store.guard = self._guard

    # ------------------------------------------------------- what a backend keeps
    async def share(
        self, session: Session, base_url: str, continue_from: str | None = None
    ) -> Share:
        """Share the session (again: the same token), or move the share of
        ``continue_from`` (the teacher's previous setup) to it. A shared run must fit the
        tighter budget of a shared session."""
        layers, batch = session.net.config.layers, session.net.config.batch_size
        budget.check_session(layers, batch, session.dataset.size, self.settings, shared=True)
        session.shared = True
        return await self._share(session, base_url, continue_from)

    @abstractmethod
    async def _share(self, session: Session, base_url: str, continue_from: str | None) -> Share:
        """``share`` as the backend keeps it, once the session may be shared."""

    @abstractmethod
    async def shared(self, session: Session) -> Share:
        """The session's share (NotFound if it is not shared)."""

    @abstractmethod
    async def unshare(self, session: Session) -> None: ...

    @abstractmethod
    async def set_exercise(self, share: Share, exercise: ExerciseMode | None) -> Share: ...

    @abstractmethod
    async def by_token(self, token: str) -> Share:
        """The share of a follow token as it is now (NotFound: NOT_SHARED)."""

    @abstractmethod
    async def numbers(self, share: Share, step: int | None) -> StepNumbers:
        """A kept step's numbers for an exercise check (the latest if ``step`` is None)."""

    @abstractmethod
    async def _guard(self, sid: str) -> None:
        """Raise ReadOnly if ``sid`` is a live follow token."""

    @abstractmethod
    def _forgot(self, sid: str) -> None:
        """The store forgot the session: pause its share for GRACE_SECONDS."""

    @abstractmethod
    def _deliver(self, session: Session, publications: list[Publication]) -> None:
        """Publish a session's change, in order with its other changes."""

    @abstractmethod
    def _followers_of(self, share: Share) -> set[Follower]:
        """The followers this process streams the share to."""

    @abstractmethod
    def _streamed(self) -> list[tuple[Share, set[Follower]]]:
        """Every share this process streams, with its followers here."""

    @abstractmethod
    def _leave(self, share: Share, follower: Follower) -> None: ...

    @abstractmethod
    async def _since(self, share: Share, last_id: int | None) -> list[Event] | None:
        """Events after ``last_id``, or None if some of them are no longer kept."""

    @abstractmethod
    async def _now(self, share: Share) -> Share:
        """The share as it is now (seq, frame, ended …)."""

    @abstractmethod
    async def _last_event(self, share: Share) -> Event | None: ...

    @abstractmethod
    async def _prune(self) -> None:
        """End shares whose session went away longer than GRACE_SECONDS ago."""

    @abstractmethod
    def close(self) -> None:
        """The process stops: end the streams it serves."""

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Called in the lifespan, on the event loop that serves requests."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        # uvicorn waits for open responses before it shuts down, and an event stream
        # never finishes: on Ctrl+C / SIGTERM end the streams first, then let uvicorn
        # handle the signal as usual. (Only possible in the main thread.)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous = signal.getsignal(sig)
                if callable(previous):
                    self._signals[sig] = previous
                    signal.signal(sig, self._on_signal)

    def _on_signal(self, sig: int, frame: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.close)
        previous = self._signals.get(sig)
        if callable(previous):
            previous(sig, frame)

    def _restore_signals(self) -> None:
        for sig, previous in self._signals.items():
            with contextlib.suppress(ValueError):
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, previous)
        self._signals.clear()

    # ------------------------------------------------------------ the events
    def _state_event(self, share: Share, session: Session, reason: str) -> bytes:
        """A ``state`` event for the run now (not stored: it is for one follower)."""
        data = f'{{"seq":{share.seq},"kind":"state","reason":"{reason}",'
        data += f"{self.follow_body(share, session)}}}"
        return frame_bytes(share.seq, "state", data)

    def follow_body(self, share: Share, session: Session) -> str:
        exercise = share.exercise.model_dump_json() if share.exercise else "null"
        part = share_part(exercise, share.follower_count, frame_text(share.frame))
        return session_part(session) + part

    def follow_json(self, share: Share, session: Session) -> str:
        """GET /api/follow/{token}: the same as a ``state`` event."""
        return f'{{"seq":{share.seq},{self.follow_body(share, session)}}}'

    def _changed(self, session: Session, kind: str, detail: Any) -> None:
        """Session.on_change: the change as an event for the share's followers, built
        here, under the session's lock (a fast-forward calls from a worker thread); the
        backend sends it in order with the session's other changes."""
        if session.shared:
            self._deliver(session, [publication(session, kind, detail)])

    # ------------------------------------------------------------ followers
    async def session_of(self, share: Share) -> Session:
        """The shared session, read without counting as the teacher's use. A run that
        ended (a new setup, deleted, or expired just now) gets one answer: 409, RUN_ENDED."""
        if share.detached_at is None:
            with contextlib.suppress(NotFound):  # expired: the store tells _forgot
                return await self.store.peek(share.session_id)
        raise OutOfOrder(RUN_ENDED)

    def join(self, share: Share) -> Follower:
        """Grant a follow stream, counted at once (refused past the caps); the stream
        claims it when it starts, or it is forgotten after UNCLAIMED_SECONDS. The caps
        hold per process (with Redis: per worker)."""
        self._forget_unclaimed()
        followers = self._followers_of(share)
        if len(followers) >= self.settings.max_followers_per_session:
            raise TooMany(
                f"This run already has {len(followers)} followers, the limit "
                f"(BACKPROP_MAX_FOLLOWERS_PER_SESSION = "
                f"{self.settings.max_followers_per_session})."
            )
        if self.followers >= self.settings.max_followers:
            raise TooMany(
                f"The server has {self.followers} followers, its limit "
                f"(BACKPROP_MAX_FOLLOWERS = {self.settings.max_followers})."
            )
        follower = Follower(self.settings.follow_buffer_bytes)
        followers.add(follower)
        self.followers += 1
        self._joined(share, follower)
        return follower

    @abstractmethod
    def _joined(self, share: Share, follower: Follower) -> None:
        """A follower was granted (Redis: start this worker's reader of the share)."""

    def _forget_unclaimed(self) -> None:
        limit = time.monotonic() - UNCLAIMED_SECONDS
        for share, followers in self._streamed():
            for follower in [f for f in followers if not f.claimed and f.granted_at < limit]:
                self._leave(share, follower)

    async def stream(
        self, share: Share, follower: Follower, last_event_id: int | None
    ) -> AsyncIterator[bytes]:
        """The event stream of one follower, from the state now (or where it left off)."""
        follower.claimed = True
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            # Whatever was published since the follower joined is in its queue too;
            # events up to `last` (what was sent) are skipped there.
            missed = await self._since(share, last_event_id)
            if missed is None:
                first, last = await self._fresh(share, "connect")
                if first is None:
                    return
                yield first
            else:
                last = missed[-1].seq if missed else last_event_id
                for event in missed:
                    yield event.raw
            while True:
                try:
                    event = await follower.next(KEEPALIVE_SECONDS)
                except TimeoutError:
                    await self._prune()
                    if (await self._now(share)).ended:
                        return
                    yield b": keep-alive\n\n"
                    continue
                if event is CLOSE:
                    return  # the page reconnects, to another worker, and replays
                if event is RESYNC:
                    fresh, seq = await self._fresh(share, "resync")
                    if fresh is None:
                        return
                    last = seq
                    yield fresh
                    continue
                if event.seq <= last:
                    continue  # already in the fresh state
                events = [event]
                if event.seq > last + 1:
                    # Published before this worker's reader had this follower (Redis):
                    # fetch what is between, or start from a fresh state.
                    events = await self._since(share, last)
                    if events is None:
                        fresh, last = await self._fresh(share, "resync")
                        if fresh is None:
                            return
                        yield fresh
                        continue
                for e in events:
                    last = e.seq
                    yield e.raw
                    if e.kind == "ended":
                        return
        finally:
            self._leave(share, follower)

    async def _fresh(self, share: Share, reason: str) -> tuple[bytes | None, int]:
        """A ``state`` event for the run now and its number (None: nothing to send)."""
        share = await self._now(share)
        if share.ended:
            event = await self._last_event(share)
            if event is not None and event.kind == "ended":
                return event.raw, event.seq
            return None, share.seq
        if share.detached_at is not None:
            data = (
                f'{{"seq":{share.seq},"kind":"paused","message":"The teacher\'s run has ended; '
                f"this page waits for the teacher's next run.\"}}"
            )
            return frame_bytes(share.seq, "paused", data), share.seq
        try:
            session = await self.store.peek(share.session_id)
        except Refused:  # gone, or the store is unreachable: the page reconnects
            return None, share.seq
        return self._state_event(share, session, reason), share.seq
