"""The page in headless Chromium: setup in the URL, keyboard, Play, fast-forward, errors."""

import json

import pytest

from tests.test_page_support import (
    expected_sizes,
    sizes_drawn,
    wait_idle,
    wait_ready,
    wait_step_done,
    wait_units,
)

pytestmark = pytest.mark.browser

SETUP = (
    "?layers=2-3-2-1&act=sigmoid&out=sigmoid&loss=cross_entropy&init=normal&scale=0.7"
    "&eta=0.3&batch=1&seed=5&data=circle&n=120&noise=0.2&dseed=3&test=0.25&speed=0"
)


def first_step(page) -> dict:
    with page.expect_response("**/step") as answer:
        page.keyboard.press("Space")
    wait_step_done(page, 1)
    return answer.value.json()


def test_the_url_reproduces_a_setup(page, browser, live_server):
    with page.expect_request("**/api/sessions") as created:
        wait_ready(page, SETUP)
    config = json.loads(created.value.post_data)
    assert config["layers"] == [2, 3, 2, 1]
    assert config["activation"] == "sigmoid" and config["output"] == "sigmoid"
    assert config["loss"] == "cross_entropy" and config["seed"] == 5
    assert config["init"] == {"scheme": "normal", "scale": 0.7}
    assert config["learning_rate"] == 0.3
    assert config["dataset"] == {
        "name": "circle",
        "n": 120,
        "noise": 0.2,
        "seed": 3,
        "test_ratio": 0.25,
        "classes": None,
    }
    # the controls show the setup
    assert page.input_value("#eta") == "0.3"
    assert page.input_value("#data") == "circle"
    assert page.input_value("#output") == "sigmoid/cross_entropy"
    assert sizes_drawn(page) == expected_sizes([2, 3, 2, 1])
    # an old link (eta=, dseed=) is rewritten with the API's field names
    search = page.evaluate("location.search")
    assert "learning_rate=0.3" in search and "dataset.seed=3" in search and "eta=" not in search
    trace = first_step(page)

    # the same link in another browser gives the same first step, number for number
    other = browser.new_context(base_url=live_server).new_page()
    try:
        wait_ready(other, SETUP)
        again = first_step(other)
    finally:
        other.context.close()
    assert again["indices"] == trace["indices"]
    assert again["layers"] == trace["layers"]


def test_changing_a_control_rewrites_the_url(page):
    wait_ready(page, "?speed=0")
    page.fill("#eta", "0.25")
    page.press("#eta", "Enter")
    page.wait_for_function("() => location.search.includes('learning_rate=0.25')")
    page.select_option("#activation", "relu")
    page.wait_for_function("() => location.search.includes('activation=relu')")
    page.wait_for_function("() => window.backpropLab.page.session.config.activation === 'relu'")
    page.select_option("#data", "sine")  # 1-D regression: d(0) becomes 1
    page.wait_for_function("() => location.search.includes('layers=1-4-1')")
    wait_units(page, 6)
    assert sizes_drawn(page) == expected_sizes([1, 4, 1])
    page.click("#btn-present")
    page.wait_for_function("() => location.search.includes('present=1')")
    assert page.evaluate("document.body.classList.contains('present')")


def test_keyboard_shortcuts(page):
    wait_ready(page, "?speed=0&rate=20")
    page.keyboard.press("Space")
    wait_step_done(page, 1)
    page.keyboard.press("u")
    wait_step_done(page, 0)
    # one beat at a time: f, b, w
    page.keyboard.press("f")
    page.wait_for_function("() => window.backpropLab.page.session.state.pending === 'forward'")
    page.keyboard.press("b")
    page.wait_for_function("() => window.backpropLab.page.session.state.pending === 'backward'")
    page.keyboard.press("w")
    wait_step_done(page, 1)
    # p plays until p again
    page.keyboard.press("p")
    page.wait_for_function("() => Number(document.querySelector('#step-counter').textContent) >= 4")
    page.keyboard.press("p")
    wait_idle(page)
    stopped = page.text_content("#step-counter")
    page.wait_for_timeout(300)
    assert page.text_content("#step-counter") == stopped
    # m: projector mode; the shortcuts are listed on the page
    page.keyboard.press("m")
    assert page.evaluate("document.body.classList.contains('present')")
    listed = page.text_content(".shortcuts")
    for key in ("Space", "P", "U", "F", "B", "W", "M", "Esc"):
        assert key in listed
    # a shortcut typed into a field is just typing
    page.click("#eta")
    page.keyboard.press("u")
    assert page.text_content("#step-counter") == stopped


def test_clicking_a_training_point_makes_the_next_step_use_it(page):
    wait_ready(page, "?speed=0")
    page.click("#data-view .point[data-index='7']", force=True)  # the nearest point is taken
    with page.expect_request("**/step") as sent:
        page.keyboard.press("Space")
    assert json.loads(sent.value.post_data) == {"indices": [7]}
    wait_step_done(page, 1)
    assert "#7" in page.text_content("#note-example")
    # used once: the step after that takes the next example in order
    with page.expect_request("**/step") as sent:
        page.keyboard.press("Space")
    assert json.loads(sent.value.post_data) == {}
    wait_step_done(page, 2)


def test_fast_forward_shows_progress_and_can_stop(page):
    wait_ready(page, "?speed=0")
    page.fill("#ff-steps", "200000")
    page.click("#btn-ff")
    page.wait_for_selector("#ff-progress", state="visible")
    page.wait_for_function("() => Number(document.querySelector('#step-counter').textContent) > 0")
    page.click("#btn-stop")
    page.wait_for_function("() => !window.backpropLab.page.fastForwarding")
    stopped = int(page.text_content("#step-counter"))
    assert 0 < stopped < 200000
    assert page.is_hidden("#ff-progress")
    # the chart holds the run's history
    assert page.evaluate("window.backpropLab.chart.steps.length") > 0
    page.wait_for_timeout(300)
    assert int(page.text_content("#step-counter")) == stopped


def test_divergence_is_a_plain_sentence(page):
    wait_ready(page, "?speed=0&act=identity&out=identity&eta=50&layers=2-4-1")
    for _ in range(12):
        page.keyboard.press("Space")
        page.wait_for_function("() => !window.backpropLab.page.busy")
        if page.is_visible("#message"):
            break
    text = page.text_content("#message-text")
    assert "refused" in text and "η" in text


@pytest.mark.expect_http(404, r"^/api/sessions/[^/]+/step$")
def test_an_expired_session_is_recreated_from_the_url(page):
    wait_ready(page, "?speed=0&layers=2-3-1&seed=4")
    page.keyboard.press("Space")
    wait_step_done(page, 1)
    old = page.evaluate("window.backpropLab.page.session.id")
    page.request.delete(f"/api/sessions/{old}")  # what expiry does
    with page.expect_request("**/api/sessions") as created:
        page.keyboard.press("Space")
    assert json.loads(created.value.post_data)["layers"] == [2, 3, 1]
    page.wait_for_selector("#message[data-kind=info]")
    assert "expired" in page.text_content("#message-text")
    assert page.evaluate("window.backpropLab.page.session.id") != old
    assert page.text_content("#step-counter") == "0"


@pytest.mark.expect_http(422, r"^/api/sessions$")
def test_a_refused_setup_is_explained(page):
    wait_ready(page, "?speed=0")
    page.fill('#arch [data-layer="0"] input', "64")
    page.press('#arch [data-layer="0"] input', "Enter")
    page.wait_for_function("() => location.search.includes('layers=2-64-1')")
    page.fill("#n", "100000")  # above the server's limit on samples
    page.press("#n", "Enter")
    page.wait_for_selector("#message[data-kind=error]")
    assert "100000" in page.text_content("#message-text")
    # the page keeps the last setup that worked, and so does the URL
    assert "n=200" in page.evaluate("location.search")
    assert page.input_value("#n") == "200"


def test_a_preset_loads_the_lecture_setup(page):
    wait_ready(page, "?speed=0")
    presets = page.evaluate("window.backpropLab.page.presets")
    assert presets, "GET /api/presets gave nothing"
    chosen = presets[-1]
    with page.expect_request("**/api/sessions") as created:
        page.select_option("#preset", chosen["name"])
    assert json.loads(created.value.post_data)["layers"] == chosen["config"]["layers"]
    page.wait_for_function(
        "(n) => document.querySelectorAll('#network .unit:not(.bias)').length === n",
        arg=sum(chosen["config"]["layers"]),
    )
    assert chosen["description"] in page.text_content("#preset-description")
