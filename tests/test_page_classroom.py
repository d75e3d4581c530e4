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
