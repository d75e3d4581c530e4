// Shared by every plotly chart (the cards beside the network and /compare's): the
// layout a chart starts from, whole-step and whole-decade ticks, the empty-chart note,
// and for the live cards a throttled, holdable redraw (a plotly redraw is a 20–60 ms
// task: never mid-beat, never while a single step's answer is on its way, and in Play
// at most a few times a second).

const REDRAW_MS = 300;
// The live cards' redraws together (their script, then the browser's layout and paint,
// about as long again) may take at most 1/SHARE of the time: Play at 60 steps/s keeps
// most of the main thread.
const SHARE = 10;
const MAX_WAIT_MS = 3000;
const drawCosts = new Map(); // live card → ms its last redraw took
// Cards due within this long of each other redraw together, in one task after a paint:
// after a step they all change in the same frame, and cost the animation one late
// frame instead of one per card.
const TOGETHER_MS = 150;
// … but one task takes no longer than about this (a key press waits for it): the cards
// left redraw after the next paint.
const TASK_MS = 60;

/** The live cards' redraws: each card asks for a time, and every card due by then (or
 * soon after) is redrawn in the same task, once the next frame has been painted. */
const redraws = {
  due: new Map(), // card → the time it may redraw
  timer: null,
  at: Infinity, // when the timer fires

  ask(card, at) {
    const asked = this.due.get(card);
    if (asked !== undefined && asked <= at) return;
    this.due.set(card, at);
    if (at < this.at) this.arm(at);
  },

  arm(at) {
    clearTimeout(this.timer);
    this.at = at;
    this.timer = setTimeout(() => afterPaint(() => this.run()), Math.max(0, at - performance.now()));
  },

  run() {
    this.timer = null;
    this.at = Infinity;
    const started = performance.now();
    const soon = started + TOGETHER_MS;
    for (const [card, at] of [...this.due]) {
      if (at > soon) continue;
      if (performance.now() - started > TASK_MS) break;
      this.due.delete(card);
      card.redraw();
    }
    if (this.due.size) this.arm(Math.min(...this.due.values()));
  },
};

export class LiveChart {
  constructor(div) {
    this.div = div;
    this.present = false;
    this.held = false;
    this.pending = false;
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
    redraws.ask(this, now ? 0 : this.lastDraw + this.interval());
  }

  redraw() {
    if (this.held) {
      this.pending = true;
      return;
    }
    const started = performance.now();
    if (window.Plotly && this.div.isConnected) this.draw();
    this.lastDraw = performance.now();
    this.drawCost = this.lastDraw - started;
    if (this.div.isConnected) drawCosts.set(this, this.drawCost);
    else drawCosts.delete(this);
  }

  /** Milliseconds between redraws when data keeps coming (Play): REDRAW_MS, longer
   * while the cards together are slow to draw (each redraws once in SHARE × their cost). */
  interval() {
    let total = 0;
    for (const cost of drawCosts.values()) total += cost;
    return Math.min(MAX_WAIT_MS, Math.max(REDRAW_MS, SHARE * total));
  }

  /** Overridden: draw the chart from the card's data (Plotly.react or extendTraces). */
  draw() {}

  font() {
    return this.present ? 17 : 13;
  }

  baseLayout(extra = {}) {
    return plotLayout(this.font(), this.present ? { l: 84, b: 54 } : { l: 62, b: 44 }, extra);
  }
}

/** Run `task` once the next frame has been painted: a chart never delays the frame that
 * shows a step's numbers. */
export function afterPaint(task) {
  requestAnimationFrame(() => setTimeout(task, 0));
}

/** The layout every chart starts from: `font` px type, margins {l, b}, then `extra`. */
export function plotLayout(font, { l, b }, extra = {}) {
  return {
    margin: { l, r: 12, t: 8, b },
    font: { size: font, family: "system-ui, sans-serif", color: "#111" },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#ffffff",
    uirevision: "keep",
    ...extra,
  };
}

/**
 * A log axis over the positive, finite values of `series` that labels at least two
 * whole decades and at most about `most`: plotly's {range, dtick, tick0}, in decades.
 * The range is set, not left to plotly, so that bars (which start at the axis floor)
 * show whatever their size, after a divergence too.
 */
export function logAxis(series, most = 6, empty = [-3, 1]) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const ys of series)
    for (const y of ys)
      if (y > 0 && Number.isFinite(y)) {
        lo = Math.min(lo, y);
        hi = Math.max(hi, y);
      }
  let [a, b] = hi > 0 ? [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))] : empty;
  const dtick = Math.max(1, Math.ceil((b - a) / most));
  a = Math.floor(a / dtick) * dtick;
  b = Math.max(a + dtick, Math.ceil(b / dtick) * dtick);
  const pad = 0.03 * (b - a); // the end labels stay inside the range
  return { range: [a - pad, b + pad], dtick, tick0: 0, autorange: false };
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
