/**
 * The simulated I2S link between a simulated PCM (the host's I2S block) and a simulated chip:
 * every frame a playback stream's "hardware" consumes is put on the link with the time it is
 * clocked out, so a chip model on the board can hear it, whichever thread the PCM runs in (the
 * engine's worker, or the main thread for `tone`).
 *
 * One writer (the PCM stream running on the link), one reader (the board's analog simulation).
 * Everything lives in one SharedArrayBuffer, posted to the worker with the device:
 *   Int32  [0] chunks published (sequence), [1] link running (bit clock present), [2] rate,
 *          [3] word length (bits), [4] channels
 *   Float64 [0] samples written in all (a count that never wraps in practice)
 *   chunk table: CHUNKS entries of Float64 start time, Float64 first sample (as a count of
 *          samples written), Int32 frames, rate, bits, channels
 *   samples: Float32 ring of SAMPLES entries, the frames as fractions of full scale
 * The writer allocates nothing per period (views are made once per stream). A reader that falls
 * more than the ring behind loses the oldest chunks and counts them.
 */
import type { SampleFormat } from '../pcm.ts';
import type { I2sFormat } from './chip.ts';
import { RingCopier } from '../../util/ring-copy.ts';

const HDR_I32 = 8;
const HDR_F64_OFFSET = 32;
const CHUNKS = 1024;
const CHUNK_F64_OFFSET = 64;
const CHUNK_FIRST_OFFSET = CHUNK_F64_OFFSET + CHUNKS * 8;
const CHUNK_I32_OFFSET = CHUNK_FIRST_OFFSET + CHUNKS * 8;
const CHUNK_I32_FIELDS = 4;
const SAMPLES_OFFSET = CHUNK_I32_OFFSET + CHUNKS * CHUNK_I32_FIELDS * 4;
/** Samples the ring holds: about 10 s of stereo at 48 kHz. */
export const LINK_SAMPLES = 1 << 20;

const SEQ = 0, RUNNING = 1, RATE = 2, BITS = 3, CHANNELS = 4;
const F_FRAMES = 0, F_RATE = 1, F_BITS = 2, F_CHANNELS = 3;

/** Word length on the link for a PCM sample format (the container the host's I2S block clocks out). */
export function linkBits(format: SampleFormat): number {
  switch (format) {
    case 'S16_LE': return 16;
    case 'S24_LE':
    case 'S24_3LE': return 24;
    default: return 32;
  }
}

/**
 * The link's memory, every page touched here (in the thread that opens the board): the engine's
 * audio thread then writes 4 MiB of ring without a page fault. Untouched, its first pass took one
 * fault per 4 KiB page (about 100 a second for 11 s at 48 kHz stereo), each waiting for the
 * process's memory-map lock that the other threads' V8 heaps take to map, unmap and protect pages:
 * late periods, and underruns at 2 × 128 frames (bench/idle-underruns.ts).
 */
export function createI2sLink(): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(SAMPLES_OFFSET + LINK_SAMPLES * 4);
  const bytes = new Uint8Array(sab);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 0;
  return sab;
}

class Views {
  readonly hdr: Int32Array;
  readonly total: Float64Array;
  readonly chunkStart: Float64Array;
  readonly chunkFirst: Float64Array;
  readonly chunkInfo: Int32Array;
  readonly samples: Float32Array;
  /** The samples' bytes (for copies that keep every bit). */
  readonly sampleBytes: Uint8Array;
  constructor(readonly sab: SharedArrayBuffer) {
    this.hdr = new Int32Array(sab, 0, HDR_I32);
    this.total = new Float64Array(sab, HDR_F64_OFFSET, 1);
    this.chunkStart = new Float64Array(sab, CHUNK_F64_OFFSET, CHUNKS);
    this.chunkFirst = new Float64Array(sab, CHUNK_FIRST_OFFSET, CHUNKS);
    this.chunkInfo = new Int32Array(sab, CHUNK_I32_OFFSET, CHUNKS * CHUNK_I32_FIELDS);
    this.samples = new Float32Array(sab, SAMPLES_OFFSET, LINK_SAMPLES);
    this.sampleBytes = new Uint8Array(sab, SAMPLES_OFFSET, LINK_SAMPLES * 4);
  }
}

/** The PCM side: one per playback stream on the link, with views of the stream's ring made once. */
export class I2sLinkWriter {
  private readonly v: Views;
  private readonly i16: Int16Array | undefined;
  private readonly i32: Int32Array | undefined;
  private readonly f32: Float32Array | undefined;
  private readonly bits: number;
  private readonly copier = new RingCopier();

  constructor(sab: SharedArrayBuffer, private readonly ring: Uint8Array, private readonly format: SampleFormat,
    private readonly channels: number, private readonly rate: number) {
    this.v = new Views(sab);
    const b = ring.buffer as ArrayBuffer, o = ring.byteOffset, n = ring.byteLength;
    if (format === 'S16_LE') this.i16 = new Int16Array(b, o, n >> 1);
    else if (format === 'S24_LE' || format === 'S32_LE') this.i32 = new Int32Array(b, o, n >> 2);
    else if (format === 'FLOAT_LE') this.f32 = new Float32Array(b, o, n >> 2);
    this.bits = linkBits(format);
  }

  /** The bit clock starts (the stream runs) or stops. */
  setRunning(running: boolean): void {
    const h = this.v.hdr;
    if (running) {
      Atomics.store(h, RATE, this.rate);
      Atomics.store(h, BITS, this.bits);
      Atomics.store(h, CHANNELS, this.channels);
    }
    Atomics.store(h, RUNNING, running ? 1 : 0);
  }

  /**
   * When the next pushed block's first frame is clocked out (ns). A field, not an argument: a
   * double passed to a call V8 does not inline is boxed, an allocation per period.
   */
  startNs = Number.NaN;

  /** `frames` frames at `byteOffset` in the stream's ring, the first clocked out at `startNs`. */
  push(byteOffset: number, frames: number): void {
    const v = this.v;
    const ch = this.channels;
    const count = frames * ch;
    let w = v.total[0]!;
    const first = w;
    const s = v.samples;
    if (this.i16) {
      const base = byteOffset >> 1;
      for (let i = 0; i < count; i++) s[(w + i) % LINK_SAMPLES] = this.i16[base + i]! / 32768;
    } else if (this.i32) {
      const base = byteOffset >> 2;
      // S24_LE: 24 valid bits in the low bytes of a 32-bit container.
      const scale = this.format === 'S24_LE' ? 1 / 8388608 : 1 / 2147483648;
      const shift = this.format === 'S24_LE' ? 8 : 0;
      for (let i = 0; i < count; i++) s[(w + i) % LINK_SAMPLES] = ((this.i32[base + i]! << shift) >> shift) * scale;
    } else if (this.f32) {
      this.copier.toRing(v.sampleBytes, (w % LINK_SAMPLES) * 4, this.ring, byteOffset, count * 4); // already fractions: as is
    } else {
      const r = this.ring; // S24_3LE: three bytes a sample
      for (let i = 0; i < count; i++) {
        const p = byteOffset + i * 3;
        s[(w + i) % LINK_SAMPLES] = (((r[p]! | (r[p + 1]! << 8) | (r[p + 2]! << 16)) << 8) >> 8) / 8388608;
      }
    }
    w += count;
    v.total[0] = w;
    const seq = Atomics.load(v.hdr, SEQ);
    const slot = seq % CHUNKS;
    v.chunkStart[slot] = this.startNs;
    v.chunkFirst[slot] = first;
    const info = v.chunkInfo, at = slot * CHUNK_I32_FIELDS;
    info[at + F_FRAMES] = frames;
    info[at + F_RATE] = this.rate;
    info[at + F_BITS] = this.bits;
    info[at + F_CHANNELS] = ch;
    Atomics.store(v.hdr, SEQ, (seq + 1) | 0);
  }
}

/** A block of frames as the reader gets it (valid until the next `drain`). */
export interface LinkChunk {
  startNs: number;
  frames: number;
  format: I2sFormat;
  /** Interleaved samples, fractions of full scale (a copy: the ring may move on). */
  samples: Float32Array;
}

/** The chip side: reads what the PCM put on the link. */
export class I2sLinkReader {
  private readonly v: Views;
  private readSeq: number;
  /** Chunks the reader was too late for (the writer had overwritten them). */
  lost = 0;
  private readonly copier = new RingCopier();

  constructor(sab: SharedArrayBuffer) {
    this.v = new Views(sab);
    this.readSeq = Atomics.load(this.v.hdr, SEQ);
  }

  /** What the link carries now: undefined while no bit clock runs. */
  now(): I2sFormat | undefined {
    const h = this.v.hdr;
    if (Atomics.load(h, RUNNING) !== 1) return undefined;
    return { rate: Atomics.load(h, RATE), bits: Atomics.load(h, BITS), channels: Atomics.load(h, CHANNELS) };
  }

  /** Every chunk published since the last call, oldest first. */
  drain(onChunk: (c: LinkChunk) => void): void {
    const v = this.v;
    const seq = Atomics.load(v.hdr, SEQ);
    const total = v.total[0]!;
    if (((seq - this.readSeq) | 0) > CHUNKS) {
      this.lost += ((seq - this.readSeq) | 0) - CHUNKS;
      this.readSeq = (seq - CHUNKS) | 0;
    }
    for (; this.readSeq !== seq; this.readSeq = (this.readSeq + 1) | 0) {
      const slot = ((this.readSeq % CHUNKS) + CHUNKS) % CHUNKS;
      const at = slot * CHUNK_I32_FIELDS;
      const frames = v.chunkInfo[at + F_FRAMES]!, channels = v.chunkInfo[at + F_CHANNELS]!;
      const count = frames * channels;
      const first = v.chunkFirst[slot]!;
      // Samples more than a ring's length behind the writer are overwritten.
      if (total - first > LINK_SAMPLES) { this.lost++; continue; }
      const samples = new Float32Array(count);
      this.copier.fromRing(v.sampleBytes, (first % LINK_SAMPLES) * 4, new Uint8Array(samples.buffer), 0, count * 4);
      onChunk({
        startNs: v.chunkStart[slot]!, frames, samples,
        format: { rate: v.chunkInfo[at + F_RATE]!, bits: v.chunkInfo[at + F_BITS]!, channels },
      });
    }
  }
}

/**
 * The capture direction of the link: what the chip's ADC side passes from its analog input to
 * the I2S frames a simulated capture PCM produces. The board's analog simulation writes the
 * input path's linear gain per channel (0 while the ADC is unpowered, unrouted or muted) from the
 * chip model's state; the capture stream applies it to what its simulated source produces, in
 * whichever thread it runs. Float32 [0..7] gains per channel, Int32 [8] set (1 once written).
 */
const GATE_CHANNELS = 8;

export function createAdcGate(): SharedArrayBuffer {
  return new SharedArrayBuffer(GATE_CHANNELS * 4 + 4);
}

/** The simulation's side: sets the gains. */
export function setAdcGate(sab: SharedArrayBuffer, gains: readonly number[]): void {
  const g = new Float32Array(sab, 0, GATE_CHANNELS);
  for (let c = 0; c < GATE_CHANNELS; c++) g[c] = gains[Math.min(c, gains.length - 1)] ?? 0;
  Atomics.store(new Int32Array(sab, GATE_CHANNELS * 4, 1), 0, 1);
}

/** The capture stream's side: scales the frames its source produced, with views made once. */
export class AdcGateReader {
  private readonly gains: Float32Array;
  private readonly set: Int32Array;
  private readonly i16: Int16Array | undefined;
  private readonly i32: Int32Array | undefined;
  private readonly f32: Float32Array | undefined;
  private readonly sampleBytes: number;

  constructor(sab: SharedArrayBuffer, private readonly ring: Uint8Array, format: SampleFormat, private readonly channels: number) {
    this.gains = new Float32Array(sab, 0, GATE_CHANNELS);
    this.set = new Int32Array(sab, GATE_CHANNELS * 4, 1);
    this.sampleBytes = format === 'S16_LE' ? 2 : format === 'S24_3LE' ? 3 : 4;
    const b = ring.buffer as ArrayBuffer, o = ring.byteOffset, n = ring.byteLength;
    if (format === 'S16_LE') this.i16 = new Int16Array(b, o, n >> 1);
    else if (format === 'S32_LE' || format === 'S24_LE') this.i32 = new Int32Array(b, o, n >> 2);
    else if (format === 'FLOAT_LE') this.f32 = new Float32Array(b, o, n >> 2);
  }

  /** All channels' gains equal `value` (0: the path passes nothing; 1: it passes the frames as they are). */
  private uniform(value: number): boolean {
    for (let c = 0; c < this.channels; c++) if (this.gains[c] !== value) return false;
    return true;
  }

  /**
   * Applies the gains to `frames` frames at `byteOffset` (a chip not yet evaluated passes
   * nothing). Silence and unity, the usual cases, take no arithmetic per sample.
   */
  apply(byteOffset: number, frames: number): void {
    const ch = this.channels;
    const bytes = frames * ch * this.sampleBytes;
    if (Atomics.load(this.set, 0) !== 1 || this.uniform(0)) {
      this.ring.fill(0, byteOffset, byteOffset + bytes);
      return;
    }
    if (this.uniform(1)) return;
    const g = this.gains;
    for (let c = 0; c < ch; c++) {
      const k = g[c]!;
      if (this.i16) {
        for (let i = (byteOffset >> 1) + c, end = (byteOffset >> 1) + frames * ch; i < end; i += ch) {
          const v = Math.round(this.i16[i]! * k);
          this.i16[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        }
      } else if (this.i32) {
        for (let i = (byteOffset >> 2) + c, end = (byteOffset >> 2) + frames * ch; i < end; i += ch) {
          const v = Math.round(this.i32[i]! * k);
          this.i32[i] = v > 2147483647 ? 2147483647 : v < -2147483648 ? -2147483648 : v;
        }
      } else if (this.f32) {
        for (let i = (byteOffset >> 2) + c, end = (byteOffset >> 2) + frames * ch; i < end; i += ch) this.f32[i] = this.f32[i]! * k;
      }
    }
  }
}
