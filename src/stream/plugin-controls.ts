/**
 * The service's side of the streams' plugin chains (issue 29; docs/engine.md, "Plugins in the
 * chain"): the chains resolved at start from the configuration (src/dsp/chain-spec.ts), their
 * controls in the control model, what each new engine of a stream is given (ChainOptions with the
 * values in force), and what the engines report back (a stage bypassed after overruns, CPU time).
 *
 * Controls, per output stream S on board B:
 *   B.S.chain          text: the chain as JSON (the configuration's stages); setting it swaps the
 *                      chain (instantiation class: the running engines fade out, swap at silence
 *                      and fade in), persistent, so a chain set at run time is there after a restart
 * and per stage N (1-based):
 *   B.S.fxN            switch: on = the plugin runs, off = bypassed (its input passes through)
 *   B.S.fxN-<port>     number (or switch for a toggled port): a control input, engine-side and
 *                      sample-accurate (`ctl set --at-frame`, OSC time tags), persistent
 *   B.S.fxN-cpu        read-only: µs of its run calls in the last period of the running engine
 *   B.S.fxN-latency    read-only, for plugins with a "latency" output: frames
 * A stage the engine bypassed after overruns keeps its value (the user's choice, what the state
 * file keeps) and carries an error saying why; every client of the control channel, OSC and the
 * web page is told (a change event with the error).
 */
import type { Board } from '../board/schema.ts';
import { type ChainOptions, type ChainStageSpec, MAX_OVERRUNS_DEFAULT, MAX_STAGES, STAT, chainStatsBytes } from '../dsp/chain.ts';
import { ChainConfigError, type PluginStageConfig, type PluginsConfig, type ResolvedStage, engineStages, parsePluginsConfig, resolveChain } from '../dsp/chain-spec.ts';
import type { ControlModel } from '../control/model.ts';
import { allocPortMemory, openPlugin } from '../dsp/ladspa.ts';
import type { EngineControlBinding } from '../control/model.ts';
import type { AppliedAt, ChangeTime } from '../control/types.ts';


/** What the plugins need of a running engine of the stream (src/stream/engine-ring-buffer.ts). */
export interface PluginEngine {
  readonly stream: { id: string };
  readonly fmt: { channels: number };
  readonly isClosed: boolean;
  swapChain(stages: readonly ChainStageSpec[]): Promise<number>;
  setPluginPort(stage: number, port: number, value: number, when: ChangeTime): Promise<{ frame: number; timeNs: number }>;
  setPluginBypass(stage: number, on: boolean, when: ChangeTime): Promise<{ frame: number; timeNs: number }>;
  pluginStats(): Float64Array | undefined;
}

interface StreamChain {
  stream: string;
  config: PluginStageConfig[];
  stages: ResolvedStage[];
  /** Per stage: port index → value in force. */
  values: Map<number, number>[];
  bypass: boolean[];
  /** Per stage: the engine bypassed it after overruns (the message), until the next engine. */
  overrun: (string | undefined)[];
  latencyFrames: (number | undefined)[];
  /** "stage@rate:values" → the latency a probe at that rate with those values found (frames). */
  probed: Map<string, number>;
}

/** What a range side the plugin leaves open reads as (JSON has no infinity). */
const UNBOUNDED = 1e9;

/** The rate the controls' sample-rate relative bounds and defaults are given at (the boards' usual rate). */
const CONTROL_RATE = 48000;

export class StreamPlugins {
  private readonly chains = new Map<string, StreamChain>();
  /** Told when the engine bypassed a stage (the model tells its listeners). */
  onEngineBypass?: (controlId: string) => void;
  private model: ControlModel | undefined;
  private engines: () => Iterable<PluginEngine> = () => [];

  constructor(
    private readonly board: Board, config: PluginsConfig, private readonly searchPath: readonly string[], where: string,
    private readonly log: (line: string) => void = () => {},
    private readonly instantiation?: { run<T>(what: string, fn: () => Promise<T>): Promise<T> },
  ) {
    for (const [stream, stages] of Object.entries(config)) {
      const spec = board.streams.find((s) => s.id === stream);
      if (!spec) throw new ChainConfigError(where, `plugins.${stream}`, `board ${board.name} has no stream ${stream} (streams: ${board.streams.map((s) => s.id).join(', ')})`);
      if (spec.direction !== 'output') throw new ChainConfigError(where, `plugins.${stream}`, `${stream} is an input stream; chains run on output streams only for now`);
      this.chains.set(stream, this.resolve(stream, stages, where));
    }
    for (const s of board.streams) if (s.direction === 'output' && !this.chains.has(s.id)) this.chains.set(s.id, this.resolve(s.id, [], where));
  }

  private resolve(stream: string, config: PluginStageConfig[], where: string): StreamChain {
    const resolved = resolveChain(stream, config, this.searchPath, CONTROL_RATE, where);
    if (resolved.length) this.log(`${stream}: plugin chain ${resolved.map((st) => `${st.info.label} (${st.info.library.split('/').pop()})`).join(' → ')}`);
    return {
      stream, config, stages: resolved,
      values: resolved.map((st) => new Map(st.ports.map((p) => [p.port.index, p.initial]))),
      bypass: resolved.map((st) => st.config.bypass === true),
      overrun: resolved.map(() => undefined),
      latencyFrames: resolved.map((st) => probeLatency(st, CONTROL_RATE)),
      probed: new Map(),
    };
  }

  /**
   * Replaces a stream's chain (the `chain` control): checked and opened here first (a bad chain
   * changes nothing), then each running engine of the stream swaps at silence, then the
   * controls of the old stages give way to the new ones'.
   */
  async setChain(stream: string, text: string): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ChainConfigError(`${this.board.name}.${stream}.chain`, 'value', `not JSON: ${(e as Error).message}`);
    }
    const where = `${this.board.name}.${stream}.chain`;
    const config = parsePluginsConfig({ [stream]: raw }, where, 'chain')[stream]!;
    if (config.length > MAX_STAGES) throw new ChainConfigError(where, 'value', `${config.length} stages: a chain has at most ${MAX_STAGES}`);
    const run = async () => {
      const previous = this.chains.get(stream)!;
      const next = this.resolve(stream, config, where);
      const running = [...this.engines()].filter((e) => e.stream.id === stream && !e.isClosed);
      // Each running engine's stages first (a channel mapping its format cannot take is refused before anything changes).
      const specs = running.map((e) => engineStages(stream, next.stages, e.fmt.channels, (i, port) => next.values[i]!.get(port)!, (i) => next.bypass[i]!));
      // From here the old stages' controls refuse writes (their stage and port numbers would reach the new chain).
      this.chains.set(stream, next);
      const results = await Promise.all(running.map((e, k) => e.swapChain(specs[k]!)));
      const failed = results.filter((r) => r !== 0).length;
      if (failed > 0) {
        // An engine kept its old chain (the new one could not be made on its thread): the old
        // chain stays in force everywhere, and the engines that did swap go back to it.
        this.chains.set(stream, previous);
        await Promise.all(running.map((e, k) => (results[k] === 0 ? e.swapChain(engineStages(stream, previous.stages, e.fmt.channels, (i, port) => previous.values[i]!.get(port)!, (i) => previous.bypass[i]!)) : 0)));
        throw new ChainConfigError(where, 'value', `the chain could not be made on ${failed} engine thread(s) (status ${results.join(', ')}): the previous chain stays`);
      }
      await this.model?.replaceEngineControls(`${this.board.name}.${stream}.fx`, this.controlsFor(next));
    };
    await (this.instantiation ? this.instantiation.run(`chain ${stream}`, run) : run());
  }

  /** The model serving the controls (swapped chains rebind there) and the engines they reach. */
  attach(model: ControlModel): void {
    this.model = model;
  }

  get streams(): string[] {
    return [...this.chains.keys()];
  }

  /** What a new engine of `stream` runs, for `channels` channels at `rate`; undefined: no chain. */
  chainOptions(stream: string, channels: number): ChainOptions | undefined {
    const c = this.chains.get(stream);
    if (!c || c.stages.length === 0) return undefined;
    const stages = engineStages(stream, c.stages, channels, (i, port) => c.values[i]!.get(port)!, (i) => c.bypass[i]!);
    // A new engine starts with every stage running that the user did not bypass.
    c.overrun.fill(undefined);
    return { stages, stats: new SharedArrayBuffer(chainStatsBytes()) };
  }

  /**
   * The chain's latency at `fps`, ns: per stage, its "latency" output as a running engine of the
   * stream last read it, else as the plugin states it after one run at that rate (probed once per
   * rate); 0 without a chain.
   */
  latencyNs(stream: string, fps: number): number {
    const c = this.chains.get(stream);
    if (!c) return 0;
    const live = [...this.engines()].find((e) => e.stream.id === stream && !e.isClosed && e.pluginStats() !== undefined)?.pluginStats();
    let frames = 0;
    c.stages.forEach((st, i) => {
      if (c.bypass[i] || c.latencyFrames[i] === undefined) return; // no latency port
      const now = live?.[i * STAT.SIZE + STAT.LATENCY];
      if (now !== undefined && Number.isFinite(now)) frames += now;
      else {
        const key = `${i}@${fps}:${[...c.values[i]!.values()].join(',')}`;
        let f = c.probed.get(key);
        if (f === undefined) c.probed.set(key, (f = probeLatency(st, fps, (port) => c.values[i]!.get(port)) ?? 0));
        frames += f;
      }
    });
    return (frames * 1e9) / fps;
  }

  /** An engine reported stage `stage` of `stream` bypassed after `overruns` overruns. */
  engineBypassed(stream: string, stage: number, overruns: number, periodUs: number): void {
    const c = this.chains.get(stream);
    if (!c || !c.stages[stage]) return;
    const st = c.stages[stage];
    const why = `bypassed by the engine: ${st.info.label}'s run took longer than the period (${Math.round(periodUs)} µs) in ${overruns} period(s), the last ${MAX_OVERRUNS_DEFAULT} of them in a row`;
    c.overrun[stage] = why;
    this.log(`${stream}: plugin ${stage + 1} (${st.info.label}) ${why}; the stream plays on without it`);
    this.onEngineBypass?.(`${this.board.name}.${stream}.fx${stage + 1}`);
  }

  /** The controls of every stream's chain, for the model: each output stream's `chain`, then its stages'. */
  controls(engines: () => Iterable<PluginEngine>): EngineControlBinding[] {
    this.engines = engines;
    const out: EngineControlBinding[] = [];
    for (const c of this.chains.values()) {
      out.push({
        d: {
          id: `${this.board.name}.${c.stream}.chain`, name: `${c.stream} plugin chain`, kind: 'text', owner: { kind: 'stream', id: c.stream }, direction: 'output', unit: 'none',
          default: JSON.stringify(c.config), defaultSource: 'the configuration\'s "plugins" (src/system/config.ts)',
          realtimeSafe: false, writable: true, persistent: true,
          source: 'the stream\'s LADSPA chain as JSON: [{ "library": "cmt.so", "label": "amp_mono", "channels"?, "controls"?, "bypass"?, "allowNonRealtime"? }, …] (src/dsp/chain-spec.ts); setting it swaps the chain with a fade out and in (docs/engine.md, "Plugins in the chain")',
        },
        read: () => JSON.stringify(this.chains.get(c.stream)!.config),
        write: async (v) => {
          await this.setChain(c.stream, v as string);
          return undefined;
        },
      });
      out.push(...this.controlsFor(c));
    }
    return out;
  }

  /** The controls of one chain's stages. */
  private controlsFor(c: StreamChain): EngineControlBinding[] {
    const out: EngineControlBinding[] = [];
    const running = (stream: string) => [...this.engines()].filter((e) => e.stream.id === stream && !e.isClosed);
    const firstApplied = (applied: { frame: number; timeNs: number }[]): AppliedAt | undefined => {
      const a = applied.find((x) => x.frame >= 0) ?? applied[0];
      return a ? { ...(a.frame >= 0 ? { frame: a.frame } : {}), timeNs: a.timeNs } : undefined;
    };
    const stale = () => this.chains.get(c.stream) !== c;
    {
      c.stages.forEach((st, i) => {
        const base = `${this.board.name}.${c.stream}.fx${i + 1}`;
        const what = `${st.info.label} (${st.info.name}, ${st.info.library})`;
        const owner = { kind: 'stream' as const, id: c.stream };
        out.push({
          d: {
            id: base, name: `${c.stream} plugin ${i + 1}: ${st.info.label}`, kind: 'switch', owner, direction: 'output', values: ['off', 'on'], unit: 'none',
            default: st.config.bypass !== true, defaultSource: 'the configuration (a stage runs unless it says "bypass": true)',
            realtimeSafe: true, writable: true, persistent: true,
            source: `${what}: on = it runs in the stream's chain; off = bypassed (src/dsp/chain.ts)`,
          },
          // The value is the user's choice (what the state file keeps); a bypass by the engine is the error.
          read: () => !c.bypass[i],
          error: () => c.overrun[i],
          async write(v, when) {
            if (stale()) throw new Error(`${base}: the stream's chain was replaced; this stage is gone`);
            c.bypass[i] = v !== true;
            return firstApplied(await Promise.all(running(c.stream).map((e) => e.setPluginBypass(i, c.bypass[i]!, when ?? {}))));
          },
        });
        for (const p of st.ports) {
          const port = p.port;
          const toggled = port.toggled;
          // A side the plugin leaves open is open here too, as far as a number can go in JSON.
          const lo = p.min ?? -UNBOUNDED;
          const hi = p.max ?? UNBOUNDED;
          out.push({
            d: {
              id: `${base}-${p.slug}`, name: `${c.stream} plugin ${i + 1} ${port.name}`, owner, direction: 'output', unit: 'none',
              ...(toggled
                ? { kind: 'switch' as const, values: ['off', 'on'], default: p.initial > 0 }
                : {
                  kind: 'number' as const, range: { min: lo, max: hi, step: port.integer ? 1 : 0 }, default: p.initial,
                  hints: { ...(port.logarithmic ? { logarithmic: true } : {}), ...(port.integer ? { integer: true } : {}), ...(port.sampleRate ? { sampleRate: true } : {}) },
                }),
              defaultSource: p.initialSource,
              realtimeSafe: true, writable: true, persistent: true,
              source: `${what}, control input ${port.index} "${port.name}"${p.min === undefined || p.max === undefined ? ` (the plugin leaves ${p.min === undefined && p.max === undefined ? 'both sides' : p.min === undefined ? 'the lower side' : 'the upper side'} open: ±${UNBOUNDED} stands for it)` : ''}${port.sampleRate ? ' (its bounds are × the sample rate, here at 48000 Hz)' : ''}`,
            },
            read: () => (toggled ? c.values[i]!.get(port.index)! > 0 : c.values[i]!.get(port.index)!),
            async write(v, when) {
              if (stale()) throw new Error(`${base}-${p.slug}: the stream's chain was replaced; this stage is gone`);
              const x = typeof v === 'boolean' ? (v ? 1 : 0) : (v as number);
              c.values[i]!.set(port.index, x);
              return firstApplied(await Promise.all(running(c.stream).map((e) => e.setPluginPort(i, port.index, x, when ?? {}))));
            },
          });
        }
        const statOf = (k: number): number | undefined => {
          for (const e of running(c.stream)) {
            const s = e.pluginStats();
            if (s) return s[i * STAT.SIZE + k];
          }
          return undefined;
        };
        out.push({
          d: {
            id: `${base}-cpu`, name: `${c.stream} plugin ${i + 1} µs in its run calls per period`, kind: 'number', owner, direction: 'output', unit: 'none',
            range: { min: 0, max: 1e9, step: 0 }, default: { unknown: 'measured while the stream plays' },
            realtimeSafe: false, writable: false, readOnlyWhy: 'measured by the engine (the time of the plugin\'s run calls on the engine thread, last period)', persistent: false,
            source: `${what}: CLOCK_MONOTONIC around its run calls on the engine thread (src/dsp/chain.ts)`,
          },
          read: () => {
            const ns = statOf(STAT.LAST_NS);
            if (ns === undefined) throw new Error('no engine of the stream is running: nothing measured');
            return Math.round(ns / 100) / 10;
          },
        });
        if (st.info.ports.some((x) => x.type === 'control' && x.direction === 'output' && x.name.trim().toLowerCase() === 'latency')) {
          out.push({
            d: {
              id: `${base}-latency`, name: `${c.stream} plugin ${i + 1} latency (frames)`, kind: 'number', owner, direction: 'output', unit: 'none',
              range: { min: 0, max: 1e9, step: 0 }, default: { unknown: 'the plugin reports it once it runs' },
              realtimeSafe: false, writable: false, readOnlyWhy: 'the plugin\'s "latency" output port', persistent: false,
              source: `${what}: its "latency" control output; added to the stream's external delay`,
            },
            read: () => {
              const f = statOf(STAT.LATENCY);
              const v = f !== undefined && Number.isFinite(f) ? f : c.latencyFrames[i];
              if (v === undefined) throw new Error('not known until the plugin runs');
              return v;
            },
          });
        }
      });
    }
    return out;
  }
}

/**
 * A stage's "latency" output as the plugin states it after one run on silence, with its controls
 * at their starting values (an instance made and freed here, on the main thread, at start).
 */
function probeLatency(st: ResolvedStage, rate: number, valueOf?: (port: number) => number | undefined): number | undefined {
  const port = st.info.ports.find((p) => p.type === 'control' && p.direction === 'output' && p.name.trim().toLowerCase() === 'latency');
  if (!port) return undefined;
  const frames = 64;
  const inst = openPlugin(st.info.library, st.info.label).instantiate(rate);
  try {
    const mem = allocPortMemory(st.info.ports.length * frames);
    st.info.ports.forEach((p, k) => {
      const cell = mem.subarray(k * frames, (k + 1) * frames);
      if (p.type === 'control' && p.direction === 'input') cell[0] = valueOf?.(p.index) ?? st.ports.find((x) => x.port.index === p.index)?.initial ?? 0;
      inst.connect(p.index, cell);
    });
    inst.activate();
    inst.run(frames);
    const v = mem[port.index * frames]!;
    inst.deactivate();
    return Number.isFinite(v) && v >= 0 ? v : undefined;
  } finally {
    inst.cleanup();
  }
}

