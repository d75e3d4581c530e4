// The formula panel: the lecture's formulas for the clicked unit or weight, written out
// term by term with this step's numbers, in MathML (rendered natively by the browser).
// Every result (s, x, δ, θ'(s), ∂e/∂w, Δw, w) is the API's number; θ'(s) comes with
// each layer of a trace (`prime`), written beside the textbook formula from x.
// The terms use the weights the step started from: W before = W after − ΔW.

import { indices, num } from "./format.js";

// ----------------------------------------------------------------- MathML bits
const mi = (t) => `<mi>${t}</mi>`;
const mo = (t) => `<mo>${t}</mo>`;
const mn = (v) => `<mn>${num(v)}</mn>`;
const row = (...parts) => `<mrow>${parts.join("")}</mrow>`;
const paren = (...parts) => row(`<mo stretchy="false">(</mo>`, ...parts, `<mo stretchy="false">)</mo>`);
/** A number in brackets when negative, ready to be multiplied. */
const factor = (v) => (v < 0 ? paren(mn(v)) : mn(v));
/** The API's result, marked for tests (data-q) and with full precision on hover. */
const result = (v, q) => `<mn class="result" data-q="${q}" title="${v}">${num(v)}</mn>`;
/** s_j(l), δ_j(l), w_ij(l): a symbol with its unit index and layer. */
const sym = (base, index, layer) =>
  row(`<msub>${mi(base)}${index === "" ? "<mrow></mrow>" : `<mi>${index}</mi>`}</msub>`, paren(`<mn>${layer}</mn>`));
const symN = (base, index, layer) =>
  row(`<msub>${mi(base)}<mn>${index}</mn></msub>`, paren(`<mn>${layer}</mn>`));
const theta = () => mi("θ");
const thetaPrime = () => `<msup>${mi("θ")}<mo>′</mo></msup>`;
const sum = (index) => `<munder><mo>∑</mo>${mi(index)}</munder>`;
const partial = (top, bottom) => `<mfrac>${row(mi("∂"), top)}${row(mi("∂"), bottom)}</mfrac>`;

function equation(...parts) {
  return `<math>${row(...parts)}</math>`;
}

const lit = (text) => `<mn>${text}</mn>`; // a constant of the formula: 1, 2, not 1.000
const times = () => mo("·");

/**
 * Terms a₀·b₀ + a₁·b₁ + … as lines of at most `perLine` terms (each line a list of
 * MathML parts); more than `most` terms are shortened to the first ones, ⋯ and the last.
 * A factor given as a string is written as it is (the bias x₀ = 1).
 */
function products(pairs, perLine = 2, most = 9) {
  const shown = pairs.length > most ? [...pairs.slice(0, most - 2), null, pairs.at(-1)] : pairs;
  const lines = [];
  shown.forEach((pair, n) => {
    if (n % perLine === 0) lines.push([]);
    const line = lines.at(-1);
    if (n > 0) line.push(mo("+"));
    if (pair === null) line.push(mo("⋯"));
    else line.push(row(typeof pair[0] === "string" ? lit(pair[0]) : factor(pair[0]), times(), typeof pair[1] === "string" ? lit(pair[1]) : factor(pair[1])));
  });
  return lines;
}

/**
 * θ'(s) as the display formula of θ, with this unit's numbers; ``value`` is the
 * engine's θ'(s) from the trace (the page computes no θ' of its own).
 */
function slope(activation, s, x, value) {
  switch (activation) {
    case "tanh":
      return { formula: row(lit(1), mo("−"), `<msup>${mi("x")}<mn>2</mn></msup>`), numbers: row(lit(1), mo("−"), `<msup>${factor(x)}<mn>2</mn></msup>`), value };
    case "sigmoid":
      return { formula: row(mi("x"), paren(lit(1), mo("−"), mi("x"))), numbers: row(factor(x), times(), paren(lit(1), mo("−"), factor(x))), value };
    case "relu":
      return { formula: row(mo("["), mi("s"), mo("&gt;"), lit(0), mo("]")), numbers: row(mo("["), factor(s), mo("&gt;"), lit(0), mo("]")), value };
    case "leaky_relu":
      // the leak is the engine's: θ' of a unit with s ≤ 0 is that slope itself
      return { formula: row(mi("s"), mo("&gt;"), lit(0), mo("?"), lit(1), mo(":"), mi("α")), numbers: row(factor(s), mo("&gt;"), lit(0), mo("?"), lit(1), mo(":"), mi("α")), value };
    default:
      return { formula: lit(1), numbers: lit(1), value };
  }
}

/** Is this unit or line what an exercise asks for now (ctx.asked: selections)? */
const asked = (ctx, s) =>
  (ctx.asked ?? []).some((a) => a.kind === s.kind && a.l === s.l && a.j === s.j && (a.kind === "unit" || a.i === s.i));

const YOUR_TURN = (what, reveal) =>
  `<p class="eq-note ex-turn"><b>${what} = ?</b> Your turn: type it in the exercise panel. ${reveal} shows it once you have answered.</p>`;

function block(title, lines, note = "") {
  return `<section class="eq-block"><h3>${title}</h3>${lines.map((l) => `<div class="eq">${l}</div>`).join("")}${
    note ? `<p class="eq-note">${note}</p>` : ""
  }</section>`;
}

/**
 * An equation wider than the panel (long numbers: 1.6×10⁶⁵) is cut into pieces before
 * each top-level =, + or −, which then wrap like words instead of being cut off.
 */
function wrapLong(root) {
  for (const eq of root.querySelectorAll(".eq")) {
    if (eq.scrollWidth <= eq.clientWidth + 1) continue;
    let top = eq.querySelector("math");
    while (top && top.children.length === 1) top = top.firstElementChild;
    if (!top) continue;
    const pieces = [[]];
    for (const child of [...top.children]) {
      if (child.localName === "mo" && /^[=+−]$/.test(child.textContent) && pieces.at(-1).length) pieces.push([]);
      pieces.at(-1).push(child);
    }
    const maths = pieces.map((parts) => {
      const math = document.createElementNS(MATHML, "math");
      math.append(document.createElementNS(MATHML, "mrow"));
      math.firstChild.append(...parts);
      return math;
    });
    eq.replaceChildren(...maths.flatMap((m) => [m, " "]));
    eq.classList.add("wrapped");
  }
}
const MATHML = "http://www.w3.org/1998/Math/MathML";

// ------------------------------------------------------------------- the panel
export class FormulaPanel {
  constructor(root) {
    this.root = root;
    this.body = root.querySelector(".formula-body");
    this.title = root.querySelector(".formula-title");
  }

  /**
   * ctx: {selection, frame, phase, info {activation, output, loss, encoding},
   *       weightsBefore, weightsNow, eta, sizes, regularization {kind, strength}}
   * frame: {example, input, target, error, indices, layers[{s, x, delta, grad, update, weights}]}
   */
  render(ctx) {
    const { selection } = ctx;
    if (!selection) {
      this.title.textContent = "The lecture's formulas";
      this.body.innerHTML = this.overview(ctx.regularization);
      return;
    }
    if (selection.kind === "unit") this.renderUnit(ctx);
    else this.renderEdge(ctx);
    wrapLong(this.body);
    // the newest formulas (δ, the update) come last: keep them in view
    this.body.parentElement.scrollTop = ctx.phase === "forward" ? 0 : this.body.parentElement.scrollHeight;
  }

  /** The four formulas; with a penalty (λ > 0) the update descends e + Ω. */
  overview(reg) {
    const penalty = reg && reg.kind !== "none" && reg.strength > 0;
    const dw = (f) => partial(mi(f), sym("w", "ij", "l"));
    return (
      block("Forward", [
        equation(sym("s", "j", "l"), mo("="), sum("i"), sym("w", "ij", "l"), sym("x", "i", "l−1")),
        equation(sym("x", "j", "l"), mo("="), theta(), paren(sym("s", "j", "l"))),
      ]) +
      block("Backward", [
        equation(sym("δ", "i", "l−1"), mo("="), thetaPrime(), paren(sym("s", "i", "l−1")), sum("j"), sym("w", "ij", "l"), sym("δ", "j", "l")),
      ]) +
      block("Update", [
        equation(partial(mi("e"), sym("w", "ij", "l")), mo("="), sym("x", "i", "l−1"), sym("δ", "j", "l")),
        penalty
          ? equation(sym("w", "ij", "l"), mo("←"), sym("w", "ij", "l"), mo("−"), mi("η"), paren(dw("e"), mo("+"), dw("Ω")))
          : equation(sym("w", "ij", "l"), mo("←"), sym("w", "ij", "l"), mo("−"), mi("η"), dw("e")),
      ]) +
      `<p class="eq-note">Click a unit or a weight to see its formulas with this step's numbers.</p>`
    );
  }

  /** x(l) of the shown example, with the bias x_0 = 1 in front (l = 0 … L−1). */
  xAugmented(frame, l) {
    const k = frame.example;
    const x = l === 0 ? frame.input[k] : frame.layers[l - 1].x[k];
    return [1, ...x];
  }

  renderUnit(ctx) {
    const { selection, frame, phase, info, sizes } = ctx;
    const { l, j } = selection;
    const L = sizes.length - 1;
    const role = l === 0 ? "Input" : l === L ? "Output" : "Hidden";
    this.title.innerHTML = `${j === 0 ? "Bias" : role} unit <math>${symN("x", j, l)}</math>`;
    if (j === 0) {
      this.body.innerHTML = block(
        "Bias unit",
        [equation(symN("x", 0, l), mo("="), result(1, "x"))],
        `Every layer but the output has the constant unit x₀ = 1; row 0 of W(${l + 1}) holds its weights, the biases.`,
      );
      return;
    }
    if (!frame) {
      this.body.innerHTML = `<p class="eq-note">No step yet: press <kbd>Space</kbd> to run one and see this unit's numbers.</p>`;
      return;
    }
    const k = frame.example;
    if (l === 0) {
      this.body.innerHTML = block(
        "Input",
        [equation(symN("x", j, 0), mo("="), result(frame.input[k][j - 1], "x"))],
        `Coordinate ${j} of example #${frame.indices?.[k] ?? "?"}. Inputs have no δ: nothing before them has weights.`,
      );
      return;
    }
    const layer = frame.layers[l - 1];
    const s = layer.s[k][j - 1];
    const x = layer.x[k][j - 1];
    const activation = l === L ? info.output : info.activation;
    const Wb = ctx.weightsBefore?.[l - 1];
    const xPrev = this.xAugmented(frame, l - 1);
    const jj = String(j);
    let html = "";
    // s_j(l) = Σ_i w_ij(l) x_i(l−1)
    const sLines = [equation(symN("s", j, l), mo("="), sum("i"), sym("w", `i${jj}`, l), sym("x", "i", l - 1))];
    if (Wb) {
      const pairs = xPrev.map((xi, i) => [Wb[i][j - 1], i === 0 ? "1" : xi]);
      const terms = products(pairs);
      // the result goes at the end of the last line of terms when there is room
      const short = pairs.length % 2 === 1 && pairs.length <= 9;
      terms.forEach((line, n) => {
        const end = short && n === terms.length - 1 ? [mo("="), result(s, "s")] : [];
        sLines.push(equation(n === 0 ? mo("=") : "", ...line, ...end));
      });
      if (!short) sLines.push(equation(mo("="), result(s, "s")));
    } else {
      sLines.push(equation(mo("="), result(s, "s")));
    }
    html += block("Weighted input", sLines, Wb && xPrev.length > 9 ? `${xPrev.length} terms: w·x for the bias and each unit of layer ${l - 1}.` : "");
    // x_j(l) = θ(s_j(l))
    const thetaName = activation === "leaky_relu" ? "leaky ReLU" : activation;
    if (activation === "softmax") {
      html += block("Output (softmax)", [
        equation(symN("x", j, l), mo("="), `<mfrac>${row(`<msup>${mi("e")}${symN("s", j, l)}</msup>`)}${row(sum("k"), `<msup>${mi("e")}${sym("s", "k", l)}</msup>`)}</mfrac>`),
        equation(mo("="), result(x, "x")),
      ], "softmax: the probability h_j the network gives class j.");
    } else {
    }
    // θ'(s) — a display formula from x (the engine's δ below already contains it)
    const d = slope(activation, s, x, layer.prime?.[k]?.[j - 1]);
    if (activation !== "softmax") {
      const slopeLines =
        activation === "identity"
          ? [equation(thetaPrime(), paren(symN("s", j, l)), mo("="), `<mn data-q="theta-prime">1</mn>`)]
          : [
              equation(thetaPrime(), paren(symN("s", j, l)), mo("="), d.formula),
              equation(mo("="), d.numbers, mo("="), `<mn data-q="theta-prime">${num(d.value)}</mn>`),
            ];
      html += block("Output and slope of θ", [
        equation(symN("x", j, l), mo("="), theta(), paren(symN("s", j, l)), mo("="), mi(thetaName), paren(mn(s)), mo("="), result(x, "x")),
        ...slopeLines,
      ]);
    }
    if (phase === "forward" || !layer.delta) {
      html += asked(ctx, selection)
        ? YOUR_TURN(`δ<sub>${indices(j)}</sub>(${l})`, "The backward beat")
        : `<p class="eq-note">δ comes in the backward beat: press <kbd>B</kbd> or Backward.</p>`;
      this.body.innerHTML = html;
      return;
    }
    const delta = layer.delta[k][j - 1];
    if (l === L) {
      html += this.outputDelta(ctx, j, l, s, x, d, delta, frame.target[k]);
    } else {
      const next = frame.layers[l].delta[k];
      const Wn = ctx.weightsBefore?.[l];
      const lines = [equation(symN("δ", j, l), mo("="), thetaPrime(), paren(symN("s", j, l)), sum("j"), sym("w", `${jj}j`, l + 1), sym("δ", "j", l + 1))];
      if (Wn) {
        const terms = products(next.map((dn, n) => [Wn[j][n], dn]));
        terms.forEach((line, n) => {
          const first = n === 0 ? [mo("="), factor(d.value), times(), `<mo stretchy="false">(</mo>`] : [];
          const last = n === terms.length - 1 ? [`<mo stretchy="false">)</mo>`] : [];
          lines.push(equation(...first, ...line, ...last));
        });
      }
      lines.push(equation(mo("="), result(delta, "delta")));
      html += block("Error signal δ (backward)", lines, `The sum runs over the ${next.length} unit(s) of layer ${l + 1}, with the weights before this step's update.`);
    }
    this.body.innerHTML = html;
  }

  outputDelta(ctx, j, l, s, x, d, delta, y) {
    const { info } = ctx;
    const yText = (v) => (info.encoding === "pm1" ? (v > 0 ? "+1" : "−1") : info.encoding === "01" ? String(v) : num(v));
    // after a minus sign: "− 1", "− (−1)", never "− +1"
    const yTerm = (v) => (v < 0 ? paren(lit(yText(v))) : lit(yText(v).replace(/^\+/, "")));
    if (info.output === "softmax") {
      const hit = Number(y) === j - 1 ? 1 : 0;
      return block("Error signal δ (output, softmax + cross-entropy)", [
        equation(symN("δ", j, l), mo("="), `<msub>${mi("h")}<mn>${j}</mn></msub>`, mo("−"), mo("["), mi("y"), mo("="), lit(j - 1), mo("]")),
        equation(mo("="), factor(x), mo("−"), lit(hit), mo("="), result(delta, "delta")),
      ], `Class index y = ${y}; unit ${j} stands for class ${j - 1}.`);
    }
    if (info.loss === "cross_entropy") {
      return block("Error signal δ (output, sigmoid + cross-entropy)", [
        equation(symN("δ", 1, l), mo("="), symN("x", 1, l), mo("−"), mi("y")),
        equation(mo("="), factor(x), mo("−"), yTerm(y), mo("="), result(delta, "delta")),
      ]);
    }
    return block("Error signal δ (output, squared error)", [
      equation(symN("δ", 1, l), mo("="), lit(2), paren(symN("x", 1, l), mo("−"), mi("y")), thetaPrime(), paren(symN("s", 1, l))),
      equation(mo("="), lit(2), times(), paren(mn(x), mo("−"), yTerm(y)), times(), factor(d.value)),
      equation(mo("="), result(delta, "delta")),
    ], `e = (x₁(${l}) − y)², target y = ${yText(y)}.`);
  }

  renderEdge(ctx) {
    const { selection, frame, phase, eta } = ctx;
    const { l, i, j } = selection;
    const ij = indices(i, j);
    this.title.innerHTML = `Weight <math>${sym("w", ij, l)}</math>`;
    const wNow = ctx.weightsNow?.[l - 1]?.[i]?.[j - 1];
    const from = i === 0 ? "the bias unit x₀" : `unit ${i} of layer ${l - 1}`;
    const intro = `<p class="eq-note">From ${from} to unit ${j} of layer ${l}.</p>`;
    if (!frame || phase === "forward" || !frame.layers[l - 1].grad) {
      this.body.innerHTML =
        intro +
        block("Weight now", [equation(sym("w", ij, l), mo("="), result(wNow, "w"))]) +
        `<p class="eq-note">Its gradient needs δ${j}(${l}): ${frame ? "press <kbd>B</kbd> for the backward beat" : "press <kbd>Space</kbd> for a step"}.</p>`;
      return;
    }
    const k = frame.example;
    const layer = frame.layers[l - 1];
    const xi = this.xAugmented(frame, l - 1)[i];
    const dj = layer.delta[k][j - 1];
    const grad = layer.grad[i][j - 1];
    const batch = frame.input.length;
    const gradLines =
      batch === 1
        ? [
            equation(partial(mi("e"), sym("w", ij, l)), mo("="), symN("x", i, l - 1), symN("δ", j, l)),
            equation(mo("="), i === 0 ? lit(1) : factor(xi), times(), factor(dj), mo("="), result(grad, "grad")),
          ]
        : [
            equation(partial(mi("e"), sym("w", ij, l)), mo("="), `<mfrac>${lit(1)}${lit(batch)}</mfrac>`, sum("k"), symN("x", i, l - 1), symN("δ", j, l)),
            equation(mo("="), result(grad, "grad")),
          ];
    let html = intro + block("Gradient", gradLines, batch > 1 ? `Mean over the ${batch} examples of the batch; for the example shown x·δ = (${num(xi)})(${num(dj)}).` : "");
    const penalty = this.penalty(ctx, layer, i, j, l);
    html += penalty.html;
    if (phase !== "update" || !layer.update) {
      html += block("Weight now", [equation(sym("w", ij, l), mo("="), result(wNow, "w"))]);
      html += asked(ctx, selection)
        ? YOUR_TURN(`new w<sub>${ij}</sub>(${l})`, "The update beat")
        : `<p class="eq-note">The update comes in the third beat: press <kbd>W</kbd> or Update.</p>`;
      this.body.innerHTML = html;
      return;
    }
    const dw = layer.update[i][j - 1];
    const after = layer.weights[i][j - 1];
    const before = ctx.weightsBefore?.[l - 1]?.[i]?.[j - 1];
    html += block("Update", penalty.on
      ? [
          equation(row(mi("Δ"), sym("w", ij, l)), mo("="), mo("−"), mi("η"), paren(partial(mi("e"), sym("w", ij, l)), mo("+"), partial(mi("Ω"), sym("w", ij, l)))),
          equation(mo("="), mo("−"), lit(String(eta)), times(), paren(mn(grad), mo("+"), factor(penalty.value)), mo("="), result(dw, "update")),
        ]
      : [
          equation(row(mi("Δ"), sym("w", ij, l)), mo("="), mo("−"), mi("η"), partial(mi("e"), sym("w", ij, l))),
          equation(mo("="), mo("−"), lit(String(eta)), times(), factor(grad), mo("="), result(dw, "update")),
        ]);
    html += block("New weight", [
      equation(sym("w", ij, l), mo("←"), sym("w", ij, l), mo("+"), row(mi("Δ"), sym("w", ij, l))),
      equation(mo("="), before === undefined ? mi("w") : mn(before), mo("+"), factor(dw), mo("="), result(after, "w-after")),
    ]);
    this.body.innerHTML = html;
  }

  /**
   * The penalty's gradient ∂Ω/∂w_ij(l) when λ > 0 (ctx.regularization: the session's
   * {kind, strength}): the trace's `penalty_grad`, beside its formula with the weight the
   * step started from; the bias row carries no penalty. {on, value, html}.
   */
  penalty(ctx, layer, i, j, l) {
    const reg = ctx.regularization;
    const value = layer.penalty_grad?.[i]?.[j - 1];
    if (!reg || reg.kind === "none" || !(reg.strength > 0) || value === undefined || value === null) return { on: false, html: "" };
    const ij = indices(i, j);
    const w = ctx.weightsBefore?.[l - 1]?.[i]?.[j - 1];
    const lambda = lit(String(reg.strength));
    const dOmega = partial(mi("Ω"), sym("w", ij, l));
    const l2 = reg.kind === "l2";
    const omega = `${l2 ? "L2: Ω = λ Σ w²" : "L1: Ω = λ Σ |w|"} over the non-bias weights, λ = ${reg.strength}`;
    const lines =
      i === 0
        ? [equation(dOmega, mo("="), result(value, "penalty-grad"))]
        : [
            equation(dOmega, mo("="), l2 ? row(lit(2), mi("λ"), sym("w", ij, l)) : row(mi("λ"), mi("sign"), paren(sym("w", ij, l)))),
            w === undefined
              ? equation(mo("="), result(value, "penalty-grad"))
              : equation(mo("="), l2 ? row(lit(2), times(), lambda, times(), factor(w)) : row(lambda, times(), mi("sign"), paren(mn(w))), mo("="), result(value, "penalty-grad")),
          ];
    const note = i === 0 ? `${omega}: the bias weight w₀ⱼ carries none.` : `${omega}, with w before this step.`;
    return { on: true, value, html: block("Penalty gradient", lines, note) };
  }
}
