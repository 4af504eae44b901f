/** Level measures on interleaved S16 recordings (the analog monitor's), shared by the tests that listen there. */

export const dB = (x: number) => 20 * Math.log10(x);

/** Peak |x| of channel 0 over [from, to) frames of interleaved S16 (as a fraction of full scale). */
export function peak(s: Int16Array, ch: number, from: number, to: number): number {
  let p = 0;
  for (let f = Math.max(0, from); f < Math.min(to, s.length / ch); f++) p = Math.max(p, Math.abs(s[f * ch]!) / 32768);
  return p;
}

/** A window of the recording where the tone plays steadily: after the first and before the last loud frame. */
export function loudSpan(s: Int16Array, ch: number, threshold: number): [number, number] | undefined {
  let first = -1, last = -1;
  for (let f = 0; f < s.length / ch; f++) {
    if (Math.abs(s[f * ch]!) / 32768 > threshold) {
      if (first < 0) first = f;
      last = f;
    }
  }
  return first < 0 ? undefined : [first, last];
}
