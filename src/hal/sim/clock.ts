/**
 * A virtual CLOCK_MONOTONIC for simulations and tests: time moves only when a test advances it
 * (`advanceTo`, `advanceBy`, `runUntilIdle`) or, with `autoAdvance`, jumps to the next timer as
 * soon as the event loop has nothing else to do. Tests on it never sleep in wall time.
 */
import type { Clock, TimerHandle } from '../clock.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Clock {
  readonly kind = 'virtual' as const;
  // Initialised here as a double: a field declared without a value starts as `undefined`, and V8
  // would then box every later store of a double (an allocation per advance on the audio path).
  private now = Number.NaN;
  private seq = 0;
  private timers: Timer[] = [];
  private autoScheduled = false;

  /**
   * @param startNs where the timeline starts (default 1 s, so that 0 is never a valid time).
   * @param autoAdvance jump to the next due timer whenever the event loop is otherwise idle.
   */
  constructor(startNs = 1e9, readonly autoAdvance = false) {
    this.now = startNs;
  }

  nowNs(): number {
    return this.now;
  }

  setTimerNs(ns: number, fn: () => void): TimerHandle {
    const t: Timer = { at: Math.max(ns, this.now), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.scheduleAuto();
    return { cancel: () => { t.cancelled = true; } };
  }

  sleepUntilNs(ns: number): Promise<void> {
    return new Promise((resolve) => this.setTimerNs(ns, resolve));
  }

  sleepUntilNsSync(ns: number): void {
    // A blocking sleep on a virtual timeline is an advance: nothing else can run meanwhile.
    if (ns > this.now) {
      this.target = ns;
      this.advanceToTarget();
    }
  }

  /** Moves time to `ns`, firing due timers in order (each sees nowNs() equal to its due time). */
  advanceTo(ns: number): void {
    this.target = ns;
    this.advanceToTarget();
  }

  /**
   * advanceTo's body, taking its time from a field: a double passed as an argument to a call V8
   * does not inline is boxed (an allocation per advance, on the engine's audio path).
   */
  private target = Number.NaN;

  private advanceToTarget(): void {
    const ns = this.target;
    for (;;) {
      const next = this.timers[0];
      if (!next || next.at > ns) break;
      this.timers.shift();
      if (next.cancelled) continue;
      if (next.at > this.now) this.now = next.at;
      next.fn();
    }
    if (ns > this.now) this.now = ns;
  }

  advanceBy(ns: number): void {
    this.advanceTo(this.now + ns);
  }

  /** Time of the next pending timer, or undefined. */
  nextTimerNs(): number | undefined {
    while (this.timers[0]?.cancelled) this.timers.shift();
    return this.timers[0]?.at;
  }

  /**
   * Advances timer by timer, letting promise continuations run between timers, until no timer
   * is pending or `limitNs` is reached.
   */
  async runUntilIdle(limitNs = Number.POSITIVE_INFINITY): Promise<void> {
    for (;;) {
      await flushMicrotasks();
      const next = this.nextTimerNs();
      if (next === undefined || next > limitNs) break;
      this.advanceTo(next);
    }
    if (Number.isFinite(limitNs) && limitNs > this.now) this.now = limitNs;
  }

  /** Advances to `ns`, letting continuations run after each timer. */
  async runUntil(ns: number): Promise<void> {
    await this.runUntilIdle(ns);
  }

  private scheduleAuto(): void {
    if (!this.autoAdvance || this.autoScheduled) return;
    this.autoScheduled = true;
    // setImmediate runs after pending I/O callbacks and promise jobs: "the loop is otherwise idle".
    setImmediate(() => {
      this.autoScheduled = false;
      const next = this.nextTimerNs();
      if (next !== undefined) {
        this.advanceTo(next);
        if (this.timers.length) this.scheduleAuto();
      }
    });
  }
}

/** Lets queued promise continuations run (several rounds, for chains of awaits). */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
