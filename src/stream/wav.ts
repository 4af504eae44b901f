/** Minimal RIFF/WAVE (PCM 16-bit little-endian) reading and writing for the play and record commands. */

export interface Wav {
  rate: number;
  channels: number;
  /** Interleaved S16 samples. */
  samples: Int16Array;
}

export function parseWav(buf: Uint8Array): Wav {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number) => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (buf.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  for (let o = 12; o + 8 <= buf.length;) {
    const id = tag(o);
    const size = dv.getUint32(o + 4, true);
    const body = o + 8;
    if (id === 'fmt ') {
      fmt = { format: dv.getUint16(body, true), channels: dv.getUint16(body + 2, true), rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAVE data before its fmt chunk');
      if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16) throw new Error(`only 16-bit PCM WAVE files are played (this one: format ${fmt.format}, ${fmt.bits} bits)`);
      const n = Math.min(size, buf.length - body) >> 1;
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = dv.getInt16(body + i * 2, true);
      return { rate: fmt.rate, channels: fmt.channels, samples };
    }
    o = body + size + (size & 1);
  }
  throw new Error('WAVE file without a data chunk');
}

export function encodeWav(w: Wav): Uint8Array {
  const data = w.samples.length * 2;
  const out = new Uint8Array(44 + data);
  const dv = new DataView(out.buffer);
  const put = (o: number, s: string) => { for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); dv.setUint32(4, 36 + data, true); put(8, 'WAVE');
  put(12, 'fmt '); dv.setUint32(16, 16, true); dv.setUint16(20, 1, true); dv.setUint16(22, w.channels, true);
  dv.setUint32(24, w.rate, true); dv.setUint32(28, w.rate * w.channels * 2, true); dv.setUint16(32, w.channels * 2, true); dv.setUint16(34, 16, true);
  put(36, 'data'); dv.setUint32(40, data, true);
  for (let i = 0; i < w.samples.length; i++) dv.setInt16(44 + i * 2, w.samples[i]!, true);
  return out;
}
