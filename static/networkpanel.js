// The markup of the panels every page that draws the network shows, written once
// into the page's <main class="stage"> (index.html, follow.html): the network panel —
// the beat caption, the batch-example picker, the animation speed, the drawing (a
// canvas for dense weights, and one for a dense network's units, under the SVG of units and sparse lines) and its legend —
// and beside it the exercise, formula and training-data panels. The stage's
// data-network names the drawing; its data-hint says what a click on the data does.

const PANEL = `
  <div class="network-head">
    <div class="caption" id="beat-caption"></div>
    <div class="batch-picker" id="batch-picker" hidden>
      <button type="button" id="example-prev" class="quiet" aria-label="previous example of the batch">◀</button>
      <span id="example-label">example 1 of 1</span>
      <button type="button" id="example-next" class="quiet" aria-label="next example of the batch">▶</button>
    </div>
    <label class="inline" for="speed">animation
      <input type="range" id="speed" min="0" max="5" step="1" value="3">
      <output id="speed-out" for="speed">1×</output>
    </label>
  </div>
  <div class="network-wrap">
    <canvas id="network-edges" aria-hidden="true"></canvas>
    <canvas id="network-units" aria-hidden="true" hidden></canvas>
    <svg id="network" role="img" aria-label="The network: units in columns, one line per weight"></svg>
  </div>
  <div class="legend" id="legend" aria-hidden="true">
    <span class="legend-item"><span class="swatch-scale" id="legend-scale"></span><span class="legend-range"><span id="legend-lo">−1</span><span>x</span><span id="legend-hi">+1</span></span></span>
    <span class="legend-item"><span class="swatch-line neg"></span>w &lt; 0</span>
    <span class="legend-item"><span class="swatch-line pos"></span>w &gt; 0 &nbsp;(width ~ |w|)</span>
    <span class="legend-item"><span class="swatch-ring"></span>δ: ring, thicker = larger |δ|</span>
    <span class="legend-item"><span class="swatch-bias"></span>bias x₀ = 1</span>
    <span class="legend-item" id="legend-matrix" hidden><span class="swatch-matrix"></span>dense layer: W(l) as a grid, row i beside unit i, column j for unit j; click a cell for w<sub>ij</sub></span>
  </div>`;

/** Write the panels at the front of the stage; call before any module looks them up. */
export function mountPanels(stage = document.querySelector("main.stage")) {
  stage.insertAdjacentHTML(
    "afterbegin",
    `<section class="panel network-panel" id="network-panel" aria-label="${stage.dataset.network}">${PANEL}</section>` +
      `<aside class="side" id="side">${SIDE(stage.dataset.hint ?? "")}</aside>`,
  );
}

const SIDE = (hint) => `
  <section class="panel exercise-panel" id="exercise" aria-label="Exercise" hidden></section>
  <section class="panel formula-panel" id="formula" aria-live="polite">
    <h2 class="formula-title">The lecture's formulas</h2>
    <div class="formula-body"></div>
  </section>
  <section class="panel data-panel" aria-label="Training data">
    <h2>Training data <span class="hint" id="data-hint">${hint}</span></h2>
    <div class="data-tools" id="data-tools"></div>
    <svg id="data-view" role="img" aria-label="Training points on the input plane"></svg>
  </section>`;
