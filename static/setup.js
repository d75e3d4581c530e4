// The setup: the API's session config (POST /api/sessions, field for field) and the
// page's view settings, mirrored in the query string so that a link reproduces the
// run (same config and seeds ⇒ the same numbers, step by step). The query uses the
// config's own field names, nested ones with a dot: ?learning_rate=0.1&dataset.seed=3.

export const DEFAULT_CONFIG = Object.freeze({
  layers: [2, 4, 1],
  activation: "tanh",
  output: "tanh",
  loss: "squared",
  init: { scheme: "xavier", scale: 1.0 },
  learning_rate: 0.1,
  batch_size: 1,
  seed: 0,
  dataset: { name: "xor", n: 200, noise: 0.1, seed: 0, test_ratio: 0.2, classes: null },
  features: null, // x(0) from the raw point, e.g. ["x1²", "x2²"]; null: the point itself
  regularization: { kind: "none", strength: 0 }, // Ω: none, l2 or l1, and its λ
});

export const DEFAULT_VIEW = Object.freeze({
  speed: 1, // animation speed; 0 = off
  rate: 5, // steps per second in Play
  present: false, // projector mode
  exercise: "", // exercise mode, as exercise.js's modeText(): "" (off), "delta-output", …
  showTest: false, // the input-plane view shows the test points too
  discretize: false, // … and the output's class instead of its value
  maps: false, // each hidden unit's circle shows its x over the input plane
});

// The config's leaves, as query keys ("init.scheme"), in the order a link lists them.
const PATHS = [
  "layers", "activation", "output", "loss", "init.scheme", "init.scale", "learning_rate", "batch_size", "seed",
  "dataset.name", "dataset.n", "dataset.noise", "dataset.seed", "dataset.test_ratio", "dataset.classes",
  "features", "regularization.kind", "regularization.strength",
];
const VIEW_KEYS = { speed: "speed", rate: "rate", present: "present", exercise: "ex", showTest: "testpts", discretize: "discrete", maps: "maps" };
// Links written before the query used the API's names still open the same run.
const OLD_KEYS = {
  act: "activation", out: "output", init: "init.scheme", scale: "init.scale", eta: "learning_rate",
  batch: "batch_size", data: "dataset.name", n: "dataset.n", noise: "dataset.noise", dseed: "dataset.seed",
  test: "dataset.test_ratio", classes: "dataset.classes",
};

export const getPath = (object, path) => path.split(".").reduce((o, k) => o?.[k], object);

/** A copy of `config` with the leaf at `path` ("dataset.seed") set to `value`. */
export function setPath(config, path, value) {
  const copy = structuredClone(config);
  const keys = path.split(".");
  const last = keys.pop();
  keys.reduce((o, k) => (o[k] ??= {}), copy)[last] = value;
  return copy;
}

/** A query value as the type of the default it replaces (numbers: null when unreadable);
 * `features` is a comma-separated list of names (x1,x1²). */
function parse(text, example, path) {
  if (path === "features") {
    const names = text.split(",").map((name) => name.trim()).filter(Boolean);
    return names.length ? names : null;
  }
  if (Array.isArray(example)) {
    const sizes = text.split(/[-,x ]+/).filter(Boolean).map(Number);
    return sizes.length >= 2 && sizes.every((d) => Number.isInteger(d) && d >= 1) ? sizes : null;
  }
  if (typeof example === "string") return text;
  if (typeof example === "boolean") return text === "1" || text === "true";
  const value = text === "" ? NaN : Number(text);
  return Number.isFinite(value) ? value : null;
}

// Your own points (dataset "custom"): in the query as "x₁,x₂;x₁,x₂;…" and "y;y;…", so
// that a link carries them (a few hundred points make a link of a few kilobytes).
const CUSTOM_KEYS = ["name", "points", "labels", "regression", "test_ratio", "seed"];
const round = (v) => String(Math.round(v * 1000) / 1000);

function readCustom(params) {
  const points = (params.get("dataset.points") ?? "").split(";").filter(Boolean).map((p) => p.split(",").map(Number));
  const labels = (params.get("dataset.labels") ?? "").split(";").filter(Boolean).map(Number);
  const ok = points.length && points.length === labels.length && [...points.flat(), ...labels].every(Number.isFinite);
  return ok ? { name: "custom", points, labels, regression: params.get("dataset.regression") === "1", test_ratio: 0, seed: 0 } : null;
}

/** The config as the API takes it: a custom data set has its own fields, no others. */
export function apiConfig(config) {
  const d = config.dataset;
  if (d.name === "custom") return { ...config, dataset: Object.fromEntries(CUSTOM_KEYS.filter((k) => k in d).map((k) => [k, d[k]])) };
  const { points, labels, regression, ...generated } = d;
  return { ...config, dataset: { ...DEFAULT_CONFIG.dataset, ...generated } };
}

/** {config, view} of a query string; missing or unreadable values take the default. */
export function readSetup(search) {
  const params = new URLSearchParams(search);
  let config = structuredClone(DEFAULT_CONFIG);
  for (const [key, text] of params) {
    const path = PATHS.includes(key) ? key : OLD_KEYS[key];
    if (!path || (path !== key && params.has(path))) continue; // the new name wins
    const value = parse(text, getPath(DEFAULT_CONFIG, path) ?? 0, path);
    if (value !== null) config = setPath(config, path, value);
  }
  const custom = config.dataset.name === "custom" ? readCustom(params) : null;
  if (custom) config = { ...config, dataset: custom };
  else if (config.dataset.name === "custom") config = setPath(config, "dataset.name", DEFAULT_CONFIG.dataset.name);
  const view = { ...DEFAULT_VIEW };
  for (const [field, key] of Object.entries(VIEW_KEYS)) {
    if (!params.has(key)) continue;
    const value = parse(params.get(key), DEFAULT_VIEW[field]);
    if (value !== null) view[field] = value;
  }
  return { config, view };
}

/** The query string of a setup (every config field, so a link does not depend on defaults). */
export function writeSetup({ config, view }) {
  const params = new URLSearchParams();
  const custom = config.dataset.name === "custom";
  for (const path of PATHS) {
    const value = getPath(config, path);
    if (value === null || value === undefined || (custom && path.startsWith("dataset.") && path !== "dataset.name")) continue;
    params.set(path, Array.isArray(value) ? value.join(path === "features" ? "," : "-") : String(value));
  }
  if (custom) {
    params.set("dataset.points", config.dataset.points.map((p) => p.map(round).join(",")).join(";"));
    params.set("dataset.labels", config.dataset.labels.map(round).join(";"));
    if (config.dataset.regression) params.set("dataset.regression", "1");
  }
  for (const [field, key] of Object.entries(VIEW_KEYS)) {
    const value = view[field];
    if (value === false || value === "" || value === null || value === undefined) continue;
    params.set(key, value === true ? "1" : String(value));
  }
  return `?${params.toString()}`;
}

/** A config as the page keeps it: the API's, with every field present. */
export function completeConfig(config) {
  return {
    ...structuredClone(DEFAULT_CONFIG),
    ...structuredClone(config),
    init: { ...DEFAULT_CONFIG.init, ...config.init },
    // a custom data set (points and labels) takes none of the generated sets' fields
    dataset: config.dataset?.name === "custom" ? structuredClone(config.dataset) : { ...DEFAULT_CONFIG.dataset, ...config.dataset },
    regularization: { ...DEFAULT_CONFIG.regularization, ...config.regularization },
  };
}

/** Does going from config `a` to `b` need a new session? (η, B and the regularisation
 * are PATCHed instead.) */
export function needsNewSession(a, b) {
  const fixed = ({ learning_rate, batch_size, regularization, ...rest }) => JSON.stringify(rest);
  return fixed(completeConfig(a)) !== fixed(completeConfig(b));
}
