// Playground's parity controls, each a small widget that writes through a callback:
// the input features (checkboxes: x(0) from the raw point), the data view's toggles
// (show the test points, discretize the output) and a weight typed by hand.

const FEATURES = ["x1", "x2", "x1²", "x2²", "x1·x2", "sin x1", "sin x2"];
const ONE_D = new Set(["x1", "x1²", "sin x1"]);

/** Checkboxes for the features; change(list or null) when the choice changes. */
export class FeaturePicker {
  constructor(fieldset, { change }) {
    this.fieldset = fieldset;
    this.boxes = FEATURES.map((name) => {
      const label = document.createElement("label");
      label.className = "inline feature";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = name;
      box.addEventListener("change", () => change(this.chosen()));
      label.append(box, ` ${name}`);
      fieldset.append(label);
      return box;
    });
  }

  chosen() {
    const names = this.boxes.filter((b) => b.checked).map((b) => b.value);
    const raw = this.dim === 1 ? ["x1"] : ["x1", "x2"];
    // the raw point is the default: send no features for it
    return names.length === 0 || names.join(",") === raw.join(",") ? null : names;
  }

  /** Show a setup's features; `dim`: the data's dimension (1-D data has no x2). */
  fill(features, dim) {
    this.dim = dim;
    const on = new Set(features ?? (dim === 1 ? ["x1"] : ["x1", "x2"]));
    for (const box of this.boxes) {
      box.checked = on.has(box.value);
      box.disabled = dim > 2 || (dim === 1 && !ONE_D.has(box.value));
    }
  }
}

/** The data view's two toggles, mirrored in `setup.test_points` / `setup.discrete`. */
export class ViewToggles {
  constructor({ showTest, discretize }, { change }) {
    this.showTest = showTest;
    this.discretize = discretize;
    const changed = () => change({ showTest: showTest.checked, discretize: discretize.checked });
    showTest.addEventListener("change", changed);
    discretize.addEventListener("change", changed);
  }

  fill({ showTest, discretize }) {
    this.showTest.checked = Boolean(showTest);
    this.discretize.checked = Boolean(discretize);
  }
}

const WEIGHT_FORM = `
  <form class="weight-edit" id="weight-edit" hidden>
    <label for="weight-value"><span class="weight-name">w</span>
      <input type="number" id="weight-value" step="any" required></label>
    <button type="submit">Set this weight</button>
    <span class="hint">the next step uses it; undo takes it back</span>
  </form>`;

/** A weight typed by hand: shown when a line (or a matrix cell) is selected; written
 * over the drawing's corner, after `after`, on the lab page only (the follow page is
 * read-only);
 * set(selection, value). */
export class WeightEditor {
  constructor(after, { set }) {
    after.insertAdjacentHTML("afterend", WEIGHT_FORM);
    const form = after.nextElementSibling;
    this.form = form;
    this.input = form.querySelector("input");
    this.label = form.querySelector(".weight-name");
    this.selection = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = Number(this.input.value);
      if (this.selection && this.input.value.trim() !== "" && Number.isFinite(value)) set(this.selection, value);
    });
  }

  /** Follow the selection: a line (`edge`) opens the editor with its weight now. */
  show(selection, weights) {
    const edge = selection?.kind === "edge" ? selection : null;
    this.form.hidden = !edge || !weights;
    if (this.form.hidden) {
      this.selection = null;
      return;
    }
    const { l, i, j } = edge;
    const changed = !this.selection || ["l", "i", "j"].some((k) => this.selection[k] !== edge[k]);
    this.selection = { l, i, j };
    this.label.innerHTML = `w<sub>${i}${j}</sub>(${l}) =`;
    if (changed && this.input !== document.activeElement) this.input.value = String(weights[l - 1][i][j - 1]);
  }
}

const EXAMPLE_FIELDS = `
  <fieldset class="example-fieldset" id="example-form">
    <legend>Worked example <span class="hint">your point, from the weights on screen</span></legend>
    <label for="example-x1">x₁ <input type="number" id="example-x1" step="any" value="1"></label>
    <label for="example-x2">x₂ <input type="number" id="example-x2" step="any" value="1"></label>
    <label for="example-y">target y <input type="number" id="example-y" step="any" value="1"></label>
    <button type="button" id="example-use">Train on this point</button>
  </fieldset>`;

/** The lecture's worked example typed in: one point and its target, a fieldset at the
 * end of the setup `form` (its fields have no name: the setup ignores them);
 * use({point, y}). */
export class ExampleForm {
  constructor(form, { use }) {
    form.insertAdjacentHTML("beforeend", EXAMPLE_FIELDS);
    const number = (id) => Number(form.querySelector(id).value);
    this.x2 = form.querySelector("#example-x2");
    form.querySelector("#example-use").addEventListener("click", () => {
      const point = this.dim === 1 ? [number("#example-x1")] : [number("#example-x1"), number("#example-x2")];
      const y = number("#example-y");
      if ([...point, y].every(Number.isFinite)) use({ point, y });
    });
  }

  /** `dim`: the raw point's dimension (1-D data has no x₂). */
  fill(dim) {
    this.dim = dim;
    this.x2.closest("label").hidden = dim !== 2;
  }
}
