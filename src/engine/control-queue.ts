/**
 * Timestamped control events from the stream service's main thread to the engine worker that
 * serves an output stream (src/engine/hosts/stream-bridge.ts): a lock-free single-producer,
 * single-consumer ring in one SharedArrayBuffer (issue 21).
 *
 *   Int32Array   header   [WRITE, READ, DROPPED, APPLIED_COUNT, SLOTS, …]  (CONTROL_WORD)
 *   Float64Array records  `slots` records of CONTROL_RECORD doubles:
 *                         [kind, whenKind, at, value, rampFrames, id, target]  (CONTROL_FIELD)
 *
 * WRITE and READ count records since creation and wrap as Int32 (the slot is `count & (slots − 1)`,
 * so `slots` is a power of two and the counts may wrap without a special case). The producer
 * writes a record, then publishes it with Atomics.store(WRITE); the consumer reads WRITE with
 * Atomics.load, copies the record out, then frees the slot with Atomics.store(READ). Each side is
 * the only writer of its index, so it reads its own index without an atomic. A full ring refuses
 * the newest record (the caller learns it: pushControl returns false) and counts it in DROPPED.
 * The consumer counts the records it applied in APPLIED_COUNT (tests and diagnostics).
 *
 * Why a ring and not the command block of stream-control.ts: commands go one at a time and wait
 * for their answer; control events are fire-and-forget, several may land in one period, and each
 * carries the frame at which it takes effect. Taking one costs the engine no allocation, lock or
 * call into the main thread.
 */
import { EngineError } from './errors.ts';

export const CONTROL_KIND = {
  /** Engine trim stage: ramp to `value` (linear gain ≥ 0) over rampFrames (0 = jump at the frame). */
  TRIM: 1,
  /** Fade stage (register handoff, mute/unmute): ramp to `value` (linear ≥ 0) over rampFrames. */
  FADE_RAMP: 2,
  /**
   * Fade stage: multiply its current value AND its target by `value` at that frame, instantly
   * (the engine's side of a register change by 1/value landing at that frame).
   */
  FADE_SCALE: 3,
  /** Start/stop fade length from now on (value = frames; 0 = no start/stop fade). */
  RAMP_FRAMES: 4,
  /**
   * A plugin's control input (src/dsp/chain.ts) to `value` (any finite number) at that frame;
   * target = stage × PLUGIN_TARGET_STRIDE + port index. No ramp: LADSPA has none.
   */
  PLUGIN_PORT: 5,
  /** A plugin stage's bypass: value 1 on, 0 off; target = the stage. */
  PLUGIN_BYPASS: 6,
  /**
   * A MIDI message for a DSSI stage's run_synth at that frame (issue 30): value = status << 16 |
   * data1 << 8 | data2 (a channel message, status 0x80..0xef); target = the stage.
   */
  PLUGIN_MIDI: 7,
  /** A DSSI stage's select_program at that frame: value = bank × 2^24 + program; target = the stage. */
  PLUGIN_PROGRAM: 8,
} as const;
/** The largest CONTROL_KIND (the engine reads a record of another kind as no event). */
export const CONTROL_KIND_MAX = 8;

/** target of a PLUGIN_PORT event: stage × this + port index (LADSPA port counts stay far below it). */
export const PLUGIN_TARGET_STRIDE = 65536;

/**
 * What `at` means. NOW: ignored, the event applies at the next period's first frame. FRAME: the
 * stream frame position (frames since start_time, the ring-buffer position's numbering: the DAC
 * plays frame n at start_time + n / rate). MONOTONIC_NS: a CLOCK_MONOTONIC time on the board's
 * clock, converted by the engine to round((at − start_time) / ns_per_frame).
 */
export const WHEN = { NOW: 0, FRAME: 1, MONOTONIC_NS: 2 } as const;

export const CONTROL_SLOTS_DEFAULT = 1024;

/** Indices of the Int32 header. */
export const CONTROL_WORD = {
  WRITE: 0,
  READ: 1,
  /** Records refused because the ring was full. */
  DROPPED: 2,
  /** Records the consumer applied (it increments this; nothing else reads it on the audio path). */
  APPLIED_COUNT: 3,
  /** The ring's capacity in records, written at creation. */
  SLOTS: 4,
  /** Header length in Int32 words: 32 bytes, so the Float64 records start 8-byte aligned. */
  SIZE: 8,
} as const;

/** Fields of a record (offsets in doubles). */
export const CONTROL_FIELD = { KIND: 0, WHEN: 1, AT: 2, VALUE: 3, RAMP_FRAMES: 4, ID: 5, TARGET: 6 } as const;
/** Doubles per record. */
export const CONTROL_RECORD = 7;

export interface ControlQueueViews {
  readonly sab: SharedArrayBuffer;
  readonly header: Int32Array;
  readonly records: Float64Array;
  readonly slots: number;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** A new, empty queue of `slots` records (a power of two, at most 2^20). */
export function createControlQueue(slots: number = CONTROL_SLOTS_DEFAULT): SharedArrayBuffer {
  if (!isPowerOfTwo(slots) || slots > 1 << 20) {
    throw new EngineError('invalid-argument', `control queue: slots is ${slots}; it must be a power of two from 1 to ${1 << 20}`);
  }
  const sab = new SharedArrayBuffer(CONTROL_WORD.SIZE * 4 + slots * CONTROL_RECORD * 8);
  new Int32Array(sab, 0, CONTROL_WORD.SIZE)[CONTROL_WORD.SLOTS] = slots;
  return sab;
}

/** The views of a queue made by createControlQueue (each thread makes its own, once). */
export function controlQueueViews(sab: SharedArrayBuffer): ControlQueueViews {
  const header = new Int32Array(sab, 0, CONTROL_WORD.SIZE);
  const slots = Atomics.load(header, CONTROL_WORD.SLOTS);
  const expected = CONTROL_WORD.SIZE * 4 + slots * CONTROL_RECORD * 8;
  if (!isPowerOfTwo(slots) || sab.byteLength !== expected) {
    throw new EngineError('invalid-argument', `control queue: header says ${slots} slots (${expected} bytes) but the buffer is ${sab.byteLength} bytes: not made by createControlQueue`);
  }
  const records = new Float64Array(sab, CONTROL_WORD.SIZE * 4, slots * CONTROL_RECORD);
  return { sab, header, records, slots };
}

const KINDS: readonly number[] = Object.values(CONTROL_KIND);
const WHENS: readonly number[] = Object.values(WHEN);

/**
 * Main side: appends an event. Returns false (and counts it in DROPPED) when the ring is full.
 * Arguments out of range throw, naming the field and its range: the engine never sees them.
 */
export function pushControl(v: ControlQueueViews, kind: number, whenKind: number, at: number, value: number, rampFrames: number, id: number, target = 0): boolean {
  if (!KINDS.includes(kind)) throw new EngineError('invalid-argument', `control event: kind ${kind} is not one of CONTROL_KIND (${KINDS.join(', ')})`);
  if (!WHENS.includes(whenKind)) throw new EngineError('invalid-argument', `control event: whenKind ${whenKind} is not one of WHEN (${WHENS.join(', ')})`);
  if (whenKind === WHEN.FRAME ? !Number.isSafeInteger(at) : !Number.isFinite(at)) {
    throw new EngineError('invalid-argument', `control event: at ${at} must be ${whenKind === WHEN.FRAME ? 'an integer frame position' : 'a finite number'}`);
  }
  if (kind === CONTROL_KIND.PLUGIN_PORT) {
    if (!Number.isFinite(value)) throw new EngineError('invalid-argument', `control event: value ${value} of a plugin port must be a finite number`);
  } else if (kind === CONTROL_KIND.PLUGIN_BYPASS) {
    if (value !== 0 && value !== 1) throw new EngineError('invalid-argument', `control event: value ${value} of a plugin bypass must be 0 or 1`);
  } else if (kind === CONTROL_KIND.PLUGIN_MIDI) {
    if (!(Number.isInteger(value) && value >= 0x800000 && value <= 0xef7f7f && (value & 0x8080) === 0)) throw new EngineError('invalid-argument', `control event: value ${value} of a MIDI message must be status (0x80..0xef) << 16 | data1 << 8 | data2 (data bytes 0..127)`);
  } else if (kind === CONTROL_KIND.PLUGIN_PROGRAM) {
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new EngineError('invalid-argument', `control event: value ${value} of a program must be bank × 2^24 + program (integers ≥ 0)`);
  } else if (kind === CONTROL_KIND.RAMP_FRAMES ? !(Number.isSafeInteger(value) && value >= 0) : !(Number.isFinite(value) && value >= 0)) {
    throw new EngineError('invalid-argument', `control event: value ${value} must be ${kind === CONTROL_KIND.RAMP_FRAMES ? 'an integer number of frames ≥ 0' : 'a finite linear gain ≥ 0'}`);
  }
  if (!(Number.isSafeInteger(target) && target >= 0)) throw new EngineError('invalid-argument', `control event: target ${target} must be an integer ≥ 0`);
  if (!(Number.isSafeInteger(rampFrames) && rampFrames >= 0)) throw new EngineError('invalid-argument', `control event: rampFrames ${rampFrames} must be an integer ≥ 0`);
  if (!Number.isFinite(id)) throw new EngineError('invalid-argument', `control event: id ${id} must be a finite number`);
  const h = v.header;
  const w = h[CONTROL_WORD.WRITE]!; // only this side writes WRITE
  if (((w - Atomics.load(h, CONTROL_WORD.READ)) | 0) >= v.slots) {
    Atomics.add(h, CONTROL_WORD.DROPPED, 1);
    return false;
  }
  const i = (w & (v.slots - 1)) * CONTROL_RECORD;
  const rec = v.records;
  rec[i + CONTROL_FIELD.KIND] = kind;
  rec[i + CONTROL_FIELD.WHEN] = whenKind;
  rec[i + CONTROL_FIELD.AT] = at;
  rec[i + CONTROL_FIELD.VALUE] = value;
  rec[i + CONTROL_FIELD.RAMP_FRAMES] = rampFrames;
  rec[i + CONTROL_FIELD.ID] = id;
  rec[i + CONTROL_FIELD.TARGET] = target;
  Atomics.store(h, CONTROL_WORD.WRITE, (w + 1) | 0);
  return true;
}

/**
 * Worker side, allocation-free: copies the oldest record into `into` (length ≥ CONTROL_RECORD, in
 * CONTROL_FIELD order) and frees its slot; false when the queue is empty (one Atomics.load).
 */
export function takeControl(v: ControlQueueViews, into: Float64Array): boolean {
  const h = v.header;
  const r = h[CONTROL_WORD.READ]!; // only this side writes READ
  if (Atomics.load(h, CONTROL_WORD.WRITE) === r) return false;
  const i = (r & (v.slots - 1)) * CONTROL_RECORD;
  const rec = v.records;
  into[0] = rec[i]!;
  into[1] = rec[i + 1]!;
  into[2] = rec[i + 2]!;
  into[3] = rec[i + 3]!;
  into[4] = rec[i + 4]!;
  into[5] = rec[i + 5]!;
  into[6] = rec[i + 6]!;
  Atomics.store(h, CONTROL_WORD.READ, (r + 1) | 0);
  return true;
}

/** Records waiting to be taken (either side; a snapshot). */
export function pendingControls(v: ControlQueueViews): number {
  return (Atomics.load(v.header, CONTROL_WORD.WRITE) - Atomics.load(v.header, CONTROL_WORD.READ)) | 0;
}
