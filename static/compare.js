// The compare page (/compare?pair=…): two runs on the same data with the same seed —
// hence the same example at every step — that differ in one setting, stepped together.
// Three charts put them side by side: ‖G(l)‖ per layer over the steps, this step's
// ‖G(l)‖ per layer as grouped bars, and the error. The numbers are the API's; the page
// only places them (it reuses the API client, the number format, the layer colours and
// the charts' layout and ticks). The pairs and a run's record of its numbers: comparepairs.js.

import { api, ApiError } from "./api.js";
import { $ } from "./dom.js";
import { num, percent } from "./format.js";
import { CompareCharts } from "./comparecharts.js";
import { configsOf, DEFAULT_PAIR, describe, newRun, noteTrain, PAIRS, pairFromUrl, record } from "./comparepairs.js";

const CHUNK = 250; // steps per /train call while fast-forwarding
const RECORD_EVERY = 5; // a fast-forward point is the mean of this many steps
const PLAY_MS = 200; // Play: at most five steps of both runs per second

const page = {
  pair: DEFAULT_PAIR,
  runs: [], // [{key, id, config, name, step, steps[], norms[l][], errSteps[], err[], trainSteps[], train[], last}]
  depth: 0,
  busy: false,
  playing: false,
  ffStop: false,
  ffRunning: false,
  generation: 0, // bumps on every new pair: answers for an old pair are dropped
};
window.backpropCompare = page; // for the browser tests and the curious

// A card per run: its name, its config and its numbers (renderRuns fills them in).
$(".cmp-runs").insertAdjacentHTML(
  "beforeend",
  ["a", "b"]
    .map(
      (key) => `<article class="cmp-run" id="run-${key}" data-run="${key}">
        <h2><span class="cmp-swatch ${key}" aria-hidden="true"></span>${key.toUpperCase()} · <span class="run-name">…</span></h2>
        <p class="run-config">…</p>
        <dl>
          <div><dt>step</dt><dd class="run-step">0</dd></div>
          <div><dt>example used</dt><dd class="run-example">–</dd></div>
          <div><dt>error on it</dt><dd class="run-error">–</dd></div>
          <div><dt>training error</dt><dd class="run-train">–</dd></div>
          <div><dt>accuracy</dt><dd class="run-accuracy">–</dd></div>
        </dl>
      </article>`,
    )
    .join(""),
);
const charts = new CompareCharts(page);
const drawAll = () => charts.drawAll();
const paintRamp = () => charts.paintRamp();

// ------------------------------------------------------------------ setup
async function choose(pairKey) {
  stopAll();
  page.generation += 1;
  const generation = page.generation;
  page.pair = pairKey;
  $("#pair").value = pairKey;
  const url = new URL(location.href);
  url.searchParams.set("pair", pairKey);
  history.replaceState(null, "", url);
  $("#caption").textContent = PAIRS[pairKey].caption;
  document.body.dataset.ready = "false";
  const old = page.runs;
  page.runs = [];
  for (const run of old) api.remove(run.id).catch(() => {});
  hideMessage();
  setBusy(true);
  try {
    const configs = await configsOf(pairKey);
    const sessions = await Promise.all(configs.map((c) => api.create(c)));
    if (generation !== page.generation) {
      sessions.forEach((s) => api.remove(s.id).catch(() => {}));
      return;
    }
    page.runs = sessions.map((s, k) => newRun(k ? "b" : "a", s, PAIRS[pairKey].names[k]));
    page.depth = Math.max(...page.runs.map((r) => r.norms.length));
    renderRuns();
    renderSame(null);
    drawAll();
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error);
  } finally {
    if (generation === page.generation) setBusy(false);
  }
}

// ------------------------------------------------------------------ stepping
function setBusy(busy) {
  page.busy = busy;
  document.body.dataset.busy = String(busy);
  const ready = page.runs.length === 2;
  $("#btn-step").disabled = busy || page.ffRunning || !ready;
  $("#btn-ff").disabled = busy || page.ffRunning || page.playing || !ready;
  $("#btn-play").disabled = page.ffRunning || !ready;
}

/** One SGD step of both runs; false if either refused it. */
async function stepBoth() {
  if (page.busy || page.runs.length !== 2) return false;
  const generation = page.generation;
  setBusy(true);
  let ok = true;
  try {
    const answers = await Promise.allSettled(page.runs.map((run) => api.step(run.id)));
    if (generation !== page.generation) return false;
    const problems = [];
    answers.forEach((answer, k) => {
      const run = page.runs[k];
      if (answer.status === "rejected") {
        problems.push(`Run ${run.key.toUpperCase()} (${run.name}): ${answer.reason.message}`);
        if (answer.reason.expired) problems.push("Reload the page to start both runs afresh.");
        ok = false;
        return;
      }
      const out = answer.value;
      if (out.diverged) {
        problems.push(`Run ${run.key.toUpperCase()} (${run.name}) refused step ${out.step + 1}: ${out.message}`);
        run.last = null;
        ok = false;
        return;
      }
      run.last = out;
      record(run, [out.step], [out.layers.map((l) => l.grad_norm)], [out.error]);
      noteTrain(run, out.state);
    });
    if (problems.length) showMessage(problems.join(" "));
    else hideMessage();
    renderRuns();
    renderSame(answers.every((a) => a.status === "fulfilled" && !a.value.diverged) ? answers.map((a) => a.value) : null);
    drawAll();
  } finally {
    if (generation === page.generation) setBusy(false);
  }
  return ok;
}

async function play() {
  if (page.playing) {
    page.playing = false;
    $("#btn-play").setAttribute("aria-pressed", "false");
    setBusy(page.busy);
    return;
  }
  page.playing = true;
  $("#btn-play").setAttribute("aria-pressed", "true");
  setBusy(page.busy);
  while (page.playing) {
    const started = performance.now();
    const ok = await stepBoth();
    if (!ok) break;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, PLAY_MS - (performance.now() - started))));
  }
  page.playing = false;
  $("#btn-play").setAttribute("aria-pressed", "false");
  setBusy(page.busy);
}

/** N steps of both runs, CHUNK steps a call, with progress; Stop ends it between calls. */
async function fastForward() {
  const total = Math.floor(Number($("#ff-steps").value));
  if (!(total >= 1)) {
    showMessage("Type how many steps to fast-forward: a whole number, 1 or more.");
    return;
  }
  if (page.busy || page.runs.length !== 2) return;
  const generation = page.generation;
  const targets = page.runs.map((run) => run.step + total);
  page.ffRunning = true;
  page.ffStop = false;
  $("#btn-stop").hidden = false;
  $("#ff-progress").hidden = false;
  $("#ff-progress").value = 0;
  setBusy(true);
  hideMessage();
  try {
    while (!page.ffStop) {
      const asks = page.runs.map((run, k) => Math.min(CHUNK, targets[k] - run.step));
      if (asks.every((n) => n <= 0)) break;
      const answers = await Promise.allSettled(
        page.runs.map((run, k) => (asks[k] > 0 ? api.train(run.id, asks[k], RECORD_EVERY) : Promise.resolve(null))),
      );
      if (generation !== page.generation) return;
      const problems = [];
      answers.forEach((answer, k) => {
        const run = page.runs[k];
        if (answer.status === "rejected") {
          problems.push(`Run ${run.key.toUpperCase()} (${run.name}): ${answer.reason.message}`);
          return;
        }
        const out = answer.value;
        if (!out) return;
        const h = out.history;
        record(run, h.step, h.grad_norm, h.error);
        noteTrain(run, out.state);
        run.last = null;
        if (out.diverged) problems.push(`Run ${run.key.toUpperCase()} (${run.name}) stopped at step ${out.step}: ${out.message}`);
      });
      const done = Math.min(...page.runs.map((run, k) => 1 - (targets[k] - run.step) / total));
      $("#ff-progress").value = Math.max(0, Math.min(1, done));
      renderRuns();
      drawAll();
      if (problems.length) {
        showMessage(problems.join(" "));
        break;
      }
    }
    renderSame(null, true);
  } finally {
    page.ffRunning = false;
    $("#btn-stop").hidden = true;
    $("#ff-progress").hidden = true;
    if (generation === page.generation) setBusy(false);
  }
}

function stopAll() {
  page.playing = false;
  page.ffStop = true;
  $("#btn-play").setAttribute("aria-pressed", "false");
}

// ------------------------------------------------------------------ words and numbers
function renderRuns() {
  page.runs.forEach((run) => {
    const card = $(`#run-${run.key}`);
    card.querySelector(".run-name").textContent = run.name;
    card.querySelector(".run-config").textContent = describe(run.config);
    card.querySelector(".run-step").textContent = String(run.step);
    card.querySelector(".run-example").textContent = run.last ? `#${run.last.indices.join(", #")}` : "–";
    card.querySelector(".run-error").textContent = run.last ? num(run.last.error) : "–";
    card.querySelector(".run-train").textContent = num(run.train.at(-1));
    card.querySelector(".run-accuracy").textContent = percent(run.accuracy);
  });
}

function renderSame(outs, afterFastForward = false) {
  const out = $("#same-example");
  if (afterFastForward) {
    const [a, b] = page.runs;
    out.dataset.state = a.step === b.step ? "same" : "different";
    out.textContent = a.step === b.step ? `both at step ${a.step}, same examples` : `A at step ${a.step}, B at step ${b.step}`;
    return;
  }
  if (!outs) {
    out.dataset.state = "none";
    out.textContent = "no step yet";
    return;
  }
  const [a, b] = outs.map((o) => o.indices.join(", #"));
  out.dataset.state = a === b ? "same" : "different";
  out.textContent = a === b ? `same example #${a}` : `different examples: A #${a}, B #${b}`;
}

function showMessage(text) {
  const box = $("#message");
  box.textContent = text;
  box.hidden = false;
}

function hideMessage() {
  $("#message").hidden = true;
}

function showError(error) {
  showMessage(error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`);
}

// ------------------------------------------------------------------ wiring
function isTyping(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement;
}

function wire() {
  $("#pair").addEventListener("change", (event) => choose(event.target.value).then(paintRamp));
  $("#btn-step").addEventListener("click", () => stepBoth());
  $("#btn-play").addEventListener("click", () => play());
  $("#btn-ff").addEventListener("click", () => fastForward());
  $("#btn-stop").addEventListener("click", () => {
    page.ffStop = true;
  });
  $("#ff-steps").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      event.target.blur();
      fastForward();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    if (event.key === " ") {
      event.preventDefault(); // Space means Step, not "press the focused button"
      if (!page.playing && !page.ffRunning) stepBoth();
    } else if (event.key === "p" || event.key === "P") {
      if (!page.ffRunning) play();
    } else if (event.key === "Escape") {
      stopAll();
    }
  });
}

wire();
choose(pairFromUrl()).then(paintRamp);
