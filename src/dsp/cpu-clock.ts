/**
 * Two clocks for timing plugins on the engine's thread (src/dsp/chain.ts), per clock_gettime(2):
 * CLOCK_MONOTONIC (read through the vDSO, no system call) and CLOCK_THREAD_CPUTIME_ID, the time
 * the calling thread spent on a CPU (time the machine gave to other work does not count; a system
 * call). Each is read into a buffer made once (no allocation per read), as src/hal/linux/clock.ts
 * reads CLOCK_MONOTONIC.
 */
import { CLOCK_MONOTONIC, libc } from '../hal/linux/libc.ts';

/** Linux's clock id (include/uapi/linux/time.h: CLOCK_THREAD_CPUTIME_ID 3). */
export const CLOCK_THREAD_CPUTIME_ID = 3;

export interface CpuClock {
  nowNs(): number;
}

/** A reader of one clock id into its own timespec buffer. */
function clockReader(id: number): CpuClock {
  const gettime = libc().clockGettime;
  // struct timespec { int64 tv_sec; int64 tv_nsec; } read as 32-bit halves (the seconds fit in 32 bits).
  const ts = new Uint8Array(16);
  const words = new Uint32Array(ts.buffer);
  return {
    nowNs(): number {
      gettime(id, ts);
      return words[0]! * 1e9 + words[2]!;
    },
  };
}

export const threadCpuClock = (): CpuClock => clockReader(CLOCK_THREAD_CPUTIME_ID);
export const monotonicClock = (): CpuClock => clockReader(CLOCK_MONOTONIC);
