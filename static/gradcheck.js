// The gradient check panel: backprop's G(l) against central differences, per layer,
// and what each cost — "backprop's efficiency, measured".

import { api } from "./api.js";
import { num } from "./format.js";

const AGREE = 1e-6;
const ROUND_OFF = 1e-9;

function cell(tag, text, cls) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function ms(seconds) {
  return seconds < 0.01 ? `${(seconds * 1000).toFixed(2)} ms` : `${(seconds * 1000).toFixed(0)} ms`;
}

export class GradcheckPanel {
  constructor(root, { sessionId, onError }) {
    this.root = root;
    this.sessionId = sessionId;
    this.onError = onError;
    this.button = root.querySelector("#btn-gradcheck");
    this.out = root.querySelector("#gradcheck-result");
    this.button.addEventListener("click", () => this.run());
  }

  clear() {
    this.out.replaceChildren(cell("p", "Compare backprop's gradient with the slow numerical one.", "hint"));
  }

  async run() {
    const id = this.sessionId();
    if (!id) return;
    this.button.disabled = true;
    try {
      this.show(await api.gradcheck(id));
    } catch (error) {
      this.onError(error);
    } finally {
      this.button.disabled = false;
    }
  }

  show(check) {
    const table = document.createElement("table");
    table.className = "gradcheck-table";
    const head = table.createTHead().insertRow();
    for (const h of ["layer", "max relative difference", "max |difference|", ""]) head.append(cell("th", h));
    let roundOff = false;
    const body = table.createTBody();
    for (const layer of check.layers) {
      const row = body.insertRow();
      row.dataset.layer = layer.layer;
      row.dataset.value = layer.max_rel_diff;
      row.append(
        cell("td", String(layer.layer)),
        cell("td", num(layer.max_rel_diff, 3), "num"),
        cell("td", num(layer.max_abs_diff, 3), "num"),
      );
      const ok = layer.max_rel_diff < AGREE;
      // A vanished gradient (say 10⁻⁷) is below what central differences resolve:
      // their round-off (~10⁻¹¹) is then large relative to it, yet tiny in absolute terms.
      const tiny = !ok && layer.max_abs_diff < ROUND_OFF;
      roundOff ||= tiny;
      row.append(cell("td", ok ? "✓" : tiny ? "≈ *" : "✗", ok ? "ok" : tiny ? "tiny" : "bad"));
    }
    const cost = document.createElement("p");
    cost.className = "gradcheck-cost";
    cost.append(
      cell("b", "Backprop: "),
      `${check.backprop_passes} passes, ${ms(check.backprop_seconds)}. `,
      cell("b", "Numerical: "),
      `${check.numerical_passes} forward passes, ${ms(check.numerical_seconds)}`,
      ` (${Math.round(check.numerical_seconds / Math.max(check.backprop_seconds, 1e-9))}× the time).`,
    );
    const parts = [table, cost];
    if (roundOff)
      parts.push(
        cell(
          "p",
          `* The gradient of this layer is so small that the numerical estimate's round-off (differences below ${num(ROUND_OFF)}) is large beside it: the two agree in absolute terms.`,
          "hint",
        ),
      );
    this.out.replaceChildren(...parts);
    this.out.dataset.maxRelDiff = check.max_rel_diff;
  }
}
