/**
 * A codec driver built from a description: the generic parts (controls, formats, latency,
 * sequences) live here, so a part's driver is only its hooks. Subclass `DescribedCodec`, pass the
 * description, and override or register hooks where the chip needs code.
 */
import { rangeHasRate, SAMPLE_FORMAT_FOR_BITS, SAMPLE_FORMATS_OF_BITS } from '../audio/formats.ts';
import {
  audibleCodes, canMute, checkSettingCode, codeToDb, type ControlDef, ControlError, dbToCode, gainRange, settingValueName,
} from './controls.ts';
import { type CodecDescription, type DelayFigure, known, type SequenceStep } from './description.ts';
import { Regmap, type RegmapOptions } from './regmap.ts';
import type {
  CodecContext, CodecDriver, FormatRange, GainControlInfo, GainState, LatencyItem, SettingControlInfo, StreamFormat,
} from './types.ts';

export class CodecError extends Error {
  constructor(readonly part: string, message: string) {
    super(`${part}: ${message}`);
    this.name = 'CodecError';
  }
}

export type Hook = (step: SequenceStep) => Promise<void>;

/** A record of what a sequence did, in order (for tests and `--verbose`). */
export interface SequenceEvent {
  atNs: number;
  sequence: string;
  step: SequenceStep;
  /** For polls: how many reads it took and whether the condition was met. */
  polls?: number;
  met?: boolean;
  /** An 'unknown' step: recorded, not run (its figures are not among the facts). */
  skipped?: boolean;
}

/** The board option codec.options.sampleBits: sample widths a board supplies where the part's are unknown. */
function parseSampleBits(part: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const o = v as { bits?: unknown; source?: unknown };
  const ok = typeof v === 'object' && v !== null && Array.isArray(o.bits) && o.bits.length > 0 &&
    o.bits.every((b) => typeof b === 'number' && SAMPLE_FORMAT_FOR_BITS[b] !== undefined) &&
    typeof o.source === 'string' && o.source.trim() !== '';
  if (!ok) {
    throw new CodecError(part, `board option codec.options.sampleBits must be { "bits": [16, 20, 24 or 32, ...], "source": "where the widths come from" }, got ${JSON.stringify(v)}`);
  }
  return (o.bits as number[]).reduce((acc, b) => acc | SAMPLE_FORMAT_FOR_BITS[b]!, 0);
}

/** How many sequence steps `events` keeps (oldest dropped): bounded, a service runs for months. */
export const MAX_SEQUENCE_EVENTS = 1000;

export class DescribedCodec implements CodecDriver {
  readonly part: string;
  readonly name: string;
  readonly vendor: string;
  readonly regmap: Regmap | undefined;
  /** The last MAX_SEQUENCE_EVENTS steps of the sequences run (tests, `sim state`). */
  readonly events: SequenceEvent[] = [];
  protected readonly hooks = new Map<string, Hook>();
  protected format: StreamFormat | undefined;
  /** The stream's wanted gain and mute per control (what setGain/setMute asked for). */
  private readonly gains = new Map<string, GainState>();
  /** Controls a sequence holds muted ('mute-control'): the chip is muted whatever `gains` says. */
  private readonly held = new Set<string>();
  /**
   * Switches and enums set at run time (name → code). Unlike `gains`, init keeps them: they are
   * the user's, and re-written after the driver's own sequences (restoreSettings).
   */
  private readonly settings = new Map<string, number>();
  /** Sample formats a board supplies for ranges whose widths are unknown (codec.options.sampleBits). */
  private readonly boardSampleFormats: number | undefined;
  /** The description's paths the board's running streams use (`setPathsInUse`). */
  private pathsWanted = new Set<string>();
  /** Paths and shared blocks whose up steps ran (and whose down steps did not since). */
  private readonly pathsUp = new Set<string>();
  /** Between a sequence's paths 'up' and 'down' steps: a change of the paths in use is applied at once. */
  private pathsLive = false;

  constructor(readonly description: CodecDescription, protected readonly ctx: CodecContext, regmapOptions: RegmapOptions = {}) {
    this.part = description.meta.id;
    this.name = description.meta.name;
    this.vendor = description.meta.vendor;
    if (description.regmap) {
      if (!ctx.bus || ctx.addr === undefined) {
        throw new CodecError(this.part, 'this part has a control bus: the board file must give codec.bus and codec.address');
      }
      this.regmap = new Regmap(description.regmap, ctx.bus, ctx.addr, { sleepMs: ctx.sleepMs, ...regmapOptions });
      if (this.needsMclkForBus()) this.regmap.setBusGate(this.mclkGateReason());
    }
    if (ctx.options.mclk !== undefined) {
      throw new CodecError(this.part, `board option codec.options.mclk is no longer read: a board whose own oscillator feeds the codec's master clock says so as ` +
        `codec.mclk = { "hz": N, "from": "oscillator", "source": "..." } (opening the board then lets the driver reach the chip), got mclk = ${JSON.stringify(ctx.options.mclk)}`);
    }
    this.boardSampleFormats = parseSampleBits(this.part, ctx.options.sampleBits);
  }

  /** The part's control bus works only while its master clock runs (description.clocks.mclkBeforeBus). */
  private needsMclkForBus(): boolean {
    const f = this.description.clocks.mclkBeforeBus;
    return known(f) && f.value === true;
  }

  private mclkGateReason(): string {
    const f = this.description.clocks.mclkBeforeBus;
    return `its master clock (MCLK) is not running, and the part takes no I2C access before it runs (${known(f) ? f.source : ''}); ` +
      'start MCLK and call setMclkRunning(true) (a board whose own oscillator feeds MCLK says so in its file, ' +
      'codec.mclk = { "hz": N, "from": "oscillator", "source": "..." }, and opening the board does it)';
  }

  /**
   * MCLK started (true) or is about to stop (false). For parts that need it before any bus
   * access, this opens or closes the register map's bus gate; other parts ignore it.
   */
  async setMclkRunning(running: boolean): Promise<void> {
    if (!this.regmap || !this.needsMclkForBus()) return;
    this.regmap.setBusGate(running ? undefined : this.mclkGateReason());
  }

  protected get map(): Regmap {
    if (!this.regmap) throw new CodecError(this.part, 'this part has no register map');
    return this.regmap;
  }

  /** The board option `key`, checked against allowed values. */
  protected option<T extends string>(key: string, allowed: readonly T[], dflt: T): T {
    const v = this.ctx.options[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      throw new CodecError(this.part, `board option codec.options.${key} must be one of ${allowed.map((x) => `"${x}"`).join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }

  // --- sequences -------------------------------------------------------------------------

  protected async runSequence(name: keyof CodecDescription['sequences']): Promise<void> {
    for (const step of this.description.sequences[name]) await this.runStep(name, step);
  }

  /** Runs one of the description's `subSequences` (from a hook: a clocking mode, a divider set). */
  protected async runSubSequence(name: string): Promise<void> {
    const steps = this.description.subSequences?.[name];
    if (!steps) {
      throw new CodecError(this.part, `the description has no sub-sequence "${name}" (it has: ${Object.keys(this.description.subSequences ?? {}).join(', ') || 'none'})`);
    }
    for (const step of steps) await this.runStep(name, step);
  }

  private record(sequence: string, step: SequenceStep, extra: Partial<SequenceEvent> = {}): void {
    this.events.push({ atNs: this.ctx.clock.nowNs(), sequence, step, ...extra });
    if (this.events.length > MAX_SEQUENCE_EVENTS) this.events.splice(0, this.events.length - MAX_SEQUENCE_EVENTS);
  }

  protected async runStep(sequence: string, step: SequenceStep): Promise<void> {
    switch (step.op) {
      case 'write':
        this.record(sequence, step);
        await this.map.write(step.reg, step.value);
        return;
      case 'update':
        this.record(sequence, step);
        await this.map.update(step.reg, step.fields);
        return;
      case 'poll': {
        const start = this.ctx.clock.nowNs();
        let polls = 0;
        for (;;) {
          polls++;
          if ((await this.map.readField(step.reg, step.field)) === step.equals) {
            this.record(sequence, step, { polls, met: true });
            return;
          }
          if (this.ctx.clock.nowNs() - start >= step.timeoutMs * 1e6) break;
          await this.ctx.sleepMs(step.intervalMs);
        }
        this.record(sequence, step, { polls, met: false });
        if (step.onTimeout === 'fail') {
          throw new CodecError(this.part, `${sequence}: ${step.reg}.${step.field} did not become ${step.equals} within ${step.timeoutMs} ms (${polls} reads)`);
        }
        return;
      }
      case 'delay':
        this.record(sequence, step);
        await this.ctx.sleepMs(step.ms);
        return;
      case 'delay-option': {
        const v = this.ctx.options[step.option] ?? 0;
        if (typeof v !== 'number' || !(v >= 0) || v > 10_000) {
          throw new CodecError(this.part, `board option codec.options.${step.option} must be a delay in ms (0..10000), got ${JSON.stringify(v)}`);
        }
        this.record(sequence, step);
        if (v > 0) await this.ctx.sleepMs(v);
        return;
      }
      case 'gpio': {
        const line = this.ctx.gpio.get(step.role);
        if (!line) {
          if (step.optional) return;
          throw new CodecError(this.part, `${sequence}: the board wires no "${step.role}" GPIO, which this part needs`);
        }
        this.record(sequence, step);
        line.request.setValue(line.offset, step.value);
        return;
      }
      case 'hook': {
        const h = this.hooks.get(step.name);
        if (!h) throw new CodecError(this.part, `${sequence}: no hook "${step.name}" in the driver`);
        this.record(sequence, step);
        await h(step);
        return;
      }
      case 'mute-control':
        this.record(sequence, step);
        await this.holdMute(step.control, step.muted);
        return;
      case 'set-gain':
        this.record(sequence, step);
        await this.setGain(step.control, step.db);
        return;
      case 'unknown':
        this.record(sequence, step, { skipped: true });
        return;
      case 'paths':
        this.record(sequence, step);
        this.pathsLive = step.action === 'up';
        await this.applyPaths();
        return;
    }
  }

  // --- paths -----------------------------------------------------------------------------

  /**
   * The paths a board's running streams use, by direction and purpose (src/board/power.ts): while
   * the codec is powered, paths that join come up at once and paths that leave go down; otherwise
   * they are remembered for the next power-up. A part without `paths` ignores it.
   */
  async setPathsInUse(paths: { output: readonly string[]; input: readonly string[] }): Promise<void> {
    const defs = this.description.paths;
    if (!defs) return;
    const wanted = new Set<string>();
    for (const [direction, names] of [['output', paths.output], ['input', paths.input]] as const) {
      for (const n of names) {
        if (!Object.hasOwn(defs, n) || defs[n]!.direction !== direction) {
          const offered = Object.entries(defs).filter(([, d]) => d.direction === direction).map(([k]) => `"${k}"`);
          throw new CodecError(this.part, `no ${direction} path "${n}" (its ${direction} paths: ${offered.join(', ') || 'none'})`);
        }
        wanted.add(n);
      }
    }
    this.pathsWanted = wanted;
    if (this.pathsLive) {
      await this.applyPaths();
      // The up steps of a path that joined may write the registers of a setting.
      await this.restoreSettings();
    }
  }

  /** The paths in use now (what `setPathsInUse` last said), and those powered (with their shared blocks). */
  paths(): { inUse: string[]; up: string[] } {
    const order = Object.keys(this.description.paths ?? {});
    return { inUse: order.filter((n) => this.pathsWanted.has(n)), up: order.filter((n) => this.pathsUp.has(n)) };
  }

  /** Brings the powered paths to what is wanted: down first (users before their shared blocks), then up. */
  private async applyPaths(): Promise<void> {
    const defs = this.description.paths;
    if (!defs) return;
    const order = Object.keys(defs);
    const need = new Set<string>();
    if (this.pathsLive) {
      for (const n of this.pathsWanted) {
        need.add(n);
        for (const x of defs[n]!.needs ?? []) need.add(x);
      }
    }
    for (const n of [...order].reverse()) {
      if (!this.pathsUp.has(n) || need.has(n)) continue;
      for (const step of defs[n]!.down) await this.runStep(`path:${n}:down`, step);
      this.pathsUp.delete(n);
    }
    for (const n of order) {
      if (this.pathsUp.has(n) || !need.has(n)) continue;
      for (const step of defs[n]!.up) await this.runStep(`path:${n}:up`, step);
      this.pathsUp.add(n);
    }
  }

  /** Holds a control muted (the chip muted whatever the stream asked), or releases it and writes the stream's state. */
  protected async holdMute(name: string, muted: boolean): Promise<void> {
    const c = this.control(name);
    if (!canMute(c)) throw new CodecError(this.part, `control "${name}" cannot mute`);
    if (muted) {
      // The stream's state stays as it was; where nothing set it yet, the known reset default.
      if (!this.gains.has(name)) {
        const st = this.defaultState(c);
        if (st) this.gains.set(name, st);
      }
      this.held.add(name);
      await this.writeState(c, { db: this.gains.get(name)?.db ?? Number.NaN, muted: true });
      return;
    }
    this.held.delete(name);
    let st = this.gains.get(name);
    if (!st) {
      st = await this.stateFromDefaultOrChip(c);
      this.gains.set(name, st);
    }
    await this.writeState(c, st);
  }

  // --- CodecDriver -----------------------------------------------------------------------

  async holdOutputMuted(held: boolean): Promise<void> {
    for (const c of this.volumeControls()) {
      if (c.direction === 'output' && c.main && canMute(c)) await this.holdMute(c.name, held);
    }
  }

  /** Recognises the chip as the description's `probe` says (one implementation for every part). */
  async probe(): Promise<void> {
    const def = this.description.probe;
    if (!this.regmap || !def || 'none' in def) return;
    const where = `at 0x${this.ctx.addr!.toString(16)} on ${this.ctx.bus!.name}`;
    let first: number;
    try {
      first = await this.map.readFromChip(def.reg);
      for (const r of def.alsoReads ?? []) await this.map.readFromChip(r);
    } catch (e) {
      throw new CodecError(this.part, `no ${this.part.toUpperCase()} answering ${where}: ${(e as Error).message}`);
    }
    if (def.id) {
      const mask = def.id.mask ?? 2 ** this.map.def.valueBits - 1;
      if ((first & mask) !== (def.id.value & mask)) {
        throw new CodecError(this.part, `chip id 0x${(first & mask).toString(16)} ${where}, expected 0x${(def.id.value & mask).toString(16)}`);
      }
    }
  }

  async init(): Promise<void> {
    this.gains.clear();
    this.held.clear();
    // From reset: no path is powered (the paths in use stay what the board last said).
    this.pathsUp.clear();
    this.pathsLive = false;
    await this.runSequence('init');
    for (const c of this.volumeControls()) {
      if (this.gains.has(c.name)) continue; // set by the sequence ('set-gain', 'mute-control')
      const st = this.defaultState(c);
      if (st) this.gains.set(c.name, st);
    }
    // A reset (PCM5122 reg 1, WM8960 R15) or init's own writes put the registers back to defaults.
    await this.restoreSettings();
  }

  /** The control's reset default as a stream state, where the default is a known audible code. */
  private defaultState(c: ControlDef): GainState | undefined {
    if (c.default === 'unknown') return undefined;
    const db = codeToDb(c, c.default);
    return typeof db === 'number' ? { db, muted: false } : undefined;
  }

  private async stateFromDefaultOrChip(c: ControlDef): Promise<GainState> {
    return this.defaultState(c) ?? (await this.readState(c));
  }

  async setFormat(fmt: StreamFormat): Promise<void> {
    // The width on the bus: any container of it (S24_3LE and S24_LE are the same 24-bit word to the chip).
    const fbits = SAMPLE_FORMATS_OF_BITS[fmt.bits];
    const ok = this.formats('output').concat(this.formats('input')).some((r) =>
      fbits !== undefined && (r.sampleFormats & fbits) !== 0 && rangeHasRate(r, fmt.rate) &&
      fmt.channels >= r.minChannels && fmt.channels <= r.maxChannels);
    if (!ok) {
      let why = '';
      if (this.description.formatsUnknown) why = ` (it has none: ${this.description.formatsUnknown})`;
      else if (this.boardSampleFormats === undefined && this.description.formats.some((f) => f.sampleFormatsUnknown)) {
        why = ` (its sample widths are not among the facts: ${this.description.formats.find((f) => f.sampleFormatsUnknown)!.sampleFormatsUnknown}; ` +
          'a board file may supply them as codec.options.sampleBits { "bits": [...], "source": "..." })';
      }
      throw new CodecError(this.part, `format ${fmt.rate} Hz, ${fmt.bits}-bit, ${fmt.channels} channels is not among the part's format ranges${why}`);
    }
    this.format = { ...fmt };
    await this.applyFormat(fmt);
  }

  /** Part hook: program the chip for an accepted format. */
  protected async applyFormat(_fmt: StreamFormat): Promise<void> {}

  async powerUp(): Promise<void> {
    await this.runSequence('powerUp');
    // Its steps (and the paths it brings up) may write the registers of a setting.
    await this.restoreSettings();
  }

  async powerDown(): Promise<void> {
    await this.runSequence('powerDown');
  }

  protected volumeControls(): ControlDef[] {
    return this.description.controls.filter((c) => c.kind === 'volume');
  }

  protected control(name: string): ControlDef {
    const c = this.volumeControls().find((x) => x.name === name);
    if (!c) {
      const names = this.volumeControls().map((x) => `"${x.name}"`).join(', ');
      throw new CodecError(this.part, `no gain control "${name}" (${names ? `it has ${names}` : 'it has no gain controls: fixed gain'})`);
    }
    return c;
  }

  gainControls(): GainControlInfo[] {
    return this.volumeControls().map((c) => {
      const r = gainRange(c);
      return {
        name: c.name, direction: c.direction, minDb: r.minDb, maxDb: r.maxDb, stepDb: r.stepDb,
        canMute: canMute(c), main: c.main ?? false, source: c.source,
      };
    });
  }

  /**
   * Writes a code to every channel of a control, and its mute bit where it has one. Channels
   * sharing a register (SGTL5000: left and right in one 16-bit register) become one write; the
   * latch bit, if any, goes with the register of the last channel.
   */
  protected async writeControl(c: ControlDef, code: number, muted = false): Promise<void> {
    const m = this.map;
    const order: string[] = [];
    const values = new Map<string, number>();
    for (const ch of c.channels) {
      if (!values.has(ch.reg)) {
        order.push(ch.reg);
        values.set(ch.reg, ch.field && !this.writeCoversRegister(c, ch.reg) ? await m.read(ch.reg) : 0);
      }
      let v = ch.field ? m.compose(ch.reg, { [ch.field]: code }, values.get(ch.reg)!) : code;
      if (c.muteField) v = m.compose(ch.reg, { [c.muteField]: muted ? 1 : 0 }, v);
      values.set(ch.reg, v);
    }
    const lastReg = c.channels[c.channels.length - 1]!.reg;
    await m.writeBatch(order.map((reg) => ({
      reg, value: c.latch ? m.compose(reg, { [c.latch.field]: reg === lastReg ? 1 : 0 }, values.get(reg)!) : values.get(reg)!,
    })));
  }

  /**
   * Whether a write of this control sets every bit of the register (its channel fields, latch
   * and mute bit together): then the old value is not needed. This is what makes a volume
   * writable on a write-only chip before anything else wrote that register (WM8960 DAC volume).
   */
  private writeCoversRegister(c: ControlDef, reg: string): boolean {
    const m = this.map;
    let mask = 0;
    const names = c.channels.filter((ch) => ch.reg === reg).map((ch) => ch.field);
    if (c.latch) names.push(c.latch.field);
    if (c.muteField) names.push(c.muteField);
    for (const n of names) {
      if (n === undefined) return true;
      mask |= m.field(reg, n).mask;
    }
    return mask === 2 ** m.def.valueBits - 1;
  }

  /** Puts a stream state on the chip: the gain's code, or the mute (mute bit with the gain kept, or the mute code). */
  private async writeState(c: ControlDef, st: GainState): Promise<void> {
    if (st.muted && !c.muteField) {
      await this.writeControl(c, c.muteCodes![0]!);
      return;
    }
    let code: number;
    if (Number.isFinite(st.db)) code = dbToCode(c, st.db).code;
    else if (st.muted && c.muteField) {
      // Gain unknown (never set, the chip holds a code of unknown meaning): mute, keeping the chip's code.
      const ch = c.channels[0]!;
      code = ch.field ? await this.map.readField(ch.reg, ch.field) : await this.map.read(ch.reg);
    } else {
      throw new CodecError(this.part, `the gain of "${c.name}" is not known (never set, and the chip holds no code of known meaning): set it first`);
    }
    await this.putControl(c, code, st.muted, st);
  }

  /**
   * writeControl with the chip left in a state the driver can report truthfully. A control of
   * several registers (a stereo pair) is several bus writes; when one fails after the regmap's own
   * retries, the whole control is written once more; failing that, the registers already changed
   * get their previous values back; failing that too, the registers are read back (from the chip
   * where it can be read, else the cache: what was last written successfully) and the control's
   * state becomes what they hold, the louder channel where the channels differ. Either way the
   * error is thrown on (the stream answers IO), its message saying what the chip now holds.
   */
  private async putControl(c: ControlDef, code: number, muted: boolean, wanted: GainState): Promise<void> {
    const m = this.map;
    const regs = [...new Set(c.channels.map((ch) => ch.reg))];
    const before = regs.map((reg) => m.cached(reg));
    try {
      await this.writeControl(c, code, muted);
      return;
    } catch (e) {
      // A bus fault (src/hal/i2c.ts I2cError, by name: a test runner may load that module twice);
      // anything else (a refused value, a closed bus gate) was refused before a byte was sent.
      if (!(e instanceof Error) || e.name !== 'I2cError') throw e;
      const fault = e;
      try {
        await this.writeControl(c, code, muted);
        return; // the retry of the whole control went through: the chip holds what was asked
      } catch { /* restore the previous values below */ }
      try {
        const back = regs.flatMap((reg, i) => (before[i] !== undefined && m.cached(reg) !== before[i] ? [{ reg, value: before[i]! }] : []));
        if (back.length) await m.writeBatch(back);
        if (regs.every((reg, i) => before[i] === undefined || m.cached(reg) === before[i])) {
          fault.message += `; ${c.name} left as it was`;
          throw fault;
        }
      } catch (restoreFailed) {
        if (restoreFailed === fault) throw fault;
      }
      // A latched control (e.g. a Wolfson VU bit, written with the last channel): what the other
      // registers hold takes effect only with a write of the last one; that one never went through.
      const last = regs.length - 1;
      if (c.latch && before[last] !== undefined && m.cached(regs[last]!) === before[last]) {
        fault.message += `; ${c.name} left as it was (its update latch was never written)`;
        throw fault;
      }
      // Neither the new nor the old values are all in place: report what the registers hold.
      const held = await this.chipState(c);
      this.gains.set(c.name, held ?? { db: wanted.db, muted: wanted.muted });
      fault.message += held
        ? `; the channels of ${c.name} now hold ${Number.isFinite(held.db) ? `${held.db} dB` : 'a code of unknown meaning'}${held.muted ? ' (muted)' : ''} (the louder channel)`
        : `; the state of ${c.name} could not be read back`;
      throw fault;
    }
  }

  /**
   * Every channel's state as the registers hold it (the chip where it can be read, else the
   * cache); the louder channel's where they differ, a muted channel counting as the quietest.
   */
  private async chipState(c: ControlDef): Promise<GainState | undefined> {
    const m = this.map;
    const readable = m.def.readable !== false;
    const raw = new Map<string, number>();
    try {
      for (const ch of c.channels) {
        if (raw.has(ch.reg)) continue;
        let v: number | undefined;
        if (readable) {
          try { v = await m.readFromChip(ch.reg); } catch { v = undefined; }
        }
        v ??= m.cached(ch.reg);
        if (v === undefined) return undefined;
        raw.set(ch.reg, v);
      }
    } catch {
      return undefined;
    }
    let best: GainState | undefined;
    for (const ch of c.channels) {
      const v = raw.get(ch.reg)!;
      const fieldOf = (name: string) => (v & m.field(ch.reg, name).mask) >>> m.field(ch.reg, name).lsb;
      const code = ch.field ? fieldOf(ch.field) : v;
      const bitMuted = c.muteField ? fieldOf(c.muteField) === 1 : false;
      const db = codeToDb(c, code);
      const st: GainState = db === 'mute' ? { db: audibleCodes(c)[0]!.db, muted: true } : { db: db ?? Number.NaN, muted: bitMuted };
      const loudness = (x: GainState) => (x.muted || !Number.isFinite(x.db) ? -Infinity : x.db);
      if (!best || loudness(st) > loudness(best)) best = st;
    }
    return best;
  }

  async setGain(name: string, db: number): Promise<GainState> {
    const c = this.control(name);
    let applied: { code: number; db: number };
    try {
      applied = dbToCode(c, db);
    } catch (e) {
      if (e instanceof ControlError) throw new CodecError(this.part, e.message);
      throw e;
    }
    const st = { db: applied.db, muted: this.gains.get(name)?.muted ?? false };
    // Muted (by the stream or held by a power sequence): remembered, written on unmute / release.
    if (!st.muted && !this.held.has(name)) await this.putControl(c, applied.code, false, st);
    this.gains.set(name, st);
    return { ...st };
  }

  async setMute(name: string, muted: boolean): Promise<GainState> {
    const c = this.control(name);
    if (!canMute(c)) throw new CodecError(this.part, `control "${name}" cannot mute`);
    const st = { ...(await this.getGain(name)), muted };
    if (!this.held.has(name)) await this.writeState(c, st);
    this.gains.set(name, st);
    return { ...st };
  }

  cachedGain(name: string): GainState | undefined {
    const known = this.gains.get(name);
    return known ? { ...known } : undefined;
  }

  async getGain(name: string): Promise<GainState> {
    const c = this.control(name);
    const known = this.gains.get(name);
    if (known) return { ...known };
    // Not set since init and no known default: ask the chip (first channel).
    const st = await this.readState(c);
    this.gains.set(name, st);
    return { ...st };
  }

  /** The state the chip holds now (first channel): its code and mute bit. */
  private async readState(c: ControlDef): Promise<GainState> {
    const ch = c.channels[0]!;
    const code = ch.field ? await this.map.readField(ch.reg, ch.field) : await this.map.read(ch.reg);
    const bitMuted = c.muteField ? (await this.map.readField(ch.reg, c.muteField)) === 1 : false;
    const db = codeToDb(c, code);
    if (db === 'mute') return { db: audibleCodes(c)[0]!.db, muted: true };
    return { db: db ?? Number.NaN, muted: bitMuted };
  }

  // --- switches and enums ----------------------------------------------------------------

  protected settingControlDefs(): ControlDef[] {
    return this.description.controls.filter((c) => c.kind === 'switch' || c.kind === 'enum');
  }

  protected settingControl(name: string): ControlDef {
    const c = this.settingControlDefs().find((x) => x.name === name);
    if (!c) {
      const names = this.settingControlDefs().map((x) => `"${x.name}"`).join(', ');
      throw new CodecError(this.part, `no switch or enum control "${name}" (${names ? `it has ${names}` : 'it has none'})`);
    }
    return c;
  }

  settingControls(): SettingControlInfo[] {
    return this.settingControlDefs().map((c) => ({
      name: c.name, kind: c.kind as 'switch' | 'enum', direction: c.direction, values: { ...c.values },
      default: c.default, source: c.source, channels: c.channels.map((ch) => ({ ...ch })),
    }));
  }

  /** The code set at run time for a switch or enum, undefined where none was (hooks read it: the PCM5122's filter). */
  protected settingSet(name: string): number | undefined {
    return this.settings.get(name);
  }

  async getSetting(name: string): Promise<number> {
    const c = this.settingControl(name);
    const kept = this.settings.get(name);
    if (kept !== undefined) return kept;
    const held = await this.settingInRegister(c, c.channels[0]!);
    if (held !== undefined) return held;
    if (c.default !== 'unknown') return c.default;
    throw new CodecError(this.part, `the setting of "${name}" is not known: never set, its register ${c.channels[0]!.reg} cannot be read now ` +
      `(${this.regmap?.busGate ?? 'the chip is write-only and nothing wrote it'}) and its reset default is unknown`);
  }

  async setSetting(name: string, code: number): Promise<number> {
    const c = this.settingControl(name);
    try {
      checkSettingCode(c, code);
    } catch (e) {
      if (e instanceof ControlError) throw new CodecError(this.part, e.message);
      throw e;
    }
    // The bus closed (SGTL5000 before its MCLK runs): kept, and written at the next init or power-up.
    if (this.map.busGate === undefined) await this.putSetting(c, code);
    this.settings.set(name, code);
    return code;
  }

  /**
   * What a channel's register holds of a setting: the cache, else the chip where it can be read
   * now; undefined where neither can say (a write-only chip's register nothing wrote, a closed bus).
   */
  private async settingInRegister(c: ControlDef, ch: ControlDef['channels'][number]): Promise<number | undefined> {
    const m = this.map;
    let v = m.cached(ch.reg);
    if (v === undefined) {
      if (m.def.readable === false || m.reg(ch.reg).access === 'wo' || m.busGate !== undefined) return undefined;
      v = await m.read(ch.reg);
    }
    if (!ch.field) return v;
    const f = m.field(ch.reg, ch.field);
    return (v & f.mask) >>> f.lsb;
  }

  /**
   * writeControl for a setting. A bus fault leaves the remembered setting as it was: the registers
   * already changed get their previous values back where they can, and the error says so.
   */
  private async putSetting(c: ControlDef, code: number): Promise<void> {
    const m = this.map;
    const regs = [...new Set(c.channels.map((ch) => ch.reg))];
    const before = regs.map((reg) => m.cached(reg));
    try {
      await this.writeControl(c, code);
    } catch (e) {
      // A bus fault (src/hal/i2c.ts I2cError, by name as in putControl); anything else sent nothing.
      if (!(e instanceof Error) || e.name !== 'I2cError') throw e;
      const back = regs.flatMap((reg, i) => (before[i] !== undefined && m.cached(reg) !== before[i] ? [{ reg, value: before[i]! }] : []));
      let restored = true;
      if (back.length) {
        try { await m.writeBatch(back); } catch { restored = false; }
      }
      const prev = this.settings.get(c.name);
      e.message += `; "${c.name}" stays ${prev === undefined ? 'as it was' : `${settingValueName(c, prev) ?? prev}`}` +
        (restored ? '' : ` (but ${back.map((b) => b.reg).join(', ')} may hold part of the new value: restoring them failed too)`);
      throw e;
    }
  }

  /**
   * Re-writes every remembered setting its registers no longer hold (a reset, a sequence's or a
   * path's write), comparing with the register cache: nothing is written where they hold it.
   * With the bus closed nothing is written: the settings wait for the next init or power-up.
   */
  protected async restoreSettings(): Promise<void> {
    if (this.settings.size === 0 || !this.regmap || this.regmap.busGate !== undefined) return;
    for (const [name, code] of this.settings) {
      const c = this.settingControl(name);
      let holds = true;
      for (const ch of c.channels) {
        if ((await this.settingInRegister(c, ch)) !== code) holds = false;
      }
      if (!holds) await this.writeControl(c, code);
    }
  }

  /** The part's format ranges for a direction; ranges of unknown width get the board's widths, or are left out. */
  formats(direction: 'output' | 'input'): FormatRange[] {
    const own = this.description.formats.filter((f) => f.direction === direction).flatMap((f) => {
      if (f.sampleFormatsUnknown === undefined) return [{ ...f.range }];
      return this.boardSampleFormats === undefined ? [] : [{ ...f.range, sampleFormats: this.boardSampleFormats }];
    });
    // A simulated board's test ranges (CodecContext.extraFormatRanges): the part takes them too.
    return own.length && this.ctx.extraFormatRanges ? [...own, ...this.ctx.extraFormatRanges.map((r) => ({ ...r }))] : own;
  }

  /** The mode of a latency path: the board option, else the default. */
  latencyMode(direction: 'output' | 'input'): string | undefined {
    const l = this.description.latency[direction];
    if (!l) return undefined;
    if (!l.modeOption) return l.defaultMode;
    return this.option(l.modeOption, Object.keys(l.modes), l.defaultMode);
  }

  latency(direction: 'output' | 'input', rate: number): LatencyItem[] {
    const l = this.description.latency[direction];
    if (!l) return [];
    const mode = this.latencyMode(direction)!;
    let fig: DelayFigure = l.modes[mode]!;
    let what = `${l.what} (${mode})`;
    // A board may supply a figure the datasheet does not publish: codec.options.groupDelay.
    const supplied = this.ctx.options.groupDelay as { frames?: unknown; ns?: unknown; source?: unknown } | undefined;
    if ('unknown' in fig && supplied !== undefined) {
      if (typeof supplied !== 'object' || supplied === null || typeof supplied.source !== 'string' || !supplied.source.trim() ||
        !((typeof supplied.frames === 'number' && supplied.frames >= 0) || (typeof supplied.ns === 'number' && supplied.ns >= 0))) {
        throw new CodecError(this.part, 'board option codec.options.groupDelay must be { "frames": N } or { "ns": N } with a "source"');
      }
      fig = typeof supplied.frames === 'number'
        ? { frames: supplied.frames, source: `board file: ${supplied.source}` }
        : { ns: supplied.ns as number, source: `board file: ${supplied.source}` };
      what += ', figure from the board file';
    }
    if ('frames' in fig) return [{ what, frames: fig.frames, ns: (fig.frames * 1e9) / rate, source: fig.source }];
    if ('ns' in fig) return [{ what, ns: fig.ns, frames: (fig.ns * rate) / 1e9, source: fig.source }];
    return [{ what, ns: null, frames: null, source: `unknown: ${fig.unknown}` }];
  }
}
