// The page's frame around the stage, shared by the main and follow pages: the message
// line under the header, and the stage's height (it fills the window under the header,
// the toolbar and the message, whose heights vary).

import { $ } from "./dom.js";
import { num, percent } from "./format.js";

const CHROME = ["header.topbar", "nav.toolbar", "#message"];

/** Show one sentence under the header: kind "error" (default) or "info". */
export function say(text, kind = "error") {
  const box = $("#message");
  $("#message-text").textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  layoutChrome();
}

export function quiet() {
  if ($("#message").hidden) return;
  $("#message").hidden = true;
  layoutChrome();
}

export function layoutChrome() {
  const chrome = CHROME.map((s) => $(s))
    .filter((n) => n && !n.hidden)
    .reduce((h, n) => h + n.getBoundingClientRect().height, 0);
  document.documentElement.style.setProperty("--chrome", `${Math.ceil(chrome + 28)}px`);
}

window.addEventListener("resize", layoutChrome);

/** The header's numbers: the step, the training error and accuracy, the error of the
 * step on show (a batch's mean), and the batch-example picker under the caption. */
export function showProgress(state, frame) {
  if (state) {
    $("#step-counter").textContent = String(state.step);
    $("#step-counter").dataset.step = String(state.step);
    $("#metric-train-error").textContent = num(state.train_error);
    $("#metric-accuracy").textContent = percent(state.train_accuracy);
  }
  $("#metric-example-error").textContent = frame && frame.error !== undefined ? num(frame.error) : "–";
  const batch = frame?.input?.length ?? 1;
  $("#metric-example-error-label").textContent = batch > 1 ? "mean error on this batch" : "error on this example";
  $("#batch-picker").hidden = batch <= 1;
  if (batch > 1) $("#example-label").textContent = `example ${frame.example + 1} of ${batch}`;
}
