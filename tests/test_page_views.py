"""The views beside the network, in headless Chromium: this step layer by layer
(the vanishing-gradient bars), the error chart, the gradient check and the exports.

Every number is compared with the API's own response (page.expect_response or a
request against the live server)."""

import csv
import io
import json

import pytest

from tests.conftest import ARTIFACTS
from tests.test_page_support import assert_shows, wait_grid, wait_ready, wait_step_done

pytestmark = pytest.mark.browser

STILL = "?speed=0"


def load_preset(page, name: str) -> None:
    page.wait_for_function("() => window.backpropLab.page.presets.length > 0")
    with page.expect_response("**/dataset"):
        page.select_option("#preset", name)
    page.wait_for_function("() => !window.backpropLab.page.busy")


def step_once(page, step: int = 1) -> dict:
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    wait_step_done(page, step)
    return answer.value.json()


def bars(page, step: int) -> list[float]:
    """The step chart's bar heights once it shows ``step``."""
    page.wait_for_function(
        "(s) => document.querySelector('#chart-step').dataset.step === String(s)", arg=step
    )
    return page.evaluate("() => document.querySelector('#chart-step').data[0].y")


def test_vanishing_sigmoid_bars_show_the_gap(page):
    page.set_viewport_size({"width": 1280, "height": 720})
    wait_ready(page, STILL)
    load_preset(page, "vanishing-sigmoid")
    trace = step_once(page)
    heights = bars(page, 1)
    norms = [layer["grad_norm"] for layer in trace["layers"]]
    assert heights == norms  # the exact float64 of every layer, layer 1 first
    assert heights[0] * 100 <= heights[-1], "layer 1's gradient should have vanished"
    labels = page.evaluate("() => document.querySelector('#chart-step').data[0].text")
    assert labels == [f"{round(100 * layer['saturation'])}%" for layer in trace["layers"]]
    assert "¼" in page.text_content("#step-note")
    page.locator("#card-step").screenshot(path=ARTIFACTS / "view-step-sigmoid.png")


def test_deep_relu_has_no_such_gap(page):
    wait_ready(page, STILL)
    load_preset(page, "deep-relu")
    trace = step_once(page)
    heights = bars(page, 1)
    assert heights == [layer["grad_norm"] for layer in trace["layers"]]
    assert heights[0] * 100 > heights[-1]
    page.locator("#card-step").screenshot(path=ARTIFACTS / "view-step-relu.png")


def test_error_chart_follows_steps_and_fast_forward(page):
    wait_ready(page, STILL)
    first = step_once(page)
    second = step_once(page, 2)
    read = """() => {
        const d = document.querySelector('#chart-error').data;
        return d && d[0].x.length >= 3 ? [d[0].x, d[0].y, d[1].y, d[2].y] : null;
    }"""
    page.wait_for_function(read)
    steps, train, test, acc = page.evaluate(read)
    assert steps[1:3] == [1, 2]
    assert train[1:3] == [first["state"]["train_error"], second["state"]["train_error"]]
    assert test[2] == second["state"]["test_error"]
    assert acc[2] == second["state"]["train_accuracy"]
    page.fill("#ff-steps", "300")
    with page.expect_response("**/train") as answer:
        page.click("#btn-ff")
    page.wait_for_function("() => !window.backpropLab.page.fastForwarding")
    state = answer.value.json()["state"]
    page.wait_for_function(
        "(s) => document.querySelector('#chart-error').data[0].x.at(-1) === s", arg=state["step"]
    )
    assert (
        page.evaluate("document.querySelector('#chart-error').data[0].y.at(-1)")
        == (state["train_error"])
    )
    page.locator("#card-error").screenshot(path=ARTIFACTS / "view-error.png")


def test_gradient_check_panel_shows_agreement(page):
    wait_ready(page, STILL)
    with page.expect_response("**/gradcheck") as answer:
        page.click("#btn-gradcheck")
    check = answer.value.json()
    page.wait_for_selector("#gradcheck-result table")
    rows = page.locator("#gradcheck-result tbody tr")
    assert rows.count() == len(check["layers"])
    for n, layer in enumerate(check["layers"]):
        row = rows.nth(n)
        assert float(row.get_attribute("data-value")) == layer["max_rel_diff"]
        assert layer["max_rel_diff"] < 1e-6
        assert "✓" in row.text_content()
    cost = page.text_content(".gradcheck-cost")
    assert str(check["numerical_passes"]) in cost and str(check["backprop_passes"]) in cost
    page.locator("#card-tools").screenshot(path=ARTIFACTS / "view-gradcheck.png")


def test_exports_hold_the_api_numbers(page):
    wait_ready(page, STILL)
    assert page.get_attribute("[data-export=trace]", "aria-disabled") == "true"
    trace = step_once(page)
    page.wait_for_selector("[data-export=trace][href]")
    hrefs = {
        k: page.get_attribute(f"[data-export='{k}']", "href")
        for k in ["trace", "trace.csv", "history.csv", "report.html"]
    }
    exported = json.loads(page.request.get(hrefs["trace"]).text())
    assert exported["layers"] == trace["layers"] and exported["step"] == trace["step"]

    table = csv.DictReader(io.StringIO(page.request.get(hrefs["trace.csv"]).text()))
    cells = {(r["quantity"], r["layer"], r["row"], r["col"]): float(r["value"]) for r in table}
    for layer in trace["layers"]:
        l = str(layer["layer"])
        assert cells[("grad_norm", l, "", "")] == layer["grad_norm"]
        for i, row in enumerate(layer["grad"]):
            for j, g in enumerate(row, start=1):
                assert cells[("grad", l, str(i), str(j))] == g
    assert cells[("error", "0", "", "")] == trace["error"]

    history = list(csv.DictReader(io.StringIO(page.request.get(hrefs["history.csv"]).text())))
    assert history[-1]["last_step"] == "1"
    for layer in trace["layers"]:
        assert float(history[-1][f"grad_norm_{layer['layer']}"]) == layer["grad_norm"]
    report = page.request.get(hrefs["report.html"])
    assert report.ok and "Backprop Lab report" in report.text()


def test_boundary_shows_the_grid_and_a_click_picks_a_point(page):
    grid = wait_grid(page, STILL)
    heat = page.evaluate("() => document.querySelector('#chart-boundary').data[0]")
    out = grid["layers"][-1]["x"][0]  # tanh output: its value is its place on the scale
    assert heat["x"] == grid["xs"] and heat["y"] == grid["ys"]
    assert heat["z"] == out
    # hidden units: one picture per hidden unit of the same grid
    page.wait_for_selector("#hidden-units canvas")
    assert page.locator("#hidden-units canvas").count() == len(grid["layers"][0]["x"])
    # their colour legend: tanh's x runs from −1 to +1
    assert page.text_content("#hidden-lo") == "−1" and page.text_content("#hidden-hi") == "+1"
    # a click on a training point pins it for the next step
    data = page.evaluate("() => backpropLab.page.dataset")
    index = 7
    page.evaluate(
        """(i) => {
            const div = document.querySelector('#chart-boundary');
            const trace = div.data.findIndex((t) => t.name === 'training points');
            div.emit('plotly_click', {points: [{data: div.data[trace], customdata: i}]});
        }""",
        index,
    )
    assert page.evaluate("backpropLab.page.pinned") == index
    ring = """(name) => {
        const t = document.querySelector('#chart-boundary').data.find((d) => d.name === name);
        return t && t.x.length ? [t.x[0], t.y[0]] : null;
    }"""
    # the picked point is ringed on the chart too (purple), as in the data view
    page.wait_for_function(f'() => ({ring})("next step\'s example") !== null')
    assert page.evaluate(ring, "next step's example") == data["x_train"][index]
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    assert answer.value.json()["indices"] == [index]
    assert data["x_train"][index] == answer.value.json()["input"][0]
    # then the step's own example is ringed (black)
    page.wait_for_function(
        f'(p) => JSON.stringify(({ring})("this step\'s examples")) === JSON.stringify(p)',
        arg=data["x_train"][index],
    )
    page.locator("#card-boundary").screenshot(path=ARTIFACTS / "view-boundary.png")
    page.locator("#card-hidden").screenshot(path=ARTIFACTS / "view-hidden.png")


def test_regression_shows_the_fitted_curve(page):
    with page.expect_response("**/predict") as answer:
        wait_ready(page, STILL + "&data=sine&layers=1-4-1&out=identity&loss=squared")
    predicted = answer.value.json()
    page.wait_for_function(
        "() => document.querySelector('#chart-boundary').dataset.kind === 'curve'"
    )
    curve = page.evaluate("() => document.querySelector('#chart-boundary').data[0].y")
    assert curve == [row[0] for row in predicted["output"]]
    assert "2-D" in page.text_content("#hidden-note")


def test_gradient_chart_switches_to_mean_delta_and_smooths(page):
    wait_ready(page, STILL)
    first = step_once(page)
    second = step_once(page, 2)
    page.select_option("#grad-quantity", "delta")
    read = """() => {
        const d = document.querySelector('#chart-grad').data;
        return d && d[0].y.length === 2 ? d.map((t) => t.y) : null;
    }"""
    page.wait_for_function(
        "() => document.querySelector('#chart-grad').layout.yaxis.title.text.includes('δ')"
    )
    lines = page.wait_for_function(read).json_value()
    for l in range(len(first["layers"])):
        assert lines[l] == [
            first["layers"][l]["delta_mean_abs"],
            second["layers"][l]["delta_mean_abs"],
        ]
    page.check("#grad-smooth")
    page.wait_for_function(
        "(v) => document.querySelector('#chart-grad').data[0].y[0] !== v", arg=lines[0][0]
    )
    smoothed = page.evaluate("document.querySelector('#chart-grad').data[0].y")
    expected = (lines[0][0] * lines[0][1]) ** 0.5  # geometric mean of the two points
    assert abs(smoothed[0] - expected) <= 1e-12 * expected


def test_hidden_units_are_capped_with_a_note(page):
    wait_ready(page, STILL + "&layers=2-20-3-1")
    page.wait_for_selector("#hidden-units canvas")
    page.wait_for_function("() => document.querySelectorAll('#hidden-units canvas').length === 19")
    assert "first 16 of 20" in page.text_content("#hidden-note")


def test_the_batch_picker_walks_through_the_examples_of_a_step(page):
    """B = 3: ◀ ▶ show each example's own x(0), wrapping round; the step stays the same."""
    wait_ready(page, STILL + "&batch=3")
    trace = step_once(page)
    assert page.is_visible("#batch-picker")

    def shows(n: int) -> None:
        page.wait_for_function(
            "(n) => document.querySelector('#example-label').textContent.startsWith("
            "`example ${n} of 3`)",
            arg=n,
        )
        for j, x in enumerate(trace["input"][n - 1], start=1):
            assert_shows(page.text_content(f"#unit-0-{j} .val"), x, f"x_{j}(0), example {n}")

    shows(1)
    page.click("#example-next")
    shows(2)
    page.click("#example-prev")
    page.click("#example-prev")  # from the first back round to the last
    shows(3)
    assert page.evaluate("backpropLab.page.frame.step") == trace["step"] == 1
