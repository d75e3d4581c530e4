"""Issue #16 on the page, in headless Chromium: what the output layer sees, the data
view's toggles, a weight typed by hand, and the features and regularisation setup.
Numbers are compared with the API's own responses."""

import json

import pytest

from tests.conftest import ARTIFACTS
from tests.test_page_large import WEIGHT_AT
from tests.test_page_support import assert_shows, wait_grid, wait_ready, wait_step_done

pytestmark = pytest.mark.browser

STILL = "?speed=0"
REP = "#chart-representation"


def query(page, key: str):
    """A value of the page's query string (the setup's URL)."""
    return page.evaluate("(k) => new URLSearchParams(location.search).get(k)", key)


def trace_named(page, chart: str, name: str):
    return page.evaluate(
        "([c, n]) => document.querySelector(c).data.find((t) => t.name === n) ?? null",
        [chart, name],
    )


def test_the_representation_panel_plots_the_hidden_plane_and_moves_with_each_step(page):
    with page.expect_response("**/representation?*") as answer:
        wait_ready(page, STILL + "&layers=2-2-1&seed=1")
    rep = answer.value.json()
    page.wait_for_function(f"() => document.querySelector('{REP}').dataset.method")
    points = trace_named(page, REP, "training points")
    assert points["x"] == [p[0] for p in rep["train"]["view"]]
    assert points["y"] == [p[1] for p in rep["train"]["view"]]
    line = trace_named(page, REP, "output boundary")
    w0, w1, w2 = rep["boundary"]
    for x, y in zip(line["x"], line["y"], strict=True):  # both ends lie on the line
        assert w0 + w1 * x + w2 * y == pytest.approx(0, abs=1e-9)
    assert "straight line" in page.text_content("#rep-note")
    # a step moves the points: the panel asks again and shows the new numbers
    with page.expect_response("**/representation?*") as again:
        page.click("#btn-step")
    wait_step_done(page, 1)
    moved = again.value.json()["train"]["view"]
    page.wait_for_function(
        "([c, y]) => document.querySelector(c).data[0].y[0] === y", arg=[REP, moved[0][1]]
    )
    # layer 0: the inputs themselves, no line
    with page.expect_response("**/representation?layer=0") as zero:
        page.select_option("#rep-layer", "0")
    assert zero.value.json()["method"] == "coordinates"
    page.wait_for_function(f"() => document.querySelector('{REP}').dataset.layer === '0'")
    assert trace_named(page, REP, "output boundary") is None
    page.locator("#card-representation").screenshot(path=ARTIFACTS / "view-representation.png")


def test_the_circle_preset_shows_a_pca_view_with_the_variance_kept(page):
    wait_ready(page, STILL)
    page.wait_for_function("() => window.backpropLab.page.presets.length > 0")
    with page.expect_response("**/representation?*") as answer:
        page.select_option("#preset", "circle-hidden-space")
    rep = answer.value.json()
    page.wait_for_function(f"() => document.querySelector('{REP}').dataset.method === 'pca'")
    kept = f"{100 * rep['variance_kept']:.1f} %"
    page.wait_for_function(
        "(k) => document.querySelector('#rep-note').textContent.includes(k)", arg=kept
    )
    page.locator("#card-representation").screenshot(path=ARTIFACTS / "view-representation-pca.png")


def test_show_test_data_and_discretize_output(page):
    grid = wait_grid(page, STILL)
    assert trace_named(page, "#chart-boundary", "test points") is None
    page.check("#show-test")
    page.wait_for_function(
        "() => document.querySelector('#chart-boundary').data.some((t) => t.name === 'test points')"
    )
    data = page.evaluate("() => backpropLab.page.dataset")
    shown = trace_named(page, "#chart-boundary", "test points")
    assert shown["x"] == [p[0] for p in data["x_test"]]
    assert query(page, "testpts") == "1"
    page.check("#discretize")
    page.wait_for_function(
        "() => document.querySelector('#chart-boundary').data[0].zsmooth === false"
    )
    z = page.evaluate("() => document.querySelector('#chart-boundary').data[0].z")
    out = grid["layers"][-1]["x"][0]
    assert z == [[(v > 0) - (v < 0) for v in row] for row in out]  # the class: sign of x(L)
    assert query(page, "discrete") == "1"
    page.locator("#card-boundary").screenshot(path=ARTIFACTS / "view-boundary-toggles.png")
    # a link keeps both
    wait_ready(page, page.evaluate("location.search"))
    assert page.is_checked("#show-test") and page.is_checked("#discretize")


def test_a_weight_typed_by_hand_is_used_by_the_next_step_and_undone(page):
    wait_ready(page, STILL + "&layers=2-2-1")
    assert page.locator("#weight-edit").is_hidden()
    page.evaluate("() => backpropLab.select({kind: 'edge', l: 1, i: 1, j: 2})")
    page.wait_for_selector("#weight-edit", state="visible")
    page.fill("#weight-value", "1.25")
    with page.expect_request("**/weights") as put:
        page.click("#weight-edit button[type=submit]")
    W = json.loads(put.value.post_data)["weights"]
    assert W[0][1][1] == 1.25
    page.wait_for_function("() => backpropLab.page.weights[0][1][1] === 1.25")
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    wait_step_done(page, 1)
    t = answer.value.json()
    x0 = [1.0, *t["input"][0]]
    s = sum(x0[i] * W[0][i][1] for i in range(3))
    assert t["layers"][0]["s"][0][1] == pytest.approx(s, abs=1e-12)
    page.locator(".network-panel").screenshot(path=ARTIFACTS / "view-weight-edit.png")
    for _ in range(2):  # the step, then the edit
        with page.expect_response("**/undo"):
            page.keyboard.press("u")
        page.wait_for_function("() => !backpropLab.page.busy")
    assert page.evaluate("backpropLab.page.weights[0][1][1]") != 1.25


def test_features_and_regularisation_reach_the_session_and_the_url(page):
    wait_ready(page, STILL)
    with page.expect_request("**/api/sessions") as created:
        page.locator("#features input[value='x1²']").check()
    config = json.loads(created.value.post_data)
    assert config["features"] == ["x1", "x2", "x1²"] and config["layers"][0] == 3
    page.wait_for_function("() => backpropLab.page.session.config.features?.length === 3")
    assert query(page, "features") == "x1,x2,x1²"
    page.select_option("#reg", "l2")
    page.fill("#lambda", "0.01")
    with page.expect_request("**/api/sessions/*") as patched:
        page.press("#lambda", "Enter")
        page.locator("#lambda").blur()
    body = json.loads(patched.value.post_data)
    assert body["regularization"]["kind"] == "l2"
    page.wait_for_function("() => backpropLab.page.session.config.regularization.strength === 0.01")
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    assert answer.value.json()["penalty"] > 0
    assert query(page, "regularization.kind") == "l2"
    assert query(page, "regularization.strength") == "0.01"


PENALISED = STILL + "&layers=2-2-1&regularization.kind=l2&regularization.strength=0.05"


def test_the_formula_panel_adds_the_penalty_term_with_the_traces_numbers(page):
    wait_ready(page, PENALISED)
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    wait_step_done(page, 1)
    t = answer.value.json()
    layer = t["layers"][0]
    page.evaluate("() => backpropLab.select({kind: 'edge', l: 1, i: 1, j: 2})")
    q = "#formula [data-q='{}']"
    assert_shows(page.text_content(q.format("penalty-grad")), layer["penalty_grad"][1][1], "∂Ω/∂w")
    assert_shows(page.text_content(q.format("grad")), layer["grad"][1][1], "∂e/∂w")
    assert_shows(page.text_content(q.format("update")), layer["update"][1][1], "Δw")
    assert "2λ" in page.text_content("#formula").replace(" ", "")
    # the bias row has no penalty: the trace's 0
    page.evaluate("() => backpropLab.select({kind: 'edge', l: 1, i: 0, j: 1})")
    assert page.text_content(q.format("penalty-grad")) == "0"
    page.locator("#formula").screenshot(path=ARTIFACTS / "view-formula-penalty.png")


def test_the_error_chart_shows_error_plus_penalty_when_lambda_is_positive(page):
    wait_ready(page, STILL)
    assert trace_named(page, "#chart-error", "training error + Ω") is None
    wait_ready(page, PENALISED)
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    wait_step_done(page, 1)
    state = answer.value.json()["state"]
    assert state["penalty"] > 0
    page.wait_for_function(
        "() => document.querySelector('#chart-error').data.some("
        "(t) => t.name === 'training error + Ω' && t.x.includes(1))"
    )
    total = trace_named(page, "#chart-error", "training error + Ω")
    assert total["y"][total["x"].index(1)] == pytest.approx(state["train_error"] + state["penalty"])


def test_the_input_units_show_their_feature_names(page):
    wait_ready(page, STILL + "&layers=3-2-1&features=x1²,sin x2,x1·x2")
    names = [page.text_content(f"#unit-0-{j} .s-label") for j in (1, 2, 3)]
    assert names == ["x₁²", "sin x₂", "x₁·x₂"]
    assert page.is_checked("#features input[value='x1²']")
    assert not page.is_checked("#features input[value='x1']")


def test_a_weight_typed_by_hand_on_the_canvas_drawn_dense_network(page):
    wait_ready(page, STILL + "&layers=2-32-32-1")
    assert not page.locator("#network-edges").is_hidden()  # > 1000 weights: a canvas
    l, i, j = 2, 5, 7
    page.mouse.click(*page.evaluate(WEIGHT_AT, [l, i, j]))
    page.wait_for_selector("#weight-edit", state="visible")
    shown = page.text_content("#weight-edit .weight-name")
    assert shown.replace(" ", "") == f"w{i}{j}({l})="
    page.fill("#weight-value", "-2.5")
    with page.expect_request("**/weights") as put:
        page.press("#weight-value", "Enter")
    assert json.loads(put.value.post_data)["weights"][l - 1][i][j - 1] == -2.5
    page.wait_for_function(f"() => backpropLab.page.weights[{l - 1}][{i}][{j - 1}] === -2.5")
    assert_shows(page.text_content("#formula [data-q=w]"), -2.5, "w now")


def map_of(page, unit: str):
    return page.evaluate(
        """(u) => {
            const body = document.querySelector(`#${u} .body`);
            const id = (body.style.fill.match(/#([^"')]+)/) || [])[1];
            const image = id && document.querySelector(`#network pattern#${id} image`);
            return image ? image.getAttribute("href") : null;
        }""",
        unit,
    )


def test_neuron_maps_draw_each_hidden_units_plane_inside_its_circle(page):
    wait_grid(page, STILL + "&layers=2-3-1")
    assert map_of(page, "unit-1-1") is None
    page.check("#neuron-maps")
    assert query(page, "maps") == "1"
    for j in (1, 2, 3):
        assert map_of(page, f"unit-1-{j}").startswith("data:image/png")
    assert map_of(page, "unit-2-1") is None  # hidden units only
    before = map_of(page, "unit-1-1")
    page.fill("#ff-steps", "300")  # enough training to change the pictures' colours
    page.click("#btn-ff")
    page.wait_for_function("() => backpropLab.page.session.state.step === 300")
    # the next grid after the steps repaints the pictures
    page.wait_for_function(
        "([u, b]) => { const f = document.querySelector(`#${u} .body`).style.fill;"
        " const id = (f.match(/#([^\"')]+)/) || [])[1];"
        " const img = id && document.querySelector(`#network pattern#${id} image`);"
        " return img && img.getAttribute('href') !== b; }",
        arg=["unit-1-1", before],
        timeout=10_000,
    )
    page.locator(".network-panel").screenshot(path=ARTIFACTS / "view-neuron-maps.png")
    page.uncheck("#neuron-maps")
    assert map_of(page, "unit-1-1") is None
    assert "url" not in page.evaluate("document.querySelector('#unit-1-1 .body').style.fill")


def test_the_worked_example_trains_one_typed_point_from_the_weights_on_screen(page):
    wait_ready(page, STILL + "&layers=2-2-1&seed=4")
    W = page.evaluate("backpropLab.page.weights")
    page.fill("#example-x1", "0.5")
    page.fill("#example-x2", "-1")
    page.fill("#example-y", "-1")
    with (
        page.expect_request("**/api/sessions") as created,
        page.expect_request("**/weights") as put,
    ):
        page.click("#example-use")
    config = json.loads(created.value.post_data)
    assert config["dataset"] == {
        "name": "custom",
        "points": [[0.5, -1]],
        "labels": [-1],
        "regression": False,
    }
    assert config["layers"] == [2, 2, 1]
    assert json.loads(put.value.post_data)["weights"] == W
    page.wait_for_function("() => !backpropLab.page.busy")
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    wait_step_done(page, 1)
    t = answer.value.json()
    assert t["input"] == [[0.5, -1]] and t["target"] == [-1]
    s = [W[0][0][j] + 0.5 * W[0][1][j] - 1 * W[0][2][j] for j in range(2)]
    assert t["layers"][0]["s"][0] == pytest.approx(s, abs=1e-12)
    page.locator("#setup").screenshot(path=ARTIFACTS / "view-worked-example.png")
