"""The compare page (/compare) in headless Chromium: two runs stepped together.

Both runs use the same data and the same seed, so they must use the same example at
every step; the charts must hold the API's own ‖G(l)‖; and sigmoid against ReLU must
show the vanishing gradient side by side.
"""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def open_compare(page, query: str = "") -> None:
    page.goto("/compare" + query)
    page.wait_for_selector("body[data-ready=true][data-busy=false]")


def step_both(page) -> dict:
    """Press Space; return the two /step answers by session id."""
    answers: dict = {}

    def on_response(response):
        if response.request.method == "POST" and response.url.endswith("/step"):
            answers[response.url.split("/")[-2]] = response

    before = page.evaluate("backpropCompare.runs.map((r) => r.step)")
    page.on("response", on_response)
    page.keyboard.press("Space")
    page.wait_for_function(
        "(before) => !backpropCompare.busy"
        " && backpropCompare.runs.every((r, k) => r.last && r.step === before[k] + 1)",
        arg=before,
    )
    page.remove_listener("response", on_response)
    assert len(answers) == 2
    return {sid: response.json() for sid, response in answers.items()}


def run_ids(page) -> list[str]:
    return page.evaluate("backpropCompare.runs.map((r) => r.id)")


def test_compare_steps_both_runs_on_the_same_example(page):
    open_compare(page)
    assert page.title() == "Backprop Lab · side by side"
    assert page.input_value("#pair") == "sigmoid-relu"
    assert page.inner_text("#run-a .run-name") == "sigmoid"
    assert page.inner_text("#run-b .run-name") == "ReLU"
    configs = page.evaluate("backpropCompare.runs.map((r) => r.config)")
    assert [c["activation"] for c in configs] == ["sigmoid", "relu"]
    assert configs[0]["dataset"] == configs[1]["dataset"]
    assert configs[0]["seed"] == configs[1]["seed"]

    answers = step_both(page)
    a, b = (answers[sid] for sid in run_ids(page))
    assert a["step"] == b["step"] == 1
    assert a["indices"] == b["indices"]
    assert page.inner_text("#same-example") == f"same example #{a['indices'][0]}"
    assert page.inner_text("#run-a .run-step") == page.inner_text("#run-b .run-step") == "1"
    assert page.inner_text("#run-a .run-example") == f"#{a['indices'][0]}"

    # the charts hold the API's numbers, bit for bit
    norms_a = [layer["grad_norm"] for layer in a["layers"]]
    norms_b = [layer["grad_norm"] for layer in b["layers"]]
    bars = page.evaluate("document.querySelector('#chart-bars').data.map((t) => t.y)")
    assert bars == [norms_a, norms_b]
    lines = page.evaluate("document.querySelector('#chart-lines').data.map((t) => t.y.at(-1))")
    assert lines == [v if v > 0 else None for v in norms_a + norms_b]
    errors = page.evaluate(
        "document.querySelector('#chart-error').data.filter((t) => t.mode === 'markers')"
        ".map((t) => t.y.at(-1))"
    )
    assert errors == [a["error"], b["error"]]

    # the vanishing gradient: sigmoid's layer 1 is ≥ 100× smaller than its last layer
    assert bars[0][0] * 100 <= bars[0][-1]
    assert not bars[1][0] * 100 <= bars[1][-1]

    answers = step_both(page)
    a2, b2 = (answers[sid] for sid in run_ids(page))
    assert a2["step"] == b2["step"] == 2
    assert a2["indices"] == b2["indices"]


def test_compare_choice_is_in_the_url(page):
    open_compare(page, "?pair=init")
    assert page.input_value("#pair") == "init"
    inits = page.evaluate("backpropCompare.runs.map((r) => r.config.init)")
    assert [i["scheme"] for i in inits] == ["normal", "xavier"]
    assert [i["scale"] for i in inits] == [0.1, 1.0]

    page.select_option("#pair", "eta")
    page.wait_for_function(
        "() => backpropCompare.pair === 'eta' && document.body.dataset.ready === 'true'"
        " && !backpropCompare.busy"
    )
    assert page.evaluate("location.search") == "?pair=eta"
    etas = page.evaluate("backpropCompare.runs.map((r) => r.config.learning_rate)")
    assert etas == [0.01, 0.5]
    answers = step_both(page)
    a, b = (answers[sid] for sid in run_ids(page))
    assert a["indices"] == b["indices"]


def test_compare_fast_forward_moves_both_runs(page):
    open_compare(page, "?pair=eta")
    page.fill("#ff-steps", "600")
    page.click("#btn-ff")
    page.wait_for_function(
        "() => !backpropCompare.ffRunning && backpropCompare.runs.every((r) => r.step === 600)",
        timeout=60_000,
    )
    assert page.inner_text("#run-a .run-step") == page.inner_text("#run-b .run-step") == "600"
    assert page.inner_text("#same-example") == "both at step 600, same examples"
    points = page.evaluate("document.querySelector('#chart-lines').data.map((t) => t.x.length)")
    assert all(n >= 100 for n in points)
    assert page.is_hidden("#message")


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_compare_fits_the_screen(page, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    open_compare(page)
    for _ in range(3):
        step_both(page)
    page.fill("#ff-steps", "200")
    page.click("#btn-ff")
    page.wait_for_function("() => !backpropCompare.ffRunning && !backpropCompare.busy")
    step_both(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"compare_{width}x{height}.png")


def test_compare_fast_forward_can_be_stopped(page):
    open_compare(page, "?pair=init")
    page.fill("#ff-steps", "100000")
    page.click("#btn-ff")
    page.wait_for_function("() => backpropCompare.runs.every((r) => r.step > 0)")
    assert page.is_visible("#ff-progress")
    page.click("#btn-stop")
    page.wait_for_function("() => !backpropCompare.ffRunning && !backpropCompare.busy")
    steps = page.evaluate("backpropCompare.runs.map((r) => r.step)")
    assert steps[0] == steps[1] < 100000
    assert page.is_hidden("#btn-stop")
    assert page.is_enabled("#btn-step")


@pytest.mark.expect_http(404, r"^/api/sessions/[^/]+/(step|forward)$")
def test_compare_api_errors_are_sentences(page):
    open_compare(page)
    # run B's session goes away (as an expired one would): its step is refused
    page.evaluate("fetch(`/api/sessions/${backpropCompare.runs[1].id}`, {method: 'DELETE'})")
    page.keyboard.press("Space")
    page.wait_for_selector("#message:not([hidden])")
    text = page.inner_text("#message")
    assert text.startswith("Run B (ReLU): ")
    assert text.rstrip().endswith(".")
    assert "{" not in text and "status" not in text


def test_compare_play_steps_both_until_paused(page):
    open_compare(page, "?pair=eta")
    page.keyboard.press("p")
    page.wait_for_function("() => backpropCompare.runs.every((r) => r.step >= 3)")
    page.keyboard.press("p")
    page.wait_for_function("() => !backpropCompare.playing && !backpropCompare.busy")
    a, b = page.evaluate("backpropCompare.runs.map((r) => [r.step, r.last.indices])")
    assert a == b
    assert page.get_attribute("#btn-play", "aria-pressed") == "false"
    assert page.inner_text("#same-example") == f"same example #{a[1][0]}"
