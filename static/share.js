// The teacher's "Share" button: a read-only follow link to the run on show, its QR code
// to project, how many students follow, and exercise mode for them. Self-contained but
// for api.js's request(): its own dialog and stylesheet (share.css), so a page mounts it with
//
//   import { mountShareButton } from "./share.js";
//   mountShareButton(document.querySelector(".topbar"), () => page.session?.id);
//
// `sessionId` is the session's id, or a function that returns the current one: when the
// page starts a new session (a new setup), the share — token, link, followers — moves
// to it (POST …/share with continue_from), so the class keeps following.

import { request } from "./api.js";
import { node } from "./dom.js";
import { ExerciseChooser } from "./exercise.js";

const WATCH_MS = 1000; // how often the session id is compared (no request)
const COUNT_MS = 5000; // how often the number of followers is read while shared
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

function ensureStylesheet() {
  if (document.querySelector('link[data-share-css]')) return;
  document.head.append(node("link", { rel: "stylesheet", href: "/static/share.css", "data-share-css": "" }));
}

/**
 * Put a Share button into `container`. Returns {button, dialog, share, stop} for tests
 * and pages that want to drive it.
 */
export function mountShareButton(container, sessionId, { baseUrl } = {}) {
  ensureStylesheet();
  const currentId = typeof sessionId === "function" ? sessionId : () => sessionId;
  const state = { share: null, sharedId: null, base: baseUrl ?? defaultBase() };

  const button = node("button", { type: "button", class: "share-button", id: "btn-share", "aria-haspopup": "dialog", title: "Let the class follow this run on their own screens" }, "Share");
  const count = node("span", { class: "share-count", id: "share-count", hidden: "" });
  button.append(count);
  container.append(button);

  // ---------------------------------------------------------------- the dialog
  const qr = node("img", { class: "share-qr", id: "share-qr", alt: "QR code of the follow link" });
  const link = node("input", { class: "share-link", id: "share-link", readonly: "", "aria-label": "follow link" });
  const copy = node("button", { type: "button", id: "share-copy", text: "Copy" });
  const followers = node("p", { class: "share-followers", id: "share-followers", "aria-live": "polite" });
  const address = node("input", { id: "share-address", type: "url", value: state.base, "aria-label": "address students use", spellcheck: "false" });
  const apply = node("button", { type: "button", id: "share-apply", text: "Use this address" });
  const addressRow = node(
    "div",
    { class: "share-address", id: "share-address-row" },
    node("p", { class: "share-warn", text: "Students cannot open 127.0.0.1 or localhost: that is their own laptop. Type the address of this machine on the classroom network (hostname -I or ipconfig shows it)." }),
    node("div", { class: "share-row" }, address, apply),
  );
  const chooser = new ExerciseChooser({ id: "share-exercise", label: "exercise mode for followers", onChange: (mode) => setExercise(mode) });
  const stop = node("button", { type: "button", id: "share-stop", class: "share-stop", text: "Stop sharing" });
  const close = node("button", { type: "button", id: "share-close", class: "primary", text: "Close" });
  const error = node("p", { class: "share-error", id: "share-error", role: "alert", hidden: "" });
  const dialog = node(
    "dialog",
    { class: "share-dialog", id: "share-dialog", "aria-labelledby": "share-title" },
    node(
      "div",
      { class: "share-grid" },
      node("div", { class: "share-qr-box" }, qr),
      node(
        "div",
        { class: "share-side" },
        node("h2", { id: "share-title", text: "Follow this run" }),
        node("p", { class: "share-hint", text: "Students scan the code or open the link: their page follows every step of this run, read-only, and they can click units and lines for the formulas." }),
        node("div", { class: "share-row" }, link, copy),
        addressRow,
        followers,
        node("label", { class: "share-row share-exercise", for: "share-exercise" }, node("span", { text: "Exercise for followers" }), ...chooser.elements),
        node("p", { class: "share-hint", text: "In exercise mode each follower types δ after the forward beat (or the new weight after the backward beat) before seeing it; go beat by beat (F, B, W) and give them time." }),
        error,
        node("div", { class: "share-buttons" }, stop, close),
      ),
    ),
  );
  document.body.append(dialog);

  // ---------------------------------------------------------------- behaviour
  function showError(message) {
    error.textContent = message ?? "";
    error.hidden = !message;
  }

  function show(share) {
    state.share = share;
    qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(share.qr_svg)}`;
    link.value = share.link;
    showCount(share.followers);
    addressRow.hidden = !LOOPBACK.test(new URL(share.link).hostname);
    chooser.set(share.exercise);
  }

  function showCount(n) {
    followers.textContent = n === 1 ? "1 student follows." : `${n} students follow.`;
    count.textContent = ` · ${n}`;
    count.hidden = false;
    button.dataset.shared = "true";
  }

  async function share(extra = {}) {
    const id = currentId();
    if (!id) throw new Error("There is no run to share yet.");
    const body = { base_url: state.base, ...extra };
    const answer = await request("POST", `/api/sessions/${encodeURIComponent(id)}/share`, body);
    state.sharedId = id;
    return answer;
  }

  async function open() {
    showError("");
    try {
      const id = currentId();
      const session = await request("GET", `/api/sessions/${encodeURIComponent(id)}`);
      chooser.setSizes(session.config.layers);
      show(await share());
    } catch (e) {
      showError(e.message);
    }
    if (!dialog.open) dialog.showModal();
  }

  async function setExercise(exercise) {
    showError("");
    try {
      const id = state.sharedId;
      show(await request("PATCH", `/api/sessions/${encodeURIComponent(id)}/share`, { exercise }));
    } catch (e) {
      showError(e.message);
    }
  }

  async function stopSharing() {
    try {
      if (state.sharedId) await request("DELETE", `/api/sessions/${encodeURIComponent(state.sharedId)}/share`);
    } catch {
      // already gone: nothing to stop
    }
    state.share = null;
    state.sharedId = null;
    count.hidden = true;
    delete button.dataset.shared;
    dialog.close();
  }

  async function watch() {
    if (!state.sharedId) return;
    const id = currentId();
    try {
      if (id && id !== state.sharedId) {
        // a new setup made a new session: take the class along
        const config = await request("GET", `/api/sessions/${encodeURIComponent(id)}`);
        chooser.setSizes(config.config.layers);
        show(await share({ continue_from: state.sharedId }));
      }
    } catch (e) {
      showError(e.message);
    }
  }

  async function refreshCount() {
    // A new setup replaced the shared session: watch() moves the share first (asking
    // the old session, which the page may have deleted, would only get a 404).
    if (!state.sharedId || currentId() !== state.sharedId) return;
    try {
      const answer = await request("GET", `/api/sessions/${encodeURIComponent(state.sharedId)}/share`);
      state.share = answer;
      showCount(answer.followers);
    } catch {
      // the session is being replaced (watch() moves the share) or has gone
    }
  }

  button.addEventListener("click", open);
  close.addEventListener("click", () => dialog.close());
  stop.addEventListener("click", stopSharing);
  copy.addEventListener("click", async () => {
    link.select();
    try {
      await navigator.clipboard.writeText(link.value);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Press Ctrl+C"; // no clipboard API outside https/localhost
    }
    setTimeout(() => {
      copy.textContent = "Copy";
    }, 1500);
  });
  apply.addEventListener("click", async () => {
    showError("");
    state.base = address.value.trim().replace(/\/+$/, "");
    try {
      show(await share());
    } catch (e) {
      showError(e.message);
    }
  });
  setInterval(watch, WATCH_MS);
  setInterval(refreshCount, COUNT_MS);

  return { button, dialog, open, share: async () => show(await share()), stop: stopSharing };
}

function defaultBase() {
  return location.origin;
}
