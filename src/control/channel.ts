/**
 * The control channel (docs/CONTROL.md): the control model served at
 * `<runtime-dir>/control/<board>.sock`, one JSON object per line each way. `handleControlRequest`
 * answers one request (in-process tests and the socket go through it); `serveControlChannel`
 * publishes it with change events for subscribed connections.
 */
import path from 'node:path';
import { type JsonLinesConnection, type JsonLinesServer, serveJsonLines } from '../stream/json-lines.ts';
import { ControlModelError, type ControlModel } from './model.ts';
import type { ChangeTime, ControlInfo } from './types.ts';
import { ControlValueError } from './values.ts';

/** The folder of the runtime directory that holds the control channels. */
export const CONTROL_DIR = 'control';

export const CONTROL_COMMANDS = ['list', 'get', 'set', 'subscribe', 'unsubscribe'] as const;

export function controlChannelPath(runtimeDir: string, board: string): string {
  return path.join(runtimeDir, CONTROL_DIR, `${board}.sock`);
}

export type ControlResponse = { id: unknown; ok: true; [k: string]: unknown } | { id: unknown; ok: false; error: string };

/** A connection's subscription: `subscribe` turns it on (the channel sends change events). */
export interface Subscriber {
  subscribed: boolean;
}

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Answers one request line (never throws). */
export async function handleControlRequest(model: ControlModel, line: string, sub: Subscriber = { subscribed: false }): Promise<ControlResponse> {
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
  const allowed: Record<string, string[]> = { list: [], get: ['control'], set: ['control', 'value', 'at', 'rampMs'], subscribe: [], unsubscribe: [] };
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
      default:
        sub.subscribed = false;
        return { id, ok: true };
    }
  } catch (e) {
    if (e instanceof ControlModelError || e instanceof ControlValueError) return fail(cmd === 'set' || cmd === 'get' ? `${cmd}: ${e.message}` : e.message);
    return fail(`${cmd}: failed: ${(e as Error).message}`);
  }
}

export interface ControlChannelOptions {
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
        sub = { subscribed: false };
        subscribers.set(conn, sub);
        conn.onClose(() => subscribers.delete(conn));
      }
      return handleControlRequest(model, line, sub);
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
