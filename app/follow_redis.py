"""Follow mode across workers and hosts: shares and their events in Redis.

With BACKPROP_REDIS_URL set, a share is kept in Redis (app/follow_scripts.py names the
keys), so a follower connected to any worker sees every step of a teacher served by any
other. Its latest events are a Redis stream whose entry ids are the events' SSE ids, so
a page that reconnects to any worker replays what it missed (``Last-Event-ID``).

A request's events are published after its changes are saved and before the session's
lock is released (the store's ``on_commit``), so they are in Redis in the order of the
steps. Each worker reads a share's stream with one task (XREAD BLOCK) while it has
followers of that share, and queues each event for each of them, as the in-process hub
does. A follower whose worker saw an event before the follower was there fetches what
it missed from the stream (app/follow.py, ``stream``). The caps on followers hold per
worker; ``followers`` (what the teacher's page shows) counts them on every worker.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import suppress
from dataclasses import dataclass, field

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.classroom_schemas import ExerciseMode
from app.exceptions import NotFound, ReadOnly
from app.exercise import StepNumbers
from app.follow import (
    GRACE_SECONDS,
    KEEPALIVE_SECONDS,
    NOT_SHARED,
    NOT_SHARED_YET,
    READ_ONLY,
    FollowHub,
)
from app.follow_events import continued, ended, exercise_set, paused, seed
from app.follow_scripts import (
    COUNT,
    PUBLISH,
    SMALLEST_EVENT,
    WATCH_SECONDS,
    event_of,
    followers_now,
    keys_of,
    shared_key,
)
from app.packed import pack, unpack
from app.redis_store import RedisStore
from app.sessions import Session
from app.settings import Settings
from app.shares import CLOSE, RECORDS, Event, Follower, Publication, Share, choose

ENDED_SECONDS = 60  # an ended share's keys stay this long, for other workers' readers
RETRY_SECONDS = 1.0  # a worker's reader waits this long after Redis failed


@dataclass(eq=False)
class Local:
    """A share's followers on this worker, and the task reading its events for them."""

    share: Share
    followers: set[Follower] = field(default_factory=set)
    reader: asyncio.Task | None = None
    counted: float = 0.0  # when this worker's count in Redis was last refreshed


class RedisHub(FollowHub):
    """Shares in Redis, streamed to this worker's followers."""

    def __init__(self, store: RedisStore, settings: Settings) -> None:
        super().__init__(store, settings)
        self.redis: redis.Redis = store.redis
        self.readers: redis.Redis = store.readers  # for XREAD BLOCK (_read_events)
        self._publish_script = self.redis.register_script(PUBLISH)
        self._count = self.redis.register_script(COUNT)
        self._local: dict[str, Local] = {}
        self._outbox: dict[str, list[Publication]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._worker = secrets.token_hex(8)  # this worker's name in the counts
        store.on_commit = self._flush
        self._ttl = settings.session_ttl_seconds + int(GRACE_SECONDS)

    def close(self) -> None:
        """This worker stops; the shares go on. Its streams end without ``ended``: the
        pages reconnect (to another worker) and replay what they missed."""
        for local in self._local.values():
            for follower in local.followers:
                follower.offer(CLOSE)
            if local.reader is not None:
                local.reader.cancel()
        self._restore_signals()

    def _spawn(self, coroutine) -> None:
        """Run in the background what no request waits for (counting followers, a
        session that went away); if Redis fails, it is left undone."""

        async def run() -> None:
            with suppress(RedisError):
                await coroutine

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- shares
    async def _read(self, token: str) -> Share | None:
        """The share as Redis holds it now; None if there is none."""
        key, _, frame, _, _, watching = keys_of(token, "")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.lrange(frame, 0, -1)
            pipe.hgetall(watching)
            pipe.time()
            fields, events, counts, (now, _) = await pipe.execute()
        if b"sid" not in fields:
            return None
        exercise = fields.get(b"exercise", b"null")
        detached = fields.get(b"detached")
        return Share(
            token,
            fields[b"sid"].decode(),
            fields[b"base_url"].decode(),
            seq=int(fields[b"seq"]),
            exercise=None if exercise == b"null" else ExerciseMode.model_validate_json(exercise),
            frame=[e.decode() for e in events],
            detached_at=None if detached is None else float(detached),
            ended=b"ended" in fields,
            watching=followers_now(counts, now),
        )

    async def _now(self, share: Share) -> Share:
        """The share now; one whose session went away GRACE_SECONDS ago is ended."""
        now = await self._read(share.token)
        if now is None:
            return Share(share.token, share.session_id, share.base_url, share.seq, ended=True)
        if now.detached_at is not None and now.detached_at < time.time() - GRACE_SECONDS:
            await self._end(now, "The teacher's run has ended.")
            now.ended = True
        return now

    async def _prune(self) -> None:
        pass  # each share is checked when it is read (_now)

    async def _share(self, session: Session, base_url: str, continue_from: str | None) -> Share:
        token = await self.redis.get(shared_key(session.id))
        share = await self._now(Share(token.decode(), session.id, "")) if token else None
        if (share is None or share.ended) and continue_from:
            share = await self._continue(session, continue_from)
        if share is None or share.ended:
            share = await self._create(session, base_url)
        await self.redis.hset(keys_of(share.token, "")[0], "base_url", base_url)
        share.base_url = base_url
        return share

    async def _create(self, session: Session, base_url: str) -> Share:
        token = secrets.token_urlsafe(24)  # 192 bits
        key, events, frame_key, records, shared, _ = keys_of(token, session.id)
        frame, numbers = seed(session, 0)
        fields = {"sid": session.id, "base_url": base_url, "seq": 0, "bytes": 0, "exercise": "null"}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            if frame:
                pipe.rpush(frame_key, *frame)
            if numbers is not None:
                pipe.zadd(records, {pack(numbers): numbers.step})
            pipe.set(shared, token)
            for k in (key, frame_key, records, shared):
                pipe.expire(k, self._ttl)
            await pipe.execute()
        return Share(token, session.id, base_url, frame=frame, watching=0)

    async def _continue(self, session: Session, old_id: str) -> Share | None:
        """Move the share of ``old_id`` (the teacher's previous setup) to ``session``."""
        # Knowing the old id is the proof: it is the teacher's own key to the old run.
        token = await self.redis.get(shared_key(old_id))
        share = await self._read(token.decode()) if token else None
        if share is None or share.ended:
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(shared_key(old_id))
            pipe.set(shared_key(session.id), share.token, ex=self._ttl)
            pipe.hset(keys_of(share.token, "")[0], "sid", session.id)
            pipe.hdel(keys_of(share.token, "")[0], "detached")
            await pipe.execute()
        await self._publish(share.token, session.id, continued(session))
        return await self._read(share.token)

    async def shared(self, session: Session) -> Share:
        token = await self.redis.get(shared_key(session.id))
        share = await self._now(Share(token.decode(), session.id, "")) if token else None
        if share is None or share.ended or share.session_id != session.id:
            raise NotFound(NOT_SHARED_YET)
        return share

    async def unshare(self, session: Session) -> None:
        await self._end(await self.shared(session), "The teacher stopped sharing this run.")

    async def set_exercise(self, share: Share, exercise: ExerciseMode | None) -> Share:
        body = exercise.model_dump_json() if exercise is not None else "null"
        await self.redis.hset(keys_of(share.token, "")[0], "exercise", body)
        await self._publish(share.token, share.session_id, exercise_set(exercise))
        share.exercise = exercise
        return share

    async def by_token(self, token: str) -> Share:
        share = await self._now(Share(token, "", ""))
        if share.ended:
            raise NotFound(NOT_SHARED)
        return share

    async def numbers(self, share: Share, step: int | None) -> StepNumbers:
        kept = await self.redis.zrange(keys_of(share.token, "")[3], 0, -1, withscores=True)
        i = choose([int(score) for _, score in kept], step)
        return unpack(StepNumbers, kept[i][0])

    async def _guard(self, sid: str) -> None:
        ended, session = await self.redis.hmget(keys_of(sid, "")[0], "ended", "sid")
        if session is not None and ended is None:
            raise ReadOnly(READ_ONLY)

    def _forgot(self, sid: str) -> None:
        self._spawn(self._detach(sid))

    async def _detach(self, sid: str) -> None:
        token = await self.redis.get(shared_key(sid))
        share = await self._read(token.decode()) if token else None
        if share is None or share.ended or share.session_id != sid or share.detached_at:
            return  # another worker was first, or the share moved on
        await self.redis.hset(keys_of(share.token, "")[0], "detached", time.time())
        await self._publish(share.token, sid, paused())

    async def _end(self, share: Share, message: str) -> None:
        await self._publish(share.token, share.session_id, ended(message))
        keys = keys_of(share.token, share.session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys[0], "ended", 1)
            for k in (*keys[:4], keys[5]):
                pipe.expire(k, ENDED_SECONDS)
            await pipe.execute()
        if await self.redis.get(keys[4]) == share.token.encode():
            await self.redis.delete(keys[4])

    # ------------------------------------------------------------ publishing
    def _deliver(self, session: Session, publications: list[Publication]) -> None:
        # Kept until the request's changes are saved (_flush, in the session's turn).
        self._outbox.setdefault(session.id, []).extend(publications)

    async def _flush(self, session: Session, kept: bool) -> None:
        publications = self._outbox.pop(session.id, None)
        if not publications or not kept:
            return  # nothing happened, or what happened was not saved
        token = await self.redis.get(shared_key(session.id))
        for publication in publications if token else []:
            await self._publish(token.decode(), session.id, publication)

    async def _publish(self, token: str, sid: str, p: Publication) -> int:
        mode, step_shown, frame = "default", "", []
        if isinstance(p.frame, int):
            mode, step_shown = "step", p.frame
        elif p.frame is not None:
            mode, frame = "set", p.frame
        buffer = self.settings.follow_buffer_bytes
        kept, numbers = ("", b"") if p.record is None else (p.record.step, pack(p.record))
        args = [p.kind, p.body, p.step, mode, step_shown, buffer, buffer // SMALLEST_EVENT + 1]
        args += [kept, numbers, RECORDS, self._ttl, *frame]
        return await self._publish_script(keys=keys_of(token, sid), args=args)

    # ------------------------------------------------------------- the stream
    def _followers_of(self, share: Share) -> set[Follower]:
        local = self._local.get(share.token)
        if local is None:
            # Its reader starts after the follower is added; if none is (refused), the
            # reader finds no followers and forgets this entry at once.
            local = self._local[share.token] = Local(share)
            local.reader = asyncio.ensure_future(self._read_events(share.token, local))
        return local.followers

    def _joined(self, share: Share, follower: Follower) -> None:
        local = self._local[share.token]
        if local.reader is None or local.reader.done():  # it failed: start another
            local.reader = asyncio.ensure_future(self._read_events(share.token, local))
        self._spawn(self._recount(share.token))

    def _streamed(self) -> list[tuple[Share, set[Follower]]]:
        return [(local.share, local.followers) for local in self._local.values()]

    def _leave(self, share: Share, follower: Follower) -> None:
        local = self._local.get(share.token)
        if local is not None and follower in local.followers:
            local.followers.discard(follower)
            self.followers -= 1
            self._spawn(self._recount(share.token))

    async def _recount(self, token: str) -> None:
        """This worker's count of the share's followers, as it is when this runs."""
        local = self._local.get(token)
        n = len(local.followers) if local is not None else 0
        if local is not None:
            local.counted = time.monotonic()
        keys = keys_of(token, "")
        await self._count(keys=[keys[0], keys[5]], args=[self._worker, n, WATCH_SECONDS, self._ttl])

    async def _read_events(self, token: str, local: Local) -> None:
        """One task per share on this worker: each event, to each of its followers."""
        key = keys_of(token, "")[1]
        last = None
        while local.followers:
            if time.monotonic() - local.counted > WATCH_SECONDS / 3:
                self._spawn(self._recount(token))  # still here: keep the count fresh
            try:
                if last is None:  # from now: a follower fetches older ones itself
                    last = int(await self.redis.hget(keys_of(token, "")[0], "seq") or 0)
                block = int(KEEPALIVE_SECONDS * 1000)
                reply = await self.readers.xread({key: f"{last}-0"}, count=100, block=block)
            except RedisError:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    event = event_of(entry_id, fields)
                    last = event.seq
                    for follower in list(local.followers):
                        follower.offer(event)
        if self._local.get(token) is local:
            del self._local[token]

    async def _since(self, share: Share, last_id: int | None) -> list[Event] | None:
        if last_id is None:
            return None
        key, events, *_ = keys_of(share.token, "")
        seq = int(await self.redis.hget(key, "seq") or 0)
        if last_id > seq:
            return None
        if last_id == seq:
            return []
        kept = [event_of(i, f) for i, f in await self.redis.xrange(events, f"({last_id}-0", "+")]
        if not kept or kept[0].seq != last_id + 1:
            return None
        return kept

    async def _last_event(self, share: Share) -> Event | None:
        last = await self.redis.xrevrange(keys_of(share.token, "")[1], "+", "-", count=1)
        return event_of(*last[0]) if last else None
