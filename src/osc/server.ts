/**
 * The OSC server (docs/OSC.md): the board's controls, programs and configure keys reachable over
 * UDP with DSSI's methods, under `/sbc-audio/<board>/<owner>` (owner: a stream id, the codec's
 * part id, or `board`), and bundles scheduled at their time tags. A DSSI plugin stage of a stream's
 * chain is an owner of its own, `<stream>.fx<N>`, whose `/control` numbers ports as LADSPA does
 * (docs/OSC.md, "DSSI plugin stages").
 *
 * osc-min encodes and decodes; the socket is our own `dgram` socket, so that we choose the bind
 * address (loopback by default), refuse an oversized datagram before parsing a byte of it,
 * rate-limit the log lines a sender causes, and send the `/update` replies from the port the
 * sender knows (as liblo does).
 *
 * Safe by default: bound to 127.0.0.1; bound anywhere else, `/configure` and `quit` need the admin
 * token as their last argument, and `/update` may only name the sender's own address (or carry the
 * token). Bad input — an oversized or undecodable packet, an unknown path, wrong argument types, an
 * unknown control, a value the control refuses — changes nothing (a packet with one bad message is
 * refused whole), is counted in `stats()` and logged, at most LINES_PER_WINDOW lines per sender
 * address and kind a minute (src/stream/log-limit.ts).
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { type OscArgOutputOrArray, type OscMessageOutput, type OscPacketOutput, fromBuffer, toBuffer } from 'osc-min';
import type { BoardRuntime } from '../board/runtime.ts';
import type { Clock, TimerHandle } from '../hal/clock.ts';
import type { ControlModel } from '../control/model.ts';
import type { ChangeTime, ControlDescriptor, ControlInfo, ControlValue } from '../control/types.ts';
import type { StreamService } from '../stream/service.ts';
import { ClientLogLimiter } from '../stream/log-limit.ts';
import { type ClockPair, type NtpTimeTag, type RealtimeSource, SystemRealtime, TimeTagError, isImmediate, timeTagToBoardNs } from './timetag.ts';

/** `serve`'s default port (127.0.0.1:7770): unassigned by IANA's port registry, clear of JACK's and liblo's usual ports. */
export const DEFAULT_OSC_PORT = 7770;
export const DEFAULT_OSC_ADDRESS = '127.0.0.1';
/**
 * Datagrams longer than this are refused before parsing. The largest message we take — a
 * `/configure` with a key, a value and the token — fits in well under 1 KiB; a bundle of a few
 * hundred control changes in 8 KiB. (OSC's own bound is the transport's: 64 KiB for UDP.)
 */
export const MAX_PACKET_BYTES = 8192;
/** Bundles nested deeper than this are refused (OSC sets no bound; a packet of 8 KiB could nest 500). */
export const MAX_BUNDLE_DEPTH = 8;
/**
 * How far ahead a time tag may lie (10 s). Further is more likely a sender whose clock disagrees
 * with ours than an intent, and each scheduled change holds a timer: refused, counted 'time-tag'.
 */
export const MAX_AHEAD_NS = 10e9;
/** Changes waiting for their time at once (a bound on timers a sender can make us hold). */
export const MAX_SCHEDULED = 4096;
/** `/update` URLs kept per owner; an older one is dropped for a newer (a bound on the replies one change causes). */
export const MAX_UPDATE_URLS = 8;
/**
 * A register control scheduled at T is handed to the dispatcher this much before T (the model
 * then waits on the board's clock until T and writes): a Node timer fires up to a millisecond or
 * two late (docs/CONTROL.md, REAL_CLOCK_LEAD_NS's reasoning).
 */
export const REGISTER_LEAD_NS = 2e6;

// ---- The other call-class pieces, as the contract of issue 22 defines them (structural: the
// real ControlDispatcher, Programs and Configurator fit, and so do a test's fakes).

/** What the dispatcher answers for a change (src/control/dispatch.ts). */
export type SetOutcome =
  | { status: 'applied'; control: ControlInfo }
  | { status: 'coalesced' }
  | { status: 'queued'; why: string }
  | { status: 'refused'; error: string };

export interface DispatcherLike {
  set(id: string, value: unknown, opts?: { at?: ChangeTime; rampMs?: number; source?: string }): Promise<SetOutcome>;
}

export interface ProgramsLike {
  current(): { bank: number; program: number } | undefined;
  load(bank: number, program: number): Promise<{ name: string }>;
}

export interface ConfigureLike {
  list(owner?: string): readonly { owner: string; key: string; value: string }[];
  set(owner: string, key: string, value: string): Promise<{ reply: string }>;
}

/** A DSSI plugin stage as an OSC owner (issue 30). */
export interface PluginOwner {
  /** "<stream>.fx<N>", e.g. "speaker.fx1": the owner in OSC paths. */
  id: string;
  /** The plugin's library file and label ("hexter.so hexter"): owners with the same group are one DSSI instance group (GLOBAL: configure keys go to all of them). */
  group: string;
  /** Control INPUT ports by LADSPA port number → the control's id in the model (e.g. 2 → "sim.speaker.fx1-volume"). DSSI UIs send and get `/control <port number> <value>` with these numbers. */
  ports: ReadonlyMap<number, string>;
  programs(): Promise<{ bank: number; program: number; name: string }[]>;
  currentProgram(): { bank: number; program: number } | undefined;
  /** Selects a program (the stage re-reads its control ports afterwards; those changes reach the server as model change events). */
  selectProgram(bank: number, program: number): Promise<{ name: string }>;
  configureList(): readonly { key: string; value: string }[];
  configure(key: string, value: string): Promise<{ reply: string }>;
}

export interface PluginOwnersLike {
  list(): readonly PluginOwner[];
  /** The stages changed (a chain was swapped): the server re-reads list(); UIs of owners that are gone get `<path>/quit` and are forgotten. */
  onChanged(listener: () => void): () => void;
  /** A program was selected by anyone (OSC, MIDI program change, ctl): that owner's UIs get `<path>/program b p`. */
  onProgram(listener: (owner: string, bank: number, program: number) => void): () => void;
  /** A configure key was set by anyone: that owner's UIs get `<path>/configure k v`. */
  onConfigure(listener: (owner: string, key: string, value: string) => void): () => void;
}

/**
 * dssi.h (DSSI_GLOBAL_CONFIGURE_PREFIX): a configure key with this prefix is applied by the host
 * to every plugin of the instance group and told to their UIs (the RFC's `/configure` method too).
 */
export const DSSI_GLOBAL_PREFIX = 'GLOBAL:';

export interface OscServerOptions {
  /** Port 0: any free port (tests). The address must be an IP literal (or "localhost"). */
  bind: { address: string; port: number };
  boardName: string;
  /** The controls' descriptions and values (read once at start, then followed through change events). */
  model: Pick<ControlModel, 'list' | 'onChange'>;
  dispatcher: DispatcherLike;
  programs: ProgramsLike;
  configure: ConfigureLike;
  /** DSSI plugin stages of the streams' chains, each an owner of its own (issue 30; none: no plugin owners). */
  plugins?: PluginOwnersLike;
  /** The board's clock: time tags become its ns, and scheduled changes wait on it. */
  clock: Clock;
  /**
   * The sample rate `/sample-rate` and `/update` report for an owner, or undefined where none is
   * known now (no stream of it runs): then no `/sample-rate` is sent.
   */
  sampleRate(owner: string): number | undefined;
  /** Beyond loopback: `/configure` and quit are refused unless this token is the message's last argument. */
  adminToken?: string;
  onQuit?: () => void;
  log?: (line: string) => void;
  /** CLOCK_REALTIME (default SystemRealtime; tests lock it to a virtual clock). */
  realtime?: RealtimeSource;
  /** The sender log limit (tests: a short window, a fake clock). */
  logLimit?: { linesPerWindow?: number; windowNs?: number; nowNs?: () => number };
}

/** What can go wrong with a sender's input (each counted in `stats().bad`, each logged rate-limited). */
export const OSC_BAD_KINDS = [
  'oversized', 'undecodable', 'unknown-path', 'wrong-types', 'unknown-control', 'refused', 'not-allowed', 'time-tag', 'busy', 'update-url',
] as const;
export type OscBadKind = (typeof OSC_BAD_KINDS)[number];

export const OSC_METHODS = ['control', 'program', 'configure', 'update', 'exiting', 'sample-rate', 'show', 'hide', 'quit'] as const;
export type OscMethod = (typeof OSC_METHODS)[number];

export interface OscStats {
  /** Datagrams received. */
  packets: number;
  /** Datagrams of which nothing was done (oversized, undecodable, or with a bad message). */
  packetsRefused: number;
  /** Messages and bundles decoded (bundles nested in bundles included). */
  messages: number;
  bundles: number;
  /** Accepted messages per method. */
  methods: Record<OscMethod, number>;
  /** Bad input per kind. */
  bad: Record<OscBadKind, number>;
  /** Control changes handed to the dispatcher, and what it answered. */
  dispatched: number;
  outcomes: { applied: number; coalesced: number; queued: number; refused: number };
  /** Bundles whose time had passed at receipt (applied at once). */
  late: number;
  /** Changes now waiting for their time. */
  scheduled: number;
  /** `/program` and `/configure` calls that failed (the error is logged). */
  failed: { program: number; configure: number };
  /** Datagrams sent to `/update` URLs, and sends that failed. */
  sent: number;
  sendErrors: number;
  /** `/update` URLs held now. */
  updateUrls: number;
  /** Log lines a sender caused (bad input, programs loaded, configure replies; the rest were counted and summed up by the limiter). */
  logLines: number;
}

export interface OscServer {
  readonly address: string;
  readonly port: number;
  /** Whether the bind address is loopback (127.0.0.0/8, ::1): no token needed. */
  readonly loopback: boolean;
  stats(): OscStats;
  /** Each owner's controls in port order (what `/control <port>` indexes): ids. */
  ports(owner: string): readonly string[];
  close(): Promise<void>;
}

export class OscBindError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OscBindError';
  }
}

/** "127.0.0.1:7770", "[::1]:7770", "0.0.0.0:9000", or an address alone (port 7770). `what` names the flag in errors. */
export function parseOscBind(text: string, what = '--osc-bind'): { address: string; port: number } {
  const s = text.trim();
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if ((s.match(/:/g) ?? []).length === 1) {
    [host, portText] = s.split(':') as [string, string];
  } else host = s; // an address alone (an IPv6 address without brackets and port too)
  if (host === 'localhost') host = '127.0.0.1';
  if (!isIP(host)) throw new OscBindError(`${what} ${JSON.stringify(text)}: the address must be an IP address (e.g. 127.0.0.1, 0.0.0.0, [::1]), got ${JSON.stringify(host)}`);
  let port = DEFAULT_OSC_PORT;
  if (portText !== undefined) {
    port = Number(portText);
    if (portText === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new OscBindError(`${what} ${JSON.stringify(text)}: the port must be an integer 0 .. 65535, got ${JSON.stringify(portText)}`);
  }
  return { address: host, port };
}

/** 127.0.0.0/8, ::1, and IPv4-mapped 127.0.0.0/8. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  return /^127\./.test(a) || a === '::1' || /^::ffff:127\./.test(a);
}

/** An `/update` URL: `osc.udp://host:port/path` (liblo's form; the host may be a name, `[v6]`, or empty = the sender). */
export interface UpdateUrl {
  url: string;
  host: string;
  port: number;
  path: string;
}

export function parseUpdateUrl(url: string): UpdateUrl {
  const m = /^osc\.udp:\/\/(\[[^\]]*\]|[^/:]*):(\d{1,5})(\/[^\s]*)?$/.exec(url);
  if (!m) throw new Error(`update URL ${JSON.stringify(url.slice(0, 100))}: expected osc.udp://HOST:PORT/PATH (UDP only)`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`update URL ${JSON.stringify(url)}: port ${m[2]} is outside 1 .. 65535`);
  let path = m[3] ?? '/';
  // liblo's server URLs end in '/': the methods go under the path without it.
  path = path.replace(/\/+$/, '');
  if (path !== '' && !/^(\/[\x21-\x7e]+)+$/.test(path)) throw new Error(`update URL ${JSON.stringify(url)}: the path must be printable ASCII without spaces`);
  return { url, host: m[1]!.replace(/^\[|\]$/g, ''), port, path };
}

/** A control as the server knows it: its description, port and last value. */
interface Port {
  d: ControlDescriptor;
  /** The last part of its id ("gain", "dac-filter"): what `/control <name>` takes. */
  name: string;
  port: number;
  value: ControlValue | null;
}

interface Owner {
  id: string;
  ports: Port[];
  byName: Map<string, Port>;
  byId: Map<string, Port>;
  urls: Target[];
  /** A DSSI plugin stage (its `ports`, `byName` and `byId` stay empty: its controls are the stream owner's Ports, found by id). */
  plugin?: PluginStage;
}

/** What the server keeps of a plugin owner: the stage, and its port numbers both ways. */
interface PluginStage {
  src: PluginOwner;
  /** The stream whose chain holds it (the part of the id before ".fx<N>"): its sample rate is the plugin's. */
  stream: string;
  /** Short name (the part of the control id after `<board>.<owner>-`) → LADSPA port number. */
  numberByName: Map<string, number>;
}

interface Target {
  url: string;
  address: string;
  port: number;
  path: string;
}

class Refusal extends Error {
  constructor(readonly kind: OscBadKind, message: string) {
    super(message);
  }
}

type Action =
  | { method: 'control'; owner: Owner; port: Port; value: ControlValue; at?: number; address: string }
  | { method: 'program'; owner: Owner; bank: number; program: number; at?: number; address: string }
  | { method: 'configure'; owner: Owner; key: string; value: string; at?: number; address: string }
  | { method: 'update'; owner: Owner; url: UpdateUrl; token: boolean; at?: number; address: string }
  | { method: 'exiting'; owner: Owner; url?: string; at?: number; address: string }
  | { method: 'sample-rate' | 'show' | 'hide'; owner: Owner; at?: number; address: string }
  | { method: 'quit'; at?: number; address: string };

/** An argument's OSC type tag, for messages: "s", "i", "f", "d", "T", "F", … */
const TAG: Record<string, string> = {
  string: 's', integer: 'i', float: 'f', double: 'd', true: 'T', false: 'F', symbol: 'S', bigint: 'h', timetag: 't', blob: 'b', midi: 'm', color: 'r', null: 'N', bang: 'I', character: 'c', array: '[',
};
const tags = (args: readonly OscArgOutputOrArray[]) => args.map((a) => TAG[a.type] ?? '?').join('');

const shortText = (s: string, n = 80) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

function valueToFloat(p: Port, v: ControlValue | null): number | undefined {
  if (v === null) return undefined;
  if (p.d.kind === 'volume' || p.d.kind === 'number') return typeof v === 'number' ? v : undefined;
  if (p.d.kind === 'switch') return v === true ? 1 : 0;
  const i = (p.d.values ?? []).indexOf(String(v));
  return i < 0 ? undefined : i;
}

function encode(address: string, args: { type: 'integer' | 'float' | 'string'; value: number | string }[]): Buffer {
  const dv = toBuffer({ address, args: args as never });
  return Buffer.from(dv.buffer, dv.byteOffset, dv.byteLength);
}

export async function startOscServer(o: OscServerOptions): Promise<OscServer> {
  const log = o.log ?? (() => {});
  const family = isIP(o.bind.address);
  if (!family) throw new OscBindError(`OSC bind address ${JSON.stringify(o.bind.address)}: not an IP address`);
  const loopback = isLoopbackAddress(o.bind.address);
  const base = `/sbc-audio/${o.boardName}`;
  const realtime = o.realtime ?? new SystemRealtime();
  const limiter = new ClientLogLimiter(log, o.logLimit ?? {});

  const zero = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  const st: OscStats = {
    packets: 0, packetsRefused: 0, messages: 0, bundles: 0, methods: zero(OSC_METHODS), bad: zero(OSC_BAD_KINDS),
    dispatched: 0, outcomes: { applied: 0, coalesced: 0, queued: 0, refused: 0 }, late: 0, scheduled: 0,
    failed: { program: 0, configure: 0 }, sent: 0, sendErrors: 0, updateUrls: 0, logLines: 0,
  };

  // The owners and their ports: the model's listing order, grouped by owner (the port of a
  // control is its index among its owner's controls). Change events are followed from before the
  // listing, so none is lost between the two.
  const owners = new Map<string, Owner>();
  // The DSSI plugin owners (filled once the socket is bound, then at each onChanged), and which
  // plugin owner and LADSPA port number a control id is.
  const plugins = new Map<string, Owner>();
  const pluginByControl = new Map<string, { owner: Owner; number: number }>();
  const countUrls = () => [...owners.values(), ...plugins.values()].reduce((n, x) => n + x.urls.length, 0);
  const pending: ControlInfo[] = [];
  let ready = false;
  const onChange = (c: ControlInfo) => {
    if (!ready) {
      pending.push(c);
      return;
    }
    const owner = owners.get(c.owner.id);
    let p = owner?.byId.get(c.id);
    if (owner && !p) {
      // A control that appeared after the listing (a stream's plugin chain was swapped): it takes the next port.
      const prefix = `${o.boardName}.${c.owner.id}.`;
      const name = c.id.startsWith(prefix) ? c.id.slice(prefix.length) : c.id;
      const { value: _v, state: _s, error: _e, applied: _a, ...d } = c;
      p = { d, name, port: owner.ports.length, value: c.value };
      owner.ports.push(p);
      owner.byName.set(name, p);
      owner.byId.set(c.id, p);
    }
    if (!owner || !p) return;
    // The description too: an id can come back describing something else (a swapped plugin chain).
    const { value: _v, state: _s, error: _e, applied: _a, ...d } = c;
    p.d = d;
    p.value = c.value;
    for (const t of owner.urls) sendControl(t, p);
    // The same change to the UIs of the plugin stage it belongs to, numbered by its LADSPA port.
    const stage = pluginByControl.get(c.id);
    if (stage) for (const t of stage.owner.urls) sendControl(t, p, stage.number);
  };
  const off = o.model.onChange(onChange);
  try {
    const listing = await o.model.list();
    for (const c of listing.controls) {
      let owner = owners.get(c.owner.id);
      if (!owner) {
        owner = { id: c.owner.id, ports: [], byName: new Map(), byId: new Map(), urls: [] };
        owners.set(c.owner.id, owner);
      }
      const prefix = `${o.boardName}.${c.owner.id}.`;
      const name = c.id.startsWith(prefix) ? c.id.slice(prefix.length) : c.id;
      const { value, state: _s, error: _e, applied: _a, ...d } = c;
      const p: Port = { d, name, port: owner.ports.length, value };
      owner.ports.push(p);
      owner.byName.set(name, p);
      owner.byId.set(c.id, p);
    }
  } catch (e) {
    off();
    throw e;
  }
  ready = true;
  for (const c of pending.splice(0)) onChange(c);

  const sock = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => {
      off();
      reject(new OscBindError(`OSC: cannot bind UDP ${family === 6 ? `[${o.bind.address}]` : o.bind.address}:${o.bind.port}: ${(e as NodeJS.ErrnoException).code ?? e.message} (serve --osc-bind ADDR:PORT moves it, --no-osc turns it off)`));
    };
    sock.once('error', fail);
    sock.bind(o.bind.port, o.bind.address, () => {
      sock.off('error', fail);
      resolve();
    });
  });
  sock.on('error', (e) => log(`OSC socket: ${e.message}`));
  const bound = sock.address();

  const timers = new Set<TimerHandle>();
  let closed = false;

  /** Logs a line a sender caused, rate-limited per sender address and kind (a flood of good messages writes a bounded log too). */
  const note = (address: string, kind: string, line: () => string) => {
    const client = `osc ${address}`;
    if (limiter.allow(client, kind)) {
      st.logLines++;
      log(`${client}: ${kind}: ${line()}`);
    }
  };
  const bad = (address: string, kind: OscBadKind, message: string) => {
    st.bad[kind]++;
    note(address, kind, () => `${message}; nothing changed`);
  };

  const send = (t: Target, buf: Buffer) => {
    if (closed) return;
    st.sent++;
    sock.send(buf, t.port, t.address, (e) => {
      if (!e) return;
      st.sendErrors++;
      note(t.address, 'send', () => `sending to ${t.url}: ${e.message}`);
    });
  };
  /** The UI's `/quit` (a plugin owner gone, or the server closing): resolves once the datagram left (or failed). */
  const sendQuit = (t: Target) => new Promise<void>((resolve) => {
    st.sent++;
    sock.send(encode(`${t.path}/quit`, []), t.port, t.address, (e) => {
      if (e) {
        st.sendErrors++;
        note(t.address, 'send', () => `sending ${t.path}/quit to ${t.url}: ${e.message}`);
      }
      resolve();
    });
  });
  /** `number`: the port the UI knows the control by (a plugin owner's LADSPA port number; else the owner's port). */
  const sendControl = (t: Target, p: Port, number = p.port) => {
    const f = valueToFloat(p, p.value);
    if (f !== undefined) send(t, encode(`${t.path}/control`, [{ type: 'integer', value: number }, { type: 'float', value: f }]));
  };
  /** A control of the model by id (a plugin's controls are its stream owner's Ports). */
  const portById = (id: string): Port | undefined => {
    for (const owner of owners.values()) {
      const p = owner.byId.get(id);
      if (p) return p;
    }
    return undefined;
  };
  const sendSampleRate = (t: Target, owner: Owner) => {
    const rate = o.sampleRate(owner.plugin?.stream ?? owner.id);
    if (rate !== undefined) send(t, encode(`${t.path}/sample-rate`, [{ type: 'integer', value: rate }]));
  };
  /** DSSI's answer to /update: sample rate, configure values, program, every control. */
  const sendState = (t: Target, owner: Owner) => {
    sendSampleRate(t, owner);
    if (owner.plugin) {
      // The plugin's own state (DSSI RFC, "Discovery and Startup": sample rate, configure, program, controls, in that order).
      const src = owner.plugin.src;
      for (const k of src.configureList()) send(t, encode(`${t.path}/configure`, [{ type: 'string', value: k.key }, { type: 'string', value: k.value }]));
      const prog = src.currentProgram();
      if (prog) send(t, encode(`${t.path}/program`, [{ type: 'integer', value: prog.bank }, { type: 'integer', value: prog.program }]));
      for (const [number, id] of [...src.ports].sort((a, b) => a[0] - b[0])) {
        const p = portById(id);
        if (p) sendControl(t, p, number);
      }
      return;
    }
    for (const k of o.configure.list(owner.id)) {
      if (k.owner === owner.id) send(t, encode(`${t.path}/configure`, [{ type: 'string', value: k.key }, { type: 'string', value: k.value }]));
    }
    const prog = o.programs.current();
    if (prog) send(t, encode(`${t.path}/program`, [{ type: 'integer', value: prog.bank }, { type: 'integer', value: prog.program }]));
    for (const p of owner.ports) sendControl(t, p);
  };

  const schedule = (at: number, fn: () => void) => {
    let h: TimerHandle | undefined = undefined;
    st.scheduled++;
    h = o.clock.setTimerNs(at, () => {
      timers.delete(h!);
      st.scheduled--;
      if (!closed) fn();
    });
    timers.add(h);
  };

  const adminOk = (token: string | undefined) => {
    if (o.adminToken === undefined || token === undefined) return false;
    const a = Buffer.from(token);
    const b = Buffer.from(o.adminToken);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  /** Takes the admin token off the end of the arguments (where it matches); says whether it was there. */
  const takeToken = (args: OscArgOutputOrArray[]): boolean => {
    const last = args[args.length - 1];
    if (last?.type === 'string' && adminOk(last.value)) {
      args.pop();
      return true;
    }
    return false;
  };
  const ownersList = () => [...owners.keys(), ...plugins.keys()].join(', ');

  /** Re-reads the plugin owners. A UI whose owner is gone, or now holds another plugin (its group changed), gets `/quit` and is forgotten. */
  const refreshPlugins = () => {
    const fresh = new Map<string, PluginOwner>();
    for (const src of o.plugins?.list() ?? []) {
      if (owners.has(src.id)) log(`OSC: a plugin stage named ${JSON.stringify(src.id)} would hide the control owner of that name: left out`);
      else fresh.set(src.id, src);
    }
    for (const [id, owner] of plugins) {
      const now = fresh.get(id);
      if (now && now.group === owner.plugin!.src.group) continue;
      for (const t of owner.urls) void sendQuit(t);
      plugins.delete(id);
    }
    pluginByControl.clear();
    for (const src of fresh.values()) {
      const stage: PluginStage = { src, stream: src.id.replace(/\.fx\d+$/, ''), numberByName: new Map() };
      let owner = plugins.get(src.id);
      if (owner) owner.plugin = stage;
      else {
        owner = { id: src.id, ports: [], byName: new Map(), byId: new Map(), urls: [], plugin: stage };
        plugins.set(src.id, owner);
      }
      const prefix = `${o.boardName}.${src.id}-`;
      for (const [number, id] of src.ports) {
        stage.numberByName.set(id.startsWith(prefix) ? id.slice(prefix.length) : id, number);
        pluginByControl.set(id, { owner, number });
      }
    }
    st.updateUrls = countUrls();
  };
  const pluginPortList = (stage: PluginStage) => [...stage.numberByName].sort((a, b) => a[1] - b[1]).map(([name, n]) => `${n} ${name}`).join(', ');
  /** A configure key on a plugin owner; a GLOBAL: key on every owner of its instance group too (dssi.h). Each one's UIs are told through onConfigure. */
  const configurePlugin = async (owner: Owner, key: string, value: string, address: string) => {
    const group = owner.plugin!.src.group;
    const targets = [owner, ...(key.startsWith(DSSI_GLOBAL_PREFIX) ? [...plugins.values()].filter((x) => x !== owner && x.plugin!.src.group === group) : [])];
    // dssi.h lets a host stop at the first instance that fails; we go on, so that one broken instance does not leave the rest unconfigured.
    for (const x of targets) {
      try {
        const r = await x.plugin!.src.configure(key, value);
        note(address, 'configured', () => `${x.id} ${key}=${JSON.stringify(shortText(value, 60))}: ${r.reply}`);
      } catch (e) {
        st.failed.configure++;
        note(address, 'configure', () => `${base}/${x.id}/configure ${JSON.stringify(shortText(key, 40))} (${group}): ${(e as Error).message}`);
      }
    }
  };

  /** A message checked and turned into what it asks (or a Refusal). */
  const plan = (msg: OscMessageOutput, at: number | undefined, address: string): Action => {
    const path = msg.address;
    const args = [...msg.args];
    const shown = shortText(path);
    if (path === `${base}/quit`) {
      const token = takeToken(args);
      if (!loopback && !token) throw new Refusal('not-allowed', `${shown}: bound beyond loopback (${o.bind.address}), quit needs the admin token as its last argument${o.adminToken === undefined ? ' (none is set: serve --osc-token)' : ''}`);
      if (args.length) throw new Refusal('wrong-types', `${shown}: takes no arguments, got ,${tags(args)}`);
      return { method: 'quit', at, address };
    }
    if (!path.startsWith(`${base}/`)) throw new Refusal('unknown-path', `${shown}: not under ${base}/ (owners: ${ownersList()})`);
    const rest = path.slice(base.length + 1).split('/');
    const owner = owners.get(rest[0]!) ?? plugins.get(rest[0]!);
    if (!owner || rest.length > 2) {
      throw new Refusal('unknown-path', `${shown}: no such path (${base}/<owner>/<method>; owners: ${ownersList()}; methods: ${OSC_METHODS.filter((m) => m !== 'quit').join(', ')}; and ${base}/quit)`);
    }
    // `<base>` alone is a control change: dssi_osc_send's plain form sends `if` there.
    const method = rest[1] ?? 'control';
    const types = (want: string) => {
      if (tags(args) !== want) throw new Refusal('wrong-types', `${shown}: takes ,${want}, got ,${tags(args)}`);
    };
    switch (method) {
      case 'control': {
        if (args.length !== 2) throw new Refusal('wrong-types', `${shown}: takes a control (s: its name, or i: its port) and a value (f, i, d, s, T or F), got ,${tags(args)}`);
        const [which, v] = args as [OscArgOutputOrArray, OscArgOutputOrArray];
        let p: Port | undefined;
        if (owner.plugin) {
          // A DSSI UI numbers the plugin's ports as LADSPA does (not in our listing order).
          const stage = owner.plugin;
          let number: number | undefined;
          if (which.type === 'string') number = stage.numberByName.get(which.value);
          else if (which.type === 'integer') number = which.value;
          else throw new Refusal('wrong-types', `${shown}: the control is s (its name) or i (its LADSPA port number), got ,${tags(args)}`);
          const id = number === undefined ? undefined : stage.src.ports.get(number);
          if (id === undefined) throw new Refusal('unknown-control', `${shown}: ${owner.id} (${stage.src.group}) has no control input port ${JSON.stringify(which.type === 'string' ? shortText(which.value, 40) : which.value)} (ports: ${pluginPortList(stage) || 'none'})`);
          p = portById(id);
          if (!p) throw new Refusal('unknown-control', `${shown}: ${owner.id} port ${number} is ${id}, which the control model does not list`);
        } else if (which.type === 'string') {
          p = owner.byName.get(which.value);
          if (!p) throw new Refusal('unknown-control', `${shown}: ${owner.id} has no control ${JSON.stringify(shortText(which.value, 40))} (controls: ${owner.ports.map((x) => `${x.port} ${x.name}`).join(', ')})`);
        } else if (which.type === 'integer') {
          p = owner.ports[which.value];
          if (!p) throw new Refusal('unknown-control', `${shown}: ${owner.id} has ports 0 .. ${owner.ports.length - 1}, got ${which.value} (${owner.ports.map((x) => `${x.port} ${x.name}`).join(', ')})`);
        } else throw new Refusal('wrong-types', `${shown}: the control is s (its name) or i (its port), got ,${tags(args)}`);
        if (!p.d.writable) throw new Refusal('refused', `${shown}: ${p.d.id} cannot be set: ${p.d.readOnlyWhy ?? 'it is read-only'}`);
        let value: ControlValue;
        if (v.type === 'float' || v.type === 'double' || v.type === 'integer') {
          const x = v.value;
          if (p.d.kind === 'volume' || p.d.kind === 'number') value = x;
          // ladspa.h, LADSPA_HINT_TOGGLED: above zero is on, zero or less is off.
          else if (p.d.kind === 'switch') value = x > 0;
          else {
            const names = p.d.values ?? [];
            const i = Math.round(x);
            if (!(Math.abs(x - i) < 1e-6 && i >= 0 && i < names.length)) {
              throw new Refusal('refused', `${shown}: ${p.d.id} takes a value index 0 .. ${names.length - 1} (${names.map((n, k) => `${k} ${n}`).join(', ')}) or a name, got ${x}`);
            }
            value = names[i]!;
          }
        } else if (v.type === 'string') value = v.value;
        else if (v.type === 'true' || v.type === 'false') value = v.type === 'true';
        else throw new Refusal('wrong-types', `${shown}: the value is f, i, d, s, T or F, got ,${tags(args)}`);
        return { method: 'control', owner, port: p, value, at, address };
      }
      case 'program':
        types('ii');
        return { method, owner, bank: (args[0] as { value: number }).value, program: (args[1] as { value: number }).value, at, address };
      case 'configure': {
        const token = takeToken(args);
        if (!loopback && !token) throw new Refusal('not-allowed', `${shown}: bound beyond loopback (${o.bind.address}), /configure needs the admin token as its last argument${o.adminToken === undefined ? ' (none is set: serve --osc-token)' : ''}`);
        types('ss');
        return { method, owner, key: (args[0] as { value: string }).value, value: (args[1] as { value: string }).value, at, address };
      }
      case 'update': {
        const token = takeToken(args);
        types('s');
        let url: UpdateUrl;
        try {
          url = parseUpdateUrl((args[0] as { value: string }).value);
        } catch (e) {
          throw new Refusal('update-url', `${shown}: ${(e as Error).message}`);
        }
        return { method, owner, url, token, at, address };
      }
      case 'exiting':
        if (args.length === 1) types('s');
        else types('');
        return { method, owner, ...(args.length ? { url: (args[0] as { value: string }).value } : {}), at, address };
      case 'sample-rate':
      case 'show':
      case 'hide':
        types('');
        return { method, owner, at, address };
      default:
        throw new Refusal('unknown-path', `${shown}: no method ${JSON.stringify(shortText(method, 30))} (methods: ${OSC_METHODS.filter((m) => m !== 'quit').join(', ')})`);
    }
  };

  const dispatch = (a: Extract<Action, { method: 'control' }>, at: ChangeTime | undefined) => {
    st.dispatched++;
    const where = `${base}/${a.owner.id}/control ${a.port.name}`;
    o.dispatcher.set(a.port.d.id, a.value, { ...(at ? { at } : {}), source: `osc ${a.address}` }).then((r) => {
      st.outcomes[r.status]++;
      if (r.status === 'refused') {
        st.bad.refused++;
        note(a.address, 'refused', () => `${where}: ${r.error}`);
      }
    }, (e: unknown) => {
      st.outcomes.refused++;
      st.bad.refused++;
      note(a.address, 'refused', () => `${where}: ${(e as Error).message}`);
    });
  };

  const run = async (a: Action) => {
    st.methods[a.method]++;
    switch (a.method) {
      case 'control':
        dispatch(a, a.at === undefined ? undefined : { ns: a.at });
        return;
      case 'program': {
        if (a.owner.plugin) {
          // The owner's UIs are told through onProgram (as for a selection made anywhere else), not here: once.
          try {
            const p = await a.owner.plugin.src.selectProgram(a.bank, a.program);
            note(a.address, 'program selected', () => `${a.owner.id} ${a.bank} ${a.program} (${p.name})`);
          } catch (e) {
            st.failed.program++;
            note(a.address, 'program', () => `${base}/${a.owner.id}/program ${a.bank} ${a.program} (${a.owner.plugin!.src.group}): ${(e as Error).message}`);
          }
          return;
        }
        try {
          const p = await o.programs.load(a.bank, a.program);
          note(a.address, 'program loaded', () => `${a.bank} ${a.program} (${p.name})`);
          for (const owner of owners.values()) {
            for (const t of owner.urls) send(t, encode(`${t.path}/program`, [{ type: 'integer', value: a.bank }, { type: 'integer', value: a.program }]));
          }
        } catch (e) {
          st.failed.program++;
          note(a.address, 'program', () => `${base}/${a.owner.id}/program ${a.bank} ${a.program}: ${(e as Error).message}`);
        }
        return;
      }
      case 'configure': {
        if (a.owner.plugin) {
          await configurePlugin(a.owner, a.key, a.value, a.address);
          return;
        }
        try {
          const r = await o.configure.set(a.owner.id, a.key, a.value);
          note(a.address, 'configured', () => `${a.owner.id} ${a.key}=${JSON.stringify(shortText(a.value, 60))}: ${r.reply}`);
          for (const t of a.owner.urls) send(t, encode(`${t.path}/configure`, [{ type: 'string', value: a.key }, { type: 'string', value: a.value }]));
        } catch (e) {
          st.failed.configure++;
          note(a.address, 'configure', () => `${base}/${a.owner.id}/configure ${JSON.stringify(shortText(a.key, 40))}: ${(e as Error).message}`);
        }
        return;
      }
      case 'update': {
        let address: string;
        // An empty host: the sender's own address (liblo leaves it out when it does not know its name).
        const host = a.url.host === '' ? a.address : a.url.host;
        try {
          address = isIP(host) ? host : (await lookup(host, { family: family === 6 ? 6 : 4 })).address;
        } catch (e) {
          bad(a.address, 'update-url', `${base}/${a.owner.id}/update ${a.url.url}: ${host}: ${(e as Error).message}`);
          return;
        }
        if ((isIP(address) === 6) !== (family === 6)) {
          bad(a.address, 'update-url', `${base}/${a.owner.id}/update ${a.url.url}: an IPv${isIP(address)} address; this socket is IPv${family}`);
          return;
        }
        // Bound beyond loopback: the replies go back to the sender only (else anyone could turn
        // the state of the board into a stream of datagrams at a third host), unless the token is given.
        if (!loopback && !a.token && address !== a.address) {
          bad(a.address, 'not-allowed', `${base}/${a.owner.id}/update ${a.url.url}: bound beyond loopback, the URL must be the sender's own address (${a.address}) or the message must end with the admin token`);
          return;
        }
        const t: Target = { url: a.url.url, address, port: a.url.port, path: a.url.path };
        const urls = a.owner.urls;
        const same = urls.findIndex((x) => x.address === t.address && x.port === t.port && x.path === t.path);
        if (same >= 0) urls.splice(same, 1);
        else if (urls.length >= MAX_UPDATE_URLS) {
          const old = urls.shift()!;
          note(a.address, 'update', () => `${a.owner.id}: more than ${MAX_UPDATE_URLS} /update URLs, dropping the oldest (${old.url})`);
        }
        urls.push(t);
        st.updateUrls = countUrls();
        sendState(t, a.owner);
        return;
      }
      case 'exiting': {
        const urls = a.owner.urls;
        const keep = a.url === undefined ? [] : urls.filter((x) => x.url !== a.url);
        urls.splice(0, urls.length, ...keep);
        st.updateUrls = countUrls();
        return;
      }
      case 'sample-rate':
        for (const t of a.owner.urls) sendSampleRate(t, a.owner);
        return;
      case 'show':
      case 'hide':
        if (a.owner.plugin) {
          // The RFC's UI methods: a remote asks the host to show (or hide) the plugin's UI.
          for (const t of a.owner.urls) send(t, encode(`${t.path}/${a.method}`, []));
          note(a.address, a.method, () => `${base}/${a.owner.id}/${a.method}: sent to ${a.owner.urls.length} UI(s)`);
          return;
        }
        note(a.address, a.method, () => `${base}/${a.owner.id}/${a.method}: there is no GUI here; nothing changes`);
        return;
      case 'quit':
        log(`osc ${a.address}: ${base}/quit: ${o.onQuit ? 'stopping' : 'nothing to stop here'}`);
        o.onQuit?.();
        return;
    }
  };

  const onPacket = (buf: Buffer, rinfo: dgram.RemoteInfo) => {
    if (closed) return;
    st.packets++;
    const address = rinfo.address;
    if (buf.length > MAX_PACKET_BYTES) {
      st.packetsRefused++;
      bad(address, 'oversized', `a datagram of ${buf.length} bytes, more than ${MAX_PACKET_BYTES}: refused unread`);
      return;
    }
    let pkt: OscPacketOutput;
    try {
      pkt = fromBuffer(buf);
    } catch (e) {
      st.packetsRefused++;
      bad(address, 'undecodable', `not an OSC packet (${shortText((e as Error).message)})`);
      return;
    }
    // Both clocks read once, at receipt, and only when a time tag needs them.
    let pair: ClockPair | undefined;
    const clocks = () => (pair ??= { realtimeNs: realtime.nowNs(), boardNs: o.clock.nowNs() });
    const actions: Action[] = [];
    const refusals: Refusal[] = [];
    const walk = (p: OscPacketOutput, at: number | undefined, depth: number) => {
      if (p.oscType === 'message') {
        st.messages++;
        try {
          actions.push(plan(p, at, address));
        } catch (e) {
          if (e instanceof Refusal) refusals.push(e);
          else throw e;
        }
        return;
      }
      st.bundles++;
      if (depth >= MAX_BUNDLE_DEPTH) {
        refusals.push(new Refusal('undecodable', `bundles nested deeper than ${MAX_BUNDLE_DEPTH}`));
        return;
      }
      let inner = at;
      const tag = p.timetag as NtpTimeTag;
      if (!isImmediate(tag)) {
        let ns: number;
        try {
          ns = timeTagToBoardNs(tag, clocks());
        } catch (e) {
          refusals.push(new Refusal('time-tag', (e as TimeTagError).message));
          return;
        }
        const now = clocks().boardNs;
        if (ns - now > MAX_AHEAD_NS) {
          refusals.push(new Refusal('time-tag', `a bundle time-tagged ${((ns - now) / 1e9).toFixed(3)} s ahead, more than ${MAX_AHEAD_NS / 1e9} s (the sender's clock and ours disagree?)`));
          return;
        }
        if (ns <= now) {
          if (at === undefined) st.late++;
        } else {
          // OSC 1.0: a bundle inside a bundle is due no earlier than the one around it.
          inner = at === undefined ? ns : Math.max(at, ns);
        }
      }
      for (const e of p.elements) walk(e, inner, depth + 1);
    };
    walk(pkt, undefined, 0);
    const timed = actions.filter((a) => a.at !== undefined && !(a.method === 'control' && a.port.d.realtimeSafe)).length;
    if (!refusals.length && timers.size + timed > MAX_SCHEDULED) {
      refusals.push(new Refusal('busy', `${timed} timed change(s) while ${timers.size} wait already (at most ${MAX_SCHEDULED})`));
    }
    if (refusals.length) {
      st.packetsRefused++;
      const more = actions.length ? ` (and ${actions.length} good message(s) of the same packet, not done)` : '';
      for (const r of refusals) bad(address, r.kind, `${r.message}${more}`);
      return;
    }
    for (const a of actions) {
      if (a.at === undefined) void run(a);
      // An engine control goes to the engine's queue now, stamped: it changes at the frame due then.
      else if (a.method === 'control' && a.port.d.realtimeSafe) void run(a);
      // A register control is handed over just before its time (the model waits for T and writes).
      else if (a.method === 'control') schedule(a.at - REGISTER_LEAD_NS, () => void run(a));
      else schedule(a.at, () => void run(a));
    }
  };

  refreshPlugins();
  const offPlugins = o.plugins ? [
    o.plugins.onChanged(() => {
      if (!closed) refreshPlugins();
    }),
    o.plugins.onProgram((id, bank, program) => {
      for (const t of plugins.get(id)?.urls ?? []) send(t, encode(`${t.path}/program`, [{ type: 'integer', value: bank }, { type: 'integer', value: program }]));
    }),
    o.plugins.onConfigure((id, key, value) => {
      for (const t of plugins.get(id)?.urls ?? []) send(t, encode(`${t.path}/configure`, [{ type: 'string', value: key }, { type: 'string', value: value }]));
    }),
  ] : [];

  sock.on('message', (buf, rinfo) => {
    const client = `osc ${rinfo.address}`;
    // Each datagram is a "connection" to the limiter: its record is swept a window after the last one.
    limiter.opened(client);
    try {
      onPacket(buf, rinfo);
    } catch (e) {
      log(`OSC: a datagram from ${rinfo.address} broke the server's handling (a defect): ${(e as Error).stack ?? e}`);
    } finally {
      limiter.closed(client);
    }
  });

  let closing: Promise<void> | undefined;
  return {
    address: bound.address,
    port: bound.port,
    loopback,
    stats: () => structuredClone(st),
    ports: (owner) => owners.get(owner)?.ports.map((p) => p.d.id) ?? [],
    close() {
      closing ??= (async () => {
        closed = true;
        off();
        for (const f of offPlugins) f();
        // The RFC's `/quit` to every plugin UI (the host is going away), sent before the socket closes.
        await Promise.all([...plugins.values()].flatMap((x) => x.urls.map(sendQuit)));
        for (const t of timers) t.cancel();
        timers.clear();
        st.scheduled = 0;
        await new Promise<void>((r) => sock.close(() => r()));
        limiter.flush();
      })();
      return closing;
    },
  };
}

// ---- Wiring for the stream service (src/stream/service.ts, its option `osc`).

/** What the service has that the server needs. */
export interface OscPieces {
  runtime: Pick<BoardRuntime, 'board' | 'hal'>;
  service: Pick<StreamService, 'controls' | 'ringBuffers'>;
  dispatcher: DispatcherLike;
  programs: ProgramsLike;
  configure: ConfigureLike;
  /** The DSSI plugin stages as OSC owners (issue 30), where the service has them. */
  plugins?: PluginOwnersLike;
  /** The service option: `bind` as `serve --osc-bind` takes it ("127.0.0.1:7770"); `onQuit`: what quit does (serve: stop). */
  osc: { bind: string; adminToken?: string; onQuit?: () => void };
  log?: (line: string) => void;
}

/**
 * The server's options from the service's pieces. The sample rate of a stream owner is the rate
 * its running engine plays at; of the part or the board, any running engine's; none runs: not known.
 */
export function oscOptionsFor(p: OscPieces): OscServerOptions {
  const rateOf = (owner: string): number | undefined => {
    const running = [...p.service.ringBuffers].filter((e) => !e.isClosed);
    const mine = running.find((e) => e.stream.id === owner) ?? (p.runtime.board.streams.some((s) => s.id === owner) ? undefined : running[0]);
    return mine?.fmt.fps;
  };
  return {
    bind: parseOscBind(p.osc.bind, 'osc.bind'),
    boardName: p.runtime.board.name,
    model: p.service.controls,
    dispatcher: p.dispatcher,
    programs: p.programs,
    configure: p.configure,
    ...(p.plugins ? { plugins: p.plugins } : {}),
    clock: p.runtime.hal.clock,
    sampleRate: rateOf,
    ...(p.osc.adminToken !== undefined ? { adminToken: p.osc.adminToken } : {}),
    ...(p.osc.onQuit ? { onQuit: p.osc.onQuit } : {}),
    ...(p.log ? { log: p.log } : {}),
  };
}

/** Starts the OSC server of a service: `startOscServer(oscOptionsFor(pieces))`. */
export function oscFor(p: OscPieces): Promise<OscServer> {
  return startOscServer(oscOptionsFor(p));
}
