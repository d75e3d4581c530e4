// Δw labels on the weight lines of a small network (the update beat): every line of a
// tiny network, else the lines of the selection, each placed where it covers no unit,
// no unit label and no other Δw label. Ids dw-l-i-j, as the lines' link-l-i-j.

import { NEGATIVE, POSITIVE } from "./colors.js";
import { num, textEm } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const LABEL_ALL = 24; // up to this many lines in all, every line carries its Δw …
const LABEL_SOME = 600; // … up to this many, the lines of the selected unit or line do
// Where along its line a Δw label may go: the middle first, then outwards.
const LABEL_PLACES = Array.from({ length: 17 }, (_, n) => 0.18 + 0.04 * n).sort(
  (a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5),
);

export class EdgeLabels {
  /** Labels for a view of layer sizes `sizes`, or none (a large network): null. */
  static for(view, root, sizes, total) {
    return total <= LABEL_SOME ? new EdgeLabels(view, root, sizes, total) : null;
  }

  constructor(view, root, sizes, total) {
    this.view = view;
    this.total = total;
    const group = document.createElementNS(SVG, "g");
    group.setAttribute("class", "edge-labels");
    root.append(group);
    this.labels = [null]; // labels[l][i][j-1]
    for (let l = 1; l < sizes.length; l += 1) {
      const rows = [];
      for (let i = 0; i <= sizes[l - 1]; i += 1) {
        const row = [];
        for (let j = 1; j <= sizes[l]; j += 1) {
          const t = document.createElementNS(SVG, "text");
          t.id = `dw-${l}-${i}-${j}`;
          t.setAttribute("class", "edge-label");
          group.append(t);
          row.push(t);
        }
        rows.push(row);
      }
      this.labels.push(rows);
    }
  }

  clear() {
    for (const rows of this.labels.slice(1))
      for (const row of rows)
        for (const t of row) t.textContent = "";
  }

  layout(k, labelShift) {
    this.font = 14 * k;
    this.labelShift = labelShift;
  }

  /** Boxes a Δw label must not cover: units, their rings and their s and δ labels as
   * they are written now (a long number, 1.6×10⁶⁵, takes more room). */
  obstacles() {
    const v = this.view;
    const boxes = [];
    for (let l = 0; l <= v.depth; l += 1) {
      const r = v.radius[l];
      v.positions[l].forEach((y, j) => {
        if (y === null) return;
        const x = v.xs[l];
        boxes.push({ x0: x - r * 1.35, x1: x + r * 1.35, y0: y - r * 1.35, y1: y + r * 1.35 });
        const g = v.units[l][j];
        if (v.detail[l] !== "full" || !g) return;
        const f = v.labelFont;
        const wide = (label) => (label?.textContent ? textEm(label.textContent) * parseFloat(label.style.fontSize || f) : 0);
        // digits about 0.75 of the font size high, an exponent up to 0.95, no descenders
        const shift = r * this.labelShift;
        boxes.push({ x0: x - r * 1.3 - 6 - wide(g.sLabel), x1: x, y0: y - shift - 0.95 * f, y1: y - shift + 2 });
        boxes.push({ x0: x, x1: x + r * 1.3 + 6 + wide(g.dLabel), y0: y + shift - 2, y1: y + shift + 0.95 * f });
      });
    }
    return boxes;
  }

  /** The lines that carry Δw: all of a small network, else those of the selection. */
  labelled(selection) {
    const { sizes, depth } = this.view;
    const lines = [];
    if (this.total <= LABEL_ALL) {
      for (let l = 1; l <= depth; l += 1)
        for (let i = 0; i <= sizes[l - 1]; i += 1) for (let j = 1; j <= sizes[l]; j += 1) lines.push([l, i, j]);
    } else if (selection?.kind === "edge") {
      lines.push([selection.l, selection.i, selection.j]);
    } else if (selection?.kind === "unit") {
      const { l, j } = selection;
      if (l >= 1 && j >= 1) for (let i = 0; i <= sizes[l - 1]; i += 1) lines.push([l, i, j]);
      if (l < depth) for (let jj = 1; jj <= sizes[l + 1]; jj += 1) lines.push([l + 1, j, jj]);
    }
    return lines;
  }

  /** Write Δw = frame's update on the labelled lines. */
  paint(frame, selection) {
    this.clear();
    const taken = this.obstacles();
    for (const [l, i, j] of this.labelled(selection)) {
      const dw = frame.layers[l - 1]?.update?.[i]?.[j - 1];
      // an exact 0 (a ReLU that was off) leaves its line as it was: no label
      if (dw === undefined || dw === 0) continue;
      const label = this.labels[l][i][j - 1];
      const text = num(dw);
      if (!this.place(label, text, l, i, j, taken)) continue;
      label.textContent = text;
      label.style.fill = dw < 0 ? NEGATIVE : POSITIVE;
    }
  }

  /** Try points along the line from the middle outwards; keep the first free one. */
  place(label, text, l, i, j, taken) {
    const v = this.view;
    const font = this.font;
    const w = textEm(text) * font + 2;
    const h = font * 1.05; // digits and an exponent: no descenders
    const [x1, x2] = [v.xs[l - 1], v.xs[l]];
    const [y1, y2] = [v.positions[l - 1][i], v.positions[l][j]];
    const box = (t) => {
      const [cx, cy] = [x1 + t * (x2 - x1), y1 + t * (y2 - y1)];
      return { x0: cx - w / 2, x1: cx + w / 2, y0: cy - h / 2, y1: cy + h / 2, cx, cy };
    };
    const free = (b) => !taken.some((a) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1);
    const t = LABEL_PLACES.find((u) => free(box(u)));
    // No free place: no label (the formula panel has the number of any clicked line).
    if (t === undefined) return false;
    const b = box(t);
    taken.push(b);
    label.setAttribute("x", b.cx);
    label.setAttribute("y", b.cy + font * 0.4);
    label.style.fontSize = `${font}px`;
    return true;
  }
}
