"""Errors as plain sentences: ``{"detail": "..."}`` with the right 4xx status.

The one place that maps the service's refusals (app/exceptions.py) to HTTP statuses.
FastAPI's default validation handler echoes the offending input back, which crashes
on a NaN (it is not JSON) and shows students a wall of pydantic internals. Ours
writes one sentence per problem and never echoes the input.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import RedisError

from app.exceptions import (
    Invalid,
    NotFound,
    OutOfOrder,
    ReadOnly,
    Refused,
    TooMany,
    Unavailable,
)
from app.middleware import SECURITY_HEADERS
from app.redis_store import UNREACHABLE

STATUS: dict[type[Refused], int] = {
    NotFound: 404,
    ReadOnly: 403,
    OutOfOrder: 409,
    Invalid: 422,
    TooMany: 429,
    Unavailable: 503,
}


class ErrorOut(BaseModel):
    detail: str


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    # Union members and discriminator tags ("GeneratedDataset", the "custom" after
    # "dataset") are not field names: leave them out.
    parts = [
        p
        for i, p in enumerate(parts)
        if not p[:1].isupper() and not (i and parts[i - 1] == "dataset" and not p.isdigit())
    ]
    return ".".join(parts) or "the request body"


def _message(err: dict) -> str:
    where = _where(tuple(err.get("loc", ())))
    msg = err.get("msg", "is not valid")
    if err.get("type") == "missing":
        return f"{where} is required."
    if err.get("type") == "extra_forbidden":
        return f"{where} is not a known field."
    if err.get("type") == "finite_number":
        return f"{where} must be a finite number (not NaN or infinity)."
    if err.get("type") == "json_invalid":
        return "The request body is not valid JSON."
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        msg = msg[:1].upper() + msg[1:]
        return msg if msg.endswith(".") else msg + "."
    return f"{where}: {msg[:1].lower() + msg[1:]}."


def status_of(exc: Refused) -> int:
    return next(code for kind, code in STATUS.items() if isinstance(exc, kind))


INTERNAL = (
    "Something went wrong on the server (a bug, not your input). Try again, and tell the "
    "teacher if it keeps happening."
)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette answers this from its outermost middleware, outside the one that adds
        # the security headers: add them here. (The exception is still logged.)
        headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
        return JSONResponse({"detail": INTERNAL}, status_code=500, headers=headers)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": exc.sentence}, status_code=status_of(exc))

    @app.exception_handler(RedisError)
    async def _unreachable(request: Request, exc: RedisError) -> JSONResponse:
        # The store converts its own; this catches the follow hub's (app/follow_redis.py).
        return JSONResponse({"detail": UNREACHABLE}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        sentences = list(dict.fromkeys(_message(e) for e in exc.errors()))
        return JSONResponse({"detail": " ".join(sentences[:5])}, status_code=422)
