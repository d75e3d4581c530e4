// DOM helpers shared by every page: `$` (the one query helper) and a tiny element
// builder for the panels that build their own DOM (share, exercise, the network panel).

export const $ = (selector) => document.querySelector(selector);

/** node("p", {class, text, …attributes}, ...children) → a new element. */
export function node(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

/** svgNode("circle", {attributes}, parent) → a new SVG element, appended to parent. */
export function svgNode(name, attrs = {}, parent = null) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.append(el);
  return el;
}

/** Set an element's text only when it changes (a rewrite costs a layout even if equal). */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** Size a canvas's pixels to its box, for sharp lines on any screen: px per CSS px. */
export function fitCanvas(canvas) {
  const scale = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * scale);
  canvas.height = Math.round(canvas.clientHeight * scale);
  return scale;
}

/** A canvas's 2-D context, cleared, drawing in CSS px (`scale`: fitCanvas's). */
export function blankCanvas(canvas, scale) {
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  return ctx;
}

/** A redraw asked for many times in a task (a step, a beat) and run once, in the next
 * frame; cancel() when drawing at once instead. */
export class FrameTask {
  constructor(task) {
    this.task = task;
    this.id = 0;
  }

  soon() {
    this.id ||= requestAnimationFrame(() => this.task());
  }

  cancel() {
    if (this.id) cancelAnimationFrame(this.id);
    this.id = 0;
  }
}
