// The main page's steps: one SGD step (or one beat of it) through the API, undo,
// reset, Play and fast-forward. Each answer goes into the page's state (lab.update)
// and to the step player, which shows it beat by beat.
//
//   const stepping = createStepping(ctx);  // ctx: the state owner, the views, run()

import { api } from "./api.js";
import { quiet, say } from "./chrome.js";
import { beatMs } from "./player.js";
import { forwardFrame, frameOf, weightsBeforeOf, withBackward } from "./trace.js";

const FF_CHUNK = 500; // steps per POST …/train while fast-forwarding
// The chart shows each step while there are few; beyond CHART_POINTS it shows the
// server's history averaged down to CHART_POINTS points (exact means over the steps
// each point covers), fetched at most once a second.
const CHART_POINTS = 400;
const FAST_PLAY = 30; // steps/s above which the drawing skips steps
const CATCH_UP_MS = 250; // Play makes up at most this much time of late steps
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function createStepping(ctx) {
  const { lab, player, network, chart, stepChart, errorChart, boundary } = ctx;
  const page = lab.state;
  let historyDue = 0;

  async function loadHistory() {
    historyDue = performance.now() + 1000;
    chart.setHistory(await api.history(page.session.id, 0, CHART_POINTS));
  }

  function chartStep(trace) {
    chart.append([trace.step], [trace.layers.map((l) => l.grad_norm)], [trace.layers.map((l) => l.delta_mean_abs)]);
    stepChart.show(trace);
    errorChart.add(trace.state);
    boundary.refresh();
    if (chart.steps.length > CHART_POINTS * 1.5 && performance.now() > historyDue) loadHistory().catch(() => {});
  }

  /** Milliseconds per layer of a beat at the page's speed, within `budget` (Play's pace). */
  const ms = (budget) => (ctx.behind() ? 0 : beatMs(page.view.speed, page.session.config.layers.length, budget));

  /** The training example picked for the next step, used once. */
  function nextIndices() {
    if (page.pinned === null) return undefined;
    const indices = [page.pinned];
    ctx.pick(null);
    return indices;
  }

  /** A full step's trace (…/step or …/update) into the state; false if it was refused. */
  function take(trace, known) {
    if (trace.diverged) {
      lab.update({ session: { ...page.session, state: trace.state } });
      stopPlaying();
      say(trace.message || "The step was refused: the numbers stopped being finite. Lower the learning rate η.");
      return false;
    }
    const before = weightsBeforeOf(trace, known);
    lab.update({
      session: { ...page.session, state: trace.state },
      weightsBefore: before,
      weights: trace.layers.map((layer) => layer.weights),
      frame: frameOf(trace, page.frame?.example ?? 0),
    });
    remember(trace, before);
    chartStep(trace);
    return true;
  }

  /** Play faster than 30 steps/s with animation off: the drawing shows the latest step
   * 30 times a second (a frame of the whole page costs about as much as a step), and
   * the next step is asked for as soon as an answer comes (see playLoop). */
  const fastPlay = (budget) => page.playing && page.view.rate > FAST_PLAY && ms(budget) === 0;

  // Fast Play's pipeline: the next step, asked for while the page takes in the last
  // ({id: its session, answer: a promise}); whatever runs next takes it first.
  let ahead = null;
  function askAhead() {
    const answer = api.step(page.session.id, nextIndices());
    answer.catch(() => {}); // handled where it is awaited
    ahead = { id: page.session.id, answer };
  }
  function takeAhead() {
    const asked = ahead;
    ahead = null;
    return asked && asked.id === page.session?.id ? asked.answer : null;
  }
  /** Show the step fast Play asked for ahead, if any (before anything else changes the run). */
  async function settle() {
    if (ahead) await step(Infinity, false);
  }

  /** One SGD step (or the rest of one in progress); `pipeline`: fast Play may ask for the
   * next one at once. */
  async function step(budget = Infinity, pipeline = true) {
    const pending = page.session.state.pending;
    if (pending === "forward") await backwardBeat(budget);
    if (pending === "forward" || pending === "backward") return updateBeat(budget);
    // Nothing may delay showing a single step's numbers: the charts redraw after it.
    const alone = !page.playing;
    if (alone) player.holdCharts(true);
    try {
      const trace = await (takeAhead() ?? api.step(page.session.id, nextIndices()));
      if (pipeline && !trace.diverged && fastPlay(budget)) askAhead();
      if (!take(trace, page.weights)) return false;
      const marks = () => ctx.markExamples(trace.indices, page.pinned);
      if (fastPlay(budget)) {
        player.stillSoon(page.frame, page.weights, 1000 / FAST_PLAY, marks);
        return true;
      }
      marks();
      await player.play(page.frame, page.weights, ms(budget));
      return true;
    } finally {
      if (alone) player.holdCharts(false);
    }
  }

  async function forwardBeat() {
    await settle();
    if (page.session.state.pending !== "none") return;
    const answer = await api.forward(page.session.id, nextIndices());
    lab.update({
      session: { ...page.session, state: { ...page.session.state, pending: "forward" } },
      weightsBefore: page.weights,
      frame: forwardFrame(answer, page.frame?.example ?? 0),
    });
    ctx.markExamples(answer.indices, page.pinned);
    await player.beat("forward", page.frame, ms());
  }

  async function backwardBeat() {
    if (page.session.state.pending !== "forward") return;
    const answer = await api.backward(page.session.id);
    lab.update({
      session: { ...page.session, state: { ...page.session.state, pending: "backward" } },
      frame: withBackward(page.frame, answer),
    });
    await player.beat("backward", page.frame, ms());
  }

  async function updateBeat(budget = Infinity) {
    if (page.session.state.pending !== "backward") return false;
    if (!take(await api.update(page.session.id), page.weightsBefore)) return false;
    await player.beat("update", page.frame, ms(budget), page.weights);
    return true;
  }

  function remember(trace, before) {
    // Keep the last steps for undo to show, within about a million numbers.
    const weights = trace.layers.reduce((n, layer) => n + layer.weights.length * layer.weights[0].length, 0);
    const keep = Math.max(1, Math.min(20, Math.floor(1e6 / (4 * weights))));
    const traces = [...page.traces, { trace, before }];
    lab.update({ traces: traces.slice(-keep) });
  }

  async function undo() {
    await settle();
    const { pending, undo_available: available } = page.session.state;
    if (pending === "none" && !available) return; // nothing to undo: no request (a 409)
    const answer = await api.undo(page.session.id);
    ctx.exercise.cancel(); // undo cancels a step in progress, and its question
    const wasPending = page.session.state.pending !== "none";
    const step = answer.state.step;
    lab.update({ session: answer, weights: answer.state.weights });
    if (!wasPending) {
      lab.update({ traces: page.traces.filter((t) => t.trace.step <= step) });
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
      lab.update({ frame: frameOf(last.trace, page.frame?.example ?? 0), weightsBefore: last.before });
      ctx.markExamples(last.trace.indices, page.pinned);
      stepChart.show(last.trace);
      player.still(page.frame, null);
    } else {
      clearFrame();
    }
    quiet();
  }

  async function reset() {
    stopPlaying();
    await settle();
    const answer = await api.reset(page.session.id);
    ctx.exercise.cancel();
    lab.update({ session: answer, weights: answer.state.weights, traces: [] });
    network.setWeights(page.weights);
    chart.reset(answer.config.layers.length - 1);
    errorChart.clear();
    errorChart.add(answer.state);
    boundary.refresh(true);
    clearFrame();
    quiet();
  }

  function clearFrame() {
    lab.update({ frame: null, weightsBefore: null });
    stepChart.clear();
    ctx.markExamples([], page.pinned);
    player.clear();
  }

  // --------------------------------------------------------- Play and fast-forward
  function togglePlay() {
    if (page.playing) return stopPlaying();
    if (page.exercise) {
      say(`Play and fast-forward are off in exercise mode: each step asks you, so press Space for the next one (E turns exercise mode off).`, "info");
      return undefined;
    }
    if (!page.session || page.fastForwarding) return undefined;
    lab.update({ playing: true });
    return playLoop();
  }

  function stopPlaying() {
    if (page.playing) lab.update({ playing: false });
  }

  async function playLoop() {
    // wait for a step already under way (e.g. Space pressed just before P)
    while (page.busy) await sleep(10);
    // Steps are due on a fixed clock (1/rate apart): a step that came late is followed
    // at once by the next, so the rate holds on average. At most CATCH_UP_MS of steps
    // are made up: a stall (the charts' redraw) does not cost Play its rate, and a long
    // one (a hidden tab) does not bring a burst.
    // In fast Play the next step is asked for as soon as an answer comes, so the server
    // computes it while the page takes the last one in (one step ahead, no more).
    let due = performance.now();
    while (page.playing) {
      const budget = 1000 / page.view.rate;
      // the counters follow the drawing's pace: 30 times a second in fast Play
      lab.pace(fastPlay(budget) ? 1000 / FAST_PLAY : 0);
      if (!(await ctx.run(() => step(budget)))) stopPlaying();
      if (!page.playing) break;
      due = Math.max(due + budget, performance.now() - Math.max(budget, CATCH_UP_MS));
      const left = due - performance.now();
      if (left > 1) await sleep(left);
    }
    lab.pace(0);
    // Paused with a step asked for: the server has made it, so the page shows it.
    if (ahead) await ctx.run(settle, { wait: true });
    return undefined;
  }

  async function fastForward(total) {
    if (page.busy || page.fastForwarding || !page.session || page.exercise) return;
    if (ahead && !(await ctx.run(settle))) return;
    stopPlaying();
    player.finish();
    lab.update({ fastForwarding: true, stopRequested: false });
    ctx.controls.progress(0, total);
    clearFrame();
    player.setBeat("fastforward");
    const recordEvery = Math.max(1, Math.ceil(Math.min(total, FF_CHUNK) / 50));
    let done = 0;
    try {
      while (done < total && !page.stopRequested) {
        const answer = await api.train(page.session.id, Math.min(FF_CHUNK, total - done), recordEvery);
        done += answer.steps_done;
        lab.update({ session: { ...page.session, state: answer.state } });
        errorChart.add(answer.state);
        boundary.refresh();
        if (answer.state.weights) lab.update({ weights: answer.state.weights });
        await loadHistory();
        ctx.controls.progress(done, total);
        network.setWeights(page.weights);
        if (answer.diverged) {
          say(answer.message || "The run diverged: lower the learning rate η.");
          break;
        }
        if (answer.steps_done === 0) break;
      }
      if (!page.stopRequested) quiet();
    } catch (error) {
      await ctx.handle(error);
    } finally {
      lab.update({ fastForwarding: false, traces: [] });
      clearFrame();
    }
  }

  function stop() {
    if (page.fastForwarding) lab.update({ stopRequested: true });
    stopPlaying();
    player.finish();
  }

  return { step, forwardBeat, backwardBeat, updateBeat, undo, reset, togglePlay, stopPlaying, fastForward, stop, clearFrame, loadHistory };
}
