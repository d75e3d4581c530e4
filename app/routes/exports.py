"""Exports for homework: the current step's trace (JSON, CSV), the history (CSV) and a
self-contained HTML report."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Response

from app.encode import TraceResponse
from app.exceptions import OutOfOrder
from app.report import history_csv, html_report, trace_csv
from app.routes.sessions import ERRORS, SessionDep, trace_response
from app.trace_schemas import StepOut

router = APIRouter(prefix="/api/sessions", tags=["exports"], responses=ERRORS)

CSV = {200: {"content": {"text/csv": {}}, "description": "CSV, one header row."}}


def _trace(session):
    t = session.current_trace()
    if t is None:
        raise OutOfOrder("There is no step at the current weights to export: step first.")
    return t


@router.get("/{session_id}/trace", response_model=StepOut)
async def trace_json(session: SessionDep) -> TraceResponse:
    """The latest step's trace, exactly as ``POST .../step`` returned it."""
    async with session.lock:
        return trace_response(session, _trace(session))


@router.get("/{session_id}/trace.csv", response_class=Response, responses=CSV)
async def trace_as_csv(session: SessionDep) -> Response:
    """The latest step's trace, one number per row: quantity, layer, row, col, value."""
    async with session.lock:
        body = trace_csv(_trace(session))
    return _download(body, "text/csv", f"step-{session.net.state.step}.csv")


@router.get("/{session_id}/history.csv", response_class=Response, responses=CSV)
async def history_as_csv(session: SessionDep) -> Response:
    """Error, ‖G(l)‖_F and mean |δ(l)| per stored point of the history."""
    async with session.lock:
        body = history_csv(session)
    return _download(body, "text/csv", "history.csv")


@router.get(
    "/{session_id}/report.html",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "A self-contained page."}},
)
async def report(session: SessionDep) -> Response:
    """One HTML file with the run's charts (plotly.js inside: it opens offline)."""
    async with session.lock:
        body = await to_thread.run_sync(html_report, session)
    return _download(body, "text/html", "backprop-lab-report.html")


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
