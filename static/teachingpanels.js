// Issue #16's panels wired to the lab page: what the output layer sees (beside the
// input-plane view, refreshed with its grid), the neuron maps (same grid), the input
// features of the setup, the input-plane view's two toggles, a weight typed by hand,
// the lecture's worked example typed in, and E + Ω on the error chart with a penalty.
// main.js calls these hooks at the moments it already has (a new session, a grid, a
// selection, the examples of a step); the widgets live in teaching.js,
// representation.js and neuronmaps.js.

import { api } from "./api.js";
import { $ } from "./dom.js";
import { NeuronMaps } from "./neuronmaps.js";
import { RepresentationChart } from "./representation.js";
import { ExampleForm, FeaturePicker, ViewToggles, WeightEditor } from "./teaching.js";

/** ctx: {lab, boundary, network, errorChart, datasetInfo, run, pick, startSession,
 * changeSetup, changeView, renderFormula, quiet, clearFrame}. */
export function mountTeaching(ctx) {
  const { lab, boundary } = ctx;
  const page = lab.state;
  const representation = new RepresentationChart($("#chart-representation"), $("#rep-note"), $("#rep-layer"), {
    onPick: (i) => ctx.pick(i),
  });
  const features = new FeaturePicker($("#features"), { change: (list) => ctx.changeSetup({ features: list }) });
  const toggles = new ViewToggles(
    { showTest: $("#show-test"), discretize: $("#discretize") },
    {
      change: (options) => {
        boundary.setOptions(options);
        representation.setOptions(options);
        ctx.changeView(options);
      },
    },
  );
  const maps = new NeuronMaps(ctx.network);
  // on the hidden units' card, whose pictures they are (the network panel keeps its height)
  $("#card-hidden h2").insertAdjacentHTML(
    "afterend",
    `<label class="inline neuron-maps-option" for="neuron-maps">` +
      `<input type="checkbox" id="neuron-maps"> show them inside the network's circles (neuron maps)</label>`,
  );
  const mapsBox = $("#neuron-maps");
  mapsBox.addEventListener("change", () => {
    maps.setOn(mapsBox.checked);
    ctx.changeView({ maps: mapsBox.checked });
  });
  const weights = new WeightEditor($("#network-panel #network"), { set: (edge, value) => ctx.run(() => setWeight(edge, value)) });

  /** w_ij(l) typed by hand (PUT …/weights): the next step uses it, undo takes it back. */
  async function setWeight({ l, i, j }, value) {
    const W = page.weights.map((w) => w.map((row) => [...row]));
    W[l - 1][i][j - 1] = value;
    showWeights(await api.setWeights(page.session.id, W));
    ctx.clearFrame();
  }

  /** The session after PUT …/weights: the drawing, the error and the input plane follow. */
  function showWeights(answer) {
    lab.update({ session: answer, weights: answer.state.weights });
    ctx.network.setWeights(page.weights);
    ctx.errorChart.add(answer.state);
    boundary.refresh(true);
    ctx.renderFormula();
    ctx.quiet();
  }

  const example = new ExampleForm($("#setup-form"), { use: (typed) => ctx.run(() => useExample(typed)) });

  /** The worked example: a session on one custom point with the same network and the
   * weights now on screen (POST …/sessions, then PUT …/weights; undo: back to the new
   * session's own initial weights). */
  async function useExample({ point, y }) {
    const W = page.weights;
    const regression = ctx.datasetInfo(page.config.dataset.name)?.regression ?? false;
    const dataset = { name: "custom", points: [point], labels: [y], regression };
    await ctx.startSession({ ...page.config, dataset, batch_size: 1 });
    const answer = await api.setWeights(page.session.id, W);
    ctx.errorChart.clear(); // step 0 again, with other weights
    showWeights(answer);
  }

  // with a penalty the error chart shows E + Ω too, whichever way λ was set
  lab.watch((state) => {
    const reg = state.session?.config.regularization;
    ctx.errorChart.setPenalised(Boolean(reg && reg.kind !== "none" && reg.strength > 0));
  });

  return {
    representation,
    /** A new grid of the input plane (after a step): the views that draw from it. */
    grid(grid) {
      representation.refresh(); // what the output layer sees moves with each step too
      maps.show(grid);
    },
    /** The old session is about to be deleted: no view may ask about it any more. */
    detach() {
      boundary.detach();
      representation.detach();
    },
    /** A new session: its layers, data and options; `dim`: the raw data's dimension. */
    setSession(created, dataset, info, dim) {
      const c = created.config;
      representation.setLayers(c.layers);
      representation.setSession(created.id, dataset, info);
      $("#card-representation").hidden = dim !== 2;
      features.fill(c.features, dim);
      example.fill(dim);
      toggles.fill(page.view);
      boundary.setOptions(page.view);
      representation.setOptions(page.view);
      weights.show(null);
      mapsBox.checked = Boolean(page.view.maps);
      mapsBox.parentElement.hidden = dim !== 2; // the grid covers a plane
      maps.on = mapsBox.checked;
      maps.show(null);
    },
    select(selection) {
      weights.show(selection, page.weights);
    },
    mark(indices, pinned) {
      representation.mark(indices, pinned);
    },
  };
}
