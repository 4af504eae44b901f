/**
 * The control model (docs/CONTROL.md): every control of a served board as one value with its
 * metadata — the codec's controls of every kind, each stream's gain and mute, the board's GPIO
 * lines and policies — readable and settable whether its device is IDLE or ACTIVE, with change
 * events whoever made the change.
 *
 * The model owns no state of the chip: a stream's gain goes through the stream's device (so the
 * owner hears EXT_GAIN_CHANGED, as after its own SET_GAIN), a part's control through the codec
 * driver (which keeps a value set while the chip cannot take it and writes it when it can), under
 * the one codec lock the stream devices use. What it adds is the description of each control,
 * its id, its default, the percent mapping, and one place that parses values.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../board/load.ts';
import type { BoardRuntime } from '../board/runtime.ts';
import type { GpioRole } from '../board/schema.ts';
import { type ControlDef, codeToDb, settingCode, settingValueName } from '../codec/controls.ts';
import type { GainControlInfo } from '../codec/types.ts';
import type { AsyncMutex } from '../hal/i2c.ts';
import type { DeviceGainState, StreamDevice } from '../stream/device.ts';
import type { HandoffResult } from '../stream/gain-handoff.ts';
import type {
  AppliedAt, ChangeTime, ComponentDescriptor, ControlDescriptor, ControlInfo, ControlListing, ControlValue, Lifecycle, PercentMapping,
} from './types.ts';
import { ControlValueError, formatControlValue, isRelativeValue, parseControlValue } from './values.ts';

export { ControlValueError } from './values.ts';

/** The descriptions ship with the package: their version and licence are its. */
const PACKAGE = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; license: string };

/** A description's control name as an id part: "DSP Program" → "dsp-program". */
export function controlSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/** How many dB below a volume's top its 0 % lies (the percent mapping for UIs). */
export const PERCENT_SPAN_DB = 60;

function percentMapping(min: number, max: number): PercentMapping {
  const bottom = Math.max(min, max - PERCENT_SPAN_DB);
  return {
    minDb: bottom, maxDb: max,
    why: bottom === min ? 'the control\'s whole range' : `the top ${PERCENT_SPAN_DB} dB of the control's range (below it a listening level is lost in a room); 0 % is that bottom, not mute`,
  };
}

/** The roles a board line plays, and who drives it (read-only controls). */
const LINE_WHY: Partial<Record<GpioRole, string>> = {
  'jack-detect': 'an input: the headphone jack drives it (on = plugged)',
  'amp-enable': 'the board\'s power drives it: the amplifier is on while a stream plays (and a policy allows)',
  mute: 'the board\'s power drives it: on (muted) while no stream plays',
  'encoder-a': 'an input: the rotary encoder\'s A contact (it turns the encoder\'s control: docs/CONTROL.md, "Knobs")',
  'encoder-b': 'an input: the rotary encoder\'s B contact (it turns the encoder\'s control: docs/CONTROL.md, "Knobs")',
  'encoder-push': 'an input: the rotary encoder\'s push switch (on = pressed; it toggles encoder.push\'s switch)',
};

/** A control: its description and how to read and set it. */
interface Binding {
  d: ControlDescriptor;
  read(): Promise<ControlValue>;
  /** Sets a checked value; resolves to the value in force after it. */
  write?(v: ControlValue, when?: ChangeTime, rampMs?: number): Promise<ControlValue>;
  /** Engine controls: where the last write took effect. */
  lastApplied?: AppliedAt;
  state(): Lifecycle;
  /** Why the value in force is not what was set (a plugin the engine bypassed), if so. */
  error?(): string | undefined;
}

export interface ControlModelOptions {
  /** The stream devices of the board (src/stream/board-device.ts): stream gains go through them. */
  devices: readonly StreamDevice[];
  /** The lock every codec access of the service takes (the devices' lock). */
  codecLock: AsyncMutex;
  /** The last gain handoff of a direction (a stream gain changed while a stream played): `applied` of a stream gain's set. */
  lastHandoff?: (direction: 'output' | 'input') => HandoffResult | undefined;
  /** The engine-side controls of output streams (the trim): absent, the board has none. */
  engine?: EngineControls;
  log?: (line: string) => void;
}

/** The stream engines' own controls (src/stream/service.ts wires them to the engines). */
export interface EngineControls {
  /** A stream's trim now, dB. */
  trimDb(streamId: string): number;
  /** Sets the trim (at `when`, over `rampMs` or the stream's ramp time); resolves when a running engine applied it. */
  setTrim(streamId: string, db: number, when?: ChangeTime, rampMs?: number): Promise<AppliedAt | undefined>;
  /** More engine-side controls: the streams' plugin chains (src/stream/plugin-controls.ts). */
  extra?: readonly EngineControlBinding[];
}

/** A control of the engine's own that the model serves (EngineControls.extra; src/stream/plugin-controls.ts). */
export interface EngineControlBinding {
  d: ControlDescriptor;
  read(): ControlValue;
  write?(v: ControlValue, when?: ChangeTime): Promise<AppliedAt | undefined>;
  /** Why the value is not what was set (e.g. a plugin the engine bypassed), if so. */
  error?(): string | undefined;
}

/** The engine trim's range: down to −60 dB (the percent mapping's span), never above unity (no clipping). */
export const TRIM_RANGE = { min: -60, max: 0, step: 0 } as const;

export class ControlModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlModelError';
  }
}

/** The board's and its parts' descriptors (XAP's plugin descriptor). */
export function componentDescriptors(rt: BoardRuntime): { board: ComponentDescriptor; parts: ComponentDescriptor[] } {
  const { board, codec } = rt;
  const meta = codec.description?.meta;
  return {
    board: {
      id: board.name, name: board.description, vendor: board.manufacturer, version: PACKAGE.version, licence: PACKAGE.license,
      source: path.relative(PACKAGE_ROOT, board.file) || board.file,
    },
    parts: [{
      id: codec.part, name: codec.name, vendor: codec.vendor, version: PACKAGE.version, licence: PACKAGE.license,
      source: meta?.datasheet ?? 'unknown: the part has no description',
    }],
  };
}

/**
 * Every control of an open board with its metadata, without values: what `info` lists and what
 * the model serves. Needs no stream service (descriptions and the board file only).
 */
export function controlDescriptors(rt: BoardRuntime, engine = true): ControlDescriptor[] {
  return describe(rt, engine).map((x) => x.d);
}

interface Described {
  d: ControlDescriptor;
  /** Part controls: the description's entry. */
  def?: ControlDef;
  /** Stream gains and mutes, and the part's main volumes: the direction whose main control they are. */
  mainOf?: 'output' | 'input';
  role?: GpioRole;
  /** The engine trim of this output stream. */
  trimOf?: string;
}

function describe(rt: BoardRuntime, engine: boolean): Described[] {
  const { board, codec } = rt;
  const out: Described[] = [];
  const part = codec.part;
  const desc = codec.description;
  const boardFile = path.relative(PACKAGE_ROOT, board.file) || board.file;
  const partFile = `codecs/${part}/description.ts`;
  const gains = new Map<string, GainControlInfo>(codec.gainControls().map((g) => [g.name, g]));
  const mainOf = (dir: 'output' | 'input') => codec.gainControls().find((g) => g.direction === dir && g.main);
  const streamsOf = (dir: 'output' | 'input') => board.streams.filter((s) => s.direction === dir);
  const defaults = board.controlDefaults ?? {};
  const initGain = (name: string) => desc?.sequences.init.find((s) => s.op === 'set-gain' && s.control === name) as { db: number } | undefined;

  /** A volume's default: the board file's, else what the part's init sets, else its reset code's dB. */
  const volumeDefault = (keys: string[], def: ControlDef | undefined, g: GainControlInfo): Pick<ControlDescriptor, 'default' | 'defaultSource'> => {
    for (const k of keys) if (k in defaults) return { default: defaults[k]!, defaultSource: `${boardFile} controlDefaults["${k}"]` };
    const init = initGain(g.name);
    if (init) return { default: init.db, defaultSource: `${partFile} sequences.init (set-gain "${g.name}")` };
    if (!def || def.default === 'unknown') return { default: { unknown: `the ${part}'s reset value of "${g.name}" is not among the facts` } };
    const db = codeToDb(def, def.default);
    if (db === 'mute') return { default: { unknown: `the ${part} resets "${g.name}" muted (code 0x${def.default.toString(16)}): no gain` }, defaultSource: `${partFile} controls "${g.name}" default` };
    if (db === undefined) return { default: { unknown: `the ${part}'s reset code 0x${def.default.toString(16)} of "${g.name}" has no known gain` } };
    return { default: db, defaultSource: `${partFile} controls "${g.name}" default (reset code 0x${def.default.toString(16)})` };
  };

  // The streams' gains and mutes: the codec's main volume of their direction, shared.
  for (const dir of ['output', 'input'] as const) {
    const g = mainOf(dir);
    if (!g) continue;
    const def = desc?.controls.find((c) => c.name === g.name);
    const streams = streamsOf(dir);
    const partId = `${board.name}.${part}.${controlSlug(g.name)}`;
    const gainIds = [...streams.map((s) => `${board.name}.${s.id}.gain`), partId];
    const muteIds = streams.map((s) => `${board.name}.${s.id}.mute`);
    const range = { min: g.minDb, max: g.maxDb, step: g.stepDb };
    for (const s of streams) {
      const id = `${board.name}.${s.id}.gain`;
      out.push({
        mainOf: dir,
        d: {
          id, name: `${s.id} gain`, kind: 'volume', owner: { kind: 'stream', id: s.id }, direction: dir, range, unit: 'dB',
          ...volumeDefault([`${s.id}.gain`, ...streams.map((x) => `${x.id}.gain`), `${part}.${controlSlug(g.name)}`], def, g),
          display: { curve: 'dB', percent: percentMapping(g.minDb, g.maxDb) },
          realtimeSafe: false, writable: true, sameAs: gainIds.filter((x) => x !== id), persistent: true,
          source: `the ${part}'s "${g.name}" (${partFile}; ${g.source}), the stream's gain as SET_GAIN sets it`,
        },
      });
      if (g.canMute) {
        const mid = `${board.name}.${s.id}.mute`;
        const key = [`${s.id}.mute`, ...streams.map((x) => `${x.id}.mute`)].find((k) => k in defaults) ?? `${s.id}.mute`;
        const resetMuted = def && def.default !== 'unknown' && codeToDb(def, def.default) === 'mute';
        out.push({
          mainOf: dir,
          d: {
            id: mid, name: `${s.id} mute`, kind: 'switch', owner: { kind: 'stream', id: s.id }, direction: dir, values: ['off', 'on'], unit: 'none',
            ...(key in defaults
              ? { default: defaults[key]!, defaultSource: `${boardFile} controlDefaults["${key}"]` }
              : { default: resetMuted === true, defaultSource: `${partFile} controls "${g.name}" default${resetMuted ? ' (a mute code)' : ''}` }),
            realtimeSafe: false, writable: true, sameAs: muteIds.filter((x) => x !== mid), persistent: true,
            source: `the ${part}'s "${g.name}" mute (${g.source}); on = muted, as SET_GAIN's mute`,
          },
        });
      }
    }
  }

  // The engine's trim of each output stream: applied on the audio path, at a frame, ramped.
  if (engine) {
    for (const s of streamsOf('output')) {
      const key = `${s.id}.trim`;
      out.push({
        trimOf: s.id,
        d: {
          id: `${board.name}.${key}`, name: `${s.id} trim`, kind: 'volume', owner: { kind: 'stream', id: s.id }, direction: 'output',
          range: { ...TRIM_RANGE }, unit: 'dB',
          ...(key in defaults
            ? { default: defaults[key]!, defaultSource: `${boardFile} controlDefaults["${key}"]` }
            : { default: 0, defaultSource: 'src/control/model.ts: unity, the engine passes the client\'s samples bit for bit' }),
          display: { curve: 'dB', percent: percentMapping(TRIM_RANGE.min, TRIM_RANGE.max) },
          realtimeSafe: true, writable: true, persistent: true,
          source: 'the stream\'s engine (src/engine/gain-stage.ts): a gain on the samples, changed at a stream frame (`ctl set --at-frame`) and ramped over the stream\'s ramp time',
        },
      });
    }
  }

  // The part's own controls, in the description's order.
  for (const c of desc?.controls ?? []) {
    const id = `${board.name}.${part}.${controlSlug(c.name)}`;
    const registers = c.channels.map((ch) => ({ reg: ch.reg, ...(ch.field ? { field: ch.field } : {}) }));
    const key = `${part}.${controlSlug(c.name)}`;
    const base = { id, name: c.name, owner: { kind: 'part' as const, id: part }, direction: c.direction, registers, source: `${partFile}: ${c.source}`, realtimeSafe: false };
    if (c.kind === 'volume') {
      const g = gains.get(c.name)!;
      const isMain = g.main && mainOf(c.direction)?.name === c.name;
      const streamIds = isMain ? streamsOf(c.direction).map((s) => `${board.name}.${s.id}.gain`) : [];
      out.push({
        def: c, ...(isMain ? { mainOf: c.direction } : {}),
        d: {
          ...base, kind: 'volume', range: { min: g.minDb, max: g.maxDb, step: g.stepDb }, unit: 'dB',
          ...volumeDefault(isMain ? [key, ...streamsOf(c.direction).map((s) => `${s.id}.gain`)] : [key], c, g),
          display: { curve: 'dB', percent: percentMapping(g.minDb, g.maxDb) },
          writable: true, ...(streamIds.length ? { sameAs: streamIds } : {}), persistent: true,
        },
      });
      continue;
    }
    const names = Object.entries(c.values ?? {}).sort((a, b) => a[1] - b[1]).map(([n]) => n);
    const values = c.kind === 'switch' ? ['off', 'on'] : names;
    let dflt: ControlValue | { unknown: string };
    let dsrc: string | undefined;
    if (key in defaults) {
      dflt = defaults[key]!;
      dsrc = `${boardFile} controlDefaults["${key}"]`;
    } else if (c.default === 'unknown') dflt = { unknown: `the ${part}'s reset value of "${c.name}" is not among the facts` };
    else {
      const name = settingValueName(c, c.default);
      dflt = name === undefined ? { unknown: `reset code ${c.default} is not one of the values` } : c.kind === 'switch' ? name === 'on' : name;
      dsrc = `${partFile} controls "${c.name}" default (reset code ${c.default})`;
    }
    const settable = typeof codec.setSetting === 'function';
    out.push({
      def: c,
      d: {
        ...base, kind: c.kind, values, unit: 'none', default: dflt, ...(dsrc ? { defaultSource: dsrc } : {}),
        writable: settable, ...(settable ? {} : { readOnlyWhy: `the ${part} driver cannot set switches and enums` }), persistent: settable,
      },
    });
  }

  // The board's lines: states to read and watch (the board's power, the jack or the codec drive them).
  const ownPins = desc?.gpioRoles ?? {};
  for (const [role, line] of rt.lines) {
    out.push({
      role,
      d: {
        id: `${board.name}.board.${role}`, name: `${role} line`, kind: 'switch', owner: { kind: 'board', id: 'board' }, values: ['off', 'on'], unit: 'none',
        default: { unknown: 'a line\'s state is not set: it follows what drives it' },
        realtimeSafe: false, writable: false,
        readOnlyWhy: role in ownPins ? `the ${part}'s driver drives it (${ownPins[role]})` : LINE_WHY[role] ?? 'the board drives it',
        source: `${boardFile} gpio.${role} (${line.chip} line ${line.offset}${line.spec.activeLow ? ', active low' : ''})`, persistent: false,
      },
    });
  }

  // Board policies.
  if (hasHeadphonePolicy(rt)) {
    const key = 'board.headphone-mutes-speaker';
    out.push({
      d: {
        id: `${board.name}.${key}`, name: 'headphone mutes speaker', kind: 'switch', owner: { kind: 'board', id: 'board' }, values: ['off', 'on'], unit: 'none',
        ...(key in defaults ? { default: defaults[key]!, defaultSource: `${boardFile} controlDefaults["${key}"]` } : { default: false, defaultSource: 'src/control/model.ts: off unless the board file says on' }),
        realtimeSafe: false, writable: true, persistent: true,
        source: 'board policy (src/control/model.ts): while the headphone jack is in, the board\'s speaker amplifier stays off',
      },
    });
  }
  return out;
}

/** The speaker-off-while-headphones policy needs a jack, a speaker stream and a board amplifier. */
function hasHeadphonePolicy(rt: BoardRuntime): boolean {
  return rt.lines.has('jack-detect') && rt.power.hasAmplifier &&
    rt.board.streams.some((s) => s.plug === 'jack-detect') && rt.board.streams.some((s) => s.purpose === 'speaker');
}

export class ControlModel {
  readonly board: ComponentDescriptor;
  readonly parts: ComponentDescriptor[];
  private readonly bindings = new Map<string, Binding>();
  private readonly order: string[] = [];
  private readonly listeners = new Set<(c: ControlInfo) => void>();
  /** The last value each control was seen with (change events are sent only when it differs). */
  private readonly seen = new Map<string, ControlValue>();
  private readonly activeStreams = new Map<string, number>();
  /** The ids of each direction's main volume: the streams' gains and mutes and the part's control. */
  private readonly mainIds: Record<'output' | 'input', string[]> = { output: [], input: [] };
  private readonly offs: (() => void)[] = [];
  private readonly log: (line: string) => void;
  private headphonePolicy = false;
  private closed = false;

  constructor(private readonly rt: BoardRuntime, private readonly opts: ControlModelOptions) {
    this.log = opts.log ?? (() => {});
    const { board, parts } = componentDescriptors(rt);
    this.board = board;
    this.parts = parts;
    for (const x of describe(rt, opts.engine !== undefined)) this.bind(x);
    for (const x of opts.engine?.extra ?? []) this.bindEngine(x);
    this.follow();
  }

  private device(dir: 'output' | 'input'): StreamDevice | undefined {
    return this.opts.devices.find((d) => d.info.direction === dir);
  }

  private streamState(streamId: string): Lifecycle {
    return (this.activeStreams.get(streamId) ?? 0) > 0 ? 'active' : 'idle';
  }

  private partState(): Lifecycle {
    return this.rt.power.state === 'on' ? 'active' : 'idle';
  }

  private bind(x: Described): void {
    const { d } = x;
    if (this.bindings.has(d.id)) throw new ControlModelError(`board ${this.rt.board.name}: two controls have the id ${d.id} (a stream named like the part or "board"?)`);
    const { codec } = this.rt;
    const lock = this.opts.codecLock;
    let b: Binding;
    if (x.mainOf) {
      this.mainIds[x.mainOf].push(d.id);
      const dev = this.device(x.mainOf);
      const streamId = d.owner.kind === 'stream' ? d.owner.id : undefined;
      const state = () => (streamId ? this.streamState(streamId) : this.partState());
      const isMute = d.kind === 'switch';
      if (dev) {
        const dir = x.mainOf;
        const bound: Binding = {
          d, state,
          read: async () => { const g = await dev.getGain(); return isMute ? g.muted : g.gainDb; },
          write: async (v) => {
            const before = this.opts.lastHandoff?.(dir);
            const g = await dev.setGain(isMute ? { muted: v as boolean } : { gainDb: v as number });
            // While a stream plays the change was handed over at a frame (src/stream/gain-handoff.ts).
            const h = this.opts.lastHandoff?.(dir);
            if (h && h !== before && h.landedNs !== undefined) {
              bound.lastApplied = { ...(h.fromFrame !== undefined ? { frame: h.fromFrame } : {}), timeNs: h.landedNs, ...(h.scheduledNs !== undefined ? { scheduledNs: h.scheduledNs } : {}) };
            } else delete bound.lastApplied;
            return isMute ? g.muted : g.gainDb;
          },
        };
        b = bound;
      } else {
        // A direction with no stream on this board: the part's main volume straight through the codec.
        const name = x.def!.name;
        b = {
          d, state,
          read: async () => (await lock.run(() => codec.getGain(name))).db,
          write: async (v) => (await lock.run(() => codec.setGain(name, v as number))).db,
        };
      }
    } else if (x.def && d.kind === 'volume') {
      const name = x.def.name;
      b = {
        d, state: () => this.partState(),
        read: async () => (await lock.run(() => codec.getGain(name))).db,
        write: async (v) => (await lock.run(() => codec.setGain(name, v as number))).db,
      };
    } else if (x.def) {
      const def = x.def;
      const toValue = (code: number): ControlValue => {
        const name = settingValueName(def, code);
        if (name === undefined) throw new ControlModelError(`${d.id}: the chip holds code ${code}, which is none of its values (${d.values!.join(', ')})`);
        return def.kind === 'switch' ? name === 'on' : name;
      };
      // The value was checked against d.values (parseControlValue): its name is one of the codes'.
      const toCode = (v: ControlValue): number => settingCode(def, def.kind === 'switch' ? (v ? 'on' : 'off') : (v as string));
      b = {
        d, state: () => this.partState(),
        read: async () => {
          if (!codec.getSetting) throw new ControlModelError(`${d.id}: the ${codec.part} driver cannot read settings`);
          return toValue(await lock.run(() => codec.getSetting!(def.name)));
        },
        ...(codec.setSetting ? { write: async (v: ControlValue) => toValue(await lock.run(() => codec.setSetting!(def.name, toCode(v)))) } : {}),
      };
    } else if (x.trimOf !== undefined) {
      const streamId = x.trimOf;
      const engine = this.opts.engine!;
      const bound: Binding = {
        d, state: () => this.streamState(streamId),
        read: async () => engine.trimDb(streamId),
        write: async (v, when, rampMs) => {
          const applied = await engine.setTrim(streamId, v as number, when, rampMs);
          if (applied) bound.lastApplied = applied;
          else delete bound.lastApplied;
          return engine.trimDb(streamId);
        },
      };
      b = bound;
    } else if (x.role) {
      const line = this.rt.lines.get(x.role)!;
      b = { d, state: () => this.partState(), read: async () => line.request.getValue(line.offset) === 1 };
    } else if (d.id.endsWith('.board.headphone-mutes-speaker')) {
      b = {
        d, state: () => this.partState(),
        read: async () => this.headphonePolicy,
        write: async (v) => {
          this.headphonePolicy = v as boolean;
          await this.applyHeadphonePolicy();
          return this.headphonePolicy;
        },
      };
    } else {
      throw new ControlModelError(`${d.id}: no way to read it`);
    }
    this.bindings.set(d.id, b);
    this.order.push(d.id);
  }

  /** An engine-side control of the streams' plugins: its state follows its stream. */
  private bindEngine(x: EngineControlBinding): void {
    const { d } = x;
    if (this.bindings.has(d.id)) throw new ControlModelError(`board ${this.rt.board.name}: two controls have the id ${d.id}`);
    const streamId = d.owner.id;
    const write = x.write;
    const bound: Binding = {
      d, state: () => this.streamState(streamId),
      read: async () => x.read(),
      ...(x.error ? { error: x.error } : {}),
      ...(write ? {
        write: async (v: ControlValue, when?: ChangeTime) => {
          const applied = await write(v, when);
          if (applied) bound.lastApplied = applied;
          else delete bound.lastApplied;
          return x.read();
        },
      } : {}),
    };
    this.bindings.set(d.id, bound);
    this.order.push(d.id);
  }

  /**
   * The engine controls whose ids start with `prefix` (a stream's plugin chain: `<board>.<stream>.fx`)
   * give way to `bindings` (a chain swapped: src/stream/plugin-controls.ts). Listeners are told of
   * each new control (as a change); a removed control's id is unknown from now on.
   */
  async replaceEngineControls(prefix: string, bindings: readonly EngineControlBinding[]): Promise<void> {
    for (const id of [...this.order]) {
      if (!id.startsWith(prefix)) continue;
      this.bindings.delete(id);
      this.seen.delete(id);
      this.order.splice(this.order.indexOf(id), 1);
    }
    for (const x of bindings) this.bindEngine(x);
    for (const x of bindings) {
      const info = await this.info(this.bindings.get(x.d.id)!);
      for (const fn of this.listeners) fn(info);
    }
  }

  /** A control's value or error changed without a set (the engine bypassed a plugin): its listeners are told. */
  changed(id: string): void {
    const b = this.bindings.get(id);
    if (!b || this.closed) return;
    void this.info(b).then((info) => { for (const fn of this.listeners) fn(info); });
  }

  private async applyHeadphonePolicy(): Promise<void> {
    await this.rt.power.inhibitAmplifier(this.headphonePolicy && this.rt.jackPlugged() === true);
  }

  /** Changes made elsewhere: a stream owner's SET_GAIN, the board's power, the jack. */
  private follow(): void {
    for (const dir of ['output', 'input'] as const) {
      const dev = this.device(dir);
      if (!dev) continue;
      const ids = this.mainIds[dir];
      this.offs.push(dev.onGainChange((s: DeviceGainState) => {
        for (const id of ids) this.noteValue(id, this.bindings.get(id)!.d.kind === 'switch' ? s.muted : s.gainDb);
      }));
    }
    const lineIds = [...this.bindings.values()].filter((b) => b.d.owner.kind === 'board' && !b.d.writable).map((b) => b.d.id);
    const onPower = () => { for (const id of lineIds) void this.refresh(id); };
    this.rt.power.listeners.add(onPower);
    this.offs.push(() => this.rt.power.listeners.delete(onPower));
    const jack = this.rt.lines.get('jack-detect');
    if (jack) {
      this.offs.push(jack.request.onEdge(() => {
        for (const id of lineIds) void this.refresh(id);
        if (this.headphonePolicy) void this.applyHeadphonePolicy().catch((e) => this.log(`headphone policy: ${(e as Error).message}`));
      }));
    }
  }

  /** A stream's ring buffer started (true) or stopped (false): its controls' lifecycle. */
  streamActivity(streamId: string, active: boolean): void {
    const n = Math.max(0, (this.activeStreams.get(streamId) ?? 0) + (active ? 1 : -1));
    if (n === 0) this.activeStreams.delete(streamId);
    else this.activeStreams.set(streamId, n);
  }

  /** Listens to settled changes; returns the function that stops it. */
  onChange(fn: (c: ControlInfo) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private binding(id: string): Binding {
    const b = this.bindings.get(id);
    if (!b) {
      const near = this.order.filter((x) => x.endsWith(`.${id}`) || x.includes(id)).slice(0, 5);
      throw new ControlModelError(`no control "${id}" on board ${this.rt.board.name}${near.length ? ` (did you mean ${near.join(', ')}?)` : ` (controls: 'sbc-audio ctl list')`}`);
    }
    return b;
  }

  private async info(b: Binding): Promise<ControlInfo> {
    try {
      const value = await b.read();
      this.seen.set(b.d.id, value);
      const error = b.error?.();
      return { ...b.d, value, state: b.state(), ...(error ? { error } : {}) };
    } catch (e) {
      return { ...b.d, value: null, state: b.state(), error: (e as Error).message };
    }
  }

  private noteValue(id: string, value: ControlValue): void {
    const b = this.bindings.get(id);
    if (!b || this.closed) return;
    if (this.seen.has(id) && this.seen.get(id) === value) return;
    this.seen.set(id, value);
    const info: ControlInfo = { ...b.d, value, state: b.state() };
    for (const fn of this.listeners) fn(info);
  }

  private async refresh(id: string): Promise<void> {
    const b = this.bindings.get(id);
    if (!b) return;
    try {
      this.noteValue(id, await b.read());
    } catch { /* a read that fails shows in the next get */ }
  }

  async list(): Promise<ControlListing> {
    const controls: ControlInfo[] = [];
    for (const id of this.order) controls.push(await this.info(this.bindings.get(id)!));
    return { board: this.board, parts: this.parts, controls };
  }

  ids(): string[] {
    return [...this.order];
  }

  async get(id: string): Promise<ControlInfo> {
    return this.info(this.binding(id));
  }

  /**
   * Sets a control from a value as the control channel takes it (docs/CONTROL.md): checked
   * against the control first (ControlValueError, nothing changed), then applied; the answer
   * is the control as it is after the change. A failed write is thrown on (its message says what
   * the chip holds), and the controls it touched are read again so watchers see the truth.
   */
  async set(id: string, input: unknown, opts: { at?: ChangeTime; rampMs?: number } = {}): Promise<ControlInfo> {
    const b = this.binding(id);
    if (!b.write) throw new ControlModelError(`${id} cannot be set: ${b.d.readOnlyWhy ?? 'it is read-only'}`);
    const at = checkChangeTime(id, opts.at);
    if (opts.rampMs !== undefined && !(typeof opts.rampMs === 'number' && opts.rampMs >= 0 && opts.rampMs <= 1000)) {
      throw new ControlValueError(`${id}: rampMs must be a number of ms from 0 to 1000, got ${JSON.stringify(opts.rampMs)}`);
    }
    if (at?.frame !== undefined && !b.d.realtimeSafe) {
      throw new ControlValueError(`${id}: a change at a stream frame is for engine controls (realtimeSafe); a register control takes a time (at.ns), written as close to it as the bus allows`);
    }
    if (opts.rampMs !== undefined && !b.d.realtimeSafe) throw new ControlValueError(`${id}: rampMs is for engine controls (a register change ramps over its streams' ramp time)`);
    // The value in force is needed only for a step ("+3dB"): no bus read for the others.
    let current: ControlValue | null = null;
    if (isRelativeValue(input)) {
      try {
        current = await b.read();
      } catch { /* the parser then says the value is not known */ }
    }
    const value = parseControlValue(b.d, input, current);
    try {
      let registerAt: AppliedAt | undefined;
      if (!b.d.realtimeSafe && at?.ns !== undefined) {
        // A register change at a time: a timer on the board's clock, then the write (it lands
        // as close as the timer and the bus allow: `applied` says when it did).
        const clock = this.rt.hal.clock;
        if (at.ns > clock.nowNs()) await clock.sleepUntilNs(at.ns);
        registerAt = { timeNs: clock.nowNs(), scheduledNs: at.ns };
      }
      const applied = await b.write(value, at, opts.rampMs);
      for (const x of [id, ...(b.d.sameAs ?? [])]) this.noteValue(x, applied);
      const when = registerAt ?? b.lastApplied;
      return { ...b.d, value: applied, state: b.state(), ...(when ? { applied: when } : {}) };
    } catch (e) {
      for (const x of [id, ...(b.d.sameAs ?? [])]) void this.refresh(x);
      throw e;
    }
  }

  /**
   * The board's defaults, then `saved` (the state file's values), each set as `ctl set` would.
   * A value that no longer fits (a control gone, a range changed) is skipped with one warning
   * line naming each; nothing here throws for a bad saved value.
   */
  async restore(saved: Record<string, ControlValue> = {}, what = 'state file'): Promise<void> {
    const bad: string[] = [];
    // The board file's defaults first (they are checked: a wrong one names its field).
    for (const [key, v] of Object.entries(this.rt.board.controlDefaults ?? {})) {
      const id = `${this.rt.board.name}.${key}`;
      if (!this.bindings.has(id)) {
        throw new ControlModelError(`${this.rt.board.file}: controlDefaults["${key}"]: no such control on board ${this.rt.board.name} (controls: ${this.order.map((x) => x.slice(this.rt.board.name.length + 1)).filter((x) => this.bindings.get(`${this.rt.board.name}.${x}`)?.write).join(', ')})`);
      }
      try {
        await this.set(id, v);
      } catch (e) {
        throw new ControlModelError(`${this.rt.board.file}: controlDefaults["${key}"]: ${(e as Error).message}`);
      }
    }
    // A stream's plugin chain first: its stages' controls exist once it is in place. Then a DSSI
    // stage's configure keys, before its program (dssi.h: configure invalidates the program; the
    // host replays configure before any program), then the program, then the ports (a program
    // rewrites them: the values saved after it win).
    const rank = (id: string) => (id.endsWith('.chain') ? 0 : /\.fx\d+-configure$/.test(id) ? 1 : /\.fx\d+-program$/.test(id) ? 2 : 3);
    const entries = Object.entries(saved).sort(([a], [b]) => rank(a) - rank(b));
    for (const [id, v] of entries) {
      const b = this.bindings.get(id);
      if (!b || !b.write || !b.d.persistent) {
        bad.push(`${id} (no such settable control)`);
        continue;
      }
      try {
        await this.set(id, v);
      } catch (e) {
        bad.push(`${id} (${e instanceof ControlValueError || e instanceof ControlModelError ? e.message : `not applied: ${(e as Error).message}`})`);
      }
    }
    if (bad.length) this.log(`${what}: skipped ${bad.length} value${bad.length === 1 ? '' : 's'}: ${bad.slice(0, 10).join('; ')}${bad.length > 10 ? `; and ${bad.length - 10} more` : ''}`);
  }

  /** The persistent controls' values as last seen (what the state file stores). */
  persistentValues(): Record<string, ControlValue> {
    const out: Record<string, ControlValue> = {};
    for (const id of this.order) {
      const b = this.bindings.get(id)!;
      if (b.d.persistent && this.seen.has(id)) out[id] = this.seen.get(id)!;
    }
    return out;
  }

  /** Reads every control once (so persistentValues holds them all). */
  async readAll(): Promise<void> {
    for (const id of this.order) await this.info(this.bindings.get(id)!);
  }

  close(): void {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    this.listeners.clear();
  }
}

/**
 * A change time as the control channel gives it: a frame (integer ≥ 0) or a time (ns > 0), not
 * both. The dispatcher checks with it too, so a bad time is refused at once, not after a wait.
 */
export function checkChangeTime(id: string, at: unknown): ChangeTime | undefined {
  if (at === undefined || at === null) return undefined;
  if (typeof at !== 'object' || Array.isArray(at)) throw new ControlValueError(`${id}: at must be { "frame": N } or { "ns": T }, got ${JSON.stringify(at)}`);
  const o = at as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1 || !['frame', 'ns'].includes(keys[0]!)) throw new ControlValueError(`${id}: at must be { "frame": N } or { "ns": T }, got ${JSON.stringify(at)}`);
  if (o.frame !== undefined && !(Number.isSafeInteger(o.frame) && (o.frame as number) >= 0)) throw new ControlValueError(`${id}: at.frame must be a stream frame position (an integer ≥ 0), got ${JSON.stringify(o.frame)}`);
  if (o.ns !== undefined && !(typeof o.ns === 'number' && Number.isFinite(o.ns) && o.ns > 0)) throw new ControlValueError(`${id}: at.ns must be a CLOCK_MONOTONIC time in ns (> 0), got ${JSON.stringify(o.ns)}`);
  return o.frame !== undefined ? { frame: o.frame as number } : { ns: o.ns as number };
}

/** "sim.speaker.gain: -20 dB" */
export function controlLine(c: ControlInfo): string {
  return `${c.id}: ${formatControlValue(c, c.value)}`;
}
