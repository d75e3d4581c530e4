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
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ApiError, api_error_response
from app.middleware import GZIP_MIN_BYTES, replaying, secured
from app.routes.sessions import is_json, step_response

PREFIX = "/api/sessions/"
SUFFIX = "/step"
EMPTY_OBJECT = b"{}"


def is_step(scope: Scope) -> bool:
    """A cheap first test: ``POST …/step`` (``StepHotPath`` makes sure)."""
    return scope["type"] == "http" and scope["path"].endswith(SUFFIX) and scope["method"] == "POST"


def _session_id(scope: Scope) -> str | None:
    """The session id of ``POST /api/sessions/{id}/step``, given that ``is_step(scope)``."""
    path: str = scope["path"]
    if scope.get("root_path") or not path.startswith(PREFIX):
        return None
    sid = path[len(PREFIX) : -len(SUFFIX)]
    return sid if sid and "/" not in sid else None


class StepHotPath:
    """Serve a plain step (no body, or ``{}``) of ``owner``'s sessions without FastAPI's
    request machinery; pass anything else on to ``app`` (the whole FastAPI app). Called
    for the requests ``is_step`` accepts."""

    def __init__(self, app: ASGIApp, owner: Starlette) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sid = _session_id(scope)
        if sid is None:
            await self.app(scope, receive, send)
            return
        length = content_type = None
        accept = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                length = b"chunked"  # a streamed body: FastAPI reads it
            elif name == b"accept-encoding":
                accept = value
        if length not in (None, b"0"):
            declared = "" if content_type is None else content_type.decode("latin-1")
            if length != b"2" or not is_json(declared):
                await self.app(scope, receive, send)
                return
            message = await receive()
            if message.get("body") != EMPTY_OBJECT or message.get("more_body", False):
                await self.app(scope, replaying([message], receive), send)
                return
        await self._step(scope, sid, b"gzip" in accept, receive, send)

    async def _step(self, scope: Scope, sid: str, gzip_ok: bool, receive: Receive, send: Send):
        try:
            session = self.owner.state.store.get(sid)
            async with session.lock:
                response = step_response(session, None, gzip_ok)
        except ApiError as e:
            response = api_error_response(e)
        if not gzip_ok and len(response.body) >= GZIP_MIN_BYTES:
            # What GZipMiddleware adds to the route's uncompressed answer.
            response.raw_headers.append((b"vary", b"Accept-Encoding"))
        response.raw_headers = secured(response.raw_headers)  # as SecurityHeadersMiddleware
        await response(scope, receive, send)
