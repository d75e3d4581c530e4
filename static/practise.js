// Exercise mode on the main page: a student alone practises on their own run. After
// the forward beat the page asks for δ (after the backward beat: for a new weight),
// which it does not know yet — the step goes phase by phase through /forward,
// /backward, /update, and the API checks the answer against the step in progress.
// Answering reveals: the next beat plays.

import { $ } from "./dom.js";
import { askOnDrawing, modeText, questionFor } from "./exercise.js";

const ASKED_AFTER = { forward: "delta", backward: "weight" };

export function createPractice(ctx, stepping) {
  const { lab, player, network, exercise } = ctx;
  const page = lab.state;
  const BEATS = {
    none: ["forward", stepping.forwardBeat],
    forward: ["backward", stepping.backwardBeat],
    backward: ["update", stepping.updateBeat],
  };

  function setExercise(mode) {
    lab.update({ exercise: mode });
    if (mode) {
      lab.update({ lastExercise: mode });
      stepping.stopPlaying(); // each step asks: Play is off in exercise mode
    }
    exercise.setMode(mode); // off: an open question is cancelled, the step waits where it is
    ctx.controls.exercise.set(mode);
    ctx.changeView({ exercise: modeText(mode) });
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
      player.finish(); // a key pressed mid-animation jumps to the end of the beat
      return;
    }
    if (!page.session || page.session.state.pending !== from) return;
    lab.update({ practising: true });
    try {
      for (let reveal = false; ; reveal = !whole) {
        const [beat, play] = BEATS[page.session.state.pending];
        if (!(await ctx.run(play)) || beat === "update" || reveal) return;
        const answered = await askAfter(beat);
        if (answered === null || (!whole && !answered)) return;
      }
    } finally {
      lab.update({ practising: false });
    }
  }

  /** After `beat`, ask what the mode asks there: true when answered, null when cancelled. */
  async function askAfter(beat) {
    const mode = page.exercise;
    if (!mode || mode.kind !== ASKED_AFTER[beat] || !page.frame?.layers?.length) return false;
    lab.update({ asking: true });
    player.caption("ask");
    const asked = questionFor(mode, page.session.config.layers, page.frame, page.selection);
    const results = await askOnDrawing(exercise, network, asked, ctx.select);
    lab.update({ asking: false });
    player.setBeat(player.phase);
    return results === null ? null : true;
  }

  return { setExercise, practise };
}
