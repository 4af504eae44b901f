/**
 * A codec driver built from a description: the generic parts (controls, formats, latency,
 * sequences) live here, so a part's driver is only its hooks. Subclass `DescribedCodec`, pass the
 * description, and override or register hooks where the chip needs code.
 */
import { audibleCodes, codeToDb, type ControlDef, ControlError, dbToCode, gainRange } from './controls.ts';
import { type CodecDescription, type DelayFigure, rangeHasRate, type SequenceStep } from './description.ts';
import { Regmap, type RegmapOptions } from './regmap.ts';
import type {
  CodecContext, CodecDriver, FormatRange, GainControlInfo, GainState, LatencyItem, StreamFormat,
} from './types.ts';

export class CodecError extends Error {
  constructor(readonly part: string, message: string) {
    super(`${part}: ${message}`);
    this.name = 'CodecError';
  }
}

/** Sample-format bit of the stream protocol for an I2S sample width (the container the host sends). */
export const SAMPLE_FORMAT_FOR_BITS: Readonly<Record<number, number>> = {
  16: 1 << 2, // 16BIT
  20: 1 << 6, // 20BIT_IN32
  24: 1 << 7, // 24BIT_IN32
  32: 1 << 8, // 32BIT
};

export type Hook = (step: SequenceStep) => Promise<void>;

/** A record of what a sequence did, in order (for tests and `--verbose`). */
export interface SequenceEvent {
  atNs: number;
  sequence: string;
  step: SequenceStep;
  /** For polls: how many reads it took and whether the condition was met. */
  polls?: number;
  met?: boolean;
}

export class DescribedCodec implements CodecDriver {
  readonly part: string;
  readonly name: string;
  readonly vendor: string;
  readonly regmap: Regmap | undefined;
  readonly events: SequenceEvent[] = [];
  protected readonly hooks = new Map<string, Hook>();
  protected format: StreamFormat | undefined;
  private readonly gains = new Map<string, GainState>();

  constructor(readonly description: CodecDescription, protected readonly ctx: CodecContext, regmapOptions: RegmapOptions = {}) {
    this.part = description.meta.id;
    this.name = description.meta.name;
    this.vendor = description.meta.vendor;
    if (description.regmap) {
      if (!ctx.bus || ctx.addr === undefined) {
        throw new CodecError(this.part, 'this part has a control bus: the board file must give codec.bus and codec.address');
      }
      this.regmap = new Regmap(description.regmap, ctx.bus, ctx.addr, { sleepMs: ctx.sleepMs, ...regmapOptions });
    }
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

  private record(sequence: string, step: SequenceStep, extra: Partial<SequenceEvent> = {}): void {
    this.events.push({ atNs: this.ctx.clock.nowNs(), sequence, step, ...extra });
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
    }
  }

  // --- CodecDriver -----------------------------------------------------------------------

  async probe(): Promise<void> {
    // Parts with a register map: the chip must answer. Parts override with an identity check where they have one.
  }

  async init(): Promise<void> {
    await this.runSequence('init');
    for (const c of this.volumeControls()) {
      const code = c.default !== 'unknown' ? c.default : undefined;
      if (code === undefined) continue;
      const db = codeToDb(c, code);
      if (typeof db === 'number') this.gains.set(c.name, { db, muted: false });
    }
  }

  async setFormat(fmt: StreamFormat): Promise<void> {
    const fbit = SAMPLE_FORMAT_FOR_BITS[fmt.bits];
    const ok = this.formats('output').concat(this.formats('input')).some((r) =>
      fbit !== undefined && (r.sampleFormats & fbit) !== 0 && rangeHasRate(r, fmt.rate) &&
      fmt.channels >= r.minChannels && fmt.channels <= r.maxChannels);
    if (!ok) {
      throw new CodecError(this.part, `format ${fmt.rate} Hz, ${fmt.bits}-bit, ${fmt.channels} channels is not among the part's format ranges`);
    }
    this.format = { ...fmt };
    await this.applyFormat(fmt);
  }

  /** Part hook: program the chip for an accepted format. */
  protected async applyFormat(_fmt: StreamFormat): Promise<void> {}

  async powerUp(): Promise<void> {
    await this.runSequence('powerUp');
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
        canMute: (c.muteCodes?.length ?? 0) > 0, main: c.main ?? false, source: c.source,
      };
    });
  }

  /** Writes a code to every channel of a control (the latch bit, if any, with the last channel). */
  protected async writeControl(c: ControlDef, code: number): Promise<void> {
    const m = this.map;
    const writes = [];
    for (let i = 0; i < c.channels.length; i++) {
      const ch = c.channels[i]!;
      const last = i === c.channels.length - 1;
      let value: number;
      if (ch.field) {
        const base = await m.read(ch.reg);
        value = m.compose(ch.reg, { [ch.field]: code }, base);
      } else value = code;
      if (c.latch) value = m.compose(ch.reg, { [c.latch.field]: last ? 1 : 0 }, value);
      writes.push({ reg: ch.reg, value });
    }
    await m.writeBatch(writes);
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
    if (!st.muted) await this.writeControl(c, applied.code);
    this.gains.set(name, st);
    return { ...st };
  }

  async setMute(name: string, muted: boolean): Promise<GainState> {
    const c = this.control(name);
    const mute = c.muteCodes?.[0];
    if (mute === undefined) throw new CodecError(this.part, `control "${name}" cannot mute`);
    const st = { ...(await this.getGain(name)), muted };
    await this.writeControl(c, muted ? mute : dbToCode(c, st.db).code);
    this.gains.set(name, st);
    return { ...st };
  }

  async getGain(name: string): Promise<GainState> {
    const c = this.control(name);
    const known = this.gains.get(name);
    if (known) return { ...known };
    // Not set since init and no known default: ask the chip (first channel).
    const ch = c.channels[0]!;
    const code = ch.field ? await this.map.readField(ch.reg, ch.field) : await this.map.read(ch.reg);
    const db = codeToDb(c, code);
    const st = db === 'mute' ? { db: audibleCodes(c)[0]!.db, muted: true } : { db: db ?? Number.NaN, muted: false };
    this.gains.set(name, st);
    return { ...st };
  }

  formats(direction: 'output' | 'input'): FormatRange[] {
    return this.description.formats.filter((f) => f.direction === direction).map((f) => ({ ...f.range }));
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
