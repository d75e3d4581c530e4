// Neuron maps inside the network (Playground's pictures): each hidden unit's circle is
// filled with its x over the input plane, from the same GET …/grid as the input-plane
// view, so they change after each step with it. An SVG pattern per unit fills the
// circle wherever the layout puts it; the network paints `mapFill` instead of x's colour.

import { paintPlane } from "./hiddenunits.js";
import { unitScale } from "./colors.js";

const SVG = "http://www.w3.org/2000/svg";
const MOST = 64; // hidden units with a picture: beyond, the circles are too small to read
const MIN_RADIUS = 8; // px: a smaller circle keeps its plain colour

export class NeuronMaps {
  constructor(network) {
    this.network = network;
    this.on = false;
    this.grid = null;
    this.canvas = document.createElement("canvas");
  }

  setOn(on) {
    this.on = on;
    this.paint();
  }

  /** A fresh grid (null: a new session, none yet). */
  show(grid) {
    this.grid = grid;
    this.paint();
  }

  paint() {
    const net = this.network;
    const svg = net.svg;
    const units = (net.units ?? []).slice(1, -1).flatMap((column) => column.filter((g, j) => g && j > 0));
    const hidden = this.grid?.layers.slice(0, -1) ?? [];
    const shown = this.on && hidden.length > 0 && units.length <= MOST;
    svg.classList.toggle("neuron-maps", shown);
    let defs = svg.querySelector("defs.neuron-maps");
    if (!shown) {
      defs?.remove();
      const mapped = units.filter((g) => g.mapFill);
      for (const g of mapped) this.fill(g, null);
      if (mapped.length && net.frame) net.paintAll(); // x's colours back
      return;
    }
    if (!defs) {
      defs = document.createElementNS(SVG, "defs");
      defs.setAttribute("class", "neuron-maps");
      svg.prepend(defs);
    }
    const t = unitScale(net.info.activation);
    const patterns = [];
    for (const layer of hidden) {
      layer.x.forEach((values, n) => {
        const g = net.units[layer.layer]?.[n + 1];
        if (!g) return;
        if (Number(g.body.getAttribute("r")) < MIN_RADIUS) return this.fill(g, null);
        const id = `map-${layer.layer}-${n + 1}`;
        this.canvas.width = values.length;
        this.canvas.height = values.length;
        paintPlane(this.canvas, values, t);
        const pattern = document.createElementNS(SVG, "pattern");
        pattern.id = id;
        pattern.setAttribute("patternContentUnits", "objectBoundingBox");
        pattern.setAttribute("width", "1");
        pattern.setAttribute("height", "1");
        const image = document.createElementNS(SVG, "image");
        for (const [k, v] of Object.entries({ width: 1, height: 1, preserveAspectRatio: "none", href: this.canvas.toDataURL() }))
          image.setAttribute(k, v);
        pattern.append(image);
        patterns.push(pattern);
        this.fill(g, `url(#${id})`);
      });
    }
    defs.replaceChildren(...patterns);
  }

  fill(g, url) {
    g.mapFill = url;
    g.classList.toggle("mapped", Boolean(url));
    g.body.style.fill = url ?? "";
  }
}
