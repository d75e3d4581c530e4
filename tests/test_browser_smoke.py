"""The page and /docs in real headless Chromium: no errors, nothing fetched from elsewhere.

The `page` fixture fails a test on any console error (CSP violations and 404s are
console errors), uncaught page error, or request to a host other than the live server.
"""

import pytest

pytestmark = pytest.mark.browser


def test_page_loads_with_plotly_and_reaches_the_api(page):
    page.goto("/")
    assert page.title() == "Backprop Lab"
    page.wait_for_selector('#health[data-state="ok"]')
    assert page.evaluate("typeof window.Plotly") == "object"


def test_plotly_draws_under_the_content_security_policy(page):
    """plotly.js adds its own stylesheet and styles; the CSP must let it draw."""
    page.goto("/")
    page.evaluate(
        """() => {
            const div = document.createElement("div");
            div.id = "plot";
            document.body.append(div);
            return Plotly.newPlot(div, [{x: [1, 2, 3], y: [2, 1, 3], type: "scatter"}],
                                  {title: {text: "check"}});
        }"""
    )
    page.wait_for_selector("#plot .main-svg")
    # The modebar is placed by plotly's own injected stylesheet (position: absolute);
    # if the CSP blocked that stylesheet it would fall back to static.
    position = page.evaluate("getComputedStyle(document.querySelector('#plot .modebar')).position")
    assert position == "absolute"


def test_docs_page_renders_the_api_offline(page):
    page.goto("/docs")
    page.wait_for_selector("text=/healthz")
    assert "Backprop Lab" in page.inner_text(".info")
