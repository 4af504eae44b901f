/**
 * Drift compensation of the ALSA way in (docs/alsa-in.md, "Two clocks"): a PI controller on the
 * bridge's fill level that slows or speeds the players' loopback cable through snd-aloop's
 * "PCM Rate Shift 100000" control, as alsaloop's `-S captshift` and CamillaDSP's rate adjust do.
 * The audio itself is never touched (aloop copies with memcpy), so the path stays bit-exact.
 *
 * The plant: with the players' cable d ppm fast against the DAC, the fill (frames captured from the
 * cable and written into the ring, less the frames the DAC has taken) grows by (d − u)·10⁻⁶·rate
 * frames a second, u being the applied slow-down in ppm. The controller averages the fill over
 * `blockMs`, then u = Kp·e + Ki·∫e with e the error in seconds, Kp = 10⁶/τp, Ki = Kp/τi. With
 * τi = 4·τp the loop is critically damped; at rest the integral is d: that mean is what is reported.
 *
 * The control's resolution is 1/100000 (10 ppm); the wanted value is dithered by carrying the
 * remainder (first-order sigma-delta), so over a few blocks the mean shift is the wanted one.
 */
import { RATE_SHIFT_MAX, RATE_SHIFT_MIN, RATE_SHIFT_NEUTRAL } from '../hal/loopback.ts';

export interface RateFollowerOptions {
  rate: number;
  /** The fill to hold, frames. */
  targetFrames: number;
  /** Proportional time constant, s (default 10). */
  tauP?: number;
  /** Integral time constant, s (default 4·tauP: critically damped). */
  tauI?: number;
  /** Averaging block, ms (default 1000). */
  blockMs?: number;
  /** Window of the reported ppm, s (default 60). */
  windowS?: number;
  /** Largest drift the integral learns, ppm (default 1000: 0.1 %, far beyond crystal tolerances). */
  maxPpm?: number;
  /**
   * Largest correction in all, ppm (default 5000: 0.5 %): a fill well off the target is brought
   * back faster than the drift alone would allow. It is the players' clock that changes (they
   * write more slowly or quickly), not the audio: nothing is resampled.
   */
  catchUpPpm?: number;
  /** The integral's start, ppm: the drift a previous session learned (default 0). */
  initialPpm?: number;
}

export class RateFollower {
  private readonly kp: number;
  private readonly ki: number;
  private readonly blockNs: number;
  private readonly maxPpm: number;
  private readonly catchUpPpm: number;
  private blockStart = Number.NaN;
  private sum = 0;
  private count = 0;
  private integral = 0;
  private applied = 0;
  private carry = 0;
  private value = RATE_SHIFT_NEUTRAL;
  /** Applied ppm of each finished block, a ring of the window's length. */
  private readonly history: Float64Array;
  private historyAt = 0;
  private historyCount = 0;
  private lastError = 0;

  constructor(private readonly o: RateFollowerOptions) {
    const tauP = o.tauP ?? 10;
    const tauI = o.tauI ?? 4 * tauP;
    this.kp = 1e6 / tauP;
    this.ki = this.kp / tauI;
    this.blockNs = (o.blockMs ?? 1000) * 1e6;
    this.maxPpm = o.maxPpm ?? 1000;
    this.catchUpPpm = Math.max(this.maxPpm, o.catchUpPpm ?? 5000);
    this.integral = clamp(o.initialPpm ?? 0, this.maxPpm);
    this.history = new Float64Array(Math.max(1, Math.round(((o.windowS ?? 60) * 1e9) / this.blockNs)));
  }

  /**
   * One fill sample (frames) at tNs. Returns true when a block ended and the shift to write may
   * have changed (read it with `shift`). Allocates nothing.
   */
  update(tNs: number, fillFrames: number): boolean {
    if (Number.isNaN(this.blockStart)) this.blockStart = tNs;
    this.sum += fillFrames;
    this.count++;
    if (tNs - this.blockStart < this.blockNs) return false;
    const dt = (tNs - this.blockStart) / 1e9;
    const e = (this.sum / this.count - this.o.targetFrames) / this.o.rate;
    this.lastError = e;
    this.blockStart = tNs;
    this.sum = 0;
    this.count = 0;
    this.integral = clamp(this.integral + this.ki * e * dt, this.maxPpm);
    this.applied = clamp(this.kp * e + this.integral, this.catchUpPpm);
    const wanted = RATE_SHIFT_NEUTRAL * (1 + this.applied * 1e-6) + this.carry;
    const v = Math.min(RATE_SHIFT_MAX, Math.max(RATE_SHIFT_MIN, Math.round(wanted)));
    this.carry = wanted - v;
    this.value = v;
    // What the cable really ran at this block: the written value, not the wanted one.
    this.history[this.historyAt] = (v / RATE_SHIFT_NEUTRAL - 1) * 1e6;
    this.historyAt = (this.historyAt + 1) % this.history.length;
    if (this.historyCount < this.history.length) this.historyCount++;
    return true;
  }

  /** The "PCM Rate Shift 100000" value to write now. */
  get shift(): number {
    return this.value;
  }

  /**
   * How much faster the players' clock runs than the DAC's, ppm: the mean slow-down applied over
   * the window (undefined before the first block). Positive: the players' side is fast.
   */
  get ppm(): number | undefined {
    if (this.historyCount === 0) return undefined;
    let s = 0;
    for (let i = 0; i < this.historyCount; i++) s += this.history[i]!;
    return s / this.historyCount;
  }

  /** Blocks the reported ppm is the mean of. */
  get windowBlocks(): number {
    return this.historyCount;
  }

  /** The integral term, ppm (the drift estimate). */
  get drift(): number {
    return this.integral;
  }

  /** The last block's mean fill error, s. */
  get errorS(): number {
    return this.lastError;
  }
}

function clamp(v: number, m: number): number {
  return v > m ? m : v < -m ? -m : v;
}
