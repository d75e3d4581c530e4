// The main page's sessions: start one from a setup, show one (new, resumed after a
// reload, or imported), keep no run lost (a reload resumes it; an expired one can be
// restored from the copy this browser kept, or from a file), and change the setup
// (a new session, or a PATCH of η, the batch and the penalty). The address bar always
// says the setup on show.
//
//   const sessions = createSessions(ctx);  // ctx: the state owner, the views, run()

import { api, ApiError } from "./api.js";
import { offer, quiet, say } from "./chrome.js";
import { paintScaleLegend } from "./colors.js";
import { $ } from "./dom.js";
import { keptRun, rememberedSession } from "./keeprun.js";
import { apiConfig, DEFAULT_CONFIG, completeConfig, needsNewSession, setPath, writeSetup } from "./setup.js";

export function createSessions(ctx) {
  const { lab, player, network, chart, stepChart, errorChart, boundary, exercise, run } = ctx;
  const { controls, dataView, gradcheck, hiddenUnits, teaching, stepping, practice } = ctx;
  const page = lab.state;
  const markExamples = ctx.markExamples;

  // d(0): the features' number, else the data's dimension
  const rawDim = (config) => config.dataset.points?.[0]?.length ?? controls.dataset(config.dataset.name)?.dim ?? config.layers[0];
  const dataDim = (config) => config.features?.length || rawDim(config);

  /** Layer sizes consistent with the data and the output (d(0) and d(L) are not free). */
  function consistentLayers(config, hidden = config.layers.slice(1, -1)) {
    const out = config.output === "softmax" ? config.dataset.classes ?? 2 : 1;
    return [dataDim(config), ...hidden, out];
  }

  async function startSession(config) {
    await showSession(await api.create(apiConfig(config)));
  }

  /** Show a session: a new one, the one this tab had before a reload, or an imported run. */
  async function showSession(created) {
    exercise.cancel(); // a question about the old run has no answer any more
    const old = page.session;
    lab.update({ session: created, weights: created.state.weights, config: completeConfig(created.config) });
    writeUrl();
    if (old && old.id !== created.id) {
      teaching.detach(); // no request may name the old id
      api.remove(old.id).catch(() => {});
    }
    const dataset = await api.dataset(created.id);
    const c = created.config;
    const info = { activation: c.activation, output: c.output, loss: c.loss, encoding: dataset.encoding, classes: dataset.classes, features: c.features };
    lab.update({ dataset, info, frame: null, traces: [], pinned: null, selection: { kind: "unit", l: c.layers.length - 1, j: 1 } });
    network.build(c.layers, info);
    network.setWeights(created.state.weights);
    network.select(page.selection, false);
    dataView.setData(dataset);
    markExamples([], null);
    chart.reset(c.layers.length - 1);
    stepChart.setActivation(c.activation);
    stepChart.clear();
    errorChart.clear(dataset.classes > 0);
    errorChart.add(created.state);
    gradcheck.clear();
    hiddenUnits.setActivation(c.activation, c.layers[0]);
    boundary.setSession(created.id, dataset, info);
    teaching.setSession(created, dataset, info, rawDim(page.config));
    if (created.state.step > 0) await stepping.loadHistory();
    controls.fillSetup(page, dataDim(page.config));
    controls.exercise.setSizes(c.layers);
    if (page.exercise) practice.setExercise(controls.exercise.mode); // a layer or unit this network has
    paintScaleLegend($("#legend-scale"), $("#legend-lo"), $("#legend-hi"), info.activation);
    player.clear();
  }

  // ------------------------------------------------------------- no lost run
  /** The run this tab had before a reload, if the server still has it and the address
   * bar asks for the same setup; true if it is on show. A forgotten one: its step (≥ 0). */
  async function resume() {
    const id = rememberedSession();
    if (!id) return { resumed: false, lost: null };
    try {
      const session = await api.read(id);
      // the same run if the address bar would say the same (it holds every change)
      if (writeSetup({ ...page, config: completeConfig(session.config) }) !== writeSetup(page)) {
        api.remove(id).catch(() => {});
        return { resumed: false, lost: null };
      }
      await showSession(session);
      return { resumed: true, lost: null };
    } catch (error) {
      if (!(error instanceof ApiError && error.expired)) throw error;
      return { resumed: false, lost: keptRun()?.snapshot?.step ?? 0 };
    }
  }

  /** After an expired session: offer the snapshot this browser kept, if it has steps. */
  function offerRestore(lost) {
    const kept = keptRun()?.snapshot;
    if (!kept || !(kept.step > 0)) return;
    const saved = new Date(keptRun().saved).toLocaleTimeString();
    offer(
      `The server no longer has your run (step ${lost || kept.step}): it expired or the server restarted. This browser kept a copy of it at step ${kept.step} (${saved}).`,
      `Restore step ${kept.step}`,
      () => restore(kept, "the copy this browser kept"),
    );
  }

  /** A run from a snapshot (kept in the browser, or a file): a new session, at its step. */
  async function restore(snapshot, from) {
    const ok = await run(async () => {
      stepping.stopPlaying();
      await showSession(await api.importRun(snapshot));
    });
    if (ok) say(`Restored from ${from}: step ${page.session.state.step}.`, "info");
    controls.fillSetup(page, dataDim(page.config));
  }

  async function importFile(file) {
    let snapshot;
    try {
      snapshot = JSON.parse(await file.text());
    } catch {
      say(`${file.name} is not a Backprop Lab run: it is not JSON. Export one with “the whole run (snapshot)”.`);
      return;
    }
    await restore(snapshot, file.name);
  }

  function writeUrl() {
    const query = writeSetup(page);
    if (query !== location.search) history.replaceState(null, "", query);
  }

  /** change: {path: value} of the config ("dataset.name": "sine"), or {hidden: [sizes]}. */
  async function changeSetup(change) {
    // A change made while a request is out (say, a second field edited quickly) waits
    // its turn instead of being dropped.
    while (page.busy || page.fastForwarding) await new Promise((resolve) => setTimeout(resolve, 20));
    let next = page.config;
    for (const [path, value] of Object.entries(change)) if (path !== "hidden") next = setPath(next, path, value);
    // from a custom data set (the worked example) to a generated one: the latter's fields
    if ("dataset.name" in change && page.config.dataset.name === "custom")
      next = { ...next, dataset: { ...DEFAULT_CONFIG.dataset, name: change["dataset.name"] } };
    // the features follow the raw point: a data set of another dimension starts from it
    if ("dataset.name" in change && rawDim(next) !== rawDim(page.config)) next = { ...next, features: null };
    const shape = ["hidden", "dataset", "dataset.name", "output", "dataset.classes", "features"].some((k) => k in change);
    if (shape) next = { ...next, layers: consistentLayers(next, change.hidden ?? page.config.layers.slice(1, -1)) };
    controls.showPreset(null);
    if (needsNewSession(page.config, next)) {
      await run(async () => {
        stepping.stopPlaying();
        await startSession(next);
        quiet();
      });
      controls.fillSetup(page, dataDim(page.config));
      return;
    }
    const patch = {};
    for (const key of ["learning_rate", "batch_size"]) if (next[key] !== page.config[key]) patch[key] = next[key];
    if (JSON.stringify(next.regularization) !== JSON.stringify(page.config.regularization)) patch.regularization = next.regularization;
    if (!Object.keys(patch).length) return;
    const ok = await run(async () => {
      const answer = await api.patch(page.session.id, patch);
      lab.update({ session: answer, weights: answer.state.weights, config: completeConfig(answer.config) });
      writeUrl();
      quiet();
    });
    if (!ok) controls.fillSetup(page, dataDim(page.config));
  }

  async function loadPreset(name) {
    const preset = page.presets.find((p) => p.name === name);
    if (!preset) return;
    const ok = await run(async () => {
      stepping.stopPlaying();
      await startSession(preset.config);
      quiet();
    });
    controls.showPreset(ok ? preset : null);
  }

  return { startSession, showSession, resume, offerRestore, restore, importFile, writeUrl, changeSetup, loadPreset, rawDim, dataDim };
}
