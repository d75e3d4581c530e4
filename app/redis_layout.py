"""A session in Redis: one hash, ``backprop:session:<id>``, kept in pieces so that a
request writes what it changed rather than the whole run.

    version  bumped by every change
    config   JSON: the session's config (SessionConfig)
    header   JSON: step, epoch and position; the undo stack, oldest first, as [field,
             step, epoch, position]; the history's [capacity, stride, points]; whether
             the run is shared
    weights  W(1) … W(L) as raw little-endian float64 bytes, one after the other
    u<k>     one undo entry's weights, the same way. An entry keeps its field while it
             is on the stack; a new entry gets a k above every one in use
    h<k>     the history's points CHUNK·k … CHUNK·(k + 1) - 1 (History.rows)
    trace    the latest step's trace (what GET …/trace and a share's first view show
             while the weights are the ones it produced), packed (app/packed.py)
    forward, backward
             the step in progress: its forward pass, and its backward pass once done
             (without its forward pass), packed; absent when there is none

A worker remembers, for each session it read or wrote, which object each field was made
from (``Held``). A step then writes the header, the weights, the trace, its undo entry
and the last piece of the history, and deletes the undo entry that fell off the stack:
a few kilobytes however long the run is. Writing the whole session took up to a
megabyte a step (50 undo entries, 4,096 history points).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import orjson

from app.history import COLUMNS, History
from app.packed import pack, unpack
from app.schemas import DatasetConfig, SessionConfig
from app.sessions import Session
from engine import Backward, Forward, Network, State, StepTrace

FLOAT = np.dtype("<f8")  # the same bytes on every host
CHUNK = 64  # history points per field: a step rewrites at most this many


@dataclass
class Held:
    """What Redis holds of a session, as this worker last read or wrote it."""

    version: int
    # field name → the object its bytes were made from (the header: the bytes themselves)
    fields: dict[str, object] = field(default_factory=dict)
    history: History | None = None  # whose points the h<k> fields hold (to changed_from)
    undo: dict[int, str] = field(default_factory=dict)  # id of an undo entry → its field
    next_undo: int = 0  # the k of the next undo entry's field


@dataclass
class Changes:
    write: dict[str, bytes]
    delete: list[str]
    after: Held  # what Redis holds once they are made, at the next version


def changes(session: Session, held: Held) -> Changes:
    """The fields to write and to delete so that Redis holds ``session``, given what it
    holds (``Held(0)``: nothing yet). Objects are compared by identity: a run's state
    and its undo entries are immutable, and each change makes new ones."""
    st, history = session.net.state, session.history
    after = Held(held.version + 1, history=history, next_undo=held.next_undo)
    undo = {}  # field → entry, oldest first; an entry Redis holds keeps its field
    for state in session.undo:
        name = held.undo.get(id(state))  # held keeps its objects alive: ids are unique
        if name is None or name in undo:  # new, or on the stack twice
            name, after.next_undo = f"u{after.next_undo}", after.next_undo + 1
        undo[name] = state
        after.undo[id(state)] = name
    header = orjson.dumps(
        {
            "step": st.step,
            "epoch": st.epoch,
            "position": st.position,
            "undo": [[name, u.step, u.epoch, u.position] for name, u in undo.items()],
            "history": [history.capacity, history.stride, len(history)],
            "shared": session.shared,
        }
    )
    n = len(history)
    objects = _objects(session)
    after.fields = {name: obj for name, obj in objects.items() if obj is not None}
    after.fields.update(header=header, **undo)
    after.fields.update(dict.fromkeys(_piece_names(n), history))
    after.fields["config"] = session.net.config  # replaced by every change of it
    write = {}
    if held.fields.get("header") != header:
        write["header"] = header
    if held.fields.get("config") is not session.net.config:
        write["config"] = orjson.dumps(session.config.model_dump(mode="json"))
    for name, obj in objects.items():
        if obj is not None and held.fields.get(name) is not obj:
            write[name] = _bytes(name, obj)
    for name, state in undo.items():
        if held.fields.get(name) is not state:
            write[name] = _floats(state.weights)
    # The history's pieces from the first point changed since Redis had them.
    changed = history.changed_from if held.history is history else 0
    for k in range(changed // CHUNK, _pieces(n)):
        write[f"h{k}"] = history.rows(k * CHUNK, min(n, (k + 1) * CHUNK))
    delete = [name for name in held.fields if name not in after.fields]
    return Changes(write, delete, after)


def _objects(session: Session) -> dict[str, object]:
    """The fields made from one object of the session each (None: no such field)."""
    return {
        "weights": session.net.state.weights,
        "trace": session.last_trace,
        "forward": session.pending,
        "backward": session.pending_backward,
    }


def _pieces(points: int) -> int:
    return -(-points // CHUNK)


def _piece_names(points: int) -> list[str]:
    return [f"h{k}" for k in range(_pieces(points))]


def _bytes(name: str, obj) -> bytes:
    if name == "weights":
        return _floats(obj)
    if name == "backward":  # its forward pass is the field "forward"
        return pack(replace(obj, forward=None))
    return pack(obj)  # a trace, a forward pass


# ------------------------------------------------------------------ reading
Build = Callable[[SessionConfig, tuple[np.ndarray, ...]], Network]
NewSession = Callable[[str, DatasetConfig, Network], Session]


def decode(
    sid: str, fields: dict[bytes, bytes], build: Build, new_session: NewSession
) -> tuple[Session, Held]:
    """The session a hash holds, and what this worker now knows Redis holds of it."""
    text = {name.decode(): value for name, value in fields.items()}
    header = orjson.loads(text["header"])
    if "config" in text:
        config = SessionConfig.model_validate_json(text["config"])
    else:  # the earlier layout kept it in the header
        config = SessionConfig.model_validate(header["config"])
    layers, depth = config.layers, len(config.layers) - 1
    net = build(config, _one(text["weights"], layers))
    net.restore(State(net.weights, header["step"], header["epoch"], header["position"]))
    session = new_session(sid, config.dataset, net)
    trace = unpack(StepTrace, text["trace"]) if text.get("trace") else None
    if "undo" in text:  # saved before undo entries and history points had fields
        old = _matrices(text["undo"], layers, len(header["undo"]))
        entries = [(None, State(ws, *at)) for ws, at in zip(old, header["undo"], strict=True)]
        session.history = _old_history(depth, text["history"])
    else:
        entries = [
            (name, State(_one(text[name], layers), *where)) for name, *where in header["undo"]
        ]
        capacity, stride, points = header["history"]
        rows = b"".join(text[name] for name in _piece_names(points))
        session.history = History.from_rows(depth, capacity, stride, rows)
    session.undo.extend(state for _, state in entries)
    session.shared = header["shared"]
    session.last_trace = trace
    if "forward" in text:  # a step in progress, its passes as they were computed
        session.pending = unpack(Forward, text["forward"])
        if "backward" in text:
            backward = unpack(Backward, text["backward"])
            session.pending_backward = replace(backward, forward=session.pending)
    elif pending := header.get("pending"):  # the earlier layout: what recomputes them
        session.pending = net.begin(pending["indices"])
        if pending["backward"]:
            session.pending_backward = net.backward(session.pending)
    held = Held(int(text["version"]), dict.fromkeys(text), session.history)
    del held.fields["version"]
    objects = _objects(session)
    # (what the earlier layout kept in other fields, such as a recomputed step in
    # progress, is not held: the next save writes it)
    held.fields.update({name: obj for name, obj in objects.items() if text.get(name)})
    held.fields["header"] = text["header"]
    if "config" in text:
        held.fields["config"] = net.config
    held.fields.update(dict.fromkeys(_piece_names(len(session.history)), session.history))
    for name, state in entries:
        if name is not None:  # (entries saved in the earlier layout get fields when saved)
            held.fields[name] = state
            held.undo[id(state)] = name
            held.next_undo = max(held.next_undo, int(name[1:]) + 1)
    return session, held


def _floats(arrays) -> bytes:
    return b"".join(np.ascontiguousarray(a, FLOAT).tobytes() for a in arrays)


def _one(data: bytes, layers: list[int]) -> tuple[np.ndarray, ...]:
    return _matrices(data, layers, 1)[0]


def _matrices(data: bytes, layers: list[int], count: int) -> list[tuple[np.ndarray, ...]]:
    """``count`` sets of W(1) … W(L) from their raw bytes."""
    flat = np.frombuffer(data, FLOAT)
    shapes = [(a + 1, b) for a, b in zip(layers, layers[1:], strict=False)]
    out, at = [], 0
    for _ in range(count):
        ws = []
        for shape in shapes:
            n = shape[0] * shape[1]
            w = flat[at : at + n].reshape(shape).astype(np.float64)  # a writable copy
            w.flags.writeable = False
            ws.append(w)
            at += n
        out.append(tuple(ws))
    return out


def _old_history(depth: int, data: bytes) -> History:
    """The history as sessions saved it before it had fields of its own: JSON at first
    (its first byte "{"), then capacity, stride and n (int64) and each column's n values."""
    if data.startswith(b"{"):
        return History.from_dict(depth, orjson.loads(data))
    capacity, stride, n = (int(v) for v in np.frombuffer(data, np.int64, count=3))
    columns, at = {}, 24
    for name, dtype in zip(COLUMNS, ("<i8",) * 3 + ("<f8",) * 3, strict=True):
        count = n * depth if name in ("grad_norm", "delta_mean_abs") else n
        columns[name] = np.frombuffer(data, dtype, count=count, offset=at)
        at += count * 8
    return History.from_dict(depth, {"capacity": capacity, "stride": stride, **columns})
