// Controls: buttons, sliders, the exercise chooser, the setup form, the architecture
// editor and the keyboard.
// Each control reports what the user asked for through `actions`; reflect() shows the
// page's state back (which buttons can be pressed now, Play vs Pause, the counter).

import { say, showProgress } from "./chrome.js";
import { $, setText } from "./dom.js";
import { ExerciseChooser } from "./exercise.js";
import { SPEEDS } from "./player.js";
import { getPath } from "./setup.js";

const MAX_HIDDEN_LAYERS = 16;
const MAX_UNITS = 64;

// Words for the API's names in the menus (a name not listed is shown as it is).
const WORDS = {
  relu: "ReLU",
  leaky_relu: "leaky ReLU",
  xavier: "Xavier",
  he: "He",
  squared: "squared error",
  cross_entropy: "cross-entropy",
};
const words = (name) => WORDS[name] ?? name.replace("_", " ");

// Every element the controls touch, found once (when the controls are made: the
// network panel is written by networkpanel.js first).
let dom = null;
const findElements = () => ({
  step: $("#btn-step"),
  forward: $("#btn-forward"),
  backward: $("#btn-backward"),
  update: $("#btn-update"),
  play: $("#btn-play"),
  undo: $("#btn-undo"),
  reset: $("#btn-reset"),
  ffSteps: $("#ff-steps"),
  ff: $("#btn-ff"),
  stop: $("#btn-stop"),
  progress: $("#ff-progress"),
  rate: $("#rate"),
  rateOut: $("#rate-out"),
  speed: $("#speed"),
  speedOut: $("#speed-out"),
  present: $("#btn-present"),
  preset: $("#preset"),
  presetDescription: $("#preset-description"),
  form: $("#setup-form"),
  arch: $("#arch"),
  examplePrev: $("#example-prev"),
  exampleNext: $("#example-next"),
  exercise: $("#exercise-controls"),
});

const PLAY_TITLE = "Step continuously (P)";
const FF_TITLE = "Run that many steps without drawing each one";
const OFF_IN_EXERCISE = "Off in exercise mode: press Space for the next step and its question";

export class Controls {
  constructor(actions) {
    dom = findElements();
    this.actions = actions;
    this.catalogue = null;
    this.hidden = [4];
    const click = (button, action) => button.addEventListener("click", () => action());
    click(dom.step, actions.step);
    click(dom.forward, actions.forward);
    click(dom.backward, actions.backward);
    click(dom.update, actions.update);
    click(dom.play, actions.togglePlay);
    click(dom.undo, actions.undo);
    click(dom.reset, actions.reset);
    click(dom.ff, () => actions.fastForward(Math.max(1, Math.floor(Number(dom.ffSteps.value) || 1))));
    click(dom.stop, actions.stop);
    click(dom.present, actions.togglePresent);
    click(dom.examplePrev, () => actions.showExample(-1));
    click(dom.exampleNext, () => actions.showExample(+1));
    this.exercise = new ExerciseChooser({
      id: "exercise-mode",
      onChange: (mode) => {
        document.activeElement?.blur(); // hand the keyboard back to the shortcuts
        actions.setExercise(mode);
      },
    });
    dom.exercise.append(...this.exercise.elements);
    dom.rate.addEventListener("input", () => {
      dom.rateOut.textContent = `${dom.rate.value}/s`;
      actions.changeView({ rate: Number(dom.rate.value) });
    });
    dom.speed.addEventListener("input", () => {
      const speed = SPEEDS[Number(dom.speed.value)];
      dom.speedOut.textContent = speed === 0 ? "off" : `${speed}×`;
      actions.changeView({ speed });
    });
    dom.preset.addEventListener("change", () => {
      if (dom.preset.value) actions.loadPreset(dom.preset.value);
    });
    // Setup fields apply on "change" (Enter or leaving the field), not on every key.
    dom.form.addEventListener("change", (event) => this.formChanged(event.target));
    dom.form.addEventListener("submit", (event) => event.preventDefault());
    // Enter applies a field and hands the keyboard back to the shortcuts (Space = step).
    dom.form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.matches("input")) {
        event.preventDefault();
        event.target.blur();
      }
    });
    dom.ffSteps.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        dom.ffSteps.blur();
        dom.ff.click();
      }
    });
    document.addEventListener("keydown", (event) => this.key(event));
    // A menu keeps the keyboard after a choice (Space would open it again, F would
    // choose by letter): once chosen, the keyboard goes back to the shortcuts.
    document.addEventListener("change", (event) => {
      if (event.target.matches?.("select")) event.target.blur();
    });
  }

  // ----------------------------------------------------------------- keyboard
  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return; // e.g. Share: keys belong to it
    const target = event.target;
    const typing = target.matches?.("input:not([type=range]):not([type=checkbox]), select, textarea");
    if (typing) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const action = {
      " ": this.actions.step,
      p: this.actions.togglePlay,
      u: this.actions.undo,
      f: this.actions.forward,
      b: this.actions.backward,
      w: this.actions.update,
      m: this.actions.togglePresent,
      e: this.actions.toggleExercise,
      Escape: this.actions.stop,
    }[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (!action) return;
    // Space would also press the focused button (the last one clicked): it means Step.
    event.preventDefault();
    if (!event.repeat || event.key === " ") action();
  }

  // --------------------------------------------------------------- the setup
  /** The menus' choices, from GET /api/catalogue (then the setup is shown again). */
  setCatalogue(catalogue) {
    this.catalogue = catalogue;
    const fill = (select, choices) => {
      select.replaceChildren(...choices.map(([value, text]) => new Option(text, value)));
    };
    const generated = catalogue.datasets.filter((d) => d.parameters.includes("n"));
    fill(dom.form.elements["dataset.name"], generated.map((d) => [d.name, d.regression ? `${d.name} (regression)` : d.name]));
    // your own points are made on the data view (Edit points), not chosen here
    dom.form.elements["dataset.name"].append(Object.assign(new Option("your own points", "custom"), { disabled: true }));
    fill(dom.form.elements.activation, catalogue.activations.map((a) => [a, words(a)]));
    fill(dom.form.elements.output, catalogue.outputs.map((o) => [`${o.output}/${o.loss}`, `${words(o.output)}, ${words(o.loss)}`]));
    fill(dom.form.elements["init.scheme"], catalogue.init_schemes.map((i) => [i, words(i)]));
  }

  /** Show a setup ({config, view}) in the form, the sliders and the architecture editor. */
  fillSetup({ config, view }, dataDim) {
    this.config = config;
    for (const field of dom.form.elements) {
      // never overwrite what the user is typing (a session may land mid-edit)
      if (!field.name || field.name === "output" || field === document.activeElement) continue;
      const value = getPath(config, field.name);
      if (value !== undefined) field.value = value === null ? "" : String(value);
    }
    dom.form.elements.output.value = `${config.output}/${config.loss}`;
    dom.form.elements["dataset.classes"].disabled = !this.hasClasses(config.dataset.name);
    dom.rate.value = String(view.rate);
    dom.rateOut.textContent = `${view.rate}/s`;
    const speedIndex = SPEEDS.indexOf(view.speed);
    dom.speed.value = String(speedIndex >= 0 ? speedIndex : 3);
    dom.speedOut.textContent = view.speed === 0 ? "off" : `${view.speed}×`;
    dom.present.setAttribute("aria-pressed", String(Boolean(view.present)));
    this.hidden = config.layers.slice(1, -1);
    this.inputSize = dataDim ?? config.layers[0];
    this.outputSize = config.layers.at(-1);
    this.renderArch();
  }

  /** The dataset's entry in the catalogue (undefined before the catalogue came). */
  dataset(name) {
    return this.catalogue?.datasets.find((d) => d.name === name);
  }

  /** Does the dataset take a number of classes K? */
  hasClasses(name) {
    return Boolean(this.dataset(name)?.parameters.includes("classes"));
  }

  formChanged(field) {
    if (!field.name || field.closest("#arch")) return;
    if (field.name === "output") {
      const [output, loss] = field.value.split("/");
      this.actions.changeSetup({ output, loss });
      return;
    }
    let value = field.value;
    if (field.type === "number") {
      if (value === "") value = field.name === "dataset.classes" ? null : NaN;
      else value = Number(value);
      if (Number.isNaN(value)) return this.restore(field);
    }
    this.actions.changeSetup({ [field.name]: value });
  }

  /** A blank or unreadable number: the field shows the run's value again, and says so. */
  restore(field) {
    const kept = this.config ? getPath(this.config, field.name) : undefined;
    field.value = kept === undefined || kept === null ? "" : String(kept);
    const name = field.labels?.[0]?.firstChild?.textContent.trim() || field.name;
    say(`The ${name} must be a number: it stays ${field.value}.`, "info");
  }

  // ------------------------------------------------------ architecture editor
  renderArch() {
    const parts = [];
    parts.push(`<span class="fixed" title="set by the data">${this.inputSize} in</span>`);
    this.hidden.forEach((d, n) => {
      parts.push(`<span class="arrow">→</span>`);
      parts.push(
        `<span class="layer" data-layer="${n}">` +
          `<button type="button" class="quiet" data-op="less" aria-label="one unit fewer in hidden layer ${n + 1}">−</button>` +
          `<input type="number" min="1" max="${MAX_UNITS}" value="${d}" aria-label="units in hidden layer ${n + 1}">` +
          `<button type="button" class="quiet" data-op="more" aria-label="one unit more in hidden layer ${n + 1}">+</button>` +
          `<button type="button" class="quiet" data-op="remove" aria-label="remove hidden layer ${n + 1}">✕</button>` +
          `</span>`,
      );
    });
    parts.push(`<span class="arrow">→</span><span class="fixed" title="set by the output">${this.outputSize} out</span>`);
    parts.push(`<button type="button" data-op="add" ${this.hidden.length >= MAX_HIDDEN_LAYERS ? "disabled" : ""}>+ layer</button>`);
    dom.arch.innerHTML = parts.join("");
    dom.arch.querySelectorAll("button").forEach((button) => button.addEventListener("click", () => this.archOp(button)));
    dom.arch.querySelectorAll("input").forEach((input) =>
      input.addEventListener("change", () => {
        const n = Number(input.closest(".layer").dataset.layer);
        const d = Math.round(Number(input.value));
        if (!Number.isFinite(d)) return;
        this.hidden[n] = Math.max(1, Math.min(MAX_UNITS, d));
        this.commitArch();
      }),
    );
  }

  archOp(button) {
    const op = button.dataset.op;
    const n = Number(button.closest(".layer")?.dataset.layer);
    if (op === "add") this.hidden.push(this.hidden.at(-1) ?? 4);
    else if (op === "remove") this.hidden.splice(n, 1);
    else if (op === "more") this.hidden[n] = Math.min(MAX_UNITS, this.hidden[n] + 1);
    else if (op === "less") this.hidden[n] = Math.max(1, this.hidden[n] - 1);
    this.commitArch(op === "more" || op === "less" ? `[data-layer="${n}"] [data-op="${op}"]` : null);
  }

  commitArch(refocus = null) {
    this.renderArch();
    if (refocus) dom.arch.querySelector(refocus)?.focus();
    this.actions.changeSetup({ hidden: [...this.hidden] });
  }

  setPresets(presets) {
    for (const preset of presets) {
      const option = document.createElement("option");
      option.value = preset.name;
      option.textContent = preset.title || preset.name;
      option.title = preset.description || "";
      dom.preset.append(option);
    }
  }

  showPreset(preset) {
    dom.preset.value = preset?.name ?? "";
    dom.presetDescription.textContent = preset?.description ?? "";
  }

  // ------------------------------------------------------------------ reflect
  /** Enable what can be pressed now and show the numbers of the header. */
  reflect(page) {
    const state = page.session?.state;
    const pending = state?.pending ?? "none";
    const idle = Boolean(state) && !page.busy && !page.fastForwarding;
    const free = idle && !page.playing;
    // while a question is open the step waits for the answer; in exercise mode Play
    // and fast-forward are off (each step asks)
    const stepping = free && !page.asking;
    const exercising = Boolean(page.exercise);
    dom.forward.disabled = !(stepping && pending === "none");
    dom.backward.disabled = !(stepping && pending === "forward");
    dom.update.disabled = !(stepping && pending === "backward");
    dom.step.disabled = !stepping;
    dom.play.disabled = !state || page.fastForwarding || exercising;
    dom.undo.disabled = !free || (pending === "none" && !state.undo_available);
    dom.reset.disabled = !free;
    dom.ff.disabled = !free || pending !== "none" || exercising;
    dom.play.title = exercising ? OFF_IN_EXERCISE : PLAY_TITLE;
    dom.ff.title = exercising ? OFF_IN_EXERCISE : FF_TITLE;
    for (const select of this.exercise.elements) select.disabled = page.fastForwarding;
    document.body.dataset.exercise = exercising ? page.exercise.kind : "off";
    dom.play.setAttribute("aria-pressed", String(page.playing));
    setText(dom.play.firstChild, page.playing ? "Pause " : "Play ");
    dom.stop.hidden = !page.fastForwarding;
    document.body.classList.toggle("fast-forwarding", page.fastForwarding);
    dom.progress.hidden = !page.fastForwarding;
    showProgress(state, page.frame);
    dom.present.setAttribute("aria-pressed", String(Boolean(page.view.present)));
  }

  progress(done, total) {
    dom.progress.max = total;
    dom.progress.value = done;
  }
}
