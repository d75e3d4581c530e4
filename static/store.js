// The one owner of a page's state. Every change goes through update(patch); the views
// registered with watch() redraw from the state once the current task is done, however
// many updates it made (Playground's loop: the controls ask, the state changes, the
// page redraws from the state), or at most once per pace() ms while fast Play makes
// more changes than the eye reads. Anything may read `state`; only update() writes it.

export class Store {
  constructor(state) {
    this.state = state;
    this.views = [];
    this.due = false;
    this.gap = 0; // ms between redraws at least (0: after every task)
    this.last = 0;
  }

  /** Change some fields of the state, and redraw soon. */
  update(patch) {
    Object.assign(this.state, patch);
    this.schedule();
    return this.state;
  }

  /** render(state) runs after every batch of updates. */
  watch(render) {
    this.views.push(render);
  }

  schedule() {
    if (this.due) return;
    this.due = true;
    const wait = this.last + this.gap - performance.now();
    if (wait > 0) setTimeout(() => this.due && this.render(), wait);
    else queueMicrotask(() => this.render());
  }

  /** Redraw at most every `ms` (0: after every task again, and now if a redraw waits). */
  pace(ms) {
    this.gap = ms;
    if (!ms && this.due) this.render();
  }

  /** Redraw now (before a measurement or a paint that must show the new state). */
  render() {
    this.due = false;
    this.last = performance.now();
    for (const view of this.views) view(this.state);
  }
}
