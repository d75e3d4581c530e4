// Export links: the step on show (JSON, CSV), the history (CSV), a report (HTML) and
// the run itself (a snapshot file: "Open a run" on the page imports it again).
// Plain downloads from the API; the step's links are off when there is no full step
// at the current weights (the API would answer 409).

const LINKS = [
  ["trace", "this step (JSON)", "step.json", true],
  ["trace.csv", "this step (CSV)", null, true],
  ["history.csv", "history (CSV)", null, false],
  ["report.html", "report (HTML)", null, false],
  ["export", "the whole run (snapshot)", "backprop-lab-run.json", false],
];

export class ExportLinks {
  constructor(root) {
    this.root = root;
    this.links = LINKS.map(([suffix, text, filename, needsStep]) => {
      const a = document.createElement("a");
      a.className = "export-link";
      a.textContent = text;
      a.dataset.export = suffix;
      a.setAttribute("download", filename ?? "");
      root.append(a);
      return { a, suffix, needsStep };
    });
  }

  /** Point the links at the session; `hasStep`: a full step at the current weights. */
  update(sessionId, hasStep) {
    for (const { a, suffix, needsStep } of this.links) {
      const off = !sessionId || (needsStep && !hasStep);
      if (off) {
        a.removeAttribute("href");
        a.setAttribute("aria-disabled", "true");
        a.title = needsStep ? "Step first: there is no step at the current weights" : "";
      } else {
        a.href = `/api/sessions/${encodeURIComponent(sessionId)}/${suffix}`;
        a.removeAttribute("aria-disabled");
        a.title = "";
      }
    }
  }
}
