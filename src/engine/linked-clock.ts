/**
 * A virtual clock shared between a main thread and an engine worker, in lock-step.
 *
 * A sim board on a virtual clock keeps its timeline in the main thread (a VirtualClock that
 * tests advance, or that jumps to its next timer when the event loop is idle). An engine worker
 * serving that board must run on the same timeline, or its start times and positions would mean
 * nothing to the service and its clients. So the worker's clock is a `LinkedClock`: reading it
 * reads the main thread's time (a Float64 in a SharedArrayBuffer); sleeping on it asks the main
 * thread for a wake-up at that time and blocks (Atomics.wait) until the main thread's clock gets
 * there. The main side (`ClockLinkHost`) turns each request into a timer on its clock; when the
 * timer fires it publishes the time, wakes the worker, and waits (briefly, with Atomics.wait) for
 * the worker's next request before anything else happens on the main timeline. One engine period
 * therefore happens at exactly one virtual instant, and whatever the main thread does after it
 * (`onStep`: reading positions, sending notifications) happens at that instant too.
 *
 * Layout: Int32 [REQ_SEQ, NOW_SEQ, DONE, DETACHED], Float64 [NOW, WAKE] (after 16 bytes).
 */
import type { Clock, TimerHandle } from '../hal/clock.ts';
import { waitAsync } from './stream-control.ts';

const REQ_SEQ = 0, NOW_SEQ = 1, DONE = 2, DETACHED = 3;
const NOW = 0, WAKE = 1;

export function createClockLink(): SharedArrayBuffer {
  return new SharedArrayBuffer(16 + 16);
}

function views(sab: SharedArrayBuffer): { i32: Int32Array; f64: Float64Array } {
  return { i32: new Int32Array(sab, 0, 4), f64: new Float64Array(sab, 16, 2) };
}

/** The worker's side: a Clock whose time is the main thread's. */
export class LinkedClock implements Clock {
  readonly kind = 'virtual' as const;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(sab: SharedArrayBuffer) {
    ({ i32: this.i32, f64: this.f64 } = views(sab));
  }

  nowNs(): number {
    return this.f64[NOW]!;
  }

  /** Asks the main thread for its current time (before the streams start). */
  sync(): void {
    this.request(-1);
  }

  sleepUntilNsSync(ns: number): void {
    if (ns <= this.f64[NOW]!) return;
    this.request(ns);
  }

  private request(ns: number): void {
    const f = this.f64;
    const i = this.i32;
    const seen = Atomics.load(i, NOW_SEQ);
    f[WAKE] = ns;
    Atomics.add(i, REQ_SEQ, 1);
    Atomics.notify(i, REQ_SEQ);
    for (;;) {
      if (Atomics.load(i, DETACHED) !== 0) {
        // The main side let go (the engine is stopping): run free.
        if (ns > f[NOW]!) f[NOW] = ns;
        return;
      }
      const s = Atomics.load(i, NOW_SEQ);
      if (s !== seen && (ns < 0 || f[NOW]! >= ns)) return;
      Atomics.wait(i, NOW_SEQ, s, 1000);
    }
  }

  sleepUntilNs(ns: number): Promise<void> {
    this.sleepUntilNsSync(ns);
    return Promise.resolve();
  }

  setTimerNs(ns: number, fn: () => void): TimerHandle {
    let cancelled = false;
    setTimeout(() => {
      if (cancelled) return;
      this.sleepUntilNsSync(ns);
      fn();
    }, 0);
    return { cancel: () => { cancelled = true; } };
  }

  /** The worker is done with the link (no more requests will come). */
  static done(sab: SharedArrayBuffer): void {
    const { i32 } = views(sab);
    Atomics.store(i32, DONE, 1);
    Atomics.notify(i32, REQ_SEQ);
  }

  /** Sync through the SAB alone (a host that has no handle on the clock object). */
  static sync(sab: SharedArrayBuffer): void {
    new LinkedClock(sab).sync();
  }
}

/** The main thread's side: serves a worker's wake-up requests from a Clock (normally a VirtualClock). */
export class ClockLinkHost {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private handled = 0;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private stallNs = 0;

  /**
   * @param onStep called on the main thread right after each worker step (at the step's virtual time).
   * @param stepTimeoutMs how long the main thread waits for the worker to finish one step.
   */
  constructor(private readonly clock: Clock, readonly sab: SharedArrayBuffer, private readonly onStep: () => void, private readonly stepTimeoutMs = 2000) {
    ({ i32: this.i32, f64: this.f64 } = views(sab));
    this.f64[NOW] = clock.nowNs();
    this.listen();
  }

  private listen(): void {
    if (this.stopped) return;
    const seq = Atomics.load(this.i32, REQ_SEQ);
    if (seq !== this.handled) {
      this.schedule();
      return;
    }
    void waitAsync(this.i32, REQ_SEQ, seq).then(() => this.listen());
  }

  private schedule(): void {
    this.handled = Atomics.load(this.i32, REQ_SEQ);
    const wake = this.f64[WAKE]!;
    // Whole ns: the main timeline stays on integers (times on the wire are integers).
    const at = wake < 0 ? this.clock.nowNs() : Math.ceil(wake);
    this.timer = this.clock.setTimerNs(at, () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const i = this.i32;
    this.f64[NOW] = this.clock.nowNs() + Math.round(this.stallNs);
    this.stallNs = 0;
    Atomics.add(i, NOW_SEQ, 1);
    Atomics.notify(i, NOW_SEQ);
    // Lock-step: the worker's step happens now, at this virtual instant.
    const deadline = Date.now() + this.stepTimeoutMs;
    while (Atomics.load(i, REQ_SEQ) === this.handled && Atomics.load(i, DONE) === 0 && Atomics.load(i, DETACHED) === 0 && Date.now() < deadline) {
      Atomics.wait(i, REQ_SEQ, this.handled, 20);
    }
    this.onStep();
    if (Atomics.load(i, REQ_SEQ) !== this.handled) this.schedule();
    else this.listen();
  }

  /**
   * Simulates a stalled audio thread: the worker's next wake-up sees the time `ns` later than it
   * asked for (the main timeline does not move), as if the thread had been scheduled that late.
   */
  stall(ns: number): void {
    this.stallNs = ns;
  }

  /** Lets the worker run free (it is stopping) and stops serving it. */
  detach(): void {
    this.stopped = true;
    this.timer?.cancel();
    Atomics.store(this.i32, DETACHED, 1);
    Atomics.notify(this.i32, NOW_SEQ);
  }
}
