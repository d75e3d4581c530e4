// The data view: the training points on the input plane (SVG). The examples of the
// current step are ringed; clicking a point makes the next step use that example.
// 1-D regression data (sine) is drawn as target y against input x.

import { classColor, valueColor } from "./colors.js";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

export class DataView {
  constructor(svg, { onPick = () => {} } = {}) {
    this.svg = svg;
    this.onPick = onPick;
    this.data = null;
    this.current = [];
    this.pinned = null;
    // The nearest training point within reach of the click: points are small and
    // overlap, and a lecturer clicks from the side of the room.
    svg.addEventListener("click", (event) => {
      const index = this.nearest(event.clientX, event.clientY, 14);
      if (index !== null) this.onPick(index);
    });
    new ResizeObserver(() => this.draw()).observe(svg);
  }

  setData(data) {
    this.data = data;
    this.draw();
  }

  /** Coordinates of every point: (x₁, x₂), or (x, y) for 1-D regression. */
  coordinates(xs, ys) {
    if (!xs.length) return [];
    return xs[0].length >= 2 ? xs.map((p) => [p[0], p[1]]) : xs.map((p, n) => [p[0], ys[n]]);
  }

  draw() {
    const data = this.data;
    this.svg.replaceChildren();
    if (!data) return;
    const width = this.svg.clientWidth || 300;
    const height = this.svg.clientHeight || 300;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const train = this.coordinates(data.x_train, data.y_train);
    const test = this.coordinates(data.x_test, data.y_test);
    const all = [...train, ...test];
    const pad = 10;
    const size = Math.min(width, height) - 2 * pad;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [a, b] of all) {
      x0 = Math.min(x0, a);
      x1 = Math.max(x1, a);
      y0 = Math.min(y0, b);
      y1 = Math.max(y1, b);
    }
    // the same scale on both axes, so the plane is not distorted
    const span = Math.max(x1 - x0, y1 - y0, 1e-9) * 1.08;
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    const left = (width - size) / 2;
    const topY = (height - size) / 2;
    this.map = (a, b) => [left + ((a - cx) / span + 0.5) * size, topY + (0.5 - (b - cy) / span) * size];
    el("rect", { class: "plane", x: left, y: topY, width: size, height: size }, this.svg);
    const [ox, oy] = this.map(0, 0);
    if (ox > left && ox < left + size) el("line", { class: "axis", x1: ox, x2: ox, y1: topY, y2: topY + size }, this.svg);
    if (oy > topY && oy < topY + size) el("line", { class: "axis", x1: left, x2: left + size, y1: oy, y2: oy }, this.svg);

    const r = Math.max(3, Math.min(7, size / Math.sqrt(all.length) / 2.4));
    const colour = (y) => (data.classes === 0 ? valueColor(y) : classColor(y, data.classes));
    const testGroup = el("g", { class: "test-points" }, this.svg);
    test.forEach(([a, b], n) => {
      const [px, py] = this.map(a, b);
      el("circle", { cx: px, cy: py, r: r * 0.9, stroke: colour(data.y_test[n]), class: "test-point" }, testGroup);
    });
    const trainGroup = el("g", { class: "train-points" }, this.svg);
    this.points = train.map(([a, b], n) => {
      const [px, py] = this.map(a, b);
      const c = el("circle", { cx: px, cy: py, r, fill: colour(data.y_train[n]), class: "point", "data-index": n }, trainGroup);
      const title = el("title", {}, c);
      title.textContent = `example #${n}: click to use it in the next step`;
      return c;
    });
    this.marks = el("g", { class: "marks" }, this.svg);
    this.radius = r;
    this.paintMarks();
  }

  nearest(clientX, clientY, reach) {
    if (!this.points) return null;
    const p = this.svg.createSVGPoint();
    p.x = clientX;
    p.y = clientY;
    const q = p.matrixTransform(this.svg.getScreenCTM().inverse());
    let best = null;
    let bestD = reach;
    this.points.forEach((c, n) => {
      const d = Math.hypot(Number(c.getAttribute("cx")) - q.x, Number(c.getAttribute("cy")) - q.y);
      if (d < bestD) {
        bestD = d;
        best = n;
      }
    });
    return best;
  }

  /** Ring the examples of the step on show; pin the example chosen for the next step. */
  mark(indices, pinned) {
    this.current = indices || [];
    this.pinned = pinned;
    this.paintMarks();
  }

  paintMarks() {
    if (!this.marks || !this.points) return;
    this.marks.replaceChildren();
    for (const index of this.current.slice(0, 64)) {
      const p = this.points[index];
      if (!p) continue;
      el("circle", { cx: p.getAttribute("cx"), cy: p.getAttribute("cy"), r: this.radius + 6, class: "current-mark" }, this.marks);
    }
    if (this.pinned !== null && this.points[this.pinned]) {
      const p = this.points[this.pinned];
      el("circle", { cx: p.getAttribute("cx"), cy: p.getAttribute("cy"), r: this.radius + 9, class: "pinned-mark" }, this.marks);
    }
  }
}
