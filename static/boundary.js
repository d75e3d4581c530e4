// What the network computes over its input: for 2-D data the output over the input
// plane (GET …/grid) as a heatmap with the training points and the decision boundary;
// for 1-D regression the fitted curve (POST …/predict over a linspace) with the points.
// Refreshed at most once a second and never mid-beat; clicking a training point picks
// it for the next step, as in the data view, and the same rings mark the examples of
// the step on show (black) and the one picked for the next step (purple).

import { api } from "./api.js";
import { classColor, diverging, unitScale, valueColor } from "./colors.js";
import { LiveChart, PLOT_CONFIG } from "./plotcard.js";

const RESOLUTION = 31;
const MIN_GAP_MS = 1000;
const SHARE_GRID = 20; // the hidden units' pictures of a grid take at most 1/20 of the time
const CURVE_POINTS = 200;

function divergingScale() {
  const stops = [];
  for (let k = 0; k <= 10; k += 1) stops.push([k / 10, diverging(-1 + (2 * k) / 10)]);
  return stops;
}

export class BoundaryChart extends LiveChart {
  constructor(div, { onPick = () => {}, onGrid = () => {} } = {}) {
    super(div);
    this.onPick = onPick;
    this.onGrid = onGrid; // the hidden units' view shares the grid
    this.session = null;
    this.data = null;
    this.info = null;
    this.view = null; // {kind: "grid", grid} | {kind: "curve", xs, ys}
    this.inFlight = false;
    this.gridCost = 0; // ms the hidden units took to draw the last grid
    this.due = false;
    this.lastFetch = 0;
    this.step = null;
    this.bound = false;
    this.current = []; // example indices of the step on show
    this.pinned = null; // the example picked for the next step
    this.options = { showTest: false, discretize: false }; // Playground's two toggles
  }

  /** Show the test points too; show the output as its class (sign) instead of its value. */
  setOptions(options) {
    this.options = { ...this.options, ...options };
    this.schedule(true);
  }

  /** Ring the examples of the step on show; ring the one picked for the next step. */
  mark(indices, pinned) {
    this.current = indices || [];
    this.pinned = pinned;
    this.schedule();
  }

  setSession(sessionId, data, info) {
    this.session = sessionId;
    this.data = data;
    this.info = info;
    this.view = null;
    this.refresh(true);
  }

  /** Forget the session (it is about to be deleted): no request may name it any more. */
  detach() {
    this.session = null;
    clearTimeout(this.fetchTimer);
  }

  /** Ask for fresh numbers (after a step, a fast-forward chunk, an undo or a reset). */
  refresh(now = false) {
    this.due = true;
    if (now) this.lastFetch = 0;
    this.fetchSoon();
  }

  hold(on) {
    super.hold(on);
    if (!on) this.fetchSoon();
  }

  fetchSoon() {
    if (!this.due || this.inFlight || this.held || !this.session) return;
    const gap = Math.max(MIN_GAP_MS, this.interval() + SHARE_GRID * this.gridCost);
    const wait = Math.max(0, gap - (performance.now() - this.lastFetch));
    clearTimeout(this.fetchTimer);
    this.fetchTimer = setTimeout(() => this.fetch(), wait);
  }

  async fetch() {
    if (!this.due || this.inFlight || this.held || !this.session) return;
    this.due = false;
    this.inFlight = true;
    this.lastFetch = performance.now();
    const id = this.session;
    try {
      const view = await this.load(id);
      if (id === this.session) {
        this.view = view;
        const started = performance.now();
        if (view.kind === "grid") this.onGrid(view.grid); // the hidden units' pictures
        this.gridCost = performance.now() - started;
        this.schedule(true);
      }
    } catch {
      // a grid over diverged weights or an expired session: the next refresh retries
    } finally {
      this.inFlight = false;
      this.fetchSoon();
    }
  }

  async load(id) {
    const dim = this.data.x_train[0]?.length ?? 2;
    if (dim >= 2) return { kind: "grid", grid: await api.grid(id, RESOLUTION) };
    const all = [...this.data.x_train, ...this.data.x_test].map((p) => p[0]);
    const lo = Math.min(...all);
    const hi = Math.max(...all);
    const pad = 0.05 * (hi - lo || 1);
    const xs = Array.from({ length: CURVE_POINTS }, (_, k) => lo - pad + ((hi - lo + 2 * pad) * k) / (CURVE_POINTS - 1));
    const answer = await api.predict(id, xs.map((x) => [x]));
    return { kind: "curve", xs, ys: answer.output.map((row) => row[0]) };
  }

  points() {
    const d = this.data;
    const dim = d.x_train[0]?.length ?? 2;
    const colour = (y) => (d.classes === 0 ? valueColor(y) : classColor(y, d.classes));
    const size = this.present ? 9 : 7;
    return {
      type: "scatter",
      mode: "markers",
      x: d.x_train.map((p) => p[0]),
      y: dim >= 2 ? d.x_train.map((p) => p[1]) : d.y_train,
      customdata: d.x_train.map((_, n) => n),
      // regression targets near 0 are near white: outline them in grey
      marker: { size, color: d.y_train.map(colour), line: { color: d.classes === 0 ? "#555" : "#fff", width: 1 } },
      hovertemplate: "example #%{customdata}: click to use it in the next step<extra></extra>",
      name: "training points",
    };
  }

  /** Open rings around training points (on top of them, not clickable). */
  rings(indices, color, size, name) {
    const d = this.data;
    const dim = d.x_train[0]?.length ?? 2;
    const shown = indices.filter((n) => n >= 0 && n < d.x_train.length).slice(0, 64);
    return {
      type: "scatter",
      mode: "markers",
      x: shown.map((n) => d.x_train[n][0]),
      y: shown.map((n) => (dim >= 2 ? d.x_train[n][1] : d.y_train[n])),
      marker: { symbol: "circle-open", size, color, line: { width: this.present ? 3.5 : 2.5 } },
      hoverinfo: "skip",
      name,
    };
  }

  draw() {
    if (!this.data) return;
    const traces = [];
    const font = this.font();
    const view = this.view;
    if (view?.kind === "grid") {
      const grid = view.grid;
      const out = grid.layers.at(-1).x; // [unit][row y][col x]
      if (this.info.output === "softmax") {
        const K = out.length;
        const z = out[0].map((row, r) => row.map((_, c) => out.reduce((best, u, k) => (u[r][c] > out[best][r][c] ? k : best), 0)));
        const scale = [];
        for (let k = 0; k < K; k += 1) {
          scale.push([k / K, classColor(k, K)], [(k + 1) / K, classColor(k, K)]);
        }
        traces.push({ type: "heatmap", x: grid.xs, y: grid.ys, z, zmin: -0.5, zmax: K - 0.5, colorscale: scale, opacity: 0.4, showscale: false, hoverinfo: "skip" });
      } else {
        const t = unitScale(this.info.output);
        const z = out[0].map((row) => row.map((v) => (this.options.discretize ? Math.sign(t(v)) : t(v))));
        traces.push({ type: "heatmap", x: grid.xs, y: grid.ys, z, zmin: -1, zmax: 1, zsmooth: this.options.discretize ? false : "best", colorscale: divergingScale(), opacity: 0.75, showscale: false, hoverinfo: "skip" });
        // the decision boundary: where the output crosses the middle of its range
        traces.push({ type: "contour", x: grid.xs, y: grid.ys, z, contours: { start: 0, end: 0, size: 1, coloring: "none" }, line: { color: "#111", width: this.present ? 3 : 2 }, showscale: false, hoverinfo: "skip" });
      }
    } else if (view?.kind === "curve") {
      traces.push({ type: "scatter", mode: "lines", x: view.xs, y: view.ys, line: { color: "#111", width: this.present ? 4 : 3 }, name: "network's fit", hoverinfo: "skip" });
    }
    traces.push(this.points());
    if (this.options.showTest) traces.push(this.testPoints());
    const ring = this.present ? 22 : 17;
    traces.push(this.rings(this.current, "#111", ring, "this step's examples"));
    traces.push(this.rings(this.pinned === null ? [] : [this.pinned], "#7c3aed", ring + 7, "next step's example"));
    const dim = this.data.x_train[0]?.length ?? 2;
    const layout = this.baseLayout({
      margin: { l: this.present ? 56 : 44, r: 8, t: 8, b: this.present ? 48 : 38 },
      showlegend: false,
      xaxis: { title: { text: dim >= 2 ? "x₁" : "x", standoff: 2 }, zeroline: false, gridcolor: "#e5e5e5" },
      yaxis: dim >= 2 ? { title: { text: "x₂", standoff: 2 }, zeroline: false, scaleanchor: "x", gridcolor: "#e5e5e5" } : { title: { text: "y", standoff: 2 }, zeroline: false, gridcolor: "#e5e5e5" },
      hovermode: "closest",
      font: { size: font, family: "system-ui, sans-serif", color: "#111" },
    });
    window.Plotly.react(this.div, traces, layout, PLOT_CONFIG);
    this.div.dataset.kind = view?.kind ?? "";
    this.bindClicks();
  }

  /** The test points: open circles in their class's colour (not clickable). */
  testPoints() {
    const d = this.data;
    const dim = d.x_train[0]?.length ?? 2;
    const colour = (y) => (d.classes === 0 ? valueColor(y) : classColor(y, d.classes));
    return {
      type: "scatter",
      mode: "markers",
      x: d.x_test.map((p) => p[0]),
      y: dim >= 2 ? d.x_test.map((p) => p[1]) : d.y_test,
      marker: { size: this.present ? 9 : 7, symbol: "circle-open", color: d.y_test.map(colour), line: { width: 2 } },
      hovertemplate: "test point<extra></extra>",
      name: "test points",
    };
  }

  bindClicks() {
    if (!this.bound) {
      this.bound = true;
      this.div.on("plotly_click", (event) => {
        const point = event.points.find((p) => p.data.name === "training points");
        if (point) this.onPick(point.customdata);
      });
    }
  }
}
