/**
 * A control's value from what a user or a script writes (docs/CONTROL.md, "The control channel"):
 * one parser, in the service, so that the CLI, a web page and Home Assistant mean the same thing
 * by "-3dB" or "50%".
 */
import { roundDbToStep } from '../codec/controls.ts';
import type { ControlDescriptor, ControlValue, PercentMapping } from './types.ts';

export class ControlValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlValueError';
  }
}

/** A volume's range as the message says it: "-127 .. 0 dB (step 0.5)". */
export function describeRange(d: ControlDescriptor): string {
  if (d.kind === 'volume' && d.range) return `${d.range.min} .. ${d.range.max} dB${d.range.step > 0 ? ` (step ${d.range.step})` : ''}`;
  if (d.kind === 'number' && d.range) return `${d.range.min} .. ${d.range.max}${d.hints?.integer ? ' (whole numbers)' : ''}${d.hints?.logarithmic ? ' (logarithmic)' : ''}`;
  return (d.values ?? []).join(', ');
}

/** The dB of a percentage of the mapping (linear in dB: 0 % its bottom, 100 % its top). */
export function percentToDb(p: number, m: PercentMapping): number {
  return m.minDb + (p / 100) * (m.maxDb - m.minDb);
}

/** The percentage of a dB value, clamped to 0..100. */
export function dbToPercent(db: number, m: PercentMapping): number {
  if (m.maxDb === m.minDb) return 100;
  return Math.min(100, Math.max(0, ((db - m.minDb) / (m.maxDb - m.minDb)) * 100));
}

/** A step from the value in force: a sign and a dB suffix ("+3dB", "-3 dB"). */
const RELATIVE = /^([+-])\s*(\d+(?:\.\d+)?)\s*dB$/i;

/**
 * Steps that are not dB: "toggle" flips a switch (as amixer's `toggle` does), "next" and
 * "previous" move an enum one value along its list (a rotary encoder's detent; no wrap at the
 * ends, as a volume's step stops at its end). Each is from the value in force, like "+3dB".
 */
const TOGGLE = 'toggle';
const ENUM_STEPS: Readonly<Record<string, 1 | -1>> = { next: 1, previous: -1 };

/** Whether `input` is a step from the value in force (the parser then needs that value). */
export function isRelativeValue(input: unknown): boolean {
  if (typeof input !== 'string') return false;
  const s = input.trim();
  const word = s.toLowerCase();
  return RELATIVE.test(s) || word === TOGGLE || Object.hasOwn(ENUM_STEPS, word);
}

const ON = new Set(['on', 'true', '1', 'yes']);
const OFF = new Set(['off', 'false', '0', 'no']);

/**
 * The value to set, checked against the control: a volume's dB (absolute, relative to `current`,
 * or a percentage; rounded to its step), a switch's on/off, an enum's name. Throws
 * ControlValueError naming the control and its range or values; nothing is set then.
 */
export function parseControlValue(d: ControlDescriptor, input: unknown, current: ControlValue | null): ControlValue {
  const shown = typeof input === 'string' ? JSON.stringify(input) : String(input);
  if (d.kind === 'volume') {
    const range = d.range!;
    let db: number;
    if (typeof input === 'number') db = input;
    else if (typeof input === 'string') {
      const s = input.trim();
      const rel = RELATIVE.exec(s);
      const abs = /^([+-]?\d+(?:\.\d+)?)$/.exec(s);
      const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
      if (rel) {
        if (typeof current !== 'number') throw new ControlValueError(`${d.id}: ${shown} is relative, but the control's value is not known now`);
        db = current + (rel[1] === '-' ? -1 : 1) * Number(rel[2]);
        // A relative step beyond the end stops at the end (as amixer's "3dB+" does).
        db = Math.min(range.max, Math.max(range.min, db));
      } else if (abs) db = Number(abs[1]);
      else if (pct) {
        const p = Number(pct[1]);
        const m = d.display?.percent;
        if (!m) throw new ControlValueError(`${d.id}: has no percent mapping; give dB (${describeRange(d)})`);
        if (p > 100) throw new ControlValueError(`${d.id}: ${shown} is more than 100 %`);
        db = percentToDb(p, m);
      } else {
        throw new ControlValueError(`${d.id}: ${shown} is not a gain: give dB (e.g. -20), a percentage (e.g. 50%) or a step (+3dB, -3dB); range ${describeRange(d)}`);
      }
    } else throw new ControlValueError(`${d.id}: a volume takes dB (a number) or a string like "-20", "50%", "+3dB"; got ${shown}`);
    if (!Number.isFinite(db)) throw new ControlValueError(`${d.id}: ${shown} is not a number of dB`);
    const eps = 1e-9;
    if (db < range.min - eps || db > range.max + eps) throw new ControlValueError(`${d.id}: ${db} dB is outside its range ${describeRange(d)}`);
    // On the step grid, ties to the lower gain: never louder than asked (as SET_GAIN rounds).
    return roundDbToStep(db, { minDb: range.min, maxDb: range.max, stepDb: range.step });
  }
  if (d.kind === 'number') return parseNumberValue(d, input, current, shown);
  // A text control's binding checks what the text says (a chain: src/dsp/chain-spec.ts); JSON given as a value is its text.
  if (d.kind === 'text') return typeof input === 'string' ? input : JSON.stringify(input);
  if (d.kind === 'switch') {
    if (typeof input === 'boolean') return input;
    const s = typeof input === 'number' ? String(input) : typeof input === 'string' ? input.trim().toLowerCase() : undefined;
    if (s !== undefined && ON.has(s)) return true;
    if (s !== undefined && OFF.has(s)) return false;
    if (s === TOGGLE) {
      if (typeof current !== 'boolean') throw new ControlValueError(`${d.id}: "toggle" flips the switch, but its value is not known now`);
      return !current;
    }
    throw new ControlValueError(`${d.id}: a switch takes on or off (true, false, 1, 0) or toggle; got ${shown}`);
  }
  const values = d.values ?? [];
  if (typeof input === 'string') {
    const s = input.trim();
    // A value's own name first: an enum whose list has a value called "next" keeps it.
    const hit = values.find((v) => v === s) ?? values.find((v) => v.toLowerCase() === s.toLowerCase());
    if (hit) return hit;
    const dir = ENUM_STEPS[s.toLowerCase()];
    if (dir !== undefined) {
      const at = typeof current === 'string' ? values.indexOf(current) : -1;
      if (at < 0) throw new ControlValueError(`${d.id}: ${shown} steps from the value in force, but it is not known now (values: ${values.join(', ')})`);
      return values[Math.min(values.length - 1, Math.max(0, at + dir))]!;
    }
  }
  throw new ControlValueError(`${d.id}: ${shown} is not one of its values: ${values.join(', ')}`);
}

/** A plain step from the value in force ("+100", "-0.5"): numbers only, written with a sign and a space-free number after "+=" or "-=". */
const NUMBER_STEP = /^([+-])=\s*(\d+(?:\.\d+)?)$/;

/**
 * A number control's value: a number, a numeric string, a percentage of its range (linear, or
 * geometric for a logarithmic port whose range is above 0, as LADSPA's hint asks a UI to draw it)
 * or a step ("+=100", "-=0.5"); whole numbers for an integer port (rounded to the nearest).
 */
function parseNumberValue(d: ControlDescriptor, input: unknown, current: ControlValue | null, shown: string): number {
  const range = d.range!;
  let x: number;
  if (typeof input === 'number') x = input;
  else if (typeof input === 'boolean') x = input ? 1 : 0;
  else if (typeof input === 'string') {
    const s = input.trim();
    const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
    const step = NUMBER_STEP.exec(s);
    if (pct) {
      const p = Number(pct[1]) / 100;
      if (p > 1) throw new ControlValueError(`${d.id}: ${shown} is more than 100 %`);
      x = d.hints?.logarithmic && range.min > 0 ? range.min * (range.max / range.min) ** p : range.min + p * (range.max - range.min);
    } else if (step) {
      if (typeof current !== 'number') throw new ControlValueError(`${d.id}: ${shown} is relative, but the control's value is not known now`);
      x = Math.min(range.max, Math.max(range.min, current + (step[1] === '-' ? -1 : 1) * Number(step[2])));
    } else if (s !== '' && Number.isFinite(Number(s))) x = Number(s);
    else throw new ControlValueError(`${d.id}: ${shown} is not a number: give a number (e.g. 1000), a percentage of its range (e.g. 50%) or a step (+=100, -=100); range ${describeRange(d)}`);
  } else throw new ControlValueError(`${d.id}: takes a number; got ${shown}`);
  if (!Number.isFinite(x)) throw new ControlValueError(`${d.id}: ${shown} is not a finite number`);
  if (d.hints?.integer) x = Math.round(x);
  const eps = 1e-9 * Math.max(1, Math.abs(range.min), Math.abs(range.max));
  if (x < range.min - eps || x > range.max + eps) throw new ControlValueError(`${d.id}: ${x} is outside its range ${describeRange(d)}`);
  return Math.min(range.max, Math.max(range.min, x));
}

/** A value as people read it: "-20 dB", "on", "low-latency". */
export function formatControlValue(d: Pick<ControlDescriptor, 'kind'>, v: ControlValue | null): string {
  if (v === null) return 'unknown';
  if (d.kind === 'volume' && typeof v === 'number') return `${v} dB`;
  if (d.kind === 'switch') return v ? 'on' : 'off';
  return String(v);
}
