// What a page shows from the API's answers (POST …/forward, …/backward, …/step or
// …/update, or the follow stream's copies of them): a "frame" of numbers. Shared by the
// main page and the follow page, so both read a trace the same way.

/** The frame of a forward beat (s and x of each layer; δ and the update come later). */
export function forwardFrame(trace, example = 0) {
  return {
    example: Math.min(example, trace.input.length - 1),
    step: trace.step,
    indices: trace.indices,
    input: trace.input,
    target: trace.target,
    error: trace.error,
    layers: trace.layers.map((l) => ({ s: l.s, x: l.x, prime: l.prime })),
  };
}

/** The frame after the backward beat: δ and the gradients added to each layer. */
export function withBackward(frame, trace) {
  return { ...frame, layers: frame.layers.map((layer, n) => ({ ...layer, ...trace.layers[n] })) };
}

/** Numbers to show from a full step trace; `example` is the batch row on show. */
export function frameOf(trace, example = 0) {
  return { ...forwardFrame(trace, example), layers: trace.layers };
}

/** The same frame showing another row of its batch (`delta` rows on, wrapping round);
 * null when the batch has one example. */
export function shiftExample(frame, delta) {
  const batch = frame?.input.length ?? 0;
  if (batch <= 1) return null;
  return { ...frame, example: (frame.example + delta + batch) % batch };
}

/** The weights a trace started from: the page's own copy if it fits, else W after − ΔW. */
export function weightsBeforeOf(trace, known) {
  const fits =
    known &&
    known.length === trace.layers.length &&
    known.every(
      (W, n) => W.length === trace.layers[n].weights.length && W[0]?.length === trace.layers[n].weights[0]?.length,
    );
  if (fits) return known;
  return trace.layers.map((layer) => layer.weights.map((row, i) => row.map((w, j) => w - layer.update[i][j])));
}
