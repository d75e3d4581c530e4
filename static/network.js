// The network view (SVG): a column per layer, a circle per unit, the bias unit x_0 as
// a grey square, a line per weight. Every element has a stable id (unit-l-j,
// link-l-i-j with i = 0 for the bias row of W(l)) so a step updates it in place.
// The view only shows numbers handed to it; it never computes s, x, δ or w.

import { diverging, inkOn, NEGATIVE, POSITIVE, unitScale } from "./colors.js";
import { indices, num } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const SUB = { 0: "₀", 1: "₁", 2: "₂", 3: "₃", 4: "₄", 5: "₅", 6: "₆", 7: "₇", 8: "₈", 9: "₉" };
const sub = (n) =>
  String(n)
    .split("")
    .map((c) => SUB[c])
    .join("");

// Above this many weights a layer's lines are drawn hairline and not animated one by
// one. Up to LABEL_ALL lines in all, every line carries its Δw in the update beat;
// up to LABEL_SOME, the lines of the selected unit (or the selected line) do.
const DENSE_LAYER = 600;
// Up to this many units in all, units flash as their beat reaches them (see flash()).
const FLASH_UNITS = 64; // the 6 × 8 vanishing-gradient preset still flashes (7.7 ms a frame)
const LABEL_ALL = 24;
const LABEL_SOME = 600;
// The bias unit is a small square at the top of its column: it takes this much of a slot.
const BIAS_SLOT = 0.7;
// s is written this many radii above a unit's middle, δ as far below.
const LABEL_SHIFT = 0.45;
// Where along its line a Δw label may go: the middle first, then outwards.
const LABEL_PLACES = Array.from({ length: 17 }, (_, n) => 0.18 + 0.04 * n).sort(
  (a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5),
);
// A column with few units spreads them at most this many slots apart.
const SPREAD_MAX = 1.25;

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

const detailOf = (view) => view.detail?.[0];

/** Stroke width of weight w: grows like √|w| so that small weights stay visible. */
function edgeWidth(w, factor) {
  return factor * (0.7 + 3.6 * Math.sqrt(Math.min(Math.abs(w), 4)));
}

/** Where |δ| sits between 10⁻⁵ (0) and 10 (1): δ spans decades, so the scale is logarithmic. */
function deltaLevel(delta) {
  const m = Math.abs(delta);
  if (!(m > 0)) return 0;
  return Math.max(0, Math.min(1, (Math.log10(m) + 5) / 6));
}

export class NetworkView {
  constructor(svg, { onSelect = () => {} } = {}) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.sizes = [];
    this.present = false;
    this.selection = null;
    this.asked = []; // what an exercise asks for: units or a line, marked until answered
    this.frame = null; // the numbers on show: {example, input, target, error, layers[]}
    this.weights = null;
    svg.addEventListener("click", (event) => this.click(event));
    new ResizeObserver(() => this.layout()).observe(svg);
  }

  get depth() {
    return this.sizes.length - 1;
  }

  /** Build the drawing for layer sizes d(0) … d(L). */
  build(sizes, info) {
    this.sizes = [...sizes];
    this.info = info; // {activation, output, encoding, classes}
    this.hiddenScale = unitScale(info.activation);
    this.outputScale = unitScale(info.output);
    this.svg.replaceChildren();
    this.svg.classList.remove("focused");
    this.asked = [];
    const L = this.depth;
    this.totalEdges = 0;
    for (let l = 1; l <= L; l += 1) this.totalEdges += (sizes[l - 1] + 1) * sizes[l];
    this.labelled = this.totalEdges <= LABEL_SOME;

    const edgesRoot = el("g", { class: "edges" }, this.svg);
    this.linkGroups = [null];
    this.edges = [null]; // edges[l][i][j-1]
    for (let l = 1; l <= L; l += 1) {
      const count = (sizes[l - 1] + 1) * sizes[l];
      const group = el("g", { class: "links", id: `links-${l}` }, edgesRoot);
      group.classList.toggle("dense", count > DENSE_LAYER);
      group.classList.toggle("busy", count > 60);
      // Lines are written in slot units (x: 0 → 1 across the gap, y: units from the
      // column's middle) and placed by the group's transform: a resize moves L groups,
      // not every line. The markup is built as one string: 60 000 lines in well
      // under a second, where createElementNS one by one takes several.
      const u0 = this.slotOffsets(l - 1);
      const u1 = this.slotOffsets(l);
      const parts = [];
      for (let i = 0; i <= sizes[l - 1]; i += 1) {
        const cls = i === 0 ? "edge bias-edge" : "edge";
        for (let j = 1; j <= sizes[l]; j += 1)
          parts.push(`<line id="link-${l}-${i}-${j}" class="${cls}" x1="0" y1="${u0[i]}" x2="1" y2="${u1[j]}"/>`);
      }
      group.innerHTML = parts.join("");
      const lines = group.children;
      const rows = [];
      for (let i = 0, n = 0; i <= sizes[l - 1]; i += 1) {
        const row = [];
        for (let j = 1; j <= sizes[l]; j += 1, n += 1) row.push(lines[n]);
        rows.push(row);
      }
      this.linkGroups.push(group);
      this.edges.push(rows);
    }

    this.edgeLabels = null;
    if (this.labelled) {
      const labelsRoot = el("g", { class: "edge-labels" }, this.svg);
      this.edgeLabels = [null];
      for (let l = 1; l <= L; l += 1) {
        const rows = [];
        for (let i = 0; i <= sizes[l - 1]; i += 1) {
          rows.push(
            Array.from({ length: sizes[l] }, (_, j) =>
              el("text", { id: `dw-${l}-${i}-${j + 1}`, class: "edge-label" }, labelsRoot),
            ),
          );
        }
        this.edgeLabels.push(rows);
      }
    }

    const headers = el("g", { class: "headers" }, this.svg);
    this.headers = sizes.map((_, l) => el("text", { class: "column-title" }, headers));
    this.subheaders = sizes.map((_, l) => el("text", { class: "column-subtitle" }, headers));

    const unitsRoot = el("g", { class: "units" }, this.svg);
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
  }

  /**
   * Vertical place of each unit of column l in slots from the column's middle:
   * [bias, x_1, …, x_d] (no bias in the output column: entry 0 is null).
   */
  slotOffsets(l) {
    const L = this.depth;
    const bias = l < L ? BIAS_SLOT : 0;
    const half = (this.sizes[l] + bias) / 2;
    // a column with fewer units spreads them (up to SPREAD_MAX slots apart) over the
    // height the fullest column uses, instead of bunching them in the middle
    const spread = Math.min(SPREAD_MAX, this.mostSlots() / (this.sizes[l] + bias));
    const offsets = [l < L ? (BIAS_SLOT / 2 - half) * spread : null];
    for (let j = 1; j <= this.sizes[l]; j += 1) offsets.push((bias + j - 0.5 - half) * spread);
    return offsets;
  }

  /** Slots in the fullest column (a bias unit counts BIAS_SLOT). */
  mostSlots() {
    const L = this.depth;
    return Math.max(...this.sizes.map((d, l) => d + (l < L ? BIAS_SLOT : 0)));
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
    const title = el("title", {}, g);
    const role = l === 0 ? "input" : l === this.depth ? "output" : "hidden";
    title.textContent = `${role} unit ${j} of layer ${l}: x${sub(j)}(${l})`;
    return g;
  }

  /** Place everything for the current size of the SVG (also on resize and projector mode). */
  layout() {
    if (!this.sizes.length) return;
    const width = this.svg.clientWidth || 800;
    const height = this.svg.clientHeight || 500;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const L = this.depth;
    const k = this.present ? 1.3 : 1; // projector mode: everything larger
    const top = 50 * k;
    const bottom = 34 * k;
    const areaH = Math.max(height - top - bottom, 60); // a drawing squeezed mid-resize
    // One slot height and one radius for the whole drawing, set by the fullest column,
    // so that units line up and compare. In full detail s is written left of a unit
    // (it is made from the lines coming in from the left) and δ right of it (δ comes
    // back along the lines from the right).
    const most = this.mostSlots();
    const slot = Math.min(areaH / most, 150 * k);
    this.slot = slot;
    // Margins: room for the input's names on the left and the output's δ on the right
    // when numbers are written; try that first, and fall back to narrow margins.
    let left, colGap, r, detail;
    for (const wide of [true, false]) {
      // narrow: just room for a unit (and its δ ring) and a column title at the edges
      const edge = (rr) => Math.max(L <= 8 ? 56 * k : 24 * k, rr * 1.45 + 4);
      r = 40 * k;
      for (let pass = 0; pass < 2; pass += 1) {
        left = wide ? Math.min(95 * k, width * 0.1) : edge(r);
        const right = wide ? Math.min(165 * k, width * 0.2) : edge(r);
        colGap = Math.max(width - left - right, 60) / Math.max(L, 1);
        r = Math.max(2, Math.min(slot * 0.36, Math.max(colGap * 0.13, Math.min(colGap * 0.2, 9)), 40 * k));
      }
      // s and δ beside the units need about 11 characters' width between two
      // columns: their type gets as large as that room allows.
      this.labelFont = Math.min(17 * k, r * 0.6 * k, (colGap - 2.6 * r - 12) / 11);
      const full = this.labelFont >= 12 && r >= 18;
      // full: x inside, s and δ beside; value: x inside only; none: colour only
      detail = full ? "full" : r >= 13 ? "value" : "none";
      if (full) break;
    }
    this.colGap = colGap;
    this.positions = [];
    this.radius = [];
    this.detail = [];
    for (let l = 0; l <= L; l += 1) {
      const x = left + l * colGap;
      // the bias unit sits on top of its column, above x_1 … x_d
      const middle = top + areaH / 2;
      this.positions.push(this.slotOffsets(l).map((u) => (u === null ? null : middle + u * slot)));
      this.radius.push(r);
      this.detail.push(detail);
      this.headers[l].setAttribute("x", x);
      this.headers[l].setAttribute("y", 22 * k);
      this.subheaders[l].setAttribute("x", x);
      this.subheaders[l].setAttribute("y", 42 * k);
      const dense = L > 8;
      this.headers[l].textContent = dense ? `${l}` : `layer ${l}`;
      this.subheaders[l].textContent = dense ? "" : this.columnSubtitle(l);
      this.xs = this.xs || [];
      this.xs[l] = x;
    }
    for (let l = 0; l <= L; l += 1) {
      const r = this.radius[l];
      const font = Math.max(9, Math.min(r * 0.56, 20 * k));
      const labelFont = Math.max(12, this.labelFont);
      this.units[l].forEach((g, j) => {
        if (!g) return;
        const y = this.positions[l][j];
        g.setAttribute("transform", `translate(${this.xs[l]},${y})`);
        g.dataset.detail = this.detail[l];
        if (j === 0) {
          const a = Math.max(2, Math.min(r * 1.5, BIAS_SLOT * 0.62 * this.slot));
          for (const [name, v] of Object.entries({ x: -a / 2, y: -a / 2, width: a, height: a, rx: a * 0.18 }))
            g.body.setAttribute(name, v);
        } else {
          g.body.setAttribute("r", r);
          g.ring.setAttribute("r", r + 1);
        }
        g.value.style.fontSize = `${font}px`;
        g.sLabel.style.fontSize = `${labelFont}px`;
        if (j === 0) g.sLabel.style.display = this.detail[l] === "full" ? "" : "none";
        if (j === 0) g.value.style.display = r >= 9 ? "" : "none";
        if (j === 0) {
          g.sLabel.setAttribute("x", -(r * 0.75 + 6));
          g.sLabel.setAttribute("y", labelFont * 0.35);
        } else {
          // beside the unit, clear of the δ ring (at most 0.3 r thick)
          g.sLabel.setAttribute("x", -(r * 1.3 + 6));
          // s above and δ below the unit's middle, leaving a band for a level line
          g.sLabel.setAttribute("y", -r * LABEL_SHIFT);
          g.dLabel.style.fontSize = `${labelFont}px`;
          g.dLabel.setAttribute("x", r * 1.3 + 6);
          g.dLabel.setAttribute("y", r * LABEL_SHIFT + labelFont * 0.75);
        }
      });
    }
    for (let l = 1; l <= L; l += 1) {
      this.linkGroups[l].setAttribute("transform", `matrix(${colGap} 0 0 ${slot} ${this.xs[l - 1]} ${top + areaH / 2})`);
    }
    if (this.edgeLabels) this.unitBoxes = this.labelObstacles(k);
    if (this.weights && this.weights.length === L) this.setWeights(this.weights);
    const outX = this.xs[L];
    const lastY = this.positions[L].at(-1);
    const rOut = this.radius[L];
    const noteFont = 17 * k;
    for (const [node, dy] of [
      [this.targetNote, rOut + 2.6 * noteFont],
      [this.errorNote, rOut + 3.8 * noteFont],
    ]) {
      node.setAttribute("x", outX);
      node.setAttribute("y", Math.min(lastY + dy, height - 6));
      node.style.fontSize = `${noteFont}px`;
    }
    // in narrow margins the notes go to the bottom right corner, inside the drawing
    const narrow = detailOf(this) !== "full";
    [this.targetNote, this.errorNote].forEach((node, n) => {
      node.setAttribute("x", narrow ? width - 6 : outX);
      node.style.textAnchor = narrow ? "end" : "middle";
      if (narrow) node.setAttribute("y", height - 8 - (1 - n) * noteFont * 1.25);
    });
    this.exampleNote.setAttribute("x", 8);
    this.exampleNote.style.textAnchor = "start";
    this.exampleNote.setAttribute("y", height - 14 * k);
    this.exampleNote.style.fontSize = `${15 * k}px`;
    if (this.frame) this.paintAll();
    if (this.asked.length) this.markAsked(this.asked);
  }

  /** Boxes a Δw label must not cover: units, their rings and their s and δ labels. */
  labelObstacles(k) {
    this.edgeFont = 14 * k;
    const boxes = [];
    for (let l = 0; l <= this.depth; l += 1) {
      const r = this.radius[l];
      this.positions[l].forEach((y) => {
        if (y === null) return;
        const x = this.xs[l];
        boxes.push({ x0: x - r * 1.35, x1: x + r * 1.35, y0: y - r * 1.35, y1: y + r * 1.35 });
        if (this.detail[l] !== "full") return;
        const f = this.labelFont;
        const wide = 5.6 * f; // "s = −0.123"
        // digits: cap height about 0.75 of the font size, no descenders
        const shift = r * LABEL_SHIFT;
        boxes.push({ x0: x - r * 1.3 - 6 - wide, x1: x, y0: y - shift - 0.8 * f, y1: y - shift + 1 });
        boxes.push({ x0: x, x1: x + r * 1.3 + 6 + wide, y0: y + shift - 1, y1: y + shift + 0.8 * f });
      });
    }
    return boxes;
  }

  /** The lines that carry Δw: all of a small network, else those of the selection. */
  labelledLines() {
    const lines = [];
    const sel = this.selection;
    if (this.totalEdges <= LABEL_ALL) {
      for (let l = 1; l <= this.depth; l += 1)
        for (let i = 0; i <= this.sizes[l - 1]; i += 1)
          for (let j = 1; j <= this.sizes[l]; j += 1) lines.push([l, i, j]);
    } else if (sel?.kind === "edge") {
      lines.push([sel.l, sel.i, sel.j]);
    } else if (sel?.kind === "unit") {
      const { l, j } = sel;
      if (l >= 1 && j >= 1) for (let i = 0; i <= this.sizes[l - 1]; i += 1) lines.push([l, i, j]);
      if (l < this.depth) for (let jj = 1; jj <= this.sizes[l + 1]; jj += 1) lines.push([l + 1, j, jj]);
    }
    return lines;
  }

  /**
   * Put a Δw label on each labelled line where it covers no unit, unit label or other
   * Δw label: try points along the line from the middle outwards, keep the first free.
   */
  placeLabel(label, text, l, i, j, taken) {
    const font = this.edgeFont;
    const w = 0.6 * font * text.length + 2; // bold digits are about 0.6 em wide
    const h = font * 0.85; // digits and minus: no descenders
    const x1 = this.xs[l - 1];
    const x2 = this.xs[l];
    const y1 = this.positions[l - 1][i];
    const y2 = this.positions[l][j];
    const overlaps = (b) => taken.some((a) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1);
    const t = LABEL_PLACES.find((u) => {
      const cx = x1 + u * (x2 - x1);
      const cy = y1 + u * (y2 - y1);
      return !overlaps({ x0: cx - w / 2, x1: cx + w / 2, y0: cy - h / 2, y1: cy + h / 2 });
    });
    // No free place: no label (the formula panel has the number of any clicked line).
    if (t === undefined) return false;
    const cx = x1 + t * (x2 - x1);
    const cy = y1 + t * (y2 - y1);
    taken.push({ x0: cx - w / 2, x1: cx + w / 2, y0: cy - h / 2, y1: cy + h / 2 });
    label.setAttribute("x", cx);
    label.setAttribute("y", cy + font * 0.35);
    label.style.fontSize = `${font}px`;
    return true;
  }

  columnSubtitle(l) {
    if (l === 0) return "input";
    if (l === this.depth) return `output · ${this.info.output.replace("_", " ")}`;
    return `hidden · ${this.info.activation.replace("_", " ")}`;
  }

  setPresent(present) {
    this.present = present;
    this.layout();
  }

  // ------------------------------------------------------------------ weights
  /** Colour each line by the sign of its weight and set its width by |w|. */
  setWeights(weights) {
    this.weights = weights;
    if (!this.edges || weights.length !== this.depth) return;
    for (let l = 1; l <= this.depth; l += 1) {
      const W = weights[l - 1];
      const count = W.length * (W[0]?.length ?? 0);
      // many lines, or columns close together: thinner lines, so the picture stays legible
      const factor = Math.min(1, 5 / Math.sqrt(count)) * Math.min(1, (this.colGap ?? 300) / 220);
      this.edges[l].forEach((row, i) =>
        row.forEach((line, jj) => {
          const w = W[i]?.[jj];
          if (w === undefined) return;
          line.setAttribute("stroke", w < 0 ? NEGATIVE : POSITIVE);
          line.setAttribute("stroke-width", edgeWidth(w, factor).toFixed(2));
        }),
      );
    }
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
    if (!this.edgeLabels) return;
    for (let l = 1; l <= this.depth; l += 1)
      this.edgeLabels[l].forEach((row) =>
        row.forEach((t) => {
          t.textContent = "";
        }),
      );
  }

  paintUnit(g, l, s, x) {
    const scale = l === this.depth ? this.outputScale : l === 0 ? (v) => Math.tanh(v) : this.hiddenScale;
    if (x === null || x === undefined) {
      g.body.style.fill = "";
      g.value.style.fill = "";
      g.value.textContent = "";
      g.sLabel.textContent = l === 0 ? `x${sub(g.dataset.j)}` : "";
      delete g.dataset.x;
      delete g.dataset.s;
      return;
    }
    const t = scale(x);
    g.body.style.fill = diverging(t);
    g.value.style.fill = inkOn(t);
    g.dataset.x = x;
    const detail = g.dataset.detail;
    g.value.textContent = detail === "none" ? "" : num(x, detail === "full" ? 3 : 2);
    if (l === 0) {
      g.sLabel.textContent = detail === "full" ? `x${sub(g.dataset.j)}` : "";
    } else {
      g.dataset.s = s;
      g.sLabel.textContent = detail === "full" ? `s = ${num(s)}` : "";
    }
  }

  paintDelta(g, delta) {
    if (!g.ring) return;
    if (delta === null || delta === undefined) {
      g.ring.style.strokeWidth = "0";
      g.ring.setAttribute("r", this.radius[g.dataset.l] + 1);
      g.dLabel.textContent = "";
      delete g.dataset.delta;
      return;
    }
    // |δ| by the ring's thickness and depth of colour, its sign by blue (−) / orange (+)
    const r = this.radius[g.dataset.l];
    const level = deltaLevel(delta);
    // beside labels (full detail) the ring stays thin; without them it may grow to
    // 0.6 r, so that δ fading layer by layer shows in a deep network
    const thickness = Math.min(1.5 + 10 * level, (this.detail[g.dataset.l] === "full" ? 0.3 : 0.6) * r);
    g.ring.setAttribute("r", r + thickness / 2 + 1.5);
    g.ring.style.strokeWidth = `${thickness}`;
    g.ring.style.stroke = diverging(Math.sign(delta) * (0.3 + 0.7 * level));
    g.dataset.delta = delta;
    g.dLabel.textContent = g.dataset.detail === "full" ? `δ = ${num(delta)}` : "";
    g.dLabel.style.fill = delta < 0 ? NEGATIVE : POSITIVE;
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
    if (!this.edgeLabels) return;
    this.clearEdgeLabels();
    const taken = [...(this.unitBoxes ?? [])];
    for (const [l, i, j] of this.labelledLines()) {
      const dw = frame.layers[l - 1]?.update?.[i]?.[j - 1];
      // an exact 0 (a ReLU that was off) leaves its line as it was: no label
      if (dw === undefined || dw === 0) continue;
      const label = this.edgeLabels[l][i][j - 1];
      const text = num(dw);
      if (!this.placeLabel(label, text, l, i, j, taken)) continue;
      label.textContent = text;
      label.style.fill = dw < 0 ? NEGATIVE : POSITIVE;
    }
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

  // -------------------------------------------------------------------- beats
  /**
   * Events for beat 1: the example enters on the left and each layer lights up in
   * turn. `ms` is the time per layer (0: all at once).
   */
  forwardEvents(frame, ms) {
    const events = [];
    const L = this.depth;
    events.push({
      at: 0,
      run: () => {
        this.clearValues();
        this.frame = frame;
        this.phase = "forward";
        if (ms > 0) this.units.slice(1).flat().forEach((g) => g?.classList.add("waiting"));
        this.paintInput(frame);
        if (ms > 0) this.flash(0);
      },
    });
    for (let l = 1; l <= L; l += 1) {
      const at = l * ms;
      if (ms > 0) this.pulse(events, l, "pulse-fwd", at - ms * 0.85, ms * 0.85);
      events.push({
        at,
        run: () => {
          this.units[l].forEach((g) => g?.classList.remove("waiting"));
          this.paintForward(l, frame);
          if (ms > 0) this.flash(l);
        },
      });
    }
    return events;
  }

  /** Beat 2: δ(L) at the output, then back through W(l) to δ(1). */
  backwardEvents(frame, ms) {
    const events = [{ at: 0, run: () => ((this.frame = frame), (this.phase = "backward")) }];
    const L = this.depth;
    for (let l = L, n = 0; l >= 1; l -= 1, n += 1) {
      const at = n * ms;
      if (ms > 0 && l < L) this.pulse(events, l + 1, "pulse-back", at - ms * 0.85, ms * 0.85);
      events.push({
        at,
        run: () => {
          this.paintBackward(l, frame);
          if (ms > 0) this.flash(l, "flash-delta");
        },
      });
    }
    return events;
  }

  /** Beat 3: Δw = −η x δ on every line, which then takes its new width. */
  updateEvents(frame, weightsAfter, ms) {
    const events = [
      {
        at: 0,
        run: () => {
          this.frame = frame;
          this.phase = "update";
          this.paintUpdate(frame);
          if (ms > 0) for (let l = 1; l <= this.depth; l += 1) this.linkGroups[l].classList.add("updating");
        },
      },
      { at: ms * 0.4, run: () => this.setWeights(weightsAfter) },
    ];
    if (ms > 0)
      events.push({
        at: ms * 1.6,
        run: () => {
          for (let l = 1; l <= this.depth; l += 1) this.linkGroups[l].classList.remove("updating");
        },
      });
    return events;
  }

  pulse(events, l, cls, at, duration) {
    const group = this.linkGroups[l];
    if (group.classList.contains("dense")) return;
    events.push({ at: Math.max(0, at), run: () => group.classList.add(cls) });
    events.push({ at: Math.max(0, at) + duration, run: () => group.classList.remove(cls) });
  }

  flash(l, cls = "flash") {
    // Web Animations restart cleanly on every call, unlike toggling a CSS class. Each
    // one is a layer for the compositor to place on every frame: on a big network
    // (a 16-layer one has 160 units) that alone took ~15 ms a frame, so only small
    // networks flash; on big ones the rings and colours change without it.
    if (this.sizes.reduce((a, b) => a + b, 0) > FLASH_UNITS) return;
    this.units[l].forEach((g, j) => {
      if (!g || j === 0) return;
      const target = cls === "flash-delta" ? g.ring : g.body;
      target.animate(
        cls === "flash-delta"
          ? [{ opacity: 0 }, { opacity: 1 }]
          : [{ strokeWidth: "6px", stroke: "#111" }, { strokeWidth: "1.5px" }],
        { duration: 450, easing: "ease-out" },
      );
    });
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
    const edge = this.nearestEdge(p.x, p.y, 8);
    if (edge) this.onSelect({ kind: "edge", ...edge });
  }

  nearestEdge(px, py, tolerance) {
    let best = null;
    let bestD = tolerance;
    for (let l = 1; l <= this.depth; l += 1) {
      const x1 = this.xs[l - 1];
      const x2 = this.xs[l];
      if (px < Math.min(x1, x2) - tolerance || px > Math.max(x1, x2) + tolerance) continue;
      const t = (px - x1) / (x2 - x1);
      this.edges[l].forEach((row, i) => {
        const y1 = this.positions[l - 1][i];
        row.forEach((_, jj) => {
          const y2 = this.positions[l][jj + 1];
          // distance from the point to the segment, measured perpendicular to it
          const dx = x2 - x1;
          const dy = y2 - y1;
          const u = Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy)));
          const d = Math.hypot(px - (x1 + u * dx), py - (y1 + u * dy));
          if (d < bestD && t > 0 && t < 1) {
            bestD = d;
            best = { l, i, j: jj + 1 };
          }
        });
      });
    }
    return best;
  }

  /**
   * Outline the selected unit or line; with `dim`, fade the lines it does not touch
   * (a click says "look here"; the page's default choice does not).
   */
  select(selection, dim = true) {
    this.svg.querySelectorAll(".selected, .related").forEach((n) => n.classList.remove("selected", "related"));
    this.selection = selection;
    this.svg.classList.toggle("focused", Boolean(selection) && dim);
    if (this.frame && this.phase === "update") this.paintUpdate(this.frame);
    if (!selection) return;
    if (selection.kind === "unit") {
      const { l, j } = selection;
      this.units[l]?.[j]?.classList.add("selected");
      if (l >= 1 && j >= 1) this.edges[l].forEach((row) => row[j - 1]?.classList.add("related"));
      if (l < this.depth) this.edges[l + 1][j]?.forEach((line) => line.classList.add("related"));
    } else {
      const { l, i, j } = selection;
      const line = this.edges[l]?.[i]?.[j - 1];
      line?.classList.add("selected", "related");
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
    this.svg.querySelectorAll(".asked").forEach((n) => n.classList.remove("asked"));
    this.asked = targets;
    for (const t of targets) {
      if (t.kind === "edge") {
        this.edges[t.l]?.[t.i]?.[t.j - 1]?.classList.add("asked");
        continue;
      }
      const g = this.units[t.l]?.[t.j];
      if (!g?.ring) continue;
      g.classList.add("asked");
      g.ring.setAttribute("r", this.radius[t.l] + 4);
      g.dLabel.textContent = g.dataset.detail === "full" ? "δ = ?" : "";
    }
  }

  unitLabel(l, j) {
    return `x${sub(j)}(${l})`;
  }

  edgeLabel(l, i, j) {
    return `w${indices(i, j)}(${l})`;
  }
}
