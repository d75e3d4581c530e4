// Exercise mode: predict δ_j(l) after the forward beat, or the new weight w_ij(l)
// after the backward beat. The page never computes the answer: each typed number goes
// to the API (`check`), which compares it with the engine's — correct within 1 % or
// 10⁻³ — and sends back the worked formula. The score is this page's own (kept in
// sessionStorage, so a reload keeps it); the server keeps no scores.
//
// One concept on every page: the same choices (EXERCISES) and the same mode objects
// (the API's ExerciseMode: {kind: "delta", layer?, unit?} | {kind: "weight", layer?, i?, j?})
// whether a teacher sets them for followers (share.js) or a student alone on the main
// page; the same question for a mode (questionFor) and the same panel to ask it.
//
//   const chooser = new ExerciseChooser({ id, onChange: (mode) => … });  // the <select>s
//   const panel = new ExercisePanel(root, { check: (body) => api call, storageKey });
//   panel.setMode(mode | null);
//   const { question, target } = questionFor(mode, sizes, frame, selection);
//   await panel.ask(question);   // → the results, or null when cancelled
//   panel.retarget({kind: "unit", l, j})   // a click on the drawing while asking

import { indices, num, subscript } from "./format.js";
import { node } from "./dom.js";

const sub = (...parts) => subscript(indices(...parts));

/** A number as students type it: "−0.25", "-0,25", "1.2e-3", "1.2×10^-3", ".5". */
export function parseNumber(text) {
  const cleaned = String(text)
    .trim()
    .replace(/[−–]/g, "-")
    .replace(/\s+/g, "")
    .replace(/[×x*]10\^?/i, "e")
    .replace(/,/g, ".");
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(cleaned)) return null;
  const value = Number(cleaned);
  return Number.isFinite(value) ? value : null;
}

export const symbolOf = (q, unit) =>
  q.kind === "delta" ? `δ${sub(unit)}(${q.layer})` : `w${sub(q.i, q.j)}(${q.layer})`;

// ------------------------------------------------------------------ the modes
/** The choices, as the Share dialog and the main page's toolbar offer them. */
export const EXERCISES = [
  ["", "off"],
  ["delta-output", "predict δ at the output"],
  ["delta-layer", "predict δ of a whole layer"],
  ["delta-unit", "predict δ of one unit"],
  ["weight", "predict a new weight"],
];

const MAX_ASKED_UNITS = 6; // "the whole layer" asks for at most this many δ at once

/** The API's ExerciseMode for a choice (null: off); `layer` and `unit` where it needs them. */
export function modeOf(choice, layer, unit) {
  switch (choice) {
    case "delta-output":
      return { kind: "delta" };
    case "delta-layer":
      return { kind: "delta", layer };
    case "delta-unit":
      return { kind: "delta", layer, unit };
    case "weight":
      return { kind: "weight" };
    default:
      return null;
  }
}

/** The choice a mode stands for ("" when off). */
export function choiceOf(mode) {
  if (!mode) return "";
  if (mode.kind === "weight") return "weight";
  return mode.unit ? "delta-unit" : mode.layer ? "delta-layer" : "delta-output";
}

/** A mode as a short text for the address bar: "delta-output", "delta-layer-1", "delta-unit-1-2", "weight". */
export function modeText(mode) {
  const choice = choiceOf(mode);
  if (choice === "delta-layer") return `${choice}-${mode.layer}`;
  if (choice === "delta-unit") return `${choice}-${mode.layer}-${mode.unit}`;
  return choice;
}

/** The mode a text of modeText() describes; null when off or unreadable. */
export function modeFromText(text) {
  const match = /^(delta-output|delta-layer|delta-unit|weight)(?:-(\d+))?(?:-(\d+))?$/.exec(String(text ?? ""));
  if (!match) return null;
  const [, choice, layer, unit] = match;
  if ((choice === "delta-layer" || choice === "delta-unit") && !layer) return null;
  if (choice === "delta-unit" && !unit) return null;
  return modeOf(choice, Number(layer), Number(unit));
}

/**
 * What to ask in `mode` about the step on show (`frame`, of a network with layer sizes
 * `sizes`): a question for ExercisePanel.ask and the unit or line to select. A mode
 * without a line of its own asks about the `selection` when it is a line.
 */
export function questionFor(mode, sizes, frame, selection = null) {
  const L = sizes.length - 1;
  const layer = Math.min(mode.layer ?? L, L);
  if (mode.kind === "delta") {
    const all = Array.from({ length: sizes[layer] }, (_, n) => n + 1);
    const units = mode.unit && mode.unit <= sizes[layer] ? [mode.unit] : all.slice(0, MAX_ASKED_UNITS);
    const k = frame.example;
    const index = frame.indices?.[k];
    const question = { kind: "delta", step: frame.step, layer, units, example: k, exampleLabel: index === undefined ? "" : `example #${index}` };
    return { question, target: { kind: "unit", l: layer, j: units[0] } };
  }
  const picked = selection?.kind === "edge" && mode.i === undefined && mode.layer === undefined ? selection : null;
  const l = picked ? picked.l : layer;
  const i = picked ? picked.i : Math.min(mode.i ?? 1, sizes[l - 1]);
  const j = picked ? picked.j : Math.min(mode.j ?? 1, sizes[l]);
  return { question: { kind: "weight", step: frame.step, layer: l, i, j }, target: { kind: "edge", l, i, j } };
}

/**
 * The exercise <select> and, where the choice needs them, a layer and a unit <select>:
 * the Share dialog's and the main page's toolbar's. Ids: `id`, `id`-layer, `id`-unit.
 */
export class ExerciseChooser {
  constructor({ id, label = "exercise mode", onChange = () => {} }) {
    this.choice = node("select", { id, "aria-label": label }, ...EXERCISES.map(([value, text]) => node("option", { value, text })));
    this.layer = node("select", { id: `${id}-layer`, "aria-label": "layer", hidden: "" });
    this.unit = node("select", { id: `${id}-unit`, "aria-label": "unit", hidden: "" });
    this.elements = [this.choice, this.layer, this.unit];
    this.sizes = [1, 1];
    for (const select of this.elements) {
      select.addEventListener("change", () => {
        if (select !== this.unit) this.fillUnits();
        this.showParts();
        onChange(this.mode);
      });
    }
  }

  get mode() {
    return modeOf(this.choice.value, Number(this.layer.value), Number(this.unit.value));
  }

  /** The network's layer sizes d(0) … d(L): which layers and units there are to choose. */
  setSizes(sizes) {
    const mode = this.mode;
    this.sizes = sizes;
    const L = sizes.length - 1;
    this.layer.replaceChildren(...Array.from({ length: L }, (_, n) => node("option", { value: String(n + 1), text: `layer ${n + 1}` })));
    this.set(mode);
  }

  /** Show a mode (null: off); layers and units out of this network fall back to the defaults. */
  set(mode) {
    const L = this.sizes.length - 1;
    this.choice.value = choiceOf(mode);
    // by default the last hidden layer: δ there is one step of the backward formula
    this.layer.value = String(mode?.layer && mode.layer <= L ? mode.layer : Math.max(1, L - 1));
    this.fillUnits(mode?.unit);
    this.showParts();
  }

  fillUnits(unit = Number(this.unit.value) || 1) {
    const d = this.sizes[Number(this.layer.value)] ?? 1;
    this.unit.replaceChildren(...Array.from({ length: d }, (_, n) => node("option", { value: String(n + 1), text: `unit ${n + 1}` })));
    this.unit.value = String(Math.min(unit, d));
  }

  showParts() {
    const choice = this.choice.value;
    this.layer.hidden = choice !== "delta-layer" && choice !== "delta-unit";
    this.unit.hidden = choice !== "delta-unit";
  }
}

// What the panel says between questions (`waiting`): a follower waits for the teacher.
const FOLLOWER_WAITING = {
  delta: "After the forward beat of the teacher's next step, you type δ before the drawing shows it. The drawing waits for you.",
  weight: "After the backward beat of the teacher's next step, you type the weight that the update will give. The drawing waits for you.",
};

export class ExercisePanel {
  constructor(root, { check, storageKey = "backprop-lab-score", waiting = FOLLOWER_WAITING }) {
    this.root = root;
    this.check = check;
    this.storageKey = storageKey;
    this.waiting = waiting;
    this.mode = null;
    this.question = null; // what is asked now
    this.resolve = null;
    this.results = null; // the last answers, shown until the next question
    this.busy = false;
    this.score = this.load();
  }

  load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.storageKey) || "null");
      if (saved && Number.isInteger(saved.right) && Number.isInteger(saved.asked)) return saved;
    } catch {
      // storage may be off (private windows): the score lives in memory only
    }
    return { right: 0, asked: 0 };
  }

  save() {
    try {
      sessionStorage.setItem(this.storageKey, JSON.stringify(this.score));
    } catch {
      // ignore: see load()
    }
  }

  get asking() {
    return this.resolve !== null;
  }

  /** The units or the line the open question is about (to mark them on the drawing). */
  get targets() {
    const q = this.asking ? this.question : null;
    if (!q) return [];
    if (q.kind === "weight") return [{ kind: "edge", l: q.layer, i: q.i, j: q.j }];
    return q.units.map((j) => ({ kind: "unit", l: q.layer, j }));
  }

  /** The teacher's exercise mode, or null (the panel hides and any question ends). */
  setMode(mode) {
    this.mode = mode;
    if (!mode) this.cancel();
    this.root.hidden = !mode;
    this.render();
  }

  /** Ask a question; resolves when the student has checked an answer or asked to see it. */
  ask(question) {
    this.cancel();
    this.question = { ...question };
    this.results = null;
    this.render();
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  /** Stop asking (the run moved on, or ended): resolves the question as skipped. */
  cancel() {
    const resolve = this.resolve;
    this.resolve = null;
    this.question = null;
    this.render();
    if (resolve) resolve(null);
  }

  /** A click on the drawing while asking chooses what to predict instead. */
  retarget(selection) {
    const q = this.question;
    if (!q || !this.asking || !selection) return false;
    const same = (t) => t.kind === selection.kind && t.l === selection.l && t.j === selection.j && t.i === selection.i;
    if (this.targets.some(same)) return true; // one of those asked: the question stays
    if (q.kind === "delta" && selection.kind === "unit" && selection.l >= 1 && selection.j >= 1) {
      Object.assign(q, { layer: selection.l, units: [selection.j] });
    } else if (q.kind === "weight" && selection.kind === "edge") {
      Object.assign(q, { layer: selection.l, i: selection.i, j: selection.j });
    } else {
      return false;
    }
    this.render();
    return true;
  }

  // --------------------------------------------------------------------- drawing
  render() {
    const root = this.root;
    root.replaceChildren();
    if (!this.mode) return;
    const score = node("span", { class: "ex-score", id: "ex-score", text: `score ${this.score.right} of ${this.score.asked}` });
    const q = this.question;
    const what = (q ?? this.mode).kind === "weight" ? "the new weight" : "δ";
    root.append(node("h2", { class: "ex-title" }, node("span", { text: `Exercise: predict ${what}` }), score));
    if (!q) {
      if (this.results) root.append(this.resultsView());
      root.append(node("p", { class: "hint ex-waiting", text: this.waiting[this.mode.kind === "weight" ? "weight" : "delta"] }));
      return;
    }
    const targets = q.kind === "delta" ? q.units : [null];
    const intro =
      q.kind === "delta"
        ? `Step ${q.step}${q.exampleLabel ? `, ${q.exampleLabel}` : ""}: the forward beat is done. What is δ = ∂e/∂s of ${targets.length > 1 ? `each unit of layer ${q.layer}` : `unit ${targets[0]} of layer ${q.layer}`}?`
        : `Step ${q.step}: δ is known. What is ${symbolOf(q)} after the update w ← w − η ∂e/∂w?`;
    root.append(node("p", { class: "ex-question", text: intro }));
    const form = node("form", { class: "ex-form", autocomplete: "off" });
    targets.forEach((unit, n) => {
      const id = `ex-value-${n}`;
      const input = node("input", { id, type: "text", inputmode: "decimal", spellcheck: "false", "data-unit": unit ?? "", "aria-label": symbolOf(q, unit), placeholder: "e.g. −0.25" });
      form.append(node("label", { class: "ex-row", for: id }, node("span", { class: "ex-symbol", text: `${symbolOf(q, unit)} =` }), input));
    });
    const checkButton = node("button", { type: "submit", class: "primary", id: "ex-check", text: "Check" });
    const show = node("button", { type: "button", class: "quiet", id: "ex-show", text: "Show me" });
    form.append(node("div", { class: "ex-buttons" }, checkButton, show));
    const note = node("p", { class: "ex-note hint", id: "ex-note", text: q.kind === "delta" ? "Click another unit to predict its δ instead. Correct: within 1 % (or 0.001)." : "Click another line to predict its weight instead. Correct: within 1 % (or 0.001)." });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(form, false);
    });
    show.addEventListener("click", () => this.submit(form, true));
    root.append(form, note);
    if (this.results) root.append(this.resultsView());
    form.querySelector("input")?.focus({ preventScroll: true });
  }

  resultsView() {
    const list = node("div", { class: "ex-results", id: "ex-results", "aria-live": "polite" });
    for (const r of this.results) {
      if (r.error) {
        list.append(node("p", { class: "ex-result wrong", text: r.error }));
        continue;
      }
      const a = r.answer;
      const symbol = symbolOf(a.kind === "delta" ? { kind: "delta", layer: a.layer } : a, a.unit);
      const verdict = r.shown ? "answer" : a.correct ? "✓ right" : "✗ not quite";
      const line = r.shown
        ? `${symbol} = ${num(a.expected, 4)}`
        : a.correct
          ? `${symbol} = ${num(a.expected, 4)} (you: ${r.typed})`
          : `${symbol} = ${num(a.expected, 4)}, you typed ${r.typed}`;
      const item = node(
        "div",
        { class: `ex-result ${r.shown ? "shown" : a.correct ? "right" : "wrong"}`, "data-correct": String(Boolean(a.correct) && !r.shown) },
        node("p", {}, node("b", { text: verdict }), ` ${line}`),
        node("p", { class: "ex-formula", text: a.formula }),
      );
      list.append(item);
    }
    return list;
  }

  async submit(form, shown) {
    if (this.busy || !this.question) return;
    const q = this.question;
    const inputs = [...form.querySelectorAll("input")];
    const values = inputs.map((input) => (shown ? 0 : parseNumber(input.value)));
    const missing = values.findIndex((v) => v === null);
    if (missing >= 0) {
      const note = this.root.querySelector("#ex-note");
      note.textContent = `Type a number for ${inputs[missing].getAttribute("aria-label")}, e.g. −0.25 or 1.2e-3 — or press “Show me”.`;
      note.classList.add("warn");
      inputs[missing].focus();
      return;
    }
    this.busy = true;
    form.querySelectorAll("button, input").forEach((el) => {
      el.disabled = true;
    });
    const results = [];
    for (const [n, input] of inputs.entries()) {
      const body =
        q.kind === "delta"
          ? { kind: "delta", layer: q.layer, unit: Number(input.dataset.unit), example: q.example ?? 0, step: q.step, value: values[n] }
          : { kind: "weight", layer: q.layer, i: q.i, j: q.j, step: q.step, value: values[n] };
      try {
        const answer = await this.check(body);
        results.push({ answer, shown, typed: input.value.trim() });
        this.score.asked += 1;
        if (answer.correct && !shown) this.score.right += 1;
      } catch (error) {
        results.push({ error: error.message || String(error) });
      }
    }
    this.save();
    this.busy = false;
    this.results = results;
    const resolve = this.resolve;
    this.resolve = null;
    this.question = null;
    this.render();
    if (resolve) resolve(results);
  }
}

/**
 * Ask on a page with a drawing: the panel asks, the drawing marks what is asked and
 * `show(target)` selects it (the formula panel then says it is the student's turn).
 * Resolves as panel.ask does: the results, or null when the question was cancelled.
 */
export async function askOnDrawing(panel, network, { question, target }, show) {
  const answer = panel.ask(question);
  network.markAsked(panel.targets);
  show(target);
  document.body.dataset.asking = "true";
  try {
    return await answer;
  } finally {
    document.body.dataset.asking = "false";
    network.markAsked([]);
  }
}
