// What /compare compares: the pairs of runs (two configs that differ in one setting,
// on the same data with the same seed, hence the same example at every step), and a
// run's record of its numbers (‖G(l)‖ per layer and the errors over the steps).

import { api, ApiError } from "./api.js";

const MAX_POINTS = 3000; // per series; beyond it every other point is dropped

// Same data, same seed: the engine's example order depends on nothing else, so both
// runs see the same example at every step.
const DATA = { name: "circle", n: 200, noise: 0.1, seed: 0, test_ratio: 0.2 };
const SEED = 0;
const TANH_DEEP = [2, 8, 8, 8, 8, 8, 1];

export const PAIRS = {
  "sigmoid-relu": {
    presets: ["vanishing-sigmoid", "deep-relu"],
    // the hidden θ is what differs: the output and its loss must not, or the errors
    // are on two scales (a sigmoid output's 0/1 targets against tanh's ±1)
    same: { output: "tanh", loss: "squared" },
    names: ["sigmoid", "ReLU"],
    caption:
      "Same 10 hidden layers, same examples. Sigmoid's θ′ ≤ 1/4 shrinks δ at every layer: its bars fall by decades towards layer 1, ReLU's stay level.",
  },
  init: {
    configs: [
      { layers: TANH_DEEP, init: { scheme: "normal", scale: 0.1 } },
      { layers: TANH_DEEP, init: { scheme: "xavier", scale: 1.0 } },
    ],
    common: { activation: "tanh", output: "tanh", loss: "squared", learning_rate: 0.1, batch_size: 1 },
    names: ["small init (normal, 0.1)", "Xavier init"],
    caption:
      "Same tanh network, same examples, only the starting weights differ. Small weights shrink δ on its way back: A's first layers barely learn, B's gradient reaches layer 1.",
  },
  eta: {
    configs: [{ learning_rate: 0.01 }, { learning_rate: 0.5 }],
    common: { layers: [2, 8, 8, 1], activation: "tanh", output: "tanh", loss: "squared", batch_size: 1 },
    names: ["η = 0.01", "η = 0.5"],
    caption:
      "Same network, same start, same examples; only the step size η differs. η = 0.01 creeps downhill; η = 0.5 overshoots into tanh's flat ends, where θ′ ≈ 0 and the gradient dies.",
  },
};
export const DEFAULT_PAIR = "sigmoid-relu";

export function pairFromUrl() {
  const pair = new URLSearchParams(location.search).get("pair");
  return pair && pair in PAIRS ? pair : DEFAULT_PAIR;
}

export async function configsOf(pairKey) {
  const pair = PAIRS[pairKey];
  let configs;
  if (pair.presets) {
    const presets = await api.presets();
    configs = pair.presets.map((name) => {
      const preset = presets.find((p) => p.name === name);
      if (!preset) throw new ApiError(404, `The server has no preset called “${name}”.`);
      return { ...preset.config, ...pair.same };
    });
  } else {
    configs = pair.configs.map((c) => ({ ...pair.common, ...c }));
  }
  return configs.map((c) => ({ ...c, dataset: { ...(c.dataset ?? DATA) }, seed: SEED }));
}

export function describe(config) {
  const init = config.init ?? { scheme: "xavier", scale: 1 };
  return `${config.layers.join("-")} · θ ${config.activation} · init ${init.scheme} ${init.scale} · η ${config.learning_rate} · data ${config.dataset.name}, seed ${config.seed}`;
}

export function newRun(key, session, name) {
  const depth = session.config.layers.length - 1;
  return {
    key,
    id: session.id,
    config: session.config,
    name,
    step: session.state.step,
    steps: [],
    norms: Array.from({ length: depth }, () => []),
    errSteps: [],
    err: [],
    trainSteps: [session.state.step],
    train: [session.state.train_error],
    accuracy: session.state.train_accuracy,
    last: null, // the latest /step answer
  };
}

function capped(array) {
  return array.length > MAX_POINTS ? array.filter((_, n) => n % 2 === 1 || n === array.length - 1) : array;
}

export function record(run, steps, gradNorms, errors) {
  for (let n = 0; n < steps.length; n += 1) {
    const row = gradNorms[n];
    if (row && row.length === run.norms.length) {
      run.steps.push(steps[n]);
      row.forEach((v, l) => run.norms[l].push(v));
    }
    if (errors[n] !== null && errors[n] !== undefined) {
      run.errSteps.push(steps[n]);
      run.err.push(errors[n]);
    }
  }
  if (run.steps.length > MAX_POINTS) {
    run.norms = run.norms.map(capped);
    run.steps = capped(run.steps);
  }
  if (run.errSteps.length > MAX_POINTS) {
    run.err = capped(run.err);
    run.errSteps = capped(run.errSteps);
  }
}

export function noteTrain(run, state) {
  run.step = state.step;
  if (state.train_accuracy !== undefined) run.accuracy = state.train_accuracy;
  if (state.train_error !== null && state.train_error !== undefined) {
    run.trainSteps.push(state.step);
    run.train.push(state.train_error);
    run.trainSteps = capped(run.trainSteps);
    run.train = capped(run.train);
  }
}
