"""Classroom routes: share a session, follow it read-only, check predicted numbers.

The teacher's side is under ``/api/sessions/{id}`` (share, exercise checks); the
followers' side under ``/api/follow/{token}``, where the token is all a follower has:
it reads the run and its live events, never the session id, and changes nothing.
"""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.classroom_schemas import (
    ExerciseCheck,
    ExerciseCheckOut,
    FollowOut,
    ShareOut,
    SharePatch,
    ShareRequest,
)
from app.errors import ErrorOut
from app.exceptions import OutOfOrder
from app.exercise import StepNumbers, check
from app.follow import FollowHub
from app.routes.sessions import BAD_BODY, SessionDep
from app.schemas import Curve, DatasetOut, HistoryOut
from app.shares import Share

ERRORS = {
    400: BAD_BODY,
    403: {"model": ErrorOut, "description": "A follow token where a session id belongs."},
    404: {"model": ErrorOut, "description": "No such session, or it is not shared."},
    409: {"model": ErrorOut, "description": "Nothing to check yet, or that step is gone."},
    422: {"model": ErrorOut, "description": "Invalid input (named)."},
}
FOLLOW_ERRORS = {
    400: BAD_BODY,
    404: {"model": ErrorOut, "description": "Unknown or ended follow token."},
    409: {"model": ErrorOut, "description": "Nothing to check yet, or the run has ended."},
    422: {"model": ErrorOut, "description": "Invalid input (named)."},
}

share_router = APIRouter(prefix="/api/sessions", tags=["classroom"], responses=ERRORS)
follow_router = APIRouter(prefix="/api/follow", tags=["classroom"], responses=FOLLOW_ERRORS)

TokenPath = Annotated[str, Path(description="The follow token from the share link.")]


def hub_of(request: Request) -> FollowHub:
    return request.app.state.follow


def qr_svg(text: str) -> str:
    """``text`` as a QR code (segno; error correction M), an SVG that scales to any size."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out,
        kind="svg",
        scale=1,
        border=4,
        omitsize=True,  # a viewBox only: the page sets the size
        xmldecl=False,
        dark="#000",
        light="#fff",
        title="Follow link",
    )
    return out.getvalue().decode()


def _share_out(share: Share) -> ShareOut:
    url = f"/follow?token={share.token}"
    link = share.base_url.rstrip("/") + url
    return ShareOut(
        token=share.token,
        url=url,
        link=link,
        qr_svg=qr_svg(link),
        followers=share.follower_count,
        exercise=share.exercise,
    )


# ------------------------------------------------------------------ the teacher
@share_router.post("/{session_id}/share", response_model=ShareOut)
async def share(session: SessionDep, request: Request, body: ShareRequest | None = None):
    """Share this run read-only: a follow token, the follow page's link and its QR code.

    Sharing again returns the same token. ``base_url`` is the address students reach
    the server at (the link and QR code use it); ``continue_from`` moves the share of
    the teacher's previous session — its token and followers — to this one.
    """
    body = body or ShareRequest()
    base = body.base_url or str(request.base_url)
    return _share_out(await hub_of(request).share(session, base, body.continue_from))


@share_router.get("/{session_id}/share", response_model=ShareOut)
async def read_share(session: SessionDep, request: Request) -> ShareOut:
    """The share of this run: token, link, QR code, followers connected now."""
    return _share_out(await hub_of(request).shared(session))


@share_router.patch("/{session_id}/share", response_model=ShareOut)
async def patch_share(session: SessionDep, request: Request, body: SharePatch) -> ShareOut:
    """Turn exercise mode on for followers (what to predict), or off with ``null``."""
    hub = hub_of(request)
    share = await hub.shared(session)
    return _share_out(await hub.set_exercise(share, body.exercise))


@share_router.delete("/{session_id}/share", status_code=204, response_class=Response)
async def delete_share(session: SessionDep, request: Request) -> Response:
    """Stop sharing: followers are told the run ended; the token stops working."""
    await hub_of(request).unshare(session)
    return Response(status_code=204)


@share_router.post("/{session_id}/exercise/check", response_model=ExerciseCheckOut)
async def check_own(session: SessionDep, body: ExerciseCheck) -> ExerciseCheckOut:
    """Check a predicted δ_j(l) or new w_ij(l) against the step in progress.

    Call ``forward`` first: δ is then computed by the engine without changing the
    session. Correct means |value − expected| ≤ max(10⁻³, 10⁻² · |expected|).
    """
    async with session.lock:
        fwd = session.pending
        if fwd is None:
            raise OutOfOrder(
                "There is no step in progress to predict: call forward first (the exercise "
                "hides δ after the forward beat)."
            )
        bwd = session.pending_backward or session.net.backward(fwd)
        if not bwd.finite:
            raise OutOfOrder("This step's δ is not finite (the run diverges): undo it.")
        numbers = StepNumbers.pending(fwd, bwd, session.net.weights)
        return check(numbers, body, session.config, session.net.config.learning_rate)


# ------------------------------------------------------------------ followers
async def _follow(request: Request, token: str) -> tuple[FollowHub, Share]:
    hub = hub_of(request)
    return hub, await hub.by_token(token)


@follow_router.get("/{token}", response_model=FollowOut)
async def follow(token: TokenPath, request: Request) -> Response:
    """The shared run: config, state (weights included) and the step on show."""
    hub, share = await _follow(request, token)
    session = await hub.session_of(share)
    return Response(hub.follow_json(share, session), media_type="application/json")


@follow_router.get("/{token}/dataset", response_model=DatasetOut)
async def follow_dataset(token: TokenPath, request: Request) -> DatasetOut:
    """The shared run's training and test points."""
    hub, share = await _follow(request, token)
    return DatasetOut.from_network((await hub.session_of(share)).net)


@follow_router.get("/{token}/history", response_model=HistoryOut)
async def follow_history(
    token: TokenPath,
    request: Request,
    since: Annotated[int, Query(ge=0, description="Only points after this step.")] = 0,
    max_points: Annotated[int, Query(ge=2, le=10000)] = 1000,
) -> HistoryOut:
    """The shared run's error and gradient history, as GET …/sessions/{id}/history."""
    hub, share = await _follow(request, token)
    session = await hub.session_of(share)
    c = session.history.curve(since, max_points)
    return HistoryOut(
        **Curve.from_curve(c).__dict__,
        stride=session.history.stride,
        total_steps=session.net.state.step,
    )


@follow_router.get(
    "/{token}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: state, forward, backward, update, step, "
            "exercise, paused, ended; each with an increasing id.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        429: {"model": ErrorOut, "description": "Too many followers (the limit is named)."},
    },
)
async def follow_events(
    token: TokenPath,
    request: Request,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**53)] = None,
) -> StreamingResponse:
    """The shared run, live: one event per change, the first a full ``state``.

    Each event's ``data`` is one line of JSON with ``seq`` (= the event id) and
    ``kind``; ``forward``, ``backward``, ``update`` and ``step`` carry the same
    ``trace`` the teacher's call returned. A browser's EventSource reconnects by
    itself and sends ``Last-Event-ID``; missed events are replayed when still kept,
    otherwise a fresh ``state`` comes first.
    """
    hub, share = await _follow(request, token)
    follower = hub.join(share)
    return StreamingResponse(
        hub.stream(share, follower, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@follow_router.post("/{token}/exercise/check", response_model=ExerciseCheckOut)
async def check_follower(
    token: TokenPath, request: Request, body: ExerciseCheck
) -> ExerciseCheckOut:
    """Check a predicted δ_j(l) or new w_ij(l) against a step of the shared run.

    ``step`` names the step predicted (default: the latest); the last few steps are
    kept. Correct means |value − expected| ≤ max(10⁻³, 10⁻² · |expected|).
    """
    hub, share = await _follow(request, token)
    session = await hub.session_of(share)
    numbers = await hub.numbers(share, body.step)
    return check(numbers, body, session.config, session.net.config.learning_rate)
