// The units of a dense network (hundreds of them, too small to carry text) painted on
// a canvas under the SVG, redrawn at most once a frame. Restyling a thousand SVG
// circles costs the browser 40–160 ms of style work a step; the canvas costs ~2 ms.
// The SVG keeps every unit as a transparent, outlined circle with its stable id
// (unit-l-j), its data-x/s/delta and its tooltip, so clicks, the selection and an
// exercise's marks work as on a small network.
// The view hands each unit's numbers over (paint(g), after paintUnit/paintDelta);
// the colours and the ring follow network.js's rules, read from the view.

import { diverging, divergingRgb } from "./colors.js";
import { blankCanvas, fitCanvas, FrameTask } from "./dom.js";

// More units than this (a unit is drawn 3–6 px wide there): the canvas.
export const PAINTED_UNITS = 300;

export class UnitCanvas {
  constructor(view, canvas) {
    this.view = view;
    this.canvas = canvas;
    this.redraw = new FrameTask(() => this.draw());
    canvas.hidden = false;
  }

  /** Size the canvas for the SVG's current size and redraw at once. */
  layout() {
    this.scale = fitCanvas(this.canvas);
    this.draw();
  }

  /** Redraw in the next frame (many units change in one task: one redraw). */
  soon() {
    this.redraw.soon();
  }

  draw() {
    this.redraw.cancel();
    const v = this.view;
    if (!v.positions) return;
    const ctx = blankCanvas(this.canvas, this.scale);
    for (let l = 0; l <= v.depth; l += 1) {
      const r = v.radius[l];
      const x = v.xs[l];
      const ys = v.positions[l];
      const column = v.units[l];
      for (let j = 1; j < column.length; j += 1) {
        const g = column[j];
        const y = ys[j];
        const delta = g.shownDelta;
        if (delta !== null && delta !== undefined && !g.classList.contains("asked")) {
          const ring = v.ringOf(l, delta);
          ctx.strokeStyle = diverging(ring.tone);
          ctx.lineWidth = ring.thickness;
          ctx.beginPath();
          ctx.arc(x, y, ring.r, 0, 2 * Math.PI);
          ctx.stroke();
        }
        const t = g.shownTone;
        ctx.fillStyle = t === null || t === undefined ? "#ffffff" : rgbOf(t);
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }

  remove() {
    this.redraw.cancel();
    blankCanvas(this.canvas, 1);
    this.canvas.hidden = true;
  }
}

const rgbOf = (t) => {
  const [r, g, b] = divergingRgb(t);
  return `rgb(${r},${g},${b})`;
};
