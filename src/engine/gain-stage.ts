/**
 * The engine's gain on an output stream (issue 21): three multiplicative stages, applied to the
 * period buffer sample-accurately between control events.
 *
 *   trim  the stream's engine-side trim (control `<board>.<stream>.trim`, timestamped)
 *   fade  the register handoff and mute/unmute: a ramp, or a scale by k at the frame where a
 *         codec register change by 1/k lands
 *   gate  start/stop: 0 while stopped, ramps 0 → 1 at START and 1 → 0 before STOP is answered
 *
 * Each stage holds current, target, remaining frames and a per-sample step. A ramp over N frames
 * that starts at frame F gives frame F the first step and frame F + N − 1 the target exactly
 * (current is set to the target when the count reaches 0, so no float drift survives a ramp).
 * Shapes: exponential — a constant ratio, i.e. constant dB per sample — when both ends are > 0
 * (a gain change then sounds even across its length); linear in amplitude when either end is 0
 * (dB has no finite value at 0). N = 0 is a jump at F.
 *
 * apply() on a static unity gain returns without touching the buffer, so a stream with no trim,
 * fade or start/stop ramp stays bit-exact. i16 and i32 results are rounded and clamped to the
 * type's range (a typed-array store would wrap them).
 *
 * No allocation in apply() or the ramp methods: the state lives in a Float64Array (a double held
 * in an object field that began as a small integer would be boxed on each store; see
 * docs/engine.md), gains are computed into a Float64Array made once, and nothing returns a
 * double across a call. A double *passed* to a call V8 does not inline is boxed too (measured
 * here: 16 bytes per event with a gain of 0.5), so the audio thread uses the `…From(src, i)`
 * forms, which read the value from a Float64Array; rampTrim(target) and the like are for callers
 * off the audio path (and tests).
 */
import { EngineError } from './errors.ts';
import type { HostBuffer, HostSampleFormat } from './types.ts';

/** Offsets inside one stage's slice of the state array. */
const CUR = 0;
const TGT = 1;
const REM = 2;
const STEP = 3;
/** 1: step multiplies (exponential), 0: step adds (linear). */
const EXP = 4;
const STRIDE = 5;
/** Each stage's first index in the state array. */
const TRIM = 0;
const FADE = STRIDE;
const GATE = 2 * STRIDE;
const STAGES_END = 3 * STRIDE;

export class GainStage {
  private readonly st = new Float64Array(STAGES_END);
  /** The value argument of the plain forms, handed on as src[0]. */
  private readonly arg = new Float64Array(1);
  /**
   * 1 when every stage is static at exactly 1 (kept up to date by every change), so apply() on a
   * unity gain is a field test: small enough that V8 inlines it without spending the caller's
   * inlining budget, which the stream bridge needs for the calls that carry doubles.
   */
  private unity = 0;
  /** Per-frame gain of the segment being applied (at most maxFrames at a time). */
  private readonly gains: Float64Array;

  /** `maxFrames`: the longest segment computed at once (the period; longer calls are cut up). */
  constructor(readonly maxFrames: number) {
    if (!(Number.isInteger(maxFrames) && maxFrames > 0)) throw new EngineError('invalid-argument', `GainStage: maxFrames is ${maxFrames}; it must be an integer > 0`);
    this.gains = new Float64Array(maxFrames);
    this.st[TRIM + CUR] = 1;
    this.st[TRIM + TGT] = 1;
    this.st[FADE + CUR] = 1;
    this.st[FADE + TGT] = 1;
    // The gate starts closed: a stream is stopped until START.
  }

  /** Trim: ramp to `target` (linear gain ≥ 0) over `frames` from the next frame applied. */
  rampTrim(target: number, frames: number): void {
    this.arg[0] = target;
    this.ramp(TRIM, this.arg, 0, frames);
  }

  /** rampTrim(src[i], frames), allocation-free on the audio thread. */
  rampTrimFrom(src: Float64Array, i: number, frames: number): void {
    this.ramp(TRIM, src, i, frames);
  }

  /** Fade: ramp to `target` (linear gain ≥ 0) over `frames`. */
  rampFade(target: number, frames: number): void {
    this.arg[0] = target;
    this.ramp(FADE, this.arg, 0, frames);
  }

  /** rampFade(src[i], frames), allocation-free on the audio thread. */
  rampFadeFrom(src: Float64Array, i: number, frames: number): void {
    this.ramp(FADE, src, i, frames);
  }

  /**
   * Fade: multiply the current value and the target by `k` at once; a ramp in progress keeps its
   * length and shape and ends at target × k (an exponential step is a ratio: unchanged; a linear
   * step scales with the values).
   */
  scaleFade(k: number): void {
    this.arg[0] = k;
    this.scaleFadeFrom(this.arg, 0);
  }

  /** scaleFade(src[i]), allocation-free on the audio thread. */
  scaleFadeFrom(src: Float64Array, i: number): void {
    const k = src[i]!;
    const st = this.st;
    st[FADE + CUR] = st[FADE + CUR]! * k;
    st[FADE + TGT] = st[FADE + TGT]! * k;
    if (st[FADE + REM]! > 0 && st[FADE + EXP] === 0) st[FADE + STEP] = st[FADE + STEP]! * k;
    this.unity = this.isUnity() ? 1 : 0;
  }

  /** Gate: from silence up to 1 over `frames` (START). */
  gateStart(frames: number): void {
    this.st[GATE + CUR] = 0;
    this.arg[0] = 1;
    this.ramp(GATE, this.arg, 0, frames);
  }

  /** Gate: from where it is down to 0 over `frames` (STOP; 0 = silence at once). */
  gateStop(frames: number): void {
    this.arg[0] = 0;
    this.ramp(GATE, this.arg, 0, frames);
  }

  /** The gate is closed and still: a STOP's ramp has ended (or the stream never started). */
  gateDone(): boolean {
    return this.st[GATE + CUR] === 0 && this.st[GATE + REM] === 0;
  }

  /** Every stage static at exactly 1: apply() would change nothing. */
  isUnity(): boolean {
    const st = this.st;
    return st[TRIM + REM] === 0 && st[TRIM + CUR] === 1 && st[FADE + REM] === 0 && st[FADE + CUR] === 1 && st[GATE + REM] === 0 && st[GATE + CUR] === 1;
  }

  /** The stages' current values and frames left (for tests and diagnostics; allocates). */
  snapshot(): { trim: number; fade: number; gate: number; trimFrames: number; fadeFrames: number; gateFrames: number } {
    const st = this.st;
    return { trim: st[TRIM + CUR]!, fade: st[FADE + CUR]!, gate: st[GATE + CUR]!, trimFrames: st[TRIM + REM]!, fadeFrames: st[FADE + REM]!, gateFrames: st[GATE + REM]! };
  }

  /**
   * Applies the gain to frames [fromFrame, toFrame) of an interleaved buffer of `channels`
   * channels in `format` (Float32Array for f32, Int16Array for i16, Int32Array for i32), and
   * advances the ramps by as many frames. A unity gain returns at once (nothing to check either).
   */
  apply(buf: HostBuffer, format: HostSampleFormat, channels: number, fromFrame: number, toFrame: number): void {
    if (this.unity === 0) this.applyGain(buf, format, channels, fromFrame, toFrame);
  }

  private applyGain(buf: HostBuffer, format: HostSampleFormat, channels: number, fromFrame: number, toFrame: number): void {
    if (toFrame <= fromFrame) return;
    if (fromFrame < 0 || toFrame * channels > buf.length) {
      throw new EngineError('invalid-argument', `GainStage.apply: frames [${fromFrame}, ${toFrame}) × ${channels} channels outside a buffer of ${buf.length} samples`);
    }
    const isF32 = format === 'f32';
    const isI16 = format === 'i16';
    if (isF32 ? !(buf instanceof Float32Array) : isI16 ? !(buf instanceof Int16Array) : format !== 'i32' || !(buf instanceof Int32Array)) {
      throw new EngineError('invalid-argument', `GainStage.apply: format ${format} given a buffer of type ${buf.constructor.name} (f32: Float32Array, i16: Int16Array, i32: Int32Array)`);
    }
    const max = this.maxFrames;
    for (let f = fromFrame; f < toFrame; f += max) {
      const n = toFrame - f < max ? toFrame - f : max;
      this.fillGains(n);
      if (isF32) this.mulF32(buf as Float32Array, channels, f, n);
      else if (isI16) this.mulI16(buf as Int16Array, channels, f, n);
      else this.mulI32(buf as Int32Array, channels, f, n);
    }
    this.unity = this.isUnity() ? 1 : 0;
  }

  /** Stage `b` ramps to src[i] over `frames` (< 1: at once). */
  private ramp(b: number, src: Float64Array, i: number, frames: number): void {
    const target = src[i]!;
    const st = this.st;
    const cur = st[b + CUR]!;
    if (!(frames >= 1) || cur === target) {
      st[b + CUR] = target;
      st[b + TGT] = target;
      st[b + REM] = 0;
      st[b + STEP] = 0;
      st[b + EXP] = 0;
      this.unity = this.isUnity() ? 1 : 0;
      return;
    }
    this.unity = 0;
    const n = Math.floor(frames);
    st[b + TGT] = target;
    st[b + REM] = n;
    if (cur > 0 && target > 0) {
      st[b + EXP] = 1;
      st[b + STEP] = Math.pow(target / cur, 1 / n);
    } else {
      st[b + EXP] = 0;
      st[b + STEP] = (target - cur) / n;
    }
  }

  /** gains[0, n) = trim × fade × gate for the next n frames; the stages advance by n. */
  private fillGains(n: number): void {
    const g = this.gains;
    const st = this.st;
    for (let b = 0; b < STAGES_END; b += STRIDE) {
      const first = b === 0;
      let cur = st[b + CUR]!;
      let rem = st[b + REM]!;
      if (rem === 0) {
        // A plain loop, not fill(): a double passed to a builtin call may be boxed.
        if (first) for (let i = 0; i < n; i++) g[i] = cur;
        else if (cur !== 1) for (let i = 0; i < n; i++) g[i] = g[i]! * cur;
        continue;
      }
      const tgt = st[b + TGT]!;
      const step = st[b + STEP]!;
      const exp = st[b + EXP] === 1;
      for (let i = 0; i < n; i++) {
        if (rem > 0) {
          cur = exp ? cur * step : cur + step;
          rem--;
          if (rem === 0) cur = tgt;
        }
        g[i] = first ? cur : g[i]! * cur;
      }
      st[b + CUR] = cur;
      st[b + REM] = rem;
    }
  }

  // One loop per array type, not one generic loop: each call site then sees a single typed-array
  // kind (monomorphic element access, which V8 compiles to a plain load and store).
  private mulF32(buf: Float32Array, channels: number, from: number, n: number): void {
    const g = this.gains;
    let i = from * channels;
    for (let k = 0; k < n; k++) {
      const gk = g[k]!;
      for (let c = 0; c < channels; c++, i++) buf[i] = buf[i]! * gk;
    }
  }

  private mulI16(buf: Int16Array, channels: number, from: number, n: number): void {
    const g = this.gains;
    let i = from * channels;
    for (let k = 0; k < n; k++) {
      const gk = g[k]!;
      for (let c = 0; c < channels; c++, i++) {
        let y = Math.round(buf[i]! * gk);
        if (y > 32767) y = 32767;
        else if (y < -32768) y = -32768;
        buf[i] = y;
      }
    }
  }

  private mulI32(buf: Int32Array, channels: number, from: number, n: number): void {
    const g = this.gains;
    let i = from * channels;
    for (let k = 0; k < n; k++) {
      const gk = g[k]!;
      for (let c = 0; c < channels; c++, i++) {
        let y = Math.round(buf[i]! * gk);
        if (y > 2147483647) y = 2147483647;
        else if (y < -2147483648) y = -2147483648;
        buf[i] = y;
      }
    }
  }
}
