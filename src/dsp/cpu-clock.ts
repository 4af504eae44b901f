/**
 * The calling thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID), clock_gettime(2)): the
 * time this thread spent on a CPU, so time the machine gave to other work does not count. Read
 * into a buffer made once (no allocation per read), as src/hal/linux/clock.ts reads CLOCK_MONOTONIC.
 */
import { libc } from '../hal/linux/libc.ts';

/** Linux's clock id (include/uapi/linux/time.h: CLOCK_THREAD_CPUTIME_ID 3). */
export const CLOCK_THREAD_CPUTIME_ID = 3;

export interface CpuClock {
  nowNs(): number;
}

export function threadCpuClock(): CpuClock {
  const gettime = libc().clockGettime;
  // struct timespec { int64 tv_sec; int64 tv_nsec; } read as 32-bit halves (seconds of CPU time fit in 32 bits).
  const ts = new Uint8Array(16);
  const words = new Uint32Array(ts.buffer);
  return {
    nowNs(): number {
      gettime(CLOCK_THREAD_CPUTIME_ID, ts);
      return words[0]! * 1e9 + words[2]!;
    },
  };
}
