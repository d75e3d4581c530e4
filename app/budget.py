"""What a session and an answer may cost, estimated before the work is done.

Every session is held to BACKPROP_MAX_SESSION_BYTES and every JSON answer to
BACKPROP_MAX_RESPONSE_BYTES. Estimates are upper bounds computed from the shapes alone
(layer sizes, batch size, points), so a request over a limit is refused with a sentence
naming the setting before anything is allocated. The server's memory is then bounded by
BACKPROP_MAX_SESSIONS × BACKPROP_MAX_SESSION_BYTES, plus the process itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.exceptions import Invalid
from app.settings import Settings

FLOAT_BYTES = 8
JSON_FLOAT_BYTES = 25  # "-1.2345678901234567e-123," at most
HISTORY_POINT_BYTES = 4 * FLOAT_BYTES  # first, last, count, error; then 2 per layer


def megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def weight_count(layers: Sequence[int]) -> int:
    """Σ_l (d(l-1) + 1) d(l): every W(l), bias rows included."""
    return sum((a + 1) * b for a, b in zip(layers[:-1], layers[1:], strict=True))


def step_floats(layers: Sequence[int], batch: int) -> int:
    """The numbers of one step's trace: x(0), y, then s, x, θ', δ of every unit and
    example, and G, ΔW, W of every weight."""
    return batch * (layers[0] + 1 + 4 * sum(layers[1:])) + 3 * weight_count(layers)


def undo_depth(layers: Sequence[int], settings: Settings) -> int:
    """Undo snapshots hold a copy of the weights each: as many as BACKPROP_MAX_UNDO_BYTES
    holds (at least one), up to BACKPROP_UNDO_DEPTH."""
    by_memory = max(1, settings.max_undo_bytes // (FLOAT_BYTES * weight_count(layers)))
    return min(settings.undo_depth, by_memory)


def session_bytes(layers: Sequence[int], batch: int, points: int, settings: Settings) -> int:
    """An upper bound on what one session holds: weights and their undo copies, the
    history, two steps' traces (the last one, kept for exports, and one in progress),
    its data (three copies at most) and its follow buffer (the replay and one queue)."""
    weights = FLOAT_BYTES * weight_count(layers)
    undo = weights * undo_depth(layers, settings)
    history = settings.max_history_points * (HISTORY_POINT_BYTES + 2 * FLOAT_BYTES * len(layers))
    traces = 2 * FLOAT_BYTES * step_floats(layers, batch)
    data = 3 * FLOAT_BYTES * points * (layers[0] + 2)
    follow = 2 * settings.follow_buffer_bytes
    return weights + undo + history + traces + data + follow


def check_session(layers: Sequence[int], batch: int, points: int, settings: Settings) -> None:
    """The batch size and this session's memory, each against its setting."""
    if batch > settings.max_batch:
        raise Invalid(
            f"The batch size {batch} is above the limit of {settings.max_batch} "
            "(BACKPROP_MAX_BATCH)."
        )
    need = session_bytes(layers, batch, points, settings)
    if need > settings.max_session_bytes:
        raise Invalid(
            f"This session would hold about {megabytes(need)} (weights, undo, history, "
            f"the steps it keeps); the limit is {megabytes(settings.max_session_bytes)} "
            "(BACKPROP_MAX_SESSION_BYTES): use fewer or smaller layers, fewer points or a "
            "smaller batch."
        )
    check_response(JSON_FLOAT_BYTES * step_floats(layers, batch), "One step's numbers", settings)


def check_indices(count: int, settings: Settings) -> None:
    if count > settings.max_batch:
        raise Invalid(
            f"{count} examples is above the limit of {settings.max_batch} per step "
            "(BACKPROP_MAX_BATCH)."
        )


def check_response(size: int, what: str, settings: Settings) -> None:
    """Refuse an answer whose JSON would be larger than BACKPROP_MAX_RESPONSE_BYTES."""
    if size > settings.max_response_bytes:
        raise Invalid(
            f"{what} would take about {megabytes(size)} of JSON; the limit is "
            f"{megabytes(settings.max_response_bytes)} (BACKPROP_MAX_RESPONSE_BYTES)."
        )
