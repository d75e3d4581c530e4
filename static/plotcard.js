// Shared by the small plotly charts beside the network: a throttled, holdable redraw
// (a plotly redraw is a 20–60 ms task: never mid-beat, at most a few times a second)
// and the layout every card starts from.

const REDRAW_MS = 300;

export class LiveChart {
  constructor(div) {
    this.div = div;
    this.present = false;
    this.held = false;
    this.pending = false;
    this.timer = null;
    this.lastDraw = 0;
    this.drawCost = 0; // ms the last draw took
  }

  setPresent(present) {
    this.present = present;
    this.schedule(true);
  }

  hold(on) {
    this.held = on;
    if (!on && this.pending) {
      this.pending = false;
      this.schedule(true);
    }
  }

  schedule(now = false) {
    if (this.held) {
      this.pending = true;
      return;
    }
    if (this.timer !== null) return;
    const wait = now ? 0 : Math.max(0, this.interval() - (performance.now() - this.lastDraw));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.held) {
        this.pending = true;
        return;
      }
      const started = performance.now();
      if (window.Plotly && this.div.isConnected) this.draw();
      this.lastDraw = performance.now();
      this.drawCost = this.lastDraw - started;
    }, wait);
  }

  /** Milliseconds between redraws at most; a chart may adapt it to its draw cost. */
  interval() {
    return REDRAW_MS;
  }

  /** Overridden: draw the chart from the card's data (Plotly.react or extendTraces). */
  draw() {}

  font() {
    return this.present ? 17 : 13;
  }

  baseLayout(extra = {}) {
    const font = this.font();
    return {
      margin: { l: this.present ? 84 : 62, r: 12, t: 8, b: this.present ? 54 : 44 },
      font: { size: font, family: "system-ui, sans-serif", color: "#111" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      uirevision: "keep",
      ...extra,
    };
  }
}

/** 1, 2 or 5 × 10ⁿ, at least 1 and at least `raw`: whole steps on a step axis. */
export function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

export const PLOT_CONFIG = { displayModeBar: false, responsive: true };

export function emptyNote(text, font) {
  return { text, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { size: font + 2, color: "#666" } };
}
