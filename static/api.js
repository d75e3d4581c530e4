// The API client: the only module that talks to the server (see /docs for the API).
// Every failure becomes an ApiError carrying one plain sentence the page can show.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0: the server did not answer
  }

  get expired() {
    return this.status === 404;
  }
}

function sentence(detail, status) {
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    // FastAPI's own validation errors: [{loc, msg}, …] → "layers: msg. eta: msg."
    return detail
      .map((d) => {
        const where = (d.loc || []).filter((p) => p !== "body").join(" → ");
        return where ? `${where}: ${d.msg}` : d.msg;
      })
      .join(" ");
  }
  return `The server answered with status ${status}.`;
}

/** One JSON request; failures become an ApiError with a sentence (used by every page). */
export async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "The server did not answer. Is Backprop Lab still running?");
  }
  if (response.status === 204) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) throw new ApiError(response.status, sentence(payload?.detail, response.status));
  return payload;
}

const session = (id, suffix = "") => `/api/sessions/${encodeURIComponent(id)}${suffix}`;

export const api = {
  health: () => request("GET", "/healthz"),
  presets: () => request("GET", "/api/presets"),
  datasets: () => request("GET", "/api/datasets"),
  catalogue: () => request("GET", "/api/catalogue"),

  create: (config) => request("POST", "/api/sessions", config),
  read: (id) => request("GET", session(id)),
  importRun: (snapshot) => request("POST", "/api/sessions/import", snapshot),
  patch: (id, changes) => request("PATCH", session(id), changes),
  reset: (id, seed) => request("POST", session(id, "/reset"), seed === undefined ? {} : { seed }),
  remove: (id) => request("DELETE", session(id)),
  dataset: (id) => request("GET", session(id, "/dataset")),

  step: (id, indices) => request("POST", session(id, "/step"), indices ? { indices } : {}),
  forward: (id, indices) => request("POST", session(id, "/forward"), indices ? { indices } : {}),
  backward: (id) => request("POST", session(id, "/backward"), {}),
  update: (id) => request("POST", session(id, "/update"), {}),
  undo: (id) => request("POST", session(id, "/undo"), {}),
  train: (id, steps, recordEvery) =>
    request("POST", session(id, "/train"), recordEvery ? { steps, record_every: recordEvery } : { steps }),
  history: (id, since = 0, maxPoints = 1000) =>
    request("GET", session(id, `/history?since=${since}&max_points=${maxPoints}`)),
  gradcheck: (id) => request("POST", session(id, "/gradcheck"), {}),
  checkExercise: (id, prediction) => request("POST", session(id, "/exercise/check"), prediction),
  predict: (id, inputs) => request("POST", session(id, "/predict"), { inputs }),
  setWeights: (id, weights) => request("PUT", session(id, "/weights"), { weights }),
  representation: (id, layer) =>
    request("GET", session(id, `/representation${layer === null || layer === undefined ? "" : `?layer=${layer}`}`)),
  grid: (id, resolution = 25) => request("GET", session(id, `/grid?resolution=${resolution}`)),
};
