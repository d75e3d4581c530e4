"""Follow mode in headless Chromium: the teacher's page and a student's follow page.

The teacher's page is the main page with the Share button of static/share.js mounted
the way the main page would (an ES module import and one call); the student's page
is opened from the link in the share dialog.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def teacher_key(page, key: str, pending: str) -> None:
    """Press a key on the teacher's page and wait until its step is in that phase."""
    page.keyboard.press(key)
    page.wait_for_function(
        "(p) => { const lab = window.backpropLab.page;"
        " return lab.session.state.pending === p && !lab.busy; }",
        arg=pending,
    )


def output_x(page) -> str:
    """x_1(L) as the drawing holds it (the API's number, set on the unit's element)."""
    return page.eval_on_selector(
        "#network .unit:not(.bias):last-of-type", "(g) => g.dataset.x ?? ''"
    )


def open_follower(teacher, problems: list[str]):
    """Share from the teacher's page; open the link in a second page."""
    teacher.click("#btn-share")  # the main page mounts share.js itself
    teacher.wait_for_selector("#share-qr[src^='data:image/svg+xml']")
    link = teacher.input_value("#share-link")
    assert "/follow?token=" in link
    session_id = teacher.evaluate("window.backpropLab.page.session.id")
    assert session_id not in link
    follower = teacher.context.new_page()
    follower.on("console", lambda m: m.type == "error" and problems.append(m.text))
    follower.on("pageerror", lambda e: problems.append(str(e)))
    follower.goto(link + "&speed=0")  # no animation: the test waits for nothing
    follower.wait_for_selector('body[data-link="live"]')
    follower.wait_for_selector("#network .unit")
    teacher.wait_for_function("() => document.querySelector('#share-followers').textContent")
    return follower, session_id


def test_the_followers_network_follows_the_teachers_steps(page):
    problems: list[str] = []
    page.goto("/?speed=0&layers=2-3-1&seed=2")
    page.wait_for_selector('body[data-ready="true"]')
    follower, session_id = open_follower(page, problems)
    page.click("#share-close")
    assert follower.text_content("#step-counter") == "0"
    assert output_x(follower) == ""  # no step yet: no numbers on the units

    page.keyboard.press("Space")  # one SGD step on the teacher's page
    page.wait_for_function("() => document.querySelector('#step-counter').textContent === '1'")
    follower.wait_for_function("() => document.querySelector('#step-counter').textContent === '1'")
    follower.wait_for_function("() => document.body.dataset.beat === 'update'")
    assert output_x(follower) == output_x(page) != ""
    assert follower.text_content("#metric-train-error") == page.text_content("#metric-train-error")

    teacher_key(page, "f", "forward")  # the forward beat alone
    follower.wait_for_function("() => document.body.dataset.beat === 'forward'")
    follower.wait_for_function(
        "(x) => document.querySelector('#network .unit:not(.bias):last-of-type').dataset.x === x",
        arg=output_x(page),
    )
    # a follower reads the formulas of any unit it clicks
    follower.click("#unit-1-2 .body")
    follower.wait_for_selector("#formula .result[data-q='s']")
    assert follower.inner_text("#formula .formula-title").startswith("Hidden unit")
    assert session_id not in follower.content()
    assert not problems, problems


def test_exercise_mode_asks_the_follower_and_scores_the_answer(page):
    problems: list[str] = []
    page.goto("/?speed=0&layers=2-3-1&seed=5")
    page.wait_for_selector('body[data-ready="true"]')
    follower, _ = open_follower(page, problems)
    page.select_option("#share-exercise", "delta-output")
    follower.wait_for_selector("#exercise:not([hidden])")
    page.click("#share-close")

    teacher_key(page, "f", "forward")
    follower.wait_for_selector("#ex-value-0")
    assert follower.evaluate("document.body.dataset.asking") == "true"
    assert follower.evaluate("document.body.dataset.beat") == "forward"
    # δ is not on show while the question is open
    assert follower.eval_on_selector("#unit-2-1", "(g) => g.dataset.delta ?? ''") == ""
    token = follower.evaluate("new URLSearchParams(location.search).get('token')")
    answer = follower.evaluate(
        """async (token) => (await fetch(`/api/follow/${token}/exercise/check`, {
            method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({kind: "delta", layer: 2, unit: 1, value: 0})})).json()""",
        token,
    )
    follower.fill("#ex-value-0", f"{answer['expected']:.5f}".replace("-", "−"))
    follower.click("#ex-check")
    follower.wait_for_selector(".ex-result.right")
    assert follower.text_content("#ex-score") == "score 1 of 1"
    assert "δ₁(2) = 2 (x₁(2) − y)" in follower.text_content(".ex-formula")

    teacher_key(page, "b", "backward")  # the backward beat shows δ on the follower's page
    follower.wait_for_function("() => document.querySelector('#unit-2-1').dataset.delta")
    got = float(follower.eval_on_selector("#unit-2-1", "(g) => g.dataset.delta"))
    assert got == answer["expected"]
    teacher_key(page, "w", "none")
    teacher_key(page, "f", "forward")
    follower.wait_for_selector("#ex-value-0")
    follower.fill("#ex-value-0", "12")
    follower.click("#ex-check")
    follower.wait_for_selector(".ex-result.wrong")
    assert follower.text_content("#ex-score") == "score 1 of 2"
    assert not problems, problems


def test_followers_move_with_the_teacher_to_a_new_setup(page):
    problems: list[str] = []
    page.goto("/?speed=0&layers=2-3-1")
    page.wait_for_selector('body[data-ready="true"]')
    follower, first_id = open_follower(page, problems)
    page.click("#share-close")
    assert follower.locator("#network .unit:not(.bias)").count() == 2 + 3 + 1
    page.wait_for_selector("#preset option[value='vanishing-sigmoid']", state="attached")
    page.select_option("#preset", "vanishing-sigmoid")  # a new setup: a new session
    page.wait_for_function("(id) => window.backpropLab.page.session.id !== id", arg=first_id)
    layers = page.evaluate("window.backpropLab.page.session.config.layers")
    follower.wait_for_function(
        "(n) => document.querySelectorAll('#network .unit:not(.bias)').length === n",
        arg=sum(layers),
    )
    assert follower.evaluate("document.body.dataset.link") == "live"
    page.keyboard.press("Space")
    follower.wait_for_function("() => document.querySelector('#step-counter').textContent === '1'")
    assert not problems, problems


# Everything the network drawing and the header show, as text and as the exact numbers
# the units hold: two pages that played the same trace must agree on all of it.
SHOWN = """() => ({
    beat: document.body.dataset.beat,
    caption: document.querySelector('#beat-caption').innerHTML,
    step: document.querySelector('#step-counter').textContent,
    metrics: [...document.querySelectorAll('.metrics dd')].map((d) => d.textContent),
    units: [...document.querySelectorAll('#network .unit')].map((g) => [
        g.id, g.dataset.x, g.dataset.s, g.dataset.delta,
        ...[...g.querySelectorAll('text')].map((t) => t.textContent)]),
    dw: [...document.querySelectorAll('#network .edge-label')].map((t) => [t.id, t.textContent]),
    lines: [...document.querySelectorAll('#network line.edge')].map(
        (e) => [e.id, e.getAttribute('stroke'), e.getAttribute('stroke-width')]),
    notes: [...document.querySelectorAll('#network .note')].map((t) => t.textContent),
    formula: document.querySelector('#formula .formula-body').innerHTML,
})"""


def test_the_follow_page_and_the_main_page_show_the_same_numbers(page):
    """Both pages play a trace through the same step player: beat by beat and for a
    whole step of a batch, the drawing, the header and the formulas agree exactly."""
    problems: list[str] = []
    page.goto("/?speed=0&layers=2-3-2-1&seed=4&batch_size=2")
    page.wait_for_selector('body[data-ready="true"]')
    follower, _ = open_follower(page, problems)
    page.click("#share-close")

    def same_after(key: str, pending: str, beat: str) -> None:
        teacher_key(page, key, pending)
        step = page.text_content("#step-counter")
        follower.wait_for_function(
            "([beat, step]) => document.body.dataset.beat === beat"
            " && document.querySelector('#step-counter').textContent === step"
            " && document.body.dataset.waiting === '0'",
            arg=[beat, step],
        )
        teacher, student = page.evaluate(SHOWN), follower.evaluate(SHOWN)
        assert any(u[1] for u in teacher["units"]), "no numbers drawn"
        # a Δw label goes where it finds room, and the pages' drawings differ in size:
        # the labels both pages placed must agree
        dw = [dict((k, t) for k, t in shown.pop("dw") if t) for shown in (teacher, student)]
        assert all(dw[1][k] == t for k, t in dw[0].items() if k in dw[1])
        assert beat != "update" or set(dw[0]) & set(dw[1])
        for name in teacher:
            assert student[name] == teacher[name], f"{name} differs after {beat}"

    same_after(" ", "none", "update")  # a whole step: three beats at once
    same_after("f", "forward", "forward")  # then one beat at a time
    same_after("b", "backward", "backward")
    same_after("w", "none", "update")
    assert not problems, problems
