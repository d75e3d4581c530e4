// The one owner of a page's state. Every change goes through update(patch); the views
// registered with watch() redraw from the state once the current task is done, however
// many updates it made (Playground's loop: the controls ask, the state changes, the
// page redraws from the state). Anything may read `state`; only update() writes it.

export class Store {
  constructor(state) {
    this.state = state;
    this.views = [];
    this.due = false;
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
    queueMicrotask(() => this.render());
  }

  /** Redraw now (before a measurement or a paint that must show the new state). */
  render() {
    this.due = false;
    for (const view of this.views) view(this.state);
  }
}
