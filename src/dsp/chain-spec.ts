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
import type { ChainStageSpec } from './chain.ts';
import { LadspaError, type LadspaPluginInfo, type LadspaPortInfo, findLibrary, openPlugin, portBounds, portDefault } from './ladspa.ts';

export interface PluginStageConfig {
  library: string;
  label: string;
  channels?: number[];
  controls?: Record<string, number | boolean>;
  bypass?: boolean;
  allowNonRealtime?: boolean;
}

/** A chain per stream id. */
export type PluginsConfig = Record<string, PluginStageConfig[]>;

export class ChainConfigError extends Error {
  constructor(readonly where: string, readonly field: string, message: string) {
    super(`${where}: ${field}: ${message}`);
    this.name = 'ChainConfigError';
  }
}

const STAGE_KEYS = ['library', 'label', 'channels', 'controls', 'bypass', 'allowNonRealtime'];
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
}

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
export function resolveChain(stream: string, stages: readonly PluginStageConfig[], searchPath: readonly string[], rate: number, where: string): ResolvedStage[] {
  return stages.map((cfg, i) => {
    const f = `plugins.${stream}[${i}]`;
    const bad = (field: string, m: string) => new ChainConfigError(where, field, m);
    let info: LadspaPluginInfo;
    try {
      info = openPlugin(findLibrary(cfg.library, searchPath), cfg.label).info;
    } catch (e) {
      if (e instanceof LadspaError) throw bad(e.code === 'label-not-found' ? `${f}.label` : `${f}.library`, e.message);
      throw e;
    }
    const ins = info.ports.filter((p) => p.type === 'audio' && p.direction === 'input').length;
    const outs = info.ports.filter((p) => p.type === 'audio' && p.direction === 'output').length;
    if (ins === 0 || ins !== outs) throw bad(`${f}.label`, `${cfg.label} (${info.library}) has ${ins} audio input(s) and ${outs} output(s): a stage in a stream's chain needs as many outputs as inputs, at least one`);
    if (!info.hardRtCapable && cfg.allowNonRealtime !== true) {
      throw bad(`${f}.label`, `${cfg.label} (${info.library}) is not marked hard real-time capable (LADSPA_PROPERTY_HARD_RT_CAPABLE): its run() may allocate, lock or block on the engine's thread. Set "allowNonRealtime": true on the stage to run it anyway (the risk of missed periods is yours)`);
    }
    if (cfg.channels && cfg.channels.length % ins !== 0) throw bad(`${f}.channels`, `${cfg.label} takes ${ins} channel(s) per instance: give a multiple of ${ins} channels, got ${cfg.channels.length}`);
    const seen = new Map<string, number>();
    const ports: StagePort[] = info.ports.filter((p) => p.type === 'control' && p.direction === 'input').map((port) => {
      let slug = portSlug(port.name);
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
    return { config: cfg, info, ports, audioIns: ins };
  });
}

/**
 * The engine's view of a resolved chain for a stream of `channels` channels: each stage's
 * channels (a multiple of its inputs: an error names the stage otherwise) and the current values.
 */
export function engineStages(stream: string, chain: readonly ResolvedStage[], channels: number, valueOf: (stage: number, port: number) => number, bypassOf: (stage: number) => boolean): ChainStageSpec[] {
  return chain.map((st, i) => {
    const chans = st.config.channels ?? Array.from({ length: channels }, (_, c) => c);
    if (chans.some((c) => c >= channels)) throw new Error(`plugins.${stream}[${i}] (${st.config.label}): channels ${JSON.stringify(chans)}, but the stream has ${channels}`);
    if (chans.length % st.audioIns !== 0) throw new Error(`plugins.${stream}[${i}] (${st.config.label}) takes ${st.audioIns} channel(s) per instance; the stream has ${channels}`);
    const values: (number | null)[] = st.info.ports.map(() => null);
    for (const p of st.ports) values[p.port.index] = valueOf(i, p.port.index);
    return { library: st.info.library, label: st.info.label, channels: chans, values, bypass: bypassOf(i) };
  });
}

