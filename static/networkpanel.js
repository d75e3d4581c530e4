// The markup of the panels every page that draws the network shows, written once
// (index.html and follow.html hold an empty <section id="network-panel"> and <aside
// id="side">): the beat caption, the batch-example picker, the animation speed, the
// drawing (a canvas for dense weights under the SVG of units and sparse lines) and
// its legend; beside it the exercise, formula and training-data panels.

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

/** Fill the page's network panel; call before any module looks up its elements. */
export function mountNetworkPanel(section = document.getElementById("network-panel")) {
  section.innerHTML = PANEL;
  return section;
}

const SIDE = (hint) => `
  <section class="panel exercise-panel" id="exercise" aria-label="Exercise" hidden></section>
  <section class="panel formula-panel" id="formula" aria-live="polite">
    <h2 class="formula-title">The lecture's formulas</h2>
    <div class="formula-body"></div>
  </section>
  <section class="panel data-panel" aria-label="Training data">
    <h2>Training data <span class="hint" id="data-hint">${hint}</span></h2>
    <svg id="data-view" role="img" aria-label="Training points on the input plane"></svg>
  </section>`;

/** Fill the side column; its data-hint says what a click on the data does there. */
export function mountSide(side = document.getElementById("side")) {
  side.innerHTML = SIDE(side.dataset.hint ?? "");
  return side;
}
