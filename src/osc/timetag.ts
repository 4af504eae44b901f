/**
 * OSC time tags (docs/OSC.md, "Bundles and time tags"): the NTP 64-bit time stamp a bundle carries, mapped to
 * CLOCK_REALTIME and from there to the board's clock (CLOCK_MONOTONIC on a real board, the virtual
 * timeline of a virtual-clock sim board), which is what `ControlModel.set(…, { at: { ns } })` takes.
 *
 * Sources, in our words:
 * - OSC 1.0 ("Temporal semantics and OSC time tags"): a time tag is an NTP time stamp, 32 bits of
 *   seconds since 1 January 1900 and 32 bits of fraction of a second; 63 zero bits followed by a
 *   one (seconds 0, fraction 1) means "immediately".
 * - RFC 5905 (NTPv4), section 6: 2 208 988 800 s lie between 1900-01-01 and 1970-01-01 (the Unix
 *   epoch): 70 years of which 17 are leap years, (70 · 365 + 17) · 86 400.
 * - RFC 4330 (SNTPv4), section 3: the 32-bit seconds wrap on 7 February 2036 06:28:16 UTC; a stamp
 *   whose top bit is set lies in 1968–2036, one whose top bit is clear in 2036–2104 (era 1).
 */

/** Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01 (CLOCK_REALTIME's epoch): RFC 5905 §6. */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;

const NS_PER_S = 1_000_000_000n;
const TWO_POW_32 = 4_294_967_296n;

/** An NTP time stamp as osc-min gives it: [seconds since 1900 (u32), fraction of a second (u32, 1/2^32 s)]. */
export type NtpTimeTag = readonly [seconds: number, fraction: number];

/** OSC 1.0: seconds 0, fraction 1 — "immediately". */
export const IMMEDIATE: NtpTimeTag = [0, 1];

export class TimeTagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeTagError';
  }
}

export function isImmediate(tag: NtpTimeTag): boolean {
  return tag[0] === 0 && tag[1] === 1;
}

function checkTag(tag: NtpTimeTag): void {
  const [s, f] = tag;
  if (!Number.isInteger(s) || s < 0 || s >= 2 ** 32 || !Number.isInteger(f) || f < 0 || f >= 2 ** 32) {
    throw new TimeTagError(`time tag [${s}, ${f}]: seconds and fraction must be integers 0 .. 2^32 − 1`);
  }
}

/**
 * The CLOCK_REALTIME time (ns since 1970-01-01 UTC, a BigInt: 1.8e18 ns is past a float64's exact
 * integers) of a time tag. The fraction is rounded to the nearest ns (its unit, 2^-32 s, is 0.23 ns).
 * Seconds with the top bit clear are era 1 (2036–2104, RFC 4330 §3). Not for IMMEDIATE (no time).
 */
export function timeTagToRealtimeNs(tag: NtpTimeTag): bigint {
  checkTag(tag);
  if (isImmediate(tag)) throw new TimeTagError('time tag [0, 1] is "immediately", not a time');
  const era = tag[0] < 2 ** 31 ? TWO_POW_32 : 0n;
  const seconds = BigInt(tag[0]) + era - BigInt(NTP_UNIX_OFFSET_S);
  const fractionNs = (BigInt(tag[1]) * NS_PER_S + TWO_POW_32 / 2n) / TWO_POW_32;
  return seconds * NS_PER_S + fractionNs;
}

/** The time tag of a CLOCK_REALTIME time (ns since 1970, 1968–2104): the fraction rounded to the nearest 2^-32 s. */
export function realtimeNsToTimeTag(ns: bigint): NtpTimeTag {
  let s = ns / NS_PER_S;
  let rem = ns % NS_PER_S;
  if (rem < 0n) {
    rem += NS_PER_S;
    s -= 1n;
  }
  // At most (10^9 − 1) ns: rounded, 4 294 967 292 < 2^32, so the fraction never carries into the seconds.
  const frac = (rem * TWO_POW_32 + NS_PER_S / 2n) / NS_PER_S;
  const ntp = s + BigInt(NTP_UNIX_OFFSET_S);
  if (ntp < 2n ** 31n || ntp >= 2n * TWO_POW_32 - 2n ** 31n) throw new TimeTagError(`${ns} ns since 1970 is outside the time tags' 1968–2104`);
  return [Number(ntp % TWO_POW_32), Number(frac)];
}

/** CLOCK_REALTIME now, ns since 1970 (a BigInt). */
export interface RealtimeSource {
  nowNs(): bigint;
}

/** How far the estimate may stray from Date.now()'s window before it is calibrated again. */
const SLACK_NS = 100_000n;
/** Calibrated at least this often while in use: the wall clock may be slewed (NTP) meanwhile. */
const RECALIBRATE_EVERY_NS = 10_000_000_000n;
/** And at most this often (a calibration spins a millisecond, at most CALIBRATION_SPIN_NS). */
const MIN_CALIBRATION_GAP_NS = 1_000_000_000n;
/** The widest gap between the two reads around a millisecond edge that is taken at once. */
const EDGE_WIDTH_NS = 20_000n;
/** How long a calibration looks for a narrow edge before it takes the narrowest it saw. */
const CALIBRATION_SPIN_NS = 5_000_000n;

/**
 * CLOCK_REALTIME in ns without a native call. Node gives the wall clock only in milliseconds
 * (Date.now()), and CLOCK_MONOTONIC in ns (process.hrtime.bigint(): libuv's uv_hrtime reads
 * CLOCK_MONOTONIC). So the offset CLOCK_REALTIME − CLOCK_MONOTONIC is calibrated on the edge of
 * Date.now()'s millisecond: spin (at most ~1 ms) until Date.now() ticks, and take the monotonic
 * time in the middle of the two reads around the tick; then realtime = monotonic + offset.
 *
 * Resolution: 1 ns (the monotonic clock's). Accuracy: right after a calibration, the loop's
 * edge's bracket (at most 20 µs, usually < 1 µs); between them, every read checks the estimate
 * against Date.now() (which lies within the millisecond below the true time) and calibrates again
 * when it is outside that window by more than 0.1 ms — so a stepped wall clock is followed at once
 * and the estimate is never off by more than 1.1 ms — and at least every 10 s while in use (an
 * NTP slew moves the offset by at most 0.5 ms/s: RFC 5905's 500 ppm).
 *
 * Why not `performance.timeOrigin + performance.now()`: timeOrigin is the wall clock read once at
 * process start, so that sum does not follow the wall clock being stepped or slewed later.
 */
export class SystemRealtime implements RealtimeSource {
  private offsetNs: bigint | undefined;
  private calibratedAtNs = 0n;
  /** How many calibrations ran (tests). */
  calibrations = 0;

  constructor(private readonly src: { dateNowMs: () => number; monoNs: () => bigint } = { dateNowMs: Date.now, monoNs: () => process.hrtime.bigint() }) {}

  nowNs(): bigint {
    // Date.now() read between two monotonic reads: a preemption between them widens the bracket
    // (the checks get looser) but never fails them, so only a moved wall clock fails them.
    const mono1 = this.src.monoNs();
    const wall = BigInt(this.src.dateNowMs()) * 1_000_000n;
    const mono2 = this.src.monoNs();
    if (this.offsetNs !== undefined) {
      // Date.now() truncates: wall ≤ realtime(at its read) < wall + 1 ms.
      const fresh = mono2 - this.calibratedAtNs < RECALIBRATE_EVERY_NS;
      if (fresh && mono2 + this.offsetNs - wall >= -SLACK_NS && mono1 + this.offsetNs - wall < 1_000_000n + SLACK_NS) return mono2 + this.offsetNs;
      // Moved (or stale), but calibrated within the last second: the middle of Date.now()'s
      // millisecond, ±0.5 ms, rather than spinning again.
      if (mono2 - this.calibratedAtNs < MIN_CALIBRATION_GAP_NS) return wall + 500_000n;
    }
    this.calibrate();
    return this.src.monoNs() + this.offsetNs!;
  }

  /**
   * Measures CLOCK_REALTIME − CLOCK_MONOTONIC on Date.now()'s millisecond edge. An edge is taken
   * when the two monotonic reads around it are at most EDGE_WIDTH_NS apart (a thread preempted
   * between them, or a loop not yet compiled, would make the middle wrong by half the gap);
   * otherwise the next edge is tried, for at most CALIBRATION_SPIN_NS, keeping the narrowest.
   */
  calibrate(): void {
    this.calibrations++;
    const start = this.src.monoNs();
    let last = this.src.dateNowMs();
    // Reads go Date.now(), monotonic, Date.now(), monotonic, …: a tick between two Date.now()
    // reads lies after the monotonic read before the first of them (`before`) and before the one
    // after the second (`after`).
    let before = start;
    let prev = this.src.monoNs();
    let best: { offset: bigint; width: bigint } | undefined;
    for (;;) {
      const ms = this.src.dateNowMs();
      const after = this.src.monoNs();
      if (ms !== last) {
        const width = after - before;
        if (!best || width < best.width) best = { offset: BigInt(ms) * 1_000_000n - (before + after) / 2n, width };
        if (width <= EDGE_WIDTH_NS) break;
        last = ms;
      }
      if (after - start > CALIBRATION_SPIN_NS) break;
      before = prev;
      prev = after;
    }
    // No tick at all (a frozen test source): the middle of the millisecond Date.now() gives.
    this.offsetNs = best?.offset ?? BigInt(last) * 1_000_000n + 500_000n - this.src.monoNs();
    this.calibratedAtNs = this.src.monoNs();
  }
}

/** What the mapping reads once, at a packet's receipt: the two clocks at (nearly) the same instant. */
export interface ClockPair {
  /** CLOCK_REALTIME, ns since 1970. */
  realtimeNs: bigint;
  /** The board's clock (CLOCK_MONOTONIC, or the virtual clock), ns. */
  boardNs: number;
}

/**
 * A time tag on the board's clock: board_now + (realtime(tag) − realtime_now), both "now"s read at
 * the packet's receipt, rounded to the ns. IMMEDIATE is board_now. The difference is computed in BigInt and is small
 * (the tag's distance from now), so the float64 result keeps the board clock's ns.
 */
export function timeTagToBoardNs(tag: NtpTimeTag, now: ClockPair): number {
  if (isImmediate(tag)) return now.boardNs;
  // To the whole ns (a virtual clock's times may carry fractions of one).
  return Math.round(now.boardNs + Number(timeTagToRealtimeNs(tag) - now.realtimeNs));
}

/** The time tag of a board-clock time (the inverse mapping, with the same pair). */
export function boardNsToTimeTag(boardNs: number, now: ClockPair): NtpTimeTag {
  return realtimeNsToTimeTag(now.realtimeNs + BigInt(Math.round(boardNs - now.boardNs)));
}
