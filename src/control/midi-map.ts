/**
 * MIDI controllers mapped to controls (docs/CONTROL.md, "Knobs"): which controller change (a CC on
 * a channel, 7 or 14 bits) drives which control, the curve from the controller's travel onto the
 * control's values, and learn mode (the next controller moved becomes a mapping).
 *
 * Pure: events come in through `MidiMapper.handle` (the sequencer backend of src/hal/midi.ts feeds
 * it), values go out through the `set` it was given (the control dispatcher's, src/control/
 * dispatch.ts, which checks them, rounds a gain to its step and coalesces a fast knob's storm).
 *
 * Facts used, from the MIDI 1.0 Detailed Specification 4.2.1 (The MIDI Association), "Control
 * Change" under Channel Voice Messages (printed page 12 of the spec), in our words:
 * - controllers 0..31 carry the most significant 7 bits of a value; 32..63 are the optional least
 *   significant 7 bits of controllers 0..31 (LSB number = MSB number + 32), giving 14 bits (0..16383);
 *   controllers 64 and above have one byte only;
 * - a sender may send the LSB alone for a fine change; when a receiver gets an MSB it takes its
 *   LSB to be 0 until an LSB comes;
 * - a receiver that expects a switch reads 0..63 as off and 64..127 as on.
 */
import type { Clock, TimerHandle } from '../hal/clock.ts';
import type { MidiEvent } from '../hal/midi.ts';
import { roundDbToStep } from '../codec/controls.ts';
import type { ControlDescriptor, ControlValue } from './types.ts';
import { MIDI_CURVES, type MidiCurve, type MidiMapping, type MidiMappingSpec, MappingSpecError, describeGot } from '../board/knob-specs.ts';

export { MIDI_CURVES, MappingSpecError, type MidiCurve, type MidiMapping, type MidiMappingSpec };

/** The curve a mapping takes when it names none: a volume's travel linear in dB, a switch's on at half travel, an enum's zones. */
export function defaultCurve(d: ControlDescriptor): MidiCurve {
  return d.kind === 'volume' ? 'db' : d.kind === 'switch' ? 'switch' : 'zones';
}

/** Which kinds of control each curve is for. */
const CURVE_KIND: Record<MidiCurve, ControlDescriptor['kind']> = { db: 'volume', cubic: 'volume', switch: 'switch', toggle: 'switch', zones: 'enum' };

/**
 * Whether the mapping fits the control it resolved to: the curve for its kind, a volume with a
 * range, min and max inside it. Throws MappingSpecError naming `field` (the mapping's path, e.g.
 * `midi.map[2]`) and the control; `handle` checks the same and logs instead.
 */
export function checkMapping(m: MidiMappingSpec, d: ControlDescriptor, field: string): void {
  const curve = m.curve ?? defaultCurve(d);
  const kind = CURVE_KIND[curve];
  if (kind !== d.kind) {
    const fits = MIDI_CURVES.filter((c) => CURVE_KIND[c] === d.kind).map((c) => `"${c}"`).join(' or ');
    throw new MappingSpecError(`${field}.curve`, `a curve for ${d.id}, a ${d.kind}: ${fits}`, curve);
  }
  if (!d.writable) throw new MappingSpecError(`${field}.control`, `a control that can be set (${d.id} cannot: ${d.readOnlyWhy ?? 'it is read-only'})`, m.control);
  if (d.kind === 'volume') {
    if (!d.range) throw new MappingSpecError(`${field}.control`, `a volume with a known range (${d.id} has none)`, m.control);
    for (const k of ['min', 'max'] as const) {
      const v = m[k];
      if (v !== undefined && (v < d.range.min || v > d.range.max)) {
        throw new MappingSpecError(`${field}.${k}`, `a dB within ${d.id}'s range ${d.range.min} .. ${d.range.max}`, v);
      }
    }
    const { min, max } = travelDb(m, d);
    if (!(min < max)) throw new MappingSpecError(`${field}.${m.min === undefined ? 'max' : 'min'}`, `a travel from a lower dB to a higher one (min ${min}, max ${max} for ${d.id})`, m.min ?? m.max);
  }
  if (d.kind === 'enum' && !(d.values && d.values.length > 0)) throw new MappingSpecError(`${field}.control`, `an enum with values (${d.id} lists none)`, m.control);
}

/** The mapping of a spec for the control it names (checked as checkMapping does; the curve filled in from the kind if absent). */
export function resolveMapping(spec: MidiMappingSpec, d: ControlDescriptor, field: string): MidiMapping {
  checkMapping(spec, d, field);
  return { ...spec, curve: spec.curve ?? defaultCurve(d) };
}

/** A volume mapping's dB at the bottom and the top of the travel: given, else the percent mapping (what UIs call 0..100 %), else the range. */
export function travelDb(m: Pick<MidiMapping, 'min' | 'max'>, d: ControlDescriptor): { min: number; max: number } {
  const p = d.display?.percent;
  const min = m.min ?? p?.minDb ?? d.range?.min ?? Number.NaN;
  const max = m.max ?? p?.maxDb ?? d.range?.max ?? Number.NaN;
  return { min, max };
}

/** The top of a resolution's scale: 127 (7 bits) or 16383 (14 bits). */
export function fullScale(resolution: 7 | 14): number {
  return resolution === 14 ? 16383 : 127;
}

/**
 * The control value a controller value (0..127, or 0..16383 at 14 bits) means under the mapping,
 * before the control's step rounding (the dispatcher's parser rounds a gain to its step). Volumes:
 * dB (clamped to the control's range); switches: true/false, or 'toggle' on a press ('toggle'
 * curve, a rise from below half scale to half or above: with no previous value the button counts
 * as released, so the first press after a start toggles); enums: a value name. Undefined: nothing
 * to send (a 'toggle' that did not rise, a raw value or a control that does not fit).
 */
export function curveValue(m: MidiMapping, d: ControlDescriptor, raw: number, previousRaw: number | undefined): ControlValue | 'toggle' | undefined {
  const full = fullScale(m.resolution);
  if (!(Number.isInteger(raw) && raw >= 0 && raw <= full)) return undefined;
  const r = m.invert ? full - raw : raw;
  const prev = previousRaw === undefined ? undefined : m.invert ? full - previousRaw : previousRaw;
  // Half scale: 64 of 0..127 (MIDI 1.0's switch threshold), 8192 of 0..16383 (the same, 14 bits).
  const half = (full + 1) / 2;
  const curve = m.curve ?? defaultCurve(d);
  if (CURVE_KIND[curve] !== d.kind) return undefined;
  const x = r / full;
  switch (curve) {
    case 'db':
    case 'cubic': {
      const range = d.range;
      if (!range) return undefined;
      const { min, max } = travelDb(m, d);
      if (!(min < max)) return undefined;
      let db: number;
      if (curve === 'db') db = min + x * (max - min);
      else {
        // The travel is the cube root of the amplitude relative to the top: amplitude x³, so
        // 20·log10(x³) = 60·log10(x) dB below max. PulseAudio's software volume (src/pulse/volume.c,
        // pa_sw_volume_from_linear: "We use a cubic mapping") and alsamixer's mapped volume
        // (alsa-utils alsamixer/volume_mapping.c: "the position is the cubic root of the linear
        // sample multiplication factor", set as max + 6000·log10(position) in 0.01 dB) use this
        // law. Unlike alsamixer, the bottom is not rescaled onto min: the curve is cut at min
        // (and x = 0, −∞ dB, is min), so the top part of the travel is the same law whatever min is.
        db = x === 0 ? min : Math.max(min, max + 60 * Math.log10(x));
      }
      return Math.min(range.max, Math.max(range.min, db));
    }
    case 'switch':
      // MIDI 1.0: a receiver expecting a switch reads 0..63 off, 64..127 on.
      return r >= half;
    case 'toggle':
      return r >= half && (prev === undefined || prev < half) ? 'toggle' : undefined;
    case 'zones': {
      const values = d.values ?? [];
      if (values.length === 0) return undefined;
      // n equal zones over the 128 (or 16384) raw values: zone i is raw·n/(full+1) rounded down.
      const zone = Math.min(values.length - 1, Math.floor((r * values.length) / (full + 1)));
      return values[zone];
    }
  }
}

/** What `handle` keeps per mapping: the last raw value (a toggle's edge) and the last value sent (not sent twice). */
interface MappingState {
  m: MidiMapping;
  from: 'board' | 'learned';
  previousRaw: number | undefined;
  lastSent: ControlValue | 'toggle' | undefined;
}

export interface MidiMapperOptions {
  /** The control a mapping names (board-relative or full id), or undefined if there is none. */
  resolve: (id: string) => ControlDescriptor | undefined;
  /** Sets a control (the dispatcher's set: a number of dB, true/false, 'toggle' or a value name). */
  set: (id: string, value: unknown, opts: { source: string }) => Promise<unknown>;
  log?: (line: string) => void;
  /** For learn's timeout; default: Node's timers (wall time). */
  clock?: Clock;
}

export interface LearnOptions {
  /** How long to wait for a controller to move (ms). */
  timeoutMs: number;
  /** 7 (default) or 14 bits. */
  resolution?: 7 | 14;
  /** Default: the control's defaultCurve. */
  curve?: MidiCurve;
}

interface PendingLearn {
  controlId: string;
  d: ControlDescriptor;
  opts: LearnOptions;
  resolve: (m: MidiMapping) => void;
  reject: (e: Error) => void;
  timer: { cancel(): void };
}

/** A learned mapping's source in a set's `source` and in logs. */
const SOURCE = 'midi';

/**
 * Controller changes to control changes. Learned mappings hide board mappings that would take the
 * same event (a learned channel-1 CC 7 takes channel 1's CC 7 from a board "any" CC 7; other
 * channels still reach the board's).
 */
export class MidiMapper {
  private readonly resolve: MidiMapperOptions['resolve'];
  private readonly setFn: MidiMapperOptions['set'];
  private readonly log: (line: string) => void;
  private readonly clock: Clock | undefined;
  private board: MappingState[] = [];
  private learnedStates: MappingState[] = [];
  /** 14-bit pairing: the MSB last received per wire channel (0..15) and MSB controller (0..31); undefined: none yet. */
  private readonly msb: (number | undefined)[][] = Array.from({ length: 16 }, () => new Array<number | undefined>(32).fill(undefined));
  private pending: PendingLearn | undefined;
  /** After learning a 14-bit mapping from its MSB: that MSB's LSB, if it is the next event, belongs to the same move and is not applied either. */
  private skipLsb: { channel: number; cc: number } | undefined;
  /** Problems already logged (one line per kind and mapping, not one per event of a storm). */
  private readonly logged = new Set<string>();

  constructor(opts: MidiMapperOptions) {
    this.resolve = opts.resolve;
    this.setFn = opts.set;
    this.log = opts.log ?? (() => {});
    this.clock = opts.clock;
  }

  /** Replaces the mappings: the board file's, and those learned (which hide board ones on the same channel and controller). */
  setMappings(boardMappings: readonly MidiMapping[], learned: readonly MidiMapping[]): void {
    this.board = boardMappings.map((m) => this.state(m, 'board'));
    this.learnedStates = learned.map((m) => this.state(m, 'learned'));
    this.logged.clear();
  }

  private state(m: MidiMapping, from: 'board' | 'learned'): MappingState {
    return { m: { ...m }, from, previousRaw: undefined, lastSent: undefined };
  }

  /** The mappings in force: learned ones, then the board's not hidden by one on the same channel and controller. */
  mappings(): (MidiMapping & { from: 'board' | 'learned' })[] {
    const hidden = (b: MidiMapping) => this.learnedStates.some((l) => l.m.channel === b.channel && l.m.cc === b.cc);
    return [
      ...this.learnedStates.map((s) => ({ ...s.m, from: s.from })),
      ...this.board.filter((s) => !hidden(s.m)).map((s) => ({ ...s.m, from: s.from })),
    ];
  }

  learned(): MidiMapping[] {
    return this.learnedStates.map((s) => ({ ...s.m }));
  }

  /**
   * Removes the learned mappings on this channel and controller (exactly: 'any' removes the 'any'
   * one); board mappings stay (the board file says them). True if one was removed.
   */
  unmap(channel: number | 'any', cc: number): boolean {
    const before = this.learnedStates.length;
    this.learnedStates = this.learnedStates.filter((s) => !(s.m.channel === channel && s.m.cc === cc));
    return this.learnedStates.length !== before;
  }

  /**
   * Feed every sequencer event, in arrival order. Controller changes on mapped controllers set
   * their controls; anything else is ignored. Never throws: a problem (an unknown control, a
   * curve that does not fit, a refused value) is logged once per kind and mapping.
   */
  handle(ev: MidiEvent): void {
    try {
      this.handleEvent(ev);
    } catch (e) {
      this.once('handle', `midi: an event could not be handled (${(e as Error).message})`);
    }
  }

  private handleEvent(ev: MidiEvent): void {
    if (ev.type !== 'controller') return;
    const { channel, controller: cc, value } = ev;
    if (!(Number.isInteger(channel) && channel >= 0 && channel <= 15 && Number.isInteger(cc) && cc >= 0 && cc <= 127 && Number.isInteger(value) && value >= 0 && value <= 127)) {
      this.once('bad-event', `midi: ignored a controller event out of range (channel ${channel}, controller ${cc}, value ${value}; expected 0..15, 0..127, 0..127)`);
      return;
    }
    const skip = this.skipLsb;
    this.skipLsb = undefined;
    // The 14-bit state follows every event, learned or not, so that pairing stays right.
    let raw14: number | undefined;
    let pairCc: number | undefined;
    if (cc < 32) {
      // MIDI 1.0: an MSB sets the receiver's LSB to 0.
      this.msb[channel]![cc] = value;
      raw14 = value << 7;
      pairCc = cc;
    } else if (cc < 64) {
      const msb = this.msb[channel]![cc - 32];
      // An LSB before any MSB has nothing to complete: ignored.
      if (msb !== undefined) {
        raw14 = (msb << 7) | value;
        pairCc = cc - 32;
      }
    }
    if (this.pending) {
      this.learnFrom(ev, channel, cc);
      return;
    }
    if (skip && skip.channel === channel && skip.cc === cc) return;
    const people = channel + 1;
    const matches = (s: MappingState, res: 7 | 14, c: number) => s.m.resolution === res && s.m.cc === c && (s.m.channel === 'any' || s.m.channel === people);
    const pick = (res: 7 | 14, c: number): MappingState[] => {
      const learned = this.learnedStates.filter((s) => matches(s, res, c));
      return learned.length ? learned : this.board.filter((s) => matches(s, res, c) && !this.hiddenFor(s, people));
    };
    for (const s of pick(7, cc)) this.apply(s, value);
    if (raw14 !== undefined && pairCc !== undefined) for (const s of pick(14, pairCc)) this.apply(s, raw14);
  }

  /** A board mapping is hidden for an event's channel if a learned one takes the same channel and controller. */
  private hiddenFor(s: MappingState, people: number): boolean {
    return this.learnedStates.some((l) => l.m.cc === s.m.cc && (l.m.channel === people || l.m.channel === s.m.channel));
  }

  private apply(s: MappingState, raw: number): void {
    const prev = s.previousRaw;
    s.previousRaw = raw;
    const d = this.resolve(s.m.control);
    const what = `midi ${describeMapping(s.m)} → ${s.m.control}`;
    if (!d) {
      this.once(`unknown:${s.m.control}`, `${what}: no such control; the mapping does nothing`);
      return;
    }
    try {
      checkMapping(s.m, d, 'mapping');
    } catch (e) {
      this.once(`misfit:${describeMapping(s.m)}:${s.m.control}`, `${what}: ${(e as Error).message.replace(/^mapping\./, '')}; the mapping does nothing`);
      return;
    }
    const v = curveValue(s.m, d, raw, prev);
    if (v === undefined) return;
    if (v !== 'toggle') {
      // Not sent twice: compared on the control's step grid, which is what would be written.
      const key = typeof v === 'number' && d.range ? roundDbToStep(v, { minDb: d.range.min, maxDb: d.range.max, stepDb: d.range.step }) : v;
      if (s.lastSent === key) return;
      s.lastSent = key;
    }
    let p: Promise<unknown>;
    try {
      p = this.setFn(d.id, v, { source: SOURCE });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then((o) => {
      const out = o as { status?: string; error?: string } | undefined;
      if (out?.status === 'refused') this.once(`refused:${d.id}`, `${what}: refused: ${out.error ?? 'no reason given'}`);
    }, (e: unknown) => this.once(`failed:${d.id}`, `${what}: not set: ${(e as Error)?.message ?? String(e)}`));
  }

  private once(key: string, line: string): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log(`${line} (logged once)`);
  }

  /**
   * Learn mode: the next controller event (any channel, any controller) becomes a mapping of
   * `controlId` on that event's channel and controller; it replaces a learned mapping on the same
   * channel and controller and joins learned(). The event learned from is not applied (so the
   * knob's first move does not jump the control); with 14 bits, neither is its LSB if that is the
   * next event. Resolution 14 asked for and a controller moved that has no LSB:
   * - an LSB (32..63) moved first (a sender that sends the LSB before the MSB): the mapping is the
   *   14-bit pair of its MSB, cc − 32;
   * - a controller 64..127 (one byte only, MIDI 1.0): learned at 7 bits, and a line is logged
   *   saying so (the returned mapping's resolution says it too).
   * Rejects when no controller moves within timeoutMs, when another learn starts (this one is
   * cancelled), when the control is unknown or the curve does not fit it.
   */
  learn(controlId: string, opts: LearnOptions): Promise<MidiMapping> {
    const d = this.resolve(controlId);
    if (!d) return Promise.reject(new Error(`midi learn: no control "${controlId}"`));
    if (!(typeof opts.timeoutMs === 'number' && Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) {
      return Promise.reject(new Error(`midi learn: timeoutMs must be a number of ms above 0, got ${describeGot(opts.timeoutMs)}`));
    }
    if (opts.resolution !== undefined && opts.resolution !== 7 && opts.resolution !== 14) {
      return Promise.reject(new Error(`midi learn: resolution must be 7 or 14, got ${describeGot(opts.resolution)}`));
    }
    try {
      checkMapping({ channel: 'any', cc: 0, resolution: 7, control: controlId, invert: false, ...(opts.curve ? { curve: opts.curve } : {}) }, d, 'learn');
    } catch (e) {
      return Promise.reject(new Error(`midi learn ${controlId}: ${(e as Error).message}`));
    }
    if (this.pending) this.endLearn(new Error(`midi learn ${this.pending.controlId}: cancelled by a newer learn (${controlId})`));
    return new Promise<MidiMapping>((resolve, reject) => {
      const onTimeout = () => {
        if (this.pending?.timer !== timer) return;
        this.endLearn(new Error(`midi learn ${controlId}: no controller moved within ${opts.timeoutMs} ms`));
      };
      const timer: TimerHandle = this.clock
        ? this.clock.setTimerNs(this.clock.nowNs() + opts.timeoutMs * 1e6, onTimeout)
        : (() => {
          // A learn waiting is no reason for the process to stay up (a service stopping).
          const t = setTimeout(onTimeout, opts.timeoutMs);
          t.unref();
          return { cancel: () => clearTimeout(t) };
        })();
      this.pending = { controlId, d, opts, resolve, reject, timer };
    });
  }

  /** Whether a learn is waiting for a controller. */
  learning(): string | undefined {
    return this.pending?.controlId;
  }

  /** Ends a pending learn with an error (a cancel). */
  cancelLearn(): boolean {
    if (!this.pending) return false;
    this.endLearn(new Error(`midi learn ${this.pending.controlId}: cancelled`));
    return true;
  }

  private endLearn(e: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    p.timer.cancel();
    p.reject(e);
  }

  private learnFrom(_ev: MidiEvent, channel: number, cc: number): void {
    const p = this.pending!;
    this.pending = undefined;
    p.timer.cancel();
    let resolution: 7 | 14 = p.opts.resolution ?? 7;
    let mapCc = cc;
    if (resolution === 14) {
      if (cc < 32) this.skipLsb = { channel, cc: cc + 32 };
      else if (cc < 64) mapCc = cc - 32;
      else {
        resolution = 7;
        this.log(`midi learn ${p.controlId}: controller ${cc} has no LSB (MIDI 1.0: controllers 64..127 are one byte), learned at 7 bits`);
      }
    }
    const m: MidiMapping = {
      channel: channel + 1, cc: mapCc, resolution, control: p.controlId,
      curve: p.opts.curve ?? defaultCurve(p.d), invert: false,
    };
    this.learnedStates = this.learnedStates.filter((s) => !(s.m.channel === m.channel && s.m.cc === m.cc));
    this.learnedStates.push(this.state(m, 'learned'));
    p.resolve({ ...m });
  }
}

/** "ch 1 cc 7" / "any cc 7 (14-bit)", for logs. */
export function describeMapping(m: Pick<MidiMapping, 'channel' | 'cc' | 'resolution'>): string {
  return `${m.channel === 'any' ? 'any channel' : `ch ${m.channel}`} cc ${m.cc}${m.resolution === 14 ? ` (14-bit, LSB cc ${m.cc + 32})` : ''}`;
}
