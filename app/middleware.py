"""ASGI middleware applied to every HTTP response: security headers and a body-size cap.

Both middlewares are plain ASGI (not BaseHTTPMiddleware) so that streamed and file
responses pass through untouched.
"""

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts only from this server, and no inline scripts: the page is plain ES modules.
# style-src allows 'unsafe-inline' because plotly.js writes its stylesheet (modebar,
# hover labels) into a <style> element it creates; under style-src 'self' alone Chromium
# refuses it with a console error and plotly's modebar loses its layout.
# tests/test_browser_smoke.py draws a plot under this policy.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Responses smaller than this are sent uncompressed (gzip would barely shrink them).
GZIP_MIN_BYTES = 1024

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

_SECURITY = frozenset(name for name, _ in SECURITY_HEADERS)


def secured(headers) -> list[tuple[bytes, bytes]]:
    """Raw response headers with SECURITY_HEADERS in place of any of the same names."""
    return [h for h in headers if h[0].lower() not in _SECURITY] + SECURITY_HEADERS


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that hands out already received ``messages`` first, in order."""

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


class SecurityHeadersMiddleware:
    """Add SECURITY_HEADERS to every HTTP response, errors and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secured(message.get("headers", ()))}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitsMiddleware:
    """Read every request body up front, within ``max_bytes`` (else 413) and
    ``timeout_seconds`` (else 408), then hand it to the app.

    A slow or endless body cannot hold a request open, and no route ever parses more
    than ``max_bytes``; a declared Content-Length over the limit is refused unread.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _refuse(send, 413, self._too_large())
            return
        if not chunked and length in (None, b"0"):
            await self.app(scope, receive, send)
            return
        chunks: list[Message] = []
        size = 0
        try:
            with anyio.fail_after(self.timeout_seconds):
                while True:
                    message = await receive()
                    chunks.append(message)
                    if message["type"] != "http.request":  # the client went away
                        break
                    size += len(message.get("body", b""))
                    if size > self.max_bytes:
                        await _refuse(send, 413, self._too_large())
                        return
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _refuse(
                send,
                408,
                f"The request body did not arrive within {self.timeout_seconds:g} s "
                "(BACKPROP_BODY_TIMEOUT_SECONDS).",
            )
            return
        await self.app(scope, replaying(chunks, receive), send)

    def _too_large(self) -> str:
        return (
            f"The request body is larger than the limit of {self.max_bytes} bytes "
            "(BACKPROP_MAX_BODY_BYTES)."
        )


async def _refuse(send: Send, status: int, sentence: str) -> None:
    body = json.dumps({"detail": sentence}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
