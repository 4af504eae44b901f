/**
 * Plugin chains as the configuration file writes them, checked and resolved on the main thread
 * (issue 29; docs/engine.md, "Plugins in the chain"). The engine's side is src/dsp/chain.ts.
 *
 *   "plugins": { "speaker": [
 *     { "library": "cmt.so", "label": "amp_mono", "controls": { "Gain": 0.5 } },
 *     { "library": "tap_eq.so", "label": "tap_equalizer", "channels": [0, 1] }
 *   ] }
 *
 * A stage names its library by file name only: it is looked up in the plugin directories
 * (LADSPA_PATH, else the configuration's `ladspaPath`, else the usual ones), never at a path, so
 * no file names a library to load from elsewhere (board files cannot name plugins at all: they
 * stay data). `channels`: the stream channels the stage processes (default all of them), a
 * multiple of its audio inputs; a mono plugin on a stereo stream runs one instance per channel.
 * `controls`: control inputs by port name (as `sbc-audio plugins` and analyseplugin print them),
 * the others start at their default hint (or the lower bound, or 0, when there is none: said).
 * A plugin without LADSPA_PROPERTY_HARD_RT_CAPABLE is refused unless the stage says
 * `"allowNonRealtime": true` (it may allocate, lock or block in run(): the engine's thread may
 * then miss its period — the risk is the user's, docs/engine.md says so).
 */
import type { ChainStageSpec, DssiStageSpec } from './chain.ts';
import { LadspaError, type LadspaPluginInfo, type LadspaPortInfo, findLibrary, openPlugin, portBounds, portDefault } from './ladspa.ts';
import { findDssiLibrary, hasDssiDescriptor, openDssiPlugin } from './dssi.ts';

export interface PluginStageConfig {
  library: string;
  label: string;
  channels?: number[];
  controls?: Record<string, number | boolean>;
  bypass?: boolean;
  allowNonRealtime?: boolean;
  /** DSSI: configure keys set at start (before any program; the control state's values win). */
  configure?: Record<string, string>;
  /** DSSI: the program selected at start, [bank, program] (the control state's value wins). */
  program?: [number, number];
  /** DSSI synths: the MIDI channel (0..15, as on the wire) whose notes it plays; absent: every channel. */
  midiChannel?: number;
}

/** A chain per stream id. */
export type PluginsConfig = Record<string, PluginStageConfig[]>;

export class ChainConfigError extends Error {
  constructor(readonly where: string, readonly field: string, message: string) {
    super(`${where}: ${field}: ${message}`);
    this.name = 'ChainConfigError';
  }
}

const STAGE_KEYS = ['library', 'label', 'channels', 'controls', 'bypass', 'allowNonRealtime', 'configure', 'program', 'midiChannel'];
const STREAM_ID = /^[a-z0-9][a-z0-9-]*$/;

/** Checks the shape of a `plugins` value (a file's field); errors name `where` and the field. */
export function parsePluginsConfig(raw: unknown, where: string, field = 'plugins'): PluginsConfig {
  const bad = (f: string, m: string) => new ChainConfigError(where, f, m);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(field, `expected an object of chains by stream id ({ "speaker": [ { "library": "cmt.so", "label": "amp_mono" } ] }), got ${JSON.stringify(raw)}`);
  const out: PluginsConfig = {};
  for (const [stream, chain] of Object.entries(raw as Record<string, unknown>)) {
    const f = `${field}.${stream}`;
    if (!STREAM_ID.test(stream)) throw bad(f, 'a stream id (lowercase letters, digits and dashes)');
    if (!Array.isArray(chain)) throw bad(f, `expected an array of plugin stages, got ${JSON.stringify(chain)}`);
    out[stream] = chain.map((st: unknown, i) => {
      const g = `${f}[${i}]`;
      if (typeof st !== 'object' || st === null || Array.isArray(st)) throw bad(g, `expected an object { "library", "label", … }, got ${JSON.stringify(st)}`);
      const o = st as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!STAGE_KEYS.includes(k)) throw bad(`${g}.${k}`, `no such field (known fields: ${STAGE_KEYS.join(', ')})`);
      if (typeof o.library !== 'string' || o.library === '' || o.library.includes('/') || o.library.includes('\0') || o.library.startsWith('.')) {
        throw bad(`${g}.library`, `a library's file name in the plugin directories (e.g. "cmt.so"), never a path; got ${JSON.stringify(o.library)}`);
      }
      if (typeof o.label !== 'string' || o.label === '') throw bad(`${g}.label`, `a plugin label (sbc-audio plugins lists them), got ${JSON.stringify(o.label)}`);
      const stage: PluginStageConfig = { library: o.library, label: o.label };
      if (o.channels !== undefined) {
        if (!Array.isArray(o.channels) || o.channels.length === 0 || !o.channels.every((c) => Number.isInteger(c) && c >= 0 && c < 64) || new Set(o.channels).size !== o.channels.length) {
          throw bad(`${g}.channels`, `a non-empty list of distinct stream channel numbers from 0, got ${JSON.stringify(o.channels)}`);
        }
        stage.channels = o.channels as number[];
      }
      if (o.controls !== undefined) {
        if (typeof o.controls !== 'object' || o.controls === null || Array.isArray(o.controls)) throw bad(`${g}.controls`, `an object of values by port name, got ${JSON.stringify(o.controls)}`);
        for (const [k, v] of Object.entries(o.controls)) {
          if (!(typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) throw bad(`${g}.controls.${k}`, `a number (or true/false for a toggled port), got ${JSON.stringify(v)}`);
        }
        stage.controls = o.controls as Record<string, number | boolean>;
      }
      const flag = (k: 'bypass' | 'allowNonRealtime'): boolean | undefined => {
        const v = o[k];
        if (v !== undefined && typeof v !== 'boolean') throw bad(`${g}.${k}`, `true or false, got ${JSON.stringify(v)}`);
        return v;
      };
      const bypass = flag('bypass');
      const allowNonRealtime = flag('allowNonRealtime');
      if (bypass !== undefined) stage.bypass = bypass;
      if (allowNonRealtime !== undefined) stage.allowNonRealtime = allowNonRealtime;
      if (o.configure !== undefined) {
        if (typeof o.configure !== 'object' || o.configure === null || Array.isArray(o.configure)) throw bad(`${g}.configure`, `an object of DSSI configure values by key ({ "polyphony": "8" }), got ${JSON.stringify(o.configure)}`);
        for (const [k, v] of Object.entries(o.configure)) {
          if (typeof v !== 'string') throw bad(`${g}.configure.${k}`, `a string (DSSI configure values are text), got ${JSON.stringify(v)}`);
          if (k.startsWith('DSSI:')) throw bad(`${g}.configure.${k}`, 'keys starting with DSSI: are reserved (dssi.h): the host sets them');
        }
        stage.configure = o.configure as Record<string, string>;
      }
      if (o.program !== undefined) {
        if (!Array.isArray(o.program) || o.program.length !== 2 || !o.program.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 24)) throw bad(`${g}.program`, `[bank, program] (whole numbers ≥ 0), got ${JSON.stringify(o.program)}`);
        stage.program = [o.program[0] as number, o.program[1] as number];
      }
      if (o.midiChannel !== undefined) {
        if (!(Number.isInteger(o.midiChannel) && (o.midiChannel as number) >= 0 && (o.midiChannel as number) <= 15)) throw bad(`${g}.midiChannel`, `a MIDI channel 0..15 as on the wire (people say 1..16), got ${JSON.stringify(o.midiChannel)}`);
        stage.midiChannel = o.midiChannel as number;
      }
      return stage;
    });
  }
  return out;
}

/** A control input of a resolved stage, as the control model offers it. */
export interface StagePort {
  port: LadspaPortInfo;
  /** A slug of the port's name, unique in the stage ([a-z0-9-]). */
  slug: string;
  min: number | undefined;
  max: number | undefined;
  /** The value it starts at, and where that comes from. */
  initial: number;
  initialSource: string;
}

export interface ResolvedStage {
  config: PluginStageConfig;
  info: LadspaPluginInfo;
  /** Control inputs, in port order. */
  ports: StagePort[];
  audioIns: number;
  /** A DSSI plugin (its library, found in the DSSI directories, has dssi_descriptor with the label). */
  dssi: boolean;
  /** DSSI: it has run_synth (a synth: MIDI notes reach it); 0 audio inputs makes it a synth mixed into the stream. */
  synth: boolean;
}

/** Names of a stage's own controls (`fxN-<name>`): a port slug that would take one gets `-port` added. */
export const RESERVED_SLUGS: readonly string[] = ['cpu', 'latency', 'program', 'programs', 'configure'];

/** A port name as an id part: "Frequency (Hz)" → "frequency-hz". */
export function portSlug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s === '' ? 'port' : s;
}

/**
 * Opens each stage's plugin (a library missing, not loading or without the label is an error
 * naming it), checks its audio ports (as many outputs as inputs, at least one), its real-time
 * capability and its controls' names and values against the plugin's ports, at `rate`.
 */
export function resolveChain(stream: string, stages: readonly PluginStageConfig[], searchPath: readonly string[], rate: number, where: string, dssiPath: readonly string[] = []): ResolvedStage[] {
  return stages.map((cfg, i) => {
    const f = `plugins.${stream}[${i}]`;
    const bad = (field: string, m: string) => new ChainConfigError(where, field, m);
    let info: LadspaPluginInfo;
    let dssi = false;
    let synth = false;
    try {
      // A DSSI library first (DSSI_PATH's directories, dssi.h's discovery), else a LADSPA one.
      let dssiLibrary: string | undefined;
      try {
        const found = findDssiLibrary(cfg.library, dssiPath);
        if (hasDssiDescriptor(found)) dssiLibrary = found;
      } catch (e) {
        if (!(e instanceof LadspaError) || e.code !== 'not-found') throw e;
      }
      if (dssiLibrary !== undefined) {
        const plugin = openDssiPlugin(dssiLibrary, cfg.label);
        info = plugin.info.ladspa;
        dssi = true;
        synth = plugin.info.runSynth;
        if (cfg.program !== undefined && !plugin.info.selectProgram) throw bad(`${f}.program`, `${cfg.label} (${dssiLibrary}) has no programs (its descriptor's select_program is NULL)`);
      } else info = openPlugin(findLibrary(cfg.library, searchPath), cfg.label).info;
    } catch (e) {
      if (e instanceof LadspaError) throw bad(e.code === 'label-not-found' ? `${f}.label` : `${f}.library`, e.message);
      throw e;
    }
    const ins = info.ports.filter((p) => p.type === 'audio' && p.direction === 'input').length;
    const outs = info.ports.filter((p) => p.type === 'audio' && p.direction === 'output').length;
    if (ins === 0 && outs > 0 && dssi) {
      // A synth: its output is added into the stream's channels (one output into each, or one per channel).
      const chans = cfg.channels?.length;
      if (chans !== undefined && outs !== 1 && outs !== chans) throw bad(`${f}.channels`, `${cfg.label} has ${outs} audio outputs: it is mixed into one channel per output, or one output into every channel; got ${chans} channels`);
    } else if (ins === 0 || ins !== outs) throw bad(`${f}.label`, `${cfg.label} (${info.library}) has ${ins} audio input(s) and ${outs} output(s): a stage in a stream's chain needs as many outputs as inputs, at least one (or, for a DSSI synth, no inputs)`);
    if (!dssi && (cfg.configure !== undefined || cfg.program !== undefined || cfg.midiChannel !== undefined)) {
      throw bad(`${f}.${cfg.configure !== undefined ? 'configure' : cfg.program !== undefined ? 'program' : 'midiChannel'}`, `${cfg.label} (${info.library}) is a LADSPA plugin: configure, program and midiChannel are for DSSI plugins (found in the DSSI directories: ${dssiPath.join(':') || 'none'})`);
    }
    if (!info.hardRtCapable && cfg.allowNonRealtime !== true) {
      throw bad(`${f}.label`, `${cfg.label} (${info.library}) is not marked hard real-time capable (LADSPA_PROPERTY_HARD_RT_CAPABLE): its run() may allocate, lock or block on the engine's thread. Set "allowNonRealtime": true on the stage to run it anyway (the risk of missed periods is yours)`);
    }
    if (cfg.channels && ins > 0 && cfg.channels.length % ins !== 0) throw bad(`${f}.channels`, `${cfg.label} takes ${ins} channel(s) per instance: give a multiple of ${ins} channels, got ${cfg.channels.length}`);
    const seen = new Map<string, number>();
    const ports: StagePort[] = info.ports.filter((p) => p.type === 'control' && p.direction === 'input').map((port) => {
      let slug = portSlug(port.name);
      // The stage's own controls' names stay theirs (fxN-cpu, fxN-latency, fxN-program, fxN-configure).
      if (RESERVED_SLUGS.includes(slug)) slug = `${slug}-port`;
      const n = (seen.get(slug) ?? 0) + 1;
      seen.set(slug, n);
      if (n > 1) slug = `${slug}-${n}`;
      const { min, max } = portBounds(port, rate);
      const given = cfg.controls?.[port.name];
      let initial: number;
      let initialSource: string;
      if (given !== undefined) {
        initial = typeof given === 'boolean' ? (given ? 1 : 0) : given;
        initialSource = `${where} ${f}.controls["${port.name}"]`;
        if ((min !== undefined && initial < min) || (max !== undefined && initial > max)) throw bad(`${f}.controls.${port.name}`, `${initial} is outside the port's range ${min ?? '…'} .. ${max ?? '…'}`);
      } else {
        const d = portDefault(port, rate);
        if (d !== undefined) {
          initial = d;
          initialSource = `the plugin's default hint (${port.defaultHint})`;
        } else {
          initial = min ?? 0;
          initialSource = min !== undefined ? 'the plugin gives no default: its lower bound' : 'the plugin gives no default or bound: 0';
        }
      }
      return { port, slug, min, max, initial, initialSource };
    });
    for (const name of Object.keys(cfg.controls ?? {})) {
      if (!ports.some((p) => p.port.name === name)) throw bad(`${f}.controls.${name}`, `${cfg.label} has no control input "${name}" (its control inputs: ${ports.map((p) => JSON.stringify(p.port.name)).join(', ') || 'none'})`);
    }
    return { config: cfg, info, ports, audioIns: ins, dssi, synth };
  });
}

/**
 * The engine's view of a resolved chain for a stream of `channels` channels: each stage's
 * channels (a multiple of its inputs: an error names the stage otherwise) and the current values.
 */
export function engineStages(stream: string, chain: readonly ResolvedStage[], channels: number, valueOf: (stage: number, port: number) => number, bypassOf: (stage: number) => boolean, dssiOf?: (stage: number) => DssiStageSpec): ChainStageSpec[] {
  return chain.map((st, i) => {
    const chans = st.config.channels ?? Array.from({ length: channels }, (_, c) => c);
    if (chans.some((c) => c >= channels)) throw new Error(`plugins.${stream}[${i}] (${st.config.label}): channels ${JSON.stringify(chans)}, but the stream has ${channels}`);
    if (st.audioIns > 0 && chans.length % st.audioIns !== 0) throw new Error(`plugins.${stream}[${i}] (${st.config.label}) takes ${st.audioIns} channel(s) per instance; the stream has ${channels}`);
    const outs = st.info.ports.filter((p) => p.type === 'audio' && p.direction === 'output').length;
    if (st.audioIns === 0 && outs !== 1 && outs !== chans.length) throw new Error(`plugins.${stream}[${i}] (${st.config.label}) has ${outs} outputs: it cannot be mixed into ${chans.length} channel(s)`);
    const values: (number | null)[] = st.info.ports.map(() => null);
    for (const p of st.ports) values[p.port.index] = valueOf(i, p.port.index);
    const spec: ChainStageSpec = { library: st.info.library, label: st.info.label, channels: chans, values, bypass: bypassOf(i) };
    if (st.dssi) spec.dssi = dssiOf?.(i) ?? { configure: Object.entries(st.config.configure ?? {}), program: st.config.program ?? null };
    return spec;
  });
}

