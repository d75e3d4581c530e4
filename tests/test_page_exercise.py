"""Exercise mode on the main page, for a student alone, in headless Chromium.

After the forward beat the page hides δ and asks for it (after the backward beat: the
new weight of a line); the answer is checked by the API against the step in progress,
the page reveals the number, shows the worked formula and keeps the score. The numbers
the tests type come from a twin session made over HTTP with the page's config and the
page's example — the same step, computed apart from the page.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.conftest import ARTIFACTS
from tests.test_page_support import wait_ready

pytestmark = pytest.mark.browser

STILL = "?speed=0&layers=2-3-1&seed=3"  # no animation: each beat is drawn at once


def call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else {}


def twin(page, live_server: str, phases: tuple[str, ...]) -> list[dict]:
    """The page's step in progress, done again in a new session: the API's answers."""
    lab = page.evaluate(
        "() => { const p = backpropLab.page; return {config: p.session.config,"
        " step: p.session.state.step, indices: p.frame.indices}; }"
    )
    assert lab["step"] == 0, "a twin made from the config repeats the first step only"
    sid = call(live_server, "POST", "/api/sessions", lab["config"])["id"]
    answers = []
    for phase in phases:
        body = {"indices": lab["indices"]} if phase == "forward" else {}
        answers.append(call(live_server, "POST", f"/api/sessions/{sid}/{phase}", body))
    call(live_server, "DELETE", f"/api/sessions/{sid}")
    return answers


def lab(page, expression: str):
    return page.evaluate(f"() => backpropLab.page.{expression}")


def wait_asked(page, beat: str) -> None:
    """Wait until the page has stopped after `beat` and asks."""
    page.wait_for_selector("#ex-value-0")
    page.wait_for_function(
        "(beat) => document.body.dataset.beat === beat && backpropLab.page.asking"
        " && !backpropLab.page.busy",
        arg=beat,
    )


def wait_practised(page, step: int) -> None:
    """Wait until exercise mode has finished stepping and the step is done."""
    page.wait_for_function(
        "(step) => !backpropLab.page.practising && !backpropLab.page.busy"
        " && backpropLab.page.session.state.step === step"
        " && backpropLab.page.session.state.pending === 'none'",
        arg=step,
    )


def typed(value: float) -> str:
    """A number as a student types it: five decimals, a real minus sign."""
    return f"{value:.5f}".replace("-", "−")


def test_stepping_pauses_after_the_forward_beat_with_delta_hidden(page, live_server):
    wait_ready(page, STILL)
    page.keyboard.press("e")  # E turns exercise mode on: δ at the output by default
    page.wait_for_selector("#exercise:not([hidden])")
    assert page.input_value("#exercise-mode") == "delta-output"
    assert "ex=delta-output" in page.evaluate("location.search")

    page.keyboard.press("Space")
    wait_asked(page, "forward")
    assert lab(page, "session.state.pending") == "forward"
    assert page.text_content("#step-counter") == "0"
    forward, backward = twin(page, live_server, ("forward", "backward"))
    delta = backward["layers"][-1]["delta"][0][0]
    # x is on show, δ is not: not on the unit, not in the formula panel
    assert float(page.get_attribute("#unit-2-1", "data-x")) == forward["layers"][-1]["x"][0][0]
    assert page.get_attribute("#unit-2-1", "data-delta") is None
    assert page.text_content("#unit-2-1 .d-label") == "δ = ?"
    assert "asked" in page.get_attribute("#unit-2-1", "class")
    assert page.locator("#formula .result[data-q='delta']").count() == 0
    shown = f"{abs(delta):.3f}"
    assert shown not in page.text_content("#network")
    assert shown not in page.text_content("#formula")
    assert "Your turn" in page.text_content("#formula")

    page.fill("#ex-value-0", typed(delta))
    page.press("#ex-value-0", "Enter")  # Enter checks, as the button does
    page.wait_for_selector(".ex-result.right")
    assert page.text_content("#ex-score") == "score 1 of 1"
    assert "δ₁(2) = 2 (x₁(2) − y)" in page.text_content(".ex-formula")
    # the answer reveals δ (the backward beat) and the step goes on to its end
    wait_practised(page, 1)
    assert float(page.get_attribute("#unit-2-1", "data-delta")) == delta
    assert "asked" not in page.get_attribute("#unit-2-1", "class")
    assert page.get_attribute("body", "data-beat") == "update"
    # the score is kept for the tab
    assert json.loads(page.evaluate("sessionStorage.getItem('backprop-lab-score:alone')")) == {
        "right": 1,
        "asked": 1,
    }


def test_a_wrong_value_scores_wrong_and_shows_the_worked_formula(page):
    # a lab link can start in exercise mode: here δ of every unit of hidden layer 1
    wait_ready(page, STILL + "&ex=delta-layer-1")
    page.wait_for_selector("#exercise:not([hidden])")
    assert page.input_value("#exercise-mode") == "delta-layer"
    assert page.input_value("#exercise-mode-layer") == "1"

    page.click("#btn-step")
    wait_asked(page, "forward")
    assert page.locator("#exercise input").count() == 3  # one per unit of layer 1
    for j in (1, 2, 3):
        assert page.get_attribute(f"#unit-1-{j}", "data-delta") is None
        assert "asked" in page.get_attribute(f"#unit-1-{j}", "class")
    for n in range(3):
        page.fill(f"#ex-value-{n}", "12")
    page.click("#ex-check")
    page.wait_for_selector(".ex-result.wrong")
    assert page.locator(".ex-result.wrong").count() == 3
    assert page.text_content("#ex-score") == "score 0 of 3"
    formulas = page.locator(".ex-formula").all_text_contents()
    assert formulas[0].startswith("δ₁(1) = θ′(s₁(1)) Σₘ w₁ₘ(2) δₘ(2) =")
    wait_practised(page, 1)
    # what the panel gives as the answer is what the backward beat drew
    results = page.locator(".ex-result.wrong p:first-child").all_text_contents()
    for j, text in enumerate(results, start=1):
        assert f"δ{'₁₂₃'[j - 1]}(1) =" in text and "you typed 12" in text
        drawn = float(page.get_attribute(f"#unit-1-{j}", "data-delta"))
        assert f"{drawn:.4g}".replace("-", "−") in text


def test_a_weight_question_comes_after_the_backward_beat(page, live_server):
    wait_ready(page, STILL)
    page.select_option("#exercise-mode", "weight")
    page.wait_for_selector("#exercise:not([hidden])")
    # one beat at a time: the forward beat asks nothing in this mode …
    page.keyboard.press("f")
    page.wait_for_function("() => backpropLab.page.session.state.pending === 'forward'")
    page.wait_for_function("() => !backpropLab.page.practising")
    assert page.locator("#ex-value-0").count() == 0
    # … the backward beat does, and the update waits for the answer
    page.keyboard.press("b")
    wait_asked(page, "backward")
    assert lab(page, "session.state.pending") == "backward"
    assert "asked" in page.get_attribute("#link-2-1-1", "class")
    assert page.is_disabled("#btn-update") and page.is_disabled("#btn-step")
    *_, update = twin(page, live_server, ("forward", "backward", "update"))
    after = update["layers"][-1]["weights"][1][0]  # w_11(2) after the update
    before = lab(page, "weights")[-1][1][0]
    assert before != after
    assert f"{abs(after):.3f}" not in page.text_content("#formula")

    page.fill("#ex-value-0", typed(after))
    page.click("#ex-check")
    page.wait_for_selector(".ex-result.right")
    assert page.text_content("#ex-score") == "score 1 of 1"
    assert "w₁₁(2) ← w₁₁(2) − η ∂e/∂w₁₁(2)" in page.text_content(".ex-formula")
    wait_practised(page, 1)  # the answer reveals: the update beat
    assert lab(page, "weights")[-1][1][0] == after
    assert page.locator("#formula .result[data-q='w-after']").count() == 1


def test_shortcuts_are_ignored_while_typing_the_answer(page):
    wait_ready(page, STILL + "&ex=delta-output")
    page.keyboard.press("Space")
    wait_asked(page, "forward")
    assert page.evaluate("document.activeElement.id") == "ex-value-0"  # focus is on the answer
    page.keyboard.type("1 pfbwume")  # Space, P, F, B, W, U, M and E are shortcuts elsewhere
    assert page.input_value("#ex-value-0") == "1 pfbwume"
    assert lab(page, "session.state.pending") == "forward"
    assert lab(page, "playing") is False
    assert lab(page, "view.present") is False
    assert lab(page, "exercise.kind") == "delta"
    assert page.text_content("#step-counter") == "0"
    page.fill("#ex-value-0", "1.5e-2")
    page.keyboard.press("Enter")
    page.wait_for_selector(".ex-result")
    wait_practised(page, 1)


def test_play_is_off_in_exercise_mode_and_turning_it_off_restores_normal_stepping(page):
    wait_ready(page, STILL + "&ex=delta-output")
    page.wait_for_selector("#exercise:not([hidden])")
    assert page.is_disabled("#btn-play") and page.is_disabled("#btn-ff")
    page.keyboard.press("p")
    page.wait_for_selector("#message[data-kind='info']:not([hidden])")
    assert "exercise mode" in page.text_content("#message-text")
    assert lab(page, "playing") is False

    page.keyboard.press("Space")
    wait_asked(page, "forward")
    page.click("#network", position={"x": 5, "y": 5})  # the keyboard back to the page
    page.keyboard.press("e")  # off: the question ends, the step waits where it is
    page.wait_for_selector("#exercise", state="hidden")
    assert lab(page, "exercise") is None
    page.wait_for_function("() => !backpropLab.page.asking && !backpropLab.page.practising")
    assert "ex=" not in page.evaluate("location.search")
    assert page.locator("#network .asked").count() == 0
    assert not page.is_disabled("#btn-play")
    assert lab(page, "session.state.pending") == "forward"

    page.keyboard.press("Space")  # finishes the step in progress, as without exercises
    wait_practised(page, 1)
    with page.expect_response("**/step"):  # and a whole step is one request again
        page.keyboard.press("Space")
    wait_practised(page, 2)
    assert page.get_attribute("#unit-2-1", "data-delta") is not None


def test_the_share_dialog_offers_the_same_choices(page, live_server):
    wait_ready(page, STILL)
    main = page.eval_on_selector_all("#exercise-mode option", "(os) => os.map((o) => o.value)")
    page.click("#btn-share")
    page.wait_for_selector("#share-qr[src^='data:image/svg+xml']")
    shared = page.eval_on_selector_all("#share-exercise option", "(os) => os.map((o) => o.value)")
    assert shared == main == ["", "delta-output", "delta-layer", "delta-unit", "weight"]
    page.select_option("#share-exercise", "delta-unit")
    page.select_option("#share-exercise-layer", "1")
    page.select_option("#share-exercise-unit", "2")
    sid = lab(page, "session.id")
    page.wait_for_function(
        "(sid) => fetch(`/api/sessions/${sid}/share`).then((r) => r.json())"
        ".then((s) => s.exercise && s.exercise.unit === 2)",
        arg=sid,
    )
    share = call(live_server, "GET", f"/api/sessions/{sid}/share")
    assert share["exercise"] == {"kind": "delta", "layer": 1, "unit": 2, "i": None, "j": None}
    page.screenshot(path=ARTIFACTS / "share-dialog-exercise.png")
