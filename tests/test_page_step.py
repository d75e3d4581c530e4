"""The page in headless Chromium: one SGD step, its three beats and its numbers.

Every number the page shows for a step is compared with the API's own response for
that step (read with page.expect_response). The `page` fixture (tests/conftest.py)
fails a test on console errors, page errors and requests to any other host.
"""

from urllib.parse import urlsplit

import pytest

from tests.conftest import ARTIFACTS
from tests.test_page_support import (
    assert_shows,
    expected_sizes,
    sizes_drawn,
    wait_ready,
    wait_step_done,
    wait_units,
)

pytestmark = pytest.mark.browser

STILL = "?speed=0"  # animation off: the drawing shows a step's numbers at once


def point_on_line(page, selector: str, t: float) -> tuple[float, float]:
    """Where on the screen the line is, a fraction t from its start."""
    return page.evaluate(
        """([selector, t]) => {
            const line = document.querySelector(selector);
            const m = line.getScreenCTM();
            const at = (name) => Number(line.getAttribute(name));
            const x = at('x1') + t * (at('x2') - at('x1'));
            const y = at('y1') + t * (at('y2') - at('y1'));
            return [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f];
        }""",
        [selector, t],
    )


def test_page_loads_offline_with_the_network_drawn(page, live_server):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    wait_ready(page)
    assert page.title() == "Backprop Lab"
    assert sizes_drawn(page) == expected_sizes([2, 4, 1])
    assert page.text_content("#step-counter") == "0"
    # every script is this server's; plotly.js comes from /vendor/, not a CDN
    scripts = page.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
    assert any("/vendor/plotly-" in s for s in scripts)
    origin = urlsplit(live_server).netloc
    assert requests and all(urlsplit(u).netloc == origin for u in requests)
    # no horizontal scrolling at 1280 × 720
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_step_shows_the_numbers_of_the_api_trace(page):
    wait_ready(page, STILL)
    with page.expect_response("**/step") as answer:
        page.click("#btn-step")
    trace = answer.value.json()
    assert trace["step"] == 1 and not trace["diverged"]
    wait_step_done(page, 1)
    assert page.get_attribute("body", "data-beat") == "update"

    # every unit: x inside, s on its left, δ on its right; inputs: x
    for j, x in enumerate(trace["input"][0], start=1):
        assert_shows(page.text_content(f"#unit-0-{j} .val"), x, f"x_{j}(0)")
    for layer in trace["layers"]:
        l = layer["layer"]
        for j in range(1, len(layer["x"][0]) + 1):
            unit = f"#unit-{l}-{j}"
            assert_shows(page.text_content(f"{unit} .val"), layer["x"][0][j - 1], f"x_{j}({l})")
            assert_shows(page.text_content(f"{unit} .s-label"), layer["s"][0][j - 1], f"s_{j}({l})")
            assert_shows(
                page.text_content(f"{unit} .d-label"), layer["delta"][0][j - 1], f"δ_{j}({l})"
            )
            # the exact float64 is kept on the element as well
            assert float(page.get_attribute(unit, "data-x")) == layer["x"][0][j - 1]
        # Δw on every line of a small network
        for i, row in enumerate(layer["update"]):
            for j, dw in enumerate(row, start=1):
                label = page.text_content(f"#dw-{l}-{i}-{j}")
                if dw == 0:  # an unchanged line carries no label
                    assert label == ""
                else:
                    assert_shows(label, dw, f"Δw_{i}{j}({l})")
    assert_shows(page.text_content("#note-error"), trace["error"], "e")
    assert_shows(page.text_content("#metric-example-error"), trace["error"], "e")
    assert_shows(page.text_content("#metric-train-error"), trace["state"]["train_error"], "E")

    # the formula panel: the output unit is chosen at the start
    formula = "#formula"
    out = trace["layers"][-1]
    assert_shows(page.text_content(f"{formula} [data-q=s]"), out["s"][0][0], "panel s")
    assert_shows(page.text_content(f"{formula} [data-q=x]"), out["x"][0][0], "panel x")
    assert_shows(page.text_content(f"{formula} [data-q=delta]"), out["delta"][0][0], "panel δ")

    # a hidden unit: δ_2(1) = θ'(s_2(1)) Σ_j w_2j(2) δ_j(2), written out with W before
    page.click("#unit-1-2")
    hidden = trace["layers"][0]
    assert_shows(page.text_content(f"{formula} [data-q=s]"), hidden["s"][0][1], "panel s_2(1)")
    assert_shows(page.text_content(f"{formula} [data-q=delta]"), hidden["delta"][0][1], "δ_2(1)")
    x = hidden["x"][0][1]
    assert_shows(page.text_content(f"{formula} [data-q=theta-prime]"), 1 - x * x, "θ'")
    text = page.text_content(formula)
    w_after = out["weights"][2][0]
    w_before = w_after - out["update"][2][0]
    assert f"{abs(w_before):.3f}" in text  # the weight the step started from

    # an edge: ∂e/∂w_ij(l) = x_i(l−1) δ_j(l), Δw = −η ∂e/∂w, and the new weight
    page.mouse.click(*point_on_line(page, "#link-2-3-1", 0.35))
    page.wait_for_selector(f"{formula} [data-q=grad]")
    assert_shows(page.text_content(f"{formula} [data-q=grad]"), out["grad"][3][0], "∂e/∂w")
    assert_shows(page.text_content(f"{formula} [data-q=update]"), out["update"][3][0], "Δw")
    assert_shows(page.text_content(f"{formula} [data-q=w-after]"), out["weights"][3][0], "w")


def test_each_phase_button_takes_one_beat(page):
    """Forward, Backward, Update: the API's phase calls, one beat each, in order."""
    ARTIFACTS.mkdir(exist_ok=True)
    wait_ready(page, STILL)
    assert page.is_disabled("#btn-backward") and page.is_disabled("#btn-update")

    with page.expect_response("**/forward") as answer:
        page.click("#btn-forward")
    forward = answer.value.json()
    page.wait_for_selector("body[data-beat=forward]")
    page.wait_for_function("() => !window.backpropLab.page.busy")
    assert page.text_content("#step-counter") == "0"  # the step is not done yet
    assert page.is_enabled("#btn-backward") and page.is_disabled("#btn-forward")
    for j, s in enumerate(forward["layers"][0]["s"][0], start=1):
        assert_shows(page.text_content(f"#unit-1-{j} .s-label"), s, f"s_{j}(1)")
    assert page.text_content("#unit-1-1 .d-label") == ""  # no δ before the backward beat
    page.screenshot(path=ARTIFACTS / "beat-1-forward.png")

    with page.expect_response("**/backward") as answer:
        page.click("#btn-backward")
    backward = answer.value.json()
    page.wait_for_selector("body[data-beat=backward]")
    page.wait_for_function("() => !window.backpropLab.page.busy")
    for layer in backward["layers"]:
        for j, d in enumerate(layer["delta"][0], start=1):
            assert_shows(page.text_content(f"#unit-{layer['layer']}-{j} .d-label"), d, "δ")
    # the formula panel's θ'(s) is the engine's, from the forward beat's trace
    prime = forward["layers"][-1]["prime"][0][0]
    assert_shows(page.text_content("#formula [data-q=theta-prime]"), prime, "θ' after B")
    page.screenshot(path=ARTIFACTS / "beat-2-backward.png")

    with page.expect_response("**/update") as answer:
        page.click("#btn-update")
    update = answer.value.json()
    wait_step_done(page, 1)
    assert page.get_attribute("body", "data-beat") == "update"
    for i, row in enumerate(update["layers"][0]["update"]):
        for j, dw in enumerate(row, start=1):
            assert_shows(page.text_content(f"#dw-1-{i}-{j}"), dw, "Δw")
    page.screenshot(path=ARTIFACTS / "beat-3-update.png")


def test_a_step_plays_forward_backward_update_in_order(page):
    wait_ready(page, "?speed=4")
    page.evaluate(
        """() => {
            window.beats = [];
            new MutationObserver(() => window.beats.push(document.body.dataset.beat))
                .observe(document.body, {attributes: true, attributeFilter: ['data-beat']});
        }"""
    )
    page.keyboard.press("Space")
    page.wait_for_function("() => document.body.dataset.beat === 'backward'", polling=20)
    page.screenshot(path=ARTIFACTS / "beat-2-backward-animating.png")
    wait_step_done(page, 1)
    assert page.evaluate("window.beats") == ["forward", "backward", "update"]


def test_architecture_editor_redraws_units_and_lines(page):
    wait_ready(page, STILL)
    page.click("#arch [data-op=add]")  # 2-4-4-1
    wait_units(page, 11)
    assert sizes_drawn(page) == expected_sizes([2, 4, 4, 1])
    page.click('#arch [data-layer="1"] [data-op=more]')  # 2-4-5-1
    wait_units(page, 12)
    assert sizes_drawn(page) == expected_sizes([2, 4, 5, 1])
    page.fill('#arch [data-layer="0"] input', "7")
    page.press('#arch [data-layer="0"] input', "Enter")  # 2-7-5-1
    wait_units(page, 15)
    assert sizes_drawn(page) == expected_sizes([2, 7, 5, 1])
    page.click('#arch [data-layer="0"] [data-op=remove]')  # 2-5-1
    wait_units(page, 8)
    assert sizes_drawn(page) == expected_sizes([2, 5, 1])
    assert "layers=2-5-1" in page.evaluate("location.search")
    # the new network steps like any other
    with page.expect_response("**/step") as answer:
        page.keyboard.press("Space")
    assert len(answer.value.json()["layers"]) == 2
    wait_step_done(page, 1)


def test_pause_right_after_fast_play_asked_for_a_step_shows_that_step(page):
    """Fast Play asks for the next step as soon as an answer comes, before it shows
    that answer. Pause pressed in that moment (here: dispatched in the same task that
    asked, so it lands there every time) must still show the step asked for, as the
    server has taken it: the page settles it after Play stops."""
    wait_ready(page, "?speed=0&rate=60&layers=2-4-1")
    sid = page.evaluate("backpropLab.page.session.id")
    page.evaluate(
        """() => {
            const fetch0 = window.fetch;
            window.armed = false;
            window.fetch = (...args) => {
                const answer = fetch0(...args);
                if (window.armed && new Error().stack.includes("askAhead")) {
                    window.armed = false;
                    answer.then((r) => r.clone().json()).then((j) => (window.askedStep = j.step));
                    const pause = new KeyboardEvent("keydown", { key: "p" });
                    queueMicrotask(() => document.dispatchEvent(pause));
                }
                return answer;
            };
        }"""
    )
    page.keyboard.press("p")
    page.wait_for_function("() => Number(document.querySelector('#step-counter').textContent) >= 5")
    page.evaluate("window.armed = true")
    page.wait_for_function("() => window.askedStep !== undefined")
    page.wait_for_function("() => !(backpropLab.page.playing || backpropLab.page.busy)")
    page.wait_for_timeout(100)  # anything still under way would land meanwhile
    asked = page.evaluate("window.askedStep")
    assert page.request.get(f"/api/sessions/{sid}").json()["state"]["step"] == asked
    assert page.text_content("#step-counter") == str(asked)
    assert page.evaluate("backpropLab.page.session.state.step") == asked


def test_fast_play_shows_the_last_step_and_its_charts_once_paused(page):
    """Fast Play (60 steps/s, animation off) draws the latest step at most 30 times a
    second, redraws each chart now and then, and asks for the next step while the page
    takes in the last. Paused, everything shows the server's last step: the counter,
    the units, the step's bars and the last point of the gradient and error charts."""
    wait_ready(page, "?speed=0&rate=60&layers=2-4-1")
    sid = page.evaluate("backpropLab.page.session.id")
    for n in range(1, 6):  # Pause lands at another moment of the pipeline each time
        page.keyboard.press("p")
        page.wait_for_function(
            "(n) => Number(document.querySelector('#step-counter').textContent) >= n",
            arg=12 * n + n % 3,
        )
        page.keyboard.press("p")
        page.wait_for_function("() => !(backpropLab.page.playing || backpropLab.page.busy)")
        page.wait_for_timeout(100)  # a step asked for and not shown would land meanwhile
        trace = page.request.get(f"/api/sessions/{sid}/trace").json()
        step = trace["step"]
        assert page.text_content("#step-counter") == str(step)
        assert page.request.get(f"/api/sessions/{sid}").json()["state"]["step"] == step
    output = trace["layers"][-1]
    page.wait_for_function(
        "(x) => Number(document.querySelector('#unit-2-1').dataset.x) === x", arg=output["x"][0][0]
    )
    page.wait_for_function(
        """(s) => document.querySelector('#chart-step').dataset.step === String(s)
            && document.querySelector('#chart-grad').data[0].x.at(-1) === s
            && document.querySelector('#chart-error').data[0].x.at(-1) === s""",
        arg=step,
    )
    bars = page.evaluate("document.querySelector('#chart-step').data[0].y")
    assert bars == [layer["grad_norm"] for layer in trace["layers"]]
    norms = page.evaluate("document.querySelector('#chart-grad').data.map((d) => d.y.at(-1))")
    assert norms == [layer["grad_norm"] for layer in trace["layers"]]
