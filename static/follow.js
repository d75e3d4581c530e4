// The follow page: a read-only view of the teacher's run (/follow?token=…). One
// EventSource brings the teacher's calls as server-sent events (app/follow.py); each
// is queued and played in order by the same step player as the main page's, with the
// same drawing modules: the network, the formula panel, the data view and the chart.
// In exercise mode the queue waits after a beat for the student's prediction.
// Nothing here can change the run: the token only reads.

import { ApiError, request } from "./api.js";
import { GradientChart } from "./charts.js";
import { layoutChrome, mountProgress, quiet, say, showProgress } from "./chrome.js";
import { paintScaleLegend } from "./colors.js";
import { DataView } from "./dataview.js";
import { $ } from "./dom.js";
import { askOnDrawing, ExercisePanel, questionFor } from "./exercise.js";
import { FormulaPanel } from "./formula.js";
import { NetworkView } from "./network.js";
import { mountPanels } from "./networkpanel.js";
import { beatMs, SPEEDS, StepPlayer } from "./player.js";
import { Store } from "./store.js";
import { forwardFrame, frameOf, shiftExample, weightsBeforeOf, withBackward } from "./trace.js";

const MAX_WAITING = 40; // events queued behind a question before it is given up
const EVENT_KINDS = ["state", "forward", "backward", "update", "step", "exercise", "paused", "ended"];
const LINK_TEXT = {
  connecting: "connecting…",
  live: "● following live",
  reconnecting: "reconnecting…",
  paused: "waiting for the teacher",
  ended: "run ended",
  error: "not connected",
};

const token = new URLSearchParams(location.search).get("token") ?? "";
const base = `/api/follow/${encodeURIComponent(token)}`;

// The page's state: what the drawing shows and what is still to be played.
const store = new Store({
  config: null,
  info: null,
  state: null, // progress of the run (step, errors, η, pending)
  weights: null, // W(1) … W(L) now
  frame: null, // the numbers on show (one step's trace, or its beats so far)
  weightsBefore: null, // W the step on show started from (for the formulas)
  selection: null,
  exercise: null, // the teacher's exercise mode, or null
  speed: 3, // index into SPEEDS
  link: "connecting",
  ended: false,
});
const view = store.state;
const queue = []; // events received, not yet played
let draining = false;
let lastArrival = 0;
let interval = Infinity; // time between the teacher's last two steps: the animation fits in it
let source = null;

mountProgress();
mountPanels();
const network = new NetworkView($("#network"), { canvas: $("#network-edges"), unitCanvas: $("#network-units"), onSelect: (s) => select(s) });
const formula = new FormulaPanel($("#formula"));
const dataView = new DataView($("#data-view"), { onPick: () => {} });
const chart = new GradientChart($("#chart-grad"));
const player = new StepPlayer({ network, idle: "following", onBeat: () => renderFormula() });
const exercise = new ExercisePanel($("#exercise"), {
  check: (body) => request("POST", `${base}/exercise/check`, body),
  storageKey: `backprop-lab-score:${token}`,
});
store.watch((v) => {
  showProgress(v.state, v.frame);
  document.body.dataset.link = v.link;
  $("#link-state").textContent = LINK_TEXT[v.link];
});

// ------------------------------------------------------------------ the stream
function connect() {
  if (source) source.close();
  store.update({ link: "connecting" });
  source = new EventSource(`${base}/events`);
  for (const kind of EVENT_KINDS) {
    source.addEventListener(kind, (event) => receive(kind, JSON.parse(event.data)));
  }
  source.onopen = () => {
    if (!view.ended) store.update({ link: "live" });
  };
  source.onerror = () => {
    if (view.ended) return;
    if (source.readyState === EventSource.CLOSED) closed();
    else store.update({ link: "reconnecting" });
  };
}

/** The stream was refused (an unknown token, or the server is full): say why. */
async function closed() {
  try {
    await request("GET", base);
    store.update({ link: "error" });
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
    interval = lastArrival && now - lastArrival < 10_000 ? now - lastArrival : Infinity;
    lastArrival = now;
  }
  if (kind === "paused" || kind === "ended" || queue.length >= MAX_WAITING) exercise.cancel();
  queue.push({ kind, data });
  document.body.dataset.waiting = String(queue.length);
  // a beat under way jumps to its end, so the page stays within a beat of the teacher
  if (!exercise.asking) player.finish();
  drain();
}

async function drain() {
  if (draining) return;
  draining = true;
  try {
    while (queue.length) {
      const { kind, data } = queue.shift();
      document.body.dataset.waiting = String(queue.length);
      try {
        await play(kind, data);
      } catch (error) {
        say(error instanceof ApiError ? error.message : `Something went wrong on the page: ${error.message}`);
        if (!(error instanceof ApiError)) console.error(error);
      }
    }
  } finally {
    draining = false;
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
      store.update({ link: "paused" });
      say(data.message, "info");
      return undefined;
    case "ended":
      return end(data.message);
    default:
      return undefined;
  }
}

function end(message) {
  store.update({ ended: true, link: "ended" });
  source?.close();
  exercise.cancel();
  say(message, "info");
  if (!view.config) $("#beat-caption").textContent = "No run to follow.";
}

// ------------------------------------------------------------------ the run
const structure = (c) => JSON.stringify([c.layers, c.activation, c.output, c.loss, c.dataset]);

async function applyState(data) {
  const config = data.config;
  const rebuild = !view.config || structure(config) !== structure(view.config);
  store.update({ config, state: data.state, weights: data.state.weights });
  setExercise(data.exercise);
  if (view.link !== "live" && !view.ended) store.update({ link: "live" });
  quiet();
  if (rebuild) {
    const dataset = await request("GET", `${base}/dataset`);
    const info = { activation: config.activation, output: config.output, loss: config.loss, encoding: dataset.encoding, classes: dataset.classes, features: config.features };
    store.update({ info, selection: { kind: "unit", l: config.layers.length - 1, j: 1 } });
    network.build(config.layers, info);
    network.select(view.selection, false);
    dataView.setData(dataset);
    paintScaleLegend($("#legend-scale"), $("#legend-lo"), $("#legend-hi"), info.activation);
  }
  network.setWeights(view.weights);
  chart.reset(config.layers.length - 1);
  if (data.state.step > 0) chart.setHistory(await request("GET", `${base}/history?max_points=1000`));
  showFrame(data.frame);
}

/** The step on show when the page joins (or catches up): painted at once, no animation. */
function showFrame(events) {
  let frame = null;
  let before = null;
  let phase = "idle";
  for (const { kind, trace } of events) {
    if (trace.diverged) continue;
    if (kind === "forward") {
      [frame, before, phase] = [forwardFrame(trace, example()), view.weights, "forward"];
    } else if (kind === "backward" && frame) {
      [frame, phase] = [withBackward(frame, trace), "backward"];
    } else if (kind === "update" || kind === "step") {
      [frame, before, phase] = [frameOf(trace, example()), weightsBeforeOf(trace, before), "update"];
    }
  }
  store.update({ frame, weightsBefore: before });
  if (frame) player.still(frame, null, phase);
  else player.clear();
  dataView.mark(frame?.indices ?? [], null);
}

const example = () => view.frame?.example ?? 0;

/** Milliseconds per layer: the speed setting, shortened to fit the teacher's pace; none
 * when the page is behind the teacher (it catches up at once). */
const msFor = (slots) => (queue.length > 0 ? 0 : beatMs(SPEEDS[view.speed], view.config.layers.length, interval, slots));

async function playForward(trace) {
  if (trace.diverged) return say(trace.message);
  quiet();
  const frame = forwardFrame(trace, example());
  store.update({ weightsBefore: view.weights, frame, state: { ...view.state, pending: "forward" } });
  dataView.mark(trace.indices, null);
  await player.beat("forward", frame, msFor(view.config.layers.length));
  await maybeAsk("forward");
}

async function playBackward(trace) {
  if (trace.diverged) return say(trace.message);
  if (!view.frame || view.frame.step !== trace.step) return undefined; // joined mid-step
  const frame = withBackward(view.frame, trace);
  store.update({ frame, state: { ...view.state, pending: "backward" } });
  await player.beat("backward", frame, msFor(view.config.layers.length));
  await maybeAsk("backward");
}

/** An update after forward and backward, or a whole step (`all`): its missing beats. */
async function playUpdate(trace, all) {
  if (trace.diverged) {
    store.update({ state: { ...view.state, ...trace.state } });
    return say(trace.message);
  }
  quiet();
  const shown = view.frame && view.frame.step === trace.step && player.phase !== "update";
  const from = !all && shown ? player.phase : "none";
  const after = trace.layers.map((l) => l.weights);
  const frame = frameOf(trace, example());
  store.update({ frame, weightsBefore: weightsBeforeOf(trace, from === "none" ? view.weights : view.weightsBefore) });
  dataView.mark(trace.indices, null);
  const L = view.config.layers.length;
  const ms = msFor(from === "none" ? 2 * L + 1 : from === "forward" ? L + 1 : 2);
  await player.play(frame, after, ms, from, {
    before: (beat) => {
      if (beat !== "update") return;
      store.update({ weights: after, state: { ...trace.state, weights: after } });
      chart.append([trace.step], [trace.layers.map((l) => l.grad_norm)]);
    },
    after: (beat) => maybeAsk(beat),
  });
}

// --------------------------------------------------------------- exercises
function setExercise(mode) {
  const same = JSON.stringify(mode ?? null) === JSON.stringify(view.exercise ?? null);
  store.update({ exercise: mode ?? null });
  document.body.dataset.exercise = mode ? mode.kind : "off";
  if (!same) exercise.setMode(view.exercise);
}

/** In exercise mode, after the beat that comes before the asked number: ask, and wait. */
async function maybeAsk(beat) {
  const mode = view.exercise;
  const kind = { forward: "delta", backward: "weight" }[beat];
  if (!mode || mode.kind !== kind || !view.frame || view.ended) return;
  player.caption("ask");
  await askOnDrawing(exercise, network, questionFor(mode, view.config.layers, view.frame, view.selection), select);
  player.setBeat(player.phase);
}

// ---------------------------------------------------------------- the view
function select(selection) {
  // a click while asking may choose what to predict instead
  if (exercise.retarget(selection)) network.markAsked(exercise.targets);
  store.update({ selection });
  network.select(selection);
  renderFormula();
}

function renderFormula() {
  if (!view.config) return;
  formula.render({
    selection: view.selection,
    frame: view.frame,
    phase: player.phase,
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
  store.update({ frame });
  player.still(frame, null, player.phase);
}

// -------------------------------------------------------------------- start
function start() {
  const speed = $("#speed");
  // ?speed=0 … 4 (as on the main page): the animation speed, e.g. 0 for none
  const asked = SPEEDS.indexOf(Number(new URLSearchParams(location.search).get("speed") ?? "1"));
  if (asked >= 0) speed.value = String(asked);
  const showSpeed = () => {
    store.update({ speed: Number(speed.value) });
    $("#speed-out").textContent = SPEEDS[view.speed] ? `${SPEEDS[view.speed]}×` : "off";
  };
  speed.addEventListener("input", showSpeed);
  showSpeed();
  player.setBeat("idle");
  $("#example-prev").addEventListener("click", () => showExample(-1));
  $("#example-next").addEventListener("click", () => showExample(1));
  layoutChrome();
  paintScaleLegend($("#legend-scale"), $("#legend-lo"), $("#legend-hi"), undefined);
  if (!token) {
    end("This page shows a teacher's run: open it with the follow link the teacher shares (…/follow?token=…).");
    return;
  }
  connect();
}

// Tests read the page's state through this (read-only by convention).
window.backpropFollow = { view, network, exercise, player };

start();
