"""Where sessions are kept: the ``Store`` the routes and the follow hub use, and
``SessionStore``, which keeps them in this process (the default: nothing to install,
and a run ends with the process). ``RedisStore`` (app/redis_store.py) keeps them in
Redis instead, so that several worker processes, on any number of hosts, serve the same
sessions. Sessions expire when idle and the least recently used one is evicted when the
store is full.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from app import budget
from app.exceptions import Invalid, NotFound
from app.history import History
from app.schemas import DatasetConfig, SessionConfig
from app.sessions import NO_SESSION, ChangeHook, Session, build_network, new_id
from app.settings import Settings
from app.snapshot import Snapshot
from engine import Network, State


class Store(ABC):
    """Where sessions are kept: what the routes and the follow hub use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Hooks for the follow hub (app/follow.py): every session's changes go to
        # on_change; on_forget hears of each session deleted, expired or evicted; guard
        # sees an id that names no session and may refuse it (a follow token: 403);
        # on_commit runs when a request's lease ends, after its changes are kept (or
        # not: the flag), still in the session's turn (the follow hub publishes there).
        self.on_change: ChangeHook | None = None
        self.on_forget: Callable[[str], None] | None = None
        self.guard: Callable[[str], Awaitable[None]] | None = None
        self.on_commit: Callable[[Session, bool], Awaitable[None]] | None = None

    async def _check(self, sid: str) -> None:
        """Ask the guard about an id that names no session (it may raise 403)."""
        if self.guard is not None:
            await self.guard(sid)

    def _session_changed(self, session: Session, kind: str, detail: Any) -> None:
        if self.on_change is not None:
            self.on_change(session, kind, detail)

    def _history_capacity(self) -> int:
        cap = max(self.settings.max_history_points, 2)
        return cap + cap % 2

    def _session(self, sid: str, dataset: DatasetConfig, net: Network) -> Session:
        """A session object with this store's limits and hooks."""
        layers, batch = net.config.layers, net.config.batch_size
        return Session(
            sid,
            dataset,
            net,
            History(net.config.depth, self._history_capacity()),
            deque(maxlen=budget.undo_depth(layers, batch, dataset.size, self.settings)),
            self.settings,
            on_change=self._session_changed,
        )

    def _read_snapshot(self, snap: Snapshot) -> tuple[Network, History | None]:
        """The network and history of an export, checked against this server's limits."""
        net = build_network(snap.config, self.settings, snap.weights)
        if snap.position > net.n_train:
            raise Invalid(
                f"position {snap.position} is beyond the {net.n_train} training examples."
            )
        net.restore(State(net.weights, snap.step, snap.epoch, snap.position))
        history = None
        if snap.history:
            try:
                history = History.from_dict(net.config.depth, snap.history.model_dump())
            except (KeyError, ValueError, TypeError) as e:
                raise Invalid(f"The snapshot's history is not readable: {e}.") from None
            if history.capacity > self._history_capacity():
                raise Invalid(
                    f"The snapshot's history holds up to {history.capacity} points; this "
                    f"server keeps at most {self._history_capacity()}."
                )
        return net, history

    @abstractmethod
    async def add(self, config: SessionConfig) -> Session:
        """A new session with this config."""

    @abstractmethod
    async def add_snapshot(self, snap: Snapshot) -> Session:
        """A new session continuing an exported run."""

    @abstractmethod
    def lease(self, sid: str) -> AbstractAsyncContextManager[Session]:
        """The session, for one request that may change it; counts as use. The caller
        still holds ``session.lock`` around its work (one process's requests on one
        session); a store shared by several processes also serialises them, and keeps
        what the request changed before the answer is sent."""

    @abstractmethod
    async def peek(self, sid: str) -> Session:
        """The session as it is now, to read, without counting as use (followers)."""

    @abstractmethod
    async def remove(self, sid: str) -> None:
        """Delete the session (NotFound if there is none)."""

    @abstractmethod
    async def expire(self) -> int:
        """Forget idle sessions; return how many."""

    @abstractmethod
    async def close(self) -> None:
        """Release what the store holds (connections); called when the app stops."""


class SessionStore(Store):
    """Sessions by id in this process, least recently used first: nothing to install,
    and a run ends with the process."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    async def add(self, config: SessionConfig) -> Session:
        return self.create(config)

    async def add_snapshot(self, snap: Snapshot) -> Session:
        return self.restore(snap)

    @asynccontextmanager
    async def lease(self, sid: str) -> AsyncIterator[Session]:
        yield await self._found(sid)

    async def peek(self, sid: str) -> Session:
        return await self._found(sid, touch=False)

    async def remove(self, sid: str) -> None:
        await self._found(sid)
        self._forget(sid)

    async def _found(self, sid: str, touch: bool = True) -> Session:
        try:
            return self.get(sid, touch)
        except NotFound:
            await self._check(sid)
            raise

    async def expire(self) -> int:
        return self.sweep()

    async def close(self) -> None:
        pass  # nothing held but memory

    def _forget(self, sid: str) -> None:
        del self._sessions[sid]
        if self.on_forget is not None:
            self.on_forget(sid)

    def __len__(self) -> int:
        return len(self._sessions)

    def _new(self, dataset: DatasetConfig, net: Network) -> Session:
        self.sweep()
        while len(self._sessions) >= self.settings.max_sessions:
            self._forget(next(iter(self._sessions)))  # evict the least recently used
        session = self._session(new_id(), dataset, net)
        self._sessions[session.id] = session
        return session

    def create(self, config: SessionConfig) -> Session:
        return self._new(config.dataset, build_network(config, self.settings))

    def restore(self, snap: Snapshot) -> Session:
        net, history = self._read_snapshot(snap)
        session = self._new(snap.config.dataset, net)
        if history is not None:
            session.history = history
        return session

    def get(self, sid: str, touch: bool = True) -> Session:
        """The session with this id; ``touch=False`` reads it without counting as use."""
        session = self._sessions.get(sid)
        now = time.monotonic()
        if session is None or now - session.last_used > self.settings.session_ttl_seconds:
            if session is not None:
                self._forget(sid)
            raise NotFound(NO_SESSION)
        if touch:
            session.last_used = now
            self._sessions.move_to_end(sid)
        return session

    def sweep(self) -> int:
        """Forget sessions idle for longer than the expiry time; return how many."""
        limit = time.monotonic() - self.settings.session_ttl_seconds
        expired = [sid for sid, s in self._sessions.items() if s.last_used < limit]
        for sid in expired:
            self._forget(sid)
        return len(expired)
