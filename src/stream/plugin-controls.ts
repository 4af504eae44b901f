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
 *
 * DSSI stages (issue 30; docs/engine.md, "DSSI plugins") have two controls more:
 *   B.S.fxN-program    text "BANK/PROGRAM" ("" before any): selecting one calls select_program on
 *                      the engine thread (DSSI's audio class), after which the engine reads the
 *                      control inputs back (the plugin may rewrite them) and the model hears of it
 *   B.S.fxN-configure  text, a JSON object of the configure keys set in this session; setting it
 *                      calls configure for each key that changed
 * both persistent: at a restart the state file's configure keys are restored before the program
 * (src/control/model.ts restore), and every new instance is given its configure calls before
 * activate and its program after (src/dsp/chain.ts). configure and get_program are DSSI's control
 * class: the main thread calls them on the running engine's instance, under the call-class lock
 * (src/dsp/chain.ts DSSI_LOCK) that keeps them off the engine's instantiation calls; with no
 * engine running, on an instance of its own made for the purpose (and freed after).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Board } from '../board/schema.ts';
import { type ChainOptions, type ChainStageSpec, DSSI_LOCK, DSSI_LOCK_WAIT_MS, type DssiStageSpec, MAX_OVERRUNS_DEFAULT, MAX_STAGES, STAT, chainStatsBytes } from '../dsp/chain.ts';
import { ChainConfigError, type PluginStageConfig, type PluginsConfig, type ResolvedStage, engineStages, parsePluginsConfig, resolveChain } from '../dsp/chain-spec.ts';
import type { ControlModel } from '../control/model.ts';
import { allocPortMemory, openPlugin } from '../dsp/ladspa.ts';
import { type DssiInstance, attachDssiControl, openDssiPlugin } from '../dsp/dssi.ts';
import type { MidiEvent } from '../hal/midi.ts';
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
  setPluginProgram(stage: number, bank: number, program: number, when: ChangeTime): Promise<{ frame: number; timeNs: number }>;
  sendPluginMidi(stage: number, packed: number, when: ChangeTime): Promise<{ frame: number; timeNs: number }>;
  pluginHandles(stage: number): number[];
  eventLeadNs(): number | undefined;
  pluginStats(): Float64Array | undefined;
}

/** A DSSI program as get_program describes it. */
export interface PluginProgram {
  bank: number;
  program: number;
  name: string;
}

/** A DSSI stage's session state: what each new instance is given, and the programs last listed. */
interface DssiState {
  /** configure keys in the order first set (dssi.h: the host remembers the last value of each). */
  configure: Map<string, string>;
  program: [number, number] | null;
  /** get_program's list, until a configure invalidates it (dssi.h). */
  programs: PluginProgram[] | undefined;
  /** Bank select (CC 0 / CC 32) per MIDI channel, for a program change (dssi.h: the host maps them to select_program). */
  bankSelect: number[];
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
  /** Per stage: its DSSI state, or undefined for a LADSPA stage. */
  dssi: (DssiState | undefined)[];
}

/** The reserved configure key dssi.h defines: a directory the plugin may keep project data in (the host sets it). */
export const DSSI_PROJECT_DIRECTORY_KEY = 'DSSI:PROJECT_DIRECTORY';
/** dssi.h: configure keys with this prefix go to every plugin of the instance group too. */
export const DSSI_GLOBAL_PREFIX = 'GLOBAL:';

/** The stage's DSSI:PROJECT_DIRECTORY made (mode 0700) before any instance is given it. */
function ensureProjectDir(d: DssiState): void {
  const dir = d.configure.get(DSSI_PROJECT_DIRECTORY_KEY);
  if (dir !== undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** The main thread's side of the DSSI call-class lock: waits (without blocking the event loop) while an engine thread instantiates. */
export async function withDssiControlLock<T>(lock: Int32Array | undefined, fn: () => T, what = 'a DSSI control call'): Promise<T> {
  if (lock === undefined) return fn();
  const deadline = Date.now() + DSSI_LOCK_WAIT_MS;
  for (;;) {
    const was = Atomics.compareExchange(lock, 0, DSSI_LOCK.FREE, DSSI_LOCK.CONTROL);
    if (was === DSSI_LOCK.FREE) break;
    // A bound on a thread that never lets go (one that died holding it): the call fails, naming it.
    if (Date.now() > deadline) throw new Error(`${what}: an engine thread has held the DSSI call-class lock for more than ${DSSI_LOCK_WAIT_MS} ms`);
    const wait = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync(lock, 0, was, 20);
    if (wait.async) await wait.value;
  }
  try {
    return fn();
  } finally {
    Atomics.store(lock, 0, DSSI_LOCK.FREE);
    Atomics.notify(lock, 0);
  }
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

  /** The DSSI call-class lock every engine of the service shares with this thread (src/dsp/chain.ts DSSI_LOCK). */
  readonly dssiLock = new SharedArrayBuffer(4);
  private readonly lockWord = new Int32Array(this.dssiLock);
  private readonly dssiPath: readonly string[];
  private readonly projectDir: string | undefined;
  private readonly programListeners = new Set<(owner: string, bank: number, program: number) => void>();
  private readonly configureListeners = new Set<(owner: string, key: string, value: string) => void>();
  private readonly changeListeners = new Set<() => void>();
  /**
   * Whether control-class calls take the call-class lock. Always, except in the test that shows
   * what the lock prevents (tests/unit/dssi-service.test.ts, its negative control).
   */
  callClassLock = true;

  constructor(
    private readonly board: Board, config: PluginsConfig, private readonly searchPath: readonly string[], where: string,
    private readonly log: (line: string) => void = () => {},
    private readonly instantiation?: { run<T>(what: string, fn: () => Promise<T>): Promise<T> },
    dssi: { searchPath?: readonly string[]; projectDir?: string } = {},
  ) {
    this.dssiPath = dssi.searchPath ?? [];
    this.projectDir = dssi.projectDir;
    for (const [stream, stages] of Object.entries(config)) {
      const spec = board.streams.find((s) => s.id === stream);
      if (!spec) throw new ChainConfigError(where, `plugins.${stream}`, `board ${board.name} has no stream ${stream} (streams: ${board.streams.map((s) => s.id).join(', ')})`);
      if (spec.direction !== 'output') throw new ChainConfigError(where, `plugins.${stream}`, `${stream} is an input stream; chains run on output streams only for now`);
      this.chains.set(stream, this.resolve(stream, stages, where));
    }
    for (const s of board.streams) if (s.direction === 'output' && !this.chains.has(s.id)) this.chains.set(s.id, this.resolve(s.id, [], where));
  }

  private resolve(stream: string, config: PluginStageConfig[], where: string): StreamChain {
    const resolved = resolveChain(stream, config, this.searchPath, CONTROL_RATE, where, this.dssiPath);
    if (resolved.length) this.log(`${stream}: plugin chain ${resolved.map((st) => `${st.info.label} (${st.info.library.split('/').pop()}${st.dssi ? ', DSSI' : ''})`).join(' → ')}`);
    // One stream per DSSI plugin: its instances are one instance group (dssi.h), and one engine
    // thread runs a stream, so no two audio-class calls of a group ever overlap.
    resolved.forEach((st, i) => {
      if (!st.dssi) return;
      for (const other of this.chains.values()) {
        if (other.stream !== stream && other.stages.some((o) => o.dssi && o.info.library === st.info.library && o.info.label === st.info.label)) {
          throw new ChainConfigError(where, `plugins.${stream}[${i}].label`, `${st.info.label} (${st.info.library}) is already in ${other.stream}'s chain: a DSSI plugin serves one stream (its instances are one instance group, run by one engine thread)`);
        }
      }
    });
    return {
      stream, config, stages: resolved,
      values: resolved.map((st) => new Map(st.ports.map((p) => [p.port.index, p.initial]))),
      bypass: resolved.map((st) => st.config.bypass === true),
      overrun: resolved.map(() => undefined),
      // A DSSI stage is never instantiated here beside an engine's (the call classes): no probe.
      latencyFrames: resolved.map((st) => (st.dssi ? undefined : probeLatency(st, CONTROL_RATE))),
      probed: new Map(),
      dssi: resolved.map((st, i) => {
        if (!st.dssi) return undefined;
        const configure = new Map<string, string>();
        if (this.projectDir !== undefined) configure.set(DSSI_PROJECT_DIRECTORY_KEY, path.join(this.projectDir, `${this.board.name}.${stream}.fx${i + 1}`));
        for (const [k, v] of Object.entries(st.config.configure ?? {})) configure.set(k, v);
        return { configure, program: st.config.program ?? null, programs: undefined, bankSelect: new Array<number>(16).fill(0) };
      }),
    };
  }

  private dssiSpec(c: StreamChain): (i: number) => DssiStageSpec {
    return (i) => {
      const d = c.dssi[i]!;
      ensureProjectDir(d);
      return { configure: [...d.configure], program: d.program };
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
      const specs = running.map((e) => engineStages(stream, next.stages, e.fmt.channels, (i, port) => next.values[i]!.get(port)!, (i) => next.bypass[i]!, this.dssiSpec(next)));
      // From here the old stages' controls refuse writes (their stage and port numbers would reach the new chain).
      this.chains.set(stream, next);
      const results = await Promise.all(running.map((e, k) => e.swapChain(specs[k]!)));
      const failed = results.filter((r) => r !== 0).length;
      if (failed > 0) {
        // An engine kept its old chain (the new one could not be made on its thread): the old
        // chain stays in force everywhere, and the engines that did swap go back to it.
        this.chains.set(stream, previous);
        await Promise.all(running.map((e, k) => (results[k] === 0 ? e.swapChain(engineStages(stream, previous.stages, e.fmt.channels, (i, port) => previous.values[i]!.get(port)!, (i) => previous.bypass[i]!, this.dssiSpec(previous))) : 0)));
        throw new ChainConfigError(where, 'value', `the chain could not be made on ${failed} engine thread(s) (status ${results.join(', ')}): the previous chain stays`);
      }
      await this.model?.replaceEngineControls(`${this.board.name}.${stream}.fx`, this.controlsFor(next));
      for (const fn of this.changeListeners) fn();
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
    const stages = engineStages(stream, c.stages, channels, (i, port) => c.values[i]!.get(port)!, (i) => c.bypass[i]!, this.dssiSpec(c));
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

  // ---- DSSI stages (issue 30): programs, configure, MIDI, and the UIs' owners (src/osc/server.ts PluginOwnersLike).

  /** "speaker.fx1" → the chain and stage index, or a clear error. */
  private stageOf(owner: string): { c: StreamChain; i: number; d: DssiState; st: ResolvedStage } {
    const m = /^([a-z0-9][a-z0-9-]*)\.fx(\d+)$/.exec(owner);
    const c = m ? this.chains.get(m[1]!) : undefined;
    const i = m ? Number(m[2]) - 1 : -1;
    const d = c?.dssi[i];
    if (!c || !d) {
      const known = this.dssiOwners().join(', ');
      throw new ChainConfigError(this.board.name, owner, `no DSSI plugin stage ${JSON.stringify(owner)} (DSSI stages: ${known || 'none'}; a stage is <stream>.fx<N>)`);
    }
    return { c, i, d, st: c.stages[i]! };
  }

  /** The DSSI stages, as owners: "<stream>.fx<N>". */
  dssiOwners(): string[] {
    const out: string[] = [];
    for (const c of this.chains.values()) c.dssi.forEach((d, i) => { if (d) out.push(`${c.stream}.fx${i + 1}`); });
    return out;
  }

  describeOwner(owner: string): { label: string; library: string } {
    const { st } = this.stageOf(owner);
    return { label: st.info.label, library: st.info.library };
  }

  private runningOf(stream: string): PluginEngine[] {
    return [...this.engines()].filter((e) => e.stream.id === stream && !e.isClosed);
  }

  /**
   * A control-class call (configure, get_program) on a stage's instance: the running engine's
   * (through its handle, under the call-class lock), else an instance made here for the call
   * (given the session's configure keys first) and freed after. The lock keeps either off any
   * engine's instantiation calls; an engine that starts meanwhile waits for it before it makes its
   * instances, so none of its calls overlaps the instance made here.
   */
  private async controlCall<T>(owner: string, fn: (x: { configure(k: string, v: string): string | undefined; programs(): PluginProgram[] }) => T, every = false): Promise<T> {
    const { c, i, d, st } = this.stageOf(owner);
    const lib = st.info.library;
    const label = st.info.label;
    ensureProjectDir(d);
    return withDssiControlLock(this.callClassLock ? this.lockWord : undefined, () => {
      // The running engines' instances (a mono effect on a stereo stream is two): `every` calls
      // each (configure must reach them all); else the first answers (get_program).
      let first: { value: T } | undefined;
      for (const e of this.runningOf(c.stream)) {
        for (const handle of e.pluginHandles(i)) {
          if (handle === 0) continue;
          const value = fn(attachDssiControl(lib, label, BigInt(handle)));
          if (!every) return value;
          first ??= { value };
        }
      }
      if (first) return first.value;
      return this.scratchInstance(owner, (inst) => fn(inst));
    }, `${owner} (${label})`);
  }

  /**
   * An instance of a stage's plugin made on this thread for one call (no engine of the stream
   * runs; the caller holds the call-class lock): its ports connected (control inputs at the values
   * in force), the session's configure keys given, `fn` called, the instance freed.
   */
  private scratchInstance<T>(owner: string, fn: (inst: DssiInstance, portValue: (port: number) => number) => T): T {
    const { c, i, d, st } = this.stageOf(owner);
    const inst = openDssiPlugin(st.info.library, st.info.label).instantiate(CONTROL_RATE);
    try {
      const frames = 64;
      const mem = allocPortMemory(st.info.ports.length * frames);
      st.info.ports.forEach((p, k) => {
        const cell = mem.subarray(k * frames, (k + 1) * frames);
        if (p.type === 'control' && p.direction === 'input') cell[0] = c.values[i]!.get(p.index) ?? 0;
        inst.connect(p.index, cell);
      });
      for (const [k, v] of d.configure) {
        const err = inst.configure(k, v);
        if (err !== undefined) throw new Error(`${owner}: configure ${JSON.stringify(k)} = ${JSON.stringify(v)}: ${err}`);
      }
      return fn(inst, (port) => mem[port * frames]!);
    } finally {
      inst.cleanup();
    }
  }

  /**
   * The stage's programs, selections and configure keys are taken in the instantiation class
   * (one at a time with chain swaps): a swap replaces the stage (and its engine instances) under
   * that lock, so a control call never meets an instance of the chain being replaced.
   */
  private guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.instantiation ? this.instantiation.run(what, fn) : fn();
  }

  /** A stage's programs (get_program from index 0 until NULL), listed once per configure state. */
  async programs(owner: string): Promise<PluginProgram[]> {
    const { d } = this.stageOf(owner);
    if (d.programs !== undefined) return d.programs;
    return this.guarded(`programs of ${owner}`, () => this.programsNow(owner));
  }

  private async programsNow(owner: string): Promise<PluginProgram[]> {
    const { d } = this.stageOf(owner);
    if (d.programs === undefined) d.programs = await this.controlCall(owner, (x) => x.programs());
    return d.programs;
  }

  currentProgram(owner: string): { bank: number; program: number } | undefined {
    const p = this.stageOf(owner).d.program;
    return p ? { bank: p[0], program: p[1] } : undefined;
  }

  /**
   * Selects a program (one get_program lists it, else refused with the list): select_program on
   * the running engines' thread (the audio class), from the next period; future engines select it
   * once active. The ports the plugin rewrites come back through engineProgram.
   */
  async selectProgram(owner: string, bank: number, program: number, when: ChangeTime = {}): Promise<{ name: string }> {
    this.stageOf(owner);
    return this.guarded(`program ${bank}/${program} of ${owner}`, () => this.selectProgramNow(owner, bank, program, when));
  }

  private async selectProgramNow(owner: string, bank: number, program: number, when: ChangeTime): Promise<{ name: string }> {
    const { c, i, d } = this.stageOf(owner);
    const list = await this.programsNow(owner);
    const p = list.find((x) => x.bank === bank && x.program === program);
    if (!p) throw new ChainConfigError(this.board.name, `${owner} program`, `no program ${bank}/${program} (${list.length} programs: ${list.slice(0, 8).map((x) => `${x.bank}/${x.program} ${x.name}`).join(', ')}${list.length > 8 ? ', …' : ''})`);
    d.program = [bank, program];
    const running = this.runningOf(c.stream);
    if (running.length === 0) await this.programValuesOffline(owner, bank, program);
    await Promise.all(running.map((e) => e.setPluginProgram(i, bank, program, when)));
    this.model?.changed(`${this.board.name}.${c.stream}.fx${i + 1}-program`);
    for (const fn of this.programListeners) fn(owner, bank, program);
    return { name: p.name };
  }

  /**
   * With no engine running, what a program writes into the stage's control inputs (dssi.h: a
   * plugin may rewrite them in select_program) is learnt on an instance made for it here, under
   * the call-class lock (no engine of the stream runs, so no other call of the group does): the
   * controls take those values, and the next engine starts from them.
   */
  private async programValuesOffline(owner: string, bank: number, program: number): Promise<void> {
    const { c, i, d, st } = this.stageOf(owner);
    ensureProjectDir(d);
    const values = await withDssiControlLock(this.callClassLock ? this.lockWord : undefined, () => this.scratchInstance(owner, (inst, portValue) => {
      inst.activate();
      inst.selectProgram(bank, program);
      return st.ports.map((p) => [p.port.index, portValue(p.port.index)] as const);
    }), `${owner} (${st.info.label})`);
    for (const [port, v] of values) {
      const held = c.values[i]!.get(port);
      if (!Number.isFinite(v) || (held !== undefined && Math.fround(held) === v)) continue;
      c.values[i]!.set(port, v);
      const p = st.ports.find((x) => x.port.index === port)!;
      this.model?.changed(`${this.board.name}.${c.stream}.fx${i + 1}-${p.slug}`);
    }
  }

  configureList(owner: string): { key: string; value: string }[] {
    return [...this.stageOf(owner).d.configure].map(([key, value]) => ({ key, value }));
  }

  /**
   * configure(key, value) (the control class): on the running engine's instance (or, with none,
   * on an instance made to check it), remembered for every later instance; the plugin's error
   * refuses it and nothing is remembered. dssi.h: DSSI: keys are the host's (refused here);
   * GLOBAL: keys go to every stage of the same plugin too; configure invalidates the program list.
   */
  async configure(owner: string, key: string, value: string, group = true): Promise<{ reply: string }> {
    this.stageOf(owner);
    return this.guarded(`configure ${key} of ${owner}`, () => this.configureNow(owner, key, value, group));
  }

  /** `group`: a GLOBAL: key goes to the instance group's other stages too (false: the caller sends it to each, as the OSC server does). */
  private async configureNow(owner: string, key: string, value: string, group: boolean): Promise<{ reply: string }> {
    const { st } = this.stageOf(owner);
    if (key.startsWith('DSSI:')) throw new ChainConfigError(this.board.name, `${owner} configure ${key}`, `keys starting with DSSI: are reserved (dssi.h): the host sets them${key === DSSI_PROJECT_DIRECTORY_KEY ? ' (sbc-audio sets DSSI:PROJECT_DIRECTORY beside the state file)' : ''}`);
    if (key === '' || key.length > 256 || value.length > 64 * 1024) throw new ChainConfigError(this.board.name, `${owner} configure`, 'a key of 1 to 256 characters and a value of at most 64 KiB');
    const owners = group && key.startsWith(DSSI_GLOBAL_PREFIX)
      ? this.dssiOwners().filter((o) => { const x = this.stageOf(o).st; return x.info.library === st.info.library && x.info.label === st.info.label; })
      : [owner];
    for (const o of owners) {
      const err = await this.controlCall(o, (x) => x.configure(key, value), true);
      if (err !== undefined) throw new ChainConfigError(this.board.name, `${o} configure ${key}`, `the plugin says: ${err}`);
      const { c, i, d } = this.stageOf(o);
      d.configure.set(key, value);
      d.programs = undefined; // dssi.h: configure invalidates the program information
      this.model?.changed(`${this.board.name}.${c.stream}.fx${i + 1}-configure`);
      for (const fn of this.configureListeners) fn(o, key, value);
    }
    return { reply: `${key} set on ${owners.join(', ')}` };
  }

  /** An engine selected a program on stage `stage` and read its control inputs back. */
  engineProgram(stream: string, stage: number, _bank: number, _program: number, ports: Float64Array): void {
    const c = this.chains.get(stream);
    if (!c || !c.stages[stage]) return;
    for (const p of c.stages[stage].ports) {
      const v = ports[p.port.index];
      // The ports are floats: a value the user set reads back as its float (0.1 as 0.10000000149),
      // which is no change.
      const held = c.values[stage]!.get(p.port.index);
      if (v === undefined || !Number.isFinite(v) || (held !== undefined && Math.fround(held) === v)) continue;
      c.values[stage]!.set(p.port.index, v);
      this.model?.changed(`${this.board.name}.${stream}.fx${stage + 1}-${p.slug}`);
    }
  }

  /** Told of each MIDI message an engine applied to a synth stage, with the stream frame it landed on (tests, diagnostics). */
  onMidiApplied?: (owner: string, packed: number, frame: number) => void;

  /**
   * A MIDI event from the service's sequencer port: notes (and controllers) go to the synth
   * stages listening on its channel, timestamped to a frame: the frame that plays at the time the
   * sequencer event was taken (its receivedNs) plus the engine's lead (FIFO + one period), so that
   * equal delays between events stay equal at the output. If the event reaches the engine after
   * that frame was rendered (a busy main thread), it lands at the start of the next period the
   * engine renders: ±1 period. Bank select and program change become select_program (dssi.h).
   */
  midi(ev: MidiEvent): void {
    for (const c of this.chains.values()) {
      c.dssi.forEach((d, i) => {
        const st = c.stages[i]!;
        if (!d || !st.synth || (st.config.midiChannel !== undefined && st.config.midiChannel !== ev.channel)) return;
        let packed: number | undefined;
        if (ev.type === 'note-on') packed = ((0x90 | ev.channel) << 16) | (ev.note << 8) | ev.velocity;
        else if (ev.type === 'note-off') packed = ((0x80 | ev.channel) << 16) | (ev.note << 8) | ev.velocity;
        else if (ev.type === 'controller') {
          if (ev.controller === 0) d.bankSelect[ev.channel] = (ev.value << 7) | (d.bankSelect[ev.channel]! & 0x7f);
          else if (ev.controller === 32) d.bankSelect[ev.channel] = (d.bankSelect[ev.channel]! & ~0x7f) | ev.value;
          else packed = ((0xb0 | ev.channel) << 16) | (ev.controller << 8) | ev.value;
        } else if (ev.type === 'program') {
          const owner = `${c.stream}.fx${i + 1}`;
          this.selectProgram(owner, d.bankSelect[ev.channel]!, ev.program).catch((e: unknown) => this.log(`MIDI program change for ${owner}: ${(e as Error).message}`));
        }
        if (packed === undefined) return;
        const owner = `${c.stream}.fx${i + 1}`;
        const msg = packed;
        for (const e of this.runningOf(c.stream)) {
          const lead = e.eventLeadNs();
          void e.sendPluginMidi(i, msg, lead === undefined ? {} : { ns: ev.receivedNs + lead }).then((a) => this.onMidiApplied?.(owner, msg, a.frame));
        }
      });
    }
  }

  /** The DSSI stages as OSC owners (src/osc/server.ts PluginOwnersLike). */
  pluginOwners(): {
    list(): { id: string; group: string; ports: ReadonlyMap<number, string>; programs(): Promise<PluginProgram[]>; currentProgram(): { bank: number; program: number } | undefined; selectProgram(b: number, p: number): Promise<{ name: string }>; configureList(): readonly { key: string; value: string }[]; configure(k: string, v: string): Promise<{ reply: string }> }[];
    onChanged(fn: () => void): () => void;
    onProgram(fn: (owner: string, bank: number, program: number) => void): () => void;
    onConfigure(fn: (owner: string, key: string, value: string) => void): () => void;
  } {
    const on = <F>(set: Set<F>) => (fn: F) => {
      set.add(fn);
      return () => void set.delete(fn);
    };
    return {
      list: () => this.dssiOwners().map((id) => {
        const { c, i, st } = this.stageOf(id);
        return {
          id, group: `${path.basename(st.info.library)} ${st.info.label}`,
          ports: new Map(st.ports.map((p) => [p.port.index, `${this.board.name}.${c.stream}.fx${i + 1}-${p.slug}`])),
          programs: () => this.programs(id),
          currentProgram: () => this.currentProgram(id),
          selectProgram: (b: number, p: number) => this.selectProgram(id, b, p),
          configureList: () => this.configureList(id),
          // The server sends a GLOBAL: key to each stage of the group itself.
          configure: (k: string, v: string) => this.configure(id, k, v, false),
        };
      }),
      onChanged: on(this.changeListeners),
      onProgram: on(this.programListeners),
      onConfigure: on(this.configureListeners),
    };
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
        const d = c.dssi[i];
        if (d) {
          const owner1 = `${c.stream}.fx${i + 1}`;
          out.push({
            d: {
              id: `${base}-program`, name: `${c.stream} plugin ${i + 1} program (BANK/PROGRAM)`, kind: 'text', owner, direction: 'output', unit: 'none',
              default: st.config.program ? `${st.config.program[0]}/${st.config.program[1]}` : '', defaultSource: 'the configuration\'s "program" (none: the plugin\'s own state)',
              realtimeSafe: false, writable: true, persistent: true,
              source: `${what}: DSSI select_program (the audio class: on the engine thread, from the next period); "sbc-audio program list" lists them (get_program)`,
            },
            read: () => (d.program ? `${d.program[0]}/${d.program[1]}` : ''),
            write: async (v) => {
              if (stale()) throw new Error(`${base}-program: the stream's chain was replaced; this stage is gone`);
              const m = /^\s*(\d+)\s*[/ ]\s*(\d+)\s*$/.exec(String(v));
              if (!m) {
                if (String(v).trim() === '' && d.program === null) return undefined;
                throw new Error(`${base}-program: BANK/PROGRAM (e.g. "0/7"), got ${JSON.stringify(v)}`);
              }
              await this.selectProgram(owner1, Number(m[1]), Number(m[2]));
              return undefined;
            },
          });
          out.push({
            d: {
              id: `${base}-configure`, name: `${c.stream} plugin ${i + 1} configure keys (JSON)`, kind: 'text', owner, direction: 'output', unit: 'none',
              default: JSON.stringify(st.config.configure ?? {}), defaultSource: 'the configuration\'s "configure"',
              realtimeSafe: false, writable: true, persistent: true,
              source: `${what}: DSSI configure(key, value) (the control class), remembered and given again to every new instance before activate and before any program; the host's own DSSI: keys are not listed`,
            },
            read: () => JSON.stringify(Object.fromEntries([...d.configure].filter(([k]) => !k.startsWith('DSSI:')))),
            write: async (v) => {
              if (stale()) throw new Error(`${base}-configure: the stream's chain was replaced; this stage is gone`);
              let o: unknown;
              try {
                o = JSON.parse(String(v));
              } catch (e) {
                throw new Error(`${base}-configure: a JSON object of key → value strings, got ${JSON.stringify(String(v).slice(0, 60))} (${(e as Error).message})`);
              }
              if (typeof o !== 'object' || o === null || Array.isArray(o) || !Object.values(o).every((x) => typeof x === 'string')) throw new Error(`${base}-configure: a JSON object of key → value strings`);
              for (const [k, x] of Object.entries(o as Record<string, string>)) if (d.configure.get(k) !== x) await this.configure(owner1, k, x);
              return undefined;
            },
          });
        }
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

