/**
 * A client of the control channel (docs/CONTROL.md): lists, reads, sets and watches a served
 * board's controls over `<runtime-dir>/control/<board>.sock`, one JSON object per line each way.
 *
 * Requests are numbered and answers matched by their id (the channel answers in order, but an id
 * is what makes a late answer after a timeout harmless: it matches nothing and is dropped). A
 * refused request rejects with ControlRequestError carrying the service's message as it is, so
 * the CLI prints what the service said, not a paraphrase.
 */
import { EventEmitter } from 'node:events';
import { lstatSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { permissionDeniedMessage } from '../util/groups.ts';
import { CONTROL_DIR, controlChannelPath } from './channel.ts';
import type { ConfigureKey } from './configure.ts';
import type { KnobsInfo, MappingInfo } from './knobs.ts';
import type { Program } from './programs.ts';

/** A DSSI plugin stage's programs as the service lists them (get_program), by owner "<stream>.fx<N>". */
export interface PluginStagePrograms {
  owner: string;
  label: string;
  library: string;
  programs: { bank: number; program: number; name: string }[];
  current: { bank: number; program: number } | null;
  /** Why it could not be listed. */
  error?: string;
}
import type { ChangeTime, ControlInfo, ControlListing } from './types.ts';

/** How long a request waits for its answer by default (a set may wait for an I2C write under the codec lock). */
export const CONTROL_REQUEST_TIMEOUT_MS = 5000;

/** The service refused a request (`ok: false`): `message` is the service's `error`, verbatim. */
export class ControlRequestError extends Error {
  constructor(readonly cmd: string, message: string) {
    super(message);
    this.name = 'ControlRequestError';
  }
}

/** No answer, or no connection: the channel could not be used (not a refusal by the service). */
export class ControlChannelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlChannelError';
  }
}

/**
 * The board's channel cannot be picked: none served, several served and none named, or the one
 * named is not served. `served` lists what is there, so the message can name the choices.
 */
export class ControlChannelNotFound extends Error {
  constructor(readonly reason: 'none' | 'several' | 'not-served', readonly served: readonly string[], message: string) {
    super(message);
    this.name = 'ControlChannelNotFound';
  }
}

/**
 * The names `<name>.sock` of the Unix sockets in a folder (sockets only, hidden names skipped: a
 * hidden name is a socket being published), sorted. Both the control channels
 * (`<runtime-dir>/control/`) and the simulation control sockets (`<runtime-dir>/sim/`) are found
 * this way.
 */
export function servedSocketNames(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => !n.startsWith('.') && n.endsWith('.sock')).filter((n) => {
    try {
      return lstatSync(path.join(dir, n)).isSocket();
    } catch {
      return false;
    }
  }).map((n) => n.slice(0, -'.sock'.length)).sort();
}

/** The boards whose control channel is served under a runtime directory. */
export function servedControlBoards(runtimeDir: string): string[] {
  return servedSocketNames(path.join(runtimeDir, CONTROL_DIR));
}

/**
 * The control channel's socket of `board`, or of the only board served when no board is named.
 * Throws ControlChannelNotFound naming the runtime directory and the boards served there.
 */
export function findControlChannel(runtimeDir: string, board?: string): string {
  const served = servedControlBoards(runtimeDir);
  const list = served.length ? `boards served there: ${served.join(', ')}` : 'no board is served there';
  if (board === undefined) {
    if (served.length === 0) {
      throw new ControlChannelNotFound('none', served, `no control channel under ${path.join(runtimeDir, CONTROL_DIR)} (is 'sbc-audio serve' running with this runtime directory?)`);
    }
    if (served.length > 1) throw new ControlChannelNotFound('several', served, `several boards are served under ${runtimeDir} (${served.join(', ')}): choose one with --board`);
    return controlChannelPath(runtimeDir, served[0]!);
  }
  if (!served.includes(board)) throw new ControlChannelNotFound('not-served', served, `board ${board} is not served under ${runtimeDir} (${list})`);
  return controlChannelPath(runtimeDir, board);
}

export interface ControlClientOptions {
  /** Per request (default CONTROL_REQUEST_TIMEOUT_MS). */
  timeoutMs?: number;
}

interface Pending {
  cmd: string;
  resolve(answer: Record<string, unknown>): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One connection to a control channel. Events: `changed` (a ControlInfo, after `subscribe()`),
 * `close` (the connection ended; pending requests have been rejected).
 */
export class ControlClient extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buf = '';
  private closedWhy: string | undefined;

  private constructor(private readonly socket: net.Socket, readonly socketPath: string, private readonly timeoutMs: number) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => { this.closedWhy ??= `the control channel ${socketPath} failed: ${e.message}`; });
    socket.on('close', () => this.onClose());
  }

  /** Connects; rejects with ControlChannelError saying why the socket cannot be used. */
  static connect(socketPath: string, opts: ControlClientOptions = {}): Promise<ControlClient> {
    const timeoutMs = opts.timeoutMs ?? CONTROL_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new ControlChannelError(`no connection to the control channel ${socketPath} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new ControlClient(s, socketPath, timeoutMs));
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        s.destroy();
        if (e.code === 'ENOENT') reject(new ControlChannelError(`no control channel at ${socketPath} (is 'sbc-audio serve' running?)`));
        else if (e.code === 'ECONNREFUSED') reject(new ControlChannelError(`nothing answers on the control channel ${socketPath} (the service is gone?)`));
        else if (e.code === 'EACCES') reject(new ControlChannelError(permissionDeniedMessage(socketPath)));
        else reject(new ControlChannelError(`cannot connect to the control channel ${socketPath}: ${e.message}`));
      });
    });
  }

  /** Every control of the board with its value, and the board's and its parts' descriptors. */
  async list(): Promise<ControlListing> {
    const a = await this.request({ cmd: 'list' });
    return { board: a.board, parts: a.parts, controls: a.controls } as ControlListing;
  }

  async get(id: string): Promise<ControlInfo> {
    return (await this.request({ cmd: 'get', control: id })).control as ControlInfo;
  }

  /**
   * Sets a control; `value` goes to the service as it is (a number of dB, true / false, or a
   * string the service parses: "-20", "50%", "+3dB", "on", a value name). Resolves to the control
   * as the service applied it (a volume rounded to its step).
   */
  async set(id: string, value: unknown, opts: { at?: ChangeTime; rampMs?: number } = {}): Promise<ControlInfo> {
    return (await this.request({ cmd: 'set', control: id, value, ...(opts.at ? { at: opts.at } : {}), ...(opts.rampMs !== undefined ? { rampMs: opts.rampMs } : {}) })).control as ControlInfo;
  }

  /** The programs (bank 0 built in, bank 1 presets), the current one, and where presets are kept. */
  async programs(): Promise<{ programs: Program[]; current: { bank: number; program: number } | null; presetDir: string; plugins: PluginStagePrograms[] }> {
    const a = await this.request({ cmd: 'programs' });
    return {
      programs: a.programs as Program[], current: (a.current ?? null) as { bank: number; program: number } | null, presetDir: a.presetDir as string,
      plugins: (a.plugins ?? []) as PluginStagePrograms[],
    };
  }

  /** Loads a program by bank and number, or a preset by its name; resolves to the program loaded. */
  async loadProgram(which: { bank: number; program: number; owner?: string } | { name: string }): Promise<Program> {
    return (await this.request({ cmd: 'program-load', ...which })).program as Program;
  }

  /** Saves the writable persistent controls' values as the preset `name`. */
  async saveProgram(name: string): Promise<Program> {
    return (await this.request({ cmd: 'program-save', name })).program as Program;
  }

  /** The configure keys (of `owner`, when given) with their values. */
  async configureList(owner?: string): Promise<ConfigureKey[]> {
    return (await this.request({ cmd: 'configure-list', ...(owner !== undefined ? { owner } : {}) })).keys as ConfigureKey[];
  }

  /** configure(key, value) of an owner; resolves with the service's reply (it may wait for a safe point: give the client a long enough timeout). */
  async configure(owner: string, key: string, value: string): Promise<{ owner: string; key: string; value: string; reply: string }> {
    return (await this.request({ cmd: 'configure', owner, key, value })).result as { owner: string; key: string; value: string; reply: string };
  }

  /** From now on, `changed` events for every settled change, whoever made it. */
  async subscribe(): Promise<void> {
    await this.request({ cmd: 'subscribe' });
  }

  async unsubscribe(): Promise<void> {
    await this.request({ cmd: 'unsubscribe' });
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.closedWhy !== undefined && this.socket.destroyed;
  }

  /** Ends the connection; pending requests reject. */
  close(): void {
    this.closedWhy ??= 'the client closed the connection';
    this.socket.destroy();
  }

  /** The board's MIDI input (its port, connections, mappings) and encoder (docs/CONTROL.md, "Knobs"). */
  async knobs(): Promise<KnobsInfo> {
    const a = await this.request({ cmd: 'knobs' });
    return { midi: a.midi as KnobsInfo['midi'], encoder: a.encoder as KnobsInfo['encoder'] };
  }

  /** Learn mode: the next controller that moves drives `control` (connect with a timeout above `timeoutMs`). */
  async midiLearn(control: string, opts: { timeoutMs: number; resolution?: 7 | 14; curve?: string }): Promise<MappingInfo> {
    return (await this.request({ cmd: 'midi-learn', control, ...opts })).mapping as MappingInfo;
  }

  async midiUnmap(channel: number | 'any', cc: number): Promise<boolean> {
    return (await this.request({ cmd: 'midi-unmap', channel, cc })).removed as boolean;
  }

  async midiConnect(source: string): Promise<string> {
    return (await this.request({ cmd: 'midi-connect', source })).source as string;
  }

  async midiDisconnect(source: string): Promise<void> {
    await this.request({ cmd: 'midi-disconnect', source });
  }

  private request(req: { cmd: string; [k: string]: unknown }): Promise<Record<string, unknown>> {
    if (this.socket.destroyed || this.closedWhy !== undefined) {
      return Promise.reject(new ControlChannelError(`${req.cmd}: ${this.closedWhy ?? 'the control channel is closed'}`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlChannelError(`${req.cmd}: no answer from the control channel ${this.socketPath} within ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      this.pending.set(id, { cmd: req.cmd, resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      if (line.trim()) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      // Not the channel's language: nothing after this can be trusted to match.
      this.closedWhy = `the control channel ${this.socketPath} sent a line that is not JSON (${(e as Error).message})`;
      this.socket.destroy();
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    if (msg.event !== undefined) {
      if (msg.event === 'changed' && msg.control) this.emit('changed', msg.control as ControlInfo);
      return;
    }
    // Answers come in order: one with no id (a line the service could not read) is the oldest's.
    const id = typeof msg.id === 'number' ? msg.id : msg.id === null ? this.pending.keys().next().value : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p) return; // the answer to a request that timed out
    this.pending.delete(id!);
    clearTimeout(p.timer);
    if (msg.ok === true) p.resolve(msg);
    else p.reject(new ControlRequestError(p.cmd, typeof msg.error === 'string' ? msg.error : `${p.cmd}: refused (no reason given)`));
  }

  private onClose(): void {
    const why = this.closedWhy ?? `the control channel ${this.socketPath} closed (the service stopped?)`;
    this.closedWhy = why;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new ControlChannelError(`${p.cmd}: ${why} before answering`));
    }
    this.emit('close', why);
  }
}
