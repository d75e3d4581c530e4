// No lost run. The tab remembers its session (sessionStorage survives a reload), so a
// reload resumes the run at its step; the browser keeps a snapshot of the run
// (localStorage: the API's Snapshot, built from what the page already holds — config,
// step, epoch, position, W — so keeping it costs no request), which a student can
// restore when the server has forgotten the session (idle too long, or restarted).

const TAB_KEY = "backprop-lab:session";
const KEEP_KEY = "backprop-lab:snapshot";
const KEEP_MS = 1000; // at most one snapshot a second (Play writes many steps)

const read = (storage, key) => {
  try {
    return JSON.parse(storage.getItem(key));
  } catch {
    return null;
  }
};
const write = (storage, key, value) => {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    // a full or disabled storage: the run goes on, only unkept
  }
};

/** The session this tab had before a reload, or null. */
export const rememberedSession = () => read(sessionStorage, TAB_KEY);

/** The snapshot this browser kept last ({saved, snapshot}), or null. */
export const keptRun = () => read(localStorage, KEEP_KEY);

/** The API's Snapshot of a session as the page holds it (the history stays behind). */
export function snapshotOf(session, weights) {
  const { step, epoch, position } = session.state;
  return { format: "backprop-lab/2", config: session.config, step, epoch, position, weights };
}

/** Remember the tab's session and keep its snapshot, soon (called on every redraw). */
export class RunKeeper {
  constructor() {
    this.timer = null;
    this.kept = null; // "id:step" of the last snapshot kept
  }

  watch(state) {
    const session = state.session;
    if (!session || !state.weights || state.fastForwarding) return;
    if (rememberedSession() !== session.id) write(sessionStorage, TAB_KEY, session.id);
    // step 0 has nothing to lose (and must not replace the copy of a run that expired)
    if (!session.state.step || this.kept === `${session.id}:${session.state.step}` || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = state.session;
      if (!now?.state.step || !state.weights) return;
      this.kept = `${now.id}:${now.state.step}`;
      write(localStorage, KEEP_KEY, { saved: Date.now(), snapshot: snapshotOf(now, state.weights) });
    }, KEEP_MS);
  }
}
