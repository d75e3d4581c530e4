// The follow page: a read-only view of the teacher's run (/follow?token=…). One
// EventSource brings the teacher's calls as server-sent events (app/follow.py); each
// is queued and played in order with the main page's own drawing modules: the forward,
// backward and update beats, the formula panel, the data view and the gradient chart.
// In exercise mode the queue waits after a beat for the student's prediction.
// Nothing here can change the run: the token only reads.

import { ApiError, request } from "./api.js";
import { GradientChart } from "./charts.js";
import { paintScaleLegend } from "./colors.js";
import { DataView } from "./dataview.js";
import { askOnDrawing, ExercisePanel, questionFor } from "./exercise.js";
import { num, percent } from "./format.js";
import { FormulaPanel } from "./formula.js";
import { NetworkView } from "./network.js";
import { Timeline } from "./timeline.js";
import { frameOf, shiftExample, weightsBeforeOf } from "./trace.js";

const $ = (selector) => document.querySelector(selector);

const SPEEDS = [0, 0.25, 0.5, 1, 2, 4]; // animation speed (as on the main page); 0 = off
const BEAT_MS = 520; // time per layer of a beat at 1×
const MIN_BEAT_MS = 45; // below this a beat is not animated: the drawing jumps
const MAX_WAITING = 40; // events queued behind a question before it is given up
const EVENT_KINDS = ["state", "forward", "backward", "update", "step", "exercise", "paused", "ended"];

const CAPTIONS = {
  idle: "Following the teacher's run: the drawing moves when the teacher steps.",
  forward:
    '<b>1 · Forward.</b> Each layer in turn: <span class="math">s<sub>j</sub>(l) = Σ<sub>i</sub> w<sub>ij</sub>(l) x<sub>i</sub>(l−1)</span>, then <span class="math">x<sub>j</sub>(l) = θ(s<sub>j</sub>(l))</span>.',
  backward:
    '<b>2 · Backward.</b> δ from the output back: <span class="math">δ<sub>i</sub>(l−1) = θ′(s<sub>i</sub>(l−1)) Σ<sub>j</sub> w<sub>ij</sub>(l) δ<sub>j</sub>(l)</span>.',
  update:
    '<b>3 · Update.</b> Each line: <span class="math">Δw<sub>ij</sub>(l) = −η x<sub>i</sub>(l−1) δ<sub>j</sub>(l)</span>, new width.',
  ask: "<b>Your turn:</b> type your prediction.",
};

const token = new URLSearchParams(location.search).get("token") ?? "";
const base = `/api/follow/${encodeURIComponent(token)}`;

// The page's state: what the drawing shows and what is still to be played.
const view = {
  config: null,
  info: null,
  state: null, // progress of the run (step, errors, η, pending)
  weights: null, // W(1) … W(L) now
  frame: null, // the numbers on show (one step's trace, or its beats so far)
  phase: "idle",
  weightsBefore: null, // W the step on show started from (for the formulas)
  selection: null,
  exercise: null, // the teacher's exercise mode, or null
  speed: 3, // index into SPEEDS
  queue: [], // events received, not yet played
  draining: false,
  lastArrival: 0,
  interval: Infinity, // time between the teacher's last two steps: the animation fits in it
  source: null,
  ended: false,
};

const timeline = new Timeline();
const network = new NetworkView($("#network"), { onSelect: (s) => select(s) });
const formula = new FormulaPanel($("#formula"));
const dataView = new DataView($("#data-view"), { onPick: () => {} });
const chart = new GradientChart($("#chart-grad"));
const exercise = new ExercisePanel($("#exercise"), {
  check: (body) => request("POST", `${base}/exercise/check`, body),
  storageKey: `backprop-lab-score:${token}`,
});

// ------------------------------------------------------------------ the stream
function connect() {
  if (view.source) view.source.close();
  setLink("connecting");
  const source = new EventSource(`${base}/events`);
  view.source = source;
  for (const kind of EVENT_KINDS) {
    source.addEventListener(kind, (event) => receive(kind, JSON.parse(event.data)));
  }
  source.onopen = () => {
    if (!view.ended) setLink("live");
  };
  source.onerror = () => {
    if (view.ended) return;
    if (source.readyState === EventSource.CLOSED) closed();
    else setLink("reconnecting");
  };
}

/** The stream was refused (an unknown token, or the server is full): say why. */
async function closed() {
  try {
    await request("GET", base);
    setLink("error");
    say("Could not join the teacher's live stream (the server may have reached its limit of followers). Trying again in 10 seconds.");
    setTimeout(connect, 10_000);
  } catch (error) {
    end(error.message);
  }
}

function receive(kind, data) {
  document.body.dataset.seq = String(data.seq);
  if (kind === "exercise") {
    setExercise(data.exercise);
    return;
  }
  if (kind === "forward" || kind === "step") {
    const now = performance.now();
    view.interval = view.lastArrival && now - view.lastArrival < 10_000 ? now - view.lastArrival : Infinity;
    view.lastArrival = now;
  }
  if (kind === "paused" || kind === "ended" || view.queue.length >= MAX_WAITING) exercise.cancel();
  view.queue.push({ kind, data });
  document.body.dataset.waiting = String(view.queue.length);
  // a beat under way jumps to its end, so the page stays within a beat of the teacher
  if (!exercise.asking) timeline.finish();
  drain();
}

async function drain() {
  if (view.draining) return;
  view.draining = true;
  try {
    while (view.queue.length) {
      const { kind, data } = view.queue.shift();
      document.body.dataset.waiting = String(view.queue.length);
      try {
        await play(kind, data);
      } catch (error) {
        say(error instanceof ApiError ? error.message : `Something went wrong on the page: ${error.message}`);
        if (!(error instanceof ApiError)) console.error(error);
      }
    }
  } finally {
    view.draining = false;
    document.body.dataset.waiting = "0";
  }
}

async function play(kind, data) {
  switch (kind) {
    case "state":
      return applyState(data);
    case "forward":
      return playForward(data.trace);
    case "backward":
      return playBackward(data.trace);
    case "update":
      return playUpdate(data.trace, false);
    case "step":
      return playUpdate(data.trace, true);
    case "paused":
      setLink("paused");
      say(data.message, "info");
      return undefined;
    case "ended":
      return end(data.message);
    default:
      return undefined;
  }
}

function end(message) {
  view.ended = true;
  view.source?.close();
  exercise.cancel();
  setLink("ended");
  say(message, "info");
  if (!view.config) $("#beat-caption").textContent = "No run to follow.";
}

// ------------------------------------------------------------------ the run
const structure = (c) => JSON.stringify([c.layers, c.activation, c.output, c.loss, c.dataset]);

async function applyState(data) {
  const config = data.config;
  const rebuild = !view.config || structure(config) !== structure(view.config);
  view.config = config;
  view.state = data.state;
  view.weights = data.state.weights;
  setExercise(data.exercise);
  if (view.link !== "live" && !view.ended) setLink("live");
  quiet();
  if (rebuild) {
    const dataset = await request("GET", `${base}/dataset`);
    view.info = {
      activation: config.activation,
      output: config.output,
      loss: config.loss,
      encoding: dataset.encoding,
      classes: dataset.classes,
    };
    network.build(config.layers, view.info);
    view.selection = { kind: "unit", l: config.layers.length - 1, j: 1 };
    network.select(view.selection, false);
    dataView.setData(dataset);
    legend();
  }
  network.setWeights(view.weights);
  chart.reset(config.layers.length - 1);
  if (data.state.step > 0) chart.setHistory(await request("GET", `${base}/history?max_points=1000`));
  showFrame(data.frame);
  refresh();
}

/** The step on show when the page joins (or catches up): painted at once, no animation. */
function showFrame(events) {
  timeline.finish();
  view.frame = null;
  view.weightsBefore = null;
  let phase = "idle";
  for (const event of events) {
    const trace = event.trace;
    if (trace.diverged) continue;
    if (event.kind === "forward") {
      view.frame = forwardFrame(trace);
      view.weightsBefore = view.weights;
      phase = "forward";
    } else if (event.kind === "backward" && view.frame) {
      view.frame = withBackward(view.frame, trace);
      phase = "backward";
    } else if (event.kind === "update" || event.kind === "step") {
      view.frame = frameOf(trace, example());
      view.weightsBefore = weightsBeforeOf(trace, view.weightsBefore);
      phase = "update";
    }
  }
  if (view.frame) {
    network.frame = view.frame;
    network.paintAll(phase);
  } else {
    network.clearValues();
  }
  setBeat(phase);
  dataView.mark(view.frame?.indices ?? [], null);
  renderFormula();
}

const example = () => view.frame?.example ?? 0;

function forwardFrame(trace) {
  return {
    example: Math.min(example(), trace.input.length - 1),
    step: trace.step,
    indices: trace.indices,
    input: trace.input,
    target: trace.target,
    error: trace.error,
    layers: trace.layers.map((l) => ({ s: l.s, x: l.x })),
  };
}

function withBackward(frame, trace) {
  return { ...frame, layers: frame.layers.map((layer, n) => ({ ...layer, ...trace.layers[n] })) };
}

async function playForward(trace) {
  if (trace.diverged) return say(trace.message);
  quiet();
  view.weightsBefore = view.weights;
  view.frame = forwardFrame(trace);
  view.state = { ...view.state, pending: "forward" };
  dataView.mark(trace.indices, null);
  refresh();
  const ms = beatMs(view.config.layers.length);
  await playBeat("forward", network.forwardEvents(view.frame, ms), ms);
  await maybeAsk("delta");
}

async function playBackward(trace) {
  if (trace.diverged) return say(trace.message);
  if (!view.frame || view.frame.step !== trace.step) return undefined; // joined mid-step
  view.frame = withBackward(view.frame, trace);
  view.state = { ...view.state, pending: "backward" };
  const ms = beatMs(view.config.layers.length);
  await playBeat("backward", network.backwardEvents(view.frame, ms), ms);
  await maybeAsk("weight");
}

/** An update after forward and backward, or a whole step (`all`): its missing beats. */
async function playUpdate(trace, all) {
  if (trace.diverged) {
    view.state = { ...view.state, ...trace.state };
    refresh();
    return say(trace.message);
  }
  quiet();
  const shown = view.frame && view.frame.step === trace.step && view.phase !== "update";
  const from = !all && shown ? view.phase : "none";
  const after = trace.layers.map((l) => l.weights);
  view.weightsBefore = weightsBeforeOf(trace, from === "none" ? view.weights : view.weightsBefore);
  view.frame = frameOf(trace, example());
  dataView.mark(trace.indices, null);
  const L = view.config.layers.length;
  const ms = beatMs(from === "none" ? 2 * L + 1 : from === "forward" ? L + 1 : 2);
  if (from === "none") {
    await playBeat("forward", network.forwardEvents(view.frame, ms), ms);
    await maybeAsk("delta");
  }
  if (from !== "backward") {
    network.frame = view.frame;
    await playBeat("backward", network.backwardEvents(view.frame, ms), ms);
    await maybeAsk("weight");
  }
  view.weights = after;
  view.state = { ...trace.state, weights: after };
  chart.append([trace.step], [trace.layers.map((l) => l.grad_norm)]);
  refresh();
  await playBeat("update", network.updateEvents(view.frame, after, ms), ms);
}

// ------------------------------------------------------------------ beats
/** Milliseconds per layer: the speed setting, shortened to fit the teacher's pace. */
function beatMs(layers) {
  const speed = SPEEDS[view.speed];
  if (!speed || view.queue.length > 0) return 0; // behind the teacher: catch up at once
  let ms = BEAT_MS / speed;
  if (Number.isFinite(view.interval)) ms = Math.min(ms, (view.interval * 0.85) / Math.max(layers, 1));
  return ms < MIN_BEAT_MS ? 0 : ms;
}

async function playBeat(beat, events, ms) {
  setBeat(beat);
  renderFormula();
  document.body.dataset.animating = String(ms > 0);
  const svg = $("#network");
  svg.classList.toggle("still", ms === 0);
  svg.style.setProperty("--t-fill", `${Math.round(ms * 0.45)}ms`);
  svg.style.setProperty("--t-edge", `${Math.round(ms * 0.9)}ms`);
  const last = events.reduce((t, e) => Math.max(t, e.at), 0);
  await timeline.play(events, last + (ms > 0 ? ms * 0.9 : 0));
  document.body.dataset.animating = "false";
  refresh();
}

function setBeat(beat) {
  view.phase = beat;
  document.body.dataset.beat = beat;
  $("#beat-caption").innerHTML = CAPTIONS[beat] ?? CAPTIONS.idle;
}

// --------------------------------------------------------------- exercises
function setExercise(mode) {
  const same = JSON.stringify(mode ?? null) === JSON.stringify(view.exercise ?? null);
  view.exercise = mode ?? null;
  document.body.dataset.exercise = mode ? mode.kind : "off";
  if (!same) exercise.setMode(view.exercise);
}

/** In exercise mode, after the beat that comes before the asked number: ask, and wait. */
async function maybeAsk(kind) {
  const mode = view.exercise;
  if (!mode || mode.kind !== kind || !view.frame || view.ended) return;
  $("#beat-caption").innerHTML = CAPTIONS.ask;
  await askOnDrawing(exercise, network, questionFor(mode, view.config.layers, view.frame, view.selection), select);
  setBeat(view.phase);
}

// ---------------------------------------------------------------- the view
function select(selection) {
  // a click while asking may choose what to predict instead
  if (exercise.retarget(selection)) network.markAsked(exercise.targets);
  view.selection = selection;
  network.select(selection);
  renderFormula();
}

function renderFormula() {
  if (!view.config) return;
  formula.render({
    selection: view.selection,
    frame: view.frame,
    phase: view.phase,
    info: view.info,
    weightsBefore: view.weightsBefore,
    weightsNow: view.weights,
    eta: view.state?.learning_rate ?? view.config.learning_rate,
    sizes: view.config.layers,
    asked: exercise.targets,
  });
}

function showExample(delta) {
  const frame = shiftExample(view.frame, delta);
  if (!frame || exercise.asking) return;
  view.frame = frame;
  network.frame = view.frame;
  network.paintAll(view.phase);
  renderFormula();
  refresh();
}

function refresh() {
  const state = view.state;
  if (state) {
    $("#step-counter").textContent = String(state.step);
    $("#step-counter").dataset.step = String(state.step);
    $("#metric-train-error").textContent = num(state.train_error);
    $("#metric-accuracy").textContent = percent(state.train_accuracy);
  }
  $("#metric-example-error").textContent = num(view.frame?.error);
  const batch = view.frame?.input.length ?? 1;
  $("#batch-picker").hidden = batch <= 1;
  $("#example-label").textContent = `example ${(view.frame?.example ?? 0) + 1} of ${batch}`;
}

function legend() {
  paintScaleLegend($("#legend-scale"), $("#legend-lo"), $("#legend-hi"), view.info?.activation);
}

const LINK_TEXT = {
  connecting: "connecting…",
  live: "● following live",
  reconnecting: "reconnecting…",
  paused: "waiting for the teacher",
  ended: "run ended",
  error: "not connected",
};

function setLink(state) {
  view.link = state;
  document.body.dataset.link = state;
  $("#link-state").textContent = LINK_TEXT[state];
}

function say(text, kind = "error") {
  $("#message-text").textContent = text;
  $("#message").dataset.kind = kind;
  $("#message").hidden = false;
  layoutChrome();
}

function quiet() {
  if ($("#message").hidden) return;
  $("#message").hidden = true;
  layoutChrome();
}

/** The stage fills the window under the header (its height varies). */
function layoutChrome() {
  const chrome = ["header.topbar", "#message"]
    .map((s) => $(s))
    .filter((n) => n && !n.hidden)
    .reduce((h, n) => h + n.getBoundingClientRect().height, 0);
  document.documentElement.style.setProperty("--chrome", `${Math.ceil(chrome + 28)}px`);
}

// -------------------------------------------------------------------- start
function start() {
  const speed = $("#speed");
  // ?speed=0 … 4 (as on the main page): the animation speed, e.g. 0 for none
  const asked = SPEEDS.indexOf(Number(new URLSearchParams(location.search).get("speed") ?? "1"));
  if (asked >= 0) speed.value = String(asked);
  const showSpeed = () => {
    view.speed = Number(speed.value);
    $("#speed-out").textContent = SPEEDS[view.speed] ? `${SPEEDS[view.speed]}×` : "off";
  };
  speed.addEventListener("input", showSpeed);
  showSpeed();
  $("#example-prev").addEventListener("click", () => showExample(-1));
  $("#example-next").addEventListener("click", () => showExample(1));
  window.addEventListener("resize", layoutChrome);
  layoutChrome();
  legend();
  if (!token) {
    end("This page shows a teacher's run: open it with the follow link the teacher shares (…/follow?token=…).");
    return;
  }
  connect();
}

// Tests read the page's state through this (read-only by convention).
window.backpropFollow = { view, network, exercise };

start();
