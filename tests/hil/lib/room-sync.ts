/**
 * Measuring rooms in sync (issue 28, docs/multi-room.md): a train of distinct pulses is played to
 * every room; each room captures what its DAC put out with system-clock timestamps; per pulse, the
 * time it reached the ear is the time the DAC put its first frame out plus the board's stated
 * external delay; the offset between two rooms is the median over the pulses.
 *
 * Pure functions (no I/O): the guests' test (tests/hil/rooms/rooms.hil.ts) and the host's unit test
 * (tests/unit/room-sync.test.ts, with synthetic captures whose answer is known) share them.
 *
 * Finding a pulse: Snapcast corrects its clients by dropping or repeating single frames and plays
 * the samples otherwise unchanged (at 100 % volume and 0 dB), so a pulse is found where its first
 * `matchFrames` frames appear exactly. A frame dropped or repeated inside those frames loses that
 * pulse (counted, not guessed).
 *
 * Timestamps: snd-aloop moves audio on the kernel's jiffy timer (HZ 250 in Debian's kernel: 4 ms
 * steps), so a status read (frames captured so far, CLOCK_REALTIME of the read) lags the moment
 * those frames came out by 0..4 ms. Over many reads at varied phases the smallest lag comes close
 * to the step itself: a frame's time is the lower envelope of (read time − frames after it / rate)
 * over the reads near it. The same estimate in every room, so what bias is left cancels in the
 * difference.
 */

export interface PulseTrain {
  rate: number;
  channels: 2;
  /** The whole signal, S16 interleaved: silence, then the pulses `spacingFrames` apart, then silence. */
  samples: Int16Array;
  /** Frame index in `samples` where each pulse starts. */
  starts: number[];
  pulseFrames: number;
}

/** xorshift32: a repeatable noise source (the same in every room and on the host). */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

/**
 * `count` pulses of `pulseFrames` frames of pseudo-random noise (peak ±8192: −12 dBFS, no clipping
 * anywhere on the way), one every `spacingFrames`, after `leadFrames` of silence and before
 * `tailFrames` more. Each pulse is different, so a pulse found is that pulse.
 */
export function pulseTrain(o: { rate: number; count: number; spacingFrames: number; pulseFrames: number; leadFrames: number; tailFrames: number; seed: number }): PulseTrain {
  if (o.pulseFrames >= o.spacingFrames) throw new RangeError('pulseTrain: a pulse must be shorter than the spacing');
  const frames = o.leadFrames + o.count * o.spacingFrames + o.tailFrames;
  const samples = new Int16Array(frames * 2);
  const next = xorshift(o.seed);
  const starts: number[] = [];
  for (let p = 0; p < o.count; p++) {
    const start = o.leadFrames + p * o.spacingFrames;
    starts.push(start);
    for (let i = start * 2; i < (start + o.pulseFrames) * 2; i++) {
      let v = (next() & 0x3fff) - 0x2000;
      if (v === 0) v = 1; // no zero sample: silence never matches a pulse
      samples[i] = v;
    }
  }
  return { rate: o.rate, channels: 2, samples, starts, pulseFrames: o.pulseFrames };
}

/**
 * The capture frame index where each pulse's first `matchFrames` frames appear exactly, or
 * undefined where they do not (once, at most: a pulse seen twice is reported as not found).
 */
export function findPulses(train: PulseTrain, captured: Int16Array, matchFrames = 32): (number | undefined)[] {
  // Index the capture by its first frame's two samples.
  const index = new Map<number, number[]>();
  const frames = captured.length / 2;
  for (let f = 0; f < frames; f++) {
    const l = captured[f * 2]!, r = captured[f * 2 + 1]!;
    if (l === 0 && r === 0) continue;
    const key = ((l & 0xffff) << 16) | (r & 0xffff);
    let list = index.get(key);
    if (!list) index.set(key, (list = []));
    list.push(f);
  }
  return train.starts.map((start) => {
    const s = train.samples;
    const key = ((s[start * 2]! & 0xffff) << 16) | (s[start * 2 + 1]! & 0xffff);
    const hits = (index.get(key) ?? []).filter((f) => {
      if (f + matchFrames > frames) return false;
      for (let i = 0; i < matchFrames * 2; i++) if (captured[f * 2 + i] !== s[start * 2 + i]) return false;
      return true;
    });
    return hits.length === 1 ? hits[0] : undefined;
  });
}

/** A status read during a capture: `frames` captured so far (read + available), at `realtimeNs`. */
export interface CaptureStamp {
  frames: number;
  realtimeNs: number;
}

/**
 * The CLOCK_REALTIME ns at which capture frame `frame` came out of the DAC: the lower envelope of
 * (stamp time − (stamp frames − frame) / rate) over the stamps within `windowS` seconds of it.
 * Undefined when no stamp is near.
 */
export function frameTimeNs(stamps: readonly CaptureStamp[], rate: number, frame: number, windowS = 1): number | undefined {
  let best: number | undefined;
  const window = windowS * rate;
  for (const st of stamps) {
    if (Math.abs(st.frames - frame) > window || st.frames < frame) continue;
    const t = st.realtimeNs - ((st.frames - frame) * 1e9) / rate;
    if (best === undefined || t < best) best = t;
  }
  return best;
}

export interface RoomCapture {
  /** The room's name (for messages). */
  room: string;
  samples: Int16Array;
  stamps: CaptureStamp[];
  rate: number;
  /** The board's stated delay after the DAC (its analog path), ns: added to reach the ear. */
  afterDacNs: number;
}

export interface RoomOffset {
  /** Per pulse, ear time in room a − ear time in room b, ms; undefined where a room missed the pulse. */
  perPulseMs: (number | undefined)[];
  /** The median over the pulses both rooms have, ms. */
  medianMs: number;
  /** Pulses both rooms have. */
  pulses: number;
  /** Pulses one room or both missed (a dropped or repeated frame inside the match, or outside the capture). */
  missed: number;
  /** Spread of the per-pulse offsets (max − min), ms: how steady the two rooms were. */
  spreadMs: number;
}

/** Ear time of each pulse in one room, CLOCK_REALTIME ns (undefined where the pulse was not found). */
export function earTimesNs(train: PulseTrain, room: RoomCapture, matchFrames = 32): (number | undefined)[] {
  return findPulses(train, room.samples, matchFrames).map((f) => {
    if (f === undefined) return undefined;
    const t = frameTimeNs(room.stamps, room.rate, f);
    return t === undefined ? undefined : t + room.afterDacNs;
  });
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Room a's ear times less room b's, per pulse and as a median (ms). */
export function roomOffset(train: PulseTrain, a: RoomCapture, b: RoomCapture, matchFrames = 32): RoomOffset {
  return offsetOf(earTimesNs(train, a, matchFrames), earTimesNs(train, b, matchFrames));
}

/** The offset from two rooms' ear times per pulse (undefined or null: the pulse was not found there). */
export function offsetOf(ta: readonly (number | undefined | null)[], tb: readonly (number | undefined | null)[]): RoomOffset {
  const perPulseMs = ta.map((x, i) => (x == null || tb[i] == null ? undefined : (x - tb[i]!) / 1e6));
  const both = perPulseMs.filter((x): x is number => x !== undefined);
  return {
    perPulseMs, medianMs: median(both), pulses: both.length, missed: perPulseMs.length - both.length,
    spreadMs: both.length ? Math.max(...both) - Math.min(...both) : Number.NaN,
  };
}
