"""Follow mode across workers and hosts: shares and their events in Redis.

With BACKPROP_REDIS_URL set, a share is kept in Redis, so a follower connected to any
worker sees every step of a teacher served by any other (token T, session S):

    backprop:share:T    hash: sid, base_url, seq (the last event's number), bytes (of
                        the events kept), exercise (JSON), followers (on all workers),
                        detached (when its session went away), ended
    backprop:shared:S   the token of the session's share
    backprop:events:T   a Redis stream of the latest events, up to
                        BACKPROP_FOLLOW_BUFFER_BYTES: entry id "<seq>-0", fields kind,
                        data (the event's JSON), step. The entry id is the SSE id, so a
                        page that reconnects to any worker replays what it missed
                        (``Last-Event-ID``)
    backprop:frame:T    list: the events of the step on show (a follower's first view)
    backprop:records:T  sorted set: the packed numbers of the last RECORDS steps, by
                        step, for exercise checks

One script (PUBLISH) numbers an event, adds it to the stream, trims the stream to the
byte bound and updates the step on show and the kept numbers, all at once. A request's
events are published after its changes are saved and before the session's lock is
released (the store's ``on_commit``), so they are in Redis in the order of the steps.

Each worker reads a share's stream with one task (XREAD BLOCK) while it has followers
of that share, and queues each event for each of them, as the in-process hub does. A
follower whose worker saw an event before the follower was there fetches what it
missed from the stream (app/follow.py, ``stream``). The caps on followers hold per
worker; ``followers`` counts them on every worker.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import suppress
from dataclasses import dataclass, field

import redis.asyncio as redis
from redis.exceptions import RedisError

from app import budget
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
from app.packed import pack, unpack
from app.redis_store import PREFIX, RedisStore
from app.sessions import Session
from app.settings import Settings
from app.shares import CLOSE, RECORDS, Event, Follower, Publication, Share, choose

ENDED_SECONDS = 60  # an ended share's keys stay this long, for other workers' readers
SMALLEST_EVENT = 32  # bytes: no event is shorter, so the byte bound caps the count too
RETRY_SECONDS = 1.0  # a worker's reader waits this long after Redis failed

#   KEYS: share, events, frame, records, shared
#   ARGV: kind, body, step, frame mode (default | set | step), the step of `step`,
#         byte bound, count bound, kept step or '', its numbers, RECORDS, TTL, frame …
PUBLISH = """
if redis.call('HEXISTS', KEYS[1], 'sid') == 0 or redis.call('HEXISTS', KEYS[1], 'ended') == 1
then return 0 end
local kind, body, mode = ARGV[1], ARGV[2], ARGV[4]
if mode == 'set' then
  redis.call('DEL', KEYS[3], KEYS[4])
  for i = 12, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
elseif mode == 'step' then
  redis.call('DEL', KEYS[3])
  for _, entry in ipairs(redis.call('XREVRANGE', KEYS[2], '+', '-')) do
    if entry[2][6] == ARGV[5] then redis.call('RPUSH', KEYS[3], entry[2][4]) break end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '(' .. ARGV[5], '+inf')
end
if kind == 'state' then
  local share = redis.call('HMGET', KEYS[1], 'exercise', 'followers')
  local frame = table.concat(redis.call('LRANGE', KEYS[3], 0, -1), ',')
  body = body .. ',"exercise":' .. share[1] .. ',"followers":' .. share[2]
    .. ',"frame":[' .. frame .. ']'
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local data = '{"seq":' .. seq .. ',"kind":"' .. kind .. '",' .. body .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], seq .. '-0',
  'kind', kind, 'data', data, 'step', ARGV[3])
local bytes = redis.call('HINCRBY', KEYS[1], 'bytes', #data)
while bytes > tonumber(ARGV[6]) and redis.call('XLEN', KEYS[2]) > 1 do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  redis.call('XDEL', KEYS[2], oldest[1])
  bytes = redis.call('HINCRBY', KEYS[1], 'bytes', -#oldest[2][4])
end
if mode == 'default' and (kind == 'forward' or kind == 'step') then
  redis.call('DEL', KEYS[3])
  redis.call('RPUSH', KEYS[3], data)
elseif mode == 'default' and (kind == 'backward' or kind == 'update') then
  redis.call('RPUSH', KEYS[3], data)
end
if ARGV[8] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], ARGV[8], '+inf')
  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[9])
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[10]) + 1))
end
for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ARGV[11]) end
return seq
"""

# Count a follower in or out, if the share still exists. KEYS: share; ARGV: +1 or -1.
COUNT = """
if redis.call('HEXISTS', KEYS[1], 'sid') == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'followers', ARGV[1])
"""


def _keys(token: str, sid: str) -> list[str]:
    """The keys of a share, in the order PUBLISH takes them."""
    return [
        f"{PREFIX}share:{token}",
        f"{PREFIX}events:{token}",
        f"{PREFIX}frame:{token}",
        f"{PREFIX}records:{token}",
        _shared(sid),
    ]


def _shared(sid: str) -> str:
    return f"{PREFIX}shared:{sid}"


def _event(entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
    seq = int(entry_id.split(b"-")[0])
    return Event(seq, fields[b"kind"].decode(), fields[b"data"].decode(), int(fields[b"step"]))


@dataclass(eq=False)
class Local:
    """A share's followers on this worker, and the task reading its events for them."""

    share: Share
    followers: set[Follower] = field(default_factory=set)
    reader: asyncio.Task | None = None


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
        for task in self._tasks:
            task.cancel()
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
        key, _, frame, _, _ = _keys(token, "")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.lrange(frame, 0, -1)
            fields, events = await pipe.execute()
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
            watching=max(0, int(fields.get(b"followers", 0))),
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

    async def share(
        self, session: Session, base_url: str, continue_from: str | None = None
    ) -> Share:
        layers, batch = session.net.config.layers, session.net.config.batch_size
        budget.check_session(layers, batch, session.dataset.size, self.settings, shared=True)
        session.shared = True
        token = await self.redis.get(_shared(session.id))
        share = await self._now(Share(token.decode(), session.id, "")) if token else None
        if (share is None or share.ended) and continue_from:
            share = await self._continue(session, continue_from)
        if share is None or share.ended:
            share = await self._create(session, base_url)
        await self.redis.hset(_keys(share.token, "")[0], "base_url", base_url)
        share.base_url = base_url
        return share

    async def _create(self, session: Session, base_url: str) -> Share:
        token = secrets.token_urlsafe(24)  # 192 bits
        key, events, frame_key, records, shared = _keys(token, session.id)
        frame, numbers = seed(session, 0)
        fields = {"sid": session.id, "base_url": base_url, "seq": 0, "bytes": 0}
        fields |= {"exercise": "null", "followers": 0}
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
        token = await self.redis.get(_shared(old_id))
        share = await self._read(token.decode()) if token else None
        if share is None or share.ended:
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(_shared(old_id))
            pipe.set(_shared(session.id), share.token, ex=self._ttl)
            pipe.hset(_keys(share.token, "")[0], "sid", session.id)
            pipe.hdel(_keys(share.token, "")[0], "detached")
            await pipe.execute()
        await self._publish(share.token, session.id, continued(session))
        return await self._read(share.token)

    async def shared(self, session: Session) -> Share:
        token = await self.redis.get(_shared(session.id))
        share = await self._now(Share(token.decode(), session.id, "")) if token else None
        if share is None or share.ended or share.session_id != session.id:
            raise NotFound(NOT_SHARED_YET)
        return share

    async def unshare(self, session: Session) -> None:
        await self._end(await self.shared(session), "The teacher stopped sharing this run.")

    async def set_exercise(self, share: Share, exercise: ExerciseMode | None) -> Share:
        body = exercise.model_dump_json() if exercise is not None else "null"
        await self.redis.hset(_keys(share.token, "")[0], "exercise", body)
        await self._publish(share.token, share.session_id, exercise_set(exercise))
        share.exercise = exercise
        return share

    async def by_token(self, token: str) -> Share:
        share = await self._now(Share(token, "", ""))
        if share.ended:
            raise NotFound(NOT_SHARED)
        return share

    async def numbers(self, share: Share, step: int | None) -> StepNumbers:
        kept = await self.redis.zrange(_keys(share.token, "")[3], 0, -1, withscores=True)
        i = choose([int(score) for _, score in kept], step)
        return unpack(StepNumbers, kept[i][0])

    async def _guard(self, sid: str) -> None:
        ended, session = await self.redis.hmget(_keys(sid, "")[0], "ended", "sid")
        if session is not None and ended is None:
            raise ReadOnly(READ_ONLY)

    def _forgot(self, sid: str) -> None:
        self._spawn(self._detach(sid))

    async def _detach(self, sid: str) -> None:
        token = await self.redis.get(_shared(sid))
        share = await self._read(token.decode()) if token else None
        if share is None or share.ended or share.session_id != sid or share.detached_at:
            return  # another worker was first, or the share moved on
        await self.redis.hset(_keys(share.token, "")[0], "detached", time.time())
        await self._publish(share.token, sid, paused())

    async def _end(self, share: Share, message: str) -> None:
        await self._publish(share.token, share.session_id, ended(message))
        keys = _keys(share.token, share.session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys[0], "ended", 1)
            for k in keys[:4]:
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
        token = await self.redis.get(_shared(session.id))
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
        return await self._publish_script(keys=_keys(token, sid), args=args)

    # ------------------------------------------------------------- the stream
    def _followers_of(self, share: Share) -> set[Follower]:
        local = self._local.get(share.token)
        if local is None:
            local = self._local[share.token] = Local(share)
        return local.followers

    def _joined(self, share: Share, follower: Follower) -> None:
        local = self._local[share.token]
        if local.reader is None or local.reader.done():
            local.reader = asyncio.ensure_future(self._read_events(share.token, local))
        self._spawn(self._count(keys=_keys(share.token, "")[:1], args=[1]))

    def _streamed(self) -> list[tuple[Share, set[Follower]]]:
        return [(local.share, local.followers) for local in self._local.values()]

    def _leave(self, share: Share, follower: Follower) -> None:
        local = self._local.get(share.token)
        if local is not None and follower in local.followers:
            local.followers.discard(follower)
            self.followers -= 1
            self._spawn(self._count(keys=_keys(share.token, "")[:1], args=[-1]))

    async def _read_events(self, token: str, local: Local) -> None:
        """One task per share on this worker: each event, to each of its followers."""
        key = _keys(token, "")[1]
        last = None
        while local.followers:
            try:
                if last is None:  # from now: a follower fetches older ones itself
                    last = int(await self.redis.hget(_keys(token, "")[0], "seq") or 0)
                block = int(KEEPALIVE_SECONDS * 1000)
                reply = await self.readers.xread({key: f"{last}-0"}, count=100, block=block)
            except RedisError:
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    event = _event(entry_id, fields)
                    last = event.seq
                    for follower in list(local.followers):
                        follower.offer(event)
        if self._local.get(token) is local:
            del self._local[token]

    async def _since(self, share: Share, last_id: int | None) -> list[Event] | None:
        if last_id is None:
            return None
        key, events, *_ = _keys(share.token, "")
        seq = int(await self.redis.hget(key, "seq") or 0)
        if last_id > seq:
            return None
        if last_id == seq:
            return []
        kept = [_event(i, f) for i, f in await self.redis.xrange(events, f"({last_id}-0", "+")]
        if not kept or kept[0].seq != last_id + 1:
            return None
        return kept

    async def _last_event(self, share: Share) -> Event | None:
        last = await self.redis.xrevrange(_keys(share.token, "")[1], "+", "-", count=1)
        return _event(*last[0]) if last else None
