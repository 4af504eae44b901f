/**
 * The control block between the stream service's main thread and the engine worker that serves
 * one ring-buffer channel (src/engine/hosts/stream-bridge.ts). One SharedArrayBuffer, five views:
 *
 *   Int32Array  words   commands (main → worker), acknowledgements, the event ring's indices
 *   Float64Array times  start time, command arguments that are doubles
 *   Uint8Array  path    the shared buffer's shm name (GET_BUFFER), UTF-8
 *   Float64Array events the event ring (worker → main): EVENT_SLOTS records of 4 doubles
 *   Float64Array meters the stream's level meters (worker → main; src/engine/meters.ts), whose
 *                       sequence word is words[WORD.METER_SEQ]
 *   Int32Array  lateness the period-lateness histogram (worker → main): periods counted per bin
 *                       of LATENESS_EDGES since the engine started, each bin added to atomically
 *
 * The meters live here rather than in a SharedArrayBuffer of their own because this block already
 * goes to the worker with the engine's options and lives exactly as long as the stream's engine:
 * no new option, no second buffer to hand over or keep.
 *
 * Commands: the main thread writes the arguments, then the command code, then increments
 * CMD_SEQ (Atomics.store, so the arguments are visible before the sequence number). The worker
 * looks at CMD_SEQ once per period (one Atomics.load: no allocation when nothing changed), applies
 * the command at that period boundary, and answers with an event carrying the sequence number.
 * The main thread sends one command at a time and waits for its answer.
 *
 * Events: single producer (the worker), single consumer (the main thread). The worker writes a
 * record, then increments EVT_WRITE and calls Atomics.notify on it; the main thread waits with
 * Atomics.waitAsync (or, on a linked virtual clock, reads the ring right after each period) and
 * increments EVT_READ. A full ring drops the newest event and counts it (EVT_DROPPED): the main
 * thread is far faster than the audio period, so this only happens if it is stuck.
 */
import { METER, type MeterViews } from './meters.ts';

export const WORD = {
  CMD_SEQ: 0,
  CMD: 1,
  /** GET_BUFFER: ring frames, notifications per ring, bytes of the shm name in `path`. */
  ARG_FRAMES: 2,
  ARG_NOTIFY: 3,
  ARG_PATH_LEN: 4,
  EVT_WRITE: 5,
  EVT_READ: 6,
  EVT_DROPPED: 7,
  /** Worker: 1 once the host exists (it reads commands from then on). */
  HOST_READY: 8,
  /** Worker: 0 stopped, 1 started (reading or writing the client's buffer). */
  RUNNING: 9,
  /** STALL: how long the engine thread blocks, µs. */
  ARG_STALL_US: 10,
  /** The meters' seqlock sequence word (src/engine/meters.ts, METER_SEQ). */
  METER_SEQ: 11,
  SIZE: 16,
} as const;

/**
 * FAIL: the host throws a device error (a simulated failure of the audio device; the worker then
 * closes its streams properly). STALL: the host blocks the engine thread for ARG_STALL_US in the
 * period that applies it, then acknowledges (a simulated stall on a real-time clock: the PCM
 * underruns or overruns as it would if the thread had been descheduled). SET_CHAIN: the plugin
 * chain in the swap mailbox replaces the running one (src/dsp/chain.ts): faded out over the
 * start/stop fade, swapped at silence, faded in; answered once the fade in is over.
 */
export const CMD_CODE = { NONE: 0, SET_BUFFER: 1, START: 2, STOP: 3, RELEASE: 4, FAIL: 5, STALL: 6, SET_CHAIN: 7 } as const;

export const EVENT = {
  /** a = command sequence number, b = result (0 or a negative status); time = start_time for START. */
  ACK: 1,
  /** time = monotonic time of the position, a = position in bytes. */
  POSITION: 2,
  /** time = when noticed, a = underruns (output) or overruns (input) in this period, b = total. */
  XRUN: 3,
  /** time = end of the measurement window, a = measured frames per second × 1000 (rounded), b = window frames. */
  CLOCK: 4,
  /** time = the period from which the client's buffer is not touched (client gone); a = CLIENT.HUNG_UP or CLIENT.EXITING (client-watch.ts). */
  PEER_GONE: 5,
  /**
   * A control event (src/engine/control-queue.ts) took effect: a = its id, b = the stream frame at
   * which it did (−1: the stream was not running, it applied at once); time = start_time + b ·
   * ns_per_frame while running, else the period's time.
   */
  CONTROL_APPLIED: 6,
  /**
   * A plugin stage of the stream's chain (src/dsp/chain.ts) overran the period too many times in
   * a row and is bypassed from now on: a = the stage, b = its overruns in all.
   */
  PLUGIN_BYPASSED: 7,
  /**
   * A DSSI stage's program was selected (issue 30): a = the stage, b = the program (bank ×
   * PROGRAM_PACK + program, src/dsp/chain.ts); its control inputs as the plugin left them are in
   * the stage's DSSI fields of the chain's stats block.
   */
  PLUGIN_PROGRAM: 8,
} as const;

/** Indices of `times` (command arguments that are doubles). */
export const TIME = {
  /** START: the CLOCK_MONOTONIC ns (board clock) at which the service had the request; an input's start_time is not before it. */
  ARG_NOT_BEFORE_NS: 0,
  /** Worker only: the time of the event pushEventTimed pushes next (written just before the call). */
  EVENT_NS: 1,
} as const;

export const EVENT_SLOTS = 256;
const TIMES = 4;
export const PATH_BYTES = 256;

/**
 * Lower edges of the period-lateness histogram's bins, as fractions of the period (the last bin
 * is open above). Lateness is the engine loop's: how far beyond one period the device's fill
 * (playback room or captured frames) was when the audio thread woke (src/engine/loop.ts). Finer
 * where a healthy engine lives (well under a tenth of a period), coarse beyond one period, where
 * a buffer of two periods has already run out.
 */
export const LATENESS_EDGES: readonly number[] = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2];
export const LATENESS_BINS = LATENESS_EDGES.length;

export interface StreamControlViews {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly times: Float64Array;
  readonly path: Uint8Array;
  /** EVENT_SLOTS records: [type, time, a, b]. */
  readonly events: Float64Array;
  /** The level meters' block (METER.SIZE doubles; src/engine/meters.ts). */
  readonly meters: Float64Array;
  /** LATENESS_BINS counts: periods per bin of LATENESS_EDGES. */
  readonly lateness: Int32Array;
}

export function streamControlBytes(): number {
  return WORD.SIZE * 4 + TIMES * 8 + PATH_BYTES + EVENT_SLOTS * 4 * 8 + METER.SIZE * 8 + LATENESS_BINS * 4;
}

export function createStreamControl(): SharedArrayBuffer {
  return new SharedArrayBuffer(streamControlBytes());
}

export function streamControlViews(sab: SharedArrayBuffer): StreamControlViews {
  let o = 0;
  const words = new Int32Array(sab, o, WORD.SIZE);
  o += WORD.SIZE * 4;
  const times = new Float64Array(sab, o, TIMES);
  o += TIMES * 8;
  const path = new Uint8Array(sab, o, PATH_BYTES);
  o += PATH_BYTES;
  const events = new Float64Array(sab, o, EVENT_SLOTS * 4);
  o += EVENT_SLOTS * 4 * 8;
  const meters = new Float64Array(sab, o, METER.SIZE);
  o += METER.SIZE * 8;
  const lateness = new Int32Array(sab, o, LATENESS_BINS);
  return { sab, words, times, path, events, meters, lateness };
}

/** The meters of a stream's control block, as src/engine/meters.ts reads and writes them. */
export function meterViewsOf(v: StreamControlViews): MeterViews {
  return { words: v.words, seqAt: WORD.METER_SEQ, block: v.meters };
}

/**
 * Worker side: pushEvent with the time taken from `times[TIME.EVENT_NS]`, which the caller wrote
 * just before. A double passed to a call V8 does not inline is boxed (a heap number per call: an
 * allocation per period on the audio path, seen when the host's process() grew past V8's inlining
 * budget); a double stored into a Float64Array is not. `a` and `b` are integers (Smis) here.
 */
export function pushEventTimed(v: StreamControlViews, type: number, a: number, b: number): boolean {
  const w = Atomics.load(v.words, WORD.EVT_WRITE);
  const r = Atomics.load(v.words, WORD.EVT_READ);
  if (w - r >= EVENT_SLOTS) {
    Atomics.add(v.words, WORD.EVT_DROPPED, 1);
    return false;
  }
  const i = (w % EVENT_SLOTS) * 4;
  const e = v.events;
  e[i] = type;
  e[i + 1] = v.times[TIME.EVENT_NS]!;
  e[i + 2] = a;
  e[i + 3] = b;
  Atomics.store(v.words, WORD.EVT_WRITE, w + 1);
  Atomics.notify(v.words, WORD.EVT_WRITE);
  return true;
}

/** Worker side: appends an event (allocation-free while inlined; off the period path, as ACKs are). Returns false if the ring was full. */
export function pushEvent(v: StreamControlViews, type: number, time: number, a: number, b: number): boolean {
  v.times[TIME.EVENT_NS] = time;
  return pushEventTimed(v, type, a, b);
}

export interface StreamEvent {
  type: number;
  time: number;
  a: number;
  b: number;
}

/** Main side: takes the oldest unread event, if any. */
export function takeEvent(v: StreamControlViews): StreamEvent | undefined {
  const r = Atomics.load(v.words, WORD.EVT_READ);
  if (Atomics.load(v.words, WORD.EVT_WRITE) === r) return undefined;
  const i = (r % EVENT_SLOTS) * 4;
  const e = v.events;
  const ev = { type: e[i]!, time: e[i + 1]!, a: e[i + 2]!, b: e[i + 3]! };
  Atomics.store(v.words, WORD.EVT_READ, r + 1);
  return ev;
}

/** Main side: writes a command; returns its sequence number (the ACK event carries it). */
export function postCommand(v: StreamControlViews, cmd: number, args: { frames?: number; notify?: number; path?: string; stallUs?: number; notBeforeNs?: number } = {}): number {
  v.times[TIME.ARG_NOT_BEFORE_NS] = args.notBeforeNs ?? Number.NEGATIVE_INFINITY;
  if (args.path !== undefined) {
    const bytes = new TextEncoder().encode(args.path);
    if (bytes.length > PATH_BYTES) throw new Error(`shm name longer than ${PATH_BYTES} bytes`);
    v.path.fill(0);
    v.path.set(bytes);
    Atomics.store(v.words, WORD.ARG_PATH_LEN, bytes.length);
  }
  if (args.frames !== undefined) Atomics.store(v.words, WORD.ARG_FRAMES, args.frames);
  if (args.notify !== undefined) Atomics.store(v.words, WORD.ARG_NOTIFY, args.notify);
  if (args.stallUs !== undefined) Atomics.store(v.words, WORD.ARG_STALL_US, args.stallUs);
  Atomics.store(v.words, WORD.CMD, cmd);
  return Atomics.add(v.words, WORD.CMD_SEQ, 1) + 1;
}

export function readPath(v: StreamControlViews): string {
  const n = Atomics.load(v.words, WORD.ARG_PATH_LEN);
  return new TextDecoder().decode(v.path.slice(0, n));
}

type WaitAsync = (ta: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<string> | string };

/** Atomics.waitAsync (Node ≥ 16; not in this project's TypeScript lib). Resolves when the word is no longer `value`. */
export function waitAsync(ta: Int32Array, index: number, value: number, timeoutMs?: number): Promise<unknown> {
  const r = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(ta, index, value, timeoutMs);
  return r.async ? (r.value as Promise<string>) : Promise.resolve(r.value);
}
