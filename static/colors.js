// Colours the page derives from the engine's numbers (it never derives the numbers).
// One diverging scale, blue (negative) – white (0) – orange (positive): it stays
// readable for red–green colour blindness, in greyscale and on a washed-out projector.

const DIVERGING = [
  [-1.0, [27, 79, 138]],
  [-0.6, [74, 144, 198]],
  [-0.25, [166, 207, 232]],
  [0.0, [247, 247, 247]],
  [0.25, [253, 208, 162]],
  [0.6, [240, 140, 58]],
  [1.0, [184, 71, 11]],
];

export const NEGATIVE = "#2f6db5"; // w < 0, δ < 0, y = −1 / class 0
export const POSITIVE = "#d9600f"; // w > 0, δ > 0, y = +1 / class 1
export const NEUTRAL = "#f7f7f7";

// Okabe & Ito's palette, safe for every common colour-vision deficiency.
const CATEGORICAL = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

// Viridis without its pale yellow end (unreadable on white): ordered, so layer 1
// and layer L of a deep network are told apart by lightness as well as hue.
const ORDERED = [
  [0.0, [68, 1, 84]],
  [0.25, [59, 82, 139]],
  [0.5, [33, 145, 140]],
  [0.75, [94, 201, 98]],
  [1.0, [180, 200, 30]],
];

function lerpStops(stops, t) {
  if (t <= stops[0][0]) return stops[0][1];
  for (let k = 1; k < stops.length; k += 1) {
    const [t1, c1] = stops[k];
    if (t <= t1) {
      const [t0, c0] = stops[k - 1];
      const u = (t - t0) / (t1 - t0);
      return c0.map((v, i) => v + u * (c1[i] - v));
    }
  }
  return stops[stops.length - 1][1];
}

const rgb = (c) => `rgb(${Math.round(c[0])},${Math.round(c[1])},${Math.round(c[2])})`;

// The diverging scale in 1024 steps: a canvas colours tens of thousands of cells a step.
const STEPS = 1024;
const TABLE = Array.from({ length: STEPS + 1 }, (_, n) => lerpStops(DIVERGING, (2 * n) / STEPS - 1).map(Math.round));

/** [r, g, b] of t in [−1, 1] on the diverging scale (clamped; 1/512 apart). */
export function divergingRgb(t) {
  const u = Math.max(-1, Math.min(1, t)) || 0;
  return TABLE[Math.round(((u + 1) * STEPS) / 2)];
}

/** Colour of t in [−1, 1] on the diverging scale (clamped). */
export function diverging(t) {
  return rgb(divergingRgb(t));
}

/** Text colour that reads on top of diverging(t). */
export function inkOn(t) {
  return Math.abs(t) > 0.55 ? "#ffffff" : "#111111";
}

/**
 * Where x sits on the diverging scale for an activation: bounded θ use their range
 * (sigmoid and softmax are centred on 1/2), unbounded ones are squashed by tanh so
 * that large values saturate the colour instead of wrapping.
 */
export function unitScale(activation) {
  if (activation === "tanh") return (x) => x;
  if (activation === "sigmoid" || activation === "softmax") return (x) => 2 * x - 1;
  return (x) => Math.tanh(x);
}

/** Colour of class k (K classes); 2 classes use the two ends of the diverging scale. */
export function classColor(k, classes) {
  if (classes <= 2) return k >= 1 ? POSITIVE : NEGATIVE;
  return CATEGORICAL[k % CATEGORICAL.length];
}

/** Colour of a regression target or any real value, via tanh squashing. */
export function valueColor(v) {
  return diverging(Math.tanh(v));
}

/** Colour of layer l (1 … L) in charts: ordered from dark (layer 1) to light (layer L). */
export function layerColor(l, depth) {
  const t = depth <= 1 ? 0 : (l - 1) / (depth - 1);
  return rgb(lerpStops(ORDERED, t));
}

/** A legend for the layers' colours at any depth: a ramp from layer 1 to layer `depth`. */
export function paintLayerRamp(ramp, last, depth) {
  const n = Math.max(depth, 2);
  const stops = Array.from({ length: n }, (_, l) => layerColor(l + 1, n));
  ramp.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  ramp.title = `layer 1 (dark) … layer ${n} (light)`;
  last.textContent = String(n);
}

/** The values at the two ends of the unit colour scale for θ (see unitScale). */
export function scaleEnds(activation) {
  if (activation === "tanh") return ["−1", "+1"];
  if (activation === "sigmoid" || activation === "softmax") return ["0", "1"];
  return ["−2", "+2"]; // squashed by tanh: beyond ±2 the colour hardly changes
}

/** Fill a colour legend: the gradient swatch and the x values at its two ends. */
export function paintScaleLegend(swatch, lo, hi, activation) {
  swatch.style.background = divergingGradient();
  [lo.textContent, hi.textContent] = scaleEnds(activation);
}

/** CSS gradient of the diverging scale, for legends. */
export function divergingGradient() {
  const stops = DIVERGING.map(([t, c]) => `${rgb(c)} ${((t + 1) / 2) * 100}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}
