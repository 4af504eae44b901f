/**
 * The control channel (docs/CONTROL.md): the control model served at
 * `<runtime-dir>/control/<board>.sock`, one JSON object per line each way. `handleControlRequest`
 * answers one request (in-process tests and the socket go through it); `serveControlChannel`
 * publishes it with change events for subscribed connections.
 */
import path from 'node:path';
import { type JsonLinesConnection, type JsonLinesServer, serveJsonLines } from '../stream/json-lines.ts';
import { ConfigureError, type Configurator } from './configure.ts';
import { ControlModelError, type ControlModel } from './model.ts';
import { KnobError, type Knobs } from './knobs.ts';
import { MIDI_CURVES, type MidiCurve } from '../board/schema.ts';
import { ProgramError, type Programs } from './programs.ts';
import type { ChangeTime, ControlInfo } from './types.ts';
import { ControlValueError } from './values.ts';

/** The folder of the runtime directory that holds the control channels. */
export const CONTROL_DIR = 'control';

export const CONTROL_COMMANDS = [
  'list', 'get', 'set', 'subscribe', 'unsubscribe', 'programs', 'program-load', 'program-save', 'configure-list', 'configure',
  'knobs', 'midi-learn', 'midi-unmap', 'midi-connect', 'midi-disconnect',
] as const;

/** The longest a `midi-learn` waits for a controller to move (ms). */
export const MAX_LEARN_MS = 600_000;

/**
 * What the channel serves besides the model: programs and configure (docs/CONTROL.md, "Programs
 * and configure"). Absent, their commands are refused saying so.
 */
export interface ControlChannelExtras {
  programs?: Programs;
  configure?: Configurator;
  /** The board's MIDI input and encoder (docs/CONTROL.md, "Knobs"). */
  knobs?: Knobs;
  /** The DSSI plugin stages of the streams' chains (src/stream/plugin-controls.ts): their programs and configure keys, by owner "<stream>.fx<N>". */
  plugins?: PluginStagesLike;
}

/** What the channel needs of the DSSI stages (StreamPlugins has it). */
export interface PluginStagesLike {
  dssiOwners(): string[];
  describeOwner(owner: string): { label: string; library: string };
  programs(owner: string): Promise<{ bank: number; program: number; name: string }[]>;
  currentProgram(owner: string): { bank: number; program: number } | undefined;
  selectProgram(owner: string, bank: number, program: number): Promise<{ name: string }>;
  configureList(owner: string): { key: string; value: string }[];
  configure(owner: string, key: string, value: string): Promise<{ reply: string }>;
}

export function controlChannelPath(runtimeDir: string, board: string): string {
  return path.join(runtimeDir, CONTROL_DIR, `${board}.sock`);
}

export type ControlResponse = { id: unknown; ok: true; [k: string]: unknown } | { id: unknown; ok: false; error: string };

/** A connection's subscription: `subscribe` turns it on (the channel sends change events). */
export interface Subscriber {
  subscribed: boolean;
  /** Aborted when the connection closes (a learn it asked for ends then). */
  closed?: AbortSignal;
}

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Answers one request line (never throws). */
export async function handleControlRequest(model: ControlModel, line: string, sub: Subscriber = { subscribed: false }, extras: ControlChannelExtras = {}): Promise<ControlResponse> {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { id: null, ok: false, error: `request: not JSON (${(e as Error).message}); send one JSON object per line, e.g. {"id":1,"cmd":"list"}` };
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    return { id: null, ok: false, error: `request: expected a JSON object like {"id":1,"cmd":"list"}, got ${shown(req)}` };
  }
  const o = req as Record<string, unknown>;
  const id = typeof o.id === 'number' || typeof o.id === 'string' ? o.id : null;
  const fail = (error: string): ControlResponse => ({ id, ok: false, error });
  if (o.id !== undefined && id === null) return fail(`id: expected a number or a string, got ${shown(o.id)}`);
  const cmd = o.cmd;
  if (typeof cmd !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(cmd)) return fail(`cmd: expected one of ${CONTROL_COMMANDS.join(', ')}, got ${shown(cmd)}`);
  const allowed: Record<string, string[]> = {
    list: [], get: ['control'], set: ['control', 'value', 'at', 'rampMs'], subscribe: [], unsubscribe: [],
    programs: [], 'program-load': ['bank', 'program', 'name', 'owner'], 'program-save': ['name'], 'configure-list': ['owner'], configure: ['owner', 'key', 'value'],
    knobs: [], 'midi-learn': ['control', 'timeoutMs', 'resolution', 'curve'], 'midi-unmap': ['channel', 'cc'], 'midi-connect': ['source'], 'midi-disconnect': ['source'],
  };
  for (const k of Object.keys(o)) {
    if (k !== 'id' && k !== 'cmd' && !allowed[cmd]!.includes(k)) return fail(`${cmd}: unknown field "${k}" (fields: ${allowed[cmd]!.join(', ') || 'none'})`);
  }
  const control = (): string => {
    if (typeof o.control !== 'string' || o.control === '') throw new ControlModelError(`${cmd}: control: expected a control id (a string, e.g. "sim.speaker.gain"), got ${shown(o.control)}`);
    return o.control;
  };
  try {
    switch (cmd) {
      case 'list':
        return { id, ok: true, ...(await model.list()) };
      case 'get':
        return { id, ok: true, control: await model.get(control()) };
      case 'set': {
        const c = control();
        if (o.value === undefined || o.value === null) throw new ControlModelError(`set: value: expected dB (a number), true / false, or a string like "-20", "50%", "+3dB", "on", a value name; got ${shown(o.value)}`);
        // Optional: `at` ({ frame } or { ns }) and `rampMs` (engine controls): the model checks them.
        return { id, ok: true, control: await model.set(c, o.value, { at: o.at as ChangeTime | undefined, ...(o.rampMs !== undefined ? { rampMs: o.rampMs as number } : {}) }) };
      }
      case 'subscribe':
        sub.subscribed = true;
        return { id, ok: true };
      case 'programs':
      case 'program-load':
      case 'program-save':
      case 'configure-list':
      case 'configure':
      case 'knobs':
      case 'midi-learn':
      case 'midi-unmap':
      case 'midi-connect':
      case 'midi-disconnect':
        return { id, ok: true, ...(await extraCommand(cmd, o, extras, sub)) };
      default:
        sub.subscribed = false;
        return { id, ok: true };
    }
  } catch (e) {
    if (e instanceof ControlModelError || e instanceof ControlValueError) return fail(cmd === 'set' || cmd === 'get' ? `${cmd}: ${e.message}` : e.message);
    if (e instanceof ProgramError || e instanceof ConfigureError || e instanceof KnobError || e instanceof ExtraRequestError || (e instanceof Error && e.name === 'ChainConfigError')) return fail(e.message.startsWith(`${cmd}`) ? e.message : `${cmd}: ${e.message}`);
    return fail(`${cmd}: failed: ${(e as Error).message}`);
  }
}

/** A request to programs or configure that is malformed (a field missing or of the wrong type). */
class ExtraRequestError extends Error {}

/** The answer's fields of a programs or configure command (throws ProgramError, ConfigureError or ExtraRequestError). */
async function extraCommand(cmd: string, o: Record<string, unknown>, x: ControlChannelExtras, sub: Subscriber): Promise<Record<string, unknown>> {
  const need = <T>(what: T | undefined, name: string): T => {
    if (!what) throw new ExtraRequestError(`${cmd}: this service has no ${name} (it was started without them)`);
    return what;
  };
  const str = (field: string, example: string): string => {
    if (typeof o[field] !== 'string' || o[field] === '') throw new ExtraRequestError(`${cmd}: ${field}: expected a string (e.g. ${example}), got ${shown(o[field])}`);
    return o[field] as string;
  };
  const int = (field: string): number => {
    if (!Number.isSafeInteger(o[field]) || (o[field] as number) < 0) throw new ExtraRequestError(`${cmd}: ${field}: expected an integer ≥ 0, got ${shown(o[field])}`);
    return o[field] as number;
  };
  switch (cmd) {
    case 'programs': {
      const p = need(x.programs, 'programs');
      // The DSSI stages' own programs (get_program), each under its owner; one that cannot be listed says why.
      const plugins = [];
      for (const owner of x.plugins?.dssiOwners() ?? []) {
        const d = x.plugins!.describeOwner(owner);
        try {
          plugins.push({ owner, ...d, programs: await x.plugins!.programs(owner), current: x.plugins!.currentProgram(owner) ?? null });
        } catch (e) {
          plugins.push({ owner, ...d, programs: [], current: null, error: (e as Error).message });
        }
      }
      return { programs: p.list(), current: p.current() ?? null, presetDir: p.presetDir, plugins };
    }
    case 'program-load': {
      if (o.owner !== undefined) {
        const owner = str('owner', '"speaker.fx1"');
        if (o.name !== undefined) throw new ExtraRequestError(`${cmd}: a plugin stage's programs are by bank and program, not by name`);
        const bank = int('bank');
        const program = int('program');
        const r = await need(x.plugins, 'DSSI plugin stages').selectProgram(owner, bank, program);
        return { program: { owner, bank, program, name: r.name, values: {}, source: `${owner}'s get_program` } };
      }
      const p = need(x.programs, 'programs');
      if (o.name !== undefined) {
        if (o.bank !== undefined || o.program !== undefined) throw new ExtraRequestError(`${cmd}: give a preset's name, or bank and program, not both`);
        const named = p.find(str('name', '"evening"'));
        return { program: await p.load(named.bank, named.program) };
      }
      return { program: await p.load(int('bank'), int('program')) };
    }
    case 'program-save': {
      const p = need(x.programs, 'programs');
      return { program: await p.save(str('name', '"evening"')) };
    }
    case 'configure-list': {
      const owner = o.owner === undefined ? undefined : str('owner', '"board"');
      const pluginKeys = (ow: string) => x.plugins!.configureList(ow).map((k) => ({ owner: ow, key: k.key, value: k.value, why: `DSSI configure key of ${x.plugins!.describeOwner(ow).label} (dssi.h: given again to every new instance before any program)`, needs: 'control' }));
      if (owner !== undefined && x.plugins?.dssiOwners().includes(owner)) return { keys: pluginKeys(owner) };
      const c = need(x.configure, 'configure');
      return { keys: [...c.list(owner), ...(owner === undefined ? (x.plugins?.dssiOwners() ?? []).flatMap(pluginKeys) : [])] };
    }
    case 'knobs':
      return { ...need(x.knobs, 'knobs').info() };
    case 'midi-learn': {
      const k = need(x.knobs, 'knobs');
      const timeoutMs = o.timeoutMs === undefined ? 30_000 : o.timeoutMs;
      if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 1 || (timeoutMs as number) > MAX_LEARN_MS) throw new ExtraRequestError(`${cmd}: timeoutMs: expected an integer from 1 to ${MAX_LEARN_MS}, got ${shown(o.timeoutMs)}`);
      if (o.resolution !== undefined && o.resolution !== 7 && o.resolution !== 14) throw new ExtraRequestError(`${cmd}: resolution: expected 7 or 14, got ${shown(o.resolution)}`);
      if (o.curve !== undefined && !(MIDI_CURVES as readonly unknown[]).includes(o.curve)) throw new ExtraRequestError(`${cmd}: curve: expected one of ${MIDI_CURVES.join(', ')}, got ${shown(o.curve)}`);
      return {
        mapping: await k.learn(str('control', '"sim.speaker.gain"'), {
          timeoutMs: timeoutMs as number, ...(o.resolution !== undefined ? { resolution: o.resolution as 7 | 14 } : {}), ...(o.curve !== undefined ? { curve: o.curve as MidiCurve } : {}),
          ...(sub.closed ? { signal: sub.closed } : {}),
        }),
      };
    }
    case 'midi-unmap': {
      const k = need(x.knobs, 'knobs');
      const channel = o.channel === 'any' ? 'any' : o.channel;
      if (channel !== 'any' && !(Number.isSafeInteger(channel) && (channel as number) >= 1 && (channel as number) <= 16)) throw new ExtraRequestError(`${cmd}: channel: expected 1..16 or "any", got ${shown(o.channel)}`);
      if (!(Number.isSafeInteger(o.cc) && (o.cc as number) >= 0 && (o.cc as number) <= 127)) throw new ExtraRequestError(`${cmd}: cc: expected a controller number 0..127, got ${shown(o.cc)}`);
      return { removed: k.unmap(channel as number | 'any', o.cc as number) };
    }
    case 'midi-connect':
      return { source: await need(x.knobs, 'knobs').connect(str('source', '"20:0"')) };
    case 'midi-disconnect': {
      const source = str('source', '"20:0"');
      await need(x.knobs, 'knobs').disconnect(source);
      return { source };
    }
    default: {
      const owner = str('owner', '"board"');
      if (x.plugins?.dssiOwners().includes(owner)) {
        const key = str('key', '"polyphony"');
        if (typeof o.value !== 'string') throw new ExtraRequestError(`${cmd}: value: expected a string, got ${shown(o.value)}`);
        const r = await x.plugins.configure(owner, key, o.value);
        return { result: { owner, key, value: o.value, reply: r.reply } };
      }
      const c = need(x.configure, 'configure');
      return { result: await c.set(owner, str('key', '"idle-power-down-ms"'), str('value', '"5000"')) };
    }
  }
}

export interface ControlChannelOptions extends ControlChannelExtras {
  gid?: number;
  log?: (line: string) => void;
}

/** Publishes the model's channel; change events go to every subscribed connection. */
export async function serveControlChannel(model: ControlModel, socketPath: string, opts: ControlChannelOptions = {}): Promise<JsonLinesServer> {
  const subscribers = new Map<JsonLinesConnection, Subscriber>();
  const off = model.onChange((c: ControlInfo) => {
    for (const [conn, sub] of subscribers) if (sub.subscribed) conn.send({ event: 'changed', control: c });
  });
  let server: JsonLinesServer;
  try {
    server = await serveJsonLines(socketPath, (line, conn) => {
      let sub = subscribers.get(conn);
      if (!sub) {
        const closed = new AbortController();
        sub = { subscribed: false, closed: closed.signal };
        subscribers.set(conn, sub);
        conn.onClose(() => { subscribers.delete(conn); closed.abort(); });
      }
      return handleControlRequest(model, line, sub, { ...(opts.programs ? { programs: opts.programs } : {}), ...(opts.configure ? { configure: opts.configure } : {}), ...(opts.knobs ? { knobs: opts.knobs } : {}), ...(opts.plugins ? { plugins: opts.plugins } : {}) });
    }, { what: `control ${model.board.id}`, ...(opts.gid !== undefined ? { gid: opts.gid } : {}), ...(opts.log ? { log: opts.log } : {}) });
  } catch (e) {
    off();
    throw e;
  }
  return {
    path: server.path,
    async close() {
      off();
      await server.close();
    },
  };
}
