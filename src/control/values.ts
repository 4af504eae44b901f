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

/** A value as people read it: "-20 dB", "on", "low-latency". */
export function formatControlValue(d: Pick<ControlDescriptor, 'kind'>, v: ControlValue | null): string {
  if (v === null) return 'unknown';
  if (d.kind === 'volume' && typeof v === 'number') return `${v} dB`;
  if (d.kind === 'switch') return v ? 'on' : 'off';
  return String(v);
}
