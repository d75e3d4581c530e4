// Train and test error over the steps (and accuracy for classification), from the
// `state` of every step, every fast-forward chunk and the session itself. New points
// are appended with Plotly.extendTraces; a reset or an undo redraws the small series.
// With a penalty (λ > 0) a third line shows what the update descends: the training
// error plus Ω, the state's `train_total_error`.

import { LiveChart, PLOT_CONFIG, emptyNote, niceStep } from "./plotcard.js";

const MAX_POINTS = 2000;

export class ErrorChart extends LiveChart {
  constructor(div) {
    super(div);
    this.penalised = false;
    this.clear(false);
  }

  /** Show E + Ω too (a session with λ > 0); redraws everything. */
  setPenalised(on) {
    if (on === this.penalised) return;
    this.penalised = on;
    this.full = true;
    this.schedule(true);
  }

  clear(classify = this.classify) {
    this.classify = classify;
    this.series = { step: [], train: [], test: [], acc: [], total: [] };
    this.queue = [];
    this.full = true; // the next draw is a Plotly.react of everything
    this.schedule(true);
  }

  /** One point from a session's or a step's `state`. */
  add(state) {
    if (!state || state.train_error === null || state.train_error === undefined) return;
    const last = this.series.step.at(-1);
    if (last !== undefined && state.step <= last) {
      if (state.step === last) return;
      this.truncate(state.step - 1);
    }
    const total = state.penalty > 0 ? state.train_total_error : null;
    const point = { step: state.step, train: state.train_error, test: state.test_error ?? null, acc: state.train_accuracy ?? null, total };
    for (const k of Object.keys(this.series)) this.series[k].push(point[k]);
    if (this.series.step.length > MAX_POINTS) {
      const keep = (a) => a.filter((_, n) => n % 2 === 1 || n === a.length - 1);
      for (const k of Object.keys(this.series)) this.series[k] = keep(this.series[k]);
      this.full = true;
    } else {
      this.queue.push(point);
    }
    this.schedule();
  }

  /** Drop points after `step` (undo). */
  truncate(step) {
    let n = this.series.step.length;
    while (n > 0 && this.series.step[n - 1] > step) n -= 1;
    for (const k of Object.keys(this.series)) this.series[k].length = n;
    this.full = true;
    this.schedule(true);
  }

  dtick() {
    return niceStep((this.series.step.at(-1) ?? 1) / 6);
  }

  /** The series drawn, in the order of the chart's traces. */
  keys() {
    return ["train", "test", ...(this.classify ? ["acc"] : []), ...(this.penalised ? ["total"] : [])];
  }

  draw() {
    if (!this.full && this.queue.length && this.div.data) {
      const q = this.queue;
      this.queue = [];
      const keys = this.keys();
      const cols = keys.map((_, n) => n);
      const xs = cols.map(() => q.map((p) => p.step));
      const ys = keys.map((k) => q.map((p) => p[k]));
      // whole steps, some apart: a dtick of 1 over 10⁵ steps would be 10⁵ ticks, so
      // the axis changes first
      const dtick = this.dtick();
      if (dtick !== this.drawnDtick) {
        this.drawnDtick = dtick;
        window.Plotly.relayout(this.div, { "xaxis.dtick": dtick });
      }
      window.Plotly.extendTraces(this.div, { x: xs, y: ys }, cols);
      return;
    }
    this.full = false;
    this.queue = [];
    const font = this.font();
    const s = this.series;
    const line = (width) => ({ width: this.present ? width + 1 : width });
    const traces = [
      { x: [...s.step], y: [...s.train], name: "training error", mode: "lines+markers", marker: { size: 4 }, line: { ...line(2.5), color: "#0072B2" } },
      { x: [...s.step], y: [...s.test], name: "test error", mode: "lines+markers", marker: { size: 4 }, line: { ...line(2.5), color: "#D55E00", dash: "dash" } },
    ];
    if (this.classify)
      traces.push({ x: [...s.step], y: [...s.acc], name: "training accuracy", yaxis: "y2", mode: "lines", line: { ...line(2), color: "#009E73", dash: "dot" } });
    if (this.penalised)
      traces.push({ x: [...s.step], y: [...s.total], name: "training error + Ω", mode: "lines", line: { ...line(2), color: "#CC79A7", dash: "dashdot" } });
    const layout = this.baseLayout({
      margin: { l: this.present ? 84 : 62, r: this.classify ? (this.present ? 72 : 56) : 12, t: 8, b: this.present ? 54 : 44 },
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: font - 1 } },
      xaxis: {
        title: { text: "step", standoff: 4 },
        rangemode: "tozero",
        gridcolor: "#e5e5e5",
        zeroline: false,
        tickmode: "linear",
        tick0: 0,
        dtick: (this.drawnDtick = this.dtick()),
      },
      yaxis: { title: { text: "error E", standoff: 4 }, rangemode: "tozero", gridcolor: "#e5e5e5" },
      yaxis2: { overlaying: "y", side: "right", range: [0, 1.02], dtick: 0.25, title: { text: "accuracy", standoff: 4 }, showgrid: false, tickformat: ".0%", visible: this.classify },
      annotations: s.step.length ? [] : [emptyNote("No steps yet", font)],
    });
    window.Plotly.react(this.div, traces, layout, PLOT_CONFIG);
  }
}
