/**
 * The stream protocol's wire encoding: the Zircon audio stream messages laid out byte for byte
 * as ../../../shared/spec/stream-protocol.md lists them (little-endian, natural C alignment), plus
 * this project's extension messages (docs/PROTOCOL.md, "Extensions").
 *
 * Both sides live here: the service decodes requests and encodes responses, the client library
 * encodes requests and decodes responses. Decoders never throw on what a peer sent; they return
 * a violation naming the message and the field, because a peer's bad bytes are a protocol
 * matter (quiesce and close), not a crash. Encoders throw WireEncodeError on bad arguments,
 * because those come from our own caller.
 *
 * 64-bit integers (times, delays, the channel mask) are BigInt here and only here: the audio
 * path keeps time as float64 ns (src/hal/clock.ts).
 */

export const HEADER_BYTES = 8;
export const NO_ACK = 0x80000000;
/** Largest frame either side accepts; every message of the protocol is far smaller. */
export const MAX_FRAME_BYTES = 4096;

export const CMD = {
  GET_FORMATS: 0x1000,
  SET_FORMAT: 0x1001,
  GET_GAIN: 0x1002,
  SET_GAIN: 0x1003,
  PLUG_DETECT: 0x1004,
  GET_UNIQUE_ID: 0x1005,
  GET_STRING: 0x1006,
  GET_CLOCK_DOMAIN: 0x1007,
  PLUG_DETECT_NOTIFY: 0x2000,
  RB_GET_FIFO_DEPTH: 0x3000,
  RB_GET_BUFFER: 0x3001,
  RB_START: 0x3002,
  RB_STOP: 0x3003,
  RB_POSITION_NOTIFY: 0x4000,
  // Project extensions (docs/PROTOCOL.md "Extensions"): a seed client never sends these and so never sees them.
  EXT_GET_EXTERNAL_DELAY: 0xe000,
  EXT_GAIN_NOTIFY: 0xe001,
  EXT_GAIN_CHANGED: 0xe002,
  EXT_OBSERVE: 0xe003,
  EXT_GET_PURPOSE: 0xe004,
  // Ring-buffer channel extensions.
  EXT_RB_NOTIFY: 0xe100,
  EXT_RB_ERROR: 0xe101,
  EXT_RB_CLOCK: 0xe102,
} as const;

/** Stream purposes (EXT_GET_PURPOSE), from the board file's `streams[].purpose`. */
export const PURPOSE = { speaker: 1, headphone: 2, 'line-out': 3, 'line-in': 4, microphone: 5 } as const;
/** EXT_RB_ERROR kinds. */
export const RB_ERROR_KIND = { UNDERRUN: 1, OVERRUN: 2, BUS_FAILURE: 3 } as const;
export const PURPOSE_NAME_BYTES = 28;
export type CmdName = keyof typeof CMD;
export type CmdCode = (typeof CMD)[CmdName];

const CMD_NAMES = new Map<number, CmdName>(Object.entries(CMD).map(([k, v]) => [v, k as CmdName]));
/** 'SET_GAIN (0x1003)' or '0x1234' for codes that are not in the protocol. */
export function cmdName(code: number): string {
  const n = CMD_NAMES.get(code);
  return n ? `${n} (0x${code.toString(16)})` : `0x${code.toString(16)}`;
}

export const STATUS = {
  OK: 0, INTERNAL: -1, NOT_SUPPORTED: -2, NO_RESOURCES: -3, NO_MEMORY: -4, INVALID_ARGS: -10, OUT_OF_RANGE: -14,
  BAD_STATE: -20, TIMED_OUT: -21, PEER_CLOSED: -24, NOT_FOUND: -25, ALREADY_BOUND: -27, UNAVAILABLE: -28,
  ACCESS_DENIED: -30, IO: -40, IO_REFUSED: -41, IO_DATA_INTEGRITY: -42,
} as const;
const STATUS_NAMES = new Map<number, string>(Object.entries(STATUS).map(([k, v]) => [v, k]));
export function statusName(s: number): string {
  return STATUS_NAMES.get(s) ?? `status ${s}`;
}

export const SAMPLE_FORMAT = {
  BITSTREAM: 1 << 0, BIT8: 1 << 1, BIT16: 1 << 2, BIT20_PACKED: 1 << 4, BIT24_PACKED: 1 << 5, BIT20_IN32: 1 << 6,
  BIT24_IN32: 1 << 7, BIT32: 1 << 8, BIT32_FLOAT: 1 << 9, FLAG_UNSIGNED: 1 << 30, FLAG_INVERT_ENDIAN: 0x80000000,
} as const;
export const SAMPLE_FORMAT_FLAGS = (SAMPLE_FORMAT.FLAG_UNSIGNED | SAMPLE_FORMAT.FLAG_INVERT_ENDIAN) >>> 0;

export const RANGE_FLAG = { FPS_CONTINUOUS: 1 << 0, FPS_48000_FAMILY: 1 << 1, FPS_44100_FAMILY: 1 << 2 } as const;
export const FPS_48000_FAMILY = [8000, 16000, 32000, 48000, 96000, 192000, 384000, 768000] as const;
export const FPS_44100_FAMILY = [11025, 22050, 44100, 88200, 176400] as const;

export const SET_GAIN_FLAG = { MUTE_VALID: 0x1, AGC_VALID: 0x2, GAIN_VALID: 0x4, MUTE: 0x40000000, AGC: 0x80000000 } as const;
export const PLUG_REQ_FLAG = { NONE: 0, ENABLE_NOTIFICATIONS: 0x40000000, DISABLE_NOTIFICATIONS: 0x80000000 } as const;
export const PLUG_STATE_FLAG = { HARDWIRED: 0x1, CAN_NOTIFY: 0x2, PLUGGED: 0x80000000 } as const;
export const STRING_ID = { MANUFACTURER: 0x80000000, PRODUCT: 0x80000001 } as const;

export const FORMAT_RANGE_BYTES = 16;
export const FORMATS_PER_RESPONSE = 15;
export const GET_FORMATS_RESP_MAX = 256;
export const GET_FORMATS_RESP_MIN = 16;
export const STRING_MAX_BYTES = 236;
export const UNIQUE_ID_BYTES = 16;
/** The ring-buffer token: four zero bytes (a request never has transaction_id 0) and 12 random bytes. */
export const RB_TOKEN_BYTES = 16;

/** Payload size of each request a client may send, header included. */
export const REQUEST_BYTES: ReadonlyMap<number, number> = new Map<number, number>([
  [CMD.GET_FORMATS, 8], [CMD.SET_FORMAT, 32], [CMD.GET_GAIN, 8], [CMD.SET_GAIN, 16], [CMD.PLUG_DETECT, 12],
  [CMD.GET_UNIQUE_ID, 8], [CMD.GET_STRING, 12], [CMD.GET_CLOCK_DOMAIN, 8],
  [CMD.RB_GET_FIFO_DEPTH, 8], [CMD.RB_GET_BUFFER, 16], [CMD.RB_START, 8], [CMD.RB_STOP, 8],
  [CMD.EXT_GET_EXTERNAL_DELAY, 12], [CMD.EXT_GAIN_NOTIFY, 12], [CMD.EXT_OBSERVE, 8], [CMD.EXT_GET_PURPOSE, 8],
  [CMD.EXT_RB_NOTIFY, 12],
]);
export const STREAM_REQUESTS: ReadonlySet<number> = new Set<number>([
  CMD.GET_FORMATS, CMD.SET_FORMAT, CMD.GET_GAIN, CMD.SET_GAIN, CMD.PLUG_DETECT, CMD.GET_UNIQUE_ID, CMD.GET_STRING,
  CMD.GET_CLOCK_DOMAIN, CMD.EXT_GET_EXTERNAL_DELAY, CMD.EXT_GAIN_NOTIFY, CMD.EXT_OBSERVE, CMD.EXT_GET_PURPOSE,
]);
export const RING_BUFFER_REQUESTS: ReadonlySet<number> = new Set<number>([
  CMD.RB_GET_FIFO_DEPTH, CMD.RB_GET_BUFFER, CMD.RB_START, CMD.RB_STOP, CMD.EXT_RB_NOTIFY,
]);
export const NO_ACK_ALLOWED: ReadonlySet<number> = new Set<number>([CMD.SET_GAIN, CMD.PLUG_DETECT, CMD.EXT_GAIN_NOTIFY, CMD.EXT_RB_NOTIFY]);

export interface FormatRangeWire {
  sampleFormats: number;
  minFps: number;
  maxFps: number;
  minChannels: number;
  maxChannels: number;
  flags: number;
}

export interface GainStateWire {
  curMute: boolean;
  curAgc: boolean;
  curGain: number;
  canMute: boolean;
  canAgc: boolean;
  minGain: number;
  maxGain: number;
  gainStep: number;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A caller asked an encoder for something the wire cannot carry. */
export class WireEncodeError extends Error {
  constructor(readonly msg: string, readonly field: string, detail: string) {
    super(`${msg}.${field}: ${detail}`);
    this.name = 'WireEncodeError';
  }
}

/** What a decoder found wrong with a peer's bytes (a protocol violation). */
export interface Violation {
  /** The message, e.g. 'SET_GAIN (0x1003)', or 'frame' before the header is known. */
  msg: string;
  field: string;
  detail: string;
}
export function describeViolation(v: Violation): string {
  return `${v.msg}: ${v.field}: ${v.detail}`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function u32(msg: string, field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new WireEncodeError(msg, field, `expected an integer 0..4294967295, got ${v}`);
  return v;
}
function u16(msg: string, field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new WireEncodeError(msg, field, `expected an integer 0..65535, got ${v}`);
  return v;
}
function u8(msg: string, field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new WireEncodeError(msg, field, `expected an integer 0..255, got ${v}`);
  return v;
}
function i32(msg: string, field: string, v: number): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new WireEncodeError(msg, field, `expected a 32-bit signed integer, got ${v}`);
  return v;
}
function u64(msg: string, field: string, v: bigint): bigint {
  if (v < 0n || v > 0xffffffffffffffffn) throw new WireEncodeError(msg, field, `expected 0..2^64-1, got ${v}`);
  return v;
}
function i64(msg: string, field: string, v: bigint): bigint {
  if (v < -(2n ** 63n) || v > 2n ** 63n - 1n) throw new WireEncodeError(msg, field, `expected a 64-bit signed integer, got ${v}`);
  return v;
}
function f32(msg: string, field: string, v: number): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new WireEncodeError(msg, field, `expected a number, got ${v}`);
  return v;
}

/** A zeroed message of `size` bytes with its header written. */
function message(size: number, txid: number, cmd: number, name: string): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, u32(name, 'transaction_id', txid), true);
  view.setUint32(4, u32(name, 'cmd', cmd), true);
  return { bytes, view };
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export interface Header {
  txid: number;
  /** The command without the NO_ACK bit. */
  cmd: number;
  noAck: boolean;
}

/** Reads the header; undefined when the frame is shorter than a header. */
export function readHeader(frame: Uint8Array): Header | undefined {
  if (frame.byteLength < HEADER_BYTES) return undefined;
  const v = viewOf(frame);
  const raw = v.getUint32(4, true);
  return { txid: v.getUint32(0, true), cmd: (raw & ~NO_ACK) >>> 0, noAck: (raw & NO_ACK) !== 0 };
}

// ---------------------------------------------------------------------------------------------
// Requests (client → service)

export type StreamRequest =
  | { cmd: typeof CMD.GET_FORMATS; txid: number; noAck: boolean }
  | { cmd: typeof CMD.SET_FORMAT; txid: number; noAck: boolean; fps: number; sampleFormat: number; channels: number; channelsToUse: bigint }
  | { cmd: typeof CMD.GET_GAIN; txid: number; noAck: boolean }
  | { cmd: typeof CMD.SET_GAIN; txid: number; noAck: boolean; flags: number; gain: number }
  | { cmd: typeof CMD.PLUG_DETECT; txid: number; noAck: boolean; flags: number }
  | { cmd: typeof CMD.GET_UNIQUE_ID; txid: number; noAck: boolean }
  | { cmd: typeof CMD.GET_STRING; txid: number; noAck: boolean; id: number }
  | { cmd: typeof CMD.GET_CLOCK_DOMAIN; txid: number; noAck: boolean }
  | { cmd: typeof CMD.EXT_GET_EXTERNAL_DELAY; txid: number; noAck: boolean; fps: number }
  | { cmd: typeof CMD.EXT_GAIN_NOTIFY; txid: number; noAck: boolean; flags: number }
  | { cmd: typeof CMD.EXT_OBSERVE; txid: number; noAck: boolean }
  | { cmd: typeof CMD.EXT_GET_PURPOSE; txid: number; noAck: boolean };

export type RingBufferRequest =
  | { cmd: typeof CMD.RB_GET_FIFO_DEPTH; txid: number; noAck: boolean }
  | { cmd: typeof CMD.RB_GET_BUFFER; txid: number; noAck: boolean; minFrames: number; notificationsPerRing: number }
  | { cmd: typeof CMD.RB_START; txid: number; noAck: boolean }
  | { cmd: typeof CMD.RB_STOP; txid: number; noAck: boolean }
  | { cmd: typeof CMD.EXT_RB_NOTIFY; txid: number; noAck: boolean; flags: number };

export type Decoded<T> = { ok: true; value: T } | { ok: false; violation: Violation };

/**
 * Checks a request frame against the rules every request obeys (header present, transaction
 * id not 0, a command of this channel, NO_ACK only where allowed, exact payload size).
 */
function checkRequest(frame: Uint8Array, allowed: ReadonlySet<number>, channel: string): Decoded<Header> {
  const h = readHeader(frame);
  if (!h) return bad('frame', 'length', `${frame.byteLength} bytes is shorter than the 8-byte header`);
  const name = cmdName(h.cmd);
  if (h.txid === 0) return bad(name, 'transaction_id', '0 is reserved for notifications; a client must never send it');
  if (!allowed.has(h.cmd)) return bad(name, 'cmd', `not a request of the ${channel} channel`);
  if (h.noAck && !NO_ACK_ALLOWED.has(h.cmd)) return bad(name, 'cmd', 'NO_ACK is not allowed on this command');
  const want = REQUEST_BYTES.get(h.cmd)!;
  if (frame.byteLength !== want) return bad(name, 'payload size', `${frame.byteLength} bytes, expected ${want}`);
  return { ok: true, value: h };
}

function bad<T>(msg: string, field: string, detail: string): Decoded<T> {
  return { ok: false, violation: { msg, field, detail } };
}

export function decodeStreamRequest(frame: Uint8Array): Decoded<StreamRequest> {
  const c = checkRequest(frame, STREAM_REQUESTS, 'stream');
  if (!c.ok) return c;
  const { txid, cmd, noAck } = c.value;
  const v = viewOf(frame);
  switch (cmd) {
    case CMD.SET_FORMAT:
      return { ok: true, value: { cmd, txid, noAck, fps: v.getUint32(8, true), sampleFormat: v.getUint32(12, true), channels: v.getUint16(16, true), channelsToUse: v.getBigUint64(24, true) } };
    case CMD.SET_GAIN:
      return { ok: true, value: { cmd, txid, noAck, flags: v.getUint32(8, true), gain: v.getFloat32(12, true) } };
    case CMD.PLUG_DETECT:
    case CMD.EXT_GAIN_NOTIFY:
      return { ok: true, value: { cmd, txid, noAck, flags: v.getUint32(8, true) } };
    case CMD.GET_STRING:
      return { ok: true, value: { cmd, txid, noAck, id: v.getUint32(8, true) } };
    case CMD.EXT_GET_EXTERNAL_DELAY:
      return { ok: true, value: { cmd, txid, noAck, fps: v.getUint32(8, true) } };
    default:
      return { ok: true, value: { cmd, txid, noAck } as StreamRequest };
  }
}

export function decodeRingBufferRequest(frame: Uint8Array): Decoded<RingBufferRequest> {
  const c = checkRequest(frame, RING_BUFFER_REQUESTS, 'ring-buffer');
  if (!c.ok) return c;
  const { txid, cmd, noAck } = c.value;
  if (cmd === CMD.RB_GET_BUFFER) {
    const v = viewOf(frame);
    return { ok: true, value: { cmd, txid, noAck, minFrames: v.getUint32(8, true), notificationsPerRing: v.getUint32(12, true) } };
  }
  if (cmd === CMD.EXT_RB_NOTIFY) return { ok: true, value: { cmd, txid, noAck, flags: viewOf(frame).getUint32(8, true) } };
  return { ok: true, value: { cmd, txid, noAck } as RingBufferRequest };
}

/** A header-only request (GET_FORMATS, GET_GAIN, GET_UNIQUE_ID, GET_CLOCK_DOMAIN, GET_FIFO_DEPTH, START, STOP, EXT_OBSERVE). */
export function encodeEmptyRequest(txid: number, cmd: number, noAck = false): Uint8Array {
  return message(8, txid, (cmd | (noAck ? NO_ACK : 0)) >>> 0, cmdName(cmd)).bytes;
}

export function encodeSetFormatRequest(txid: number, r: { fps: number; sampleFormat: number; channels: number; channelsToUse?: bigint }): Uint8Array {
  const n = 'SET_FORMAT';
  const { bytes, view } = message(32, txid, CMD.SET_FORMAT, n);
  view.setUint32(8, u32(n, 'frames_per_second', r.fps), true);
  view.setUint32(12, u32(n, 'sample_format', r.sampleFormat), true);
  view.setUint16(16, u16(n, 'channels', r.channels), true);
  view.setBigUint64(24, u64(n, 'channels_to_use_bitmask', r.channelsToUse ?? 0n), true);
  return bytes;
}

export function encodeSetGainRequest(txid: number, r: { flags: number; gain: number }, noAck = false): Uint8Array {
  const n = 'SET_GAIN';
  const { bytes, view } = message(16, txid, (CMD.SET_GAIN | (noAck ? NO_ACK : 0)) >>> 0, n);
  view.setUint32(8, u32(n, 'flags', r.flags), true);
  view.setFloat32(12, f32(n, 'gain', r.gain), true);
  return bytes;
}

/** A 12-byte request with one u32 after the header (PLUG_DETECT flags, GET_STRING id, EXT_* ). */
export function encodeU32Request(txid: number, cmd: number, value: number, noAck = false): Uint8Array {
  const n = cmdName(cmd);
  const { bytes, view } = message(12, txid, (cmd | (noAck ? NO_ACK : 0)) >>> 0, n);
  view.setUint32(8, u32(n, cmd === CMD.GET_STRING ? 'id' : cmd === CMD.EXT_GET_EXTERNAL_DELAY ? 'frames_per_second' : 'flags', value), true);
  return bytes;
}

export function encodeGetBufferRequest(txid: number, r: { minFrames: number; notificationsPerRing: number }): Uint8Array {
  const n = 'GET_BUFFER';
  const { bytes, view } = message(16, txid, CMD.RB_GET_BUFFER, n);
  view.setUint32(8, u32(n, 'min_ring_buffer_frames', r.minFrames), true);
  view.setUint32(12, u32(n, 'notifications_per_ring', r.notificationsPerRing), true);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Responses and notifications (service → client)

/**
 * One page of GET_FORMATS: up to 15 ranges starting at `first`. The message is cut after its
 * last valid range (at least 16 bytes), as the seed allows.
 */
export function encodeGetFormatsResponse(txid: number, total: number, first: number, ranges: readonly FormatRangeWire[]): Uint8Array {
  const n = 'GET_FORMATS response';
  if (ranges.length > FORMATS_PER_RESPONSE) throw new WireEncodeError(n, 'format_ranges', `at most 15 per message, got ${ranges.length}`);
  const { bytes, view } = message(GET_FORMATS_RESP_MIN + FORMAT_RANGE_BYTES * ranges.length, txid, CMD.GET_FORMATS, n);
  view.setUint16(12, u16(n, 'format_range_count', total), true);
  view.setUint16(14, u16(n, 'first_format_range_ndx', first), true);
  ranges.forEach((r, i) => {
    const o = 16 + i * FORMAT_RANGE_BYTES;
    const f = `format_ranges[${i}]`;
    view.setUint32(o, u32(n, `${f}.sample_formats`, r.sampleFormats), true);
    view.setUint32(o + 4, u32(n, `${f}.min_frames_per_second`, r.minFps), true);
    view.setUint32(o + 8, u32(n, `${f}.max_frames_per_second`, r.maxFps), true);
    view.setUint8(o + 12, u8(n, `${f}.min_channels`, r.minChannels));
    view.setUint8(o + 13, u8(n, `${f}.max_channels`, r.maxChannels));
    view.setUint16(o + 14, u16(n, `${f}.flags`, r.flags), true);
  });
  return bytes;
}

export function encodeSetFormatResponse(txid: number, result: number, externalDelayNs: bigint, token?: Uint8Array): Uint8Array {
  const n = 'SET_FORMAT response';
  const extra = token ? token.byteLength : 0;
  const { bytes, view } = message(24 + extra, txid, CMD.SET_FORMAT, n);
  view.setInt32(8, i32(n, 'result', result), true);
  view.setBigUint64(16, u64(n, 'external_delay_nsec', externalDelayNs), true);
  if (token) bytes.set(token, 24);
  return bytes;
}

/** GET_GAIN response; the same layout carries this project's EXT_GAIN_NOTIFY response and EXT_GAIN_CHANGED notification. */
export function encodeGainState(txid: number, cmd: number, g: GainStateWire): Uint8Array {
  const n = `${cmdName(cmd)} gain state`;
  const { bytes, view } = message(32, txid, cmd, n);
  view.setUint8(8, g.curMute ? 1 : 0);
  view.setUint8(9, g.curAgc ? 1 : 0);
  view.setFloat32(12, f32(n, 'cur_gain', g.curGain), true);
  view.setUint8(16, g.canMute ? 1 : 0);
  view.setUint8(17, g.canAgc ? 1 : 0);
  view.setFloat32(20, f32(n, 'min_gain', g.minGain), true);
  view.setFloat32(24, f32(n, 'max_gain', g.maxGain), true);
  view.setFloat32(28, f32(n, 'gain_step', g.gainStep), true);
  return bytes;
}

export function encodeSetGainResponse(txid: number, result: number, s: { curMute: boolean; curAgc: boolean; curGain: number }): Uint8Array {
  const n = 'SET_GAIN response';
  const { bytes, view } = message(20, txid, CMD.SET_GAIN, n);
  view.setInt32(8, i32(n, 'result', result), true);
  view.setUint8(12, s.curMute ? 1 : 0);
  view.setUint8(13, s.curAgc ? 1 : 0);
  view.setFloat32(16, f32(n, 'cur_gain', s.curGain), true);
  return bytes;
}

/** PLUG_DETECT response (txid of the request) or PLUG_DETECT_NOTIFY (txid 0). */
export function encodePlugState(txid: number, cmd: typeof CMD.PLUG_DETECT | typeof CMD.PLUG_DETECT_NOTIFY, flags: number, plugStateTimeNs: bigint): Uint8Array {
  const n = cmdName(cmd);
  const { bytes, view } = message(24, txid, cmd, n);
  view.setUint32(8, u32(n, 'flags', flags), true);
  view.setBigInt64(16, i64(n, 'plug_state_time', plugStateTimeNs), true);
  return bytes;
}

export function encodeUniqueIdResponse(txid: number, id: Uint8Array): Uint8Array {
  const n = 'GET_UNIQUE_ID response';
  if (id.byteLength !== UNIQUE_ID_BYTES) throw new WireEncodeError(n, 'unique_id', `expected 16 bytes, got ${id.byteLength}`);
  const { bytes } = message(24, txid, CMD.GET_UNIQUE_ID, n);
  bytes.set(id, 8);
  return bytes;
}

/** Cuts UTF-8 text to at most `max` bytes without splitting a character. */
export function utf8Truncate(text: string, max: number): Uint8Array {
  const all = new TextEncoder().encode(text);
  if (all.byteLength <= max) return all;
  let end = max;
  while (end > 0 && (all[end]! & 0xc0) === 0x80) end--; // back up to the start of the cut character
  return all.subarray(0, end);
}

export function encodeGetStringResponse(txid: number, result: number, id: number, text: string): Uint8Array {
  const n = 'GET_STRING response';
  const { bytes, view } = message(256, txid, CMD.GET_STRING, n);
  const s = utf8Truncate(text, STRING_MAX_BYTES);
  view.setInt32(8, i32(n, 'result', result), true);
  view.setUint32(12, u32(n, 'id', id), true);
  view.setUint32(16, s.byteLength, true);
  bytes.set(s, 20);
  return bytes;
}

/** Responses whose payload is one i32 after the header (GET_CLOCK_DOMAIN, STOP, EXT_OBSERVE). */
export function encodeI32Response(txid: number, cmd: number, value: number): Uint8Array {
  const n = `${cmdName(cmd)} response`;
  const { bytes, view } = message(12, txid, cmd, n);
  view.setInt32(8, i32(n, cmd === CMD.GET_CLOCK_DOMAIN ? 'clock_domain' : 'result', value), true);
  return bytes;
}

/** Responses shaped i32 result + u32 (GET_FIFO_DEPTH, GET_BUFFER; GET_BUFFER appends the buffer path on success). */
export function encodeResultU32Response(txid: number, cmd: number, result: number, value: number, trailer?: Uint8Array): Uint8Array {
  const n = `${cmdName(cmd)} response`;
  const { bytes, view } = message(16 + (trailer?.byteLength ?? 0), txid, cmd, n);
  view.setInt32(8, i32(n, 'result', result), true);
  view.setUint32(12, u32(n, cmd === CMD.RB_GET_FIFO_DEPTH ? 'fifo_depth' : 'num_ring_buffer_frames', value), true);
  if (trailer) bytes.set(trailer, 16);
  return bytes;
}

/** Responses shaped i32 result, 4 pad, u64 (START: start_time; EXT_GET_EXTERNAL_DELAY: external_delay_nsec). */
export function encodeResultU64Response(txid: number, cmd: number, result: number, value: bigint): Uint8Array {
  const n = `${cmdName(cmd)} response`;
  const { bytes, view } = message(24, txid, cmd, n);
  view.setInt32(8, i32(n, 'result', result), true);
  view.setBigUint64(16, u64(n, cmd === CMD.RB_START ? 'start_time' : 'external_delay_nsec', value), true);
  return bytes;
}

export function encodePositionNotify(monotonicTimeNs: bigint, ringBufferPos: number): Uint8Array {
  const n = 'POSITION_NOTIFY';
  const { bytes, view } = message(24, 0, CMD.RB_POSITION_NOTIFY, n);
  view.setBigInt64(8, i64(n, 'monotonic_time', monotonicTimeNs), true);
  view.setUint32(16, u32(n, 'ring_buffer_pos', ringBufferPos), true);
  return bytes;
}

/** EXT_GET_PURPOSE response: i32 result, u32 purpose, u32 strlen, 28 bytes of UTF-8 name. */
export function encodePurposeResponse(txid: number, result: number, purpose: number, name: string): Uint8Array {
  const n = 'EXT_GET_PURPOSE response';
  const { bytes, view } = message(48, txid, CMD.EXT_GET_PURPOSE, n);
  const text = utf8Truncate(name, PURPOSE_NAME_BYTES);
  view.setInt32(8, i32(n, 'result', result), true);
  view.setUint32(12, u32(n, 'purpose', purpose), true);
  view.setUint32(16, text.byteLength, true);
  bytes.set(text, 20);
  return bytes;
}

/** EXT_RB_ERROR (transaction_id 0): i64 monotonic_time, i32 status, u32 kind, u32 count, u32 total. */
export function encodeRbError(monotonicTimeNs: bigint, status: number, kind: number, count: number, total: number): Uint8Array {
  const n = 'EXT_RB_ERROR';
  const { bytes, view } = message(32, 0, CMD.EXT_RB_ERROR, n);
  view.setBigInt64(8, i64(n, 'monotonic_time', monotonicTimeNs), true);
  view.setInt32(16, i32(n, 'status', status), true);
  view.setUint32(20, u32(n, 'kind', kind), true);
  view.setUint32(24, u32(n, 'count', count), true);
  view.setUint32(28, u32(n, 'total', total), true);
  return bytes;
}

/** EXT_RB_CLOCK (transaction_id 0): i64 monotonic_time, i32 rate_ppb, u32 window_frames, f64 measured_fps. */
export function encodeRbClock(monotonicTimeNs: bigint, ratePpb: number, windowFrames: number, measuredFps: number): Uint8Array {
  const n = 'EXT_RB_CLOCK';
  const { bytes, view } = message(32, 0, CMD.EXT_RB_CLOCK, n);
  view.setBigInt64(8, i64(n, 'monotonic_time', monotonicTimeNs), true);
  view.setInt32(16, i32(n, 'rate_ppb', ratePpb), true);
  view.setUint32(20, u32(n, 'window_frames', windowFrames), true);
  view.setFloat64(24, f32(n, 'measured_fps', measuredFps), true);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Client-side decoding of what the service sends

export type ServiceMessage =
  | { cmd: typeof CMD.GET_FORMATS; txid: number; total: number; first: number; ranges: FormatRangeWire[] }
  | { cmd: typeof CMD.SET_FORMAT; txid: number; result: number; externalDelayNs: bigint; token: Uint8Array | undefined }
  | ({ cmd: typeof CMD.GET_GAIN | typeof CMD.EXT_GAIN_NOTIFY | typeof CMD.EXT_GAIN_CHANGED; txid: number } & GainStateWire)
  | { cmd: typeof CMD.SET_GAIN; txid: number; result: number; curMute: boolean; curAgc: boolean; curGain: number }
  | { cmd: typeof CMD.PLUG_DETECT | typeof CMD.PLUG_DETECT_NOTIFY; txid: number; flags: number; plugStateTimeNs: bigint }
  | { cmd: typeof CMD.GET_UNIQUE_ID; txid: number; id: Uint8Array }
  | { cmd: typeof CMD.GET_STRING; txid: number; result: number; id: number; text: string }
  | { cmd: typeof CMD.GET_CLOCK_DOMAIN; txid: number; clockDomain: number }
  | { cmd: typeof CMD.EXT_OBSERVE | typeof CMD.RB_STOP | typeof CMD.EXT_RB_NOTIFY; txid: number; result: number }
  | { cmd: typeof CMD.EXT_GET_EXTERNAL_DELAY; txid: number; result: number; externalDelayNs: bigint }
  | { cmd: typeof CMD.RB_GET_FIFO_DEPTH; txid: number; result: number; fifoDepth: number }
  | { cmd: typeof CMD.RB_GET_BUFFER; txid: number; result: number; frames: number; bufferPath: string | undefined }
  | { cmd: typeof CMD.RB_START; txid: number; result: number; startTimeNs: bigint }
  | { cmd: typeof CMD.RB_POSITION_NOTIFY; txid: number; monotonicTimeNs: bigint; ringBufferPos: number }
  | { cmd: typeof CMD.EXT_GET_PURPOSE; txid: number; result: number; purpose: number; name: string }
  | { cmd: typeof CMD.EXT_RB_ERROR; txid: number; monotonicTimeNs: bigint; status: number; kind: number; count: number; total: number }
  | { cmd: typeof CMD.EXT_RB_CLOCK; txid: number; monotonicTimeNs: bigint; ratePpb: number; windowFrames: number; measuredFps: number };

/** Exact sizes of what the service sends; GET_FORMATS, SET_FORMAT and GET_BUFFER are checked separately. */
const RESPONSE_BYTES = new Map<number, number>([
  [CMD.GET_GAIN, 32], [CMD.EXT_GAIN_NOTIFY, 32], [CMD.EXT_GAIN_CHANGED, 32], [CMD.SET_GAIN, 20], [CMD.PLUG_DETECT, 24],
  [CMD.PLUG_DETECT_NOTIFY, 24], [CMD.GET_UNIQUE_ID, 24], [CMD.GET_STRING, 256], [CMD.GET_CLOCK_DOMAIN, 12],
  [CMD.EXT_OBSERVE, 12], [CMD.RB_STOP, 12], [CMD.EXT_GET_EXTERNAL_DELAY, 24], [CMD.RB_GET_FIFO_DEPTH, 16], [CMD.RB_START, 24],
  [CMD.RB_POSITION_NOTIFY, 24], [CMD.EXT_GET_PURPOSE, 48], [CMD.EXT_RB_NOTIFY, 12], [CMD.EXT_RB_ERROR, 32], [CMD.EXT_RB_CLOCK, 32],
]);

export function decodeServiceMessage(frame: Uint8Array): Decoded<ServiceMessage> {
  const h = readHeader(frame);
  if (!h) return bad('frame', 'length', `${frame.byteLength} bytes is shorter than the 8-byte header`);
  const name = `${cmdName(h.cmd)} from the service`;
  if (h.noAck) return bad(name, 'cmd', 'the service never sets NO_ACK');
  const v = viewOf(frame);
  const { txid, cmd } = h;
  const len = frame.byteLength;
  const fixed = RESPONSE_BYTES.get(cmd);
  if (fixed !== undefined && len !== fixed) return bad(name, 'payload size', `${len} bytes, expected ${fixed}`);
  switch (cmd) {
    case CMD.GET_FORMATS: {
      if (len < GET_FORMATS_RESP_MIN || len > GET_FORMATS_RESP_MAX || len % FORMAT_RANGE_BYTES !== 0) {
        return bad(name, 'payload size', `${len} bytes, expected 16 + 16·n (n ≤ 15)`);
      }
      const total = v.getUint16(12, true);
      const first = v.getUint16(14, true);
      const valid = Math.min(FORMATS_PER_RESPONSE, Math.max(0, total - first), (len - 16) / FORMAT_RANGE_BYTES);
      const ranges: FormatRangeWire[] = [];
      for (let i = 0; i < valid; i++) {
        const o = 16 + i * FORMAT_RANGE_BYTES;
        ranges.push({
          sampleFormats: v.getUint32(o, true), minFps: v.getUint32(o + 4, true), maxFps: v.getUint32(o + 8, true),
          minChannels: v.getUint8(o + 12), maxChannels: v.getUint8(o + 13), flags: v.getUint16(o + 14, true),
        });
      }
      return { ok: true, value: { cmd, txid, total, first, ranges } };
    }
    case CMD.SET_FORMAT: {
      if (len !== 24 && len !== 24 + RB_TOKEN_BYTES) return bad(name, 'payload size', `${len} bytes, expected 24 (or 40 with the ring-buffer token)`);
      const result = v.getInt32(8, true);
      if ((result === STATUS.OK) !== (len === 40)) return bad(name, 'payload size', `${len} bytes with result ${statusName(result)}: the token comes with success only`);
      return { ok: true, value: { cmd, txid, result, externalDelayNs: v.getBigUint64(16, true), token: len === 40 ? frame.slice(24) : undefined } };
    }
    case CMD.GET_GAIN:
    case CMD.EXT_GAIN_NOTIFY:
    case CMD.EXT_GAIN_CHANGED:
      return {
        ok: true,
        value: {
          cmd, txid, curMute: v.getUint8(8) !== 0, curAgc: v.getUint8(9) !== 0, curGain: v.getFloat32(12, true),
          canMute: v.getUint8(16) !== 0, canAgc: v.getUint8(17) !== 0, minGain: v.getFloat32(20, true),
          maxGain: v.getFloat32(24, true), gainStep: v.getFloat32(28, true),
        },
      };
    case CMD.SET_GAIN:
      return { ok: true, value: { cmd, txid, result: v.getInt32(8, true), curMute: v.getUint8(12) !== 0, curAgc: v.getUint8(13) !== 0, curGain: v.getFloat32(16, true) } };
    case CMD.PLUG_DETECT:
    case CMD.PLUG_DETECT_NOTIFY:
      return { ok: true, value: { cmd, txid, flags: v.getUint32(8, true), plugStateTimeNs: v.getBigInt64(16, true) } };
    case CMD.GET_UNIQUE_ID:
      return { ok: true, value: { cmd, txid, id: frame.slice(8, 24) } };
    case CMD.GET_STRING: {
      const strlen = v.getUint32(16, true);
      if (strlen > STRING_MAX_BYTES) return bad(name, 'strlen', `${strlen} is more than 236`);
      const text = new TextDecoder('utf-8', { fatal: false }).decode(frame.subarray(20, 20 + strlen));
      return { ok: true, value: { cmd, txid, result: v.getInt32(8, true), id: v.getUint32(12, true), text } };
    }
    case CMD.GET_CLOCK_DOMAIN:
      return { ok: true, value: { cmd, txid, clockDomain: v.getInt32(8, true) } };
    case CMD.EXT_OBSERVE:
    case CMD.RB_STOP:
    case CMD.EXT_RB_NOTIFY:
      return { ok: true, value: { cmd, txid, result: v.getInt32(8, true) } };
    case CMD.EXT_GET_PURPOSE: {
      const strlen = Math.min(v.getUint32(16, true), PURPOSE_NAME_BYTES);
      return { ok: true, value: { cmd, txid, result: v.getInt32(8, true), purpose: v.getUint32(12, true), name: new TextDecoder().decode(frame.subarray(20, 20 + strlen)) } };
    }
    case CMD.EXT_RB_ERROR:
      return { ok: true, value: { cmd, txid, monotonicTimeNs: v.getBigInt64(8, true), status: v.getInt32(16, true), kind: v.getUint32(20, true), count: v.getUint32(24, true), total: v.getUint32(28, true) } };
    case CMD.EXT_RB_CLOCK:
      return { ok: true, value: { cmd, txid, monotonicTimeNs: v.getBigInt64(8, true), ratePpb: v.getInt32(16, true), windowFrames: v.getUint32(20, true), measuredFps: v.getFloat64(24, true) } };
    case CMD.EXT_GET_EXTERNAL_DELAY:
      return { ok: true, value: { cmd, txid, result: v.getInt32(8, true), externalDelayNs: v.getBigUint64(16, true) } };
    case CMD.RB_GET_FIFO_DEPTH:
      return { ok: true, value: { cmd, txid, result: v.getInt32(8, true), fifoDepth: v.getUint32(12, true) } };
    case CMD.RB_GET_BUFFER: {
      if (len < 16) return bad(name, 'payload size', `${len} bytes, expected at least 16`);
      const result = v.getInt32(8, true);
      const bufferPath = len > 16 ? new TextDecoder().decode(frame.subarray(16)) : undefined;
      return { ok: true, value: { cmd, txid, result, frames: v.getUint32(12, true), bufferPath } };
    }
    case CMD.RB_START:
      return { ok: true, value: { cmd, txid, result: v.getInt32(8, true), startTimeNs: v.getBigUint64(16, true) } };
    case CMD.RB_POSITION_NOTIFY:
      return { ok: true, value: { cmd, txid, monotonicTimeNs: v.getBigInt64(8, true), ringBufferPos: v.getUint32(16, true) } };
    default:
      return bad(name, 'cmd', 'not a message the service sends');
  }
}

// ---------------------------------------------------------------------------------------------
// Format helpers shared by the service and clients

/** The single sample-format bit of a SET_FORMAT sample_format (flags removed), or 0 if not exactly one. */
export function sampleFormatBase(sampleFormat: number): number {
  const base = (sampleFormat & ~SAMPLE_FORMAT_FLAGS) >>> 0;
  return base !== 0 && (base & (base - 1)) === 0 ? base : 0;
}

/** Bytes per sample of a single sample format (without flags), or 0 for BITSTREAM/unknown. */
export function bytesPerSample(sampleFormat: number): number {
  switch (sampleFormatBase(sampleFormat)) {
    case SAMPLE_FORMAT.BIT8: return 1;
    case SAMPLE_FORMAT.BIT16: return 2;
    case SAMPLE_FORMAT.BIT20_PACKED:
    case SAMPLE_FORMAT.BIT24_PACKED: return 3;
    case SAMPLE_FORMAT.BIT20_IN32:
    case SAMPLE_FORMAT.BIT24_IN32:
    case SAMPLE_FORMAT.BIT32:
    case SAMPLE_FORMAT.BIT32_FLOAT: return 4;
    default: return 0;
  }
}

/** Whether a rate is inside a range, as the range's flags define it. */
export function rangeHasRate(r: FormatRangeWire, fps: number): boolean {
  if (fps < r.minFps || fps > r.maxFps) return false;
  if (r.flags & RANGE_FLAG.FPS_CONTINUOUS) return true;
  if ((r.flags & RANGE_FLAG.FPS_48000_FAMILY) && (FPS_48000_FAMILY as readonly number[]).includes(fps)) return true;
  if ((r.flags & RANGE_FLAG.FPS_44100_FAMILY) && (FPS_44100_FAMILY as readonly number[]).includes(fps)) return true;
  return false;
}

/** Whether a SET_FORMAT (rate, sample format, channels) falls in a range. */
export function rangeAccepts(r: FormatRangeWire, fps: number, sampleFormat: number, channels: number): boolean {
  const base = sampleFormatBase(sampleFormat);
  if (base === 0 || (r.sampleFormats & base) === 0) return false;
  const flags = (sampleFormat & SAMPLE_FORMAT_FLAGS) >>> 0;
  if (((r.sampleFormats & SAMPLE_FORMAT_FLAGS) & flags) >>> 0 !== flags) return false;
  if (channels < r.minChannels || channels > r.maxChannels) return false;
  return rangeHasRate(r, fps);
}

/** Hex dump 'aa bb cc' of bytes (test and log output). */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
