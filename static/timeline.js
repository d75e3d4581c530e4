// A cancellable schedule of drawing calls: each beat of a step is a list of
// {at (ms), run} events. finish() runs what is left at once, so a key pressed
// mid-animation jumps to the end of the beat instead of queueing behind it.

export class Timeline {
  constructor() {
    this.events = [];
    this.timer = null;
    this.resolve = null;
    this.started = 0;
  }

  get running() {
    return this.resolve !== null;
  }

  /** Play events (sorted by `at`); resolves when the last has run or finish() is called. */
  play(events, duration = 0) {
    this.finish();
    this.events = [...events].sort((a, b) => a.at - b.at);
    // `duration` keeps the beat on screen after its last event (CSS transitions).
    this.events.push({ at: Math.max(duration, this.events.at(-1)?.at ?? 0), run: () => {} });
    this.started = performance.now();
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.tick();
    });
  }

  tick() {
    this.timer = null;
    const now = performance.now() - this.started;
    while (this.events.length && this.events[0].at <= now) this.events.shift().run();
    if (this.events.length) {
      this.timer = setTimeout(() => this.tick(), Math.max(0, this.events[0].at - now));
    } else {
      this.done();
    }
  }

  /** Run every remaining event now. */
  finish() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.events.length) this.events.shift().run();
    this.done();
  }

  done() {
    const resolve = this.resolve;
    this.resolve = null;
    if (resolve) resolve();
  }
}
