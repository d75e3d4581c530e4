// Hidden units as a learned transform: every hidden unit's x over the input plane
// (from the same GET …/grid as the decision boundary), one small picture per unit,
// layer by layer. Drawn on canvases: dozens of tiny heatmaps would be heavy in plotly.

import { diverging, paintScaleLegend, unitScale } from "./colors.js";

const CAP = 16; // units shown per layer

export class HiddenUnits {
  /** `legend`: {swatch, lo, hi} elements of the card's colour legend. */
  constructor(root, note, legend) {
    this.root = root;
    this.note = note;
    this.legend = legend;
    this.activation = "tanh";
  }

  setActivation(activation, dim) {
    this.activation = activation;
    this.root.replaceChildren();
    this.note.textContent = dim >= 2 ? "" : "Needs 2-D input: for 1-D data see the fitted curve.";
    const { swatch, lo, hi } = this.legend;
    swatch.parentElement.hidden = dim < 2;
    paintScaleLegend(swatch, lo, hi, activation);
  }

  show(grid) {
    const t = unitScale(this.activation);
    const hidden = grid.layers.slice(0, -1);
    const capped = [];
    const rows = hidden.map((layer) => {
      const row = document.createElement("div");
      row.className = "unit-row";
      const label = document.createElement("span");
      label.className = "unit-row-label";
      label.textContent = `layer ${layer.layer}`;
      row.append(label);
      if (layer.x.length > CAP) capped.push(`layer ${layer.layer}: first ${CAP} of ${layer.x.length}`);
      layer.x.slice(0, CAP).forEach((unit, j) => row.append(this.tile(unit, t, layer.layer, j + 1)));
      return row;
    });
    this.root.replaceChildren(...rows);
    this.note.textContent = capped.length ? `Units shown: ${capped.join("; ")}.` : "";
  }

  tile(values, t, l, j) {
    const n = values.length;
    const canvas = document.createElement("canvas");
    canvas.width = n;
    canvas.height = n;
    canvas.className = "unit-tile";
    canvas.title = `x${j}(${l}) over the input plane`;
    canvas.dataset.unit = `${l}-${j}`;
    const ctx = canvas.getContext("2d");
    for (let r = 0; r < n; r += 1) {
      for (let c = 0; c < n; c += 1) {
        ctx.fillStyle = diverging(t(values[r][c]));
        ctx.fillRect(c, n - 1 - r, 1, 1); // row 0 is the lowest x₂: drawn at the bottom
      }
    }
    return canvas;
  }
}
