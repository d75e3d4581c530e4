// The data view: the training points on the input plane (SVG). The examples of the
// current step are ringed; clicking a point makes the next step use that example.
// 1-D regression data (sine) is drawn as target y against input x.

import { classColor, valueColor } from "./colors.js";
import { svgNode as el } from "./dom.js";

const EDIT_MS = 600; // after the last click, the run starts again on the points
const MAX_POINTS = 300; // a link carries them all

export class DataView {
  /**
   * onPick(index): a click on a point (the next step uses it). With `tools` (an element
   * for the editing controls) and onEdit(dataset): your own points — click to add one
   * of the chosen class (1-D regression: at the clicked target y), click a point to
   * remove it; onEdit gets the API's custom data set.
   */
  constructor(svg, { onPick = () => {}, onEdit = null, tools = null } = {}) {
    this.svg = svg;
    this.onPick = onPick;
    this.onEdit = onEdit;
    this.data = null;
    this.current = [];
    this.pinned = null;
    this.editing = false;
    // The nearest training point within reach of the click: points are small and
    // overlap, and a lecturer clicks from the side of the room.
    svg.addEventListener("click", (event) => {
      if (this.editing) return this.edit(event);
      const index = this.nearest(event.clientX, event.clientY, 14);
      if (index !== null) this.onPick(index);
      return undefined;
    });
    new ResizeObserver(() => this.draw()).observe(svg);
    if (tools && onEdit) this.mountTools(tools);
  }

  setData(data) {
    this.data = data;
    this.draw();
  }

  // ------------------------------------------------------------ your own points
  mountTools(tools) {
    const button = (id, text, title) => Object.assign(document.createElement("button"), { type: "button", id, textContent: text, title });
    this.editButton = button("data-edit", "Edit points", "Click the plane to add points, click a point to remove it");
    this.editButton.setAttribute("aria-pressed", "false");
    this.classPicker = Object.assign(document.createElement("select"), { id: "data-class", hidden: true });
    this.classPicker.setAttribute("aria-label", "class of the points you add");
    this.clearButton = button("data-clear", "Clear", "Remove every point");
    this.clearButton.hidden = true;
    this.editNote = Object.assign(document.createElement("span"), { className: "hint", id: "data-edit-note" });
    tools.append(this.editButton, this.classPicker, this.clearButton, this.editNote);
    this.editButton.addEventListener("click", () => this.setEditing(!this.editing));
    this.clearButton.addEventListener("click", () => this.changePoints([], []));
  }

  setEditing(on) {
    this.editing = on;
    document.body.classList.toggle("editing-data", on);
    this.editButton.setAttribute("aria-pressed", String(on));
    this.editButton.textContent = on ? "Done" : "Edit points";
    this.classPicker.hidden = this.clearButton.hidden = !on;
    const d = this.data;
    const regression = d && d.classes === 0;
    const classes = Math.max(2, d?.classes ?? 2);
    this.classPicker.replaceChildren(...Array.from({ length: classes }, (_, k) => new Option(`add class ${k}`, String(k))));
    this.classPicker.hidden ||= regression;
    this.editNote.textContent = !on ? "" : regression ? "click: a point at that x and target y · click a point: remove it" : "click: add a point · click a point: remove it";
    this.frozen = null;
    this.draw();
  }

  /** Every point with its label: the training and the test points (a custom set is all training). */
  allPoints() {
    const d = this.data;
    return { points: [...d.x_train, ...d.x_test].map((p) => [...p]), labels: [...d.y_train, ...d.y_test] };
  }

  edit(event) {
    const d = this.data;
    if (!d || !this.unmap) return;
    let { points, labels } = this.allPoints();
    const index = this.nearest(event.clientX, event.clientY, 10, true);
    if (index !== null) {
      points = points.filter((_, n) => n !== index);
      labels = labels.filter((_, n) => n !== index);
    } else {
      if (points.length >= MAX_POINTS) {
        this.editNote.textContent = `at most ${MAX_POINTS} points`;
        return;
      }
      const [a, b] = this.unmap(event.clientX, event.clientY).map((v) => Math.round(v * 1000) / 1000);
      const regression = d.classes === 0;
      points.push(regression ? [a] : [a, b]);
      labels.push(regression ? b : Number(this.classPicker.value));
    }
    this.changePoints(points, labels);
  }

  /** Show the points at once; the run starts again on them once the clicks pause. */
  changePoints(points, labels) {
    const regression = this.data.classes === 0;
    const dim = points[0]?.length ?? this.data.x_train[0]?.length ?? 2;
    const empty = Array.from({ length: 0 }, () => Array(dim).fill(0));
    this.data = { ...this.data, x_train: points, y_train: labels, x_test: empty, y_test: [] };
    this.draw();
    clearTimeout(this.editTimer);
    if (points.length < 2) {
      this.editNote.textContent = "add at least two points";
      return;
    }
    this.editNote.textContent = `${points.length} points`;
    this.editTimer = setTimeout(() => this.onEdit({ name: "custom", points, labels, regression, test_ratio: 0, seed: 0 }), EDIT_MS);
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
    if (!all.length) [x0, x1, y0, y1] = [-1, 1, -1, 1];
    // the same scale on both axes, so the plane is not distorted; while points are
    // edited the plane stays put (and leaves room around them to add more)
    const frame = this.frozen ?? {
      span: Math.max(x1 - x0, y1 - y0, 1e-9) * (this.editing ? 1.5 : 1.08),
      cx: (x0 + x1) / 2,
      cy: (y0 + y1) / 2,
    };
    if (this.editing) this.frozen = frame;
    const { span, cx, cy } = frame;
    const left = (width - size) / 2;
    const topY = (height - size) / 2;
    this.map = (a, b) => [left + ((a - cx) / span + 0.5) * size, topY + (0.5 - (b - cy) / span) * size];
    this.unmap = (clientX, clientY) => {
      const q = this.toSvg(clientX, clientY);
      return [cx + ((q.x - left) / size - 0.5) * span, cy + (0.5 - (q.y - topY) / size) * span];
    };
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

  toSvg(clientX, clientY) {
    const p = this.svg.createSVGPoint();
    p.x = clientX;
    p.y = clientY;
    return p.matrixTransform(this.svg.getScreenCTM().inverse());
  }

  /** The training point (or with `all`, any point: train, then test) within reach. */
  nearest(clientX, clientY, reach, all = false) {
    if (!this.points) return null;
    const q = this.toSvg(clientX, clientY);
    let best = null;
    let bestD = reach;
    const circles = all ? [...this.points, ...this.svg.querySelectorAll(".test-point")] : this.points;
    circles.forEach((c, n) => {
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
