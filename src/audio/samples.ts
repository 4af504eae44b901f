/** Sample formats as numbers: conversion, levels, test signals. */
import type { SampleFormat } from '../hal/pcm.ts';

export function dbToAmplitude(db: number): number {
  return 10 ** (db / 20);
}

export function amplitudeToDb(a: number): number {
  return a > 0 ? 20 * Math.log10(a) : -Infinity;
}

/** Full-scale value of a signed integer format (the positive limit + 1). */
export function fullScale(format: SampleFormat): number {
  switch (format) {
    case 'S16_LE': return 32768;
    case 'S24_LE': case 'S24_3LE': return 8388608;
    case 'S32_LE': return 2147483648;
    case 'FLOAT_LE': return 1;
  }
}

/** Writes sample `value` (−1..1, clipped) at byte offset `off`. */
export function writeSample(view: DataView, off: number, format: SampleFormat, value: number): void {
  const v = Math.max(-1, Math.min(1, value));
  switch (format) {
    case 'S16_LE': view.setInt16(off, Math.max(-32768, Math.min(32767, Math.round(v * 32768))), true); break;
    case 'S24_LE': view.setInt32(off, Math.max(-8388608, Math.min(8388607, Math.round(v * 8388608))), true); break;
    case 'S24_3LE': {
      const s = Math.max(-8388608, Math.min(8388607, Math.round(v * 8388608)));
      view.setUint8(off, s & 0xff); view.setUint8(off + 1, (s >> 8) & 0xff); view.setUint8(off + 2, (s >> 16) & 0xff);
      break;
    }
    case 'S32_LE': view.setInt32(off, Math.max(-2147483648, Math.min(2147483647, Math.round(v * 2147483648))), true); break;
    case 'FLOAT_LE': view.setFloat32(off, v, true); break;
  }
}

export function readSample(view: DataView, off: number, format: SampleFormat): number {
  switch (format) {
    case 'S16_LE': return view.getInt16(off, true) / 32768;
    case 'S24_LE': return ((view.getInt32(off, true) << 8) >> 8) / 8388608;
    case 'S24_3LE': return (((view.getUint8(off) | (view.getUint8(off + 1) << 8) | (view.getUint8(off + 2) << 16)) << 8) >> 8) / 8388608;
    case 'S32_LE': return view.getInt32(off, true) / 2147483648;
    case 'FLOAT_LE': return view.getFloat32(off, true);
  }
}

/** Peak absolute sample value (0..1) of interleaved bytes. */
export function peak(bytes: Uint8Array, format: SampleFormat, sampleBytes: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  for (let off = 0; off + sampleBytes <= bytes.length; off += sampleBytes) {
    const s = Math.abs(readSample(view, off, format));
    if (s > p) p = s;
  }
  return p;
}

/** A sine generator that keeps its phase across calls (no allocation per call). */
export class SineGenerator {
  private phase = 0;
  constructor(readonly freq: number, readonly rate: number, readonly amplitude: number) {}

  /** Fills `frames` interleaved frames (all channels the same) into `out`. */
  fill(out: Uint8Array, frames: number, channels: number, format: SampleFormat, sampleBytes: number): void {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const step = (2 * Math.PI * this.freq) / this.rate;
    for (let f = 0; f < frames; f++) {
      const v = this.amplitude * Math.sin(this.phase);
      this.phase += step;
      if (this.phase >= 2 * Math.PI) this.phase -= 2 * Math.PI;
      for (let c = 0; c < channels; c++) writeSample(view, (f * channels + c) * sampleBytes, format, v);
    }
  }
}
