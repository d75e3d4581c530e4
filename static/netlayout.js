// Where everything of the network drawing goes, for the size of its SVG: one slot
// height and one unit radius for the whole drawing (set by the fullest column, so that
// units line up and compare), the columns' x, the units' y, how much text fits (full:
// x inside, s and δ beside; value: x only; none: colour only), and the notes.

import { textEm } from "./format.js";

// The bias unit is a small square at the top of its column: it takes this much of a slot.
const BIAS_SLOT = 0.7;
// A column with few units spreads them at most this many slots apart.
const SPREAD_MAX = 1.25;
// s is written this many radii above a unit's middle, δ as far below.
export const LABEL_SHIFT = 0.45;

/** Slots in the fullest column (a bias unit counts BIAS_SLOT). */
function mostSlots(sizes) {
  const L = sizes.length - 1;
  return Math.max(...sizes.map((d, l) => d + (l < L ? BIAS_SLOT : 0)));
}

/**
 * Vertical place of each unit of column l in slots from the column's middle:
 * [bias, x_1, …, x_d] (no bias in the output column: entry 0 is null).
 */
export function slotOffsets(sizes, l) {
  const L = sizes.length - 1;
  const bias = l < L ? BIAS_SLOT : 0;
  const half = (sizes[l] + bias) / 2;
  // a column with fewer units spreads them (up to SPREAD_MAX slots apart) over the
  // height the fullest column uses, instead of bunching them in the middle
  const spread = Math.min(SPREAD_MAX, mostSlots(sizes) / (sizes[l] + bias));
  const offsets = [l < L ? (BIAS_SLOT / 2 - half) * spread : null];
  for (let j = 1; j <= sizes[l]; j += 1) offsets.push((bias + j - 0.5 - half) * spread);
  return offsets;
}

/** Place the view's units, lines, titles and notes for the current size of its SVG. */
export function layoutNetwork(view) {
  const width = view.svg.clientWidth || 800;
  const height = view.svg.clientHeight || 500;
  view.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const L = view.depth;
  const k = view.present ? 1.3 : 1; // projector mode: everything larger
  const top = 50 * k;
  const bottom = 34 * k;
  const areaH = Math.max(height - top - bottom, 60); // a drawing squeezed mid-resize
  // One slot height and one radius for the whole drawing, set by the fullest column,
  // so that units line up and compare. In full detail s is written left of a unit
  // (it is made from the lines coming in from the left) and δ right of it (δ comes
  // back along the lines from the right).
  const most = mostSlots(view.sizes);
  const slot = Math.min(areaH / most, 150 * k);
  view.slot = slot;
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
    view.labelFont = Math.min(17 * k, r * 0.6 * k, (colGap - 2.6 * r - 12) / 11);
    const full = view.labelFont >= 12 && r >= 18;
    // full: x inside, s and δ beside; value: x inside only; none: colour only
    detail = full ? "full" : r >= 13 ? "value" : "none";
    view.wideMargins = wide;
    if (full) break;
  }
  view.colGap = colGap;
  view.positions = [];
  view.radius = [];
  view.detail = [];
  for (let l = 0; l <= L; l += 1) {
    const x = left + l * colGap;
    // the bias unit sits on top of its column, above x_1 … x_d
    const middle = top + areaH / 2;
    view.positions.push(slotOffsets(view.sizes, l).map((u) => (u === null ? null : middle + u * slot)));
    view.radius.push(r);
    view.detail.push(detail);
    view.headers[l].setAttribute("x", x);
    view.headers[l].setAttribute("y", 22 * k);
    view.subheaders[l].setAttribute("x", x);
    view.subheaders[l].setAttribute("y", 42 * k);
    const dense = L > 8;
    view.headers[l].textContent = dense ? `${l}` : `layer ${l}`;
    view.subheaders[l].textContent = dense ? "" : view.columnSubtitle(l);
    view.xs = view.xs || [];
    view.xs[l] = x;
  }
  for (let l = 0; l <= L; l += 1) {
    const r = view.radius[l];
    const font = Math.max(9, Math.min(r * 0.56, 20 * k));
    const labelFont = Math.max(12, view.labelFont);
    view.units[l].forEach((g, j) => {
      if (!g) return;
      // Each part gets its own coordinates (no transform per unit): a thousand
      // transformed groups cost the compositor ~100 ms a frame on the largest network.
      const x = view.xs[l];
      const y = view.positions[l][j];
      const at = (node, dx, dy) => {
        node.setAttribute("x", x + dx);
        node.setAttribute("y", y + dy);
      };
      g.dataset.detail = view.detail[l];
      if (j === 0) {
        const a = Math.max(2, Math.min(r * 1.5, BIAS_SLOT * 0.62 * view.slot));
        for (const [name, v] of Object.entries({ x: x - a / 2, y: y - a / 2, width: a, height: a, rx: a * 0.18 }))
          g.body.setAttribute(name, v);
      } else {
        for (const circle of [g.body, g.ring]) {
          circle.setAttribute("cx", x);
          circle.setAttribute("cy", y);
        }
        g.body.setAttribute("r", r);
        g.ring.setAttribute("r", r + 1);
      }
      at(g.value, 0, 0);
      // a long number (1.6×10⁶⁵) gets smaller type rather than run past its circle
      fitting(g.value, font, j === 0 ? Infinity : 1.8 * r);
      g.sLabel.style.fontSize = `${labelFont}px`;
      if (j === 0) {
        g.sLabel.style.display = view.detail[l] === "full" ? "" : "none";
        g.value.style.display = r >= 9 ? "" : "none";
        at(g.sLabel, -(r * 0.75 + 6), labelFont * 0.35);
      } else {
        // beside the unit, clear of the δ ring (at most 0.3 r thick); s above and δ
        // below the unit's middle, leaving a band for a level line
        at(g.sLabel, -(r * 1.3 + 6), -r * LABEL_SHIFT);
        g.dLabel.style.fontSize = `${labelFont}px`;
        // the output's δ goes under it when the right margin has no room for it
        const under = l === L && !view.wideMargins;
        g.dLabel.style.textAnchor = under ? "middle" : "";
        if (under) at(g.dLabel, 0, r * 1.45 + labelFont);
        else at(g.dLabel, r * 1.3 + 6, r * LABEL_SHIFT + labelFont * 0.75);
        // the output's δ stays inside the drawing; the others inside their column gap
        fitting(g.dLabel, labelFont, under ? 2 * (width - x) - 8 : (l === L ? width - x : view.colGap - r) - r * 1.3 - 10);
        fitting(g.sLabel, labelFont, view.colGap - r * 2.6 - 12);
      }
    });
  }
  view.edges.layout(colGap, slot, top + areaH / 2);
  view.edgeLabels?.layout(k, LABEL_SHIFT);
  if (view.weights && view.weights.length === L) view.setWeights(view.weights);
  const outX = view.xs[L];
  const lastY = view.positions[L].at(-1);
  const rOut = view.radius[L];
  const noteFont = 17 * k;
  for (const [node, dy] of [
    [view.targetNote, rOut + 2.6 * noteFont],
    [view.errorNote, rOut + 3.8 * noteFont],
  ]) {
    node.setAttribute("x", outX);
    node.setAttribute("y", Math.min(lastY + dy, height - 6));
    node.style.fontSize = `${noteFont}px`;
  }
  // in narrow margins the notes go to the bottom right corner, inside the drawing
  const narrow = !view.wideMargins;
  [view.targetNote, view.errorNote].forEach((node, n) => {
    node.setAttribute("x", narrow ? width - 6 : outX);
    node.style.textAnchor = narrow ? "end" : "middle";
    if (narrow) node.setAttribute("y", height - 8 - (1 - n) * noteFont * 1.25);
  });
  view.exampleNote.setAttribute("x", 8);
  view.exampleNote.style.textAnchor = "start";
  view.exampleNote.setAttribute("y", height - 14 * k);
  view.exampleNote.style.fontSize = `${15 * k}px`;
}

/** Remember a label's type size and the room it has: fitText() writes it within. */
function fitting(node, font, room) {
  node.baseFont = font;
  node.room = room;
  if (node.textContent) fitText(node, node.textContent);
  else node.style.fontSize = `${font}px`;
}

/** Write `text` into a label, smaller than its type size if it would not fit its room;
 * a label that would need type smaller than MIN_FONT is left out (the unit's tooltip
 * and the formula panel have it). */
export function fitText(node, text) {
  const font = node.baseFont;
  const wide = font ? textEm(text) * font : 0;
  const size = wide > node.room ? (font * node.room) / wide : font;
  const shown = size && size < MIN_FONT ? "" : text;
  if (node.textContent !== shown) node.textContent = shown;
  if (!shown || !font) return;
  const css = `${size.toFixed(1)}px`;
  if (node.style.fontSize !== css) node.style.fontSize = css;
}
const MIN_FONT = 8;
