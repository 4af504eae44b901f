/**
 * Controls as data: a volume's register codes, its dB scale (one or more linear segments, so
 * non-linear and inverted ranges are data too), its mute code, and the mapping both ways.
 *
 * dB → code picks the nearest audible code; a request exactly halfway between two codes gets the
 * lower gain (never louder than asked), as the stream protocol's gain rules require.
 */
import type { DescriptionProblem, RegmapDef } from './regmap.ts';
import { fieldRange } from './regmap.ts';

/** Codes `from..to` (inclusive, either order) map linearly: code `from` is `db`, each code further is `stepDb` more. */
export interface DbSegment {
  from: number;
  to: number;
  db: number;
  stepDb: number;
}

/** Where one channel of a control lives. */
export interface ControlChannel {
  reg: string;
  /** A field of the register; absent: the whole register. */
  field?: string;
}

export interface ControlDef {
  name: string;
  kind: 'volume' | 'switch' | 'enum';
  direction: 'output' | 'input';
  /** The stream gain of its direction (the codec's main digital volume). */
  main?: boolean;
  /** One entry per channel (left, right, ...). */
  channels: readonly ControlChannel[];
  /** Lowest and highest register code. */
  min: number;
  max: number;
  /** Code after reset, or 'unknown'. */
  default: number | 'unknown';
  unit: 'dB' | 'none';
  /** Nominal step in dB (volumes). */
  stepDb?: number;
  /** A code that means mute (it is not an audible gain). */
  muteCodes?: readonly number[];
  /**
   * A mute bit beside the volume: a field of each channel's register, 1 = muted (e.g. the
   * TLV320AIC3104 and CS4271 DAC volumes, bit 7). Muting sets it and keeps the volume code.
   */
  muteField?: string;
  /** Codes that must never be written (reserved). */
  reservedCodes?: readonly number[];
  /**
   * Codes whose meaning no published figure gives (e.g. the far end of a table only one source
   * covers): never written, not counted as gains, each block saying why it is unknown.
   */
  unknownCodes?: readonly { from: number; to: number; why: string }[];
  /** Code → dB (volumes): the segments cover every audible code. */
  scale?: readonly DbSegment[];
  /** A volume-update latch bit written with the last channel (e.g. a Wolfson VU bit): register field. */
  latch?: { field: string };
  /**
   * Switches and enums: value name → register code. A switch has exactly the names `off` and `on`
   * (on = the function works: sound for a "Playback Switch", so a mute bit is `{ on: 0, off: 1 }`);
   * an enum's names are lowercase with dashes (they are also board-option and control-channel words).
   */
  values?: Readonly<Record<string, number>>;
  source: string;
}

export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

/** A value name of a switch or enum: what `sbc-audio ctl set` and board files write. */
const VALUE_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** The names of a switch's or enum's values with their codes, for messages: `on (0), off (1)`. */
function describeValues(c: ControlDef): string {
  const v = Object.entries(c.values ?? {});
  return v.length ? v.map(([n, code]) => `${n} (${code})`).join(', ') : 'none';
}

/** The name of a switch's or enum's code, undefined for a code that is none of its values. */
export function settingValueName(c: ControlDef, code: number): string | undefined {
  for (const [name, v] of Object.entries(c.values ?? {})) if (v === code) return name;
  return undefined;
}

/** The code of a switch's or enum's value name; an unknown name is refused with the values it has. */
export function settingCode(c: ControlDef, name: string): number {
  const v = c.values;
  if (c.kind === 'volume' || !v) throw new ControlError(`control "${c.name}" is a ${c.kind}, not a switch or enum: it has no named values`);
  if (!Object.hasOwn(v, name)) throw new ControlError(`control "${c.name}" has no value "${name}" (its values: ${describeValues(c)})`);
  return v[name]!;
}

/** A switch's or enum's code is one of its values: else refused, naming the control and its values. */
export function checkSettingCode(c: ControlDef, code: number): void {
  if (settingValueName(c, code) === undefined || !Number.isInteger(code)) {
    throw new ControlError(`control "${c.name}": code ${code} is none of its values (${describeValues(c)})`);
  }
}

function isMute(c: ControlDef, code: number): boolean {
  return c.muteCodes?.includes(code) ?? false;
}

function isUnknown(c: ControlDef, code: number): boolean {
  return c.unknownCodes?.some((u) => code >= Math.min(u.from, u.to) && code <= Math.max(u.from, u.to)) ?? false;
}

/** The control can mute: a mute code or a mute bit. */
export function canMute(c: ControlDef): boolean {
  return (c.muteCodes?.length ?? 0) > 0 || c.muteField !== undefined;
}

/** dB of a code, 'mute' for a mute code, undefined for a code outside the scale (or of unknown meaning). */
export function codeToDb(c: ControlDef, code: number): number | 'mute' | undefined {
  if (isMute(c, code)) return 'mute';
  if (isUnknown(c, code)) return undefined;
  for (const s of c.scale ?? []) {
    const lo = Math.min(s.from, s.to);
    const hi = Math.max(s.from, s.to);
    if (code >= lo && code <= hi) return s.db + Math.abs(code - s.from) * s.stepDb;
  }
  return undefined;
}

/** Every audible code with its dB, loudest last. */
export function audibleCodes(c: ControlDef): { code: number; db: number }[] {
  const out: { code: number; db: number }[] = [];
  for (let code = Math.min(c.min, c.max); code <= Math.max(c.min, c.max); code++) {
    if (c.reservedCodes?.includes(code) || isUnknown(c, code)) continue;
    const db = codeToDb(c, code);
    if (typeof db === 'number') out.push({ code, db });
  }
  return out.sort((a, b) => a.db - b.db);
}

export function gainRange(c: ControlDef): { minDb: number; maxDb: number; stepDb: number } {
  const codes = audibleCodes(c);
  if (codes.length === 0) throw new ControlError(`control "${c.name}" has no audible codes (no dB scale)`);
  return { minDb: codes[0]!.db, maxDb: codes[codes.length - 1]!.db, stepDb: c.stepDb ?? 0 };
}

/**
 * The code for a requested gain: the nearest audible code, ties to the lower gain. Requests
 * outside the control's range are refused (the stream protocol answers them INVALID_ARGS).
 */
export function dbToCode(c: ControlDef, db: number): { code: number; db: number } {
  if (!Number.isFinite(db)) throw new ControlError(`control "${c.name}": gain ${db} dB is not a number`);
  const codes = audibleCodes(c);
  const { minDb, maxDb } = gainRange(c);
  const eps = 1e-9;
  if (db < minDb - eps || db > maxDb + eps) {
    throw new ControlError(`control "${c.name}": ${db} dB is outside its range ${minDb} .. ${maxDb} dB`);
  }
  let best = codes[0]!;
  for (const x of codes) {
    const d = Math.abs(x.db - db);
    const bd = Math.abs(best.db - db);
    // Strictly nearer wins; on a tie the earlier (lower gain) one stays.
    if (d < bd - eps) best = x;
  }
  return { ...best };
}

/**
 * A gain on the uniform grid `minDb + k·stepDb` (k ≥ 0, at most `maxDb`): the nearest step, ties to
 * the lower gain as in dbToCode. This is the gain a control with that range and step reports
 * (the stream protocol's GET_GAIN: min_gain, max_gain, gain_step), so a stream answers SET_GAIN
 * with it without knowing the codes; outside the range it clamps. A step of 0 (fixed gain) only clamps.
 */
export function roundDbToStep(db: number, range: { minDb: number; maxDb: number; stepDb: number }): number {
  const { minDb: min, maxDb: max, stepDb: step } = range;
  if (!(step > 0)) return Math.min(max, Math.max(min, db));
  const x = (db - min) / step;
  const below = Math.floor(x);
  // A tie within float noise of .5 is a tie: never louder than asked.
  let k = Math.abs(x - below - 0.5) < 1e-6 ? below : Math.round(x);
  const top = Math.floor((max - min) / step + 1e-6);
  k = Math.min(top, Math.max(0, k));
  return min + k * step;
}

/** Checks controls against the register map: unknown registers and fields, codes out of range, scales. */
export function checkControls(controls: readonly ControlDef[], map: RegmapDef | undefined, at = 'controls'): DescriptionProblem[] {
  const out: DescriptionProblem[] = [];
  const names = new Set<string>();
  controls.forEach((c, i) => {
    const w = `${at}[${i}] (${c.name})`;
    const p = (message: string) => out.push({ where: w, message });
    if (names.has(c.name)) p(`control name "${c.name}" is used twice`);
    names.add(c.name);
    if (!c.source?.trim()) p('the control names no source for its range and scale');
    if (c.channels.length === 0) p('the control has no channels (registers)');
    let width: number = map?.valueBits ?? 16;
    for (const ch of c.channels) {
      const r = map?.registers.find((x) => x.name === ch.reg);
      if (!map) {
        p(`channel register ${ch.reg}: the part has no register map`);
        continue;
      }
      if (!r) {
        p(`names unknown register "${ch.reg}"`);
        continue;
      }
      if (r.access === 'ro') p(`register ${ch.reg} is read-only`);
      if (ch.field) {
        const f = r.fields?.find((x) => x.name === ch.field);
        if (!f) p(`names unknown field "${ch.field}" of register ${ch.reg}`);
        else width = fieldRange(f).width;
      }
      if (c.latch && !r.fields?.some((x) => x.name === c.latch!.field)) p(`latch field "${c.latch.field}" is not a field of register ${ch.reg}`);
      if (c.muteField && !ch.field) p(`a control with a mute field needs its volume as a field of ${ch.reg}`);
      if (c.muteField) {
        const mf = r.fields?.find((x) => x.name === c.muteField);
        if (!mf) p(`mute field "${c.muteField}" is not a field of register ${ch.reg}`);
        else if (fieldRange(mf).width !== 1) p(`mute field "${c.muteField}" of register ${ch.reg} must be one bit`);
        else if (mf.name === ch.field) p(`mute field "${c.muteField}" is also the volume field`);
      }
    }
    const maxCode = 2 ** width - 1;
    for (const [k, v] of [['min', c.min], ['max', c.max]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > maxCode) p(`${k} code ${v} does not fit ${width} bits (0..${maxCode})`);
    }
    if (c.default !== 'unknown' && (c.default < Math.min(c.min, c.max) || c.default > Math.max(c.min, c.max))) {
      p(`default code ${c.default} is outside min..max (${c.min}..${c.max})`);
    }
    for (const m of c.muteCodes ?? []) if (m < Math.min(c.min, c.max) || m > Math.max(c.min, c.max)) p(`mute code ${m} is outside min..max`);
    (c.unknownCodes ?? []).forEach((u, j) => {
      if (!u.why?.trim()) p(`unknownCodes[${j}] must say why those codes are unknown`);
      if (Math.min(u.from, u.to) < Math.min(c.min, c.max) || Math.max(u.from, u.to) > Math.max(c.min, c.max)) p(`unknownCodes[${j}] (${u.from}..${u.to}) is outside min..max`);
    });
    if (c.default !== 'unknown' && isUnknown(c, c.default)) p(`default code ${c.default} is among the codes of unknown meaning`);
    if (c.kind === 'volume' && c.values !== undefined) p('values: a volume has a dB scale, not named values (values are for switches and enums)');
    if (c.kind === 'switch' || c.kind === 'enum') {
      for (const problem of checkValues(c)) p(problem);
    }
    if (c.kind === 'volume') {
      if (c.unit !== 'dB') p('a volume control must have unit dB');
      if (!c.scale?.length) p('a volume control needs a dB scale');
      for (let code = Math.min(c.min, c.max); code <= Math.max(c.min, c.max); code++) {
        const hits = (c.scale ?? []).filter((s) => code >= Math.min(s.from, s.to) && code <= Math.max(s.from, s.to)).length;
        if (isUnknown(c, code) && hits > 0) {
          p(`code ${code} is both of unknown meaning and covered by the dB scale`);
          break;
        }
        if (isMute(c, code) || c.reservedCodes?.includes(code) || isUnknown(c, code)) continue;
        if (hits === 0) {
          p(`code ${code} is neither covered by the dB scale nor a mute, reserved or unknown code`);
          break;
        }
        if (hits > 1) {
          p(`code ${code} is covered by more than one scale segment`);
          break;
        }
      }
    }
  });
  return out;
}

/**
 * A switch's or enum's `values` and `default`: a switch has exactly `off` and `on`, on two
 * distinct codes; an enum has at least one name, each lowercase with dashes, no two names on one
 * code (a code read back must name one value); every code an integer inside min..max and not
 * reserved or of unknown meaning; the default one of the values' codes, or 'unknown'.
 */
function checkValues(c: ControlDef): string[] {
  const out: string[] = [];
  const v = c.values;
  if (!v || Object.keys(v).length === 0) {
    out.push(`values: a ${c.kind} needs its values (name → code)${c.kind === 'switch' ? ', exactly { off, on }' : ''}`);
    return out;
  }
  const names = Object.keys(v);
  if (c.kind === 'switch' && (names.length !== 2 || !names.includes('off') || !names.includes('on'))) {
    out.push(`values: a switch's values are exactly "off" and "on", got ${names.map((n) => `"${n}"`).join(', ')}`);
  }
  const seen = new Map<number, string>();
  for (const [name, code] of Object.entries(v)) {
    if (!VALUE_NAME.test(name)) out.push(`values: name "${name}" must be lowercase letters, digits and dashes (${VALUE_NAME.source})`);
    if (!Number.isInteger(code) || code < Math.min(c.min, c.max) || code > Math.max(c.min, c.max)) {
      out.push(`values.${name}: code ${code} is outside min..max (${c.min}..${c.max})`);
    } else if (c.reservedCodes?.includes(code)) {
      out.push(`values.${name}: code ${code} is reserved`);
    } else if (isUnknown(c, code)) {
      out.push(`values.${name}: code ${code} is among the codes of unknown meaning`);
    }
    const other = seen.get(code);
    if (other !== undefined) out.push(`values.${name}: code ${code} is also "${other}" (each value needs its own code)`);
    else seen.set(code, name);
  }
  if (c.default !== 'unknown' && !seen.has(c.default)) {
    out.push(`default code ${c.default} is none of its values (${describeValues(c)}): give one of them, or 'unknown'`);
  }
  return out;
}
