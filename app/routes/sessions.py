"""Sessions: create, inspect, step through the lecture's algorithm line by line.

Every route holds the session's lock for its whole body, so concurrent requests on
one session never interleave a step. Work that may take long (fast-forward, gradient
check, grid) runs in a worker thread while holding the lock, so it neither blocks
other sessions nor races with its own.
"""

from __future__ import annotations

import json as stdlib_json
from typing import Annotated, Any

import numpy as np
from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.errors import ApiError, ErrorOut
from app.middleware import GZIP_MIN_BYTES, gzip_digits
from app.schemas import (
    BackwardOut,
    ConfigPatch,
    Curve,
    DatasetOut,
    ForwardOut,
    GradcheckOut,
    GradcheckRequest,
    GridLayer,
    GridOut,
    HistoryOut,
    IndicesRequest,
    LayerCheckOut,
    PredictLayer,
    PredictOut,
    PredictRequest,
    ResetRequest,
    SessionConfig,
    SessionOut,
    Snapshot,
    State,
    StepOut,
    TrainOut,
    TrainRequest,
    WeightsRequest,
    progress_dict,
    step_json,
)
from app.sessions import Session, SessionStore, _sentence, check_batch_size
from app.settings import Settings
from engine import StepTrace
from engine.gradcheck import gradient_check

ERRORS = {
    400: {"model": ErrorOut, "description": "The body could not be read (not UTF-8 JSON)."},
    404: {"model": ErrorOut, "description": "No such session (unknown, deleted or expired)."},
    409: {"model": ErrorOut, "description": "Out of order (e.g. update before backward)."},
    422: {"model": ErrorOut, "description": "Invalid input or a limit exceeded (named)."},
}

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERRORS)


# Dependencies are ``async def``: a plain ``def`` would cost a thread-pool round trip
# per request (measured ~55 µs each, more under load), for a dictionary lookup.
async def get_store(request: Request) -> SessionStore:
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


Store = Annotated[SessionStore, Depends(get_store)]
Config = Annotated[Settings, Depends(get_settings)]
SessionIdPath = Annotated[str, Path(description="The session id returned on creation.")]


async def get_session(session_id: SessionIdPath, store: Store) -> Session:
    return store.get(session_id)


SessionDep = Annotated[Session, Depends(get_session)]


def json(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise with pydantic-core directly: the response models were built by
    ``from_*`` constructors, so FastAPI's re-validation and dict encoding are skipped."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def _state(session: Session) -> State:
    return State.from_network(session.net, session.phase, len(session.undo))


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


class JsonBytes(Response):
    """JSON bytes sent as they are, with headers given ready-made: Starlette's
    ``Response`` would take ~8 µs to encode and check them, a step's answer ~1 µs."""

    media_type = "application/json"

    def __init__(self, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.status_code = 200
        self.body = body
        self.background = None
        self.raw_headers = [
            *headers,
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]


GZIPPED = ((b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding"))


def trace_response(session: Session, trace: StepTrace, gzip_ok: bool) -> Response:
    """A step's trace (``StepOut``) and where the run stands after it.

    Compressed here, not by GZipMiddleware (which passes an encoded body through): see
    ``gzip_digits``. A refused step's trace is small and is sent as it is.
    """
    body = step_json(trace, progress_dict(session.net, session.phase, len(session.undo)))
    if gzip_ok and len(body) >= GZIP_MIN_BYTES:
        return JsonBytes(gzip_digits(body), GZIPPED)
    return JsonBytes(body)


def step_response(session: Session, indices: list[int] | None, gzip_ok: bool) -> Response:
    """``POST .../step``: the route below, and app/hotpath.py for a step without a body.

    Call it holding ``session.lock``."""
    return trace_response(session, session.step(indices), gzip_ok)


def _session_out(session: Session, status_code: int = 200) -> Response:
    out = SessionOut.model_construct(id=session.id, config=session.config, state=_state(session))
    return json(out, status_code)


def _indices(body: IndicesRequest | None):
    return None if body is None or body.indices is None else body.indices


# ---------------------------------------------------------------- the hot path
# Routes are matched in the order they are declared, and each one tried costs FastAPI
# a few µs (twice: once to pick this router, once to pick the route): the route
# a class calls many times a second comes first.

OPTIONAL_INDICES_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [{"$ref": "#/components/schemas/IndicesRequest"}, {"type": "null"}],
                    "title": "Body",
                }
            }
        }
    }
}


def is_json(content_type: str) -> bool:
    """A Content-Type that FastAPI reads as JSON (application/json, …+json)."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def _indices_of(request: Request) -> list[int] | None:
    """The ``indices`` of an optional ``IndicesRequest`` body, read as FastAPI would.

    An empty body skips FastAPI's body machinery (about 35 µs per step; the page's
    plain steps do not come here at all: app/hotpath.py). Errors are FastAPI's own
    (RequestValidationError, locations under "body"), so they read as the same
    sentences (app/errors.py).
    """
    raw = await request.body()
    if not raw:
        return None
    data: Any = raw  # not JSON: refused below as "not an object", as FastAPI does
    if is_json(request.headers.get("content-type", "")):
        try:
            data = stdlib_json.loads(raw)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error"}]
            ) from None
    if data is None:
        return None
    try:
        return IndicesRequest.model_validate(data, from_attributes=True).indices
    except ValidationError as e:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post("/{session_id}/step", response_model=StepOut, openapi_extra=OPTIONAL_INDICES_BODY)
async def step(request: Request, session_id: SessionIdPath) -> Response:
    """One SGD iteration (forward, backward, update), or the rest of one in progress.

    Optional body ``{"indices": [...]}``: these training examples instead of the next
    mini-batch. A step whose numbers would not be finite is refused: ``diverged:
    true``, a sentence in ``message``, no per-layer numbers, and the session unchanged.
    """
    # The hot path finds its session itself: each level of dependencies (SessionDep
    # needs Store) costs FastAPI more per request than the lookup.
    session = request.app.state.store.get(session_id)
    indices = await _indices_of(request)
    async with session.lock:
        return step_response(session, indices, accepts_gzip(request))


# ------------------------------------------------------------------ lifecycle
@router.post("", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
async def create_session(store: Store, config: SessionConfig | None = None) -> Response:
    """Create a session. Every field of the config has a default: ``{}`` works."""
    session = store.create(config or SessionConfig())
    return _session_out(session, 201)


@router.post("/import", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
async def import_session(store: Store, snapshot: Snapshot) -> Response:
    """A new session from an export: it continues exactly as the original would have."""
    return _session_out(store.restore(snapshot), 201)


@router.get("/{session_id}", response_model=SessionOut)
async def read_session(session: SessionDep) -> Response:
    """Config and state: step, epoch, weights, train/test error and accuracy."""
    async with session.lock:
        return _session_out(session)


@router.patch("/{session_id}", response_model=SessionOut)
async def patch_session(session: SessionDep, patch: ConfigPatch, settings: Config) -> Response:
    """Change η or the batch size mid-run."""
    if patch.batch_size is not None:
        check_batch_size(patch.batch_size, settings)
    async with session.lock:
        session.patch(patch.learning_rate, patch.batch_size)
        return _session_out(session)


@router.delete("/{session_id}", status_code=204, response_class=Response)
async def delete_session(session_id: SessionIdPath, store: Store) -> Response:
    store.delete(session_id)
    return Response(status_code=204)


@router.post("/{session_id}/reset", response_model=SessionOut)
async def reset_session(session: SessionDep, body: ResetRequest | None = None) -> Response:
    """Re-initialise the weights (same seed, or a new one) and go back to step 0."""
    async with session.lock:
        session.reset(body.seed if body else None)
        return _session_out(session)


@router.put("/{session_id}/weights", response_model=SessionOut)
async def put_weights(session: SessionDep, body: WeightsRequest) -> Response:
    """Set exact weights: W(1) … W(L), (d(l-1)+1) × d(l) each, bias weights in row 0."""
    async with session.lock:
        session.set_weights(body.weights)
        return _session_out(session)


@router.get("/{session_id}/dataset", response_model=DatasetOut)
async def read_dataset(session: SessionDep) -> Response:
    """The training and test points with their labels and the targets the loss sees."""
    return json(DatasetOut.from_network(session.net))


# ------------------------------------------------------------- the algorithm
@router.post("/{session_id}/forward", response_model=ForwardOut)
async def forward(session: SessionDep, body: IndicesRequest | None = None) -> Response:
    """Line 1: pick the mini-batch (or the given examples); s(l) and x(l) of every layer."""
    async with session.lock:
        fwd, message = session.forward(_indices(body))
        return json(ForwardOut.from_forward(fwd, message))


@router.post("/{session_id}/backward", response_model=BackwardOut)
async def backward(session: SessionDep) -> Response:
    """Line 2: δ(l) of every layer, from L back to 1, and the gradient G(l)."""
    async with session.lock:
        step, bwd, message = session.backward()
        return json(BackwardOut.from_backward(step, bwd, message))


@router.post("/{session_id}/update", response_model=StepOut)
async def update(request: Request, session: SessionDep) -> Response:
    """Line 3: W(l) ← W(l) − η G(l). Returns the whole step's trace."""
    async with session.lock:
        return trace_response(session, session.update(), accepts_gzip(request))


# /step reads its optional body itself (see ``_indices_of``) and declares it here, as
# FastAPI would for ``body: IndicesRequest | None = None``.
@router.post("/{session_id}/train", response_model=TrainOut)
async def train(session: SessionDep, body: TrainRequest, settings: Config) -> Response:
    """Fast-forward: run up to ``steps`` SGD steps without full traces.

    One call does at most ``BACKPROP_MAX_STEPS_PER_CALL`` steps and stops after
    ``BACKPROP_TRAIN_TIME_LIMIT_SECONDS``; ``stopped`` says why it ended
    (``done``, ``limit``, ``time`` or ``diverged``). To fast-forward far, call it in a
    loop of chunks (the page uses 500 steps per call) and show progress between calls;
    to stop, stop calling. ``history`` holds one point per ``record_every`` steps, the
    mean over those steps.
    """
    async with session.lock:
        rec, stopped = await to_thread.run_sync(session.train, body.steps, settings)
        k = body.record_every
        n = len(rec.steps)
        starts = np.arange(0, n, k)
        if n and k > 1:
            counts = np.diff(np.append(starts, n)).astype(np.float64)
            curve = Curve.model_construct(
                step=rec.steps[np.minimum(starts + k, n) - 1].tolist(),
                first=rec.steps[starts].tolist(),
                error=(np.add.reduceat(rec.error, starts) / counts).tolist(),
                grad_norm=(np.add.reduceat(rec.grad_norm, starts) / counts[:, None]).tolist(),
                delta_mean_abs=(
                    np.add.reduceat(rec.delta_mean_abs, starts) / counts[:, None]
                ).tolist(),
            )
        else:
            curve = Curve.model_construct(
                step=rec.steps.tolist(),
                first=rec.steps.tolist(),
                error=rec.error.tolist(),
                grad_norm=rec.grad_norm.tolist(),
                delta_mean_abs=rec.delta_mean_abs.tolist(),
            )
        out = TrainOut.model_construct(
            steps_done=n,
            requested=body.steps,
            step=session.net.state.step,
            stopped=stopped,
            diverged=rec.diverged,
            message=rec.message,
            history=curve,
            state=_state(session),
        )
        return json(out)


@router.get("/{session_id}/history", response_model=HistoryOut)
async def history(
    session: SessionDep,
    since: Annotated[int, Query(ge=0, description="Only points after this step.")] = 0,
    max_points: Annotated[int, Query(ge=2, le=10000)] = 1000,
) -> Response:
    """Per step: the error and, per layer, ‖G(l)‖_F and mean |δ(l)|.

    The server keeps at most ``BACKPROP_MAX_HISTORY_POINTS`` points per session: when
    full, neighbouring points are merged pairwise, so each point is the exact mean
    over the steps ``first`` … ``step`` it covers. A response with more than
    ``max_points`` points is averaged down further the same way.
    """
    async with session.lock:
        c = session.history.curve(since, max_points)
        out = HistoryOut.model_construct(
            **Curve.from_curve(c).__dict__,
            stride=session.history.stride,
            total_steps=session.net.state.step,
        )
        return json(out)


@router.post("/{session_id}/undo", response_model=SessionOut)
async def undo(session: SessionDep) -> Response:
    """Back to the state before the last step, fast-forward, reset or weight change.

    Up to ``BACKPROP_UNDO_DEPTH`` (default 50) are kept. While a step is half done
    (after forward or backward), undo cancels that step instead.
    """
    async with session.lock:
        session.undo_last()
        return _session_out(session)


# ------------------------------------------------------------- evaluation
@router.post("/{session_id}/predict", response_model=PredictOut)
async def predict(session: SessionDep, body: PredictRequest, settings: Config) -> Response:
    """x(l) of every layer for any inputs, without changing the session."""
    if len(body.inputs) > settings.max_samples:
        raise ApiError(
            422, f"{len(body.inputs)} inputs is above the limit of {settings.max_samples}."
        )
    try:
        xs = session.net.predict(body.inputs)
    except ValueError as e:
        raise ApiError(422, _sentence(e)) from None
    if not all(np.isfinite(x).all() for x in xs):
        raise ApiError(422, "The network's output is not finite for these inputs.")
    out = PredictOut.model_construct(
        layers=[PredictLayer.model_construct(layer=l, x=x.tolist()) for l, x in enumerate(xs, 1)],
        output=xs[-1].tolist(),
    )
    return json(out)


@router.get("/{session_id}/grid", response_model=GridOut)
async def grid(
    session: SessionDep,
    settings: Config,
    resolution: Annotated[int, Query(ge=2, description="Points per axis.")] = 25,
    digits: Annotated[int, Query(ge=1, le=17, description="Decimals kept per value.")] = 3,
) -> Response:
    """The output and every hidden unit's x over the input plane (2-D inputs only).

    Values are rounded to ``digits`` decimals (default 3) to keep the response small:
    the default for a 2-8-8-1 network is about 75 KB.
    """
    if resolution > settings.max_grid_resolution:
        raise ApiError(
            422,
            f"The grid resolution {resolution} is above the limit of "
            f"{settings.max_grid_resolution}.",
        )
    async with session.lock:
        try:
            xs, ys, layers = await to_thread.run_sync(session.net.grid, resolution)
        except ValueError as e:
            raise ApiError(422, _sentence(e)) from None
    if not all(np.isfinite(a).all() for a in layers):
        raise ApiError(422, "The network's output is not finite over the input plane.")
    out = GridOut.model_construct(
        resolution=resolution,
        digits=digits,
        xs=xs.tolist(),
        ys=ys.tolist(),
        layers=[
            GridLayer.model_construct(layer=l, x=np.round(np.moveaxis(a, 2, 0), digits).tolist())
            for l, a in enumerate(layers, 1)
        ],
    )
    return json(out)


@router.post("/{session_id}/gradcheck", response_model=GradcheckOut)
async def gradcheck(
    session: SessionDep, settings: Config, body: GradcheckRequest | None = None
) -> Response:
    """Backprop's gradient against central differences, weight by weight.

    Reports per layer the largest absolute difference and the largest difference
    relative to the layer's largest gradient entry, with the passes and time each way
    took: 2 forward passes per weight against one forward and one backward pass.
    """
    body = body or GradcheckRequest()
    n_weights = sum(w.size for w in session.net.weights)
    if n_weights > settings.max_gradcheck_weights:
        raise ApiError(
            422,
            f"The network has {n_weights} weights; the gradient check runs on at most "
            f"{settings.max_gradcheck_weights}.",
        )
    async with session.lock:
        if body.indices is not None:
            session._check_indices(body.indices)
        check = await to_thread.run_sync(gradient_check, session.net, body.indices, body.epsilon)
    out = GradcheckOut.model_construct(
        indices=check.indices.tolist(),
        epsilon=check.epsilon,
        layers=[
            LayerCheckOut.model_construct(
                layer=c.layer, max_abs_diff=c.max_abs_diff, max_rel_diff=c.max_rel_diff
            )
            for c in check.layers
        ],
        max_rel_diff=check.max_rel_diff,
        backprop_passes=check.backprop_passes,
        numerical_passes=check.numerical_passes,
        backprop_seconds=check.backprop_seconds,
        numerical_seconds=check.numerical_seconds,
    )
    if not np.isfinite([c.max_abs_diff for c in check.layers]).all():
        raise ApiError(422, "The gradient is not finite at these weights: undo or reset first.")
    return json(out)


@router.get("/{session_id}/export", response_model=Snapshot)
async def export(session: SessionDep) -> Response:
    """Everything needed to continue this run elsewhere: import it with POST /import."""
    async with session.lock:
        return json(session.snapshot())
