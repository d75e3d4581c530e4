// "This step, layer by layer": ‖G(l)‖_F of the step on show, one bar per layer on a
// log scale — the vanishing-gradient picture at a glance — with each layer's
// saturation (the share of x(l) in θ's flat region) written on its bar.

import { layerColor } from "./colors.js";
import { LiveChart, logAxis, PLOT_CONFIG, emptyNote } from "./plotcard.js";

export class StepChart extends LiveChart {
  constructor(div, note) {
    super(div);
    this.note = note;
    this.layers = null; // [{layer, grad_norm, saturation}]
    this.step = null;
  }

  /** A full step's trace (POST …/step or …/update). */
  show(trace) {
    this.step = trace.step;
    this.layers = trace.layers.map((l) => ({ layer: l.layer, grad_norm: l.grad_norm, saturation: l.saturation }));
    this.schedule();
  }

  clear() {
    this.layers = null;
    this.step = null;
    this.schedule(true);
  }

  /** The note under the chart: why sigmoid gradients shrink layer by layer. */
  setActivation(activation) {
    this.note.innerHTML =
      activation === "sigmoid"
        ? "sigmoid: θ′(s) = θ(1 − θ) ≤ ¼, so each layer δ passes back through multiplies it by at most ¼ (times the weights)."
        : activation === "tanh"
          ? "tanh: θ′(s) = 1 − θ² ≤ 1, smaller where units saturate."
          : activation === "relu" || activation === "leaky_relu"
            ? "ReLU: θ′(s) = 1 for s &gt; 0, so δ passes back unshrunk through active units."
            : "";
  }

  draw() {
    const font = this.font();
    const rows = this.layers ?? [];
    const depth = rows.length;
    const bars = {
      type: "bar",
      x: rows.map((r) => `${r.layer}`),
      y: rows.map((r) => r.grad_norm),
      marker: { color: rows.map((r) => layerColor(r.layer, depth)) },
      text: rows.map((r) => `${Math.round(100 * r.saturation)}%`),
      textposition: "outside",
      cliponaxis: false,
      textfont: { size: font - 2 },
      customdata: rows.map((r) => 100 * r.saturation),
      hovertemplate: "layer %{x}: ‖G‖ = %{y:.3g}, %{customdata:.0f}% saturated<extra></extra>",
    };
    const axis = logAxis([rows.map((r) => r.grad_norm)], 5);
    axis.range[1] += 0.1 * (axis.range[1] - axis.range[0]); // room for the labels on top
    const layout = this.baseLayout({
      showlegend: false,
      bargap: 0.25,
      xaxis: { title: { text: "layer l   (label: % of units saturated)", standoff: 4 }, type: "category" },
      yaxis: {
        type: "log",
        title: { text: "‖G(l)‖", standoff: 4 },
        gridcolor: "#e5e5e5",
        exponentformat: "power",
        ...axis,
      },
      annotations: rows.length ? [] : [emptyNote("Step to see this step's gradients", font)],
    });
    window.Plotly.react(this.div, [bars], layout, PLOT_CONFIG);
    this.div.dataset.step = this.step ?? "";
  }
}
