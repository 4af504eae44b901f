/**
 * Listening for clicks on an analog record (interleaved Float32, fractions of full scale: what
 * `rt.analog.render` gives). Two detectors, each blind to what the other misses:
 *
 * - `stepExcess`: how far a sample-to-sample step goes beyond the steepest step the signal's own
 *   tone could make there. A sine of amplitude A at f Hz sampled at r Hz moves at most
 *   A·2·sin(π·f/r) between two samples; a fade of that sine (its amplitude changing slowly) stays
 *   within that bound, taken with the largest amplitude within ± one tone period. A pop, a hard
 *   start or a hard stop does not. Limitation: a step that lands where the tone itself is steepest
 *   in the other direction can hide up to that slope; the burst detector does not have that blind spot.
 * - `burstDb`: the energy above a cutoff (default 4 kHz) in a Hann-windowed 20 ms window, relative
 *   to the energy a full-scale sine has in the same window. A click is broadband; a 1 kHz tone,
 *   faded over tens of milliseconds, keeps its energy within a few hundred Hz of 1 kHz.
 *
 * The bounds the tests hold them to: step excess ≤ −60 dBFS, burst ≤ −60 dB — this project's
 * bounds, not a standard's (docs/CONTROL.md, "Pop-free start and stop: how it is measured, and
 * the two bounds").
 */

/** Our bound on a step beyond the tone's own slope (dBFS). */
export const STEP_BOUND_DBFS = -60;
/** Our bound on the broadband energy in a 20 ms window (dB relative to a full-scale sine in that window). */
export const BURST_BOUND_DB = -60;

const dbfs = (x: number) => (x > 0 ? 20 * Math.log10(x) : -Infinity);

function checkRecord(x: Float32Array, channels: number, rate: number): number {
  if (!(Number.isInteger(channels) && channels >= 1)) throw new RangeError(`clicks: channels must be an integer ≥ 1, got ${channels}`);
  if (!(rate > 0)) throw new RangeError(`clicks: rate must be > 0 Hz, got ${rate}`);
  if (x.length % channels !== 0) throw new RangeError(`clicks: the record's ${x.length} samples are not whole frames of ${channels} channels`);
  return x.length / channels;
}

/**
 * The worst step of the record beyond what a tone of `toneHz` at the local level can make:
 * for each frame n ≥ 1 and channel, |x[n] − x[n−1]| − A(n)·2·sin(π·toneHz/rate), A(n) the
 * largest |x| on that channel within ± one tone period of n. `worstDbfs` is 20·log10 of the
 * largest excess (−Infinity when no step exceeds its allowance), at frame `atFrame` (−1 then).
 */
export function stepExcess(x: Float32Array, channels: number, rate: number, toneHz: number): { worstDbfs: number; atFrame: number; channel: number } {
  const frames = checkRecord(x, channels, rate);
  if (!(toneHz > 0 && toneHz < rate / 2)) throw new RangeError(`stepExcess: toneHz must be in (0, ${rate / 2}) Hz (below Nyquist), got ${toneHz}`);
  const period = Math.ceil(rate / toneHz);
  const slope = 2 * Math.sin((Math.PI * toneHz) / rate);
  let worst = 0, atFrame = -1, atChannel = -1;
  const env = new Float64Array(frames);
  for (let ch = 0; ch < channels; ch++) {
    // A(n): sliding maximum of |x| over [n − period, n + period] (a monotonic deque of frame indices).
    const dq = new Int32Array(frames);
    let head = 0, tail = 0, next = 0;
    for (let n = 0; n < frames; n++) {
      const hi = Math.min(frames - 1, n + period);
      for (; next <= hi; next++) {
        const v = Math.abs(x[next * channels + ch]!);
        while (tail > head && Math.abs(x[dq[tail - 1]! * channels + ch]!) <= v) tail--;
        dq[tail++] = next;
      }
      while (dq[head]! < n - period) head++;
      env[n] = Math.abs(x[dq[head]! * channels + ch]!);
    }
    for (let n = 1; n < frames; n++) {
      const d = Math.abs(x[n * channels + ch]! - x[(n - 1) * channels + ch]!);
      const excess = d - env[n]! * slope;
      if (excess > worst) {
        worst = excess;
        atFrame = n;
        atChannel = ch;
      }
    }
  }
  return { worstDbfs: dbfs(worst), atFrame, channel: atChannel };
}

/** Cosine and sine tables of one DFT length (cached: the scans use one length). */
const tables = new Map<number, { cos: Float64Array; sin: Float64Array; hann: Float64Array; refEnergy: number }>();
function tablesFor(n: number) {
  let t = tables.get(n);
  if (!t) {
    const cos = new Float64Array(n), sin = new Float64Array(n), hann = new Float64Array(n);
    let w2 = 0;
    for (let i = 0; i < n; i++) {
      cos[i] = Math.cos((2 * Math.PI * i) / n);
      sin[i] = Math.sin((2 * Math.PI * i) / n);
      hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n); // periodic Hann
      w2 += hann[i]! * hann[i]!;
    }
    // A full-scale sine through the same window: Σ (w[i]·sin)² = Σ w[i]² / 2 (on average over phase).
    t = { cos, sin, hann, refEnergy: w2 / 2 };
    tables.set(n, t);
  }
  return t;
}

/**
 * Broadband energy of one window: the Hann-windowed DFT of `windowFrames` frames from
 * `fromFrame` (per channel), the energy of the bins above `cutoffHz` (as time-domain energy,
 * Parseval), relative to a full-scale sine's energy in the same window, dB. The worst channel.
 * −Infinity for a window with nothing above the cutoff. Frames outside the record count as zero.
 */
export function burstDb(x: Float32Array, channels: number, rate: number, fromFrame: number, windowFrames = Math.round(rate * 0.02), cutoffHz = 4000): number {
  const frames = checkRecord(x, channels, rate);
  const n = windowFrames;
  if (!(Number.isInteger(n) && n >= 16)) throw new RangeError(`burstDb: windowFrames must be an integer ≥ 16, got ${windowFrames}`);
  if (!(cutoffHz > 0 && cutoffHz < rate / 2)) throw new RangeError(`burstDb: cutoffHz must be in (0, ${rate / 2}) Hz, got ${cutoffHz}`);
  const { cos, sin, hann, refEnergy } = tablesFor(n);
  const kFirst = Math.floor((cutoffHz * n) / rate) + 1; // the first bin above the cutoff
  const kNyq = n / 2;
  const y = new Float64Array(n);
  let worst = 0;
  for (let ch = 0; ch < channels; ch++) {
    let any = false;
    for (let i = 0; i < n; i++) {
      const f = fromFrame + i;
      const v = f >= 0 && f < frames ? x[f * channels + ch]! : 0;
      y[i] = v * hann[i]!;
      if (v !== 0) any = true;
    }
    if (!any) continue;
    let e = 0;
    for (let k = kFirst; k <= Math.floor(kNyq); k++) {
      let re = 0, im = 0, idx = 0;
      for (let i = 0; i < n; i++) {
        re += y[i]! * cos[idx]!;
        im -= y[i]! * sin[idx]!;
        idx += k;
        if (idx >= n) idx -= n;
      }
      // One-sided: each bin below Nyquist stands for itself and its mirror.
      e += (k === kNyq ? 1 : 2) * (re * re + im * im);
    }
    e /= n; // Parseval: Σ|y|² = (1/N) Σ|Y|²
    if (e > worst) worst = e;
  }
  return worst > 0 ? 10 * Math.log10(worst / refEnergy) : -Infinity;
}

/**
 * `burstDb` over the windows that cover [fromFrame, toFrame) (default the whole record), every
 * `hopFrames` (default 10 ms: with 20 ms windows every instant lies in the middle half of some
 * window, where the Hann weight is ≥ 0.5), each inside the record. The worst window and where it starts.
 */
export function worstBurst(
  x: Float32Array, channels: number, rate: number,
  o: { fromFrame?: number; toFrame?: number; windowFrames?: number; hopFrames?: number; cutoffHz?: number } = {},
): { worstDb: number; atFrame: number } {
  const frames = checkRecord(x, channels, rate);
  const win = o.windowFrames ?? Math.round(rate * 0.02);
  const hop = o.hopFrames ?? Math.round(rate * 0.01);
  if (!(Number.isInteger(hop) && hop >= 1)) throw new RangeError(`worstBurst: hopFrames must be an integer ≥ 1, got ${o.hopFrames}`);
  const from = o.fromFrame ?? 0, to = o.toFrame ?? frames;
  if (frames < win) throw new RangeError(`worstBurst: the record (${frames} frames) is shorter than one window (${win} frames)`);
  let worstDb = -Infinity, atFrame = -1;
  // Windows lie inside the record (zeros beyond its ends would be a step of their own). The first
  // starts half a window early, so the span's first frames are mid-window too; the last ends at
  // the span's end (or the record's).
  const first = Math.max(0, from - Math.floor(win / 2));
  const last = Math.min(frames - win, Math.max(first, to - Math.ceil(win / 2)));
  for (let f = first; ; f = Math.min(f + hop, last)) {
    const b = burstDb(x, channels, rate, f, win, o.cutoffHz ?? 4000);
    if (b > worstDb) {
      worstDb = b;
      atFrame = f;
    }
    if (f >= last) break;
  }
  return { worstDb, atFrame };
}
