// The step player: plays a step's three beats — forward, backward, update — on a
// network view, for the main page and the follow page alike. It takes the numbers to
// show (a frame, see trace.js) and the view to show them on, and owns the beat
// caption (the one copy of its words), the timing of a beat and the cancellable
// timeline, so both pages animate a trace identically.

import { beatEvents } from "./beats.js";
import { $ } from "./dom.js";
import { Timeline } from "./timeline.js";

export const SPEEDS = [0, 0.25, 0.5, 1, 2, 4]; // animation speed; 0 = off
const BEAT_MS = 450; // time per layer of a beat at 1× (the time of one layer lighting up)
const STEP_MAX_MS = 1400; // … but a whole step (three beats) takes at most about 1.5 s at 1×
const MIN_BEAT_MS = 30; // below this a beat is not animated: the drawing jumps

export const CAPTIONS = {
  idle: 'Press <kbd>Space</kbd> for one SGD step, or <kbd>F</kbd> for its first beat.',
  following: "Following the teacher's run: the drawing moves when the teacher steps.",
  forward:
    '<b>1 · Forward.</b> Each layer in turn: <span class="math">s<sub>j</sub>(l) = Σ<sub>i</sub> w<sub>ij</sub>(l) x<sub>i</sub>(l−1)</span>, then <span class="math">x<sub>j</sub>(l) = θ(s<sub>j</sub>(l))</span>.',
  backward:
    '<b>2 · Backward.</b> δ from the output back: <span class="math">δ<sub>i</sub>(l−1) = θ′(s<sub>i</sub>(l−1)) Σ<sub>j</sub> w<sub>ij</sub>(l) δ<sub>j</sub>(l)</span>.',
  update:
    '<b>3 · Update.</b> Each line: <span class="math">Δw<sub>ij</sub>(l) = −η x<sub>i</sub>(l−1) δ<sub>j</sub>(l)</span>, new width.',
  fastforward: "<b>Fast-forward.</b> The server runs the steps; the lines show the weights.",
  ask: "<b>Your turn:</b> type your prediction.",
};

// The beats still to play after a phase ("none": the whole step).
const AFTER = { none: ["forward", "backward", "update"], forward: ["backward", "update"], backward: ["update"] };

/**
 * Milliseconds per layer of a beat: `speed` (× of normal, 0 = off) for a network of
 * `layers` columns; `budget` ms (Play's pace, the teacher's) must hold `slots` layer-beats.
 */
export function beatMs(speed, layers, budget = Infinity, slots = 2 * layers + 1) {
  if (!speed) return 0;
  // a step's three beats last about 2·layers + 2.3 layer-times (beats.js: forward and
  // backward one a column, the update 1.6, each beat's last pulse 0.9)
  let ms = Math.min(BEAT_MS, STEP_MAX_MS / (2 * layers + 2.3)) / speed;
  if (ms * slots > budget * 0.85) ms = (budget * 0.85) / slots;
  return ms < MIN_BEAT_MS ? 0 : ms;
}

export class StepPlayer {
  /**
   * view: {network (NetworkView), idle (caption key when no beat shows),
   *        onBeat(beat) (redraw what depends on the beat: the formulas),
   *        charts (hold their redraws while a beat animates)}
   */
  constructor({ network, idle = "idle", onBeat = () => {}, charts = [] }) {
    this.network = network;
    this.idle = idle;
    this.onBeat = onBeat;
    this.charts = charts;
    this.timeline = new Timeline();
    this.phase = "idle";
    this.soon = null; // a drawing of the latest step, due (stillSoon)
    this.lastStill = 0;
  }

  /** Show a beat's caption (or "idle", "ask", "fastforward") and mark the page with it. */
  caption(beat) {
    const key = beat === "idle" ? this.idle : beat;
    const el = $("#beat-caption");
    // Play shows the same caption step after step: written again only when it changes
    if (el.captionKey === key && el.textContent === el.captionText) return;
    el.innerHTML = CAPTIONS[key] ?? CAPTIONS[this.idle];
    [el.captionKey, el.captionText] = [key, el.textContent];
  }

  setBeat(beat) {
    this.phase = beat;
    if (document.body.dataset.beat !== beat) document.body.dataset.beat = beat;
    this.caption(beat);
  }

  /** Hold the charts' redraws (a beat animates, or a step's answer is on its way and
   * nothing may delay showing it); released, they redraw after the next paint. */
  holdCharts(on) {
    for (const c of this.charts) c.hold(on);
  }

  /** Jump to the end of the beat under way (a key pressed mid-animation). */
  finish() {
    this.timeline.finish();
  }

  /** Jump to the end of the step under way: its beat now, the beats still to come at
   * once (more steps are waiting to be shown). */
  hurry() {
    this.rushed = true;
    this.finish();
  }

  /** One beat of `frame`: `ms` per layer (0: at once); the update needs the new W. */
  async beat(beat, frame, ms, weightsAfter = null) {
    this.cancelSoon();
    const n = this.network;
    const events = beatEvents(n, beat, frame, ms, weightsAfter);
    this.setBeat(beat);
    this.onBeat(beat);
    document.body.dataset.animating = String(ms > 0);
    n.setTiming(ms);
    const last = events.reduce((t, e) => Math.max(t, e.at), 0);
    this.holdCharts(ms > 0);
    await this.timeline.play(events, last + (ms > 0 ? ms * 0.9 : 0));
    this.holdCharts(false);
    document.body.dataset.animating = "false";
  }

  /**
   * The beats of a step after phase `from` ("none": all three). hooks.before(beat) runs
   * before a beat, hooks.after(beat) is awaited after it (the follow page asks its
   * exercise there). Without hooks and with ms = 0 the step is painted at once.
   */
  async play(frame, weightsAfter, ms, from = "none", hooks = null) {
    if (ms === 0 && from === "none" && !hooks) {
      this.still(frame, weightsAfter);
      return;
    }
    this.rushed = false;
    for (const beat of AFTER[from]) {
      hooks?.before?.(beat);
      await this.beat(beat, frame, this.rushed ? 0 : ms, weightsAfter);
      await hooks?.after?.(beat);
    }
  }

  /**
   * Play faster than the eye: show the latest step at most every `gap` ms (steps that
   * land in between are skipped by the drawing, not by the run or the charts); `also`
   * draws the rest of the step with it.
   */
  stillSoon(frame, weights, gap, also = () => {}) {
    this.latest = { frame, weights, also };
    if (this.soon) return;
    const wait = Math.max(0, gap - (performance.now() - this.lastStill));
    this.soon = setTimeout(() => {
      this.soon = null;
      this.latest.also(); // what else shows the step (the data's rings)
      this.still(this.latest.frame, this.latest.weights);
    }, wait);
  }

  cancelSoon() {
    clearTimeout(this.soon);
    this.soon = null;
  }

  /** Everything of `frame` up to `phase`, at once (animation off, catching up, undo). */
  still(frame, weights, phase = "update") {
    this.cancelSoon();
    this.lastStill = performance.now();
    const n = this.network;
    this.finish();
    n.setTiming(0);
    n.frame = frame;
    n.phase = phase;
    n.clearEdgeLabels();
    if (weights) n.setWeights(weights);
    n.paintAll(phase);
    this.setBeat(phase);
    this.onBeat(phase);
    document.body.dataset.animating = "false";
  }

  /** No step on show. */
  clear() {
    this.cancelSoon();
    this.finish();
    this.network.clearValues();
    this.setBeat("idle");
    this.onBeat("idle");
  }
}
