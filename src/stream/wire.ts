/**
 * The stream protocol's wire encoding: the Zircon audio stream messages laid out byte for byte
 * as docs/facts/stream-protocol.md lists them (little-endian, natural C alignment), plus
 * this project's extension messages (docs/PROTOCOL.md, "Extensions").
 *
 * Each message is declared once, as a field table copied from the spec's layout column ("Field
 * tables" below): the fields after the 8-byte header, in order, each with its wire type, its name
 * in the spec and the property it is here. Offsets follow from the order, so the tables spell out
 * every pad. Encoding, decoding, the payload sizes (REQUEST_BYTES and the service's) and the
 * decoded messages' TypeScript types are all derived from the tables; nothing else states a layout.
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

import type { FormatRange } from '../audio/formats.ts';

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
  EXT_GET_DELAY_INFO: 0xe005,
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
/** EXT_GET_DELAY_INFO: bytes of UTF-8 naming what is unknown (the response is 256 bytes in all). */
export const DELAY_UNKNOWN_TEXT_BYTES = 228;
export type CmdName = keyof typeof CMD;
export type CmdCode = (typeof CMD)[CmdName];

const CMD_NAMES = new Map<number, CmdName>(Object.entries(CMD).map(([k, v]) => [v, k as CmdName]));
/** The protocol's commands' names, made once: decoders and encoders name a message on every call. */
const CMD_LABELS = new Map<number, string>([...CMD_NAMES].map(([v, k]) => [v, `${k} (0x${v.toString(16)})`]));
/** 'SET_GAIN (0x1003)' or '0x1234' for codes that are not in the protocol. */
export function cmdName(code: number): string {
  return CMD_LABELS.get(code) ?? `0x${code.toString(16)}`;
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

// Sample formats, format-range flags, rate families and the format helpers live in one place,
// shared with the codec layer; re-exported here under the names this module always had.
export {
  FPS_44100_FAMILY, FPS_48000_FAMILY, RANGE_FLAG, SAMPLE_FORMAT, SAMPLE_FORMAT_FLAGS,
  bytesPerSample, rangeAccepts, rangeHasRate, sampleFormatBase,
} from '../audio/formats.ts';

export const SET_GAIN_FLAG = { MUTE_VALID: 0x1, AGC_VALID: 0x2, GAIN_VALID: 0x4, MUTE: 0x40000000, AGC: 0x80000000 } as const;
export const PLUG_REQ_FLAG = { NONE: 0, ENABLE_NOTIFICATIONS: 0x40000000, DISABLE_NOTIFICATIONS: 0x80000000 } as const;
export const PLUG_STATE_FLAG = { HARDWIRED: 0x1, CAN_NOTIFY: 0x2, PLUGGED: 0x80000000 } as const;
export const STRING_ID = { MANUFACTURER: 0x80000000, PRODUCT: 0x80000001 } as const;

export const FORMATS_PER_RESPONSE = 15;
export const STRING_MAX_BYTES = 236;
export const UNIQUE_ID_BYTES = 16;
/** The ring-buffer token: four zero bytes (a request never has transaction_id 0) and 12 random bytes. */
export const RB_TOKEN_BYTES = 16;

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

export type Decoded<T> = { ok: true; value: T } | { ok: false; violation: Violation };

function bad<T>(msg: string, field: string, detail: string): Decoded<T> {
  return { ok: false, violation: { msg, field, detail } };
}

// ---------------------------------------------------------------------------------------------
// Wire types: what one row of a field table is
//
//   u8 u16 u32 i32 u64 i64 f32 f64   little-endian integers and IEEE floats (64-bit integers as BigInt)
//   bool8            a u8 that is 0 or 1 (cur_mute, can_agc, ...)
//   bytes[N]         N opaque bytes (the unique id)
//   utf8[N]          u32 strlen, then N bytes: strlen bytes of UTF-8 and zeros after them
//   pad[N]           N bytes that carry nothing (zero on send, ignored on receipt), where C alignment puts them
//   array[N]         up to N elements of another table, last in its message: a frame may end after any whole element

/** A field that carries a value: the property `key`, of type V, read and written at its offset. */
export interface ValueField<K extends string = string, V = unknown> {
  /** The wire type as the tables' legend writes it: 'u32', 'bool8', 'bytes[16]', 'utf8[236]'. */
  readonly type: string;
  /** The field's name in the spec; encode errors and violations name it. */
  readonly wire: string;
  readonly key: K;
  readonly bytes: number;
  /** Natural C alignment: the field's offset is a multiple of it. */
  readonly align: number;
  /** Why `value` cannot go on the wire, or undefined when it can. */
  problem(value: unknown): string | undefined;
  write(view: DataView, at: number, value: V): void;
  read(view: DataView, at: number, frame: Uint8Array): V;
  /** Why what a peer sent here is no value at all (only where some bit patterns are not), or undefined. */
  violation?(view: DataView, at: number): { field: string; detail: string } | undefined;
}

/** Bytes that carry nothing. */
export interface PadField {
  readonly type: string;
  readonly wire: 'pad';
  readonly key: '';
  readonly bytes: number;
  readonly align: 1;
}

/** Up to `max` elements of another table, last in its message (GET_FORMATS' format ranges). */
export interface ArrayField<K extends string = string, T extends Table = Table> {
  readonly type: string;
  readonly wire: string;
  readonly key: K;
  readonly of: T;
  readonly max: number;
  /** All `max` elements. */
  readonly bytes: number;
  readonly align: number;
}

export type Field = ValueField | PadField | ArrayField;
export type Table = readonly Field[];

/** The object a table reads into and writes from: one property per field that carries a value. */
export type Values<T extends Table> = { [F in T[number] as F extends PadField ? never : F['key']]: ValueOf<F> };
type ValueOf<F> = F extends ArrayField<string, infer E> ? Values<E>[] : F extends ValueField<string, infer V> ? V : never;

function isPadField(f: Field): f is PadField {
  return f.wire === 'pad';
}
function isArrayField(f: Field): f is ArrayField {
  return 'of' in f;
}

function keyOf<W extends string, K extends string>(wire: W, key: K | undefined): K {
  return (key ?? wire) as K;
}

/** A fixed-width type: returns the constructor the tables use, `type(specName, property = specName)`. */
function scalar<V>(
  type: string, bytes: number, problem: (value: unknown) => string | undefined,
  read: (view: DataView, at: number) => V, write: (view: DataView, at: number, value: V) => void,
) {
  return <W extends string, K extends string = W>(wire: W, key?: K): ValueField<K, V> =>
    ({ type, wire, key: keyOf(wire, key), bytes, align: bytes, problem, read, write });
}
const integerIn = (min: number, max: number, expected: string) => (v: unknown) =>
  (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `expected ${expected}, got ${v}`);
const bigintIn = (min: bigint, max: bigint, expected: string) => (v: unknown) =>
  (typeof v === 'bigint' && v >= min && v <= max ? undefined : `expected ${expected}, got ${v}`);
const aNumber = (v: unknown) => (typeof v === 'number' && !Number.isNaN(v) ? undefined : `expected a number, got ${v}`);

const u8 = scalar('u8', 1, integerIn(0, 0xff, 'an integer 0..255'), (v, at) => v.getUint8(at), (v, at, x: number) => v.setUint8(at, x));
const u16 = scalar('u16', 2, integerIn(0, 0xffff, 'an integer 0..65535'), (v, at) => v.getUint16(at, true), (v, at, x: number) => v.setUint16(at, x, true));
const u32 = scalar('u32', 4, integerIn(0, 0xffffffff, 'an integer 0..4294967295'), (v, at) => v.getUint32(at, true), (v, at, x: number) => v.setUint32(at, x, true));
const i32 = scalar('i32', 4, integerIn(-0x80000000, 0x7fffffff, 'a 32-bit signed integer'), (v, at) => v.getInt32(at, true), (v, at, x: number) => v.setInt32(at, x, true));
const u64 = scalar('u64', 8, bigintIn(0n, 2n ** 64n - 1n, '0..2^64-1'), (v, at) => v.getBigUint64(at, true), (v, at, x: bigint) => v.setBigUint64(at, x, true));
const i64 = scalar('i64', 8, bigintIn(-(2n ** 63n), 2n ** 63n - 1n, 'a 64-bit signed integer'), (v, at) => v.getBigInt64(at, true), (v, at, x: bigint) => v.setBigInt64(at, x, true));
const f32 = scalar('f32', 4, aNumber, (v, at) => v.getFloat32(at, true), (v, at, x: number) => v.setFloat32(at, x, true));
const f64 = scalar('f64', 8, aNumber, (v, at) => v.getFloat64(at, true), (v, at, x: number) => v.setFloat64(at, x, true));
// Any value goes: a truthy one is 1.
const bool8 = scalar('bool8', 1, () => undefined, (v, at) => v.getUint8(at) !== 0, (v, at, x: boolean) => v.setUint8(at, x ? 1 : 0));

function bytes<W extends string, K extends string = W>(n: number, wire: W, key?: K): ValueField<K, Uint8Array> {
  return {
    type: `bytes[${n}]`, wire, key: keyOf(wire, key), bytes: n, align: 1,
    problem: (v) => (v instanceof Uint8Array && v.byteLength === n ? undefined : `expected ${n} bytes, got ${(v as Uint8Array | undefined)?.byteLength}`),
    read: (_v, at, frame) => frame.slice(at, at + n),
    write: (v, at, x) => new Uint8Array(v.buffer, v.byteOffset + at, n).set(x),
  };
}
/** u32 strlen, then `n` bytes of UTF-8 (zero after the text); a text longer than `n` bytes is cut. */
function utf8<W extends string, K extends string = W>(n: number, wire: W, key?: K): ValueField<K, string> {
  return {
    type: `utf8[${n}]`, wire, key: keyOf(wire, key), bytes: 4 + n, align: 4,
    problem: (v) => (typeof v === 'string' ? undefined : `expected a string, got ${v}`),
    violation: (v, at) => {
      const strlen = v.getUint32(at, true);
      return strlen > n ? { field: 'strlen', detail: `${strlen} is more than ${n}` } : undefined;
    },
    read: (v, at, frame) => new TextDecoder().decode(frame.subarray(at + 4, at + 4 + v.getUint32(at, true))),
    write: (v, at, x) => {
      const text = utf8Truncate(x, n);
      v.setUint32(at, text.byteLength, true);
      new Uint8Array(v.buffer, v.byteOffset + at + 4, n).set(text);
    },
  };
}
function pad(n: number): PadField {
  return { type: `pad[${n}]`, wire: 'pad', key: '', bytes: n, align: 1 };
}
function array<T extends Table, W extends string, K extends string = W>(max: number, of: T, wire: W, key?: K): ArrayField<K, T> {
  const element = tableBytes(of);
  return { type: `array[${max}]`, wire, key: keyOf(wire, key), of, max, bytes: element * max, align: Math.max(...of.map((f) => f.align)) };
}

function tableBytes(t: Table): number {
  return t.reduce((n, f) => n + f.bytes, 0);
}

/** Cuts UTF-8 text to at most `max` bytes without splitting a character. */
export function utf8Truncate(text: string, max: number): Uint8Array {
  const all = new TextEncoder().encode(text);
  if (all.byteLength <= max) return all;
  let end = max;
  while (end > 0 && (all[end]! & 0xc0) === 0x80) end--; // back up to the start of the cut character
  return all.subarray(0, end);
}

// ---------------------------------------------------------------------------------------------
// Field tables: every message's payload after the header, as the spec's layout column lists it

/** Every message starts with it (the spec's "Header"). */
const HEADER = [
  u32('transaction_id', 'txid'),
  u32('cmd'), // with NO_ACK OR'ed in, on the requests that allow it
] as const;
export const HEADER_BYTES = tableBytes(HEADER);

/** One format range: an element of GET_FORMATS (16 bytes, packed). */
const FORMAT_RANGE = [
  u32('sample_formats', 'sampleFormats'),
  u32('min_frames_per_second', 'minFps'),
  u32('max_frames_per_second', 'maxFps'),
  u8('min_channels', 'minChannels'),
  u8('max_channels', 'maxChannels'),
  u16('flags'),
] as const;

// Requests (client → service)

const HEADER_ONLY = [] as const;

const SET_FORMAT_REQUEST = [
  u32('frames_per_second', 'fps'),
  u32('sample_format', 'sampleFormat'),
  u16('channels'),
  pad(6),
  u64('channels_to_use_bitmask', 'channelsToUse'), // 0 = all channels
] as const;

const SET_GAIN_REQUEST = [
  u32('flags'), // SET_GAIN_FLAG
  f32('gain'),
] as const;

/** PLUG_DETECT, EXT_GAIN_NOTIFY, EXT_RB_NOTIFY: ENABLE_NOTIFICATIONS / DISABLE_NOTIFICATIONS. */
const NOTIFY_FLAGS_REQUEST = [
  u32('flags'), // PLUG_REQ_FLAG
] as const;

const GET_STRING_REQUEST = [
  u32('id'), // STRING_ID
] as const;

const EXTERNAL_DELAY_REQUEST = [
  u32('frames_per_second', 'fps'),
] as const;

const GET_BUFFER_REQUEST = [
  u32('min_ring_buffer_frames', 'minFrames'),
  u32('notifications_per_ring', 'notificationsPerRing'),
] as const;

// Responses and notifications (service → client)

/** Cut after its last valid range (at least the 16 bytes before the ranges), as the seed allows. */
const GET_FORMATS_RESPONSE = [
  pad(4),
  u16('format_range_count', 'total'),
  u16('first_format_range_ndx', 'first'),
  array(FORMATS_PER_RESPONSE, FORMAT_RANGE, 'format_ranges', 'ranges'),
] as const;

/** SET_FORMAT's response (which the ring-buffer token follows on success) and EXT_GET_EXTERNAL_DELAY's. */
const RESULT_AND_DELAY = [
  i32('result'),
  pad(4),
  u64('external_delay_nsec', 'externalDelayNs'),
] as const;

/** GET_GAIN's response; also EXT_GAIN_NOTIFY's response and the EXT_GAIN_CHANGED notification. */
const GAIN_STATE = [
  bool8('cur_mute', 'curMute'),
  bool8('cur_agc', 'curAgc'),
  pad(2),
  f32('cur_gain', 'curGain'),
  bool8('can_mute', 'canMute'),
  bool8('can_agc', 'canAgc'),
  pad(2),
  f32('min_gain', 'minGain'),
  f32('max_gain', 'maxGain'),
  f32('gain_step', 'gainStep'),
] as const;

const SET_GAIN_RESPONSE = [
  i32('result'),
  bool8('cur_mute', 'curMute'),
  bool8('cur_agc', 'curAgc'),
  pad(2),
  f32('cur_gain', 'curGain'),
] as const;

/** PLUG_DETECT's response and the PLUG_DETECT_NOTIFY notification. */
const PLUG_STATE = [
  u32('flags'), // PLUG_STATE_FLAG
  pad(4),
  i64('plug_state_time', 'plugStateTimeNs'),
] as const;

const GET_UNIQUE_ID_RESPONSE = [
  bytes(UNIQUE_ID_BYTES, 'unique_id', 'id'),
] as const;

const GET_STRING_RESPONSE = [
  i32('result'),
  u32('id'),
  utf8(STRING_MAX_BYTES, 'str', 'text'),
] as const;

const GET_CLOCK_DOMAIN_RESPONSE = [
  i32('clock_domain', 'clockDomain'),
] as const;

/** STOP's response; also EXT_OBSERVE's and EXT_RB_NOTIFY's. */
const RESULT_ONLY = [
  i32('result'),
] as const;

const GET_FIFO_DEPTH_RESPONSE = [
  i32('result'),
  u32('fifo_depth', 'fifoDepth'), // bytes
] as const;

/** Followed by the shared buffer's path on success. */
const GET_BUFFER_RESPONSE = [
  i32('result'),
  u32('num_ring_buffer_frames', 'frames'),
] as const;

const START_RESPONSE = [
  i32('result'),
  pad(4),
  u64('start_time', 'startTimeNs'), // CLOCK_MONOTONIC ns
] as const;

const POSITION_NOTIFY = [
  i64('monotonic_time', 'monotonicTimeNs'),
  u32('ring_buffer_pos', 'ringBufferPos'), // bytes
  pad(4),
] as const;

const GET_PURPOSE_RESPONSE = [
  i32('result'),
  u32('purpose'), // PURPOSE
  utf8(PURPOSE_NAME_BYTES, 'name'),
] as const;

/** EXT_GET_DELAY_INFO response: the external delay split into its known part and what is unknown. */
const DELAY_INFO_RESPONSE = [
  i32('result'),
  u32('unknown_count', 'unknownCount'), // items of the delay with no figure; 0 = the delay is complete
  u64('known_delay_nsec', 'knownDelayNs'), // = external_delay_nsec: the sum of the known items
  utf8(DELAY_UNKNOWN_TEXT_BYTES, 'unknown', 'unknown'), // what is unknown, items joined by "; "
] as const;

const RB_ERROR_NOTIFY = [
  i64('monotonic_time', 'monotonicTimeNs'),
  i32('status'),
  u32('kind'), // RB_ERROR_KIND
  u32('count'),
  u32('total'),
] as const;

const RB_CLOCK_NOTIFY = [
  i64('monotonic_time', 'monotonicTimeNs'),
  i32('rate_ppb', 'ratePpb'),
  u32('window_frames', 'windowFrames'),
  f64('measured_fps', 'measuredFps'),
] as const;

// ---------------------------------------------------------------------------------------------
// Which table each command uses

/** Every request, as the spec's command table lists it: its channel, whether it allows NO_ACK, its payload. */
const REQUESTS = {
  [CMD.GET_FORMATS]:               { channel: 'stream',      noAck: false, fields: HEADER_ONLY },
  [CMD.SET_FORMAT]:                { channel: 'stream',      noAck: false, fields: SET_FORMAT_REQUEST },
  [CMD.GET_GAIN]:                  { channel: 'stream',      noAck: false, fields: HEADER_ONLY },
  [CMD.SET_GAIN]:                  { channel: 'stream',      noAck: true,  fields: SET_GAIN_REQUEST },
  [CMD.PLUG_DETECT]:               { channel: 'stream',      noAck: true,  fields: NOTIFY_FLAGS_REQUEST },
  [CMD.GET_UNIQUE_ID]:             { channel: 'stream',      noAck: false, fields: HEADER_ONLY },
  [CMD.GET_STRING]:                { channel: 'stream',      noAck: false, fields: GET_STRING_REQUEST },
  [CMD.GET_CLOCK_DOMAIN]:          { channel: 'stream',      noAck: false, fields: HEADER_ONLY },
  [CMD.EXT_GET_EXTERNAL_DELAY]:    { channel: 'stream',      noAck: false, fields: EXTERNAL_DELAY_REQUEST },
  [CMD.EXT_GAIN_NOTIFY]:           { channel: 'stream',      noAck: true,  fields: NOTIFY_FLAGS_REQUEST },
  [CMD.EXT_OBSERVE]:               { channel: 'stream',      noAck: false, fields: HEADER_ONLY },
  [CMD.EXT_GET_PURPOSE]:           { channel: 'stream',      noAck: false, fields: HEADER_ONLY },
  [CMD.EXT_GET_DELAY_INFO]:        { channel: 'stream',      noAck: false, fields: EXTERNAL_DELAY_REQUEST },
  [CMD.RB_GET_FIFO_DEPTH]:         { channel: 'ring-buffer', noAck: false, fields: HEADER_ONLY },
  [CMD.RB_GET_BUFFER]:             { channel: 'ring-buffer', noAck: false, fields: GET_BUFFER_REQUEST },
  [CMD.RB_START]:                  { channel: 'ring-buffer', noAck: false, fields: HEADER_ONLY },
  [CMD.RB_STOP]:                   { channel: 'ring-buffer', noAck: false, fields: HEADER_ONLY },
  [CMD.EXT_RB_NOTIFY]:             { channel: 'ring-buffer', noAck: true,  fields: NOTIFY_FLAGS_REQUEST },
} as const;

/**
 * Everything the service sends. `trailer`: what R-FRAME-3 lets follow the struct in the same frame,
 * standing in for a Zircon handle (the ring-buffer token after SET_FORMAT, the shared buffer's
 * path after GET_BUFFER), both on success only.
 */
const SERVICE_MESSAGES = {
  [CMD.GET_FORMATS]:               { fields: GET_FORMATS_RESPONSE },
  [CMD.SET_FORMAT]:                { fields: RESULT_AND_DELAY, trailer: 'token' },
  [CMD.GET_GAIN]:                  { fields: GAIN_STATE },
  [CMD.SET_GAIN]:                  { fields: SET_GAIN_RESPONSE },
  [CMD.PLUG_DETECT]:               { fields: PLUG_STATE },
  [CMD.GET_UNIQUE_ID]:             { fields: GET_UNIQUE_ID_RESPONSE },
  [CMD.GET_STRING]:                { fields: GET_STRING_RESPONSE },
  [CMD.GET_CLOCK_DOMAIN]:          { fields: GET_CLOCK_DOMAIN_RESPONSE },
  [CMD.PLUG_DETECT_NOTIFY]:        { fields: PLUG_STATE },
  [CMD.RB_GET_FIFO_DEPTH]:         { fields: GET_FIFO_DEPTH_RESPONSE },
  [CMD.RB_GET_BUFFER]:             { fields: GET_BUFFER_RESPONSE, trailer: 'path' },
  [CMD.RB_START]:                  { fields: START_RESPONSE },
  [CMD.RB_STOP]:                   { fields: RESULT_ONLY },
  [CMD.RB_POSITION_NOTIFY]:        { fields: POSITION_NOTIFY },
  [CMD.EXT_GET_EXTERNAL_DELAY]:    { fields: RESULT_AND_DELAY },
  [CMD.EXT_GAIN_NOTIFY]:           { fields: GAIN_STATE },
  [CMD.EXT_GAIN_CHANGED]:          { fields: GAIN_STATE },
  [CMD.EXT_OBSERVE]:               { fields: RESULT_ONLY },
  [CMD.EXT_GET_PURPOSE]:           { fields: GET_PURPOSE_RESPONSE },
  [CMD.EXT_GET_DELAY_INFO]:        { fields: DELAY_INFO_RESPONSE },
  [CMD.EXT_RB_NOTIFY]:             { fields: RESULT_ONLY },
  [CMD.EXT_RB_ERROR]:              { fields: RB_ERROR_NOTIFY },
  [CMD.EXT_RB_CLOCK]:              { fields: RB_CLOCK_NOTIFY },
} as const;

type RequestRows = typeof REQUESTS;
type ServiceRows = typeof SERVICE_MESSAGES;
type Flat<T> = { [K in keyof T]: T[K] };

type RequestOf<C extends keyof RequestRows> = Flat<{ cmd: C; txid: number; noAck: boolean } & Values<RequestRows[C]['fields']>>;
type RequestsOn<Channel> = { [C in keyof RequestRows]: RequestRows[C]['channel'] extends Channel ? RequestOf<C> : never }[keyof RequestRows];
export type StreamRequest = RequestsOn<'stream'>;
export type RingBufferRequest = RequestsOn<'ring-buffer'>;

type TrailerOf<Row> = Row extends { trailer: 'token' } ? { token: Uint8Array | undefined }
  : Row extends { trailer: 'path' } ? { bufferPath: string | undefined } : unknown;
type ServiceMessageOf<C extends keyof ServiceRows> = Flat<{ cmd: C; txid: number } & Values<ServiceRows[C]['fields']> & TrailerOf<ServiceRows[C]>>;
export type ServiceMessage = { [C in keyof ServiceRows]: ServiceMessageOf<C> }[keyof ServiceRows];

/** A format range as GET_FORMATS carries it (16 bytes each). */
export type FormatRangeWire = FormatRange;
/** The gain state GET_GAIN, EXT_GAIN_NOTIFY and EXT_GAIN_CHANGED carry. */
export type GainStateWire = Values<typeof GAIN_STATE>;

/** One message with what follows from its table. */
export interface WireMessage {
  readonly cmd: number;
  /** What encode errors call it: 'SET_FORMAT', 'SET_FORMAT response', 'RB_POSITION_NOTIFY'. */
  readonly name: string;
  readonly from: 'client' | 'service';
  readonly fields: Table;
  /** Payload size, header included; with every element of a trailing array (GET_FORMATS: 256). */
  readonly bytes: number;
  /** Requests: the channel that carries them and whether they allow NO_ACK. */
  readonly channel?: 'stream' | 'ring-buffer';
  readonly noAck?: boolean;
  readonly trailer?: 'token' | 'path';
  /** What a decoder's violations call it: 'GET_GAIN (0x1002)', 'GET_GAIN (0x1002) from the service'. */
  readonly label: string;
  /** The table's value fields at their offsets, worked out from it once (tables without an array); see planOf. */
  readonly plan?: readonly Step[];
}

/** A value field of a message at its offset: one step of a plan. */
interface Step {
  readonly field: ValueField;
  readonly key: string;
  readonly at: number;
}

/**
 * A table without an array as the list of its value fields and their offsets, made once when the
 * module loads. Decoding and encoding by a plan do what readFields and writeFields do, without
 * walking past the pads and asking each row what kind it is on every message (a control round
 * trip is mostly such small costs: bench/control-rtt.ts). The table stays the one statement of
 * the layout; a plan is only its offsets added up. Undefined for a table with an array.
 */
function planOf(t: Table, start: number): Step[] | undefined {
  const steps: Step[] = [];
  let at = start;
  for (const f of t) {
    if (isArrayField(f)) return undefined;
    if (!isPadField(f)) steps.push({ field: f, key: f.key, at });
    at += f.bytes;
  }
  return steps;
}

/**
 * Checks a table against natural C alignment, which the spec's structs follow: a field whose
 * offset is not a multiple of its size, or a struct whose size is not a multiple of its widest
 * member, means a pad is missing from the table (and every later offset would be wrong).
 */
function checkAlignment(name: string, t: Table, start: number): void {
  let at = start;
  t.forEach((f, i) => {
    if (at % f.align !== 0) throw new Error(`wire.ts: ${name}.${f.wire} at offset ${at} is not ${f.align}-byte aligned: a pad is missing`);
    if (isArrayField(f)) {
      if (i !== t.length - 1) throw new Error(`wire.ts: ${name}.${f.wire}: an array must be the last field (a frame may be cut after it)`);
      checkAlignment(`${name}.${f.wire}[]`, f.of, 0);
    }
    at += f.bytes;
  });
  // A message counts its header's u32s; an element of an array only its own fields.
  const widest = Math.max(start === 0 ? 1 : 4, ...t.map((f) => f.align));
  if (at % widest !== 0) throw new Error(`wire.ts: ${name} is ${at} bytes, not a multiple of ${widest}: a trailing pad is missing`);
}

function defineMessages(from: 'client' | 'service', rows: Record<number, Pick<WireMessage, 'fields' | 'channel' | 'noAck' | 'trailer'>>): Map<number, WireMessage> {
  const out = new Map<number, WireMessage>();
  for (const [code, row] of Object.entries(rows)) {
    const cmd = Number(code);
    const key = CMD_NAMES.get(cmd)!;
    // Requests go by their command's name; the service's answers add 'response'; notifications answer nothing.
    const name = from === 'client' ? key : cmd in REQUESTS ? `${key} response` : key;
    checkAlignment(name, row.fields, HEADER_BYTES);
    const label = from === 'client' ? cmdName(cmd) : `${cmdName(cmd)} from the service`;
    out.set(cmd, { cmd, name, from, bytes: HEADER_BYTES + tableBytes(row.fields), label, ...row, plan: planOf(row.fields, HEADER_BYTES) });
  }
  return out;
}

const REQUEST_BY_CMD = defineMessages('client', REQUESTS);
const SERVICE_BY_CMD = defineMessages('service', SERVICE_MESSAGES);

/** Every message of the protocol and its extensions, requests first. */
export const WIRE_MESSAGES: readonly WireMessage[] = [...REQUEST_BY_CMD.values(), ...SERVICE_BY_CMD.values()];

/** Payload size of each request a client may send, header included. */
export const REQUEST_BYTES: ReadonlyMap<number, number> = new Map([...REQUEST_BY_CMD].map(([cmd, m]) => [cmd, m.bytes]));
export const STREAM_REQUESTS: ReadonlySet<number> = new Set([...REQUEST_BY_CMD.values()].filter((m) => m.channel === 'stream').map((m) => m.cmd));
export const RING_BUFFER_REQUESTS: ReadonlySet<number> = new Set([...REQUEST_BY_CMD.values()].filter((m) => m.channel === 'ring-buffer').map((m) => m.cmd));
export const NO_ACK_ALLOWED: ReadonlySet<number> = new Set([...REQUEST_BY_CMD.values()].filter((m) => m.noAck).map((m) => m.cmd));

export const FORMAT_RANGE_BYTES = tableBytes(FORMAT_RANGE);
export const GET_FORMATS_RESP_MAX = SERVICE_BY_CMD.get(CMD.GET_FORMATS)!.bytes;
export const GET_FORMATS_RESP_MIN = GET_FORMATS_RESP_MAX - FORMATS_PER_RESPONSE * FORMAT_RANGE_BYTES;

// ---------------------------------------------------------------------------------------------
// Encoding and decoding by table

/** A message's values by property (what the tables read into and write from). */
type FieldValues = Readonly<Record<string, unknown>>;

/** Writes `values` as table `t` from offset `at`; returns where it ended (a trailing array may end early). */
function writeFields(msg: string, view: DataView, at: number, t: Table, values: FieldValues, path = ''): number {
  for (const f of t) {
    if (isPadField(f)) {
      at += f.bytes; // already zero
      continue;
    }
    const value = values[f.key];
    if (isArrayField(f)) {
      if (!Array.isArray(value)) throw new WireEncodeError(msg, path + f.wire, `expected an array, got ${value}`);
      if (value.length > f.max) throw new WireEncodeError(msg, path + f.wire, `at most ${f.max} per message, got ${value.length}`);
      value.forEach((element: FieldValues, i) => {
        at = writeFields(msg, view, at, f.of, element, `${path}${f.wire}[${i}].`);
      });
      continue;
    }
    const problem = f.problem(value);
    if (problem) throw new WireEncodeError(msg, path + f.wire, problem);
    f.write(view, at, value);
    at += f.bytes;
  }
  return at;
}

/** Reads table `t` from offset `at` into `out`; a trailing array takes the whole elements the frame holds. */
function readFields(msg: string, frame: Uint8Array, view: DataView, at: number, t: Table, out: Record<string, unknown>): Violation | undefined {
  for (const f of t) {
    if (isPadField(f)) {
      at += f.bytes;
      continue;
    }
    if (isArrayField(f)) {
      const elementBytes = f.bytes / f.max;
      const count = Math.min(f.max, Math.floor((frame.byteLength - at) / elementBytes));
      const list: Record<string, unknown>[] = [];
      for (let i = 0; i < count; i++, at += elementBytes) {
        const element: Record<string, unknown> = {};
        const v = readFields(msg, frame, view, at, f.of, element);
        if (v) return v;
        list.push(element);
      }
      out[f.key] = list;
      continue;
    }
    const v = f.violation?.(view, at);
    if (v) return { msg, ...v };
    out[f.key] = f.read(view, at, frame);
    at += f.bytes;
  }
  return undefined;
}

/**
 * Where messages are written before they are copied out whole: one buffer for the module, already
 * a real ArrayBuffer. A DataView over a fresh small Uint8Array makes V8 move the array's bytes off
 * its heap into a buffer of their own first, which cost about a microsecond per message, more than
 * all the writing (measured for issue 26, bench/control-rtt.ts); a copy out of this one does not.
 * Encoding is synchronous, so one scratch serves every call.
 */
const SCRATCH = new Uint8Array(new ArrayBuffer(MAX_FRAME_BYTES));
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);

/** Writes `values` by a plan (writeFields' checks and writes, at offsets worked out once). */
function writePlan(msg: string, view: DataView, plan: readonly Step[], values: FieldValues): void {
  for (let i = 0; i < plan.length; i++) {
    const s = plan[i]!;
    const value = values[s.key];
    const problem = s.field.problem(value);
    if (problem) throw new WireEncodeError(msg, s.field.wire, problem);
    s.field.write(view, s.at, value);
  }
}

/** Reads a frame by a plan into `out` (readFields' reads and checks, at offsets worked out once). */
function readPlan(msg: string, frame: Uint8Array, view: DataView, plan: readonly Step[], out: Record<string, unknown>): Violation | undefined {
  for (let i = 0; i < plan.length; i++) {
    const s = plan[i]!;
    const v = s.field.violation?.(view, s.at);
    if (v) return { msg, ...v };
    out[s.key] = s.field.read(view, s.at, frame);
  }
  return undefined;
}

/** A message of `m`'s table: header, fields, then the trailer (if any). */
function encodeMessage(m: Pick<WireMessage, 'cmd' | 'name' | 'fields' | 'bytes' | 'plan'>, txid: number, values: FieldValues, noAck = false, trailer?: Uint8Array): Uint8Array {
  const size = m.bytes + (trailer?.byteLength ?? 0);
  // Larger than any frame either side accepts (a test's oversized trailer): a buffer of its own.
  const out = size <= SCRATCH.byteLength ? SCRATCH : new Uint8Array(new ArrayBuffer(size));
  const view = out === SCRATCH ? SCRATCH_VIEW : new DataView(out.buffer);
  out.fill(0, 0, size); // pads are zero
  let end = writeHeader(m.name, view, txid, (m.cmd | (noAck ? NO_ACK : 0)) >>> 0);
  if (m.plan) {
    writePlan(m.name, view, m.plan, values);
    end = m.bytes;
  } else end = writeFields(m.name, view, end, m.fields, values);
  if (trailer) {
    out.set(trailer, end);
    end += trailer.byteLength;
  }
  return out.slice(0, end);
}

/**
 * The header's two fields, written and read by their rows of HEADER without an object in between
 * (every message passes through here; a control round trip's cost is mostly such small things).
 */
const [TXID_FIELD, CMD_FIELD] = HEADER;
const CMD_AT = TXID_FIELD.bytes;
function writeHeader(msg: string, view: DataView, txid: number, cmd: number): number {
  const bad = TXID_FIELD.problem(txid) ?? CMD_FIELD.problem(cmd);
  if (bad) throw new WireEncodeError(msg, TXID_FIELD.problem(txid) ? TXID_FIELD.wire : CMD_FIELD.wire, bad);
  TXID_FIELD.write(view, 0, txid);
  CMD_FIELD.write(view, CMD_AT, cmd);
  return HEADER_BYTES;
}

function requestMessage(cmd: number): WireMessage {
  const m = REQUEST_BY_CMD.get(cmd);
  if (!m) throw new WireEncodeError(cmdName(cmd), 'cmd', 'not a request of the protocol');
  return m;
}
function serviceMessage(cmd: number): WireMessage {
  const m = SERVICE_BY_CMD.get(cmd);
  if (!m) throw new WireEncodeError(cmdName(cmd), 'cmd', 'not a message the service sends');
  return m;
}

/** `values` given in table order, keyed by their fields (the encoders named after a shape: encodeI32Response and the like). */
function inTableOrder(m: WireMessage, values: readonly unknown[]): FieldValues {
  const fields = m.fields.filter((f) => !isPadField(f));
  if (fields.length !== values.length) throw new WireEncodeError(m.name, 'cmd', `has ${fields.length} fields, not the ${values.length} this encoder writes`);
  return Object.fromEntries(fields.map((f, i) => [f.key, values[i]]));
}

// ---------------------------------------------------------------------------------------------
// Header

export interface Header {
  txid: number;
  /** The command without the NO_ACK bit. */
  cmd: number;
  noAck: boolean;
}

/** Reads the header; undefined when the frame is shorter than a header. */
export function readHeader(frame: Uint8Array): Header | undefined {
  if (frame.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const raw = CMD_FIELD.read(view, CMD_AT, frame);
  return { txid: TXID_FIELD.read(view, 0, frame), cmd: (raw & ~NO_ACK) >>> 0, noAck: (raw & NO_ACK) !== 0 };
}

// ---------------------------------------------------------------------------------------------
// Requests (client → service)

/**
 * Checks a request frame against the rules every request obeys (header present, transaction
 * id not 0, a command of this channel, NO_ACK only where allowed, exact payload size), then reads it.
 */
function decodeRequest(frame: Uint8Array, channel: 'stream' | 'ring-buffer'): Decoded<Record<string, unknown>> {
  if (frame.byteLength < HEADER_BYTES) return bad('frame', 'length', `${frame.byteLength} bytes is shorter than the 8-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const txid = TXID_FIELD.read(view, 0, frame);
  const raw = CMD_FIELD.read(view, CMD_AT, frame);
  const cmd = (raw & ~NO_ACK) >>> 0;
  const noAck = (raw & NO_ACK) !== 0;
  if (txid === 0) return bad(cmdName(cmd), 'transaction_id', '0 is reserved for notifications; a client must never send it');
  const m = REQUEST_BY_CMD.get(cmd);
  if (m?.channel !== channel) return bad(cmdName(cmd), 'cmd', `not a request of the ${channel} channel`);
  if (noAck && !m.noAck) return bad(m.label, 'cmd', 'NO_ACK is not allowed on this command');
  if (frame.byteLength !== m.bytes) return bad(m.label, 'payload size', `${frame.byteLength} bytes, expected ${m.bytes}`);
  const value: Record<string, unknown> = { cmd, txid, noAck };
  const v = m.plan ? readPlan(m.label, frame, view, m.plan, value) : readFields(m.label, frame, view, HEADER_BYTES, m.fields, value);
  return v ? { ok: false, violation: v } : { ok: true, value };
}

export function decodeStreamRequest(frame: Uint8Array): Decoded<StreamRequest> {
  return decodeRequest(frame, 'stream') as Decoded<StreamRequest>;
}

export function decodeRingBufferRequest(frame: Uint8Array): Decoded<RingBufferRequest> {
  return decodeRequest(frame, 'ring-buffer') as Decoded<RingBufferRequest>;
}

/** The frame of a decoded request: the inverse of decodeStreamRequest and decodeRingBufferRequest. */
export function encodeRequest(r: StreamRequest | RingBufferRequest): Uint8Array {
  return encodeMessage(requestMessage(r.cmd), r.txid, r, r.noAck);
}

/**
 * A header-only frame (GET_FORMATS, GET_GAIN, GET_UNIQUE_ID, GET_CLOCK_DOMAIN, GET_FIFO_DEPTH,
 * START, STOP, EXT_OBSERVE, EXT_GET_PURPOSE). Any command is written as asked, so a test can
 * send what a client must not.
 */
export function encodeEmptyRequest(txid: number, cmd: number, noAck = false): Uint8Array {
  let m = EMPTY_REQUESTS.get(cmd);
  if (!m) EMPTY_REQUESTS.set(cmd, m = { cmd, name: cmdName(cmd), fields: HEADER_ONLY, bytes: HEADER_BYTES });
  return encodeMessage(m, txid, NO_VALUES, noAck);
}
/** encodeEmptyRequest's message of each command asked for so far (made once, not per request). */
const EMPTY_REQUESTS = new Map<number, Pick<WireMessage, 'cmd' | 'name' | 'fields' | 'bytes'>>();
const NO_VALUES: FieldValues = Object.freeze({});

export function encodeSetFormatRequest(txid: number, r: { fps: number; sampleFormat: number; channels: number; channelsToUse?: bigint }): Uint8Array {
  return encodeRequest({ cmd: CMD.SET_FORMAT, txid, noAck: false, fps: r.fps, sampleFormat: r.sampleFormat, channels: r.channels, channelsToUse: r.channelsToUse ?? 0n });
}

export function encodeSetGainRequest(txid: number, r: { flags: number; gain: number }, noAck = false): Uint8Array {
  return encodeRequest({ cmd: CMD.SET_GAIN, txid, noAck, flags: r.flags, gain: r.gain });
}

/** A 12-byte request with one u32 after the header (PLUG_DETECT flags, GET_STRING id, EXT_* ). */
export function encodeU32Request(txid: number, cmd: number, value: number, noAck = false): Uint8Array {
  const m = requestMessage(cmd);
  return encodeMessage(m, txid, inTableOrder(m, [value]), noAck);
}

export function encodeGetBufferRequest(txid: number, r: { minFrames: number; notificationsPerRing: number }): Uint8Array {
  return encodeRequest({ cmd: CMD.RB_GET_BUFFER, txid, noAck: false, minFrames: r.minFrames, notificationsPerRing: r.notificationsPerRing });
}

// ---------------------------------------------------------------------------------------------
// Responses and notifications (service → client)

/** The frame of a service message: the inverse of decodeServiceMessage. */
export function encodeServiceMessage(s: ServiceMessage): Uint8Array {
  const m = serviceMessage(s.cmd);
  const trailer = 'token' in s ? s.token : 'bufferPath' in s && s.bufferPath !== undefined ? new TextEncoder().encode(s.bufferPath) : undefined;
  return encodeMessage(m, s.txid, s, false, trailer);
}

/**
 * One page of GET_FORMATS: up to 15 ranges starting at `first`. The message is cut after its
 * last valid range (at least 16 bytes), as the seed allows.
 */
export function encodeGetFormatsResponse(txid: number, total: number, first: number, ranges: readonly FormatRangeWire[]): Uint8Array {
  return encodeMessage(serviceMessage(CMD.GET_FORMATS), txid, { total, first, ranges });
}

export function encodeSetFormatResponse(txid: number, result: number, externalDelayNs: bigint, token?: Uint8Array): Uint8Array {
  return encodeMessage(serviceMessage(CMD.SET_FORMAT), txid, { result, externalDelayNs }, false, token);
}

/** GET_GAIN response; the same layout carries this project's EXT_GAIN_NOTIFY response and EXT_GAIN_CHANGED notification. */
export function encodeGainState(txid: number, cmd: number, g: GainStateWire): Uint8Array {
  return encodeMessage(serviceMessage(cmd), txid, g);
}

export function encodeSetGainResponse(txid: number, result: number, s: { curMute: boolean; curAgc: boolean; curGain: number }): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.SET_GAIN, txid, result, curMute: s.curMute, curAgc: s.curAgc, curGain: s.curGain });
}

/** PLUG_DETECT response (txid of the request) or PLUG_DETECT_NOTIFY (txid 0). */
export function encodePlugState(txid: number, cmd: typeof CMD.PLUG_DETECT | typeof CMD.PLUG_DETECT_NOTIFY, flags: number, plugStateTimeNs: bigint): Uint8Array {
  return encodeServiceMessage({ cmd, txid, flags, plugStateTimeNs });
}

export function encodeUniqueIdResponse(txid: number, id: Uint8Array): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.GET_UNIQUE_ID, txid, id });
}

export function encodeGetStringResponse(txid: number, result: number, id: number, text: string): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.GET_STRING, txid, result, id, text });
}

/** Responses whose payload is one i32 after the header (GET_CLOCK_DOMAIN, STOP, EXT_OBSERVE, EXT_RB_NOTIFY). */
export function encodeI32Response(txid: number, cmd: number, value: number): Uint8Array {
  const m = serviceMessage(cmd);
  return encodeMessage(m, txid, inTableOrder(m, [value]));
}

/** Responses shaped i32 result + u32 (GET_FIFO_DEPTH, GET_BUFFER; GET_BUFFER appends the buffer path on success). */
export function encodeResultU32Response(txid: number, cmd: number, result: number, value: number, trailer?: Uint8Array): Uint8Array {
  const m = serviceMessage(cmd);
  return encodeMessage(m, txid, inTableOrder(m, [result, value]), false, trailer);
}

/** Responses shaped i32 result, 4 pad, u64 (START: start_time; EXT_GET_EXTERNAL_DELAY: external_delay_nsec). */
export function encodeResultU64Response(txid: number, cmd: number, result: number, value: bigint): Uint8Array {
  const m = serviceMessage(cmd);
  return encodeMessage(m, txid, inTableOrder(m, [result, value]));
}

export function encodePositionNotify(monotonicTimeNs: bigint, ringBufferPos: number): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.RB_POSITION_NOTIFY, txid: 0, monotonicTimeNs, ringBufferPos });
}

/** EXT_GET_PURPOSE response: i32 result, u32 purpose, u32 strlen, 28 bytes of UTF-8 name. */
export function encodePurposeResponse(txid: number, result: number, purpose: number, name: string): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.EXT_GET_PURPOSE, txid, result, purpose, name });
}

/** EXT_GET_DELAY_INFO response: i32 result, u32 unknown_count, u64 known_delay_nsec, u32 strlen, 228 bytes UTF-8. */
export function encodeDelayInfoResponse(txid: number, result: number, unknownCount: number, knownDelayNs: bigint, unknown: string): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.EXT_GET_DELAY_INFO, txid, result, unknownCount, knownDelayNs, unknown });
}

/** EXT_RB_ERROR (transaction_id 0): i64 monotonic_time, i32 status, u32 kind, u32 count, u32 total. */
export function encodeRbError(monotonicTimeNs: bigint, status: number, kind: number, count: number, total: number): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.EXT_RB_ERROR, txid: 0, monotonicTimeNs, status, kind, count, total });
}

/** EXT_RB_CLOCK (transaction_id 0): i64 monotonic_time, i32 rate_ppb, u32 window_frames, f64 measured_fps. */
export function encodeRbClock(monotonicTimeNs: bigint, ratePpb: number, windowFrames: number, measuredFps: number): Uint8Array {
  return encodeServiceMessage({ cmd: CMD.EXT_RB_CLOCK, txid: 0, monotonicTimeNs, ratePpb, windowFrames, measuredFps });
}

// ---------------------------------------------------------------------------------------------
// Client-side decoding of what the service sends

/** Why a frame's length does not fit what the service sends as `m` (R-FRAME-3), or undefined. */
function serviceSizeProblem(m: WireMessage, len: number): string | undefined {
  const last = m.fields[m.fields.length - 1];
  if (m.trailer === 'token') {
    return len === m.bytes || len === m.bytes + RB_TOKEN_BYTES ? undefined : `${len} bytes, expected ${m.bytes} (or ${m.bytes + RB_TOKEN_BYTES} with the ring-buffer token)`;
  }
  if (m.trailer === 'path') return len >= m.bytes ? undefined : `${len} bytes, expected at least ${m.bytes}`;
  if (last && isArrayField(last)) {
    const fixed = m.bytes - last.bytes;
    const element = last.bytes / last.max;
    return len >= fixed && len <= m.bytes && (len - fixed) % element === 0 ? undefined : `${len} bytes, expected ${fixed} + ${element}·n (n ≤ ${last.max})`;
  }
  return len === m.bytes ? undefined : `${len} bytes, expected ${m.bytes}`;
}

export function decodeServiceMessage(frame: Uint8Array): Decoded<ServiceMessage> {
  if (frame.byteLength < HEADER_BYTES) return bad('frame', 'length', `${frame.byteLength} bytes is shorter than the 8-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const txid = TXID_FIELD.read(view, 0, frame);
  const raw = CMD_FIELD.read(view, CMD_AT, frame);
  const cmd = (raw & ~NO_ACK) >>> 0;
  if ((raw & NO_ACK) !== 0) return bad(`${cmdName(cmd)} from the service`, 'cmd', 'the service never sets NO_ACK');
  const m = SERVICE_BY_CMD.get(cmd);
  if (!m) return bad(`${cmdName(cmd)} from the service`, 'cmd', 'not a message the service sends');
  const name = m.label;
  const len = frame.byteLength;
  const sizeProblem = serviceSizeProblem(m, len);
  if (sizeProblem) return bad(name, 'payload size', sizeProblem);
  const value: Record<string, unknown> = { cmd, txid };
  const v = m.plan ? readPlan(name, frame, view, m.plan, value) : readFields(name, frame, view, HEADER_BYTES, m.fields, value);
  if (v) return { ok: false, violation: v };
  if (m.trailer === 'token') {
    const result = value.result as number;
    if ((result === STATUS.OK) !== (len > m.bytes)) return bad(name, 'payload size', `${len} bytes with result ${statusName(result)}: the token comes with success only`);
    value.token = len > m.bytes ? frame.slice(m.bytes) : undefined;
  }
  if (m.trailer === 'path') value.bufferPath = len > m.bytes ? new TextDecoder().decode(frame.subarray(m.bytes)) : undefined;
  if (cmd === CMD.GET_FORMATS) {
    // A full 256-byte page carries 15 ranges; those past format_range_count are padding.
    value.ranges = (value.ranges as FormatRangeWire[]).slice(0, Math.max(0, (value.total as number) - (value.first as number)));
  }
  return { ok: true, value: value as ServiceMessage };
}

// ---------------------------------------------------------------------------------------------
// Format helpers shared by the service and clients

// sampleFormatBase, bytesPerSample, rangeHasRate, rangeAccepts: re-exported above from ../audio/formats.ts.

/** Hex dump 'aa bb cc' of bytes (test and log output). */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
