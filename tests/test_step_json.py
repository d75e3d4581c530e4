"""A step's JSON is written straight from the trace's arrays (app/schemas.py step_json):
the same document the pydantic models give, every float equal to the engine's bit for bit."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from app.main import create_app
from app.middleware import gzip_digits
from app.schemas import LayerOut, Progress, SessionConfig, StepOut, progress_dict, step_json
from app.sessions import HISTORY_BATCH, SessionStore
from app.settings import Settings
from tests.support import DIVERGING

API = "/api/sessions"
PER_LAYER = ("s", "x", "delta", "grad", "update", "weights")

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
}


def session(config: dict):
    return SessionStore(Settings()).create(SessionConfig(**config))


def through_the_models(trace, state: dict) -> bytes:
    """The way step_json replaces: StepOut validated field by field, then dumped."""
    layers = [
        LayerOut(
            layer=l,
            **{name: getattr(trace, name)[l - 1].tolist() for name in PER_LAYER},
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
        learning_rate=trace.learning_rate,
        diverged=trace.diverged,
        message=trace.message,
        layers=layers,
        state=Progress(**state),
    )
    return out.model_dump_json().encode()


def same_bits(listed, array: np.ndarray) -> bool:
    return np.asarray(listed, dtype=np.float64).reshape(array.shape).tobytes() == array.tobytes()


def check(trace, state: dict) -> dict:
    body = step_json(trace, state)
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
            assert same_bits(lay[name], getattr(trace, name)[i]), (i, name)
        assert lay["grad_norm"] == trace.grad_norm[i]
        assert lay["delta_mean_abs"] == trace.delta_mean_abs[i]
        assert lay["saturation"] == trace.saturation[i]
    return doc


@pytest.mark.parametrize("config", CASES.values(), ids=CASES.keys())
def test_step_json_is_the_models_document_with_the_engines_bits(config):
    s = session(config)
    for _ in range(3):
        trace = s.step()
        doc = check(trace, progress_dict(s.net, s.phase, len(s.undo)))
        assert not doc["diverged"] and doc["error"] == trace.error
        assert doc["state"]["step"] == trace.step == s.net.state.step


def test_step_json_of_a_refused_step_is_valid_json_without_layers():
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


def test_gzip_digits_is_one_whole_gzip_member():
    s = session(CASES["2-8-8-1, B = 1"])
    body = step_json(s.step(), progress_dict(s.net, s.phase, len(s.undo)))
    packed = gzip_digits(body)
    assert gzip.decompress(packed) == body and len(packed) < 0.6 * len(body)


def test_history_written_in_batches_misses_no_step(client):
    """Steps reach the history in batches; every read sees all of them, and undo too."""
    sid = client.post(API, json={"layers": [2, 4, 1]}).json()["id"]
    n = HISTORY_BATCH + 5
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


@pytest.mark.parametrize(("body", "content_type"), BODIES)
def test_step_reads_its_body_as_fastapi_reads_the_same_body_of_forward(client, body, content_type):
    """/step reads ``{indices?}`` itself; /forward has FastAPI read the same model."""
    headers = {"Content-Type": content_type} if content_type else {}
    answers = []
    for route in ("step", "forward"):
        sid = client.post(API, json={}).json()["id"]
        r = client.post(f"{API}/{sid}/{route}", content=body, headers=headers)
        answers.append((r.status_code, r.json().get("detail"), r.json().get("indices")))
    assert answers[0] == answers[1]


def test_the_step_body_is_documented_as_fastapi_would():
    spec = create_app().openapi()
    step = spec["paths"]["/api/sessions/{session_id}/step"]["post"]
    forward = spec["paths"]["/api/sessions/{session_id}/forward"]["post"]
    assert step["requestBody"] == forward["requestBody"]
    assert step["parameters"] == forward["parameters"]
