"""Sessions: create, inspect, step through the lecture's algorithm line by line.

Every route holds the session's lock for its whole body, so concurrent requests on
one session never interleave a step. Work that may take long (fast-forward, gradient
check, grid) runs in a worker thread while holding the lock, so it neither blocks
other sessions nor races with its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import numpy as np
from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app import budget
from app.encode import TraceResponse, backward_document, forward_document, step_document
from app.errors import ErrorOut
from app.schemas import (
    ConfigPatch,
    Curve,
    DatasetOut,
    HistoryOut,
    IndicesRequest,
    ResetRequest,
    SessionConfig,
    SessionOut,
    State,
    TrainOut,
    TrainRequest,
    WeightsRequest,
    progress_dict,
)
from app.sessions import Session
from app.settings import Settings
from app.snapshot import Snapshot
from app.store import Store
from app.trace_schemas import BackwardOut, ForwardOut, StepOut
from engine import StepTrace

BAD_BODY = {"model": ErrorOut, "description": "The body could not be read (not UTF-8 JSON)."}
ERRORS = {
    400: BAD_BODY,
    404: {"model": ErrorOut, "description": "No such session (unknown, deleted or expired)."},
    409: {"model": ErrorOut, "description": "Out of order (e.g. update before backward)."},
    422: {"model": ErrorOut, "description": "Invalid input or a limit exceeded (named)."},
}

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERRORS)


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[Store, Depends(get_store)]
Config = Annotated[Settings, Depends(get_settings)]
SessionIdPath = Annotated[str, Path(description="The session id returned on creation.")]


async def get_session(session_id: SessionIdPath, request: Request) -> AsyncIterator[Session]:
    async with request.app.state.store.lease(session_id) as session:
        yield session


# scope="function": the lease ends (a shared store has kept the session's new state)
# before the answer is sent, so nothing answered is lost if the process dies next.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def compute(request: Request, fn, *args):
    """Run CPU-heavy work in a worker thread, at most BACKPROP_COMPUTE_THREADS at once:
    the event loop stays free, so short requests are answered meanwhile."""
    return await to_thread.run_sync(fn, *args, limiter=request.app.state.compute_limiter)


# A step of at least this many multiply-adds (B × weights) runs in a worker thread; a
# small one (microseconds) costs less than the hop to a thread.
BIG_STEP = 100_000


def curve_points_bytes(points: int, depth: int) -> int:
    """The JSON of ``points`` history points: step, first, error and 2 numbers per layer."""
    return points * (3 + 2 * depth) * budget.JSON_FLOAT_BYTES


def state_of(session: Session) -> State:
    return State.from_network(session.net, session.phase, len(session.undo))


def trace_response(session: Session, trace: StepTrace) -> TraceResponse:
    """A step's numbers (``StepOut``) and where the run stands after it."""
    progress = progress_dict(session.net, session.phase, len(session.undo))
    return TraceResponse(step_document(trace, progress))


def session_out(session: Session) -> SessionOut:
    return SessionOut(id=session.id, config=session.config, state=state_of(session))


def _indices(body: IndicesRequest | None):
    return None if body is None else body.indices


# ------------------------------------------------------------- the algorithm
# Declared first: FastAPI tries routes in the order they are declared, and a step is
# what a class asks for many times a second.
@router.post("/{session_id}/step", response_model=StepOut)
async def step(
    request: Request, session: SessionDep, body: IndicesRequest | None = None
) -> TraceResponse:
    """One SGD iteration (forward, backward, update), or the rest of one in progress.

    Optional body ``{"indices": [...]}``: these training examples instead of the next
    mini-batch (at most ``BACKPROP_MAX_BATCH``). A step whose numbers would not be
    finite is refused: ``diverged: true``, a sentence in ``message``, no per-layer
    numbers, and the session unchanged.
    """
    indices = _indices(body)
    async with session.lock:
        layers = session.net.config.layers
        batch = len(indices) if indices else session.net.config.batch_size
        if batch * budget.weight_count(layers) < BIG_STEP:
            trace = session.step(indices)
        else:
            trace = await compute(request, session.step, indices)
        return trace_response(session, trace)


@router.post("/{session_id}/forward", response_model=ForwardOut)
async def forward(session: SessionDep, body: IndicesRequest | None = None) -> TraceResponse:
    """Line 1: pick the mini-batch (or the given examples); s(l) and x(l) of every layer."""
    async with session.lock:
        fwd, message = session.forward(_indices(body))
        return TraceResponse(forward_document(fwd, message))


@router.post("/{session_id}/backward", response_model=BackwardOut)
async def backward(session: SessionDep) -> TraceResponse:
    """Line 2: δ(l) of every layer, from L back to 1, and the gradient G(l)."""
    async with session.lock:
        step, bwd, message = session.backward()
        return TraceResponse(backward_document(step, bwd, message))


@router.post("/{session_id}/update", response_model=StepOut)
async def update(session: SessionDep) -> TraceResponse:
    """Line 3: W(l) ← W(l) − η G(l). Returns the whole step's trace."""
    async with session.lock:
        return trace_response(session, session.update())


# ------------------------------------------------------------------ lifecycle
@router.post("", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
async def create_session(store: StoreDep, config: SessionConfig | None = None) -> SessionOut:
    """Create a session. Every field of the config has a default: ``{}`` works."""
    return session_out(await store.add(config or SessionConfig()))


@router.post("/import", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
async def import_session(store: StoreDep, snapshot: Snapshot) -> SessionOut:
    """A new session from an export: it continues exactly as the original would have."""
    return session_out(await store.add_snapshot(snapshot))


@router.get("/{session_id}", response_model=SessionOut)
async def read_session(session: SessionDep) -> SessionOut:
    """Config and state: step, epoch, weights, train/test error and accuracy."""
    async with session.lock:
        return session_out(session)


@router.patch("/{session_id}", response_model=SessionOut)
async def patch_session(session: SessionDep, patch: ConfigPatch) -> SessionOut:
    """Change η, the batch size or the regularisation mid-run."""
    async with session.lock:
        session.patch(patch.learning_rate, patch.batch_size, patch.regularization)
        return session_out(session)


@router.delete("/{session_id}", status_code=204, response_class=Response)
async def delete_session(session_id: SessionIdPath, store: StoreDep) -> Response:
    await store.remove(session_id)
    return Response(status_code=204)


@router.post("/{session_id}/reset", response_model=SessionOut)
async def reset_session(session: SessionDep, body: ResetRequest | None = None) -> SessionOut:
    """Re-initialise the weights (same seed, or a new one) and go back to step 0."""
    async with session.lock:
        session.reset(body.seed if body else None)
        return session_out(session)


@router.put("/{session_id}/weights", response_model=SessionOut)
async def put_weights(session: SessionDep, body: WeightsRequest) -> SessionOut:
    """Set exact weights: W(1) … W(L), (d(l-1)+1) × d(l) each, bias weights in row 0."""
    async with session.lock:
        session.set_weights(body.weights)
        return session_out(session)


@router.get("/{session_id}/dataset", response_model=DatasetOut)
async def read_dataset(session: SessionDep) -> DatasetOut:
    """The training and test points with their labels and the targets the loss sees."""
    return DatasetOut.from_network(session.net)


# ----------------------------------------------------------- fast-forward
@router.post("/{session_id}/train", response_model=TrainOut)
async def train(
    request: Request, session: SessionDep, body: TrainRequest, settings: Config
) -> TrainOut:
    """Fast-forward: run up to ``steps`` SGD steps without full traces.

    One call does at most ``BACKPROP_MAX_STEPS_PER_CALL`` steps and stops after
    ``BACKPROP_TRAIN_TIME_LIMIT_SECONDS``; ``stopped`` says why it ended
    (``done``, ``limit``, ``time`` or ``diverged``). To fast-forward far, call it in a
    loop of chunks (the page uses 500 steps per call) and show progress between calls;
    to stop, stop calling. ``history`` holds one point per ``record_every`` steps, the
    mean over those steps.
    """
    async with session.lock:
        k = body.record_every
        points = -(-min(body.steps, settings.max_steps_per_call) // k)
        depth = session.net.config.depth
        size = curve_points_bytes(points, depth)
        budget.check_response(size, f"A history of {points} points (record_every = {k})", settings)
        rec, stopped = await compute(request, session.train, body.steps)
        n = len(rec.steps)
        starts = np.arange(0, n, k)
        if n and k > 1:
            counts = np.diff(np.append(starts, n)).astype(np.float64)
            curve = Curve(
                step=rec.steps[np.minimum(starts + k, n) - 1].tolist(),
                first=rec.steps[starts].tolist(),
                error=(np.add.reduceat(rec.error, starts) / counts).tolist(),
                grad_norm=(np.add.reduceat(rec.grad_norm, starts) / counts[:, None]).tolist(),
                delta_mean_abs=(
                    np.add.reduceat(rec.delta_mean_abs, starts) / counts[:, None]
                ).tolist(),
            )
        else:
            curve = Curve(
                step=rec.steps.tolist(),
                first=rec.steps.tolist(),
                error=rec.error.tolist(),
                grad_norm=rec.grad_norm.tolist(),
                delta_mean_abs=rec.delta_mean_abs.tolist(),
            )
        return TrainOut(
            steps_done=n,
            requested=body.steps,
            step=session.net.state.step,
            stopped=stopped,
            diverged=rec.diverged,
            message=rec.message,
            history=curve,
            state=state_of(session),
        )


@router.get("/{session_id}/history", response_model=HistoryOut)
async def history(
    session: SessionDep,
    settings: Config,
    since: Annotated[int, Query(ge=0, le=2**53, description="Only points after this step.")] = 0,
    max_points: Annotated[int, Query(ge=2, le=10000)] = 1000,
) -> HistoryOut:
    """Per step: the error and, per layer, ‖G(l)‖_F and mean |δ(l)|.

    The server keeps at most ``BACKPROP_MAX_HISTORY_POINTS`` points per session: when
    full, neighbouring points are merged pairwise, so each point is the exact mean
    over the steps ``first`` … ``step`` it covers. A response with more than
    ``max_points`` points is averaged down further the same way (and to fewer points
    if its JSON would pass ``BACKPROP_MAX_RESPONSE_BYTES``).
    """
    async with session.lock:
        per_point = curve_points_bytes(1, session.net.config.depth)
        max_points = max(2, min(max_points, settings.max_response_bytes // per_point))
        c = session.history.curve(since, max_points)
        return HistoryOut(
            **Curve.from_curve(c).__dict__,
            stride=session.history.stride,
            total_steps=session.net.state.step,
        )


@router.post("/{session_id}/undo", response_model=SessionOut)
async def undo(session: SessionDep) -> SessionOut:
    """Back to the state before the last step, fast-forward, reset or weight change.

    Up to ``BACKPROP_UNDO_DEPTH`` (default 50) are kept. While a step is half done
    (after forward or backward), undo cancels that step instead.
    """
    async with session.lock:
        session.undo_last()
        return session_out(session)


@router.get("/{session_id}/export", response_model=Snapshot)
async def export(session: SessionDep) -> Snapshot:
    """Everything needed to continue this run elsewhere: import it with POST /import."""
    async with session.lock:
        return session.snapshot()
