// Backprop Lab's page. One owner of the state (`lab`, store.js): every change is an
// explicit lab.update(), and the controls are redrawn from the state. One loop: an API
// call → the state → the step player's beats → the drawing.
// Modules by job: api.js (the server), setup.js (the config and the URL), sessions.js
// (start, show, resume, restore a run; change the setup), stepping.js (steps, undo,
// Play, fast-forward), practise.js (exercise mode), player.js (the beats), network.js
// (the drawing), formula.js, dataview.js, charts, controls.js.

import { api, ApiError } from "./api.js";
import { BoundaryChart } from "./boundary.js";
import { GradientChart } from "./charts.js";
import { layoutChrome, mountProgress, quiet, say } from "./chrome.js";
import { Controls } from "./controls.js";
import { DataView } from "./dataview.js";
import { $ } from "./dom.js";
import { ErrorChart } from "./errorchart.js";
import { ExercisePanel, modeFromText } from "./exercise.js";
import { ExportLinks } from "./exports.js";
import { FormulaPanel } from "./formula.js";
import { GradcheckPanel } from "./gradcheck.js";
import { HiddenUnits } from "./hiddenunits.js";
import { RunKeeper } from "./keeprun.js";
import { NetworkView } from "./network.js";
import { mountPanels } from "./networkpanel.js";
import { StepPlayer } from "./player.js";
import { createPractice } from "./practise.js";
import { createSessions } from "./sessions.js";
import { readSetup } from "./setup.js";
import { mountShareButton } from "./share.js";
import { afterPaint } from "./plotcard.js";
import { StepChart } from "./stepchart.js";
import { createStepping } from "./stepping.js";
import { Store } from "./store.js";
import { mountTeaching } from "./teachingpanels.js";
import { shiftExample } from "./trace.js";

const asked = readSetup(location.search);
const lab = new Store({
  config: asked.config, // the API's session config: what the setup asks for
  view: asked.view, // speed, rate, projector, exercise: the page's own settings
  session: null, // {id, config, state} from the API
  catalogue: null, // GET /api/catalogue: the choices the menus offer
  info: null, // {activation, output, loss, encoding, classes}
  dataset: null,
  frame: null, // the numbers on show: one step's trace (or its beats so far)
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
});
const page = lab.state;

mountProgress({ closable: true });
mountPanels();
const network = new NetworkView($("#network"), { canvas: $("#network-edges"), unitCanvas: $("#network-units"), onSelect: (s) => select(s) });
const formula = new FormulaPanel($("#formula"));
const dataView = new DataView($("#data-view"), {
  onPick: (i) => pick(i),
  // your own points: the run starts again on them (the URL carries them)
  onEdit: (dataset) => sessions.changeSetup({ dataset }),
  tools: $("#data-tools"),
});
const chart = new GradientChart($("#chart-grad"));
const stepChart = new StepChart($("#chart-step"), $("#step-note"));
const errorChart = new ErrorChart($("#chart-error"));
const hiddenUnits = new HiddenUnits($("#hidden-units"), $("#hidden-note"), { swatch: $("#hidden-scale"), lo: $("#hidden-lo"), hi: $("#hidden-hi") });
const boundary = new BoundaryChart($("#chart-boundary"), {
  onPick: (i) => pick(i),
  onGrid: (g) => {
    hiddenUnits.show(g);
    teaching.grid(g); // what the output layer sees, the neuron maps
  },
});
// issue #16: what the output layer sees, input features, the view's toggles, a weight by hand
const clearFrame = () => stepping.clearFrame();
const datasetInfo = (name) => controls.dataset(name); // the catalogue's entry
const startSession = (config) => sessions.startSession(config);
const changeSetup = (change) => sessions.changeSetup(change);
const teaching = mountTeaching({ lab, boundary, network, errorChart, datasetInfo, run, pick, startSession, changeSetup, changeView, renderFormula, quiet, clearFrame });
const liveCharts = [chart, stepChart, errorChart, boundary, teaching.representation];
const player = new StepPlayer({ network, onBeat: () => formulaSoon(), charts: liveCharts });
const gradcheck = new GradcheckPanel($("#card-tools"), { sessionId: () => page.session?.id, onError: (error) => handle(error) });
const exportLinks = new ExportLinks($("#exports"));
const exercise = new ExercisePanel($("#exercise"), {
  check: (prediction) => api.checkExercise(page.session.id, prediction),
  storageKey: "backprop-lab-score:alone",
  waiting: {
    delta: "Press Space for the next step: after its forward beat you type δ before the drawing shows it. Click a unit while asked to predict its δ instead.",
    weight: "Press Space for the next step: after its backward beat you type the weight its update will give. Click a line first to choose which one.",
  },
});

const ctx = { lab, player, network, chart, stepChart, errorChart, boundary, exercise, run, handle, pick, select, changeView, markExamples, behind: () => waiting.length > 0 };
const stepping = createStepping(ctx);
const practice = createPractice(ctx, stepping);
const beatAction = (from, beat) => () => (page.exercise ? practice.practise(false, from) : runInTurn(stepping[beat]));
const controls = new Controls({
  step: () => (page.exercise ? practice.practise(true) : runInTurn(stepping.step)),
  forward: beatAction("none", "forwardBeat"),
  backward: beatAction("forward", "backwardBeat"),
  update: beatAction("backward", "updateBeat"),
  togglePlay: stepping.togglePlay,
  setExercise: practice.setExercise,
  toggleExercise: () => practice.setExercise(page.exercise ? null : page.lastExercise),
  undo: () => runInTurn(stepping.undo),
  reset: () => run(stepping.reset),
  fastForward: stepping.fastForward,
  stop: stepping.stop,
  togglePresent: () => changeView({ present: !page.view.present }),
  changeSetup,
  changeView,
  loadPreset: (name) => sessions.loadPreset(name),
  showExample,
});
ctx.controls = controls;
Object.assign(ctx, { dataView, gradcheck, hiddenUnits, teaching, stepping, practice });
const sessions = createSessions(ctx);
// the gradient chart's switch: ‖G(l)‖ or mean |δ(l)|, and smoothing
const chartView = () => chart.setView($("#grad-quantity").value, $("#grad-smooth").checked);
$("#grad-quantity").addEventListener("change", chartView);
$("#grad-smooth").addEventListener("change", chartView);
$("#message-close").addEventListener("click", quiet);

// The controls, the header and the export links are drawn from the state; the tab
// remembers its run and the browser keeps a copy (keeprun.js).
const keeper = new RunKeeper();
lab.watch((state) => keeper.watch(state));
$("#import-run").addEventListener("change", (event) => {
  const file = event.target.files?.[0];
  event.target.value = ""; // the same file again is a new choice
  if (file) sessions.importFile(file);
});
lab.watch((state) => {
  controls.reflect(state);
  const s = state.session?.state;
  // GET …/trace answers only for a full step at the current weights
  const hasStep = Boolean(s && s.pending === "none" && state.frame?.layers?.[0]?.weights && state.frame.step === s.step);
  exportLinks.update(state.fastForwarding ? null : state.session?.id, hasStep);
});

// Key presses and clicks that came while another action was under way: each is done
// in turn (five quick Spaces are five steps), all but the last shown at once.
const MAX_WAITING = 10;
const waiting = [];

/**
 * Run an action unless another is under way (`wait`: then after it, unless Play or a
 * fast-forward runs); API errors become sentences on the page.
 */
async function run(action, { wait = false } = {}) {
  if (page.fastForwarding) return false;
  if (page.busy) {
    if (!wait || page.playing || waiting.length >= MAX_WAITING) return false;
    player.hurry(); // the step on show jumps to its end: more are waiting
    return new Promise((resolve) => waiting.push(() => resolve(run(action))));
  }
  player.finish(); // a key pressed mid-animation jumps to the end of the beat
  lab.update({ busy: true });
  try {
    await action();
    return true;
  } catch (error) {
    await handle(error);
    return false;
  } finally {
    lab.update({ busy: false });
    if (page.fastForwarding || page.playing) waiting.length = 0;
    waiting.shift()?.();
  }
}
const runInTurn = (action) => run(action, { wait: true });

async function handle(error) {
  stepping.stopPlaying();
  if (!(error instanceof ApiError)) {
    console.error(error);
    say(`Something went wrong on the page: ${error.message}`);
  } else if (error.expired) {
    // The server forgot the session (idle too long or restarted): start again from the URL.
    const lost = page.session?.state.step ?? 0;
    lab.update({ session: null }); // nothing to delete
    teaching.detach(); // nor anything more to ask about it
    await startSession(page.config).catch(() => {});
    say("The session had expired, so a new one was started from the setup in the address bar (step 0).", "info");
    sessions.offerRestore(lost);
  } else {
    say(error.message);
  }
}

function changeView(change) {
  lab.update({ view: { ...page.view, ...change } });
  if ("present" in change) applyPresent();
  sessions.writeUrl();
}

// ------------------------------------------------------------- the rest of the view
function select(selection) {
  // a click while asking may choose what to predict instead
  if (exercise.retarget(selection)) network.markAsked(exercise.targets);
  // "δ of one unit": a click on a unit chooses which
  else if (page.exercise?.unit && selection.kind === "unit" && selection.l >= 1 && selection.j >= 1)
    practice.setExercise({ kind: "delta", layer: selection.l, unit: selection.j });
  lab.update({ selection });
  network.select(selection);
  teaching.select(selection);
  renderFormula();
}

function pick(index) {
  const pinned = page.pinned === index ? null : index;
  lab.update({ pinned });
  if (index !== null && page.session?.state.batch_size > 1 && pinned !== null)
    say(`The next step uses example #${index} alone (a batch of 1).`, "info");
  markExamples(dataView.current, pinned);
  $("#data-hint").textContent = pinned === null ? "click a point: the next step uses it" : `next step uses example #${index} (click it again to cancel)`;
}

function showExample(delta) {
  const frame = shiftExample(page.frame, delta);
  if (!frame || page.asking) return; // the question is about this example
  lab.update({ frame });
  player.still(frame, null, player.phase);
}

/** Ring the examples of the step on show, and the one picked for the next step, in the
 * data view and on the boundary chart alike. */
function markExamples(indices, pinned) {
  dataView.mark(indices, pinned);
  boundary.mark(indices, pinned);
  teaching.mark(indices, pinned);
}

// In fast Play nobody reads the formulas of every step (MathML is slow to lay out):
// draw them once a second. On a large network they come after the frame that shows the
// step's numbers on the drawing.
let formulaTimer = null;
function formulaSoon() {
  if (!(page.playing && page.view.rate > 4)) return network.edges?.svg === false ? afterPaint(renderFormula) : renderFormula();
  formulaTimer ??= setTimeout(() => {
    formulaTimer = null;
    renderFormula();
  }, 1000);
  return undefined;
}

function renderFormula() {
  formula.render({
    selection: page.selection,
    frame: page.frame,
    phase: player.phase,
    info: page.info,
    weightsBefore: page.weightsBefore,
    weightsNow: page.weights,
    eta: page.session?.state.learning_rate ?? page.config.learning_rate,
    regularization: page.session?.config.regularization,
    sizes: page.session?.config.layers ?? page.config.layers,
    asked: exercise.targets,
  });
}

function applyPresent() {
  const present = Boolean(page.view.present);
  document.body.classList.toggle("present", present);
  layoutChrome();
  network.setPresent(present);
  for (const c of liveCharts) c.setPresent(present);
}

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
  checkHealth();
  api.presets().then((presets) => {
    lab.update({ presets });
    controls.setPresets(presets);
  }, () => {});
  let lost = null;
  const ok = await run(async () => {
    const catalogue = await api.catalogue();
    lab.update({ catalogue });
    controls.setCatalogue(catalogue);
    controls.fillSetup(page, sessions.dataDim(page.config));
    const resumed = await sessions.resume(); // a reload goes on with the same run
    lost = resumed.lost;
    if (!resumed.resumed) await startSession(page.config);
  });
  if (ok && lost !== null) sessions.offerRestore(lost);
  const mode = modeFromText(page.view.exercise); // ?ex=…: a lab link can start in exercise mode
  if (mode) practice.setExercise(mode);
  if (!ok && !page.session) {
    say(`${$("#message-text").textContent} The page could not start a session with this setup; it uses the default setup instead.`);
    await run(() => startSession(readSetup("").config));
  }
  renderFormula();
  // Follow mode: the teacher shares a read-only link (and QR code) to this run.
  mountShareButton($(".topbar"), () => page.session?.id);
  document.body.dataset.ready = "true";
}

// Tests and the benchmark read the page's state through this (read-only by convention).
window.backpropLab = { page, lab, player, network, chart, stepChart, errorChart, boundary, hiddenUnits, formula, dataView, controls, exercise, representation: teaching.representation, select };

start();
