// Numbers as the class reads them: three decimals, a real minus sign, and powers of
// ten for the tiny values that vanishing gradients produce (3.1×10⁻⁶, never 0.000).
// tests/test_page_*.py parse this format back (see parse_shown there).

const SUPERSCRIPT = {
  "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹",
};
export const MINUS = "−";

/** A number for the screen: "0.487", "−12.346", "3.1×10⁻⁵", "1.2×10⁴". */
export function num(value, decimals = 3) {
  if (value === null || value === undefined) return "–";
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "∞" : `${MINUS}∞`;
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  const sign = value < 0 ? MINUS : "";
  if (magnitude >= 0.01 && magnitude < 1e4) {
    const fixed = magnitude.toFixed(decimals);
    // Rounding can reach the next magnitude only upwards, so the branch stays right.
    return Number(fixed) === 0 ? "0" : sign + fixed;
  }
  const [mantissa, exponent] = magnitude.toExponential(1).split("e");
  const power = String(Number(exponent))
    .split("")
    .map((c) => SUPERSCRIPT[c])
    .join("");
  return `${sign}${mantissa}×10${power}`;
}

/** A signed number for sums written out term by term: "+ 0.487", "− 0.487". */
export function signed(value, decimals = 3) {
  const text = num(value, decimals);
  return text.startsWith(MINUS) ? `${MINUS} ${text.slice(1)}` : `+ ${text}`;
}

/** About how wide `text` sets, in em of a bold sans-serif face (DejaVu Sans Bold's
 * widths, a little generous): labels are fitted and kept apart with this, as measuring
 * each label would cost a layout. */
export function textEm(text) {
  let em = 0;
  for (const c of text) em += EM[c] ?? (c >= "0" && c <= "9" ? 0.7 : c in SUPER_EM ? 0.45 : 0.65);
  return em;
}
const EM = { " ": 0.35, ".": 0.38, ",": 0.38, "=": 0.84, [MINUS]: 0.84, "+": 0.84, "×": 0.84, "(": 0.46, ")": 0.46 };
const SUPER_EM = Object.fromEntries(Object.values(SUPERSCRIPT).map((c) => [c, true]));

/** Full precision for tooltips and data attributes. */
export function exact(value) {
  return value === null || value === undefined ? "" : String(value);
}

/** A percentage for accuracies: "93 %". */
export function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)} %`;
}

/** The digits of `text` as subscripts: "x12" → "x₁₂". */
export const subscript = (text) => String(text).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]);

/** Subscript indices: w_12, but w_1,12 once an index has two digits. */
export function indices(...parts) {
  return parts.some((p) => p >= 10) ? parts.join(",") : parts.join("");
}
