// The page's frame around the stage, shared by the main and follow pages: the header's
// step counter, beats and metrics (written here once), the message line under the
// header, and the stage's height (it fills the window under the header, the toolbar
// and the message, whose heights vary).

import { $, setText } from "./dom.js";
import { num, percent } from "./format.js";

const CHROME = ["header.topbar", "nav.toolbar", "#message"];

const PROGRESS = `
  <div class="counter" aria-live="polite">
    <span class="counter-label">step</span>
    <output id="step-counter" class="counter-value">0</output>
  </div>
  <ol class="beats" id="beats" aria-label="The three beats of one SGD step">
    <li data-beat="forward"><span class="beat-n">1</span> Forward <span class="beat-sym">s, x</span></li>
    <li data-beat="backward"><span class="beat-n">2</span> Backward <span class="beat-sym">δ</span></li>
    <li data-beat="update"><span class="beat-n">3</span> Update <span class="beat-sym">Δw = −η x δ</span></li>
  </ol>
  <dl class="metrics">
    <div><dt id="metric-example-error-label">error on this example</dt><dd id="metric-example-error">–</dd></div>
    <div><dt>training error</dt><dd id="metric-train-error">–</dd></div>
    <div><dt>accuracy</dt><dd id="metric-accuracy">–</dd></div>
  </dl>`;

/** Write the header's step counter, beats and metrics into its #progress slot, and
 * the message line under the header (`closable`: with a ✕ to dismiss it). */
export function mountProgress({ closable = false } = {}) {
  $("#progress").innerHTML = PROGRESS;
  const close = `<button type="button" id="message-close" class="quiet" aria-label="Dismiss the message">✕</button>`;
  $("header.topbar").insertAdjacentHTML(
    "afterend",
    `<div id="message" class="message" role="alert" hidden><p id="message-text"></p>${closable ? close : ""}</div>`,
  );
}

/** Show one sentence under the header: kind "error" (default) or "info". */
export function say(text, kind = "error") {
  const box = $("#message");
  $("#message-text").textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  layoutChrome();
}

/** A sentence with a button that does something about it (one click, then quiet). */
export function offer(text, label, action) {
  say(text, "info");
  const button = document.createElement("button");
  button.type = "button";
  button.id = "message-action";
  button.textContent = label;
  button.addEventListener("click", () => {
    quiet();
    action();
  });
  $("#message-text").append(" ", button);
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
    setText($("#step-counter"), String(state.step));
    $("#step-counter").dataset.step = String(state.step);
    setText($("#metric-train-error"), num(state.train_error));
    setText($("#metric-accuracy"), percent(state.train_accuracy));
  }
  setText($("#metric-example-error"), frame && frame.error !== undefined ? num(frame.error) : "–");
  const batch = frame?.input?.length ?? 1;
  setText($("#metric-example-error-label"), batch > 1 ? "mean error on this batch" : "error on this example");
  $("#batch-picker").hidden = batch <= 1;
  if (batch > 1) setText($("#example-label"), `example ${frame.example + 1} of ${batch}`);
}
