"""Issue #16 through the API: input features, regularisation, a weight set by hand."""

from __future__ import annotations

import numpy as np
import pytest

from engine.features import FEATURE_NAMES

API = "/api/sessions"
SQUARES = {"layers": [2, 1], "features": ["x1²", "x2²"], "dataset": {"name": "circle"}}
L2 = {"layers": [2, 3, 1], "regularization": {"kind": "l2", "strength": 0.05}}


def create(client, config: dict) -> str:
    r = client.post(API, json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


# ------------------------------------------------------------------------- features
def test_feature_names_are_an_enum_in_the_openapi_document(client):
    prop = client.get("/openapi.json").json()["components"]["schemas"]["SessionConfig"]
    items = prop["properties"]["features"]["anyOf"][0]["items"]
    assert items["enum"] == list(FEATURE_NAMES)


def test_d0_the_step_input_and_the_grid_follow_the_features(client):
    sid = create(client, SQUARES)
    s = client.get(f"{API}/{sid}").json()
    assert s["config"]["features"] == ["x1²", "x2²"] and len(s["state"]["weights"][0]) == 3
    data = client.get(f"{API}/{sid}/dataset").json()
    step = client.post(f"{API}/{sid}/step", json={"indices": [4]}).json()
    p = data["x_train"][4]
    assert step["input"] == [[p[0] ** 2, p[1] ** 2]]  # x(0) is the features of the raw point
    w = np.array(client.get(f"{API}/{sid}").json()["state"]["weights"][0])
    grid = client.get(f"{API}/{sid}/grid", params={"resolution": 5, "digits": 17}).json()
    xs, ys, out = grid["xs"], grid["ys"], grid["layers"][-1]["x"][0]
    # One tanh unit of x1², x2²: over the plane, tanh(w0 + w1 x1² + w2 x2²).
    expected = np.tanh(w[0, 0] + w[1, 0] * xs[2] ** 2 + w[2, 0] * ys[1] ** 2)
    assert out[1][2] == pytest.approx(expected, abs=1e-15)
    pred = client.post(f"{API}/{sid}/predict", json={"inputs": [[xs[2], ys[1]]]}).json()
    assert pred["output"][0][0] == pytest.approx(expected, abs=1e-15)


def test_default_features_are_the_raw_point(client):
    s = client.get(f"{API}/{create(client, {})}").json()
    assert s["config"]["features"] is None and len(s["state"]["weights"][0]) == 3


@pytest.mark.parametrize(
    "config,words",
    [
        ({"features": ["x1", "x3"]}, "'x1', 'x2', 'x1²', 'x2²', 'x1·x2', 'sin x1' or 'sin x2'"),
        ({"layers": [3, 1], "features": ["x1", "x2"]}, "Layer 0 has 3 units but 2 features"),
        (
            {"layers": [2, 1], "output": "identity", "features": ["x1", "x2"],
             "dataset": {"name": "sine"}},
            "The data is 1-D, so there is no x2 (needed by x2)",
        ),
        ({"features": []}, "features"),
    ],
)  # fmt: skip
def test_wrong_features_are_a_422_with_one_sentence(client, config, words):
    r = client.post(API, json=config)
    assert r.status_code == 422 and words in r.json()["detail"], r.text


# ------------------------------------------------------------------- regularisation
def test_a_step_reports_e_the_penalty_and_its_gradient(client):
    sid = create(client, L2)
    W = [np.array(w) for w in client.get(f"{API}/{sid}").json()["state"]["weights"]]
    t = client.post(f"{API}/{sid}/step").json()
    omega = 0.05 * sum(float((w[1:] ** 2).sum()) for w in W)
    assert t["penalty"] == pytest.approx(omega) and t["total_error"] == t["error"] + t["penalty"]
    for layer, w in zip(t["layers"], W, strict=True):
        P = np.array(layer["penalty_grad"])
        np.testing.assert_allclose(P[1:], 2 * 0.05 * w[1:])
        assert (P[0] == 0).all()  # the bias weights are not penalised
        np.testing.assert_allclose(
            layer["update"], -0.1 * (np.array(layer["grad"]) + P), rtol=0, atol=1e-15
        )
    assert t["state"]["penalty"] > 0


def test_the_state_reports_what_the_update_descends(client):
    """train_total_error = E_train + Ω(w) at the new weights; E_train alone without Ω."""
    sid = create(client, L2)
    client.post(f"{API}/{sid}/step")
    state = client.get(f"{API}/{sid}").json()["state"]
    omega = 0.05 * sum(float((np.array(w)[1:] ** 2).sum()) for w in state["weights"])
    assert state["penalty"] == pytest.approx(omega, rel=1e-12)
    assert state["train_total_error"] == pytest.approx(state["train_error"] + omega, rel=1e-12)
    plain = create(client, {})
    state = client.post(f"{API}/{plain}/step").json()["state"]
    assert state["penalty"] == 0 and state["train_total_error"] == state["train_error"]


def test_the_three_beats_carry_the_penalty_too(client):
    sid = create(client, L2)
    f = client.post(f"{API}/{sid}/forward").json()
    assert f["penalty"] > 0 and f["total_error"] == f["error"] + f["penalty"]
    b = client.post(f"{API}/{sid}/backward").json()
    assert all(layer["penalty_grad"] is not None for layer in b["layers"])
    plain = create(client, {})
    client.post(f"{API}/{plain}/forward")
    b = client.post(f"{API}/{plain}/backward").json()
    assert all(layer["penalty_grad"] is None for layer in b["layers"])


def test_regularisation_can_change_mid_run_and_the_gradient_check_agrees(client):
    sid = create(client, {"layers": [2, 3, 1]})
    assert client.post(f"{API}/{sid}/step").json()["penalty"] == 0
    r = client.patch(f"{API}/{sid}", json={"regularization": {"kind": "l1", "strength": 0.2}})
    assert r.json()["config"]["regularization"] == {"kind": "l1", "strength": 0.2}
    assert client.post(f"{API}/{sid}/step").json()["penalty"] > 0
    check = client.post(f"{API}/{sid}/gradcheck", json={"epsilon": 1e-6}).json()
    assert check["max_rel_diff"] < 1e-6


@pytest.mark.parametrize(
    "reg", [{"kind": "l2", "strength": -1}, {"kind": "l2", "strength": 11}, {"kind": "l9"}]
)
def test_bad_regularisation_is_a_422(client, reg):
    assert client.post(API, json={"regularization": reg}).status_code == 422


# ----------------------------------------------------------------- a weight by hand
def test_the_next_step_uses_a_weight_set_by_hand_and_undo_takes_it_back(client):
    sid = create(client, {"layers": [2, 2, 1]})
    before = client.get(f"{API}/{sid}").json()["state"]["weights"]
    W = [[row[:] for row in w] for w in before]
    W[0][1][0] = 1.5  # w_11(1), typed by hand
    client.put(f"{API}/{sid}/weights", json={"weights": W})
    t = client.post(f"{API}/{sid}/step", json={"indices": [0]}).json()
    x0 = np.array([1.0, *t["input"][0]])
    np.testing.assert_allclose(t["layers"][0]["s"][0], x0 @ np.array(W[0]), rtol=0, atol=1e-15)
    client.post(f"{API}/{sid}/undo")  # the step
    assert client.get(f"{API}/{sid}").json()["state"]["weights"] == W
    client.post(f"{API}/{sid}/undo")  # the edit
    assert client.get(f"{API}/{sid}").json()["state"]["weights"] == before


# ------------------------------------------------------ what the output layer sees
def test_representation_of_the_xor_preset_has_the_output_line(client):
    presets = {p["name"]: p for p in client.get("/api/presets").json()}
    sid = create(client, presets["xor-hidden-plane"]["config"])
    client.post(f"{API}/{sid}/train", json={"steps": 3000})
    r = client.get(f"{API}/{sid}/representation", params={"digits": 17}).json()
    assert r["layer"] == 1 and r["method"] == "coordinates" and r["names"] == ["x_1(1)", "x_2(1)"]
    h = np.array(r["train"]["view"])
    w0, w1, w2 = r["boundary"]
    W2 = client.get(f"{API}/{sid}").json()["state"]["weights"][1]
    assert [w0, w1, w2] == [row[0] for row in W2]
    side = w0 + w1 * h[:, 0] + w2 * h[:, 1] > 0
    data = client.get(f"{API}/{sid}/dataset").json()
    out = client.post(f"{API}/{sid}/predict", json={"inputs": data["x_train"]}).json()["output"]
    np.testing.assert_array_equal(side, np.array(out)[:, 0] > 0)
    assert r["train"]["label"] == data["y_train"] and len(r["test"]["view"]) == 40


def test_representation_of_the_circle_preset_is_a_pca_view(client):
    presets = {p["name"]: p for p in client.get("/api/presets").json()}
    sid = create(client, presets["circle-hidden-space"]["config"])
    r = client.get(f"{API}/{sid}/representation").json()
    assert r["method"] == "pca" and r["units"] == 3 and r["boundary"] is None
    assert 0 < r["variance_kept"] <= 1 and len(r["components"]) == 2
    r0 = client.get(f"{API}/{sid}/representation", params={"layer": 0}).json()
    assert r0["names"] == ["x1", "x2"] and r0["method"] == "coordinates"
    bad = client.get(f"{API}/{sid}/representation", params={"layer": 2})
    assert bad.status_code == 422 and bad.json()["detail"] == (
        "Layer must be between 0 and 1 (L − 1 for this network)."
    )


def test_representation_names_the_features_of_layer_0(client):
    sid = create(client, SQUARES)
    r = client.get(f"{API}/{sid}/representation", params={"layer": 0}).json()
    assert r["names"] == ["x1²", "x2²"]
