/**
 * Time on the audio path: CLOCK_MONOTONIC nanoseconds as a float64 number.
 *
 * Why a number and not a BigInt: a BigInt allocates on every read, which defeats a
 * no-allocation period loop. A float64 holds integer nanoseconds exactly for the first
 * 104 days of uptime (2^53 ns) and to within a few ns after that. 64-bit integers are
 * used only where time crosses the wire (see src/stream).
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** 'monotonic' reads the kernel's CLOCK_MONOTONIC; 'virtual' is advanced by a test or auto-advances. */
  readonly kind: 'monotonic' | 'virtual';
  /** Current time in ns on CLOCK_MONOTONIC (or the virtual clock's timeline). */
  nowNs(): number;
  /** Resolves at or after `ns`. On a virtual clock this never sleeps in wall time. */
  sleepUntilNs(ns: number): Promise<void>;
  /** Calls `fn` at or after `ns` (on the event loop). */
  setTimerNs(ns: number, fn: () => void): TimerHandle;
  /**
   * Blocks the calling thread until `ns` (worker threads only: the engine's audio thread).
   * A virtual clock advances to `ns` instead of blocking.
   */
  sleepUntilNsSync(ns: number): void;
}

export const NS_PER_SECOND = 1e9;
export const NS_PER_MS = 1e6;
export const NS_PER_US = 1e3;

/** Converts a frame count at a rate to ns (float). */
export function framesToNs(frames: number, rate: number): number {
  return (frames * NS_PER_SECOND) / rate;
}

/** Converts ns to frames at a rate (float; round where a whole frame is meant). */
export function nsToFrames(ns: number, rate: number): number {
  return (ns * rate) / NS_PER_SECOND;
}

/** Converts a float64 ns to a u64 for the wire; only at the wire. */
export function nsToBigInt(ns: number): bigint {
  return BigInt(Math.round(ns));
}
