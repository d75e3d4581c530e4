// Hidden units as a learned transform: every hidden unit's x over the input plane
// (from the same GET …/grid as the decision boundary), one small picture per unit,
// layer by layer. Drawn on canvases: dozens of tiny heatmaps would be heavy in plotly.

import { divergingRgb, paintScaleLegend, unitScale } from "./colors.js";

const CAP = 16; // units shown per layer …
const MOST = 48; // … and in all: each picture is a canvas, and hundreds of canvases cost
// the compositor ~100 ms a frame (the 16 × 64 network has 1024 hidden units)

export class HiddenUnits {
  /** `legend`: {swatch, lo, hi} elements of the card's colour legend. */
  constructor(root, note, legend) {
    this.root = root;
    this.note = note;
    this.legend = legend;
    this.activation = "tanh";
    this.tiles = new Map(); // "l-j" → its canvas, reused from grid to grid
  }

  setActivation(activation, dim) {
    this.activation = activation;
    this.tiles.clear();
    this.root.replaceChildren();
    this.note.textContent = dim >= 2 ? "" : "Needs 2-D input: for 1-D data see the fitted curve.";
    const { swatch, lo, hi } = this.legend;
    swatch.parentElement.hidden = dim < 2;
    paintScaleLegend(swatch, lo, hi, activation);
  }

  show(grid) {
    const t = unitScale(this.activation);
    const hidden = grid.layers.slice(0, -1);
    const cap = Math.min(CAP, Math.max(3, Math.floor(MOST / Math.max(hidden.length, 1))));
    const capped = [];
    const rows = hidden.map((layer) => {
      const row = document.createElement("div");
      row.className = "unit-row";
      const label = document.createElement("span");
      label.className = "unit-row-label";
      label.textContent = `layer ${layer.layer}`;
      row.append(label);
      if (layer.x.length > cap) capped.push(`layer ${layer.layer}: first ${cap} of ${layer.x.length}`);
      layer.x.slice(0, cap).forEach((unit, j) => row.append(this.tile(unit, t, layer.layer, j + 1)));
      return row;
    });
    this.root.replaceChildren(...rows);
    this.note.textContent = capped.length ? `Units shown: ${capped.join("; ")}.` : "";
  }

  tile(values, t, l, j) {
    const n = values.length;
    const key = `${l}-${j}`;
    let canvas = this.tiles.get(key);
    if (!canvas || canvas.width !== n) {
      canvas = document.createElement("canvas");
      canvas.width = n;
      canvas.height = n;
      canvas.className = "unit-tile";
      canvas.title = `x${j}(${l}) over the input plane`;
      canvas.dataset.unit = key;
      this.tiles.set(key, canvas);
    }
    paintPlane(canvas, values, t);
    return canvas;
  }
}

/** Paint a unit's x over the input plane (values[row][col], n × n) into an n × n canvas,
 * coloured by t(x) on the diverging scale; also the network's neuron maps. */
export function paintPlane(canvas, values, t) {
  const n = values.length;
  const image = new ImageData(n, n);
  for (let r = 0; r < n; r += 1) {
    for (let c = 0; c < n; c += 1) {
      const [red, green, blue] = divergingRgb(t(values[r][c]));
      image.data.set([red, green, blue, 255], 4 * ((n - 1 - r) * n + c)); // row 0 is the lowest x₂: at the bottom
    }
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
}
