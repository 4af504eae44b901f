/**
 * configure(key, value) (docs/CONTROL.md, "Programs and configure"), as DSSI has it: options of the
 * board and of its part that are not controls — a stream's ramp time, the codec's idle power-down
 * delay, the part's board options its driver applies when it initialises the chip (the PCM5122's
 * `filter`) — each set in the instantiation class (one at a time, allowed to block), at a point
 * where it is safe, with a reply that says what changed or why nothing did.
 *
 * Keys by owner (the owner is a stream id, the part id, or "board", as in control ids):
 * - `<output stream> ramp-ms`: the stream's ramp time (the START fade-in, the STOP fade-out, the
 *   ramps across gain changes): future engines take it, running ones from their next period
 *   (a RAMP_FRAMES control event, src/engine/control-queue.ts). Needs the service's hooks.
 * - `board idle-power-down-ms`: how long the codec idles muted after the last stream stops before
 *   it powers down (src/board/power.ts).
 * - `<part> <option>`: a board option of the part's description (`codecs/<part>/description.ts`
 *   `options`) that one of its sequences applies through a hook of the same name, with values the
 *   description names (sub-sequences `<option>:<value>`, or the latency modes the option picks).
 *   Applied by re-initialising the codec while no stream plays (powered down first; the gains are
 *   put back after): a stream playing is waited for, up to a bound, and then it is refused.
 */
import type { BoardRuntime } from '../board/runtime.ts';
import { MAX_IDLE_POWER_DOWN_MS } from '../board/power.ts';
import { MAX_RAMP_MS } from '../board/schema.ts';
import { CONTROL_KIND, WHEN } from '../engine/control-queue.ts';
import type { ControlModel } from './model.ts';
import type { ControlValue } from './types.ts';

export interface ConfigureKey {
  owner: string;
  key: string;
  /** The value in force, as configure takes it. */
  value: string;
  /** Keys with named values: the allowed ones. */
  values?: readonly string[];
  /** What it is, its range or values, and when a change takes effect. */
  why: string;
  /** Every key is set in the instantiation class (docs/CONTROL.md, call classes). */
  needs: 'instantiation';
}

/** The instantiation class's lock (src/control/dispatch.ts InstantiationLock, by its shape). */
export interface InstantiationRunner {
  run<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

/** What `ramp-ms` needs of the service (src/stream/service.ts wires them; see engineRampHooks). */
export interface RampHooks {
  /** The ramp time (ms) the stream's next engine takes now. */
  get(streamId: string): number;
  /** Sets it for the stream's future engines and its running ones; resolves with how many running engines took it. */
  set(streamId: string, ms: number): Promise<number>;
}

export interface ConfiguratorOptions {
  instantiation: InstantiationRunner;
  /** The board's controls: read before and after a codec re-initialisation (the reply lists what changed), and which streams play. */
  model?: ControlModel;
  /** The service's codec lock (every codec access of the service takes it): held across a re-initialisation. */
  codecLock?: { run<T>(fn: () => Promise<T>): Promise<T> };
  /** Output streams' ramp times: without them, no `ramp-ms` keys. */
  ramp?: RampHooks;
  /** The streams playing now (default: none while the board's power is not 'on', else the streams whose controls are ACTIVE). */
  playing?: () => readonly string[] | Promise<readonly string[]>;
  /** How long a codec option waits for the streams to stop before it is refused (ms, default 10000). */
  safePointMs?: number;
  /** How often it looks while waiting (ms on the board's clock, default 50). */
  pollMs?: number;
  log?: (line: string) => void;
}

export class ConfigureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigureError';
  }
}

/** A codec option configure can set: its allowed values and how the driver shows the value in force. */
interface CodecOption {
  key: string;
  values: readonly string[];
  /** What the description says of it. */
  doc: string;
  /** The value the driver has in force now, where it tells (clocking mode, latency mode); undefined where it does not. */
  inForce(): string | undefined;
  /** Where the values come from (the description's field). */
  valuesFrom: string;
}

/** The part's board options that a sequence applies through a hook of the same name, with values the description names. */
export function codecOptions(rt: BoardRuntime): CodecOption[] {
  const { codec } = rt;
  const desc = codec.description;
  if (!desc?.options) return [];
  const hooks = new Set<string>();
  for (const seq of Object.values(desc.sequences)) for (const s of seq as readonly { op: string; name?: string }[]) if (s.op === 'hook' && s.name) hooks.add(s.name);
  const out: CodecOption[] = [];
  for (const [key, doc] of Object.entries(desc.options)) {
    if (!hooks.has(key)) continue;
    const sub = Object.keys(desc.subSequences ?? {}).filter((n) => n.startsWith(`${key}:`)).map((n) => n.slice(key.length + 1));
    const latency = (['output', 'input'] as const).find((d) => desc.latency[d]?.modeOption === key);
    let values: string[];
    let valuesFrom: string;
    if (sub.length) {
      values = sub;
      valuesFrom = `codecs/${codec.part}/description.ts subSequences "${key}:<value>"`;
    } else if (latency) {
      values = Object.keys(desc.latency[latency]!.modes);
      valuesFrom = `codecs/${codec.part}/description.ts latency.${latency}.modes (picked by codec.options.${key})`;
    } else continue; // no named values: nothing configure could check a value against
    const inForce = (): string | undefined => {
      if (key === 'clocking' && codec.clocking) return codec.clocking().mode;
      if (latency) return (codec as { latencyMode?: (d: 'output' | 'input') => string | undefined }).latencyMode?.(latency);
      return undefined;
    };
    out.push({ key, values, doc, inForce, valuesFrom });
  }
  return out;
}

/** A number of ms as configure takes it: digits, optionally a fraction; checked against 0..max. */
function parseMs(owner: string, key: string, value: string, max: number): number {
  const s = value.trim();
  if (!/^\d+(\.\d+)?$/.test(s)) throw new ConfigureError(`${owner} ${key}: "${value}" is not a number of ms (0 to ${max})`);
  const n = Number(s);
  if (n > max) throw new ConfigureError(`${owner} ${key}: ${n} ms is outside 0 to ${max} ms`);
  return n;
}

export class Configurator {
  private readonly log: (line: string) => void;

  constructor(private readonly rt: BoardRuntime, private readonly opts: ConfiguratorOptions) {
    this.log = opts.log ?? (() => {});
  }

  private outputStreams(): string[] {
    return this.rt.board.streams.filter((s) => s.direction === 'output').map((s) => s.id);
  }

  /** Every key (of `owner` only, when given), with its value in force. */
  list(owner?: string): ConfigureKey[] {
    const out: ConfigureKey[] = [];
    const ramp = this.opts.ramp;
    if (ramp) {
      for (const id of this.outputStreams()) {
        out.push({
          owner: id, key: 'ramp-ms', value: String(ramp.get(id)), needs: 'instantiation',
          why: `the stream's ramp time, ms (0 to ${MAX_RAMP_MS}; 0 = none): the START fade-in, the STOP fade-out and the ramps across gain changes; the next engine of the stream takes it, a running one from its next period`,
        });
      }
    }
    out.push({
      owner: 'board', key: 'idle-power-down-ms', value: String(this.rt.power.idleMs), needs: 'instantiation',
      why: `how long the codec idles muted after the last stream stops before it powers down, ms (0 to ${MAX_IDLE_POWER_DOWN_MS}; ASoC's pmdown_time); an idling codec is re-timed from its last stop`,
    });
    const options = this.rt.board.codec.options;
    for (const o of codecOptions(this.rt)) {
      const set = options[o.key];
      const value = typeof set === 'string' ? set : o.inForce() ?? '';
      out.push({
        owner: this.rt.codec.part, key: o.key, value, values: o.values, needs: 'instantiation',
        why: `board option codec.options.${o.key} (${o.doc}); values from ${o.valuesFrom}; applied by re-initialising the codec while no stream plays, until the service restarts (the board file is not changed)`,
      });
    }
    return owner === undefined ? out : out.filter((k) => k.owner === owner);
  }

  /** Sets a key in the instantiation class; resolves with the reply, or rejects with ConfigureError saying why nothing changed. */
  async set(owner: string, key: string, value: string): Promise<{ owner: string; key: string; value: string; reply: string }> {
    const keys = this.list();
    const k = keys.find((x) => x.owner === owner && x.key === key);
    if (!k) {
      const owners = [...new Set(keys.map((x) => x.owner))];
      const ofOwner = keys.filter((x) => x.owner === owner);
      if (ofOwner.length === 0) {
        throw new ConfigureError(`configure: no owner "${owner}" on board ${this.rt.board.name} (owners: ${owners.join(', ')}; keys: ${keys.map((x) => `${x.owner} ${x.key}`).join(', ')})`);
      }
      throw new ConfigureError(`configure: ${owner} has no key "${key}" (its keys: ${ofOwner.map((x) => x.key).join(', ')})`);
    }
    if (typeof value !== 'string') throw new ConfigureError(`configure ${owner} ${key}: the value must be a string, got ${JSON.stringify(value)}`);
    // Checked before the instantiation class is entered: a bad value is answered at once.
    if (k.values && !k.values.includes(value.trim())) {
      throw new ConfigureError(`configure ${owner} ${key}: "${value}" is not one of its values: ${k.values.join(', ')}`);
    }
    if (key === 'ramp-ms') {
      const ms = parseMs(owner, key, value, MAX_RAMP_MS);
      return this.opts.instantiation.run(`configure ${owner} ${key} ${ms}`, async () => {
        const before = this.opts.ramp!.get(owner);
        const running = await this.opts.ramp!.set(owner, ms);
        const reply = `${owner} ramp-ms ${before} → ${ms}: the next START's fade-in, STOP's fade-out and gain ramps of ${owner}; ` +
          (running ? `${running} running engine${running === 1 ? '' : 's'} took it from ${running === 1 ? 'its' : 'their'} next period` : 'no engine of it runs now');
        this.log(`configure: ${reply}`);
        return { owner, key, value: String(ms), reply };
      });
    }
    if (key === 'idle-power-down-ms') {
      const ms = parseMs(owner, key, value, MAX_IDLE_POWER_DOWN_MS);
      return this.opts.instantiation.run(`configure ${owner} ${key} ${ms}`, async () => {
        const power = this.rt.power;
        const before = power.idleMs;
        power.setIdleMs(ms);
        const reply = `board idle-power-down-ms ${before} → ${ms}: the codec powers down ${ms} ms after the last stream stops` +
          (power.state === 'idle' ? ' (it idles now: re-timed from its last stop)' : '');
        this.log(`configure: ${reply}`);
        return { owner, key, value: String(ms), reply };
      });
    }
    const option = codecOptions(this.rt).find((o) => o.key === key)!;
    const v = value.trim();
    return this.opts.instantiation.run(`configure ${owner} ${key} ${v}`, () => this.reinit(option, v));
  }

  /** The streams playing now (see ConfiguratorOptions.playing). */
  private async playing(): Promise<readonly string[]> {
    if (this.opts.playing) return this.opts.playing();
    if (this.rt.power.state !== 'on') return [];
    const model = this.opts.model;
    if (model) {
      const active = new Set<string>();
      for (const c of (await model.list()).controls) if (c.owner.kind === 'stream' && c.state === 'active') active.add(c.owner.id);
      if (active.size) return [...active];
    }
    return ['(the codec is powered up for a stream)'];
  }

  /**
   * A codec option: waits for a point where no stream plays (up to safePointMs), powers the codec
   * down, sets the option, re-runs the codec's init with the gains put back after it, and answers
   * what changed. The codec lock is held from the check to the end, so no stream's codec work runs
   * in between.
   */
  private async reinit(o: CodecOption, value: string): Promise<{ owner: string; key: string; value: string; reply: string }> {
    const { rt } = this;
    const part = rt.codec.part;
    const clock = rt.hal.clock;
    const boundMs = this.opts.safePointMs ?? 10000;
    const pollNs = (this.opts.pollMs ?? 50) * 1e6;
    const startNs = clock.nowNs();
    let waited = false;
    for (;;) {
      const busy = await this.playing();
      if (busy.length === 0) break;
      const elapsedMs = (clock.nowNs() - startNs) / 1e6;
      if (elapsedMs >= boundMs) {
        throw new ConfigureError(`configure ${part} ${o.key} ${value}: refused: ${busy.join(', ')} still playing after ${boundMs / 1000} s ` +
          `(the codec is re-initialised only while no stream plays); nothing changed`);
      }
      if (!waited) {
        waited = true;
        this.log(`configure ${part} ${o.key} ${value}: waits up to ${boundMs / 1000} s for ${busy.join(', ')} to stop (the codec is re-initialised only while no stream plays)`);
      }
      await clock.sleepUntilNs(clock.nowNs() + pollNs);
    }
    const waitedMs = (clock.nowNs() - startNs) / 1e6;
    const options = rt.board.codec.options as Record<string, unknown>;
    const had = Object.hasOwn(options, o.key);
    const previous = options[o.key];
    const restoreOption = () => {
      if (had) options[o.key] = previous;
      else delete options[o.key];
    };
    const before = await this.values();
    // An idling codec goes down first: init starts from standby, as at the service's start.
    if (rt.power.state !== 'off') await rt.power.powerDown();
    const lock = this.opts.codecLock ?? { run: <T>(fn: () => Promise<T>) => fn() };
    const changedNote = await lock.run(async () => {
      // Under the codec lock the model cannot be asked (its reads take the same lock): the hook, or the power's state.
      const again = this.opts.playing ? await this.opts.playing() : rt.power.state === 'on' ? ['a stream (the codec is powered up)'] : [];
      if (again.length) throw new ConfigureError(`configure ${part} ${o.key} ${value}: refused: ${again.join(', ')} started meanwhile; nothing changed`);
      const wasInForce = o.inForce();
      options[o.key] = value;
      const nowInForce = o.inForce();
      if (nowInForce !== undefined && nowInForce !== value) {
        // The driver does not follow the option: say why, leave everything as it was.
        restoreOption();
        const setting = this.overridingControl(o);
        throw new ConfigureError(`configure ${part} ${o.key} ${value}: refused: the ${part} driver keeps ${o.key} "${nowInForce}"` + (setting
          ? `: the control ${setting} (set at run time) takes precedence over the board option; set it instead ('sbc-audio ctl set ${setting} ${value}')`
          : `: it takes codec.options.${o.key} when the board is opened, not at init; change the board file and restart the service`) + '; nothing changed');
      }
      const gains: { name: string; db: number; muted: boolean; canMute: boolean }[] = [];
      for (const g of rt.codec.gainControls()) {
        try {
          const s = await rt.codec.getGain(g.name);
          gains.push({ name: g.name, db: s.db, muted: s.muted, canMute: g.canMute });
        } catch { /* not known now: init's value stays */ }
      }
      const putBack = async () => {
        for (const g of gains) {
          if (!Number.isFinite(g.db)) continue;
          if (g.canMute) await rt.codec.setMute(g.name, true); // the gain goes in muted, then the mute as it was
          await rt.codec.setGain(g.name, g.db);
          if (g.canMute) await rt.codec.setMute(g.name, g.muted);
        }
      };
      try {
        await rt.codec.init();
      } catch (e) {
        restoreOption();
        let back = 'the previous option is restored';
        try {
          await rt.codec.init();
          await putBack();
        } catch (e2) {
          back = `re-initialising with the previous option failed too (${(e2 as Error).message}): the codec needs a service restart`;
        }
        throw new ConfigureError(`configure ${part} ${o.key} ${value}: refused: the codec's init failed with it (${(e as Error).message}); ${back}`);
      }
      await putBack();
      return wasInForce === undefined ? '' : ` (${o.key} was "${wasInForce}")`;
    });
    const after = await this.values();
    const changed = [...after].filter(([id, v]) => before.has(id) && before.get(id) !== v).map(([id, v]) => `${id} ${String(before.get(id))} → ${String(v)}`);
    const reply = `${part} ${o.key} = "${value}"${changedNote}: applied by re-initialising the codec while no stream played` +
      (waited ? ` (waited ${(waitedMs / 1000).toFixed(2)} s for the streams to stop)` : '') +
      `; ${changed.length ? `controls changed by it: ${changed.join(', ')}` : 'no control changed value'}; in force until the service restarts (the board file is not changed)`;
    this.log(`configure: ${reply}`);
    return { owner: part, key: o.key, value, reply };
  }

  /** The part's controls whose values are the option's (the PCM5122's "DSP Program" and its `filter`): a run-time setting of one wins. */
  private overridingControl(o: CodecOption): string | undefined {
    const desc = this.rt.codec.description;
    const c = desc?.controls.find((x) => x.kind === 'enum' && x.values && o.values.every((v) => Object.hasOwn(x.values!, v)));
    return c ? `${this.rt.board.name}.${this.rt.codec.part}.${c.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')}` : undefined;
  }

  /** Every control's value now (empty without a model). */
  private async values(): Promise<Map<string, ControlValue | null>> {
    const m = this.opts.model;
    if (!m) return new Map();
    return new Map((await m.list()).controls.map((c) => [c.id, c.value]));
  }
}

/** A running engine, as ramp-ms needs it (src/stream/engine-ring-buffer.ts EngineRingBuffer, by its shape). */
export interface RampEngine {
  readonly stream: { id: string };
  readonly fmt: { fps: number };
  readonly isClosed: boolean;
  postControl(kind: number, whenKind: number, at: number, value: number, rampFrames: number): Promise<{ frame: number; timeNs: number }>;
  /** Where the engine keeps its ramp time for its own use (trim ramps, gain handoffs): set too, when it has it. */
  setRampMs?(ms: number): void;
}

/**
 * ramp-ms hooks over the service's engines: the ramp each stream's next engine should take
 * (`rampOf`, for engineRingBuffers) and a RAMP_FRAMES event to each running engine of the stream.
 * `rampMs`: the service's option (serve --ramp-ms), which overrides the board file's; `defaultRampMs`:
 * the engines' default (src/stream/engine-ring-buffer.ts DEFAULT_RAMP_MS, passed in so that the
 * control channel's clients do not load the engine's modules).
 */
export function engineRampHooks(
  rt: BoardRuntime, o: { engines: () => Iterable<RampEngine>; rampMs?: number; defaultRampMs: number },
): RampHooks & { rampOf(streamId: string): number | undefined } {
  const set = new Map<string, number>();
  const base = (id: string) => o.rampMs ?? rt.board.streams.find((s) => s.id === id)?.rampMs ?? o.defaultRampMs;
  return {
    get: (id) => set.get(id) ?? base(id),
    rampOf: (id) => set.get(id),
    async set(id, ms) {
      set.set(id, ms);
      const running = [...o.engines()].filter((e) => e.stream.id === id && !e.isClosed);
      await Promise.all(running.map((e) => {
        e.setRampMs?.(ms);
        return e.postControl(CONTROL_KIND.RAMP_FRAMES, WHEN.NOW, 0, Math.round((ms * e.fmt.fps) / 1000), 0);
      }));
      return running.length;
    },
  };
}
