// What the output layer sees (GET …/representation): every point's x(l) for a hidden
// layer l, in its own plane when d(l) ≤ 2 or by PCA otherwise, and for l = L−1 the
// output unit's boundary there, a straight line: the hidden layers are a learned
// transform that makes the classes linearly separable. It shares the input-plane
// view's refresh (at most once a second, never mid-beat) by extending it.

import { api } from "./api.js";
import { BoundaryChart } from "./boundary.js";
import { classColor, valueColor } from "./colors.js";
import { subscript } from "./format.js";
import { PLOT_CONFIG } from "./plotcard.js";

export class RepresentationChart extends BoundaryChart {
  constructor(div, note, layerSelect, options) {
    super(div, options);
    this.note = note;
    this.layerSelect = layerSelect;
    this.layer = null; // null: L−1
    layerSelect.addEventListener("change", () => {
      this.layer = Number(layerSelect.value);
      this.refresh(true);
    });
  }

  /** A new session: the layers 0 … L−1 to choose from (default L−1). */
  setLayers(layers) {
    const L = layers.length - 1;
    this.layer = L - 1;
    const names = (l) => (l === 0 ? "x(0): the inputs" : `x(${l}): hidden layer ${l}`);
    this.layerSelect.innerHTML = Array.from({ length: L }, (_, l) => `<option value="${l}">${names(l)}</option>`).join("");
    this.layerSelect.value = String(this.layer);
  }

  async load(id) {
    return { kind: "representation", rep: await api.representation(id, this.layer) };
  }

  /** Where training point n is drawn: its 2-D view. */
  at(n) {
    const v = this.view?.rep.train.view[n];
    return v ? [v[0], v[1] ?? 0] : null;
  }

  rings(indices, color, size, name) {
    const shown = indices.map((n) => this.at(n)).filter(Boolean).slice(0, 64);
    return {
      type: "scatter",
      mode: "markers",
      x: shown.map((p) => p[0]),
      y: shown.map((p) => p[1]),
      marker: { symbol: "circle-open", size, color, line: { width: this.present ? 3.5 : 2.5 } },
      hoverinfo: "skip",
      name,
    };
  }

  scatter(points, name, test) {
    const classes = this.data.classes;
    const colour = (y) => (classes === 0 ? valueColor(y) : classColor(y, classes));
    const size = this.present ? 9 : 7;
    return {
      type: "scatter",
      mode: "markers",
      x: points.view.map((p) => p[0]),
      y: points.view.map((p) => p[1] ?? 0),
      customdata: points.view.map((_, n) => n),
      marker: test
        ? { size, symbol: "circle-open", color: points.label.map(colour), line: { width: 2 } }
        : { size, color: points.label.map(colour), line: { color: "#fff", width: 1 } },
      hovertemplate: test ? "test point<extra></extra>" : "example #%{customdata}: click to use it in the next step<extra></extra>",
      name,
    };
  }

  /** The line w0 + w1 x + w2 y = 0 across the drawn range (plotly clips what is outside). */
  line(boundary, views) {
    const [w0, w1, w2] = boundary;
    const xs = views.map((p) => p[0]);
    const ys = views.map((p) => p[1]);
    const pad = (lo, hi) => [lo - (hi - lo || 1), hi + (hi - lo || 1)];
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
    const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
    const vertical = Math.abs(w2) < Math.abs(w1);
    const x = vertical ? [-(w0 + w2 * y0) / w1, -(w0 + w2 * y1) / w1] : [x0, x1];
    const y = vertical ? [y0, y1] : [-(w0 + w1 * x0) / w2, -(w0 + w1 * x1) / w2];
    return { type: "scatter", mode: "lines", x, y, line: { color: "#111", width: this.present ? 3 : 2 }, hoverinfo: "skip", name: "output boundary" };
  }

  draw() {
    const rep = this.view?.rep;
    if (!this.data || !rep) return;
    const traces = [this.scatter(rep.train, "training points", false)];
    if (this.options.showTest && rep.test.view.length) traces.push(this.scatter(rep.test, "test points", true));
    if (rep.boundary) traces.push(this.line(rep.boundary, rep.train.view));
    const ring = this.present ? 22 : 17;
    traces.push(this.rings(this.current, "#111", ring, "this step's examples"));
    traces.push(this.rings(this.pinned === null ? [] : [this.pinned], "#7c3aed", ring + 7, "next step's example"));
    const pca = rep.method === "pca";
    const sub = (text) => text.replace(/_(\d+)/, (_, d) => subscript(d));
    const axis = (k) => (pca ? `PC ${k + 1}` : sub(rep.names[k] ?? ""));
    const xs = rep.train.view.map((p) => p[0]);
    const ys = rep.train.view.map((p) => p[1] ?? 0);
    const range = (v) => {
      const lo = Math.min(...v);
      const hi = Math.max(...v);
      const pad = 0.08 * (hi - lo || 1);
      return [lo - pad, hi + pad];
    };
    const layout = this.baseLayout({
      margin: { l: this.present ? 56 : 44, r: 8, t: 8, b: this.present ? 48 : 38 },
      showlegend: false,
      xaxis: { title: { text: axis(0), standoff: 2 }, range: range(xs), zeroline: false, gridcolor: "#e5e5e5" },
      yaxis: { title: { text: rep.units > 1 ? axis(1) : "", standoff: 2 }, range: range(ys), zeroline: false, gridcolor: "#e5e5e5" },
      hovermode: "closest",
      font: { size: this.font(), family: "system-ui, sans-serif", color: "#111" },
    });
    window.Plotly.react(this.div, traces, layout, PLOT_CONFIG);
    this.div.dataset.method = rep.method;
    this.div.dataset.layer = String(rep.layer);
    this.note.textContent = this.caption(rep);
    this.bindClicks();
  }

  caption(rep) {
    const l = rep.layer;
    const what = l === 0 ? "the inputs x(0)" : `hidden layer ${l}`;
    if (rep.method === "pca")
      return `${what} has ${rep.units} units: shown by PCA, keeping ${(100 * rep.variance_kept).toFixed(1)} % of the variance.`;
    if (rep.boundary) return `The output unit sees ${what}: its boundary w₀ + w₁x₁ + w₂x₂ = 0 is a straight line here.`;
    return `${what}: its ${rep.units} unit${rep.units > 1 ? "s'" : "'s"} values.`;
  }
}
