// The setup: the one object every control writes to, mirrored in the query string so
// that a link reproduces the run (same config and seeds ⇒ the same numbers, step by step).

export const DEFAULT_SETUP = Object.freeze({
  // the network and its training (the API's config)
  layers: [2, 4, 1],
  activation: "tanh",
  output: "tanh",
  loss: "squared",
  init: "xavier",
  scale: 1.0,
  eta: 0.1,
  batch: 1,
  seed: 0,
  features: null, // x(0) from the raw point, e.g. ["x1²", "x2²"]; null: the point itself
  reg: "none", // regularisation: none, l2, l1
  lambda: 0, // its strength λ
  // the data
  data: "xor",
  n: 200,
  noise: 0.1,
  dseed: 0,
  test: 0.2,
  classes: null,
  // the view (not sent to the API)
  speed: 1, // animation speed; 0 = off
  rate: 5, // steps per second in Play
  present: false, // projector mode
  showTest: false, // the data view shows the test points too
  discretize: false, // the data view shows the output's class, not its value
  exercise: "", // exercise mode, as exercise.js's modeText(): "" (off), "delta-output", …
});

// query key → [setup field, parse]
const number = (text) => (text === "" || text === null ? NaN : Number(text));
const flag = (t) => t === "1" || t === "true";
const FIELDS = {
  layers: (t) => t.split(/[-,x ]+/).filter(Boolean).map(Number),
  act: ["activation", String],
  out: ["output", String],
  loss: ["loss", String],
  init: ["init", String],
  scale: ["scale", number],
  eta: ["eta", number],
  batch: ["batch", number],
  seed: ["seed", number],
  feat: ["features", (t) => (t ? t.split(",").map((name) => name.trim()).filter(Boolean) : null)],
  reg: ["reg", String],
  lambda: ["lambda", number],
  data: ["data", String],
  n: ["n", number],
  noise: ["noise", number],
  dseed: ["dseed", number],
  test: ["test", number],
  classes: ["classes", number],
  speed: ["speed", number],
  rate: ["rate", number],
  present: ["present", flag],
  testpts: ["showTest", flag],
  discrete: ["discretize", flag],
  ex: ["exercise", String],
};

/** The setup a query string describes; missing or unreadable values take the default. */
export function readSetup(search) {
  const params = new URLSearchParams(search);
  const setup = { ...DEFAULT_SETUP, layers: [...DEFAULT_SETUP.layers] };
  for (const [key, spec] of Object.entries(FIELDS)) {
    if (!params.has(key)) continue;
    const text = params.get(key);
    if (key === "layers") {
      const sizes = spec(text);
      if (sizes.length >= 2 && sizes.every((d) => Number.isInteger(d) && d >= 1)) setup.layers = sizes;
      continue;
    }
    const [field, parse] = spec;
    const value = parse(text);
    if (typeof value === "number" && !Number.isFinite(value)) continue;
    setup[field] = value;
  }
  return setup;
}

/** The query string of a setup (every field, so the link does not depend on defaults). */
export function writeSetup(setup) {
  const params = new URLSearchParams();
  params.set("layers", setup.layers.join("-"));
  for (const [key, spec] of Object.entries(FIELDS)) {
    if (key === "layers") continue;
    const field = spec[0];
    const value = setup[field];
    if (value === null || value === undefined || value === "") continue;
    if (typeof value === "boolean") {
      if (value) params.set(key, "1");
      continue;
    }
    params.set(key, String(value));
  }
  return `?${params.toString()}`;
}

/** The POST /api/sessions body for a setup. */
export function configOf(setup) {
  return {
    layers: setup.layers,
    activation: setup.activation,
    output: setup.output,
    loss: setup.loss,
    init: { scheme: setup.init, scale: setup.scale },
    learning_rate: setup.eta,
    batch_size: setup.batch,
    seed: setup.seed,
    features: setup.features?.length ? setup.features : null,
    regularization: { kind: setup.reg, strength: setup.lambda },
    dataset: {
      name: setup.data,
      n: setup.n,
      noise: setup.noise,
      seed: setup.dseed,
      test_ratio: setup.test,
      classes: setup.classes,
    },
  };
}

/** The setup fields of an API config (a preset's or a session's), view fields kept. */
export function setupFromConfig(config, view = DEFAULT_SETUP) {
  const d = config.dataset || {};
  return {
    ...view,
    layers: [...(config.layers ?? DEFAULT_SETUP.layers)],
    activation: config.activation ?? DEFAULT_SETUP.activation,
    output: config.output ?? DEFAULT_SETUP.output,
    loss: config.loss ?? DEFAULT_SETUP.loss,
    init: config.init?.scheme ?? DEFAULT_SETUP.init,
    scale: config.init?.scale ?? DEFAULT_SETUP.scale,
    eta: config.learning_rate ?? DEFAULT_SETUP.eta,
    batch: config.batch_size ?? DEFAULT_SETUP.batch,
    seed: config.seed ?? DEFAULT_SETUP.seed,
    features: config.features ?? null,
    reg: config.regularization?.kind ?? DEFAULT_SETUP.reg,
    lambda: config.regularization?.strength ?? DEFAULT_SETUP.lambda,
    data: d.name ?? DEFAULT_SETUP.data,
    n: d.n ?? DEFAULT_SETUP.n,
    noise: d.noise ?? DEFAULT_SETUP.noise,
    dseed: d.seed ?? DEFAULT_SETUP.dseed,
    test: d.test_ratio ?? DEFAULT_SETUP.test,
    classes: d.classes ?? null,
  };
}

/** Fields whose change needs a new session (η, the batch size and the regularisation
 * are PATCHed instead). */
export function needsNewSession(before, after) {
  const keys = ["activation", "output", "loss", "init", "scale", "seed", "data", "n", "noise", "dseed", "test", "classes"];
  const features = (setup) => (setup.features ?? []).join(",");
  return (
    before.layers.join("-") !== after.layers.join("-") ||
    features(before) !== features(after) ||
    keys.some((k) => before[k] !== after[k])
  );
}
