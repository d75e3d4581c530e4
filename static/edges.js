// The weight lines of the network drawing, one per w_ij(l), in one of two media:
// - small networks (up to SVG_EDGES lines): SVG lines with stable ids link-l-i-j, so a
//   step restyles them in place and CSS animates them;
// - larger ones: a canvas under the SVG of units, redrawn when the weights or the
//   selection change. A layer whose lines would be thinner than a pixel is drawn as
//   its weight matrix instead: row i beside unit i of layer l−1, column j for unit j of
//   layer l, each cell coloured by w_ij(l). A click still finds the weight under it.
// Geometry (column x, unit y) comes from the network view: view.xs, view.positions.

import { divergingRgb, NEGATIVE, POSITIVE } from "./colors.js";
import { blankCanvas, fitCanvas, FrameTask } from "./dom.js";

const SVG_EDGES = 1000; // more lines than this: canvas
const DENSE_LAYER = 600; // an SVG layer with more lines is drawn hairline, not animated
const TILE_WIDTH = 0.6; // a layer whose lines are wider than this (px) stays lines …
const TYPICAL_W = 0.25; // … for a weight of this size (the decision follows the layout only)
const ASKED = "#7c3aed";

/** Stroke width of weight w: grows like √|w| so that small weights stay visible. */
export const edgeWidth = (w, factor) => factor * (0.7 + 3.6 * Math.sqrt(Math.min(Math.abs(w), 4)));
/** A weight's place on the colour scale of a matrix cell: √|w|, saturating at |w| = 1. */
const cellTone = (w) => Math.sign(w) * Math.sqrt(Math.min(Math.abs(w), 1));

export class EdgeLayer {
  constructor(view, svgRoot, canvas) {
    this.view = view;
    this.canvas = canvas;
    this.sizes = view.sizes;
    const counts = this.sizes.slice(1).map((d, n) => (this.sizes[n] + 1) * d);
    this.total = counts.reduce((a, b) => a + b, 0);
    this.svg = this.total <= SVG_EDGES || !canvas;
    this.groups = [null];
    this.lines = [null]; // lines[l][i][j-1] (SVG only)
    this.marks = { selection: null, asked: [] };
    this.redraw = new FrameTask(() => this.draw());
    if (canvas) canvas.hidden = this.svg;
    if (this.svg) document.getElementById("legend-matrix")?.toggleAttribute("hidden", true);
    if (this.svg) this.buildSvg(svgRoot, counts);
  }

  buildSvg(root, counts) {
    for (let l = 1; l < this.sizes.length; l += 1) {
      const group = document.createElementNS("http://www.w3.org/2000/svg", "g");
      group.setAttribute("class", "links");
      group.id = `links-${l}`;
      group.classList.toggle("dense", counts[l - 1] > DENSE_LAYER);
      group.classList.toggle("busy", counts[l - 1] > 60);
      // Lines are written in slot units (x: 0 → 1 across the gap, y: units from the
      // column's middle) and placed by the group's transform: a resize moves L groups,
      // not every line. The markup is built as one string (fast for many lines).
      const u0 = this.view.slotOffsets(l - 1);
      const u1 = this.view.slotOffsets(l);
      const parts = [];
      for (let i = 0; i <= this.sizes[l - 1]; i += 1) {
        const cls = i === 0 ? "edge bias-edge" : "edge";
        for (let j = 1; j <= this.sizes[l]; j += 1)
          parts.push(`<line id="link-${l}-${i}-${j}" class="${cls}" x1="0" y1="${u0[i]}" x2="1" y2="${u1[j]}"/>`);
      }
      group.innerHTML = parts.join("");
      const rows = [];
      for (let i = 0, n = 0; i <= this.sizes[l - 1]; i += 1) {
        const row = [];
        for (let j = 1; j <= this.sizes[l]; j += 1, n += 1) row.push(group.children[n]);
        rows.push(row);
      }
      root.append(group);
      this.groups.push(group);
      this.lines.push(rows);
    }
  }

  /** Place the lines for the view's current geometry. */
  layout(colGap, slot, middle) {
    const v = this.view;
    if (this.svg) {
      for (let l = 1; l < this.sizes.length; l += 1)
        this.groups[l].setAttribute("transform", `matrix(${colGap} 0 0 ${slot} ${v.xs[l - 1]} ${middle})`);
      return;
    }
    this.scale = fitCanvas(this.canvas);
    this.draw();
  }

  /** Line width factor of layer l: many lines, or columns close together, thinner. */
  factor(l) {
    const count = (this.sizes[l - 1] + 1) * this.sizes[l];
    return Math.min(1, 5 / Math.sqrt(count)) * Math.min(1, (this.view.colGap ?? 300) / 220);
  }

  /** Is layer l drawn as its weight matrix (its lines would be thinner than a pixel)? */
  tiled(l) {
    return !this.svg && edgeWidth(TYPICAL_W, this.factor(l)) < TILE_WIDTH && Math.min(this.sizes[l - 1], this.sizes[l]) >= 8;
  }

  /** Colour each line by the sign of its weight and set its width by |w|. */
  setWeights(weights) {
    if (!this.svg) return this.soon();
    for (let l = 1; l < this.sizes.length; l += 1) {
      const W = weights[l - 1];
      const factor = this.factor(l);
      this.lines[l].forEach((row, i) =>
        row.forEach((line, jj) => {
          const w = W[i]?.[jj];
          if (w === undefined) return;
          line.setAttribute("stroke", w < 0 ? NEGATIVE : POSITIVE);
          line.setAttribute("stroke-width", edgeWidth(w, factor).toFixed(2));
        }),
      );
    }
    return undefined;
  }

  // ------------------------------------------------------------------ canvas
  /** Redraw the canvas in the next frame: new weights and a new selection in one task
   * (a step, a beat) are one redraw. */
  soon() {
    this.redraw.soon();
  }

  /** The whole canvas: every layer's lines or matrix, then the selection's marks. */
  draw() {
    this.redraw.cancel();
    const v = this.view;
    if (this.svg || !v.weights || !v.xs || v.weights.length !== this.sizes.length - 1) return;
    const ctx = blankCanvas(this.canvas, this.scale);
    const focused = this.marks.selection && v.svg.classList.contains("focused");
    ctx.globalAlpha = focused ? 0.35 : 1;
    let grids = false;
    for (let l = 1; l < this.sizes.length; l += 1) {
      if (this.tiled(l)) grids = this.drawTile(ctx, l);
      else this.drawLines(ctx, l);
    }
    document.getElementById("legend-matrix")?.toggleAttribute("hidden", !grids);
    ctx.globalAlpha = 1;
    this.drawMarks(ctx);
  }

  /** Lines of layer l, batched into a few paths by sign and width. */
  drawLines(ctx, l) {
    const v = this.view;
    const W = v.weights[l - 1];
    const factor = this.factor(l);
    const buckets = new Map();
    for (let i = 0; i <= this.sizes[l - 1]; i += 1)
      for (let j = 1; j <= this.sizes[l]; j += 1) {
        const w = W[i][j - 1];
        const width = Math.max(0.4, Math.round(edgeWidth(w, factor) * 4) / 4);
        const key = `${w < 0 ? NEGATIVE : POSITIVE} ${width}`;
        if (!buckets.has(key)) buckets.set(key, []);
        buckets.get(key).push(i, j);
      }
    ctx.lineCap = "round";
    for (const [key, pairs] of buckets) {
      const [color, width] = key.split(" ");
      ctx.strokeStyle = color;
      ctx.lineWidth = Number(width);
      ctx.globalAlpha *= 0.6;
      ctx.beginPath();
      for (let n = 0; n < pairs.length; n += 2) {
        ctx.moveTo(v.xs[l - 1], v.positions[l - 1][pairs[n]]);
        ctx.lineTo(v.xs[l], v.positions[l][pairs[n + 1]]);
      }
      ctx.stroke();
      ctx.globalAlpha /= 0.6;
    }
  }

  /** Where the matrix of layer l sits: between the two columns' units. */
  tileBox(l) {
    const v = this.view;
    const pad = v.radius[l] * 1.3 + 2;
    return { x0: v.xs[l - 1] + pad, x1: v.xs[l] - pad };
  }

  /** Row i's band: around unit i of layer l−1, half way to its neighbours. */
  rowBand(l, i) {
    const ys = this.view.positions[l - 1];
    const y = ys[i];
    const up = i > 0 ? (y - ys[i - 1]) / 2 : (ys[i + 1] - y) / 2;
    const down = i + 1 < ys.length ? (ys[i + 1] - y) / 2 : up;
    return [y - up, y + down];
  }

  drawTile(ctx, l) {
    const W = this.view.weights[l - 1];
    const rows = W.length;
    const cols = W[0].length;
    // one pixel a weight, written straight into the image (no array a cell: 66 000 cells
    // a step on the largest network)
    if (this.image?.width !== cols || this.image.height !== rows) this.image = new ImageData(cols, rows);
    const data = this.image.data;
    for (let i = 0, at = 0; i < rows; i += 1) {
      const row = W[i];
      for (let j = 0; j < cols; j += 1, at += 4) {
        const rgb = divergingRgb(cellTone(row[j]));
        data[at] = rgb[0];
        data[at + 1] = rgb[1];
        data[at + 2] = rgb[2];
        data[at + 3] = 255;
      }
    }
    this.tileCanvas ??= document.createElement("canvas");
    const tile = this.tileCanvas;
    if (tile.width !== cols || tile.height !== rows) [tile.width, tile.height] = [cols, rows];
    tile.getContext("2d").putImageData(this.image, 0, 0);
    const { x0, x1 } = this.tileBox(l);
    ctx.imageSmoothingEnabled = false;
    for (let i = 0; i < rows; i += 1) {
      const [y0, y1] = this.rowBand(l, i);
      ctx.drawImage(tile, 0, i, cols, 1, x0, y0 + 0.5, x1 - x0, Math.max(1, y1 - y0 - 1));
    }
    return true;
  }

  /** The selected line or unit's lines, and a line an exercise asks about, over the rest. */
  drawMarks(ctx) {
    const v = this.view;
    const line = (l, i, j, color, width) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.moveTo(v.xs[l - 1], v.positions[l - 1][i]);
      ctx.lineTo(v.xs[l], v.positions[l][j]);
      ctx.stroke();
    };
    const sel = this.marks.selection;
    if (sel?.kind === "edge") line(sel.l, sel.i, sel.j, "#111", 2.5);
    if (sel?.kind === "unit" && v.svg.classList.contains("focused")) {
      const { l, j } = sel;
      if (l >= 1 && j >= 1) for (let i = 0; i <= this.sizes[l - 1]; i += 1) line(l, i, j, "rgba(17,17,17,0.55)", 1);
      if (l + 1 < this.sizes.length) for (let k = 1; k <= this.sizes[l + 1]; k += 1) line(l + 1, j, k, "rgba(17,17,17,0.55)", 1);
    }
    ctx.setLineDash([9, 6]);
    for (const t of this.marks.asked) if (t.kind === "edge") line(t.l, t.i, t.j, ASKED, 4);
    ctx.setLineDash([]);
  }

  // -------------------------------------------------------------- selection
  /** Mark the selection (and what an exercise asks for) on the lines. */
  mark(selection, asked = this.marks.asked) {
    this.marks = { selection, asked };
    if (!this.svg) return this.soon();
    for (const n of this.view.svg.querySelectorAll(".edge.related, .edge.selected, .edge.asked"))
      n.classList.remove("related", "selected", "asked");
    if (selection?.kind === "unit") {
      const { l, j } = selection;
      if (l >= 1 && j >= 1) this.lines[l].forEach((row) => row[j - 1]?.classList.add("related"));
      if (l + 1 < this.sizes.length) this.lines[l + 1][j]?.forEach((line) => line.classList.add("related"));
    } else if (selection?.kind === "edge") {
      this.lines[selection.l]?.[selection.i]?.[selection.j - 1]?.classList.add("selected", "related");
    }
    for (const t of asked) if (t.kind === "edge") this.lines[t.l]?.[t.i]?.[t.j - 1]?.classList.add("asked");
    return undefined;
  }

  /** Layer l's lines take part in a beat's pulse (small networks only). */
  pulse(l) {
    return this.svg && !this.groups[l].classList.contains("dense") ? this.groups[l] : null;
  }

  /** The weight under the point (px, py): the nearest line within `tolerance`, or the
   * matrix cell there. */
  hit(px, py, tolerance) {
    const v = this.view;
    let best = null;
    let bestD = tolerance;
    for (let l = 1; l < this.sizes.length; l += 1) {
      const [x1, x2] = [v.xs[l - 1], v.xs[l]];
      if (px <= x1 || px >= x2) continue;
      if (this.tiled(l)) {
        const { x0, x1: xEnd } = this.tileBox(l);
        const j = Math.min(this.sizes[l], Math.max(1, Math.ceil(((px - x0) / (xEnd - x0)) * this.sizes[l])));
        const ys = v.positions[l - 1];
        const i = ys.reduce((k, y, n) => (Math.abs(y - py) < Math.abs(ys[k] - py) ? n : k), 0);
        return { l, i, j };
      }
      for (let i = 0; i <= this.sizes[l - 1]; i += 1) {
        const y1 = v.positions[l - 1][i];
        for (let j = 1; j <= this.sizes[l]; j += 1) {
          // distance from the point to the segment, measured perpendicular to it
          const [dx, dy] = [x2 - x1, v.positions[l][j] - y1];
          const u = Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy)));
          const d = Math.hypot(px - (x1 + u * dx), py - (y1 + u * dy));
          if (d < bestD) [bestD, best] = [d, { l, i, j }];
        }
      }
    }
    return best;
  }
}
