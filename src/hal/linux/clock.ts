/** CLOCK_MONOTONIC through koffi, read into a preallocated buffer (no allocation per read). */
import type { Clock, TimerHandle } from '../clock.ts';
import { ERRNO } from '../../util/errno.ts';
import { CLOCK_MONOTONIC, libc, TIMER_ABSTIME } from './libc.ts';

export class MonotonicClock implements Clock {
  readonly kind = 'monotonic' as const;
  // struct timespec { int64 tv_sec; int64 tv_nsec; } read as 32-bit halves: seconds of uptime
  // fit in 32 bits for 136 years, and reading a BigInt64Array element would allocate.
  private readonly ts = new Uint8Array(16);
  private readonly words = new Uint32Array(this.ts.buffer);
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private readonly gettime = libc().clockGettime;
  private readonly nanosleep = libc().clockNanosleep;
  /** The deadline for clock_nanosleep, a struct timespec like `ts`. */
  private readonly deadline = new Uint8Array(16);
  private readonly deadlineWords = new Uint32Array(this.deadline.buffer);

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

  /**
   * Blocks the calling thread until CLOCK_MONOTONIC reaches `ns`: clock_nanosleep with an absolute
   * deadline (one sleep, no drift from computing a relative one). Not Atomics.wait: V8 serialises
   * every Atomics.wait and notify of the process on one global mutex, so an audio thread waking from
   * it can wait for that mutex behind a thread of normal priority that some other process preempted
   * (priority inversion: seen as xruns at 64-frame periods with the other core busy).
   */
  sleepUntilNsSync(ns: number): void {
    if (ns <= this.nowNs()) return;
    const sec = Math.floor(ns / 1e9);
    const w = this.deadlineWords;
    w[0] = sec; // tv_sec, low half (uptime seconds fit in 32 bits)
    w[1] = 0;
    w[2] = ns - sec * 1e9; // tv_nsec
    w[3] = 0;
    for (;;) {
      const rc = this.nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, this.deadline);
      if (rc === 0) return;
      if (rc !== ERRNO.EINTR) break; // clock_nanosleep returns the error number itself
    }
    // clock_nanosleep refused (not EINTR): wait the portable way.
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
