// The network view: a column per layer, a circle per unit (SVG), the bias unit x_0 as
// a grey square, and the weights (edges.js: SVG lines, or a canvas for large networks).
// Every unit has a stable id (unit-l-j; lines link-l-i-j with i = 0 for the bias row of
// W(l)) so a step updates the drawing in place. The view only shows numbers handed to
// it; it never computes s, x, δ or w. Its geometry is netlayout.js's.

import { diverging, inkOn, NEGATIVE, POSITIVE, unitScale } from "./colors.js";
import { EdgeLabels } from "./edgelabels.js";
import { EdgeLayer } from "./edges.js";
import { setText, svgNode as el } from "./dom.js";
import { num, subscript as sub } from "./format.js";
import { fitText, layoutNetwork, slotOffsets } from "./netlayout.js";
import { PAINTED_UNITS, UnitCanvas } from "./unitcanvas.js";

/** Where |δ| sits between 10⁻⁵ (0) and 10 (1): δ spans decades, so the scale is logarithmic. */
function deltaLevel(delta) {
  const m = Math.abs(delta);
  if (!(m > 0)) return 0;
  return Math.max(0, Math.min(1, (Math.log10(m) + 5) / 6));
}

export class NetworkView {
  constructor(svg, { canvas = null, unitCanvas = null, onSelect = () => {} } = {}) {
    this.svg = svg;
    this.canvas = canvas;
    this.unitCanvas = unitCanvas; // where a dense network's units are painted (unitcanvas.js)
    this.painted = null;
    this.onSelect = onSelect;
    this.sizes = [];
    this.present = false;
    this.selection = null;
    this.asked = []; // what an exercise asks for: units or a line, marked until answered
    this.frame = null; // the numbers on show: {example, input, target, error, layers[]}
    this.weights = null;
    svg.addEventListener("click", (event) => this.click(event));
    // the numbers a dense drawing leaves out show on hover (and in the formulas on click)
    svg.addEventListener("mouseover", (event) => this.explain(event.target.closest?.(".unit:not(.bias)")));
    new ResizeObserver(() => this.layout()).observe(svg);
  }

  get depth() {
    return this.sizes.length - 1;
  }

  /** Build the drawing for layer sizes d(0) … d(L). */
  build(sizes, info) {
    this.sizes = [...sizes];
    this.info = info; // {activation, output, encoding, classes, features}
    this.hiddenScale = unitScale(info.activation);
    this.outputScale = unitScale(info.output);
    this.svg.replaceChildren();
    this.svg.classList.remove("focused");
    this.asked = [];
    const L = this.depth;
    this.edges = new EdgeLayer(this, el("g", { class: "edges" }, this.svg), this.canvas);
    this.edgeLabels = EdgeLabels.for(this, this.svg, sizes, this.edges.total);
    const headers = el("g", { class: "headers" }, this.svg);
    this.headers = sizes.map((_, l) => el("text", { class: "column-title" }, headers));
    this.subheaders = sizes.map((_, l) => el("text", { class: "column-subtitle" }, headers));

    this.painted?.remove();
    const many = sizes.reduce((a, b) => a + b, 0) > PAINTED_UNITS;
    this.painted = many && this.unitCanvas ? new UnitCanvas(this, this.unitCanvas) : null;
    const unitsRoot = el("g", { class: this.painted ? "units painted" : "units" }, this.svg);
    this.units = []; // units[l][j], j = 0 is the bias unit (absent in layer L)
    for (let l = 0; l <= L; l += 1) {
      const column = [];
      if (l < L) column.push(this.makeBias(unitsRoot, l));
      else column.push(null);
      for (let j = 1; j <= sizes[l]; j += 1) column.push(this.makeUnit(unitsRoot, l, j));
      this.units.push(column);
    }
    const notes = el("g", { class: "notes" }, this.svg);
    this.exampleNote = el("text", { id: "note-example", class: "note" }, notes);
    this.targetNote = el("text", { id: "note-target", class: "note strong" }, notes);
    this.errorNote = el("text", { id: "note-error", class: "note strong" }, notes);
    this.frame = null;
    this.layout();
    if (this.weights) this.setWeights(this.weights);
    this.clearValues();
    this.fitInputNames();
  }

  /** Vertical place of each unit of column l, in slots from the column's middle. */
  slotOffsets(l) {
    return slotOffsets(this.sizes, l);
  }

  makeBias(root, l) {
    const g = el("g", { class: "unit bias", id: `unit-${l}-0`, "data-l": l, "data-j": 0 }, root);
    g.body = el("rect", { class: "body" }, g);
    g.value = el("text", { class: "val", dy: "0.35em" }, g);
    g.value.textContent = "1";
    g.sLabel = el("text", { class: "s-label bias-label" }, g);
    g.sLabel.textContent = `x${sub(0)}`;
    return g;
  }

  makeUnit(root, l, j) {
    const g = el("g", { class: "unit", id: `unit-${l}-${j}`, "data-l": l, "data-j": j }, root);
    g.ring = el("circle", { class: "delta-ring" }, g);
    g.body = el("circle", { class: "body" }, g);
    g.value = el("text", { class: "val", dy: "0.35em" }, g);
    g.sLabel = el("text", { class: "s-label" }, g);
    g.dLabel = el("text", { class: "d-label" }, g);
    g.title = el("title", {}, g);
    const role = l === 0 ? "input" : l === this.depth ? "output" : "hidden";
    g.title.textContent = g.name = `${role} unit ${j} of layer ${l}: x${sub(j)}(${l})${l === 0 && this.info.features ? ` = ${this.inputName(j)}` : ""}`;
    return g;
  }

  /** A unit's tooltip: its name and the numbers on show, written when hovered. */
  explain(g) {
    if (!g?.title) return;
    const d = g.dataset;
    const parts = [["s", d.s], ["x", d.x], ["δ", d.delta]].filter(([, v]) => v !== undefined);
    const numbers = parts.map(([name, v]) => `${name} = ${num(Number(v))}`).join(",  ");
    setText(g.title, numbers ? `${g.name}\n${numbers}` : g.name);
  }

  /** Place everything for the current size of the SVG (also on resize and projector mode). */
  layout() {
    if (!this.sizes.length) return;
    layoutNetwork(this);
    if (this.frame) this.paintAll();
    this.painted?.layout();
    this.fitInputNames();
    if (this.asked.length) this.markAsked(this.asked);
  }

  columnSubtitle(l) {
    if (l === 0) return "input";
    if (l === this.depth) return `output · ${this.info.output.replace("_", " ")}`;
    return `hidden · ${this.info.activation.replace("_", " ")}`;
  }

  /** CSS transition times for a beat of `ms` per layer (0: no transitions at all). */
  setTiming(ms) {
    this.svg.classList.toggle("still", ms === 0);
    this.svg.style.setProperty("--t-fill", `${Math.round(ms * 0.45)}ms`);
    this.svg.style.setProperty("--t-edge", `${Math.round(ms * 0.9)}ms`);
  }

  setPresent(present) {
    this.present = present;
    this.layout();
  }

  // ------------------------------------------------------------------ weights
  /** Colour each line by the sign of its weight and set its width by |w|. */
  setWeights(weights) {
    this.weights = weights;
    if (this.edges && weights.length === this.depth) this.edges.setWeights(weights);
  }

  // ------------------------------------------------------------------- values
  /** Remove every number: the state before a forward pass. */
  clearValues() {
    this.frame = null;
    for (let l = 0; l <= this.depth; l += 1) {
      this.units[l].forEach((g, j) => {
        if (!g || j === 0) return;
        this.paintUnit(g, l, null, null);
        this.paintDelta(g, null);
      });
    }
    this.clearEdgeLabels();
    this.exampleNote.textContent = "";
    this.targetNote.textContent = "";
    this.errorNote.textContent = "";
    this.svg.querySelectorAll(".unit.waiting").forEach((g) => g.classList.remove("waiting"));
  }

  clearEdgeLabels() {
    this.edgeLabels?.clear();
  }

  paintUnit(g, l, s, x) {
    const scale = l === this.depth ? this.outputScale : l === 0 ? (v) => Math.tanh(v) : this.hiddenScale;
    if (x === null || x === undefined) {
      if (this.painted) {
        g.shownTone = null;
        this.painted.soon();
      } else {
        g.body.style.fill = g.mapFill ?? ""; // neuronmaps.js may fill it with a picture
        g.value.style.fill = "";
      }
      setText(g.value, "");
      setText(g.sLabel, l === 0 ? this.inputName(g.dataset.j) : "");
      delete g.dataset.x;
      delete g.dataset.s;
      return;
    }
    const t = scale(x);
    const detail = g.dataset.detail;
    if (this.painted) {
      // the canvas shows the colour; the SVG's circle stays as it is (no style work)
      g.shownTone = t;
      this.painted.soon();
    } else g.body.style.fill = g.mapFill ?? diverging(t);
    if (detail !== "none") g.value.style.fill = inkOn(t);
    g.dataset.x = x;
    fitText(g.value, detail === "none" ? "" : num(x, detail === "full" ? 3 : 2));
    if (l === 0) {
      setText(g.sLabel, detail === "full" ? this.inputName(g.dataset.j) : "");
    } else {
      g.dataset.s = s;
      fitText(g.sLabel, detail === "full" ? `s = ${num(s)}` : "");
    }
  }

  paintDelta(g, delta) {
    if (!g.ring) return;
    if (this.painted) {
      g.shownDelta = delta;
      this.painted.soon();
    }
    if (delta === null || delta === undefined) {
      if (!this.painted) {
        g.ring.style.strokeWidth = "0";
        g.ring.setAttribute("r", this.radius[g.dataset.l] + 1);
      }
      setText(g.dLabel, "");
      delete g.dataset.delta;
      return;
    }
    if (!this.painted) {
      const ring = this.ringOf(g.dataset.l, delta);
      g.ring.setAttribute("r", ring.r);
      g.ring.style.strokeWidth = `${ring.thickness}`;
      g.ring.style.stroke = diverging(ring.tone);
    }
    g.dataset.delta = delta;
    if (g.dataset.detail !== "full") return setText(g.dLabel, "");
    fitText(g.dLabel, `δ = ${num(delta)}`);
    g.dLabel.style.fill = delta < 0 ? NEGATIVE : POSITIVE;
    return undefined;
  }

  /** δ's ring around a unit of layer l: |δ| by its thickness and depth of colour, its
   * sign by blue (−) / orange (+); {r, thickness, tone} (tone on the diverging scale). */
  ringOf(l, delta) {
    const r = this.radius[l];
    const level = deltaLevel(delta);
    // beside labels (full detail) the ring stays thin; without them it may grow to
    // 0.6 r, so that δ fading layer by layer shows in a deep network
    const thickness = Math.min(1.5 + 10 * level, (this.detail[l] === "full" ? 0.3 : 0.6) * r);
    return { r: r + thickness / 2 + 1.5, thickness, tone: Math.sign(delta) * (0.3 + 0.7 * level) };
  }

  /** The input layer and the notes for example k of the batch. */
  paintInput(frame) {
    const k = frame.example;
    this.units[0].forEach((g, j) => {
      if (g && j > 0) this.paintUnit(g, 0, null, frame.input[k][j - 1]);
    });
    const index = frame.indices?.[k];
    const batch = frame.input.length;
    this.exampleNote.textContent =
      index === undefined ? "" : batch > 1 ? `example #${index} (${k + 1} of ${batch} in the batch)` : `example #${index}`;
  }

  paintForward(l, frame) {
    const layer = frame.layers[l - 1];
    const k = frame.example;
    this.units[l].forEach((g, j) => {
      if (g && j > 0) this.paintUnit(g, l, layer.s[k][j - 1], layer.x[k][j - 1]);
    });
    if (l === this.depth) this.paintOutputNotes(frame);
  }

  paintOutputNotes(frame) {
    const k = frame.example;
    const y = frame.target?.[k];
    if (y === undefined) return;
    const encoding = this.info.encoding;
    this.targetNote.textContent =
      encoding === "index"
        ? `target y = class ${y}`
        : encoding === "pm1"
          ? `target y = ${y > 0 ? "+1" : "−1"}`
          : encoding === "01"
            ? `target y = ${y}`
            : `target y = ${num(y)}`;
    this.errorNote.textContent = frame.error === null || frame.error === undefined ? "" : `error e = ${num(frame.error)}`;
  }

  paintBackward(l, frame) {
    const layer = frame.layers[l - 1];
    if (!layer.delta) return;
    const k = frame.example;
    this.units[l].forEach((g, j) => {
      if (g && j > 0) this.paintDelta(g, layer.delta[k][j - 1]);
    });
  }

  paintUpdate(frame) {
    this.edgeLabels?.paint(frame, this.selection);
  }

  /** Everything known about the frame, at once (after a resize, or with animation off). */
  paintAll(phase = this.phase) {
    const frame = this.frame;
    if (!frame) return;
    this.paintInput(frame);
    for (let l = 1; l <= this.depth; l += 1) {
      this.paintForward(l, frame);
      if (phase === "backward" || phase === "update") this.paintBackward(l, frame);
    }
    if (phase === "update") this.paintUpdate(frame);
  }

  // ---------------------------------------------------------------- selection
  click(event) {
    const unit = event.target.closest?.(".unit");
    if (unit) {
      this.onSelect({ kind: "unit", l: Number(unit.dataset.l), j: Number(unit.dataset.j) });
      return;
    }
    const point = this.svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const p = point.matrixTransform(this.svg.getScreenCTM().inverse());
    const edge = this.edges.hit(p.x, p.y, 8);
    if (edge) this.onSelect({ kind: "edge", ...edge });
  }

  /**
   * Outline the selected unit or line; with `dim`, fade the lines it does not touch
   * (a click says "look here"; the page's default choice does not).
   */
  select(selection, dim = true) {
    this.svg.querySelectorAll(".unit.selected").forEach((n) => n.classList.remove("selected"));
    this.selection = selection;
    this.svg.classList.toggle("focused", Boolean(selection) && dim);
    if (this.frame && this.phase === "update") this.paintUpdate(this.frame);
    this.edges.mark(selection);
    if (!selection) return;
    if (selection.kind === "unit") {
      this.units[selection.l]?.[selection.j]?.classList.add("selected");
    } else {
      const { l, i, j } = selection;
      this.units[l - 1]?.[i]?.classList.add("selected");
      this.units[l]?.[j]?.classList.add("selected");
    }
  }

  /**
   * Mark what an exercise asks for (selections: units, or a line): a dashed ring and
   * "δ = ?" on a unit, a dashed line for a weight. [] takes the marks away.
   */
  markAsked(targets) {
    for (const t of this.asked) {
      const g = t.kind === "unit" ? this.units[t.l]?.[t.j] : null;
      if (g?.ring) this.paintDelta(g, g.dataset.delta === undefined ? null : Number(g.dataset.delta));
    }
    this.svg.querySelectorAll(".unit.asked").forEach((n) => n.classList.remove("asked"));
    this.asked = targets;
    this.edges.mark(this.selection, targets);
    for (const t of targets) {
      if (t.kind === "edge") continue;
      const g = this.units[t.l]?.[t.j];
      if (!g?.ring) continue;
      g.classList.add("asked");
      g.ring.setAttribute("r", this.radius[t.l] + 4);
      g.dLabel.textContent = g.dataset.detail === "full" ? "δ = ?" : "";
    }
    this.painted?.soon(); // an asked unit's ring is the SVG's dashed one
  }

  /** A feature's name (sin x₁) may be wider than the margin left of the inputs: shrink it. */
  fitInputNames() {
    if (!this.info?.features) return;
    for (const g of this.units[0].slice(1)) {
      const label = g.sLabel;
      const room = Number(label.getAttribute("x")) - 2; // text-anchor: end
      const width = label.textContent ? label.getComputedTextLength() : 0;
      if (width > room && room > 0) label.style.fontSize = `${(parseFloat(getComputedStyle(label).fontSize) * room) / width}px`;
    }
  }

  /** Input unit j's name: its feature (x₁², sin x₁, …) when the session has features. */
  inputName(j) {
    const name = this.info?.features?.[j - 1];
    return name ? name.replace(/x(\d)/g, (_, d) => `x${sub(d)}`) : `x${sub(j)}`;
  }
}
