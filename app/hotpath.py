"""The hot path: ``POST /api/sessions/{id}/step`` without examples, answered at the door.

A class stepping its networks sends this one request many times a second, and for it
FastAPI's middleware, routing, dependency solving and request objects cost about as
much as the SGD step, its metrics and its JSON together (in process, ~190 of ~400
µs). ``BackpropLab``, the app, hands exactly that request — no body, or the ``{}`` the
page sends — to ``StepHotPath`` before any of FastAPI runs. It calls what the route
calls (``step_response`` in app/routes/sessions.py) and adds what the middleware would
(security headers; ``Vary`` on an uncompressed answer, as GZipMiddleware does), so
status, headers and bytes are the route's. Everything else goes on to FastAPI
untouched: a step that names its examples (``{"indices": [...]}``), any other body,
every other path. A session's own errors (``ApiError``: unknown session, read-only,
a phase in progress) are answered as app/errors.py answers them; anything else
propagates to the server, which answers 500, as FastAPI's ServerErrorMiddleware would.
The route stays declared: it is what /docs shows and what serves the other bodies.
tests/test_hotpath.py holds both to the same output.

The body-size limit does not apply: the hot path reads at most the two bytes of ``{}``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ApiError
from app.middleware import GZIP_MIN_BYTES, SECURITY_HEADERS
from app.routes.sessions import step_response

PREFIX = "/api/sessions/"
SUFFIX = "/step"
EMPTY_OBJECT = b"{}"


def is_step(scope: Scope) -> bool:
    """A cheap first test: ``POST …/step`` (``StepHotPath`` makes sure)."""
    return scope["type"] == "http" and scope["path"].endswith(SUFFIX) and scope["method"] == "POST"


def _step_session_id(scope: Scope) -> str | None:
    """The session id if this is ``POST /api/sessions/{id}/step`` (else None)."""
    if not is_step(scope) or scope.get("root_path"):
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    sid = path[len(PREFIX) : -len(SUFFIX)]
    return sid if sid and "/" not in sid else None


def _json_media_type(value: bytes) -> bool:
    media_type = value.partition(b";")[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


class StepHotPath:
    """Serve a plain step (no body, or ``{}``) of ``owner``'s sessions without FastAPI's
    request machinery; pass anything else on to ``app`` (the whole FastAPI app)."""

    def __init__(self, app: ASGIApp, owner: Starlette) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sid = _step_session_id(scope)
        if sid is None:
            await self.app(scope, receive, send)
            return
        length = content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                length = b"chunked"  # a streamed body: FastAPI reads it
        if length not in (None, b"0"):
            if length != b"2" or content_type is None or not _json_media_type(content_type):
                await self.app(scope, receive, send)
                return
            message = await receive()
            if message.get("body") != EMPTY_OBJECT or message.get("more_body", False):
                await self.app(scope, _replay(message, receive), send)
                return
        await self._step(scope, sid, receive, send)

    async def _step(self, scope: Scope, sid: str, receive: Receive, send: Send) -> None:
        accept = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value
                break
        gzip_ok = b"gzip" in accept
        try:
            session = self.owner.state.store.get(sid)
            async with session.lock:
                response = step_response(session, None, gzip_ok)
        except ApiError as e:
            response = JSONResponse({"detail": e.detail}, status_code=e.status_code)
        if not gzip_ok and len(response.body) >= GZIP_MIN_BYTES:
            # What GZipMiddleware adds to the route's uncompressed answer.
            response.raw_headers.append((b"vary", b"Accept-Encoding"))
        response.raw_headers += SECURITY_HEADERS  # what SecurityHeadersMiddleware adds
        await response(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """``receive`` that hands out an already received message first."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
