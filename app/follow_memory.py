"""Follow mode in one process (the default, without Redis): shares, their latest events
and their followers' queues in this process's memory. app/follow.py has the rest.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from app.classroom_schemas import ExerciseMode
from app.exceptions import NotFound, ReadOnly
from app.exercise import StepNumbers
from app.follow import GRACE_SECONDS, NOT_SHARED, NOT_SHARED_YET, READ_ONLY, FollowHub
from app.follow_events import continued, ended, exercise_set, paused, seed
from app.sessions import Session
from app.shares import RECORDS, Event, Follower, Publication, Share, frame_text, share_part


class MemoryHub(FollowHub):
    """Shares by token and by session, in this process."""

    def __init__(self, store, settings) -> None:
        super().__init__(store, settings)
        self._by_token: dict[str, Share] = {}
        self._by_session: dict[str, Share] = {}

    def close(self) -> None:
        """End every share: followers get ``ended`` and their streams finish."""
        for share in list(self._by_token.values()):
            self._end(share, "The server is shutting down.")
        self._restore_signals()

    # ---------------------------------------------------------------- shares
    async def _share(self, session: Session, base_url: str, continue_from: str | None) -> Share:
        await self._prune()
        share = self._by_session.get(session.id)
        if share is None and continue_from:
            share = self._continue(session, continue_from)
        if share is None:
            share = Share(secrets.token_urlsafe(24), session.id, base_url)  # 192 bits
            self._by_token[share.token] = share
            self._by_session[session.id] = share
            share.frame, numbers = seed(session, share.seq)
            if numbers is not None:
                share.record(numbers)
        share.base_url = base_url
        return share

    def _continue(self, session: Session, old_id: str) -> Share | None:
        """Move the share of ``old_id`` (the teacher's previous setup) to ``session``."""
        # Knowing the old id is the proof: it is the teacher's own key to the old run.
        share = self._by_session.get(old_id)
        if share is None or share.ended:
            return None
        del self._by_session[old_id]
        share.session_id = session.id
        share.detached_at = None
        self._by_session[session.id] = share
        self._apply(share, continued(session))
        return share

    async def shared(self, session: Session) -> Share:
        share = self._by_session.get(session.id)
        if share is None or share.ended:
            raise NotFound(NOT_SHARED_YET)
        return share

    async def unshare(self, session: Session) -> None:
        self._end(await self.shared(session), "The teacher stopped sharing this run.")

    async def set_exercise(self, share: Share, exercise: ExerciseMode | None) -> Share:
        share.exercise = exercise
        self._apply(share, exercise_set(exercise))
        return share

    async def by_token(self, token: str) -> Share:
        share = self._by_token.get(token)
        if share is None or share.ended:
            raise NotFound(NOT_SHARED)
        return share

    async def numbers(self, share: Share, step: int | None) -> StepNumbers:
        return share.numbers(step)

    async def _guard(self, sid: str) -> None:
        if sid in self._by_token:
            raise ReadOnly(READ_ONLY)

    def _forgot(self, sid: str) -> None:
        share = self._by_session.get(sid)
        if share is None or share.ended:
            return
        share.detached_at = time.monotonic()
        self._apply(share, paused())

    def _end(self, share: Share, message: str) -> None:
        if share.ended:
            return
        self._apply(share, ended(message))
        share.ended = True
        self._by_token.pop(share.token, None)
        if self._by_session.get(share.session_id) is share:
            del self._by_session[share.session_id]

    async def _prune(self) -> None:
        limit = time.monotonic() - GRACE_SECONDS
        for share in list(self._by_token.values()):
            if share.detached_at is not None and share.detached_at < limit:
                self._end(share, "The teacher's run has ended.")

    # ------------------------------------------------------------ publishing
    def _deliver(self, session: Session, publications: list[Publication]) -> None:
        share = self._by_session.get(session.id)
        if share is None or share.ended:
            return
        for publication in publications:
            self._on_loop(lambda p=publication: self._apply(share, p))

    def _on_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the event loop: now if this is its thread, else next (FIFO)."""
        if self._loop is None or threading.get_ident() == self._loop_thread:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)

    def _apply(self, share: Share, p: Publication) -> None:
        """Number the event, keep it, update the step on show and queue it for each
        follower."""
        frame = share.step_frame(p.frame) if isinstance(p.frame, int) else p.frame
        body = p.body
        if p.kind == "state":
            shown = share.frame if frame is None else frame
            exercise = share.exercise.model_dump_json() if share.exercise else "null"
            body += share_part(exercise, len(share.followers), frame_text(shown))
        if frame is not None:
            share.frame = list(frame)
            kept = [r for r in share.records if isinstance(p.frame, int) and r.step <= p.frame]
            share.records = deque(kept, maxlen=RECORDS)
        if p.record is not None:
            share.record(p.record)
        share.seq += 1
        data = f'{{"seq":{share.seq},"kind":"{p.kind}",{body}}}'
        event = Event(share.seq, p.kind, data, p.step)
        share.recent.append(event)
        share.recent_bytes += event.size
        while share.recent_bytes > self.settings.follow_buffer_bytes and len(share.recent) > 1:
            share.recent_bytes -= share.recent.popleft().size
        if p.kind in ("forward", "step"):
            share.frame = [data]
        elif p.kind in ("backward", "update"):
            share.frame.append(data)
        for follower in share.followers:
            follower.offer(event)

    # ------------------------------------------------------------- the stream
    def _followers_of(self, share: Share) -> set[Follower]:
        return share.followers

    def _joined(self, share: Share, follower: Follower) -> None:
        pass  # _apply queues each event for share.followers

    def _streamed(self) -> list[tuple[Share, set[Follower]]]:
        return [(share, share.followers) for share in self._by_token.values()]

    def _leave(self, share: Share, follower: Follower) -> None:
        if follower in share.followers:
            share.followers.discard(follower)
            self.followers -= 1

    async def _since(self, share: Share, last_id: int | None) -> list[Event] | None:
        return share.since(last_id)

    async def _now(self, share: Share) -> Share:
        return share

    async def _last_event(self, share: Share) -> Event | None:
        return share.recent[-1] if share.recent else None
