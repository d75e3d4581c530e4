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


# The colour the unit canvas shows at the middle of unit l-j, and the one its x gives.
UNIT_COLOUR = """async ([l, j]) => {
    const {divergingRgb, unitScale} = await import('/static/colors.js');
    const view = backpropLab.network;
    const canvas = document.querySelector('#network-units');
    const scale = canvas.width / canvas.clientWidth;
    const at = (v) => Math.round(v * scale);
    const [r, g, b] = canvas.getContext('2d')
        .getImageData(at(view.xs[l]), at(view.positions[l][j]), 1, 1).data;
    const x = Number(document.querySelector(`#unit-${l}-${j}`).dataset.x);
    const theta = l === view.depth ? view.info.output : view.info.activation;
    const t = unitScale(theta)(x);
    return {shown: [r, g, b], expected: divergingRgb(t)};
}"""


def test_the_widest_network_shows_the_apis_numbers_on_every_unit(page):
    """Its units are painted on a canvas (restyling a thousand SVG circles a step is
    too slow), yet every unit carries the step's s, x and δ and shows x's colour."""
    wait_ready(page, f"?speed=0&layers={WIDEST}")
    assert not page.locator("#network-units").is_hidden()
    with page.expect_response("**/step") as answer:
        page.keyboard.press("Space")
    trace = answer.value.json()
    wait_step_done(page, 1)
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('#network .unit:not(.bias)')]
            .filter((g) => g.dataset.l !== '0')
            .map((g) => [Number(g.dataset.l), Number(g.dataset.j),
                         Number(g.dataset.s), Number(g.dataset.x), Number(g.dataset.delta)])"""
    )
    assert len(drawn) == 64 * 16 + 1
    for l, j, s, x, delta in drawn:
        layer = trace["layers"][l - 1]
        assert (s, x, delta) == (
            layer["s"][0][j - 1],
            layer["x"][0][j - 1],
            layer["delta"][0][j - 1],
        ), f"unit {l}-{j}"
    # what the eye sees: the canvas under the transparent circles, in x's colour
    page.wait_for_function("() => !backpropLab.network.painted.redraw.id")  # drawn
    for l, j in [(1, 1), (8, 40), (16, 64), (17, 1)]:
        colour = page.evaluate(UNIT_COLOUR, [l, j])
        pairs = zip(colour["shown"], colour["expected"], strict=True)
        assert all(abs(a - b) <= 2 for a, b in pairs), (l, j, colour)
    # the SVG circle still takes the click, and outlines the unit chosen
    page.click("#unit-8-40")
    assert page.evaluate("document.querySelector('#unit-8-40').classList.contains('selected')")
    assert_shows(page.text_content("#formula [data-q=s]"), trace["layers"][7]["s"][0][39], "s")
