"""The events of follow mode, made of a session's changes: one ``Publication`` each,
the same whether the share is kept in the process or in Redis (app/follow.py)."""

from __future__ import annotations

import json
from typing import Any

from app.classroom_schemas import ExerciseMode
from app.encode import backward_document, dumps, forward_document, step_document
from app.exercise import StepNumbers
from app.schemas import State, progress_dict
from app.sessions import Session
from app.shares import Publication

PAUSED = (
    '"message":"The teacher\'s run has ended (a new setup, or it expired). This page '
    "waits for the teacher's next run.\""
)


def session_part(session: Session) -> str:
    """The members of a ``state`` that belong to the run: its config and state."""
    state = State.from_network(session.net, session.phase, len(session.undo))
    return f'"config":{session.config.model_dump_json()},"state":{state.model_dump_json()}'


def seed(session: Session, seq: int) -> tuple[list[str], StepNumbers | None]:
    """The step on show when sharing starts (the teacher may have stepped before
    sharing), so that a follower who joins sees it at once, in the teacher's beat; and
    its numbers for exercise checks."""

    def event(kind: str, document: Any) -> str:
        return f'{{"seq":{seq},"kind":"{kind}","trace":{dumps(document).decode()}}}'

    if session.pending is not None:
        fwd, bwd = session.pending, session.pending_backward
        frame = [event("forward", forward_document(fwd, ""))]
        if bwd is not None:
            frame.append(event("backward", backward_document(fwd.step, bwd, "")))
        numbers = StepNumbers.pending(fwd, bwd or session.net.backward(fwd), session.net.weights)
        return frame, numbers
    if (trace := session.current_trace()) is not None:
        progress = progress_dict(session.net, session.phase, len(session.undo))
        return [event("step", step_document(trace, progress))], StepNumbers.done(trace, None)
    return [], None


def publication(session: Session, kind: str, detail: Any) -> Publication:
    """A change of the session (Session.on_change) as an event for its followers."""
    if kind == "forward":
        fwd, message = detail
        body = f'"trace":{dumps(forward_document(fwd, message)).decode()}'
        numbers = None
        if not message:
            numbers = StepNumbers.pending(fwd, session.net.backward(fwd), session.net.weights)
        return Publication("forward", body, record=numbers)
    if kind == "backward":
        step, bwd, message = detail
        body = f'"trace":{dumps(backward_document(step, bwd, message)).decode()}'
        return Publication("backward", body)
    if kind in ("update", "step"):
        trace = detail
        progress = progress_dict(session.net, session.phase, len(session.undo))
        body = f'"trace":{dumps(step_document(trace, progress)).decode()}'
        if trace.diverged:
            return Publication(kind, body)
        # The weights the step started from: the undo stack's top (when one is kept).
        top = session.undo[-1] if session.undo else None
        before = top.weights if top is not None and top.step == trace.step - 1 else None
        return Publication(kind, body, trace.step, record=StepNumbers.done(trace, before))
    # train, undo, reset, weights, patch: redraw from the state. A new η or batch size
    # leaves the step on show as it is; after an undo the run is back at a step whose
    # last trace (if still kept) shows it as it was, as the teacher's page does; the
    # rest clear the drawing.
    now = session.net.state.step
    frame = None if kind == "patch" else now if kind == "undo" else []
    return Publication("state", f'"reason":"{kind}",{session_part(session)}', frame=frame)


def continued(session: Session) -> Publication:
    """The share moved to the teacher's new setup."""
    return Publication("state", f'"reason":"continue",{session_part(session)}', frame=[])


def paused() -> Publication:
    """The shared session went away; the share waits for the teacher's next run."""
    return Publication("paused", PAUSED, frame=[])


def ended(message: str) -> Publication:
    return Publication("ended", f'"message":{json.dumps(message, ensure_ascii=False)}')


def exercise_set(exercise: ExerciseMode | None) -> Publication:
    body = exercise.model_dump_json() if exercise is not None else "null"
    return Publication("exercise", f'"exercise":{body}')
