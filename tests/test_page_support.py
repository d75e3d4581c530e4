"""Helpers for the page tests (tests/test_page_*.py); this module holds no tests.

The page writes numbers as static/format.js does: three decimals, a real minus sign,
and m.m×10ⁿ for magnitudes under 0.01. ``shown`` reads such a text back and
``assert_shows`` checks it against the API's float64 within the text's rounding.
"""

import math
import re

SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
NUMBER = re.compile(r"[−-]?(?:\d+(?:\.\d+)?(?:×10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?|∞)")


def shown(text: str) -> tuple[float, float]:
    """The last number in a text like "s = −0.364" and half a unit of its last digit."""
    matches = NUMBER.findall(text)
    assert matches, f"no number in {text!r}"
    token = matches[-1].replace("−", "-")
    if "×10" in token:
        mantissa, power = token.split("×10")
        exponent = int(power.translate(SUPERSCRIPT))
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return float(mantissa) * 10.0**exponent, 0.5 * 10.0 ** (exponent - decimals)
    decimals = len(token.split(".")[1]) if "." in token else 0
    return float(token), 0.5 * 10.0**-decimals


def assert_shows(text: str, value: float, what: str = "") -> None:
    number, half_unit = shown(text)
    assert math.isfinite(value)
    assert abs(number - value) <= half_unit * (1 + 1e-9) + 1e-12, (
        f"{what}: the page shows {text!r}, the API says {value!r}"
    )


def wait_ready(page, query: str = "") -> None:
    """Open the page and wait until its session exists and the network is drawn."""
    page.goto("/" + query)
    page.wait_for_selector("body[data-ready=true]")


def wait_grid(page, query: str = "") -> dict:
    """Open the page, wait until the input-plane view draws its grid; the grid's JSON."""
    with page.expect_response("**/grid?*") as answer:
        wait_ready(page, query)
    page.wait_for_function(
        "() => document.querySelector('#chart-boundary').dataset.kind === 'grid'"
    )
    return answer.value.json()


def wait_step_done(page, step: int) -> None:
    """Wait until the counter shows ``step`` and no beat is animating."""
    page.wait_for_function(
        """(step) => document.querySelector('#step-counter').textContent === String(step)
             && document.body.dataset.animating === 'false'
             && !window.backpropLab.page.busy""",
        arg=step,
    )


def wait_units(page, count: int) -> None:
    """Wait until the drawing has ``count`` units (bias units not counted)."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('#network .unit:not(.bias)').length === n", arg=count
    )


def wait_idle(page) -> None:
    """Wait until the page is neither playing nor waiting for the server."""
    page.wait_for_function("() => !(backpropLab.page.playing || backpropLab.page.busy)")


def sizes_drawn(page) -> dict:
    """Units, bias units and lines in the drawing."""
    return page.evaluate(
        """() => ({
            units: document.querySelectorAll('#network .unit:not(.bias)').length,
            bias: document.querySelectorAll('#network .unit.bias').length,
            edges: document.querySelectorAll('#network line.edge').length,
        })"""
    )


def expected_sizes(layers: list[int]) -> dict:
    return {
        "units": sum(layers),
        "bias": len(layers) - 1,
        "edges": sum((a + 1) * b for a, b in zip(layers[:-1], layers[1:], strict=True)),
    }
