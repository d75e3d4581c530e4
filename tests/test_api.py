"""The HTTP API against the engine and against numbers computed in the test."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from engine import Config, Network, make_dataset
from tests.support import DIVERGING

API = "/api/sessions"
BOTH_STORES = True  # sessions in the process and in Redis (tests/conftest.py)


def new(client, **config) -> str:
    r = client.post(API, json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_defaults_give_a_small_tanh_network(client):
    r = client.post(API, json={})
    assert r.status_code == 201
    body = r.json()
    assert len(body["id"]) == 32 and int(body["id"], 16) >= 0  # 128 bits
    cfg, st = body["config"], body["state"]
    assert cfg["layers"] == [2, 4, 1] and cfg["activation"] == "tanh"
    assert cfg["loss"] == "squared" and cfg["dataset"]["name"] == "xor"
    assert st["step"] == 0 and st["pending"] == "none"
    assert [np.shape(w) for w in st["weights"]] == [(3, 4), (5, 1)]
    data = client.get(f"{API}/{body['id']}/dataset").json()
    assert set(data["targets_train"]) == {-1.0, 1.0}


def test_step_equals_an_independent_computation(client):
    """2-3-1 tanh network with weights set by PUT; B = 2 given by indices."""
    sid = new(client, layers=[2, 3, 1], learning_rate=0.25, dataset={"name": "xor", "n": 20})
    W1 = np.array([[0.1, -0.2, 0.05], [0.3, 0.4, -0.6], [-0.5, 0.6, 0.2]])
    W2 = np.array([[0.2], [0.7], [-0.3], [0.1]])
    r = client.put(f"{API}/{sid}/weights", json={"weights": [W1.tolist(), W2.tolist()]})
    assert r.status_code == 200 and r.json()["state"]["weights"][0] == W1.tolist()
    data = client.get(f"{API}/{sid}/dataset").json()
    idx = [3, 7]
    X = np.array(data["x_train"])[idx]
    y = np.array(data["targets_train"])[idx]

    t = client.post(f"{API}/{sid}/step", json={"indices": idx}).json()

    # The lecture's formulas, vectorised over the two examples, written out here.
    x0 = np.hstack([np.ones((2, 1)), X])
    s1 = x0 @ W1
    x1 = np.hstack([np.ones((2, 1)), np.tanh(s1)])
    s2 = x1 @ W2
    x2 = np.tanh(s2)
    d2 = 2 * (x2 - y[:, None]) * (1 - x2**2)
    d1 = (1 - np.tanh(s1) ** 2) * (d2 @ W2[1:].T)
    G2, G1 = x1.T @ d2 / 2, x0.T @ d1 / 2

    assert t["step"] == 1 and t["indices"] == idx and not t["diverged"]
    assert t["error"] == pytest.approx(np.mean((x2[:, 0] - y) ** 2), abs=1e-14)
    L1, L2 = t["layers"]
    for got, want in [
        (L1["s"], s1),
        (L1["x"], np.tanh(s1)),
        (L2["s"], s2),
        (L2["x"], x2),
        (L2["delta"], d2),
        (L1["delta"], d1),
        (L2["grad"], G2),
        (L1["grad"], G1),
        (L1["update"], -0.25 * G1),
        (L1["weights"], W1 - 0.25 * G1),
        (L2["weights"], W2 - 0.25 * G2),
    ]:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    assert L1["grad_norm"] == pytest.approx(np.linalg.norm(G1), abs=1e-14)
    assert L2["delta_mean_abs"] == pytest.approx(np.abs(d2).mean(), abs=1e-14)
    state = client.get(f"{API}/{sid}").json()["state"]
    np.testing.assert_allclose(state["weights"][1], W2 - 0.25 * G2, rtol=0, atol=1e-14)
    assert state["step"] == 1


def test_api_matches_the_engine_step_for_step(client):
    config = {
        "layers": [2, 5, 3, 1],
        "batch_size": 3,
        "seed": 9,
        "dataset": {"name": "circle", "n": 60, "seed": 4},
    }
    sid = new(client, **config)
    net = Network(Config((2, 5, 3, 1), batch_size=3, seed=9), make_dataset("circle", n=60, seed=4))
    for _ in range(12):
        t = client.post(f"{API}/{sid}/step").json()
        e = net.step()
        assert t["indices"] == e.indices.tolist()
        assert t["error"] == e.error  # exact: JSON floats round-trip
        for lay, w, d in zip(t["layers"], e.weights, e.delta, strict=True):
            assert lay["weights"] == w.tolist() and lay["delta"] == d.tolist()


def test_phases_in_order_equal_one_step(client):
    a = new(client, seed=3)
    b = new(client, seed=3)
    f = client.post(f"{API}/{a}/forward").json()
    assert f["phase"] == "forward" and f["step"] == 1
    assert client.get(f"{API}/{a}").json()["state"]["pending"] == "forward"
    bw = client.post(f"{API}/{a}/backward").json()
    assert bw["phase"] == "backward" and len(bw["layers"]) == 2
    u = client.post(f"{API}/{a}/update").json()
    s = client.post(f"{API}/{b}/step").json()
    assert u["layers"] == s["layers"] and u["indices"] == s["indices"] == f["indices"]
    assert [lay["s"] for lay in f["layers"]] == [lay["s"] for lay in s["layers"]]
    assert [lay["delta"] for lay in bw["layers"]] == [lay["delta"] for lay in s["layers"]]


@pytest.mark.parametrize(
    "calls,last,message",
    [
        ([], "backward", "call forward first"),
        ([], "update", "call forward first"),
        (["forward"], "update", "call backward first"),
        (["forward"], "forward", "call backward next"),
        (["forward", "backward"], "backward", "call update next"),
        (["forward"], "train", "A step is in progress"),
    ],
)
def test_phases_out_of_order_get_409(client, calls, last, message):
    sid = new(client)
    for c in calls:
        assert client.post(f"{API}/{sid}/{c}").status_code == 200
    body = {"steps": 5} if last == "train" else None
    r = client.post(f"{API}/{sid}/{last}", json=body)
    assert r.status_code == 409 and message in r.json()["detail"]


def test_step_finishes_a_step_in_progress_and_undo_cancels_one(client):
    sid = new(client)
    f = client.post(f"{API}/{sid}/forward", json={"indices": [5]}).json()
    t = client.post(f"{API}/{sid}/step").json()
    assert t["indices"] == [5] and t["step"] == 1
    client.post(f"{API}/{sid}/forward")
    r = client.post(f"{API}/{sid}/undo").json()
    assert r["state"]["pending"] == "none" and r["state"]["step"] == 1
    assert f["error"] == t["error"]


def test_sessions_are_isolated(client):
    a, b = new(client), new(client)
    wb = client.get(f"{API}/{b}").json()["state"]["weights"]
    for _ in range(5):
        client.post(f"{API}/{a}/step")
    assert client.get(f"{API}/{b}").json()["state"]["weights"] == wb
    assert client.get(f"{API}/{b}").json()["state"]["step"] == 0
    assert client.delete(f"{API}/{b}").status_code == 204
    assert client.get(f"{API}/{b}").status_code == 404
    assert client.get(f"{API}/{a}").json()["state"]["step"] == 5


def test_eight_threads_stepping_one_session_lose_no_step(client):
    sid = new(client, seed=1)
    ref = new(client, seed=1)
    n_threads, per_thread = 8, 10
    errors = []

    def worker():
        for _ in range(per_thread):
            r = client.post(f"{API}/{sid}/step")
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    n = n_threads * per_thread
    for _ in range(n):
        client.post(f"{API}/{ref}/step")
    a = client.get(f"{API}/{sid}").json()["state"]
    b = client.get(f"{API}/{ref}").json()["state"]
    assert a["step"] == n and a["weights"] == b["weights"]


def test_expiry_and_least_recently_used_eviction():
    settings = Settings(max_sessions=3, session_ttl_seconds=1)
    with TestClient(create_app(settings)) as client:
        ids = [new(client) for _ in range(3)]
        client.get(f"{API}/{ids[0]}")  # ids[1] is now the least recently used
        fourth = new(client)
        assert client.get(f"{API}/{ids[1]}").status_code == 404
        assert client.get(f"{API}/{ids[0]}").status_code == 200
        time.sleep(1.2)
        r = client.get(f"{API}/{fourth}")
        assert r.status_code == 404 and "expired" in r.json()["detail"]
        assert len(client.app.state.store) <= 3


def test_undo_restores_the_exact_previous_state_and_is_bounded():
    with TestClient(create_app(Settings(undo_depth=3))) as client:
        sid = new(client)
        states = [client.get(f"{API}/{sid}").json()["state"]]
        for _ in range(5):
            client.post(f"{API}/{sid}/step")
            states.append(client.get(f"{API}/{sid}").json()["state"])
        for k in (4, 3, 2):
            st = client.post(f"{API}/{sid}/undo").json()["state"]
            assert st["weights"] == states[k]["weights"] and st["step"] == k
        r = client.post(f"{API}/{sid}/undo")
        assert r.status_code == 409 and "nothing to undo" in r.json()["detail"]
        # Stepping again after undo retraces the same path (same examples).
        t = client.post(f"{API}/{sid}/step").json()
        assert t["state"]["step"] == 3
        assert client.get(f"{API}/{sid}").json()["state"]["weights"] == states[3]["weights"]
        hist = client.get(f"{API}/{sid}/history").json()
        assert hist["step"] == [1, 2, 3]


def test_undo_memory_is_bounded_for_big_networks():
    settings = Settings(undo_depth=50, max_undo_bytes=100_000)
    with TestClient(create_app(settings)) as client:
        big = new(client, layers=[2, 64, 64, 1])  # 4417 weights = 35 KB per snapshot
        small = new(client)
        for sid in (big, small):
            for _ in range(10):
                client.post(f"{API}/{sid}/step")
        assert client.get(f"{API}/{big}").json()["state"]["undo_available"] == 2
        assert client.get(f"{API}/{small}").json()["state"]["undo_available"] == 10


def test_an_older_snapshot_is_refused_with_a_reason(client):
    sid = new(client)
    snap = {**client.get(f"{API}/{sid}/export").json(), "format": "backprop-lab/1"}
    r = client.post(f"{API}/import", json=snap)
    assert r.status_code == 422
    assert "earlier Backprop Lab" in r.json()["detail"] and "cannot continue" in r.json()["detail"]


def test_export_import_continues_identically(client):
    sid = new(client, layers=[2, 6, 1], batch_size=4, dataset={"name": "spiral", "n": 90})
    client.post(f"{API}/{sid}/train", json={"steps": 57})
    snap = client.get(f"{API}/{sid}/export").json()
    assert snap["format"] == "backprop-lab/2" and snap["step"] == 57
    r = client.post(f"{API}/import", json=snap)
    assert r.status_code == 201
    twin = r.json()["id"]
    assert twin != sid
    for _ in range(30):  # crosses epoch boundaries (72 training examples, B = 4)
        a = client.post(f"{API}/{sid}/step").json()
        b = client.post(f"{API}/{twin}/step").json()
        assert a["indices"] == b["indices"] and a["layers"] == b["layers"]
    ha = client.get(f"{API}/{sid}/history").json()
    hb = client.get(f"{API}/{twin}/history").json()
    assert ha == hb


def test_divergence_is_reported_and_the_session_keeps_its_weights(client):
    sid = new(client, **DIVERGING)
    for _ in range(50):
        before = client.get(f"{API}/{sid}").json()["state"]
        r = client.post(f"{API}/{sid}/step")
        assert r.status_code == 200
        t = r.json()
        if t["diverged"]:
            break
    else:
        pytest.fail("η = 1e6 should diverge")
    assert t["layers"] == [] and "refused" in t["message"]
    after = client.get(f"{API}/{sid}").json()["state"]
    assert after["weights"] == before["weights"] and after["step"] == before["step"]
    # Fast-forward says so too, and stops.
    tr = client.post(f"{API}/{sid}/train", json={"steps": 100}).json()
    assert tr["diverged"] and tr["stopped"] == "diverged" and tr["steps_done"] == 0


def test_patch_reset_and_train(client):
    sid = new(client)
    r = client.patch(f"{API}/{sid}", json={"learning_rate": 0.5, "batch_size": 4})
    assert r.json()["config"]["learning_rate"] == 0.5 and r.json()["state"]["batch_size"] == 4
    assert len(client.post(f"{API}/{sid}/step").json()["indices"]) == 4
    w0 = client.post(f"{API}/{sid}/reset").json()["state"]
    assert w0["step"] == 0
    assert client.post(f"{API}/{sid}/reset", json={"seed": 5}).json()["config"]["seed"] == 5
    tr = client.post(f"{API}/{sid}/train", json={"steps": 120, "record_every": 50}).json()
    assert tr["steps_done"] == 120 and tr["stopped"] == "done" and tr["step"] == 120
    assert tr["history"]["step"] == [50, 100, 120] and tr["history"]["first"] == [1, 51, 101]
    h = client.get(f"{API}/{sid}/history", params={"since": 100}).json()
    assert h["step"] == list(range(101, 121)) and h["total_steps"] == 120
    assert len(h["grad_norm"][0]) == 2


def test_history_is_downsampled_when_long():
    with TestClient(create_app(Settings(max_history_points=64))) as client:
        sid = new(client)
        client.post(f"{API}/{sid}/train", json={"steps": 1000})
        h = client.get(f"{API}/{sid}/history", params={"max_points": 10}).json()
        assert len(h["step"]) <= 10 and h["step"][-1] == 1000 and h["first"][0] == 1
        full = client.get(f"{API}/{sid}/history").json()
        assert len(full["step"]) <= 64 and full["stride"] >= 16


def test_train_is_capped_per_call():
    with TestClient(create_app(Settings(max_steps_per_call=30))) as client:
        sid = new(client)
        tr = client.post(f"{API}/{sid}/train", json={"steps": 1000}).json()
        assert tr["steps_done"] == 30 and tr["stopped"] == "limit"


def test_predict_grid_and_gradcheck(client):
    sid = new(client, layers=[2, 8, 8, 1])
    p = client.post(f"{API}/{sid}/predict", json={"inputs": [[0.1, 0.2], [0.5, -1]]}).json()
    assert [np.shape(lay["x"]) for lay in p["layers"]] == [(2, 8), (2, 8), (2, 1)]
    assert p["output"] == p["layers"][-1]["x"]
    g = client.get(f"{API}/{sid}/grid")
    assert g.status_code == 200 and len(g.content) < 100_000
    grid = g.json()
    assert [np.shape(lay["x"]) for lay in grid["layers"]] == [(8, 25, 25), (8, 25, 25), (1, 25, 25)]
    x, y = grid["xs"][4], grid["ys"][9]
    at = client.post(f"{API}/{sid}/predict", json={"inputs": [[x, y]]}).json()["output"][0][0]
    assert grid["layers"][-1]["x"][0][9][4] == pytest.approx(at, abs=5e-4)
    gc = client.post(f"{API}/{sid}/gradcheck", json={"indices": [0, 1]}).json()
    assert gc["max_rel_diff"] < 1e-6 and gc["indices"] == [0, 1]
    assert gc["numerical_passes"] == 2 * (3 * 8 + 9 * 8 + 9) and gc["backprop_passes"] == 2
    assert client.get(f"{API}/{sid}").json()["state"]["step"] == 0  # nothing changed


def test_sine_regression_has_no_grid(client):
    sid = new(client, layers=[1, 4, 1], output="identity", dataset={"name": "sine"})
    r = client.get(f"{API}/{sid}/grid")
    assert r.status_code == 422 and "2-D inputs" in r.json()["detail"]


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"layers": [2] + [4] * 17 + [1]}, 422, "17 hidden layers; the limit is 16"),
        ({"layers": [2, 65, 1]}, 422, "65 units; the limit is 64"),
        ({"dataset": {"name": "xor", "n": 2001}}, 422, "limit is 2000"),
        ({"batch_size": 5000}, 422, "limit of 256 (BACKPROP_MAX_BATCH)"),
        ({"learning_rate": 0}, 422, "learning_rate"),
        ({"layers": [2, 4, 3], "output": "softmax"}, 422, "softmax output needs the cross-entropy"),
        ({"layers": [3, 4, 1]}, 422, "Layer 0 has 3 units but the xor data has 2"),
        (
            {
                "layers": [2, 4, 2],
                "output": "softmax",
                "loss": "cross_entropy",
                "dataset": {"name": "blobs", "classes": 3},
            },
            422,
            "3 classes",
        ),
        ({"activaton": "relu"}, 422, "activaton is not a known field"),
    ],
)
def test_bad_configs_get_a_sentence(client, body, status, message):
    r = client.post(API, json=body)
    assert r.status_code == status and message in r.json()["detail"], r.text


@pytest.mark.parametrize(
    "raw",
    [b'{"learning_rate": NaN}', b'{"init": {"scale": Infinity}}', b'{"learning_rate": -Infinity}'],
)
def test_non_finite_numbers_are_422_not_500(client, raw):
    r = client.post(API, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "finite" in r.json()["detail"]


def test_non_finite_weights_and_bad_shapes_are_refused(client):
    sid = new(client)
    raw = b'{"weights": [[[NaN, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], [[0], [0], [0], [0], [0]]]}'
    r = client.put(
        f"{API}/{sid}/weights", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    r = client.put(f"{API}/{sid}/weights", json={"weights": [[[0.0] * 4] * 2, [[0.0]] * 5]})
    assert r.status_code == 422 and "W(1) must be 3 x 4" in r.json()["detail"]
    assert client.get(f"{API}/{sid}").json()["state"]["undo_available"] == 0


def test_other_limits_are_named(client):
    sid = new(client)
    r = client.get(f"{API}/{sid}/grid", params={"resolution": 500})
    assert r.status_code == 422 and "limit of 101" in r.json()["detail"]
    r = client.post(f"{API}/{sid}/step", json={"indices": [10_000]})
    assert r.status_code == 422 and "between 0 and 159" in r.json()["detail"]
    r = client.post(f"{API}/{sid}/predict", json={"inputs": [[0, 0]] * 2001})
    assert r.status_code == 422 and "limit of 2000" in r.json()["detail"]
    big = new(client, layers=[2, 64, 64, 64, 1])
    r = client.post(f"{API}/{big}/gradcheck")
    assert r.status_code == 422 and "at most 5000" in r.json()["detail"]
    r = client.post(
        API, content=b"[" + b"0," * 600_000 + b"0]", headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_unknown_session_is_404_with_a_sentence(client):
    for method, path in [("get", ""), ("post", "/step"), ("get", "/history"), ("delete", "")]:
        r = getattr(client, method)(f"{API}/{'0' * 32}{path}")
        assert r.status_code == 404 and "no session" in r.json()["detail"]


def test_presets_and_datasets(client):
    presets = client.get("/api/presets").json()
    names = {p["name"] for p in presets}
    assert {"lecture", "vanishing-sigmoid", "deep-relu", "spiral-softmax", "sine"} <= names
    for p in presets:  # every preset creates a session
        assert client.post(API, json=p["config"]).status_code == 201
    datasets = {d["name"]: d for d in client.get("/api/datasets").json()}
    assert datasets["sine"]["regression"] and "±1" in datasets["xor"]["labels"]


def test_vanishing_preset_through_the_api(client):
    presets = {p["name"]: p for p in client.get("/api/presets").json()}
    sig = new(client, **presets["vanishing-sigmoid"]["config"])
    relu = new(client, **presets["deep-relu"]["config"])
    g = client.post(f"{API}/{sig}/step").json()["layers"]
    assert g[0]["grad_norm"] * 100 <= g[-1]["grad_norm"]
    r = client.post(f"{API}/{relu}/step").json()["layers"]
    assert r[0]["grad_norm"] * 100 > r[-1]["grad_norm"]
    assert all(math.isfinite(lay["saturation"]) for lay in g)


def test_every_response_model_is_declared(client):
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, (method, path)
            for code in ok:
                if code != "204":
                    assert "content" in op["responses"][code], (method, path, code)


def test_the_catalogue_lists_every_choice_of_a_config(client):
    catalogue = client.get("/api/catalogue").json()
    assert "leaky_relu" in catalogue["activations"] and "softmax" not in catalogue["activations"]
    pairs = {(o["output"], o["loss"]): o["encoding"] for o in catalogue["outputs"]}
    assert pairs[("softmax", "cross_entropy")] == "index" and ("softmax", "squared") not in pairs
    assert set(catalogue["init_schemes"]) == {"normal", "uniform", "xavier", "he"}
    assert {d["name"] for d in catalogue["datasets"]} >= {"xor", "sine", "spiral"}
    # every pair it offers makes a session
    for output, loss in pairs:
        layers = [2, 3, 2] if output == "softmax" else [2, 3, 1]
        config = {"layers": layers, "output": output, "loss": loss}
        assert client.post("/api/sessions", json=config).status_code == 201
