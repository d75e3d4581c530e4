"""Sessions in Redis: any worker process, on any host, serves any session.

Set BACKPROP_REDIS_URL and each session is one Redis hash, ``backprop:session:<id>``:

    version  bumped by every change
    header   JSON: the config, step / epoch / position, the step in progress, the undo
             stack's (step, epoch, position), whether the run is shared
    weights  W(1) … W(L) as raw little-endian float64 bytes, one after the other
    undo     the undo stack's weights the same way, oldest first
    history  the history's points as raw bytes (History.to_bytes, app/history.py)
    trace    the latest step's trace while the weights are the ones it produced (what
             GET …/trace and a share's first view show), packed (app/packed.py); or empty

Requests on one session run one at a time across all workers: each holds the lock
``backprop:lock:<id>`` (redis-py's ``Lock``: a key set only if absent, with a timeout,
so the lock of a killed worker expires). What a request changed is written before its
answer is sent, and only over the version it read. A worker keeps the sessions it
served last, decoded, and reuses one while its version in Redis is unchanged.

Idle sessions expire by the hash's TTL. The sorted set ``backprop:sessions`` (id →
time of last use) counts sessions for BACKPROP_MAX_SESSIONS and names the least
recently used one to evict; creating a session does both in one script, so several
workers creating at once cannot pass the limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import numpy as np
import orjson
import redis.asyncio as redis
from redis.exceptions import LockError, RedisError

from app.exceptions import NotFound, Refused, Unavailable
from app.history import History
from app.packed import pack, unpack
from app.schemas import SessionConfig
from app.sessions import NO_SESSION, Session, build_network, new_id
from app.settings import Settings
from app.snapshot import Snapshot
from app.store import Store
from engine import State, StepTrace

PREFIX = "backprop:"
INDEX = PREFIX + "sessions"
FLOAT = np.dtype("<f8")  # the same bytes on every host

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

# Save: write the fields only over the version read (a request that outlived its lock
# must not overwrite a newer state). KEYS: the hash; ARGV: version read, TTL, field, …
SAVE = """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def _client(url: str, connections: int) -> redis.Redis:
    """A client whose requests, past ``connections`` at once, wait for a free connection
    (at most LOCK_SECONDS) instead of failing."""
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=connections, timeout=LOCK_SECONDS, socket_timeout=LOCK_SECONDS
    )
    return redis.Redis.from_pool(pool)


def _key(sid: str) -> str:
    return f"{PREFIX}session:{sid}"


def _floats(arrays) -> bytes:
    return b"".join(np.ascontiguousarray(a, FLOAT).tobytes() for a in arrays)


def _matrices(data: bytes, layers: list[int], count: int) -> list[tuple[np.ndarray, ...]]:
    """``count`` sets of W(1) … W(L) from their raw bytes."""
    flat = np.frombuffer(data, FLOAT)
    shapes = [(a + 1, b) for a, b in zip(layers, layers[1:], strict=False)]
    out, at = [], 0
    for _ in range(count):
        ws = []
        for shape in shapes:
            n = shape[0] * shape[1]
            w = flat[at : at + n].reshape(shape).astype(np.float64)  # a writable copy
            w.flags.writeable = False
            ws.append(w)
            at += n
        out.append(tuple(ws))
    return out


def _pending(session: Session) -> dict | None:
    """The step in progress, as what recomputes it: its examples (None: the next
    mini-batch) and whether its backward pass is done. Both passes are functions of the
    weights and the examples, so the recomputed step is the same bit for bit."""
    fwd = session.pending
    if fwd is None:
        return None
    st = session.net.state
    # The next mini-batch moves the epoch position on; chosen examples leave it where it is.
    chosen = (fwd.epoch_after, fwd.position_after) == (st.epoch, st.position)
    return {
        "indices": fwd.indices.tolist() if chosen else None,
        "backward": session.pending_backward is not None,
    }


def encode(session: Session, version: int) -> dict[str, bytes]:
    """The Redis hash of a session (see the module's docstring)."""
    st = session.net.state
    trace = session.current_trace()
    header = {
        "config": session.config.model_dump(mode="json"),
        "step": st.step,
        "epoch": st.epoch,
        "position": st.position,
        "pending": _pending(session),
        "undo": [[u.step, u.epoch, u.position] for u in session.undo],
        "shared": session.shared,
    }
    return {
        "version": str(version).encode(),
        "header": orjson.dumps(header),
        "weights": _floats(st.weights),
        "undo": _floats(w for u in session.undo for w in u.weights),
        "history": session.history.to_bytes(),
        "trace": b"" if trace is None else pack(trace),
    }


def _history(depth: int, data: bytes) -> History:
    """History.to_bytes, or the JSON that sessions saved before it ("{": never the first
    byte of to_bytes, whose first number, the capacity, is even)."""
    if data.startswith(b"{"):
        return History.from_dict(depth, orjson.loads(data))
    return History.from_bytes(depth, data)


def _fingerprint(session: Session) -> tuple[tuple, tuple]:
    """What a request may change: objects, compared by identity (a run's state and
    config are immutable, replaced by each change), and numbers. A session whose
    fingerprint is unchanged is not written."""
    history, undo = session.history, session.undo
    objects = (
        session.net.state,
        session.net.config,
        undo[-1] if undo else None,
        session.pending,
        session.pending_backward,
        session.last_trace,
    )
    numbers = (len(history), history.last_step, len(undo), undo.maxlen, session.shared)
    return objects, numbers


def _changed(before: tuple[tuple, tuple], after: tuple[tuple, tuple]) -> bool:
    objects = any(a is not b for a, b in zip(before[0], after[0], strict=True))
    return objects or before[1] != after[1]


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
        self._save_script = client.register_script(SAVE)
        # Sessions this worker served last, decoded, with the version they were read at.
        self._cache: OrderedDict[str, tuple[int, Session]] = OrderedDict()

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
        fields = [x for pair in encode(session, 1).items() for x in pair]
        args = [self.settings.max_sessions, now, now - ttl, ttl, session.id, *fields]
        async with self._reachable():
            evicted = await self._create(keys=[INDEX], args=args)
        for sid in evicted:
            self._forgot(sid.decode())
        self._remember(session.id, 1, session)
        return session

    # ------------------------------------------------------------------ use
    @asynccontextmanager
    async def lease(self, sid: str) -> AsyncIterator[Session]:
        lock = self.redis.lock(
            f"{PREFIX}lock:{sid}",
            timeout=LOCK_SECONDS,
            sleep=LOCK_POLL_SECONDS,
            blocking_timeout=LOCK_SECONDS,
        )
        async with self._reachable():
            acquired = await lock.acquire()
        if not acquired:
            raise Unavailable(BUSY.format(s=LOCK_SECONDS))
        try:
            version, session = await self._load(sid, touch=True)
            before = _fingerprint(session)
            kept = False
            try:
                yield session
            finally:
                try:
                    if _changed(before, _fingerprint(session)):
                        await self._save(session, version)
                    kept = True
                finally:
                    if self.on_commit is not None:  # in the session's turn: events in order
                        await self.on_commit(session, kept)
        finally:
            with suppress(LockError, RedisError):  # expired: the version check guarded
                await lock.release()

    async def peek(self, sid: str) -> Session:
        return (await self._load(sid, touch=False))[1]

    async def _load(self, sid: str, touch: bool) -> tuple[int, Session]:
        key = _key(sid)
        async with self._reachable():
            if touch:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.hget(key, "version")
                    pipe.expire(key, self.settings.session_ttl_seconds)
                    pipe.zadd(INDEX, {sid: time.time()}, xx=True)
                    version, *_ = await pipe.execute()
            else:
                version = await self.redis.hget(key, "version")
            if version is None:
                self._drop(sid)
                await self._check(sid)  # a follow token answers 403, not 404
                raise NotFound(NO_SESSION)
            cached = self._cache.get(sid)
            if cached is not None and cached[0] == int(version):
                self._cache.move_to_end(sid)
                return cached
            fields = await self.redis.hgetall(key)
        if not fields:
            raise NotFound(NO_SESSION)
        version = int(fields[b"version"])
        session = self._decode(sid, fields)
        self._remember(sid, version, session)
        return version, session

    async def _save(self, session: Session, version: int) -> None:
        fields = encode(session, version + 1)
        args = [version, self.settings.session_ttl_seconds]
        args += [x for pair in fields.items() for x in pair]
        try:
            async with self._reachable():
                saved = await self._save_script(keys=[_key(session.id)], args=args)
        except Refused:
            self._drop(session.id)  # what this worker holds is not what Redis holds
            raise
        if not saved:
            self._drop(session.id)
            raise Unavailable(BUSY.format(s=LOCK_SECONDS))
        self._remember(session.id, version + 1, session)

    def _decode(self, sid: str, fields: dict[bytes, bytes]) -> Session:
        header = orjson.loads(fields[b"header"])
        config = SessionConfig.model_validate(header["config"])
        layers = config.layers
        (weights,) = _matrices(fields[b"weights"], layers, 1)
        net = self._build(config, weights)
        trace = unpack(StepTrace, fields[b"trace"]) if fields.get(b"trace") else None
        # With its trace, the run's weights are the trace's own (the same numbers), so
        # that the trace shows as the current step (Session.current_trace).
        weights = net.weights if trace is None else trace.weights
        net.restore(State(weights, header["step"], header["epoch"], header["position"]))
        session = self._session(sid, config.dataset, net)
        undo = _matrices(fields[b"undo"], layers, len(header["undo"]))
        for ws, (step, epoch, position) in zip(undo, header["undo"], strict=True):
            session.undo.append(State(ws, step, epoch, position))
        session.history = _history(net.config.depth, fields[b"history"])
        session.shared = header["shared"]
        session.last_trace = trace
        pending = header["pending"]
        if pending is not None:
            session.pending = net.begin(pending["indices"])
            if pending["backward"]:
                session.pending_backward = net.backward(session.pending)
        return session

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
    def _remember(self, sid: str, version: int, session: Session) -> None:
        self._cache[sid] = (version, session)
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
