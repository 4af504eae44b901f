/**
 * Bit-exact comparison of a played reference signal with what a peer captured: pure functions,
 * reused wherever the project proves an audio path lossless (ALSA loopback, engine pass-through,
 * stream service).
 *
 * The method: the reference is a pseudo-random signal between stretches of silence. Its alignment
 * in the capture (which starts at an unknown moment) is found by cross-correlation of a probe of
 * the reference against the capture; then, at that lag, every frame of the signal is compared
 * sample for sample and the longest run of identical frames is measured. A pseudo-random signal
 * makes the correlation peak unique and leaves no room for a coincidental match.
 *
 * Samples are interleaved signed 16-bit (S16_LE), the format of the loopback checks.
 */

/** A reproducible pseudo-random S16 signal (xorshift32), interleaved, full scale, no zero runs. */
export function pseudoRandomS16(frames: number, channels: number, seed = 0x2545f491): Int16Array {
  const out = new Int16Array(frames * channels);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const v = (x & 0xffff) - 0x8000;
    out[i] = v === 0 ? 1 : v; // a zero could pass for silence
  }
  return out;
}

export interface PaddedSignal {
  /** Silence, signal, silence: what is played. */
  samples: Int16Array;
  channels: number;
  /** Frame where the signal starts in `samples`. */
  signalStart: number;
  signalFrames: number;
}

/** The signal of `signalFrames` frames with `padFrames` of silence before and `tailFrames` (default: as many) after. */
export function paddedTestSignal(signalFrames: number, padFrames: number, channels: number, seed?: number, tailFrames = padFrames): PaddedSignal {
  const samples = new Int16Array((padFrames + tailFrames + signalFrames) * channels);
  samples.set(pseudoRandomS16(signalFrames, channels, seed), padFrames * channels);
  return { samples, channels, signalStart: padFrames, signalFrames };
}

/** Little-endian bytes of S16 samples (a copy), for writing to a device or a file. */
export function s16ToBytes(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) dv.setInt16(i * 2, samples[i]!, true);
  return out;
}

/** S16_LE bytes as samples (a copy; an odd trailing byte is ignored). */
export function bytesToS16(bytes: Uint8Array): Int16Array {
  const n = bytes.length >> 1;
  const out = new Int16Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
  return out;
}

export interface Alignment {
  /** Capture frame index minus reference frame index at the best match. */
  lagFrames: number;
  /** Correlation at the best lag, normalised to 1 for an identical probe. */
  score: number;
  /** The best score at any lag more than one frame away from `lagFrames`, same normalisation. */
  runnerUp: number;
}

/**
 * Finds where the reference's probe (channel 0 of `probeFrames` frames from `probeStart`; 512 frames of a
 * pseudo-random signal give a peak about 22 times the largest chance correlation) sits
 * in the capture, by cross-correlation over every lag that keeps the probe inside the capture.
 * Returns undefined when the capture is shorter than the probe.
 */
export function findAlignment(
  reference: Int16Array,
  captured: Int16Array,
  channels: number,
  probeStart: number,
  probeFrames = 512,
): Alignment | undefined {
  const capFrames = Math.floor(captured.length / channels);
  const refFrames = Math.floor(reference.length / channels);
  const n = Math.min(probeFrames, refFrames - probeStart);
  if (n <= 0 || capFrames < n) return undefined;
  const probe = new Float64Array(n);
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const v = reference[(probeStart + i) * channels]!;
    probe[i] = v;
    energy += v * v;
  }
  if (energy === 0) return undefined;
  const cap = new Float64Array(capFrames);
  for (let i = 0; i < capFrames; i++) cap[i] = captured[i * channels]!;
  let best = -Infinity;
  let bestAt = 0;
  const scores = new Float64Array(capFrames - n + 1);
  for (let at = 0; at <= capFrames - n; at++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += probe[i]! * cap[at + i]!;
    scores[at] = s;
    if (s > best) {
      best = s;
      bestAt = at;
    }
  }
  let runnerUp = -Infinity;
  for (let at = 0; at < scores.length; at++) if (Math.abs(at - bestAt) > 1 && scores[at]! > runnerUp) runnerUp = scores[at]!;
  return { lagFrames: bestAt - probeStart, score: best / energy, runnerUp: scores.length > 1 ? runnerUp / energy : 0 };
}

export interface ExactRun {
  /** Reference frame where the longest run of identical frames starts. */
  start: number;
  /** Frames in that run. */
  length: number;
  /** Frames of the region that differ (or are missing from the capture). */
  mismatches: number;
  /** Reference frame of the first differing frame, or -1. */
  firstMismatch: number;
}

/**
 * Compares the region [from, from+frames) of the reference with the capture shifted by
 * `lagFrames`, frame by frame (all channels): the longest identical run and the differences.
 */
export function longestExactRun(reference: Int16Array, captured: Int16Array, channels: number, lagFrames: number, from: number, frames: number): ExactRun {
  let bestStart = from;
  let bestLen = 0;
  let runStart = from;
  let runLen = 0;
  let mismatches = 0;
  let firstMismatch = -1;
  const capFrames = Math.floor(captured.length / channels);
  for (let f = from; f < from + frames; f++) {
    const c = f + lagFrames;
    let same = c >= 0 && c < capFrames;
    for (let ch = 0; same && ch < channels; ch++) same = reference[f * channels + ch] === captured[c * channels + ch];
    if (same) {
      if (runLen === 0) runStart = f;
      runLen++;
      if (runLen > bestLen) {
        bestLen = runLen;
        bestStart = runStart;
      }
    } else {
      runLen = 0;
      mismatches++;
      if (firstMismatch < 0) firstMismatch = f;
    }
  }
  return { start: bestStart, length: bestLen, mismatches, firstMismatch };
}

export interface BitExactVerdict extends ExactRun {
  ok: boolean;
  alignment: Alignment | undefined;
  /** Why not ok, in words (empty when ok). */
  reason: string;
}

/**
 * The whole check: align the capture to the signal by correlation, then require at least
 * `minExactFrames` consecutive frames of the signal to be identical.
 */
export function verifyBitExact(signal: PaddedSignal, captured: Int16Array, minExactFrames: number): BitExactVerdict {
  const { samples, channels, signalStart, signalFrames } = signal;
  const alignment = findAlignment(samples, captured, channels, signalStart, Math.min(512, signalFrames));
  if (!alignment) {
    return { ok: false, alignment, reason: 'capture shorter than the probe, or silent reference', start: 0, length: 0, mismatches: signalFrames, firstMismatch: signalStart };
  }
  const run = longestExactRun(samples, captured, channels, alignment.lagFrames, signalStart, signalFrames);
  const ok = run.length >= minExactFrames;
  const reason = ok ? '' : `longest bit-exact run ${run.length} frames < ${minExactFrames} (lag ${alignment.lagFrames}, ${run.mismatches} differing frames, first at signal frame ${run.firstMismatch - signalStart})`;
  return { ok, alignment, reason, ...run };
}

/** A copy of `samples` with the lowest bit of one sample flipped: the control run's corruption. */
export function withFlippedSample(samples: Int16Array, index: number): Int16Array {
  const out = samples.slice();
  out[index] = out[index]! ^ 1;
  return out;
}

/**
 * What is left of a capture once a played signal is taken out of it at `lagFrames` (capture frame
 * minus padded-signal frame, as verifyBitExact's alignment gives it): where two players were
 * summed, the other player's signal. A copy; samples outside the signal are kept as they are.
 */
export function withoutSignal(captured: Int16Array, signal: PaddedSignal, lagFrames: number): Int16Array {
  const ch = signal.channels;
  return Int16Array.from(captured, (x, i) => {
    const k = i - lagFrames * ch;
    return k >= 0 && k < signal.samples.length ? x - signal.samples[k]! : x;
  });
}
