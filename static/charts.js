// Charts column (plotly.js, served by the app from the plotly package). The headline
// chart: ‖∂e/∂W(l)‖ per layer on a log scale, step by step — where a class sees the
// gradient of the first layers of a deep sigmoid network vanish.
// Points come from step traces as they happen and from GET …/history (after a
// fast-forward, an undo or a reload); drawing is throttled so Play stays fast.

import { layerColor, paintLayerRamp } from "./colors.js";
import { LiveChart, logAxis, niceStep, PLOT_CONFIG, emptyNote } from "./plotcard.js";

const MAX_POINTS = 4000;

export class GradientChart extends LiveChart {
  constructor(div) {
    super(div);
    this.depth = 0;
    this.steps = [];
    this.norms = []; // norms[l-1][n]
    this.deltas = []; // mean |δ(l)|: deltas[l-1][n]
    this.quantity = "grad"; // "grad": ‖G(l)‖, "delta": mean |δ(l)|
    this.smooth = false;
    this.drawn = false;
    this.revision = 0; // plotly redraws data only when this changes (arrays grow in place)
  }

  reset(depth) {
    this.depth = depth;
    // beyond 8 layers plotly's legend would take the chart: a colour ramp instead
    const legend = document.querySelector("#grad-legend");
    if (legend) {
      legend.hidden = depth <= 8;
      paintLayerRamp(legend.querySelector(".key-ramp"), legend.querySelector(".ramp-last"), depth);
    }
    this.steps = [];
    this.norms = Array.from({ length: depth }, () => []);
    this.deltas = Array.from({ length: depth }, () => []);
    this.schedule(true);
  }

  /** Replace the points with a history: {step: [n], grad_norm: [n][L]}. */
  setHistory(history) {
    this.steps = [...history.step];
    this.norms = Array.from({ length: this.depth }, (_, l) => history.grad_norm.map((row) => row[l]));
    const deltas = history.delta_mean_abs ?? [];
    this.deltas = Array.from({ length: this.depth }, (_, l) => history.step.map((_, n) => deltas[n]?.[l] ?? null));
    this.schedule(true);
  }

  /** Add points: steps [n] and their norms [n][L] (a step trace or a /train history). */
  append(steps, gradNorms, deltaMeans = []) {
    for (let n = 0; n < steps.length; n += 1) {
      const row = gradNorms[n];
      if (!row || row.length !== this.depth) continue;
      this.steps.push(steps[n]);
      for (let l = 0; l < this.depth; l += 1) {
        this.norms[l].push(row[l]);
        this.deltas[l].push(deltaMeans[n]?.[l] ?? null);
      }
    }
    if (this.steps.length > MAX_POINTS) {
      // keep every other point: the chart's resolution halves, its span stays whole
      const keep = (a) => a.filter((_, n) => n % 2 === 1 || n === a.length - 1);
      this.steps = keep(this.steps);
      this.norms = this.norms.map(keep);
      this.deltas = this.deltas.map(keep);
    }
    this.schedule();
  }

  /** Drop the points after `step` (undo). */
  truncate(step) {
    let n = this.steps.length;
    while (n > 0 && this.steps[n - 1] > step) n -= 1;
    this.steps.length = n;
    [...this.norms, ...this.deltas].forEach((a) => {
      a.length = n;
    });
    this.schedule(true);
  }

  /** What the lines show: "grad" (‖G(l)‖) or "delta" (mean |δ(l)|), smoothed or not. */
  setView(quantity, smooth) {
    this.quantity = quantity;
    this.smooth = smooth;
    this.schedule(true);
  }

  /** The series on show: raw, or a moving geometric mean over 9 points (log scale). */
  series() {
    const raw = this.quantity === "delta" ? this.deltas : this.norms;
    if (!this.smooth) return raw;
    const half = 4;
    return raw.map((ys) =>
      ys.map((_, n) => {
        let sum = 0;
        let count = 0;
        for (let k = Math.max(0, n - half); k <= Math.min(ys.length - 1, n + half); k += 1) {
          if (ys[k] > 0) {
            sum += Math.log(ys[k]);
            count += 1;
          }
        }
        return count ? Math.exp(sum / count) : null;
      }),
    );
  }

  draw() {
    if (!window.Plotly || !this.div.isConnected) return;
    const font = this.font();
    const symbol = this.quantity === "delta" ? "mean |δ(l)|" : "‖∂e/∂W(l)‖";
    const traces = this.series().map((ys, l) => ({
      x: this.steps,
      y: ys,
      name: `layer ${l + 1}`,
      type: "scatter",
      mode: this.steps.length > 60 ? "lines" : "lines+markers",
      line: { color: layerColor(l + 1, this.depth), width: this.present ? 3.5 : 2.5 },
      marker: { size: 5 },
      hovertemplate: `layer ${l + 1}, step %{x}: %{y:.3g}<extra></extra>`,
    }));
    const layout = this.baseLayout({
      showlegend: this.depth <= 8,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: font - 1 } },
      xaxis: {
        title: { text: "step", standoff: 4 },
        zeroline: false,
        gridcolor: "#e5e5e5",
        rangemode: "tozero",
        // whole steps only: 1, 2, 5 × 10ⁿ apart
        tickmode: "linear",
        tick0: 0,
        dtick: niceStep((this.steps.at(-1) ?? 1) / 6),
      },
      yaxis: {
        type: "log",
        title: { text: symbol, standoff: 4 },
        gridcolor: "#e5e5e5",
        exponentformat: "power",
        // whole decades only (a chart for the back row), some apart, at least two
        ...logAxis(this.series()),
      },
      datarevision: (this.revision += 1),
      annotations: this.steps.length ? [] : [emptyNote("No steps yet", font)],
    });
    window.Plotly.react(this.div, traces, layout, PLOT_CONFIG);
    this.drawn = true;
  }
}
