"""Sessions in Redis: any worker process, on any host, serves any session.

Set BACKPROP_REDIS_URL and each session is one Redis hash, ``backprop:session:<id>``
(app/redis_layout.py says what it holds).

Requests on one session run one at a time across all workers: each holds the lock
``backprop:lock:<id>`` (a key set only if absent, with a timeout, so the lock of a
killed worker expires). A request takes two round trips to Redis: one script takes the
lock, counts the use and reads the session (unless this worker's copy is current),
another writes what the request changed, only over the version it read, and lets the
lock go; the answer is sent after both. A worker keeps the sessions it served last,
decoded, with what it knows Redis holds of them.

Idle sessions expire by the hash's TTL. The sorted set ``backprop:sessions`` (id →
time of last use) counts sessions for BACKPROP_MAX_SESSIONS and names the least
recently used one to evict; creating a session does both in one script, so several
workers creating at once cannot pass the limit.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.exceptions import NotFound, Refused, Unavailable
from app.redis_layout import Held, changes, decode
from app.schemas import SessionConfig
from app.sessions import NO_SESSION, Session, build_network, new_id
from app.settings import Settings
from app.snapshot import Snapshot
from app.store import Store

PREFIX = "backprop:"
INDEX = PREFIX + "sessions"

# A request holds its session's lock at most this long (the longest ones, fast-forward
# and gradient check, stop after 2 s by default, plus a wait for a compute thread). A
# worker killed mid-request leaves its lock behind: the session waits this long.
LOCK_SECONDS = 20.0
LOCK_POLL_SECONDS = 0.002
CONNECTIONS = 200  # to Redis, per worker; more requests at once wait for one
BUSY = (
    "This session is busy with another request that has not finished in {s:g} s; "
    "try again in a moment."
)
UNREACHABLE = "The session store (Redis) cannot be reached just now; try again in a moment."
UNREADABLE = (
    "This session was saved in a form this server cannot read (by another version of "
    "Backprop Lab, or damaged): create a new one."
)

# Create: drop ids idle past the expiry, evict the least recently used while full,
# then write the new session. Returns the evicted ids. ('backprop:session:' is PREFIX.)
#   KEYS: the index; ARGV: max sessions, now, oldest use kept, TTL, id, field, value, …
CREATE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local evicted = {}
while redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) do
  local oldest = redis.call('ZPOPMIN', KEYS[1])[1]
  redis.call('DEL', 'backprop:session:' .. oldest)
  table.insert(evicted, oldest)
end
local key = 'backprop:session:' .. ARGV[5]
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[5])
redis.call('HSET', key, unpack(ARGV, 6))
redis.call('EXPIRE', key, ARGV[4])
return evicted
"""

# {} if there is no session; {version} if the worker's copy is current (ARGV[1]: its
# version); else every field and value (the version among them). KEYS[1]: the hash.
FIND = """
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return {} end
"""
FETCH = """
if version == ARGV[1] then return {version} end
return redis.call('HGETALL', KEYS[1])
"""
READ = FIND + FETCH

# Take the lock, count the use (TTL, time of last use), then as READ; nil if another
# request holds the lock. KEYS: the hash, the lock, the index;
# ARGV: the cached version, the lock's token, its timeout (ms), TTL (s), now, id.
LEASE = (
    FIND
    + """
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return false end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[3], 'XX', ARGV[5], ARGV[6])
"""
    + FETCH
)

# Write n fields and delete the rest of the names given, only over the version read (a
# request that outlived its lock must not overwrite a newer state); let the lock go if
# it is still this request's (an empty token keeps it). Returns 1 if written.
# KEYS: the hash, the lock; ARGV: version read, next version, TTL, token, n,
# n (field, value) pairs, fields to delete.
COMMIT = """
local saved = redis.call('HGET', KEYS[1], 'version') == ARGV[1]
if saved then
  local n = tonumber(ARGV[5])
  redis.call('HSET', KEYS[1], 'version', ARGV[2], unpack(ARGV, 6, 5 + 2 * n))
  if #ARGV > 5 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 6 + 2 * n)) end
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return saved and 1 or 0
"""

# Let the lock go if it is still this request's. KEYS: the lock; ARGV: the token.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


class Unreadable(NotFound):
    """A session's hash this worker cannot decode (404: the run cannot go on here)."""


def _client(url: str, connections: int) -> redis.Redis:
    """A client whose requests, past ``connections`` at once, wait for a free connection
    (at most LOCK_SECONDS) instead of failing."""
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=connections, timeout=LOCK_SECONDS, socket_timeout=LOCK_SECONDS
    )
    return redis.Redis.from_pool(pool)


def _key(sid: str) -> str:
    return f"{PREFIX}session:{sid}"


def _lock(sid: str) -> str:
    return f"{PREFIX}lock:{sid}"


class RedisStore(Store):
    """Sessions in Redis, shared by every worker and host that uses the same Redis."""

    def __init__(
        self, settings: Settings, client: redis.Redis, readers: redis.Redis | None = None
    ) -> None:
        super().__init__(settings)
        self.redis = client
        # Follow mode's readers of event streams (app/follow_redis.py) wait in XREAD
        # BLOCK, each holding a connection: they have a pool of their own.
        self.readers = readers or client
        self._create = client.register_script(CREATE)
        self._lease = client.register_script(LEASE)
        self._read = client.register_script(READ)
        self._commit = client.register_script(COMMIT)
        self._release = client.register_script(RELEASE)
        # Sessions this worker served last, decoded, with what Redis holds of them.
        self._cache: OrderedDict[str, tuple[Held, Session]] = OrderedDict()

    @classmethod
    async def connect(cls, settings: Settings) -> RedisStore:
        """A store on BACKPROP_REDIS_URL; refuses to start if Redis does not answer."""
        client = _client(settings.redis_url, CONNECTIONS)
        try:
            await client.ping()
        except RedisError as e:
            await client.aclose()
            raise RuntimeError(
                f"BACKPROP_REDIS_URL is set but Redis does not answer there ({e})."
            ) from None
        return cls(settings, client, _client(settings.redis_url, settings.max_followers))

    async def close(self) -> None:
        await self.redis.aclose()
        if self.readers is not self.redis:
            await self.readers.aclose()

    # ----------------------------------------------------------------- create
    async def add(self, config: SessionConfig) -> Session:
        return await self._add(self._session(new_id(), config.dataset, self._build(config)))

    async def add_snapshot(self, snap: Snapshot) -> Session:
        net, history = self._read_snapshot(snap)
        session = self._session(new_id(), snap.config.dataset, net)
        if history is not None:
            session.history = history
        return await self._add(session)

    def _build(self, config: SessionConfig, weights=None):
        return build_network(config, self.settings, weights)

    async def _add(self, session: Session) -> Session:
        now, ttl = time.time(), self.settings.session_ttl_seconds
        made = changes(session, Held(0))
        fields = ["version", 1, *(x for pair in made.write.items() for x in pair)]
        args = [self.settings.max_sessions, now, now - ttl, ttl, session.id, *fields]
        async with self._reachable():
            evicted = await self._create(keys=[INDEX], args=args)
        for sid in evicted:
            self._forgot(sid.decode())
        session.history.mark_saved()
        self._remember(session.id, made.after, session)
        return session

    # ------------------------------------------------------------------ use
    @asynccontextmanager
    async def lease(self, sid: str) -> AsyncIterator[Session]:
        token = secrets.token_hex(16)
        held, session = await self._take(sid, token)
        # A shared run's events go out (on_commit) before its next request starts: its
        # lock is let go after them, not with the save.
        shared = session.shared
        kept = False
        try:
            yield session
        finally:
            in_turn = shared or session.shared
            try:
                try:
                    await self._save(session, held, "" if in_turn else token)
                    kept = True
                finally:
                    if self.on_commit is not None:
                        await self.on_commit(session, kept)
            finally:
                if in_turn or not kept:
                    with suppress(RedisError):  # expired: the version check guarded
                        await self._unlock(sid, token)

    async def peek(self, sid: str) -> Session:
        return (await self._fetch(sid, self._read, [_key(sid)], []))[1]

    async def _take(self, sid: str, token: str) -> tuple[Held, Session]:
        """Wait for the session's lock (at most LOCK_SECONDS), count the use, read it."""
        keys = [_key(sid), _lock(sid), INDEX]
        ttl = self.settings.session_ttl_seconds
        deadline = time.monotonic() + LOCK_SECONDS
        while True:
            args = [token, int(LOCK_SECONDS * 1000), ttl, time.time(), sid]
            try:
                taken = await self._fetch(sid, self._lease, keys, args)
            except Unreadable:
                with suppress(RedisError):  # the lock was taken: let it go
                    await self._unlock(sid, token)
                raise
            if taken is not None:
                return taken
            if time.monotonic() > deadline:
                raise Unavailable(BUSY.format(s=LOCK_SECONDS))
            await asyncio.sleep(LOCK_POLL_SECONDS)

    async def _fetch(self, sid, script, keys, args) -> tuple[Held, Session] | None:
        """Run READ or LEASE: the session, decoded unless this worker's copy is current;
        None if LEASE found it locked."""
        cached = self._cache.get(sid)
        async with self._reachable():
            reply = await script(keys=keys, args=[cached[0].version if cached else "", *args])
        if reply is None:
            return None
        if not reply:
            self._drop(sid)
            await self._check(sid)  # a follow token answers 403, not 404
            raise NotFound(NO_SESSION)
        if len(reply) == 1:  # the version this worker's copy has
            # (remembered again: another request may have dropped it meanwhile)
            self._remember(sid, *cached)
            return cached
        fields = dict(zip(reply[::2], reply[1::2], strict=True))
        try:
            session, held = decode(sid, fields, self._build, self._session)
        except (KeyError, ValueError, TypeError) as e:
            raise Unreadable(UNREADABLE) from e
        self._remember(sid, held, session)
        return held, session

    async def _save(self, session: Session, held: Held, token: str) -> None:
        """Write what the request changed, over the version it read; with ``token``, let
        the lock go in the same script."""
        made = changes(session, held)
        if not made.write and not made.delete:
            if token:
                async with self._reachable():
                    await self._unlock(session.id, token)
            return
        version, ttl = held.version, self.settings.session_ttl_seconds
        args = [version, version + 1, ttl, token, len(made.write)]
        args += [x for pair in made.write.items() for x in pair]
        args += made.delete
        try:
            async with self._reachable():
                saved = await self._commit(keys=[_key(session.id), _lock(session.id)], args=args)
        except Refused:
            self._drop(session.id)  # what this worker holds may not be what Redis holds
            raise
        if not saved:
            self._drop(session.id)
            raise Unavailable(BUSY.format(s=LOCK_SECONDS))
        session.history.mark_saved()
        self._remember(session.id, made.after, session)

    async def _unlock(self, sid: str, token: str) -> None:
        """Let the session's lock go if it is still this request's."""
        await self._release(keys=[_lock(sid)], args=[token])

    # ---------------------------------------------------------------- forget
    async def remove(self, sid: str) -> None:
        async with self._reachable(), self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(_key(sid))
            pipe.zrem(INDEX, sid)
            deleted, _ = await pipe.execute()
        if not deleted:
            await self._check(sid)
            raise NotFound(NO_SESSION)
        self._forgot(sid)

    async def expire(self) -> int:
        """Forget the ids of sessions idle past the expiry (Redis dropped their hashes)."""
        limit = time.time() - self.settings.session_ttl_seconds
        async with self._reachable():
            expired = await self.redis.zrangebyscore(INDEX, "-inf", f"({limit}")
            if expired:
                await self.redis.zrem(INDEX, *expired)
        for sid in expired:
            self._forgot(sid.decode())
        return len(expired)

    def _forgot(self, sid: str) -> None:
        self._drop(sid)
        if self.on_forget is not None:
            self.on_forget(sid)

    # ---------------------------------------------------------------- cache
    def _remember(self, sid: str, held: Held, session: Session) -> None:
        self._cache[sid] = (held, session)
        self._cache.move_to_end(sid)
        while len(self._cache) > self.settings.max_sessions:
            self._cache.popitem(last=False)

    def _drop(self, sid: str) -> None:
        self._cache.pop(sid, None)

    def __len__(self) -> int:
        return len(self._cache)

    @asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        """Redis errors as a 503 with a sentence, not a 500."""
        try:
            yield
        except RedisError as e:
            raise Unavailable(UNREACHABLE) from e
