// The events of a step's three beats on the network view, for the step player: each
// beat is a list of {at (ms), run} (see timeline.js); `ms` is the time per layer
// (0: all at once). Small networks also pulse their lines and flash their units.

// Up to this many units in all, units flash as their beat reaches them (see flash()).
const FLASH_UNITS = 64; // the 6 × 8 vanishing-gradient preset still flashes (7.7 ms a frame)

/** The events of `beat` ("forward", "backward", "update") of `frame` on view `v`. */
export function beatEvents(v, beat, frame, ms, weightsAfter = null) {
  if (beat === "forward") return forwardEvents(v, frame, ms);
  if (beat === "backward") return backwardEvents(v, frame, ms);
  return updateEvents(v, frame, weightsAfter, ms);
}

/**
 * Events for beat 1: the example enters on the left and each layer lights up in
 * turn. `ms` is the time per layer (0: all at once).
 */
function forwardEvents(v, frame, ms) {
  const events = [];
  const L = v.depth;
  events.push({
    at: 0,
    run: () => {
      v.clearValues();
      v.frame = frame;
      v.phase = "forward";
      // units not reached yet fade (on a painted network they are blank until reached)
      if (ms > 0 && !v.painted) v.units.slice(1).flat().forEach((g) => g?.classList.add("waiting"));
      v.paintInput(frame);
      if (ms > 0) flash(v, 0);
    },
  });
  for (let l = 1; l <= L; l += 1) {
    const at = l * ms;
    if (ms > 0) pulse(v, events, l, "pulse-fwd", at - ms * 0.85, ms * 0.85);
    events.push({
      at,
      run: () => {
        if (!v.painted) v.units[l].forEach((g) => g?.classList.remove("waiting"));
        v.paintForward(l, frame);
        if (ms > 0) flash(v, l);
      },
    });
  }
  return events;
}

/** Beat 2: δ(L) at the output, then back through W(l) to δ(1). */
function backwardEvents(v, frame, ms) {
  const events = [{ at: 0, run: () => ((v.frame = frame), (v.phase = "backward")) }];
  const L = v.depth;
  for (let l = L, n = 0; l >= 1; l -= 1, n += 1) {
    const at = n * ms;
    if (ms > 0 && l < L) pulse(v, events, l + 1, "pulse-back", at - ms * 0.85, ms * 0.85);
    events.push({
      at,
      run: () => {
        v.paintBackward(l, frame);
        if (ms > 0) flash(v, l, "flash-delta");
      },
    });
  }
  return events;
}

/** Beat 3: Δw = −η x δ on every line, which then takes its new width. */
function updateEvents(v, frame, weightsAfter, ms) {
  const events = [
    {
      at: 0,
      run: () => {
        v.frame = frame;
        v.phase = "update";
        v.paintUpdate(frame);
        if (ms > 0) for (let l = 1; l <= v.depth; l += 1) v.edges.pulse(l)?.classList.add("updating");
      },
    },
    { at: ms * 0.4, run: () => v.setWeights(weightsAfter) },
  ];
  if (ms > 0)
    events.push({
      at: ms * 1.6,
      run: () => {
        for (let l = 1; l <= v.depth; l += 1) v.edges.pulse(l)?.classList.remove("updating");
      },
    });
  return events;
}

function pulse(v, events, l, cls, at, duration) {
  const group = v.edges.pulse(l);
  if (!group) return;
  events.push({ at: Math.max(0, at), run: () => group.classList.add(cls) });
  events.push({ at: Math.max(0, at) + duration, run: () => group.classList.remove(cls) });
}

function flash(v, l, cls = "flash") {
  // Web Animations restart cleanly on every call, unlike toggling a CSS class. Each
  // one is a layer for the compositor to place on every frame: on a big network
  // (a 16-layer one has 160 units) that alone took ~15 ms a frame, so only small
  // networks flash; on big ones the rings and colours change without it.
  if (v.sizes.reduce((a, b) => a + b, 0) > FLASH_UNITS) return;
  v.units[l].forEach((g, j) => {
    if (!g || j === 0) return;
    const target = cls === "flash-delta" ? g.ring : g.body;
    target.animate(
      cls === "flash-delta"
        ? [{ opacity: 0 }, { opacity: 1 }]
        : [{ strokeWidth: "6px", stroke: "#111" }, { strokeWidth: "1.5px" }],
      { duration: 450, easing: "ease-out" },
    );
  });
}
