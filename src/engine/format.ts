/**
 * Between the host's buffers (f32 / i16 / i32, interleaved or planar) and a PCM stream's bytes.
 *
 * Everything is allocated once, when the engine sets up; `pcmToHost` / `hostToPcm` then run
 * every period without allocating (typed-array reads and writes, number locals, no calls that
 * return doubles). Where the host's format equals the PCM's and the host wants interleaved
 * buffers, the host's buffer is a view over the PCM bytes and nothing is copied.
 *
 * Conversions (little-endian machines only, as every supported board is):
 *   i16 ↔ f32: x / 32768 and round(v × 32768), clipped: an i16 → f32 → i16 round trip is exact.
 *   i32 ↔ f32: x / 2^31 and round(v × 2^31), clipped: exact to the 24 bits a float32 holds.
 *   i16 ↔ i32: x × 65536 and floor(x / 65536) (the low 16 bits are dropped, not rounded).
 */
import type { SampleFormat } from '../hal/pcm.ts';
import { EngineError } from './errors.ts';
import type { HostBuffer, HostSampleFormat } from './types.ts';

/** PCM formats the engine streams in, best first, for each host format. */
export const PCM_FORMAT_PREFERENCE: Readonly<Record<HostSampleFormat, readonly SampleFormat[]>> = {
  f32: ['FLOAT_LE', 'S32_LE', 'S16_LE'],
  i16: ['S16_LE', 'S32_LE', 'FLOAT_LE'],
  i32: ['S32_LE', 'FLOAT_LE', 'S16_LE'],
};

const enum Kind { I16 = 0, I32 = 1, F32 = 2 }

function hostKind(f: HostSampleFormat): Kind {
  return f === 'i16' ? Kind.I16 : f === 'i32' ? Kind.I32 : Kind.F32;
}

function pcmKind(f: SampleFormat): Kind {
  switch (f) {
    case 'S16_LE': return Kind.I16;
    case 'S32_LE': return Kind.I32;
    case 'FLOAT_LE': return Kind.F32;
    default: throw new EngineError('unsupported', `the engine does not stream PCM format ${f} (it uses S16_LE, S32_LE, FLOAT_LE)`);
  }
}

function makeArray(kind: Kind, buffer: ArrayBuffer, length: number): HostBuffer {
  switch (kind) {
    case Kind.I16: return new Int16Array(buffer, 0, length);
    case Kind.I32: return new Int32Array(buffer, 0, length);
    case Kind.F32: return new Float32Array(buffer, 0, length);
  }
}

function newArray(kind: Kind, length: number): HostBuffer {
  switch (kind) {
    case Kind.I16: return new Int16Array(length);
    case Kind.I32: return new Int32Array(length);
    case Kind.F32: return new Float32Array(length);
  }
}

/** Scale from one kind's units to another's (the multiplier applied to a sample). */
function scaleFor(from: Kind, to: Kind): number {
  const fullScale = (k: Kind) => (k === Kind.I16 ? 32768 : k === Kind.I32 ? 2147483648 : 1);
  return fullScale(to) / fullScale(from);
}

/**
 * One direction's buffers: the PCM bytes (what read/write move) and the host's buffers, with
 * the conversion between them.
 */
export class PeriodBuffers {
  /** Interleaved PCM bytes of one period. */
  readonly pcmBytes: Uint8Array;
  /** The PCM bytes as samples. */
  private readonly pcmSamples: HostBuffer;
  /** What the host sees: one interleaved buffer, or one per channel. */
  readonly host: readonly HostBuffer[];
  /** True when `host[0]` is `pcmSamples` itself (nothing to convert). */
  readonly zeroCopy: boolean;
  /**
   * Conversion parameters [scale, mode, min, max] of capture (0..3) then playback (4..7), in a
   * Float64Array: loads from it are always unboxed doubles. Read from object fields (or passed
   * as arguments) V8 may keep them tagged, and a clip `v = min` then forces the loop's sample
   * into a boxed number: one allocation per sample, measured.
   */
  private readonly params = new Float64Array(8);

  constructor(
    readonly pcmFormat: SampleFormat,
    readonly hostFormat: HostSampleFormat,
    readonly channels: number,
    readonly frames: number,
    readonly interleaved: boolean,
  ) {
    const pk = pcmKind(pcmFormat);
    const hk = hostKind(hostFormat);
    const samples = frames * channels;
    const bytesPerSample = pk === Kind.I16 ? 2 : 4;
    const buffer = new ArrayBuffer(samples * bytesPerSample);
    this.pcmBytes = new Uint8Array(buffer);
    this.pcmSamples = makeArray(pk, buffer, samples);
    this.zeroCopy = pk === hk && interleaved;
    if (this.zeroCopy) this.host = [this.pcmSamples];
    else if (interleaved) this.host = [newArray(hk, samples)];
    else this.host = Array.from({ length: channels }, () => newArray(hk, frames));
    const modeFor = (from: Kind, to: Kind) => (from === to || to === Kind.F32 ? 0 : from === Kind.F32 ? 1 : to === Kind.I16 ? 2 : 0);
    const minOf = (k: Kind) => (k === Kind.I16 ? -32768 : k === Kind.I32 ? -2147483648 : -Infinity);
    const maxOf = (k: Kind) => (k === Kind.I16 ? 32767 : k === Kind.I32 ? 2147483647 : Infinity);
    this.params.set([scaleFor(pk, hk), modeFor(pk, hk), minOf(hk), maxOf(hk), scaleFor(hk, pk), modeFor(hk, pk), minOf(pk), maxOf(pk)]);
  }

  /** Capture: PCM bytes → host buffers. */
  pcmToHost(): void {
    if (!this.zeroCopy) this.convert(true);
  }

  /** Playback: host buffers → PCM bytes. */
  hostToPcm(): void {
    if (!this.zeroCopy) this.convert(false);
  }

  /** Zeroes the host's buffers (an output nobody wrote stays silent). */
  clearHost(): void {
    for (let i = 0; i < this.host.length; i++) this.host[i]!.fill(0);
  }

  /** Zeroes the PCM bytes. */
  clearPcm(): void {
    this.pcmBytes.fill(0);
  }

  /**
   * The one conversion loop, both ways: the PCM samples are interleaved; the host's buffers
   * interleaved or planar. Mode 0 multiplies (float targets, or i16 → i32 which stays in range),
   * 1 rounds and clips (float → integer), 2 floors (i32 → i16).
   */
  private convert(toHost: boolean): void {
    const pcm = this.pcmSamples;
    const host = this.host;
    const ch = this.channels;
    const frames = this.frames;
    const planar = !this.interleaved;
    for (let c = 0; c < ch; c++) {
      const h = planar ? host[c]! : host[0]!;
      const hStep = planar ? 1 : ch;
      const hFirst = planar ? 0 : c;
      if (toHost) convertRun(pcm, c, ch, h, hFirst, hStep, frames, this.params, 0);
      else convertRun(h, hFirst, hStep, pcm, c, ch, frames, this.params, 4);
    }
  }
}

/**
 * Copies `frames` samples from src (every `srcStep`-th from `srcFirst`) to dst (likewise),
 * scaled by params[p]; mode params[p+1]: 1 rounds, 2 floors; then clips to [params[p+2], params[p+3]].
 */
function convertRun(
  src: HostBuffer, srcFirst: number, srcStep: number, dst: HostBuffer, dstFirst: number, dstStep: number,
  frames: number, params: Float64Array, p: number,
): void {
  const scale = params[p]!;
  const mode = params[p + 1]!;
  const min = params[p + 2]!;
  const max = params[p + 3]!;
  let si = srcFirst;
  let di = dstFirst;
  for (let f = 0; f < frames; f++) {
    let v = src[si]! * scale;
    if (mode === 1) v = Math.round(v);
    else if (mode === 2) v = Math.floor(v);
    if (v < min) v = min;
    else if (v > max) v = max;
    dst[di] = v;
    si += srcStep;
    di += dstStep;
  }
}
