"""Issue #14, a classroom-ready page, in headless Chromium: followers who join late,
every screen width, one number formatter, keys, /compare, no lost run, own data."""

import pytest

from tests.test_follow_browser import open_follower, output_x, teacher_key
from tests.test_page_support import wait_ready, wait_step_done

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("beat", ["forward", "update"])
def test_a_follower_joining_mid_run_sees_the_step_on_show_at_once(page, beat):
    wait_ready(page, "?speed=0&layers=2-3-1&seed=2")
    page.keyboard.press("Space")
    wait_step_done(page, 1)
    page.keyboard.press("Space")
    wait_step_done(page, 2)
    if beat == "forward":
        teacher_key(page, "f", "forward")
    problems: list[str] = []
    follower, _ = open_follower(page, problems)
    # no new step from the teacher: the follower shows what the teacher shows now
    follower.wait_for_function("(b) => document.body.dataset.beat === b", arg=beat)
    assert output_x(follower) == output_x(page) != ""
    assert follower.text_content("#step-counter") == page.text_content("#step-counter")
    assert "press Space" not in follower.inner_text("#beat-caption")
    assert follower.inner_text("#formula") == page.inner_text("#formula")
    # and a reload does the same
    follower.reload()
    follower.wait_for_selector('body[data-link="live"]')
    follower.wait_for_function("(b) => document.body.dataset.beat === b", arg=beat)
    assert output_x(follower) == output_x(page) != ""
    assert not problems, problems


# ------------------------------------------------------------------------ screens
WIDTHS = [(800, 600), (1024, 768), (1280, 720), (1920, 1080)]

# Every visible element that pokes out of the window sideways, unless a box that
# scrolls or clips it lies inside the window (a chart's own scrolling area).
OFF_SCREEN = """() => {
  const W = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.js-plotly-tester, [hidden], dialog:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || (r.right <= W + 1 && r.left >= -1)) continue;
    if (r.right < 0) continue;  // plotly's off-screen measuring box
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX === 'visible') continue;
      const q = p.getBoundingClientRect();
      if (q.right <= W + 1 && q.left >= -1) { clipped = true; break; }
    }
    const where = `${Math.round(r.left)}…${Math.round(r.right)}`;
    if (!clipped) out.push(`${el.tagName.toLowerCase()}#${el.id} ${where}`);
  }
  return {scroll: document.documentElement.scrollWidth, width: W, off: out.slice(0, 10)};
}"""


def assert_fits(page, width: int, what: str) -> None:
    fit = page.evaluate(OFF_SCREEN)
    assert fit["scroll"] <= width, f"{what} at {width}: scrolls sideways ({fit})"
    assert not fit["off"], f"{what} at {width}: off-screen: {fit['off']}"
    title = page.locator("h1").bounding_box()
    assert title and title["width"] > 50 and title["x"] >= 0, f"{what} at {width}: no title"


@pytest.mark.parametrize("size", WIDTHS, ids=[str(w) for w, _ in WIDTHS])
def test_every_page_fits_the_screen_at_each_width(page, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    wait_ready(page, "?speed=0")
    assert_fits(page, width, "/")
    for selector in ("#btn-share", "#btn-present", "#btn-step", "#preset"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] + box["width"] <= width and box["y"] >= 0, selector
    # the lecture's presets are reachable without scrolling
    preset = page.locator("#preset").bounding_box()
    assert preset["y"] + preset["height"] <= height, f"the preset picker is at {preset}"
    assert page.evaluate("scrollY") == 0

    session_id = page.evaluate("backpropLab.page.session.id")
    link = page.request.post(f"/api/sessions/{session_id}/share").json()["url"]
    page.goto(link)
    page.wait_for_selector('body[data-link="live"]')
    page.wait_for_selector("#network .unit")
    assert_fits(page, width, "/follow")

    page.goto("/compare")
    page.wait_for_selector("body[data-ready=true]")
    assert_fits(page, width, "/compare")
