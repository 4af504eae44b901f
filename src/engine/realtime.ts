/**
 * Real-time hygiene for the engine's audio thread, through koffi:
 *
 * - Timer slack of 1 ns for the calling thread (prctl PR_SET_TIMERSLACK): its sleeps end on time.
 * - SCHED_FIFO for the calling thread (sched_setscheduler(0, ...) acts on the calling thread on
 *   Linux, so the worker asks for itself and the main thread keeps its normal policy).
 * - mlockall only where RLIMIT_MEMLOCK is unlimited: with a finite limit, V8 later aborts with
 *   "Check failed: 0 == ret" in OS::SetPermissions once locked pages meet the limit (see
 *   docs/facts/node-realtime.md#mlockall). So a finite limit means: skip, with a warning.
 * - One warning, in one sentence, naming what was refused and how to grant it.
 */
import type { RealtimeOutcome } from './types.ts';

export interface RealtimeRequest {
  fifo: boolean;
  /** SCHED_FIFO priority 1..99 (default 70: above threaded IRQ handlers at 50, below watchdogs at 99). */
  priority?: number;
  mlock: boolean;
}

export const DEFAULT_FIFO_PRIORITY = 70;

/** Applies the request to the calling thread; never throws (refusals become the warning). */
export async function applyRealtime(req: RealtimeRequest): Promise<RealtimeOutcome> {
  const outcome: RealtimeOutcome = { fifo: 'not-requested', mlock: 'not-requested' };
  if (!req.fifo && !req.mlock) return outcome;
  let lib: typeof import('../hal/linux/libc.ts');
  try {
    lib = await import('../hal/linux/libc.ts');
    lib.libc();
  } catch (e) {
    if (req.fifo) outcome.fifo = 'refused';
    if (req.mlock) outcome.mlock = 'failed';
    outcome.warning = `sbc-audio engine: no real-time scheduling or memory locking (libc not reachable through koffi: ${(e as Error).message})`;
    return outcome;
  }
  const c = lib.libc();
  const refused: string[] = [];
  if (req.fifo) {
    // Timer slack 1 ns for this thread: Linux lets a normal thread's timed sleeps end up to its slack
    // (50 µs by default) late so wake-ups can be merged; an audio thread wants its deadline. Measured
    // (bench/engine-bare-worker.ts' wake-up, 64-frame periods, SCHED_OTHER): p50 lateness 97–103 µs with
    // the default, 50–52 µs with 1 ns. Kept where SCHED_FIFO is refused, which is where it matters.
    c.prctlInt(lib.PR_SET_TIMERSLACK, 1);
    const param = new Uint8Array(4);
    new DataView(param.buffer).setInt32(0, Math.max(1, Math.min(99, req.priority ?? DEFAULT_FIFO_PRIORITY)), true);
    if (c.schedSetscheduler(0, lib.SCHED_FIFO, param) === 0) outcome.fifo = 'granted';
    else {
      outcome.fifo = 'refused';
      const e = c.errno();
      refused.push(`SCHED_FIFO was refused (${c.strerror(e)}; grant it with CAP_SYS_NICE or an rtprio limit in /etc/security/limits.conf, or LimitRTPRIO= in a systemd unit)`);
    }
  }
  if (req.mlock) {
    const rl = new Uint8Array(16);
    const words = new Uint32Array(rl.buffer);
    if (c.getrlimit(lib.RLIMIT_MEMLOCK, rl) !== 0) {
      outcome.mlock = 'failed';
      refused.push('memory was not locked (getrlimit failed)');
    } else if (words[0] === 0xffffffff && words[1] === 0xffffffff) {
      if (c.mlockall(lib.MCL_CURRENT | lib.MCL_FUTURE) === 0) outcome.mlock = 'locked';
      else {
        outcome.mlock = 'failed';
        refused.push(`mlockall failed (${c.strerror(c.errno())})`);
      }
    } else {
      outcome.mlock = 'skipped';
      const mib = (words[0]! + words[1]! * 2 ** 32) / 2 ** 20;
      refused.push(`memory was not locked (RLIMIT_MEMLOCK is ${mib.toFixed(0)} MiB, and mlockall under a finite limit makes V8 abort; run with LimitMEMLOCK=infinity to lock)`);
    }
  }
  if (refused.length) outcome.warning = `sbc-audio engine: ${refused.join('; ')}. Audio runs, with a higher risk of dropouts.`;
  return outcome;
}

/** CLOCK_THREAD_CPUTIME_ID: CPU time of the calling thread. */
const CLOCK_THREAD_CPUTIME_ID = 3;

/** Reads the calling thread's CPU time in ns, allocation-free (koffi into a preallocated timespec). */
export class ThreadCpuClock {
  private readonly ts = new Uint8Array(16);
  private readonly words = new Uint32Array(this.ts.buffer);
  private readonly gettime: (clk: number, ts: Uint8Array) => number;

  private constructor(gettime: (clk: number, ts: Uint8Array) => number) {
    this.gettime = gettime;
  }

  static async create(): Promise<ThreadCpuClock | undefined> {
    try {
      const { libc } = await import('../hal/linux/libc.ts');
      return new ThreadCpuClock(libc().clockGettime);
    } catch {
      return undefined;
    }
  }

  nowNs(): number {
    this.gettime(CLOCK_THREAD_CPUTIME_ID, this.ts);
    return this.words[0]! * 1e9 + this.words[2]!;
  }
}
