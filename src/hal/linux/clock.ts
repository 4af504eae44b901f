/** CLOCK_MONOTONIC through koffi, read into a preallocated buffer (no allocation per read). */
import type { Clock, TimerHandle } from '../clock.ts';
import { CLOCK_MONOTONIC, libc } from './libc.ts';

export class MonotonicClock implements Clock {
  readonly kind = 'monotonic' as const;
  // struct timespec { int64 tv_sec; int64 tv_nsec; } read as 32-bit halves: seconds of uptime
  // fit in 32 bits for 136 years, and reading a BigInt64Array element would allocate.
  private readonly ts = new Uint8Array(16);
  private readonly words = new Uint32Array(this.ts.buffer);
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private readonly gettime = libc().clockGettime;

  nowNs(): number {
    this.gettime(CLOCK_MONOTONIC, this.ts);
    return this.words[0]! * 1e9 + this.words[2]!;
  }

  sleepUntilNs(ns: number): Promise<void> {
    return new Promise((resolve) => this.setTimerNs(ns, resolve));
  }

  setTimerNs(ns: number, fn: () => void): TimerHandle {
    const delayMs = Math.max(0, (ns - this.nowNs()) / 1e6);
    // setTimeout may fire a little early in monotonic terms (it rounds to ms); re-arm until due.
    let t: NodeJS.Timeout | undefined;
    const arm = (ms: number) => {
      t = setTimeout(() => {
        const left = ns - this.nowNs();
        if (left > 0) arm(left / 1e6);
        else fn();
      }, ms);
    };
    arm(delayMs);
    return { cancel: () => t !== undefined && clearTimeout(t) };
  }

  sleepUntilNsSync(ns: number): void {
    for (;;) {
      const left = ns - this.nowNs();
      if (left <= 0) return;
      Atomics.wait(this.sleepCell, 0, 0, left / 1e6);
    }
  }
}

let shared: MonotonicClock | undefined;
export function monotonicClock(): MonotonicClock {
  return (shared ??= new MonotonicClock());
}
