// Backprop Lab's page: one state object (`page`), one loop (API call → beats → redraw).
// Modules by job: api.js (the server), setup.js (the setup and the URL), network.js
// (the drawing), formula.js (the formula panel), dataview.js, charts.js, controls.js,
// exercise.js (exercise mode: the page hides a number, the student predicts it).

import { api, ApiError } from "./api.js";
import { BoundaryChart } from "./boundary.js";
import { GradientChart } from "./charts.js";
import { paintScaleLegend } from "./colors.js";
import { $, Controls } from "./controls.js";
import { DataView } from "./dataview.js";
import { ErrorChart } from "./errorchart.js";
import { askOnDrawing, ExercisePanel, modeFromText, modeText, questionFor } from "./exercise.js";
import { ExportLinks } from "./exports.js";
import { GradcheckPanel } from "./gradcheck.js";
import { HiddenUnits } from "./hiddenunits.js";
import { FormulaPanel } from "./formula.js";
import { NetworkView } from "./network.js";
import { RepresentationChart } from "./representation.js";
import { configOf, needsNewSession, readSetup, setupFromConfig, writeSetup } from "./setup.js";
import { mountShareButton } from "./share.js";
import { StepChart } from "./stepchart.js";
import { FeaturePicker, ViewToggles, WeightEditor } from "./teaching.js";
import { Timeline } from "./timeline.js";
import { frameOf, shiftExample, weightsBeforeOf } from "./trace.js";

const BEAT_MS = 450; // time per layer of a beat at 1× (the time of one layer lighting up)
const BEAT_MAX_MS = 2400; // … but a beat of a deep network takes at most this long at 1×
const MIN_BEAT_MS = 45; // below this a beat is not animated: the drawing jumps
const FF_CHUNK = 500; // steps per POST …/train while fast-forwarding

const CAPTIONS = {
  idle: 'Press <kbd>Space</kbd> for one SGD step, or <kbd>F</kbd> for its first beat.',
  forward:
    '<b>1 · Forward.</b> Each layer in turn: <span class="math">s<sub>j</sub>(l) = Σ<sub>i</sub> w<sub>ij</sub>(l) x<sub>i</sub>(l−1)</span>, then <span class="math">x<sub>j</sub>(l) = θ(s<sub>j</sub>(l))</span>.',
  backward:
    '<b>2 · Backward.</b> δ from the output back: <span class="math">δ<sub>i</sub>(l−1) = θ′(s<sub>i</sub>(l−1)) Σ<sub>j</sub> w<sub>ij</sub>(l) δ<sub>j</sub>(l)</span>.',
  update:
    '<b>3 · Update.</b> Each line: <span class="math">Δw<sub>ij</sub>(l) = −η x<sub>i</sub>(l−1) δ<sub>j</sub>(l)</span>, new width.',
  fastforward: "<b>Fast-forward.</b> The server runs the steps; the lines show the weights.",
  ask: "<b>Your turn:</b> type your prediction.",
};

// The page's state: everything the controls and the drawing read.
const page = {
  setup: readSetup(location.search),
  session: null, // {id, config, state} from the API
  info: null, // {activation, output, loss, encoding, classes}
  dataset: null,
  frame: null, // the numbers on show: one step's trace (or its beats so far)
  phase: "idle", // the beat on show
  weights: null, // W(1) … W(L) now (sessions and /train send them; a step's trace has W after)
  weightsBefore: null, // W the shown step started from (for the formulas)
  pinned: null, // training example chosen for the next step
  selection: null,
  busy: false, // a request is out
  playing: false,
  fastForwarding: false,
  stopRequested: false,
  traces: [], // recent steps, so that undo can show the step before
  presets: [],
  exercise: null, // exercise mode (the API's ExerciseMode), or null: off
  lastExercise: { kind: "delta" }, // what E turns on
  practising: false, // exercise mode is stepping (it may be waiting for an answer)
  asking: false, // a question is open: the step waits for the answer
};

const timeline = new Timeline();
const network = new NetworkView($("#network"), { onSelect: (s) => select(s) });
const formula = new FormulaPanel($("#formula"));
const dataView = new DataView($("#data-view"), { onPick: (i) => pick(i) });
const chart = new GradientChart($("#chart-grad"));
const stepChart = new StepChart($("#chart-step"), $("#step-note"));
const errorChart = new ErrorChart($("#chart-error"));
const hiddenUnits = new HiddenUnits($("#hidden-units"), $("#hidden-note"), {
  swatch: $("#hidden-scale"),
  lo: $("#hidden-lo"),
  hi: $("#hidden-hi"),
});
const representation = new RepresentationChart($("#chart-representation"), $("#rep-note"), $("#rep-layer"), { onPick: (i) => pick(i) });
const boundary = new BoundaryChart($("#chart-boundary"), {
  onPick: (i) => pick(i),
  onGrid: (g) => {
    hiddenUnits.show(g);
    representation.refresh(); // what the output layer sees moves with each step too
  },
});
const liveCharts = [chart, stepChart, errorChart, boundary, representation];
// issue #16: input features, the data view's toggles, a weight typed by hand
const featurePicker = new FeaturePicker($("#features"), { change: (features) => changeSetup({ features }) });
const viewToggles = new ViewToggles(
  { showTest: $("#show-test"), discretize: $("#discretize") },
  {
    change: (options) => {
      boundary.setOptions(options);
      representation.setOptions(options);
      changeView(options);
    },
  },
);
const weightEditor = new WeightEditor($("#weight-edit"), { set: (edge, value) => run(() => setWeight(edge, value)) });
const gradcheck = new GradcheckPanel($("#card-tools"), {
  sessionId: () => page.session?.id,
  onError: (error) => handle(error),
});
const exportLinks = new ExportLinks($("#exports"));
const exercise = new ExercisePanel($("#exercise"), {
  check: (prediction) => api.checkExercise(page.session.id, prediction),
  storageKey: "backprop-lab-score:alone",
  waiting: {
    delta: "Press Space for the next step: after its forward beat you type δ before the drawing shows it. Click a unit while asked to predict its δ instead.",
    weight: "Press Space for the next step: after its backward beat you type the weight its update will give. Click a line first to choose which one.",
  },
});
// the gradient chart's switch: ‖G(l)‖ or mean |δ(l)|, and smoothing
const chartView = () => chart.setView($("#grad-quantity").value, $("#grad-smooth").checked);
$("#grad-quantity").addEventListener("change", chartView);
$("#grad-smooth").addEventListener("change", chartView);
const controls = new Controls({
  step: () => (page.exercise ? practise(true) : run(step)),
  forward: () => (page.exercise ? practise(false, "none") : run(forwardBeat)),
  backward: () => (page.exercise ? practise(false, "forward") : run(backwardBeat)),
  update: () => (page.exercise ? practise(false, "backward") : run(updateBeat)),
  togglePlay,
  setExercise,
  toggleExercise: () => setExercise(page.exercise ? null : page.lastExercise),
  undo: () => run(undo),
  reset: () => run(reset),
  fastForward: (n) => fastForward(n),
  stop,
  togglePresent,
  changeSetup,
  changeView,
  loadPreset,
  showExample,
});

// ------------------------------------------------------------------ messages
function say(text, kind = "error") {
  const box = $("#message");
  $("#message-text").textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  layoutChrome();
}

function quiet() {
  $("#message").hidden = true;
  layoutChrome();
}
$("#message-close").addEventListener("click", quiet);

/** Run an action unless another is under way; API errors become sentences on the page. */
async function run(action) {
  if (page.busy || page.fastForwarding) return false;
  timeline.finish(); // a key pressed mid-animation jumps to the end of the beat
  page.busy = true;
  refresh();
  try {
    await action();
    return true;
  } catch (error) {
    await handle(error);
    return false;
  } finally {
    page.busy = false;
    refresh();
  }
}

async function handle(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    say(`Something went wrong on the page: ${error.message}`);
    return;
  }
  if (error.expired) {
    stopPlaying();
    // The server forgot the session (idle too long or restarted): start again from the URL.
    page.session = null; // nothing to delete
    await startSession(page.setup).catch(() => {});
    say("The session had expired, so a new one was started from the setup in the address bar (step 0).", "info");
    return;
  }
  stopPlaying();
  say(error.message);
}

// ------------------------------------------------------------------ sessions
function dataDim(setup) {
  return setup.features?.length || rawDim(setup);
}

function rawDim(setup) {
  return setup.data === "sine" ? 1 : 2;
}

/** Layer sizes consistent with the data and the output (d(0) and d(L) are not free). */
function consistentLayers(setup, hidden = setup.layers.slice(1, -1)) {
  const out = setup.output === "softmax" ? setup.classes ?? 2 : 1;
  return [dataDim(setup), ...hidden, out];
}

async function startSession(setup) {
  const created = await api.create(configOf(setup));
  exercise.cancel(); // a question about the old run has no answer any more
  const old = page.session;
  page.session = created;
  page.weights = created.state.weights;
  page.setup = { ...setupFromConfig(created.config, setup) };
  writeUrl();
  if (old && old.id !== created.id) {
    for (const view of [boundary, representation]) view.detach(); // no request for the old id
    api.remove(old.id).catch(() => {});
  }
  page.dataset = await api.dataset(created.id);
  const c = created.config;
  page.info = {
    activation: c.activation,
    output: c.output,
    loss: c.loss,
    encoding: page.dataset.encoding,
    classes: page.dataset.classes,
  };
  page.frame = null;
  page.phase = "idle";
  page.traces = [];
  page.pinned = null;
  page.selection = { kind: "unit", l: c.layers.length - 1, j: 1 };
  network.build(c.layers, page.info);
  network.setWeights(created.state.weights);
  network.select(page.selection, false);
  dataView.setData(page.dataset);
  markExamples([], null);
  chart.reset(c.layers.length - 1);
  stepChart.setActivation(c.activation);
  stepChart.clear();
  errorChart.clear(page.dataset.classes > 0);
  errorChart.add(created.state);
  gradcheck.clear();
  hiddenUnits.setActivation(c.activation, c.layers[0]);
  boundary.setSession(created.id, page.dataset, page.info);
  representation.setLayers(c.layers);
  representation.setSession(created.id, page.dataset, page.info);
  $("#card-representation").hidden = rawDim(page.setup) !== 2;
  featurePicker.fill(c.features, rawDim(page.setup));
  viewToggles.fill(page.setup);
  boundary.setOptions(page.setup);
  representation.setOptions(page.setup);
  weightEditor.show(null);
  if (created.state.step > 0) await loadHistory();
  controls.fillSetup(page.setup, dataDim(page.setup));
  controls.exercise.setSizes(c.layers);
  if (page.exercise) setExercise(controls.exercise.mode); // a layer or unit this network has
  legend();
  setBeat("idle");
}

// The chart shows each step while there are few; beyond CHART_POINTS it shows the
// server's history averaged down to CHART_POINTS points (exact means over the steps
// each point covers), fetched at most once a second.
const CHART_POINTS = 400;
let historyDue = 0;

async function loadHistory() {
  historyDue = performance.now() + 1000;
  const history = await api.history(page.session.id, 0, CHART_POINTS);
  chart.setHistory(history);
}

function chartStep(trace) {
  chart.append([trace.step], [trace.layers.map((l) => l.grad_norm)], [trace.layers.map((l) => l.delta_mean_abs)]);
  stepChart.show(trace);
  errorChart.add(trace.state);
  boundary.refresh();
  if (chart.steps.length > CHART_POINTS * 1.5 && performance.now() > historyDue) {
    loadHistory().catch(() => {});
  }
}

function writeUrl() {
  const query = writeSetup(page.setup);
  if (query !== location.search) history.replaceState(null, "", query);
}

async function changeSetup(change) {
  // A change made while a request is out (say, a second field edited quickly) waits
  // its turn instead of being dropped.
  while (page.busy || page.fastForwarding) await sleep(20);
  const next = { ...page.setup, ...change };
  if (change.data !== undefined && rawDim(next) !== rawDim(page.setup)) next.features = null; // x2 may not exist
  if (change.data !== undefined || change.hidden || change.output || change.classes !== undefined || change.features !== undefined) {
    next.layers = consistentLayers(next, change.hidden ?? page.setup.layers.slice(1, -1));
  }
  if (next.output === "softmax" && !["spiral", "blobs"].includes(next.data) && change.output) {
    // softmax on a two-class set is fine: two output units, one per class
    next.layers = consistentLayers({ ...next, classes: 2 });
  }
  delete next.hidden;
  controls.showPreset(null);
  if (needsNewSession(page.setup, next)) {
    await run(async () => {
      stopPlaying();
      await startSession(next);
      quiet();
    });
    controls.fillSetup(page.setup, dataDim(page.setup));
    return;
  }
  const patch = {};
  if (next.eta !== page.setup.eta) patch.learning_rate = next.eta;
  if (next.batch !== page.setup.batch) patch.batch_size = next.batch;
  if (next.reg !== page.setup.reg || next.lambda !== page.setup.lambda)
    patch.regularization = { kind: next.reg, strength: next.lambda };
  if (Object.keys(patch).length) {
    const ok = await run(async () => {
      const answer = await api.patch(page.session.id, patch);
      page.session = answer;
      page.weights = answer.state.weights;
      page.setup = { ...setupFromConfig(answer.config, page.setup) };
      writeUrl();
      quiet();
    });
    if (!ok) controls.fillSetup(page.setup, dataDim(page.setup));
  }
}

function changeView(change) {
  page.setup = { ...page.setup, ...change };
  writeUrl();
}

async function loadPreset(name) {
  const preset = page.presets.find((p) => p.name === name);
  if (!preset) return;
  const ok = await run(async () => {
    stopPlaying();
    await startSession(setupFromConfig(preset.config, page.setup));
    quiet();
  });
  controls.showPreset(ok ? preset : null);
}

// -------------------------------------------------------------------- frames
function setBeat(beat) {
  page.phase = beat;
  document.body.dataset.beat = beat;
  $("#beat-caption").innerHTML = CAPTIONS[beat] ?? CAPTIONS.idle;
}

/** Milliseconds per layer for a beat: the speed setting, shortened to fit `budget`. */
function beatMs(budget = Infinity) {
  const speed = page.setup.speed;
  if (!speed) return 0;
  const layers = page.session.config.layers.length;
  let ms = Math.min(BEAT_MS, BEAT_MAX_MS / layers) / speed;
  const stepLength = ms * (2 * layers + 1);
  if (stepLength > budget * 0.85) ms = (budget * 0.85) / (2 * layers + 1);
  return ms < MIN_BEAT_MS ? 0 : ms;
}

async function playBeat(beat, events, ms) {
  setBeat(beat);
  renderFormula(); // the formulas of this beat, while the drawing plays it
  document.body.dataset.animating = String(ms > 0);
  const svg = $("#network");
  svg.classList.toggle("still", ms === 0);
  svg.style.setProperty("--t-fill", `${Math.round(ms * 0.45)}ms`);
  svg.style.setProperty("--t-edge", `${Math.round(ms * 0.9)}ms`);
  const hold = ms > 0 ? ms * 0.9 : 0;
  const last = events.reduce((t, e) => Math.max(t, e.at), 0);
  for (const c of liveCharts) c.hold(ms > 0);
  await timeline.play(events, last + hold);
  for (const c of liveCharts) c.hold(false);
  document.body.dataset.animating = "false";
  refresh();
}

// --------------------------------------------------------------------- steps
function nextIndices() {
  if (page.pinned === null) return undefined;
  const indices = [page.pinned];
  pick(null); // a picked point is used by one step
  return indices;
}

async function step(budget = Infinity) {
  const pending = page.session.state.pending;
  if (pending === "forward") await backwardBeat(budget);
  if (pending === "forward" || pending === "backward") return updateBeat(budget);
  const known = page.weights;
  const trace = await api.step(page.session.id, nextIndices());
  if (trace.diverged) return diverged(trace);
  page.session.state = trace.state;
  page.weightsBefore = weightsBeforeOf(trace, known);
  page.weights = trace.layers.map((layer) => layer.weights);
  page.frame = frameOf(trace, page.frame?.example ?? 0);
  remember(trace);
  chartStep(trace);
  markExamples(trace.indices, page.pinned);
  refresh();
  const ms = beatMs(budget);
  const frame = page.frame;
  if (ms === 0) {
    showStill(frame);
    return true;
  }
  await playBeat("forward", network.forwardEvents(frame, ms), ms);
  await playBeat("backward", network.backwardEvents(frame, ms), ms);
  await playBeat("update", network.updateEvents(frame, page.weights, ms), ms);
  return true;
}

/** A whole step at once, without animation (animation off, or Play too fast for it). */
function showStill(frame) {
  const svg = $("#network");
  svg.classList.add("still");
  network.frame = frame;
  network.phase = "update";
  network.clearEdgeLabels();
  network.paintAll("update");
  network.setWeights(page.weights);
  setBeat("update");
  document.body.dataset.animating = "false";
  // In fast Play nobody reads the formulas of every step: draw them a few times a second.
  if (page.playing && page.setup.rate > 4) scheduleFormula();
  else renderFormula();
}

let formulaTimer = null;
function scheduleFormula() {
  if (formulaTimer !== null) return;
  formulaTimer = setTimeout(() => {
    formulaTimer = null;
    renderFormula();
  }, 200);
}

async function forwardBeat() {
  if (page.session.state.pending !== "none") return;
  const answer = await api.forward(page.session.id, nextIndices());
  page.session.state = { ...page.session.state, pending: "forward" };
  page.weightsBefore = page.weights;
  page.frame = {
    example: Math.min(page.frame?.example ?? 0, answer.input.length - 1),
    step: answer.step,
    indices: answer.indices,
    input: answer.input,
    target: answer.target,
    error: answer.error,
    layers: answer.layers.map((l) => ({ s: l.s, x: l.x })),
  };
  markExamples(answer.indices, page.pinned);
  refresh();
  const ms = beatMs();
  await playBeat("forward", network.forwardEvents(page.frame, ms), ms);
}

async function backwardBeat() {
  if (page.session.state.pending !== "forward") return;
  const answer = await api.backward(page.session.id);
  page.session.state = { ...page.session.state, pending: "backward" };
  page.frame = {
    ...page.frame,
    layers: page.frame.layers.map((layer, n) => ({ ...layer, ...answer.layers[n] })),
  };
  const ms = beatMs();
  await playBeat("backward", network.backwardEvents(page.frame, ms), ms);
}

async function updateBeat(budget = Infinity) {
  if (page.session.state.pending !== "backward") return false;
  const known = page.weightsBefore;
  const trace = await api.update(page.session.id);
  if (trace.diverged) return diverged(trace);
  page.session.state = trace.state;
  page.weightsBefore = weightsBeforeOf(trace, known);
  page.weights = trace.layers.map((layer) => layer.weights);
  page.frame = frameOf(trace, page.frame?.example ?? 0);
  remember(trace);
  chartStep(trace);
  refresh();
  const ms = beatMs(budget);
  await playBeat("update", network.updateEvents(page.frame, page.weights, ms), ms);
  return true;
}

function diverged(trace) {
  page.session.state = trace.state;
  stopPlaying();
  say(trace.message || "The step was refused: the numbers stopped being finite. Lower the learning rate η.");
  return false;
}

function remember(trace) {
  // Keep the last steps for undo to show, within about a million numbers.
  const weights = trace.layers.reduce((n, layer) => n + layer.weights.length * layer.weights[0].length, 0);
  const keep = Math.max(1, Math.min(20, Math.floor(1e6 / (4 * weights))));
  page.traces.push({ trace, before: page.weightsBefore });
  while (page.traces.length > keep) page.traces.shift();
}

async function undo() {
  const answer = await api.undo(page.session.id);
  exercise.cancel(); // undo cancels a step in progress, and its question
  const wasPending = page.session.state.pending !== "none";
  page.session = answer;
  page.weights = answer.state.weights;
  const step = answer.state.step;
  if (!wasPending) {
    page.traces = page.traces.filter((t) => t.trace.step <= step);
    chart.truncate(step);
    errorChart.truncate(step);
    if (step > CHART_POINTS) await loadHistory();
  }
  errorChart.add(answer.state);
  boundary.refresh(true);
  network.setWeights(page.weights);
  const last = page.traces.at(-1);
  if (last && last.trace.step === step) {
    // show the step we are back at, as it was
    page.frame = frameOf(last.trace, page.frame?.example ?? 0);
    page.weightsBefore = last.before;
    network.frame = page.frame;
    network.paintAll("update");
    setBeat("update");
    markExamples(last.trace.indices, page.pinned);
    stepChart.show(last.trace);
  } else {
    clearFrame();
  }
  renderFormula();
  quiet();
}

async function reset() {
  stopPlaying();
  const answer = await api.reset(page.session.id);
  exercise.cancel();
  page.session = answer;
  page.weights = answer.state.weights;
  page.traces = [];
  network.setWeights(page.weights);
  chart.reset(answer.config.layers.length - 1);
  errorChart.clear();
  errorChart.add(answer.state);
  boundary.refresh(true);
  clearFrame();
  renderFormula();
  quiet();
}

function clearFrame() {
  page.frame = null;
  stepChart.clear();
  page.weightsBefore = null;
  network.clearValues();
  setBeat("idle");
  markExamples([], page.pinned);
}

// ----------------------------------------------------------- play and fast-forward
function togglePlay() {
  if (page.playing) {
    stopPlaying();
    return;
  }
  if (page.exercise) {
    say(`Play and fast-forward are off in exercise mode: each step asks you, so press Space for the next one (E turns exercise mode off).`, "info");
    return;
  }
  if (!page.session || page.fastForwarding) return;
  page.playing = true;
  refresh();
  playLoop();
}

function stopPlaying() {
  if (!page.playing) return;
  page.playing = false;
  refresh();
}

async function playLoop() {
  // wait for a step already under way (e.g. Space pressed just before P)
  while (page.busy) await sleep(10);
  while (page.playing) {
    const started = performance.now();
    const budget = 1000 / page.setup.rate;
    const ok = await run(() => step(budget));
    if (!ok) {
      stopPlaying();
      break;
    }
    const left = budget - (performance.now() - started);
    // Behind schedule, go straight on: waiting for the response of the next step
    // leaves the browser the time to paint this one.
    if (left > 1) await sleep(left);
  }
}

async function fastForward(total) {
  if (page.busy || page.fastForwarding || !page.session || page.exercise) return;
  stopPlaying();
  timeline.finish();
  page.fastForwarding = true;
  page.stopRequested = false;
  controls.progress(0, total);
  clearFrame();
  setBeat("fastforward");
  refresh();
  const recordEvery = Math.max(1, Math.ceil(Math.min(total, FF_CHUNK) / 50));
  let done = 0;
  try {
    while (done < total && !page.stopRequested) {
      const answer = await api.train(page.session.id, Math.min(FF_CHUNK, total - done), recordEvery);
      done += answer.steps_done;
      page.session.state = answer.state;
      errorChart.add(answer.state);
      boundary.refresh();
      if (answer.state.weights) page.weights = answer.state.weights;
      await loadHistory();
      controls.progress(done, total);
      network.setWeights(page.weights);
      refresh();
      if (answer.diverged) {
        say(answer.message || "The run diverged: lower the learning rate η.");
        break;
      }
      if (answer.steps_done === 0) break;
    }
    if (!page.stopRequested) quiet();
  } catch (error) {
    await handle(error);
  } finally {
    page.fastForwarding = false;
    page.traces = [];
    clearFrame();
    renderFormula();
    refresh();
  }
}

function stop() {
  if (page.fastForwarding) page.stopRequested = true;
  stopPlaying();
  timeline.finish();
}

// ------------------------------------------------------------------ exercise mode
// A student alone practises on their own run: after the forward beat the page asks for
// δ (after the backward beat: for a new weight), which it does not know yet — the step
// goes phase by phase through /forward, /backward, /update, and the API checks the
// answer against the step in progress. Answering reveals: the next beat plays.
const BEATS = { none: ["forward", forwardBeat], forward: ["backward", backwardBeat], backward: ["update", updateBeat] };
const ASKED_AFTER = { forward: "delta", backward: "weight" };

function setExercise(mode) {
  page.exercise = mode;
  if (mode) {
    page.lastExercise = mode;
    stopPlaying(); // each step asks: Play is off in exercise mode
  }
  exercise.setMode(mode); // off: an open question is cancelled, the step waits where it is
  controls.exercise.set(mode);
  changeView({ exercise: modeText(mode) });
  refresh();
}

/**
 * Space (`whole`: to the end of the step) or one beat (F, B, W: from the phase `from`)
 * in exercise mode: after a beat that comes before an asked number, ask and wait; an
 * answer reveals the number by playing the next beat.
 */
async function practise(whole, from = page.session?.state.pending) {
  if (page.asking) {
    $("#exercise input")?.focus(); // the keyboard belongs to the question
    return;
  }
  if (page.practising) {
    timeline.finish(); // a key pressed mid-animation jumps to the end of the beat
    return;
  }
  if (!page.session || page.session.state.pending !== from) return;
  page.practising = true;
  try {
    for (let reveal = false; ; reveal = !whole) {
      const [beat, play] = BEATS[page.session.state.pending];
      if (!(await run(play)) || beat === "update" || reveal) return;
      const answered = await askAfter(beat);
      if (answered === null || (!whole && !answered)) return;
    }
  } finally {
    page.practising = false;
  }
}

/** After `beat`, ask what the mode asks there: true when answered, null when cancelled. */
async function askAfter(beat) {
  const mode = page.exercise;
  if (!mode || mode.kind !== ASKED_AFTER[beat] || !page.frame?.layers?.length) return false;
  page.asking = true;
  refresh();
  $("#beat-caption").innerHTML = CAPTIONS.ask;
  const asked = questionFor(mode, page.session.config.layers, page.frame, page.selection);
  const results = await askOnDrawing(exercise, network, asked, select);
  page.asking = false;
  setBeat(page.phase);
  refresh();
  return results === null ? null : true;
}

// ------------------------------------------------------------- the rest of the view
function select(selection) {
  // a click while asking may choose what to predict instead
  if (exercise.retarget(selection)) network.markAsked(exercise.targets);
  // "δ of one unit": a click on a unit chooses which
  else if (page.exercise?.unit && selection.kind === "unit" && selection.l >= 1 && selection.j >= 1)
    setExercise({ kind: "delta", layer: selection.l, unit: selection.j });
  page.selection = selection;
  network.select(selection);
  weightEditor.show(selection, page.weights);
  renderFormula();
}

/** w_ij(l) typed by hand (PUT …/weights): the next step uses it, undo takes it back. */
async function setWeight({ l, i, j }, value) {
  const W = page.weights.map((w) => w.map((row) => [...row]));
  W[l - 1][i][j - 1] = value;
  const answer = await api.setWeights(page.session.id, W);
  page.session = answer;
  page.weights = answer.state.weights;
  network.setWeights(page.weights);
  errorChart.add(answer.state);
  boundary.refresh(true);
  clearFrame();
  renderFormula();
  quiet();
}

function pick(index) {
  page.pinned = page.pinned === index ? null : index;
  if (index !== null && page.session?.state.batch_size > 1 && page.pinned !== null)
    say(`The next step uses example #${index} alone (a batch of 1).`, "info");
  markExamples(dataView.current, page.pinned);
  $("#data-hint").textContent =
    page.pinned === null ? "click a point: the next step uses it" : `next step uses example #${index} (click it again to cancel)`;
}

function showExample(delta) {
  const frame = shiftExample(page.frame, delta);
  if (!frame || page.asking) return; // the question is about this example
  page.frame = frame;
  network.frame = page.frame;
  network.paintAll(page.phase);
  renderFormula();
  refresh();
}

function renderFormula() {
  formula.render({
    selection: page.selection,
    frame: page.frame,
    phase: page.phase,
    info: page.info,
    weightsBefore: page.weightsBefore,
    weightsNow: page.weights,
    eta: page.frame ? page.session?.state.learning_rate : page.setup.eta,
    sizes: page.session?.config.layers ?? page.setup.layers,
    asked: exercise.targets,
  });
}

function refresh() {
  controls.reflect(page);
  const state = page.session?.state;
  // GET …/trace answers only for a full step at the current weights
  const hasStep = Boolean(state && state.pending === "none" && page.frame?.layers?.[0]?.weights && page.frame.step === state.step);
  exportLinks.update(page.fastForwarding ? null : page.session?.id, hasStep);
}

function togglePresent() {
  changeView({ present: !page.setup.present });
  applyPresent();
}

function applyPresent() {
  document.body.classList.toggle("present", Boolean(page.setup.present));
  layoutChrome();
  network.setPresent(Boolean(page.setup.present));
  for (const c of liveCharts) c.setPresent(Boolean(page.setup.present));
  refresh();
}

function legend() {
  paintScaleLegend($("#legend-scale"), $("#legend-lo"), $("#legend-hi"), page.info?.activation);
}

/** The stage fills the window under the header and toolbar (their height varies). */
function layoutChrome() {
  const chrome = ["header.topbar", "nav.toolbar", "#message"]
    .map((s) => $(s))
    .filter((n) => n && !n.hidden)
    .reduce((h, n) => h + n.getBoundingClientRect().height, 0);
  document.documentElement.style.setProperty("--chrome", `${Math.ceil(chrome + 28)}px`);
}
window.addEventListener("resize", layoutChrome);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------- start
async function checkHealth() {
  const health = $("#health");
  try {
    const answer = await api.health();
    health.dataset.state = answer.status;
    health.title = `server: ${answer.status}`;
  } catch (error) {
    health.dataset.state = "error";
    health.title = `server: ${error.message}`;
  }
}

async function start() {
  applyPresent();
  controls.fillSetup(page.setup, dataDim(page.setup));
  refresh();
  checkHealth();
  api
    .presets()
    .then((presets) => {
      page.presets = presets;
      controls.setPresets(presets);
    })
    .catch(() => {});
  const ok = await run(() => startSession(page.setup));
  const asked = modeFromText(page.setup.exercise); // ?ex=…: a lab link can start in exercise mode
  if (asked) setExercise(asked);
  if (!ok && !page.session) {
    say(`${$("#message-text").textContent} The page could not start a session with this setup; it uses the default setup instead.`);
    const fallback = readSetup("");
    await run(() => startSession({ ...fallback, speed: page.setup.speed, rate: page.setup.rate, present: page.setup.present }));
  }
  renderFormula();
  refresh();
  // Follow mode: the teacher shares a read-only link (and QR code) to this run.
  mountShareButton($(".topbar"), () => page.session?.id);
  document.body.dataset.ready = "true";
}

/** Ring the examples of the step on show, and the one picked for the next step, in the
 * data view and on the boundary chart alike. */
function markExamples(indices, pinned) {
  dataView.mark(indices, pinned);
  boundary.mark(indices, pinned);
  representation.mark(indices, pinned);
}

// Tests and the benchmark read the page's state through this (read-only by convention).
window.backpropLab = { page, network, chart, stepChart, errorChart, boundary, hiddenUnits, formula, dataView, controls, exercise, representation, select };

start();
