/**
 * Piecewise bit-exact comparison, for a player that keeps time by dropping or inserting single
 * frames (snapclient's soft sync) or skipping ahead (its hard sync): between its corrections the
 * signal must still be identical, sample for sample. Pure functions, test code (allocates freely).
 *
 * The method: align the capture to the signal by correlation (bitexact.ts findAlignment), then walk
 * the signal frame by frame at the current lag. Where a frame differs, find the smallest skip of
 * `dRef` signal frames and `dCap` captured frames (each 0..maxShift) after which `confirmFrames`
 * frames are identical again, and go on at the new lag: dRef > dCap is a drop (the player left out
 * dRef - dCap frames), dCap > dRef an insertion, dRef = dCap a substitution (frames that arrived
 * changed: the one thing a resyncing player must never do). Where no small skip fits, the probe
 * correlation is run again from that frame (a hard-sync jump). `confirmFrames` identical
 * pseudo-random stereo frames cannot match by chance (8 frames: 256 bits).
 */
import { findAlignment, type PaddedSignal } from './bitexact.ts';

export interface ExactSegment {
  /** Signal-relative frame where the identical stretch starts. */
  start: number;
  frames: number;
  /** Capture frame index minus padded-reference frame index in this stretch. */
  lagFrames: number;
}

export interface Correction {
  /** Signal-relative frame of the first frame that differed. */
  at: number;
  /** Signal frames left out before the next identical stretch. */
  droppedFrames: number;
  /** Captured frames that are not in the signal before the next identical stretch. */
  insertedFrames: number;
  kind: 'drop' | 'insert' | 'substitution' | 'jump';
}

export interface PiecewiseVerdict {
  ok: boolean;
  /** Why not ok, in words (empty when ok). */
  reason: string;
  segments: ExactSegment[];
  corrections: Correction[];
  /** Signal frames inside identical stretches. */
  exactFrames: number;
  /** Signal frames changed in place (substitutions): must be 0. */
  substitutedFrames: number;
  /** Signal frames at the end that the capture does not reach. */
  missingTailFrames: number;
}

export interface PiecewiseOptions {
  /** Largest drop or insertion searched for locally (frames); beyond it the probe correlation runs again. */
  maxShift?: number;
  /** Identical frames needed to accept a new lag. */
  confirmFrames?: number;
  /** Corrections allowed in all (snapclient's soft sync: at most 500 ppm of the frames). */
  maxCorrections?: number;
}

function framesEqual(ref: Int16Array, r: number, cap: Int16Array, c: number, channels: number): boolean {
  for (let ch = 0; ch < channels; ch++) if (ref[r * channels + ch] !== cap[c * channels + ch]) return false;
  return true;
}

/** Probes tried when looking for where the signal goes on after a jump (64 × 512 frames: 0.68 s at 48 kHz). */
const MAX_JUMP_PROBES = 64;

function runEqual(ref: Int16Array, r: number, cap: Int16Array, c: number, n: number, channels: number): boolean {
  for (let i = 0; i < n; i++) if (!framesEqual(ref, r + i, cap, c + i, channels)) return false;
  return true;
}

/**
 * Compares the signal of `signal` with `captured` piecewise: identical stretches separated by
 * corrections. ok when no frame was substituted, the capture reaches the end of the signal, and
 * there are at most `maxCorrections` corrections.
 */
export function verifyPiecewiseExact(signal: PaddedSignal, captured: Int16Array, options: PiecewiseOptions = {}): PiecewiseVerdict {
  const maxShift = options.maxShift ?? 64;
  const confirm = options.confirmFrames ?? 8;
  const maxCorrections = options.maxCorrections ?? Infinity;
  const { samples: ref, channels, signalStart, signalFrames } = signal;
  const end = signalStart + signalFrames;
  const capFrames = Math.floor(captured.length / channels);
  const segments: ExactSegment[] = [];
  const corrections: Correction[] = [];
  let substitutedFrames = 0;
  let missingTailFrames = 0;
  const verdict = (reason: string): PiecewiseVerdict => {
    const exactFrames = segments.reduce((s, g) => s + g.frames, 0);
    if (!reason && substitutedFrames > 0) reason = `${substitutedFrames} signal frames arrived changed (first at signal frame ${corrections.find((c) => c.kind === 'substitution')!.at})`;
    if (!reason && missingTailFrames > 0) reason = `the capture ends ${missingTailFrames} frames before the signal does`;
    if (!reason && corrections.length > maxCorrections) reason = `${corrections.length} corrections > ${maxCorrections}`;
    return { ok: !reason, reason, segments, corrections, exactFrames, substitutedFrames, missingTailFrames };
  };

  const first = findAlignment(ref, captured, channels, signalStart, Math.min(512, signalFrames));
  if (!first || first.score < 0.99) return verdict('the start of the signal is not in the capture');
  let lag = first.lagFrames;
  let f = signalStart;
  while (f < end) {
    // Past the bound the verdict cannot change: stop (a capture of noise would otherwise be walked frame by frame).
    if (corrections.length > maxCorrections) break;
    // An identical stretch at this lag.
    const segStart = f;
    while (f < end && f + lag < capFrames && f + lag >= 0 && framesEqual(ref, f, captured, f + lag, channels)) f++;
    if (f > segStart) segments.push({ start: segStart - signalStart, frames: f - segStart, lagFrames: lag });
    if (f >= end) break;
    if (f + lag >= capFrames) {
      missingTailFrames = end - f;
      break;
    }
    // A difference at signal frame f: the smallest skip on either side after which frames agree again.
    let found: { dRef: number; dCap: number } | undefined;
    for (let total = 1; !found && total <= 2 * maxShift; total++) {
      for (let dRef = Math.max(0, total - maxShift); dRef <= Math.min(total, maxShift); dRef++) {
        const dCap = total - dRef;
        const r = f + dRef;
        const c = f + lag + dCap;
        const n = Math.min(confirm, end - r);
        if (n <= 0 || c < 0 || c + n > capFrames) continue;
        if (runEqual(ref, r, captured, c, n, channels)) {
          found = { dRef, dCap };
          break;
        }
      }
    }
    if (found) {
      const { dRef, dCap } = found;
      const common = Math.min(dRef, dCap);
      substitutedFrames += common;
      const kind = dRef > dCap ? 'drop' : dCap > dRef ? 'insert' : 'substitution';
      corrections.push({ at: f - signalStart, droppedFrames: dRef, insertedFrames: dCap, kind });
      lag += dCap - dRef;
      f += dRef;
      continue;
    }
    // Further away: correlate again (a jump of the player), with probes from f on, one probe length
    // apart until one sits whole in the capture; then back up to the first frame identical at that lag.
    let jumped: { at: number; lag: number } | undefined;
    // At most MAX_JUMP_PROBES probes (each a correlation over the whole capture): a capture that is
    // not the signal at all fails in bounded time instead of correlating every 512 frames to the end.
    for (let p = f, probes = 0; !jumped && p + confirm <= end && probes < MAX_JUMP_PROBES; p += 512, probes++) {
      const again = findAlignment(ref, captured, channels, p, Math.min(512, end - p));
      if (again && again.score >= 0.99 && again.lagFrames !== lag) jumped = { at: p, lag: again.lagFrames };
    }
    if (!jumped) return verdict(`signal frame ${f - signalStart} differs and no identical stretch follows, within ${maxShift} frames or by correlation (${MAX_JUMP_PROBES} probes, ${MAX_JUMP_PROBES * 512} frames on)`);
    let p = jumped.at;
    while (p > f && p - 1 + jumped.lag >= 0 && framesEqual(ref, p - 1, captured, p - 1 + jumped.lag, channels)) p--;
    corrections.push({ at: f - signalStart, droppedFrames: p - f, insertedFrames: Math.max(0, jumped.lag - lag + (p - f)), kind: 'jump' });
    lag = jumped.lag;
    f = p;
  }
  return verdict('');
}

/**
 * The check of a play during which the DAC's engine underran (a machine too busy to run it in
 * time): frames may be left out, with silence in their place, but every frame that plays is the
 * signal's, in order — no substitution, and nothing but silence between two stretches. Returns a
 * line for the log; throws (an assertion) otherwise. `underruns`: as many as the engine reported.
 */
export function assertExactBetweenUnderruns(signal: PaddedSignal, captured: Int16Array, underruns: number, what: string): string {
  const v = verifyPiecewiseExact(signal, captured, { maxCorrections: underruns * 4 });
  if (!v.ok) throw new Error(`${what}: ${v.reason}`);
  if (v.substitutedFrames !== 0) throw new Error(`${what}: ${v.substitutedFrames} frames arrived changed between the underruns' gaps`);
  const ch = signal.channels;
  for (let i = 1; i < v.segments.length; i++) {
    const a = v.segments[i - 1]!;
    const b = v.segments[i]!;
    for (let f = a.start + a.frames + signal.signalStart + a.lagFrames; f < b.start + signal.signalStart + b.lagFrames; f++) {
      for (let c = 0; c < ch; c++) if (captured[f * ch + c] !== 0) throw new Error(`${what}: captured frame ${f}, between two stretches, is not silence`);
    }
  }
  if (v.exactFrames <= signal.signalFrames / 2) throw new Error(`${what}: only ${v.exactFrames} of ${signal.signalFrames} signal frames played`);
  return `${what}: every attempt underran; the last (${underruns} underruns) has ${v.segments.length} bit-exact stretches, ${v.exactFrames} of ${signal.signalFrames} signal frames, silence between them`;
}
