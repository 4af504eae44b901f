/**
 * Level meters of one stream (issue 24): what the engine thread hands the DAC (output: after the
 * gain stage) or took from the ADC (input), summed per channel, and taken by the main thread.
 *
 * The block: one Int32 word (the sequence word, `seqAt` in `words`) and a Float64Array of
 * METER.SIZE slots: the channel count, the frames, and per channel the peak |sample| and the sum
 * of squares of those frames. Samples are scaled so that full scale is 1.0 in every format
 * (i16 / 32768, i32 / 2^31, f32 as it is), so −32768 reads 1.0 exactly.
 *
 * The sequence word is a seqlock whose check is also the hand-over: bits 31..2 count the writer's
 * periods, bit 0 is set while the writer is inside a period's update, bit 1 once a reader has
 * taken what the block holds.
 *
 *   writer (engine thread, once per period that played frames)
 *     computes the period's peak and sum of squares per channel (outside the lock-free window)
 *     old = Atomics.exchange(seq, n·4 + 1)      — "writing"; old says whether a reader took it
 *     if old had bit 1: zero the block           — the reader has what was there: a new window
 *     adds the period (peak = max, sums and frames +=)
 *     Atomics.store(seq, (n + 1)·4)              — written last: published, not taken
 *   reader (main thread)
 *     s = Atomics.load(seq); bit 0 → try again; bit 1 → nothing new since the last take
 *     copies the block
 *     Atomics.compareExchange(seq, s, s | 2) === s → the copy is whole and now taken; else the
 *     writer began a period meanwhile (the copy may be torn): try again
 *
 * So the writer never waits and never allocates (one exchange and one store per period), and
 * no frame is lost or counted twice between takes: the writer zeroes only what the reader's
 * successful compare-exchange proved it had copied. The block always holds "the frames since
 * the last take"; a reader that does not come back for a while gets a longer window, never a
 * wrong one. One reader per block (src/stream/levels.ts LevelMeter); several readers would split
 * the frames between them.
 *
 * Nothing here allocates on the audio path: the per-period figures go through a Float64Array made
 * once, and `add()` takes an object and an integer and returns nothing (a double crossing a call
 * V8 does not inline is boxed: docs/engine.md, "No allocation per period").
 */
import { EngineError } from './errors.ts';
import type { HostBuffer, HostSampleFormat } from './types.ts';

/** Channels a block holds: the engine's channel limit (src/engine/driver.ts, CHANNEL_LIMIT). */
export const METER_CHANNELS = 8;

/** Slots of the Float64 block. */
export const METER = {
  /** Channels the writer meters (written once, at the writer's creation). */
  CHANNELS: 0,
  /** Frames summed since the last take. */
  FRAMES: 1,
  /** PEAK + c: the largest |sample| of channel c since the last take (full scale 1.0). */
  PEAK: 2,
  /** SUMSQ + c: the sum of the squares of channel c's samples since the last take. */
  SUMSQ: 2 + METER_CHANNELS,
  SIZE: 2 + 2 * METER_CHANNELS,
} as const;

/** Bits of the sequence word below the period count. */
export const METER_SEQ = { WRITING: 1, TAKEN: 2 } as const;

export interface MeterViews {
  /** The array holding the sequence word, and its index. */
  readonly words: Int32Array;
  readonly seqAt: number;
  /** METER.SIZE doubles. */
  readonly block: Float64Array;
}

/** A block of its own (tests, or a host without a stream control block). */
export function createMeterViews(): MeterViews {
  return {
    words: new Int32Array(new SharedArrayBuffer(4)),
    seqAt: 0,
    block: new Float64Array(new SharedArrayBuffer(METER.SIZE * 8)),
  };
}

/** What a sample of each format is worth with full scale at 1.0. */
function fullScaleOf(format: HostSampleFormat): number {
  if (format === 'i16') return 1 / 32768;
  if (format === 'i32') return 1 / 2147483648;
  if (format === 'f32') return 1;
  throw new EngineError('invalid-argument', `meters: sample format ${String(format)}; expected i16, i32 or f32`);
}

/** The engine thread's side: one per stream, fed each period's interleaved buffer. */
export class MeterWriter {
  /** [0]: the scale to full scale 1.0; then this period's peak per channel, then its sums of squares. */
  private readonly per: Float64Array;
  /** Periods written (the sequence word's upper bits), kept as a small integer. */
  private n = 0;

  constructor(private readonly m: MeterViews, readonly channels: number, format: HostSampleFormat) {
    if (!(Number.isInteger(channels) && channels >= 1 && channels <= METER_CHANNELS)) {
      throw new EngineError('invalid-argument', `meters: channels is ${channels}; it must be an integer from 1 to ${METER_CHANNELS}`);
    }
    if (m.block.length < METER.SIZE) throw new EngineError('invalid-argument', `meters: the block holds ${m.block.length} doubles; it needs ${METER.SIZE}`);
    this.per = new Float64Array(1 + 2 * channels);
    this.per[0] = fullScaleOf(format);
    m.block[METER.CHANNELS] = channels;
  }

  /** Adds frames [0, frames) of the interleaved buffer `buf` (what this period played or captured). */
  add(buf: HostBuffer, frames: number): void {
    const ch = this.channels;
    const per = this.per;
    const end = frames * ch;
    for (let c = 0; c < ch; c++) {
      let peak = 0;
      let sum = 0;
      for (let i = c; i < end; i += ch) {
        const x = buf[i]! * per[0]!;
        const a = x < 0 ? -x : x;
        if (a > peak) peak = a;
        sum += x * x;
      }
      per[1 + c] = peak;
      per[1 + ch + c] = sum;
    }
    const w = this.m.words;
    const at = this.m.seqAt;
    const b = this.m.block;
    const old = Atomics.exchange(w, at, (this.n << 2) | METER_SEQ.WRITING);
    if ((old & METER_SEQ.TAKEN) !== 0) {
      // The reader copied the block (its compare-exchange succeeded before this exchange): a new window.
      b[METER.FRAMES] = 0;
      for (let c = 0; c < ch; c++) {
        b[METER.PEAK + c] = 0;
        b[METER.SUMSQ + c] = 0;
      }
    }
    b[METER.FRAMES] = b[METER.FRAMES]! + frames;
    for (let c = 0; c < ch; c++) {
      b[METER.PEAK + c] = Math.max(b[METER.PEAK + c]!, per[1 + c]!);
      b[METER.SUMSQ + c] = b[METER.SUMSQ + c]! + per[1 + ch + c]!;
    }
    this.n = (this.n + 1) & 0x1fffffff;
    Atomics.store(w, at, this.n << 2);
  }
}

/** Tries before takeMeters gives up on a writer that stays inside its update (e.g. descheduled there). */
export const TAKE_ATTEMPTS = 1000;

export interface TakeResult {
  /**
   * `taken`: `out` holds the block as it was, whole, and the writer starts a new window at its next
   * period; `unchanged`: nothing was written since the last take (`out` untouched); `busy`: the
   * writer stayed inside an update for TAKE_ATTEMPTS tries (nothing taken: the frames stay for the
   * next take).
   */
  state: 'taken' | 'unchanged' | 'busy';
  attempts: number;
}

/**
 * The main thread's side: copies the block into `out` (METER.SIZE doubles) and takes it.
 * `between` runs after each attempt's copy, before its check: a test seam where a fake writer
 * interleaves as the engine thread could.
 */
export function takeMeters(m: MeterViews, out: Float64Array, between?: () => void): TakeResult {
  const w = m.words;
  const at = m.seqAt;
  for (let attempt = 1; attempt <= TAKE_ATTEMPTS; attempt++) {
    const s = Atomics.load(w, at);
    if ((s & METER_SEQ.WRITING) !== 0) continue;
    if ((s & METER_SEQ.TAKEN) !== 0) return { state: 'unchanged', attempts: attempt };
    out.set(m.block); // the block is METER.SIZE doubles (createMeterViews, meterViewsOf)
    between?.();
    if (Atomics.compareExchange(w, at, s, s | METER_SEQ.TAKEN) === s) return { state: 'taken', attempts: attempt };
  }
  return { state: 'busy', attempts: TAKE_ATTEMPTS };
}
