"""The largest network the API allows, 2-(64×16)-1, in headless Chromium: it steps,
its dense layers are drawn on a canvas (as weight grids), and a click on the drawing
still inspects any unit or weight with the API's numbers."""

import pytest

from tests.test_page_support import assert_shows, wait_ready, wait_step_done

pytestmark = pytest.mark.browser

WIDEST = "-".join(["2"] + ["64"] * 16 + ["1"])

# Where on the screen the drawing shows w_ij(l): the middle of its grid cell, or a
# point on its line when layer l is drawn as lines.
WEIGHT_AT = """([l, i, j]) => {
    const view = backpropLab.network;
    const edges = view.edges;
    let x, y;
    if (edges.tiled(l)) {
        const {x0, x1} = edges.tileBox(l);
        x = x0 + (j - 0.5) / view.sizes[l] * (x1 - x0);
        y = view.positions[l - 1][i];
    } else {
        x = view.xs[l - 1] + 0.4 * (view.xs[l] - view.xs[l - 1]);
        y = view.positions[l - 1][i] + 0.4 * (view.positions[l][j] - view.positions[l - 1][i]);
    }
    const m = view.svg.getScreenCTM();
    return [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f];
}"""


def test_the_widest_network_steps_and_any_weight_can_be_inspected(page):
    wait_ready(page, f"?speed=0&layers={WIDEST}")
    drawn = page.evaluate(
        "() => ({lines: document.querySelectorAll('#network line.edge').length,"
        " canvas: !document.querySelector('#network-edges').hidden,"
        " grid: !document.querySelector('#legend-matrix').hidden})"
    )
    assert drawn == {"lines": 0, "canvas": True, "grid": True}
    with page.expect_response("**/step") as answer:
        page.keyboard.press("Space")
    trace = answer.value.json()
    wait_step_done(page, 1)
    formula = "#formula"

    # a weight inside a dense layer: its gradient, update and new weight
    l, i, j = 9, 17, 40
    page.mouse.click(*page.evaluate(WEIGHT_AT, [l, i, j]))
    page.wait_for_function(
        "(s) => { const v = backpropLab.page.selection;"
        " return v.kind === 'edge' && v.l === s[0] && v.i === s[1] && v.j === s[2]; }",
        arg=[l, i, j],
    )
    layer = trace["layers"][l - 1]
    assert_shows(page.text_content(f"{formula} [data-q=grad]"), layer["grad"][i][j - 1], "∂e/∂w")
    assert_shows(page.text_content(f"{formula} [data-q=update]"), layer["update"][i][j - 1], "Δw")
    assert_shows(page.text_content(f"{formula} [data-q=w-after]"), layer["weights"][i][j - 1], "w")

    # the first layer is drawn as lines: a click on one finds it too
    page.mouse.click(*page.evaluate(WEIGHT_AT, [1, 2, 30]))
    page.wait_for_function("() => backpropLab.page.selection.l === 1")
    assert page.evaluate("backpropLab.page.selection.kind") == "edge"

    # a unit deep inside: its s and δ
    page.click("#unit-12-33")
    hidden = trace["layers"][11]
    assert_shows(page.text_content(f"{formula} [data-q=s]"), hidden["s"][0][32], "s_33(12)")
    assert_shows(page.text_content(f"{formula} [data-q=delta]"), hidden["delta"][0][32], "δ_33(12)")
