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

/** Set an element's text only when it changes (a rewrite costs a layout even if equal). */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}
