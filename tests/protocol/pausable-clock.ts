/**
 * A virtual clock that jumps to its next timer whenever the event loop is idle (as the sim HAL's
 * VirtualClock with autoAdvance) and that a test can hold still: while held, virtual time does not
 * move at all, whatever happens in wall time (a child process dying, sockets closing). The
 * SIGKILL test holds it to take the moment of the kill on the service's timeline.
 */
import type { Clock, TimerHandle } from '../../src/hal/clock.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';

export class PausableClock implements Clock {
  readonly kind = 'virtual' as const;
  private readonly inner = new VirtualClock(1e9, false);
  private held = false;
  private scheduled = false;

  nowNs(): number {
    return this.inner.nowNs();
  }

  setTimerNs(ns: number, fn: () => void): TimerHandle {
    const h = this.inner.setTimerNs(ns, fn);
    this.schedule();
    return h;
  }

  sleepUntilNs(ns: number): Promise<void> {
    return new Promise((resolve) => this.setTimerNs(ns, resolve));
  }

  sleepUntilNsSync(ns: number): void {
    this.inner.sleepUntilNsSync(ns);
  }

  /** Stops time until release(). */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.held || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.held) return;
      const next = this.inner.nextTimerNs();
      if (next !== undefined) {
        this.inner.advanceTo(next);
        if (this.inner.nextTimerNs() !== undefined) this.schedule();
      }
    });
  }
}
