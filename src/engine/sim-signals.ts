/**
 * Signals for the simulated capture device of a sim board in the engine's worker: silence, a
 * sine, or given samples (a test signal). Each is an in-place source (it writes into the
 * device's ring), so a simulated capture stream allocates nothing per period.
 */
import type { PcmConfig } from '../hal/pcm.ts';
import type { SimCaptureSourceInPlace } from '../hal/sim/pcm.ts';
import { RingCopier } from '../util/ring-copy.ts';

export type SimCaptureSpec =
  | { kind: 'silence' }
  /** A sine on every channel, `amplitude` 0..1 of full scale. */
  | { kind: 'sine'; freq: number; amplitude: number }
  /**
   * Interleaved PCM bytes in the capture stream's format (or S16 samples, for an S16 stream),
   * frame 0 at the first frame the device produces; silence after the end unless `loop`.
   */
  | { kind: 'samples'; data: Uint8Array | Int16Array; loop?: boolean };

export function simCaptureSource(spec: SimCaptureSpec): SimCaptureSourceInPlace | undefined {
  switch (spec.kind) {
    case 'silence':
      return undefined;
    case 'samples': {
      const bytes = spec.data instanceof Uint8Array ? spec.data : new Uint8Array(spec.data.buffer, spec.data.byteOffset, spec.data.byteLength);
      const loop = spec.loop === true;
      // Looping, the signal is a ring the device reads round and round.
      const copier = new RingCopier();
      return (ring, byteOffset, firstFrame, frames, config) => {
        const fb = config.frameBytes;
        const total = bytes.length;
        const src = firstFrame * fb;
        const want = frames * fb;
        if (loop && total > 0) {
          copier.fromRing(bytes, src, ring, byteOffset, want);
          return;
        }
        const n = Math.max(0, Math.min(want, total - src));
        copier.fromRing(bytes, src, ring, byteOffset, n); // never past the end: a plain copy
        if (n < want) ring.fill(0, byteOffset + n, byteOffset + want);
      };
    }
    case 'sine':
      return sineSource(spec.freq, spec.amplitude);
  }
}

function sineSource(freq: number, amplitude: number): SimCaptureSourceInPlace {
  let view: DataView | undefined;
  let viewOf: Uint8Array | undefined;
  return (ring: Uint8Array, byteOffset: number, firstFrame: number, frames: number, config: PcmConfig) => {
    if (viewOf !== ring) {
      view = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
      viewOf = ring;
    }
    const v = view!;
    const step = (2 * Math.PI * freq) / config.rate;
    const ch = config.channels;
    const fb = config.frameBytes;
    const sb = fb / ch;
    for (let f = 0; f < frames; f++) {
      // Phase from the absolute frame index, wrapped per cycle so it stays exact over long runs.
      const x = amplitude * Math.sin(step * ((firstFrame + f) % Math.max(1, Math.round(config.rate))));
      for (let c = 0; c < ch; c++) {
        const off = byteOffset + f * fb + c * sb;
        switch (config.format) {
          case 'S16_LE': v.setInt16(off, Math.max(-32768, Math.min(32767, Math.round(x * 32768))), true); break;
          case 'S32_LE': v.setInt32(off, Math.max(-2147483648, Math.min(2147483647, Math.round(x * 2147483648))), true); break;
          case 'FLOAT_LE': v.setFloat32(off, x, true); break;
          default: break;
        }
      }
    }
  };
}
