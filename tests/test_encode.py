"""A step's JSON is written straight from the trace's arrays (app/encode.py): the same
document the pydantic models give, every float equal to the engine's bit for bit; and
/step is an ordinary FastAPI route that answers every body as its OpenAPI says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.encode import dumps, step_document
from app.errors import ErrorOut
from app.main import create_app
from app.middleware import SECURITY_HEADERS
from app.schemas import Progress, SessionConfig, progress_dict
from app.settings import Settings
from app.store import SessionStore
from app.trace_schemas import LayerOut, StepOut
from tests.support import DIVERGING

API = "/api/sessions"
PER_LAYER = ("s", "x", "prime", "delta", "grad", "penalty_grad", "update", "weights")

CASES = {
    "2-8-8-1, B = 1": {"layers": [2, 8, 8, 1]},
    "B = 32": {"layers": [2, 8, 8, 1], "batch_size": 32},
    "softmax": {
        "layers": [2, 8, 3],
        "output": "softmax",
        "loss": "cross_entropy",
        "dataset": {"name": "spiral", "classes": 3},
    },
    # δ vanishes through 16 sigmoid layers: tiny numbers, written with exponents.
    "16 hidden layers": {"layers": [2] + [4] * 16 + [1], "activation": "sigmoid"},
    "regression": {"layers": [1, 6, 1], "output": "identity", "dataset": {"name": "sine"}},
    "L2 penalty, features": {
        "layers": [3, 4, 1],
        "features": ["x1", "x2", "x1·x2"],
        "regularization": {"kind": "l2", "strength": 0.01},
    },
}


def session(config: dict):
    return SessionStore(Settings()).create(SessionConfig(**config))


def through_the_models(trace, state: dict) -> bytes:
    """StepOut validated field by field, then dumped by pydantic."""
    layers = [
        LayerOut(
            layer=l,
            **{name: _listed(getattr(trace.layer(l), name)) for name in PER_LAYER},
            grad_norm=trace.grad_norm[l - 1],
            delta_mean_abs=trace.delta_mean_abs[l - 1],
            saturation=trace.saturation[l - 1],
        )
        for l in range(1, len(trace.s) + 1)
    ]
    error = trace.error if np.isfinite(trace.error) else None
    out = StepOut(
        step=trace.step,
        indices=trace.indices.tolist(),
        input=trace.input.tolist(),
        target=trace.target.tolist(),
        error=error,
        penalty=trace.penalty,
        total_error=trace.total_error if np.isfinite(trace.total_error) else None,
        learning_rate=trace.learning_rate,
        diverged=trace.diverged,
        message=trace.message,
        layers=layers,
        state=Progress(**state),
    )
    return out.model_dump_json().encode()


def _listed(a):
    return None if a is None else a.tolist()


def same_bits(listed, array: np.ndarray | None) -> bool:
    if array is None:
        return listed is None
    return np.asarray(listed, dtype=np.float64).reshape(array.shape).tobytes() == array.tobytes()


def check(trace, state: dict) -> dict:
    body = dumps(step_document(trace, state))
    doc = json.loads(body)  # strict JSON: NaN or Infinity would not parse as a number
    assert doc == json.loads(through_the_models(trace, state))
    assert StepOut.model_validate_json(body).model_dump(mode="json") == doc
    # Every field of the models, no other.
    assert set(doc) == set(StepOut.model_fields)
    assert set(doc["state"]) == set(Progress.model_fields)
    for lay in doc["layers"]:
        assert set(lay) == set(LayerOut.model_fields)
    # Bit for bit the engine's numbers.
    assert same_bits(doc["input"], trace.input) and same_bits(doc["target"], trace.target)
    assert doc["indices"] == trace.indices.tolist()
    assert [lay["layer"] for lay in doc["layers"]] == list(range(1, len(trace.s) + 1))
    for i, lay in enumerate(doc["layers"]):
        for name in PER_LAYER:
            assert same_bits(lay[name], getattr(trace.layer(i + 1), name)), (i, name)
        assert lay["grad_norm"] == trace.grad_norm[i]
        assert lay["delta_mean_abs"] == trace.delta_mean_abs[i]
        assert lay["saturation"] == trace.saturation[i]
    return doc


@pytest.mark.parametrize("config", CASES.values(), ids=CASES.keys())
def test_the_step_document_is_the_models_document_with_the_engines_bits(config):
    s = session(config)
    for _ in range(3):
        trace = s.step()
        doc = check(trace, progress_dict(s.net, s.phase, len(s.undo)))
        assert not doc["diverged"] and doc["error"] == trace.error
        assert doc["state"]["step"] == trace.step == s.net.state.step


def test_the_document_of_a_refused_step_is_valid_json_without_layers():
    s = session(DIVERGING)
    for _ in range(50):
        trace = s.step()
        if trace.diverged:
            break
    else:
        pytest.fail("η = 1e6 should diverge")
    doc = check(trace, progress_dict(s.net, s.phase, len(s.undo)))
    assert doc["diverged"] and doc["layers"] == [] and "refused" in doc["message"]


def test_step_is_gzipped_when_accepted_and_equals_the_exported_trace(client):
    sid = client.post(API, json={"layers": [2, 8, 8, 1]}).json()["id"]
    r = client.post(f"{API}/{sid}/step", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"  # security headers still added
    step = r.json()  # the client decompressed it
    plain = client.get(f"{API}/{sid}/trace", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json() == step


def test_the_history_misses_no_step(client):
    """Every step reaches the history; undo takes it back; an export carries it."""
    sid = client.post(API, json={"layers": [2, 4, 1]}).json()["id"]
    n = 69
    errors = [client.post(f"{API}/{sid}/step").json()["error"] for _ in range(n)]
    h = client.get(f"{API}/{sid}/history").json()
    assert h["step"] == list(range(1, n + 1)) and h["error"] == errors
    for _ in range(3):
        client.post(f"{API}/{sid}/step")
    assert client.post(f"{API}/{sid}/undo").status_code == 200
    h = client.get(f"{API}/{sid}/history").json()
    assert h["step"] == list(range(1, n + 3)) and h["total_steps"] == n + 2
    snap = client.get(f"{API}/{sid}/export").json()
    twin = client.post(f"{API}/import", json=snap).json()["id"]
    assert client.get(f"{API}/{twin}/history").json() == h


BODIES = [
    (b"", None),
    (b"null", "application/json"),
    (b"{}", "application/json"),
    (b'{"indices": [3, 1]}', "application/json"),
    (b'{"indices": [3]}', "application/json; charset=utf-8"),
    (b'{"indices": []}', "application/json"),
    (b'{"indices": [1]}', None),
    (b'{"indices": [1]}', "text/plain"),
    (b"[1]", "application/json"),
    (b'{"x": 1}', "application/json"),
    (b"{bad", "application/json"),
    (b'{"indices": [-1]}', "application/json"),
    (b'{"indices": ["a"]}', "application/json"),
    (b'{"indices": NaN}', "application/json"),
    (b"\xff\xfe", "application/json"),
    (b'{"indices": [100000]}', "application/json"),
]


OPERATIONS = create_app().openapi()["paths"]


@pytest.mark.parametrize(("body", "content_type"), BODIES)
def test_step_answers_every_body_as_its_openapi_says(client, body, content_type):
    """No body, ``{}``, indices, bad JSON, a wrong content type…: a documented status,
    a body of the documented model, and the security headers on every answer."""
    headers = {"Content-Type": content_type} if content_type else {}
    sid = client.post(API, json={}).json()["id"]
    r = client.post(f"{API}/{sid}/step", content=body, headers=headers)
    documented = OPERATIONS["/api/sessions/{session_id}/step"]["post"]["responses"]
    assert str(r.status_code) in documented, (r.status_code, r.text)
    for name, value in SECURITY_HEADERS:
        assert r.headers[name.decode()] == value.decode()
    if r.status_code == 200:
        step = StepOut.model_validate(r.json())
        assert step.step == 1 and not step.diverged
        if b"indices" in body:
            assert step.indices == json.loads(body)["indices"]
    else:
        assert r.status_code in (400, 422)
        ErrorOut.model_validate(r.json())
        assert client.get(f"{API}/{sid}").json()["state"]["step"] == 0  # nothing changed


@pytest.mark.parametrize(("body", "content_type"), BODIES)
def test_step_reads_its_body_as_forward_reads_the_same_body(client, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answers = []
    for route in ("step", "forward"):
        sid = client.post(API, json={}).json()["id"]
        r = client.post(f"{API}/{sid}/{route}", content=body, headers=headers)
        answers.append((r.status_code, r.json().get("detail"), r.json().get("indices")))
    assert answers[0] == answers[1]


def test_the_step_body_is_documented_by_fastapi():
    step = OPERATIONS["/api/sessions/{session_id}/step"]["post"]
    forward = OPERATIONS["/api/sessions/{session_id}/forward"]["post"]
    assert step["requestBody"] == forward["requestBody"]
    assert step["parameters"] == forward["parameters"]
    assert "IndicesRequest" in json.dumps(step["requestBody"])
    assert step["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StepOut"
    }
