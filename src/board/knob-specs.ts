/**
 * The knobs' sections of a board file (docs/CONTROL.md, "Knobs"), checked: `midi` (the sequencer
 * port, the sources it connects, the controller mappings) and `encoder` (the rotary encoder on the
 * gpio roles encoder-a / encoder-b / encoder-push). Plain data and its checks only, so that the
 * board loader (./schema.ts) and the control layer (src/control/midi-map.ts, encoder.ts,
 * knobs.ts: a learned-mappings file) read them the same way. Errors are MappingSpecError naming
 * the field; the board loader turns them into BoardFileError naming the file too.
 */

export type MidiCurve = 'db' | 'cubic' | 'switch' | 'toggle' | 'zones';
export const MIDI_CURVES: readonly MidiCurve[] = ['db', 'cubic', 'switch', 'toggle', 'zones'];

export interface MidiMapping {
  /** 1..16 as people number MIDI channels, or 'any'. */
  channel: number | 'any';
  /** 0..127; with resolution 14: 0..31 (the MSB's number; the LSB is cc + 32, MIDI 1.0). */
  cc: number;
  resolution: 7 | 14;
  /** The control id without the board's name as the board file writes it ("speaker.gain"), or a full id; `resolve` decides. */
  control: string;
  curve: MidiCurve;
  /** Volumes: the dB at the bottom and the top of the travel (default: the control's percent mapping, else its range). */
  min?: number;
  max?: number;
  /** The travel turned round: raw → full scale − raw before the curve. */
  invert: boolean;
}

/** A mapping as a file writes it: the curve may be left to the control's kind (resolveMapping fills it in). */
export interface MidiMappingSpec extends Omit<MidiMapping, 'curve'> {
  /** Absent: defaultCurve of the control. */
  curve?: MidiCurve;
}

/** A field of a mapping (or an encoder's section) that is not what it must be. Message: `field: expected …, got …`, as BoardFileError's. */
export class MappingSpecError extends Error {
  constructor(readonly field: string, readonly expected: string, readonly got: unknown, readonly problem?: string) {
    super(`${field || '(top level)'}: ${problem ?? `expected ${expected}, got ${describeGot(got)}`}`);
    this.name = 'MappingSpecError';
  }
}

/** A value as an error message shows it (shortened, as src/board/schema.ts does). */
export function describeGot(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

/** A control id as a mapping names it: "speaker.gain", or with the board's name "sim.speaker.gain". */
export const MAPPING_CONTROL_ID = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*){1,2}$/;
const CONTROL_ID_WHAT = 'a control id ("speaker.gain", or with the board\'s name "sim.speaker.gain")';

const MAPPING_KEYS = ['channel', 'cc', 'resolution', 'control', 'curve', 'min', 'max', 'invert'];

type Obj = Record<string, unknown>;

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MappingSpecError(field, 'an object', v);
  return v as Obj;
}

function onlyKeys(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new MappingSpecError(`${field}.${k}`, `no such field (known fields: ${allowed.join(', ')})`, o[k]);
  }
}

function int(o: Obj, key: string, field: string, min: number, max: number, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new MappingSpecError(`${field}.${key}`, what, v);
  return v;
}

/**
 * Mappings from JSON (a learned-mappings file, a control-channel request): a list of
 * `{ channel, cc, resolution?, control, curve?, min?, max?, invert? }`. Throws MappingSpecError
 * naming the field (`${where}[2].cc`), what it must be and what it was. The same channel and
 * controller twice in one list is refused (which one would win is not obvious), as is a 7-bit
 * mapping on the LSB controller of a 14-bit one on the same channel (that controller is the LSB).
 */
export function parseMidiMappings(raw: unknown, where: string): MidiMappingSpec[] {
  if (!Array.isArray(raw)) throw new MappingSpecError(where, 'a list of mappings { channel, cc, control, ... }', raw);
  const out: MidiMappingSpec[] = [];
  const seen = new Map<string, number>();
  (raw as unknown[]).forEach((x, i) => {
    const p = `${where}[${i}]`;
    const e = obj(x, p);
    onlyKeys(e, p, MAPPING_KEYS);
    const channel = e.channel === 'any' ? 'any' : int(e, 'channel', p, 1, 16, 'a MIDI channel 1..16 or "any"');
    let resolution: 7 | 14 = 7;
    if (e.resolution !== undefined) {
      if (e.resolution !== 7 && e.resolution !== 14) throw new MappingSpecError(`${p}.resolution`, '7 or 14 (bits: one controller, or an MSB with its LSB at cc + 32)', e.resolution);
      resolution = e.resolution;
    }
    const cc = resolution === 14
      ? int(e, 'cc', p, 0, 31, 'a controller number 0..31 (a 14-bit controller\'s MSB; its LSB is cc + 32)')
      : int(e, 'cc', p, 0, 127, 'a controller number 0..127');
    const key = `${channel}/${cc}`;
    const before = seen.get(key);
    if (before !== undefined) throw new MappingSpecError(`${p}.cc`, `a controller not mapped already on channel ${channel} (${where}[${before}] maps it)`, cc);
    seen.set(key, i);
    if (typeof e.control !== 'string' || !MAPPING_CONTROL_ID.test(e.control)) throw new MappingSpecError(`${p}.control`, CONTROL_ID_WHAT, e.control);
    let curve: MidiCurve | undefined;
    if (e.curve !== undefined) {
      if (typeof e.curve !== 'string' || !MIDI_CURVES.includes(e.curve as MidiCurve)) throw new MappingSpecError(`${p}.curve`, `one of ${MIDI_CURVES.map((c) => `"${c}"`).join(', ')}`, e.curve);
      curve = e.curve as MidiCurve;
    }
    const num = (k: 'min' | 'max'): number | undefined => {
      const v = e[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new MappingSpecError(`${p}.${k}`, 'a number of dB', v);
      if (curve !== undefined && curve !== 'db' && curve !== 'cubic') throw new MappingSpecError(`${p}.${k}`, `nothing: min and max are for the volume curves "db" and "cubic" (this mapping's curve is "${curve}")`, v);
      return v;
    };
    const min = num('min');
    const max = num('max');
    if (min !== undefined && max !== undefined && !(min < max)) throw new MappingSpecError(`${p}.max`, `a dB above min (${min}); use "invert" to turn the travel round`, max);
    let invert = false;
    if (e.invert !== undefined) {
      if (typeof e.invert !== 'boolean') throw new MappingSpecError(`${p}.invert`, 'true or false', e.invert);
      invert = e.invert;
    }
    out.push({
      channel, cc, resolution, control: e.control, ...(curve ? { curve } : {}),
      ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}), invert,
    });
  });
  // A 7-bit mapping on the LSB of a 14-bit one, on channels that overlap: the LSB is half of the 14-bit value.
  out.forEach((m, i) => {
    if (m.resolution !== 7) return;
    const j = out.findIndex((w) => w.resolution === 14 && w.cc + 32 === m.cc && channelsOverlap(w.channel, m.channel));
    if (j >= 0) throw new MappingSpecError(`${where}[${i}].cc`, `a controller other than ${m.cc}, the LSB of the 14-bit controller ${out[j]!.cc} that ${where}[${j}] maps on channel ${out[j]!.channel}`, m.cc);
  });
  return out;
}

function channelsOverlap(a: number | 'any', b: number | 'any'): boolean {
  return a === 'any' || b === 'any' || a === b;
}


/** The board's MIDI input: an ALSA sequencer client with one input port, and its mappings. */
export interface MidiSpec {
  /** Sequencer client name (absent: "sbc-audio <board>"). */
  client?: string;
  /** Input port name (default "control"). */
  port: string;
  /** Sources subscribed at start, named as aconnect takes them ("20:0", "Virtual Raw MIDI 2-0"). */
  connect: string[];
  map: MidiMappingSpec[];
}

/** A sequencer client or port name: printable ASCII, as alsa-lib's 64-byte name fields hold. */
const SEQ_NAME = /^[\x20-\x7e]{1,63}$/;

/** The board file's `midi` section: `{ client?, port?, connect?, map? }`. */
export function parseMidiSpec(raw: unknown, where: string): MidiSpec {
  const m = obj(raw, where);
  onlyKeys(m, where, ['client', 'port', 'connect', 'map']);
  for (const k of ['client', 'port'] as const) {
    if (m[k] !== undefined && !(typeof m[k] === 'string' && SEQ_NAME.test(m[k]))) throw new MappingSpecError(`${where}.${k}`, `a sequencer ${k} name (1 to 63 printable ASCII characters)`, m[k]);
  }
  const connect: unknown = m.connect ?? [];
  if (!Array.isArray(connect) || !connect.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new MappingSpecError(`${where}.connect`, 'a list of sources as aconnect names them ("20:0", "Virtual Raw MIDI 2-0")', m.connect);
  }
  return {
    ...(m.client !== undefined ? { client: m.client as string } : {}), port: (m.port as string | undefined) ?? 'control',
    connect: [...(connect as string[])], map: parseMidiMappings(m.map ?? [], `${where}.map`),
  };
}

export interface EncoderSpec {
  /** The control it turns: "speaker.gain" (without the board's name) or a full id; the caller resolves it. */
  control: string;
  /** Control units per detent (dB for a volume); absent: the control's own step (its range's). Not used for switches and enums. */
  step?: number;
  /** Quadrature transitions per detent (default 4: a full A/B cycle per click). */
  transitionsPerDetent: 1 | 2 | 4;
  /** Swaps the direction (the part turns the code the other way, or A and B are wired swapped). */
  reverse: boolean;
  /** Faster turns, bigger steps: a detent less than belowMs after the previous one in the same direction counts `factor` steps; the smallest matching belowMs wins. Sorted ascending by belowMs. */
  acceleration: { belowMs: number; factor: number }[];
  /** The push switch: each press toggles this switch control (e.g. "speaker.mute"). */
  push?: { toggle: string };
}

const ENCODER_KEYS = ['control', 'step', 'transitionsPerDetent', 'reverse', 'acceleration', 'push'];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * An encoder's section from JSON: `{ control, step?, transitionsPerDetent? (4), reverse? (false),
 * acceleration? ([]), push? { toggle } }`. Throws MappingSpecError naming the field
 * (`${where}.acceleration[1].factor`), what it must be and what it was.
 */
export function parseEncoderSpec(raw: unknown, where: string): EncoderSpec {
  if (!isObj(raw)) throw new MappingSpecError(where, 'an object { control, step?, transitionsPerDetent?, reverse?, acceleration?, push? }', raw);
  onlyKeys(raw, where, ENCODER_KEYS);
  const control = raw.control;
  if (typeof control !== 'string' || !MAPPING_CONTROL_ID.test(control)) throw new MappingSpecError(`${where}.control`, CONTROL_ID_WHAT, control);
  let step: number | undefined;
  if (raw.step !== undefined) {
    if (typeof raw.step !== 'number' || !(raw.step > 0 && raw.step <= 100)) throw new MappingSpecError(`${where}.step`, 'control units per detent, above 0 and at most 100 (dB for a volume)', raw.step);
    step = raw.step;
  }
  const tpd = raw.transitionsPerDetent ?? 4;
  if (tpd !== 1 && tpd !== 2 && tpd !== 4) throw new MappingSpecError(`${where}.transitionsPerDetent`, '4, 2 or 1 (quadrature transitions per detent: 4 is a full A/B cycle)', tpd);
  const reverse = raw.reverse ?? false;
  if (typeof reverse !== 'boolean') throw new MappingSpecError(`${where}.reverse`, 'true or false', reverse);
  const accRaw = raw.acceleration ?? [];
  if (!Array.isArray(accRaw)) throw new MappingSpecError(`${where}.acceleration`, 'a list of { "belowMs": N, "factor": N }', accRaw);
  const acceleration = accRaw.map((x: unknown, i) => {
    const p = `${where}.acceleration[${i}]`;
    if (!isObj(x)) throw new MappingSpecError(p, 'an object { "belowMs": N, "factor": N }', x);
    onlyKeys(x, p, ['belowMs', 'factor']);
    const { belowMs, factor } = x;
    if (typeof belowMs !== 'number' || !Number.isFinite(belowMs) || !(belowMs > 0 && belowMs <= 10_000)) throw new MappingSpecError(`${p}.belowMs`, 'ms between detents, above 0 and at most 10000', belowMs);
    if (typeof factor !== 'number' || !Number.isInteger(factor) || factor < 1 || factor > 100) throw new MappingSpecError(`${p}.factor`, 'steps per detent when turned that fast (integer 1..100)', factor);
    return { belowMs, factor, i };
  }).sort((a, b) => a.belowMs - b.belowMs);
  for (let k = 1; k < acceleration.length; k++) {
    if (acceleration[k]!.belowMs === acceleration[k - 1]!.belowMs) {
      throw new MappingSpecError(`${where}.acceleration[${acceleration[k]!.i}].belowMs`, `a belowMs not given already (${where}.acceleration[${acceleration[k - 1]!.i}] has it)`, acceleration[k]!.belowMs);
    }
  }
  let push: EncoderSpec['push'];
  if (raw.push !== undefined) {
    if (!isObj(raw.push)) throw new MappingSpecError(`${where}.push`, 'an object { "toggle": "speaker.mute" }', raw.push);
    onlyKeys(raw.push, `${where}.push`, ['toggle']);
    const t = raw.push.toggle;
    if (typeof t !== 'string' || !MAPPING_CONTROL_ID.test(t)) throw new MappingSpecError(`${where}.push.toggle`, `${CONTROL_ID_WHAT.replace('speaker.gain', 'speaker.mute')}: the switch each press toggles`, t);
    push = { toggle: t };
  }
  return {
    control, ...(step !== undefined ? { step } : {}), transitionsPerDetent: tpd, reverse,
    acceleration: acceleration.map(({ belowMs, factor }) => ({ belowMs, factor })), ...(push ? { push } : {}),
  };
}

