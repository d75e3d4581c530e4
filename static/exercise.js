// Exercise panel: predict δ_j(l) after the forward beat, or the new weight w_ij(l)
// after the backward beat. The page never computes the answer: each typed number goes
// to the API (`check`), which compares it with the engine's — correct within 1 % or
// 10⁻³ — and sends back the worked formula. The score is this page's own (kept in
// sessionStorage, so a reload keeps it); the server keeps no scores.
//
//   const panel = new ExercisePanel(root, { check: (body) => api call, storageKey });
//   panel.setMode({kind: "delta", layer, unit} | {kind: "weight", layer, i, j} | null);
//   await panel.ask({kind: "delta", step, layer, units: [1, 2], example, exampleLabel});
//   panel.retarget({kind: "unit", l, j})   // a click on the drawing while asking

import { indices, num } from "./format.js";
import { node } from "./dom.js";

const SUBSCRIPT = "₀₁₂₃₄₅₆₇₈₉";
const sub = (...parts) =>
  indices(...parts)
    .split("")
    .map((c) => (c >= "0" && c <= "9" ? SUBSCRIPT[Number(c)] : c))
    .join("");

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

export class ExercisePanel {
  constructor(root, { check, storageKey = "backprop-lab-score" }) {
    this.root = root;
    this.check = check;
    this.storageKey = storageKey;
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
      root.append(
        node("p", {
          class: "hint",
          text:
            this.mode.kind === "weight"
              ? "After the backward beat of the teacher's next step, you type the weight that the update will give. The drawing waits for you."
              : "After the forward beat of the teacher's next step, you type δ before the drawing shows it. The drawing waits for you.",
        }),
      );
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
