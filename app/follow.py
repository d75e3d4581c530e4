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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from app import budget
from app.classroom_schemas import ExerciseMode
from app.encode import backward_document, dumps, forward_document, step_document
from app.exceptions import NotFound, OutOfOrder, ReadOnly, Refused, TooMany
from app.exercise import StepNumbers
from app.schemas import State, progress_dict
from app.sessions import Session
from app.settings import Settings
from app.shares import RECORDS, RESYNC, Event, Follower, Share, frame_bytes
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


RUN_ENDED = "The teacher's run has ended; the page is waiting for the teacher's next one."


class FollowHub:
    """Shares by token and by session; the store's hooks feed it."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._by_token: dict[str, Share] = {}
        self._by_session: dict[str, Share] = {}
        self.followers = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._signals: dict[int, Any] = {}
        store.on_change = self._changed
        store.on_forget = self._forgot
        store.guard = self._guard

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

    def close(self) -> None:
        """End every share: followers get ``ended`` and their streams finish."""
        for share in list(self._by_token.values()):
            self._end(share, "The server is shutting down.")
        for sig, previous in self._signals.items():
            with contextlib.suppress(ValueError):
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, previous)
        self._signals.clear()

    # ---------------------------------------------------------------- shares
    def share(self, session: Session, base_url: str, continue_from: str | None = None) -> Share:
        layers, batch = session.net.config.layers, session.net.config.batch_size
        budget.check_session(layers, batch, session.dataset.size, self.settings, shared=True)
        session.shared = True
        self._prune()
        share = self._by_session.get(session.id)
        if share is None and continue_from:
            share = self._continue(session, continue_from)
        if share is None:
            share = Share(secrets.token_urlsafe(24), session.id, base_url)  # 192 bits
            self._by_token[share.token] = share
            self._by_session[session.id] = share
            self._seed(share, session)
        share.base_url = base_url
        return share

    def _seed(self, share: Share, session: Session) -> None:
        """The step on show when sharing starts (the teacher may have stepped before
        sharing): a follower who joins sees it at once, in the teacher's beat."""
        frame: list[str] = []

        def event(kind: str, document: Any) -> str:
            return f'{{"seq":{share.seq},"kind":"{kind}","trace":{dumps(document).decode()}}}'

        if session.pending is not None:
            fwd, bwd = session.pending, session.pending_backward
            frame.append(event("forward", forward_document(fwd, "")))
            if bwd is not None:
                frame.append(event("backward", backward_document(fwd.step, bwd, "")))
            share.record(
                StepNumbers.pending(fwd, bwd or session.net.backward(fwd), session.net.weights)
            )
        elif (trace := session.current_trace()) is not None:
            progress = progress_dict(session.net, session.phase, len(session.undo))
            frame.append(event("step", step_document(trace, progress)))
            share.record(StepNumbers.done(trace, None))
        share.frame = frame

    def _continue(self, session: Session, old_id: str) -> Share | None:
        """Move the share of ``old_id`` (the teacher's previous setup) to ``session``."""
        # Knowing the old id is the proof: it is the teacher's own key to the old run.
        share = self._by_session.get(old_id)
        if share is None or share.ended:
            return None
        del self._by_session[old_id]
        share.session_id = session.id
        share.detached_at = None
        share.records.clear()
        share.frame = []
        self._by_session[session.id] = share
        self._publish_state(share, session, "continue")
        return share

    def shared(self, session: Session) -> Share:
        share = self._by_session.get(session.id)
        if share is None or share.ended:
            raise NotFound("This session is not shared: POST …/share to share it first.")
        return share

    def unshare(self, session: Session) -> None:
        self._end(self.shared(session), "The teacher stopped sharing this run.")

    def set_exercise(self, share: Share, exercise: ExerciseMode | None) -> None:
        share.exercise = exercise
        body = exercise.model_dump_json() if exercise is not None else "null"
        self._publish(share, "exercise", f'"exercise":{body}')

    def by_token(self, token: str) -> Share:
        share = self._by_token.get(token)
        if share is None or share.ended:
            raise NotFound(NOT_SHARED)
        return share

    async def session_of(self, share: Share) -> Session:
        """The shared session, read without counting as the teacher's use. A run that
        ended (a new setup, deleted, or expired just now) gets one answer: 409, RUN_ENDED."""
        if share.detached_at is None:
            try:
                return await self.store.peek(share.session_id)
            except NotFound:
                pass  # expired: the store has just told _forgot, which detached the share
        raise OutOfOrder(RUN_ENDED)

    def _guard(self, sid: str) -> None:
        if sid in self._by_token:
            raise ReadOnly(READ_ONLY)

    def _forgot(self, sid: str) -> None:
        share = self._by_session.get(sid)
        if share is None or share.ended:
            return
        share.detached_at = time.monotonic()
        share.records.clear()
        share.frame = []
        self._publish(
            share,
            "paused",
            '"message":"The teacher\'s run has ended (a new setup, or it expired). This page '
            "waits for the teacher's next run.\"",
        )

    def _end(self, share: Share, message: str) -> None:
        if share.ended:
            return
        self._publish(share, "ended", f'"message":{_json_str(message)}')
        share.ended = True
        self._by_token.pop(share.token, None)
        if self._by_session.get(share.session_id) is share:
            del self._by_session[share.session_id]

    def _prune(self) -> None:
        """End shares whose session went away longer than GRACE_SECONDS ago."""
        limit = time.monotonic() - GRACE_SECONDS
        for share in list(self._by_token.values()):
            if share.detached_at is not None and share.detached_at < limit:
                self._end(share, "The teacher's run has ended.")

    # ------------------------------------------------------------ publishing
    def _on_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the event loop: now if this is its thread, else next (FIFO)."""
        if self._loop is None or threading.get_ident() == self._loop_thread:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)

    def _publish(self, share: Share, kind: str, body: str, step: int = -1) -> Event:
        share.seq += 1
        data = f'{{"seq":{share.seq},"kind":"{kind}",{body}}}'
        event = Event(share.seq, kind, data, step)
        share.recent.append(event)
        share.recent_bytes += event.size
        while share.recent_bytes > self.settings.follow_buffer_bytes and len(share.recent) > 1:
            share.recent_bytes -= share.recent.popleft().size
        if kind in ("forward", "step"):
            share.frame = [data]
        elif kind in ("backward", "update"):
            share.frame.append(data)
        for follower in share.followers:
            follower.offer(event)
        return event

    def _publish_state(self, share: Share, session: Session, reason: str) -> None:
        self._publish(share, "state", f'"reason":"{reason}",{self._state_body(share, session)}')

    def _state_body(self, share: Share, session: Session, frame: list[str] | None = None) -> str:
        state = State.from_network(session.net, session.phase, len(session.undo))
        exercise = share.exercise.model_dump_json() if share.exercise else "null"
        frame = share.frame if frame is None else frame
        return (
            f'"config":{session.config.model_dump_json()},"state":{state.model_dump_json()},'
            f'"exercise":{exercise},"followers":{len(share.followers)},'
            f'"frame":[{",".join(frame)}]'
        )

    def follow_json(self, share: Share, session: Session) -> str:
        """GET /api/follow/{token}: the same as a ``state`` event."""
        return f'{{"seq":{share.seq},{self._state_body(share, session)}}}'

    def _changed(self, session: Session, kind: str, detail: Any) -> None:
        """Session.on_change: turn the change into an event for the share's followers."""
        share = self._by_session.get(session.id)
        if share is None or share.ended:
            return
        # Built here, under the session's lock, from the objects the route also got; a
        # fast-forward calls from a worker thread, so the sending happens on the loop.
        if kind == "forward":
            fwd, message = detail
            body = f'"trace":{dumps(forward_document(fwd, message)).decode()}'
            numbers = None
            if not message:
                numbers = StepNumbers.pending(fwd, session.net.backward(fwd), session.net.weights)

            def send() -> None:
                if numbers is not None:
                    share.record(numbers)
                self._publish(share, "forward", body)

        elif kind == "backward":
            step, bwd, message = detail
            body = f'"trace":{dumps(backward_document(step, bwd, message)).decode()}'

            def send() -> None:
                self._publish(share, "backward", body)

        elif kind in ("update", "step"):
            trace = detail
            progress = progress_dict(session.net, session.phase, len(session.undo))
            body = f'"trace":{dumps(step_document(trace, progress)).decode()}'

            def send() -> None:
                if not trace.diverged:
                    pending = share.records[-1] if share.records else None
                    before = (
                        pending.weights_before if pending and pending.step == trace.step else None
                    )
                    share.record(StepNumbers.done(trace, before))
                self._publish(share, kind, body, -1 if trace.diverged else trace.step)

        else:  # train, undo, reset, weights, patch: redraw from the state
            # A new η or batch size leaves the step on show as it is; after an undo the
            # run is back at a step whose last trace (if still kept) shows it as it was,
            # as the teacher's page does; the rest clear the drawing.
            now = session.net.state.step
            frame = None if kind == "patch" else share.step_frame(now) if kind == "undo" else []
            body = f'"reason":"{kind}",{self._state_body(share, session, frame)}'

            def send() -> None:
                if frame is not None:
                    share.frame = frame
                    kept = [r for r in share.records if r.step <= now and kind == "undo"]
                    share.records = deque(kept, maxlen=RECORDS)
                self._publish(share, "state", body)

        self._on_loop(send)

    # ------------------------------------------------------------- the stream
    def join(self, share: Share) -> Follower:
        """Grant a follow stream, counted at once (refused past the caps); the stream
        claims it when it starts, or it is forgotten after UNCLAIMED_SECONDS."""
        self._forget_unclaimed()
        if len(share.followers) >= self.settings.max_followers_per_session:
            raise TooMany(
                f"This run already has {len(share.followers)} followers, the limit "
                f"(BACKPROP_MAX_FOLLOWERS_PER_SESSION = "
                f"{self.settings.max_followers_per_session})."
            )
        if self.followers >= self.settings.max_followers:
            raise TooMany(
                f"The server has {self.followers} followers, its limit "
                f"(BACKPROP_MAX_FOLLOWERS = {self.settings.max_followers})."
            )
        follower = Follower(self.settings.follow_buffer_bytes)
        share.followers.add(follower)
        self.followers += 1
        return follower

    def _leave(self, share: Share, follower: Follower) -> None:
        if follower in share.followers:
            share.followers.discard(follower)
            self.followers -= 1

    def _forget_unclaimed(self) -> None:
        limit = time.monotonic() - UNCLAIMED_SECONDS
        for share in self._by_token.values():
            for follower in [f for f in share.followers if not f.claimed and f.granted_at < limit]:
                self._leave(share, follower)

    async def stream(
        self, share: Share, follower: Follower, last_event_id: int | None
    ) -> AsyncIterator[bytes]:
        """The event stream of one follower, from the state now (or where it left off)."""
        follower.claimed = True
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            # `last` is taken with what is sent, before any await: events published while
            # this generator waits to send are in the queue, after `last`.
            missed = share.since(last_event_id)
            last = share.seq
            if missed is None:
                first = await self._fresh(share, "connect")
                if first is None:
                    return
                yield first
            else:
                for event in missed:
                    yield event.raw
            while True:
                try:
                    event = await follower.next(KEEPALIVE_SECONDS)
                except TimeoutError:
                    self._prune()
                    if share.ended:
                        return
                    yield b": keep-alive\n\n"
                    continue
                if event is RESYNC:
                    fresh = await self._fresh(share, "resync")
                    if fresh is None:
                        return
                    last = share.seq
                    yield fresh
                    continue
                if event.seq <= last:
                    continue  # already in the fresh state
                last = event.seq
                yield event.raw
                if event.kind == "ended":
                    return
        finally:
            self._leave(share, follower)

    async def _fresh(self, share: Share, reason: str) -> bytes | None:
        """A ``state`` event for the run now (not stored: it is for one follower)."""
        if share.ended:
            event = share.recent[-1]
            return event.raw if event.kind == "ended" else None
        if share.detached_at is not None:
            data = (
                f'{{"seq":{share.seq},"kind":"paused","message":"The teacher\'s run has ended; '
                f"this page waits for the teacher's next run.\"}}"
            )
            return frame_bytes(share.seq, "paused", data)
        try:
            session = await self.store.peek(share.session_id)
        except Refused:
            return None
        data = f'{{"seq":{share.seq},"kind":"state","reason":"{reason}",'
        data += f"{self._state_body(share, session)}}}"
        return frame_bytes(share.seq, "state", data)


def _json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
