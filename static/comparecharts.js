// The compare page's three charts (plotly): ‖G(l)‖ per layer over the steps for both
// runs, this step's ‖G(l)‖ as grouped bars, and the error. They read the page's runs
// and use the shared chart layout and ticks (plotcard.js).

import { layerColor, paintLayerRamp } from "./colors.js";
import { $ } from "./dom.js";
import { emptyNote, logAxis, niceStep, PLOT_CONFIG, plotLayout } from "./plotcard.js";

const LOSS_WORDS = { squared: "squared error", cross_entropy: "cross-entropy" };
const RUN_COLOR = { a: "#0072B2", b: "#D55E00" }; // Okabe & Ito: blue and vermilion

export class CompareCharts {
  constructor(page) {
    this.page = page;
    this.revision = 0; // the series grow in place: plotly redraws data only when this changes
    // A chart takes the height its card is given, which changes when the run cards
    // above it fill in (plotly itself follows the window only).
    const resized = new ResizeObserver((entries) => {
      for (const { target } of entries) if (target.data) window.Plotly.Plots.resize(target);
    });
    for (const id of ["#chart-lines", "#chart-bars", "#chart-error"]) resized.observe($(id));
  }

  fontSize() {
    return window.innerWidth >= 1700 ? 18 : 15;
  }

  lastStep() {
    return Math.max(1, ...this.page.runs.map((r) => r.step));
  }

  baseLayout(yTitle, yType) {
    return plotLayout(this.fontSize(), { l: 70, b: 50 }, {
      showlegend: false,
      xaxis: { title: { text: "step", standoff: 6 }, zeroline: false, gridcolor: "#e3e3e3", rangemode: "tozero", automargin: true, tickmode: "linear", tick0: 0, dtick: niceStep(this.lastStep() / 6) },
      yaxis: {
        automargin: true,
        type: yType,
        title: { text: yTitle, standoff: 6 },
        gridcolor: "#e3e3e3",
        exponentformat: "power",
        ...(yType === "log" ? { dtick: 1 } : { rangemode: "tozero" }),
      },
      uirevision: this.page.pair,
      // the series grow in place: plotly redraws data only when this changes
      datarevision: (this.revision += 1),
    });
  }

  /** Whole decades on a log axis: at least two labels, at most about seven. */
  decades(layout, series) {
    Object.assign(layout.yaxis, logAxis(series, 7));
  }

  drawLines() {
    const traces = [];
    for (const run of this.page.runs) {
      const depth = run.norms.length;
      run.norms.forEach((ys, l) => {
        traces.push({
          x: run.steps,
          y: ys.map((v) => (v > 0 ? v : null)), // a log scale has no 0: leave a gap
          name: `${run.key.toUpperCase()} layer ${l + 1}`,
          type: "scatter",
          mode: run.steps.length > 40 ? "lines" : "lines+markers",
          line: { color: layerColor(l + 1, depth), width: 3, dash: run.key === "a" ? "solid" : "dash" },
          marker: { size: 6, symbol: run.key === "a" ? "circle" : "circle-open" },
          hovertemplate: `${run.key.toUpperCase()} · ${run.name} · layer ${l + 1}, step %{x}: %{y:.3g}<extra></extra>`,
        });
      });
    }
    const layout = this.baseLayout("‖∂e/∂W(l)‖", "log");
    this.decades(layout, traces.map((t) => t.y));
    if (!this.page.runs.some((r) => r.steps.length)) layout.annotations = [emptyNote("Press Step (Space)", this.fontSize())];
    window.Plotly.react($("#chart-lines"), traces, layout, PLOT_CONFIG);
  }

  drawBars() {
    const traces = this.page.runs.map((run) => ({
      type: "bar",
      name: `${run.key.toUpperCase()} · ${run.name}`,
      x: run.norms.map((_, l) => l + 1),
      y: run.last ? run.last.layers.map((l) => l.grad_norm) : run.norms.map(() => null),
      marker: { color: RUN_COLOR[run.key] },
      hovertemplate: `${run.key.toUpperCase()} · ${run.name} · layer %{x}: %{y:.3g}<extra></extra>`,
    }));
    const layout = this.baseLayout("‖∂e/∂W(l)‖ this step", "log");
    this.decades(layout, traces.map((t) => t.y));
    layout.barmode = "group";
    layout.bargap = 0.25;
    layout.xaxis = { ...layout.xaxis, title: { text: "layer l", standoff: 6 }, tickmode: "linear", dtick: 1, rangemode: "normal" };
    // log scale has no 0: a gradient that is exactly 0 (a dead ReLU path) is written in
    layout.annotations = [];
    this.page.runs.forEach((run, k) =>
      traces[k].y.forEach((v, l) => {
        if (v === 0)
          layout.annotations.push({ x: l + 1, xshift: k ? 12 : -12, y: 0, yref: "paper", yanchor: "bottom", text: "<b>0</b>", showarrow: false, font: { size: this.fontSize() + 2, color: RUN_COLOR[run.key] } });
      }),
    );
    if (!this.page.runs.some((r) => r.last))
      layout.annotations = [emptyNote(this.page.runs.some((r) => r.steps.length) ? "Step once to see this step's bars" : "Press Step (Space)", this.fontSize())];
    window.Plotly.react($("#chart-bars"), traces, layout, PLOT_CONFIG);
  }

  drawError() {
    const traces = [];
    for (const run of this.page.runs) {
      const color = RUN_COLOR[run.key];
      const label = `${run.key.toUpperCase()} · ${run.name}`;
      traces.push({
        x: run.errSteps,
        y: run.err,
        name: `${label}: e on the example`,
        type: "scatter",
        mode: "markers",
        marker: { color, size: 6, opacity: 0.45, symbol: run.key === "a" ? "circle" : "diamond" },
        hovertemplate: `${label} · step %{x}: e = %{y:.3g}<extra></extra>`,
      });
      traces.push({
        x: run.trainSteps,
        y: run.train,
        name: `${label}: training error`,
        type: "scatter",
        mode: run.trainSteps.length > 40 ? "lines" : "lines+markers",
        line: { color, width: 4, dash: run.key === "a" ? "solid" : "dash" },
        marker: { size: 7 },
        hovertemplate: `${label} · step %{x}: training error %{y:.3g}<extra></extra>`,
      });
    }
    const layout = this.baseLayout("error", "linear");
    // two losses are two scales: B gets an axis of its own, and the chart says why
    const [a, b] = this.page.runs;
    if (a && b && a.config.loss !== b.config.loss) {
      const loss = (run) => LOSS_WORDS[run.config.loss] ?? run.config.loss;
      traces.filter((_, n) => n >= 2).forEach((t) => (t.yaxis = "y2"));
      layout.yaxis.title.text = `A: ${loss(a)}`;
      layout.yaxis2 = { ...layout.yaxis, title: { text: `B: ${loss(b)}`, standoff: 6 }, overlaying: "y", side: "right", showgrid: false };
      layout.margin = { ...layout.margin, r: 70 };
      layout.annotations = [{ x: 0, y: 1.02, xref: "paper", yref: "paper", yanchor: "bottom", xanchor: "left", showarrow: false, text: "Different losses: the two errors are on different scales (left A, right B)", font: { size: this.fontSize() - 1, color: "#8a5a00" } }];
    }
    window.Plotly.react($("#chart-error"), traces, layout, PLOT_CONFIG);
  }

  drawAll() {
    if (!window.Plotly) return;
    this.drawLines();
    this.drawBars();
    this.drawError();
  }

  paintRamp() {
    paintLayerRamp($("#layer-ramp"), $("#layer-last"), this.page.depth);
  }
}
