/**
 * Reports the appliance's output latency to a Snapcast group (issue 28; docs/multi-room.md; docs/alsa-in.md, "Snapcast: the latency reported to the group").
 *
 * snapclient writes into the ALSA way in and counts only the buffer of the PCM it writes into
 * (snd_pcm_delay); what comes after the loopback cable — the bridge, the stream's FIFO, the codec's
 * filter and the board's analog path (AlsaBridge.outputLatency()) — is ours to tell the group. The
 * place for it is the latency snapserver keeps for each client: snapclient shortens its play-out
 * buffer by it, and takes a new value at once (the server sends it new ServerSettings).
 *
 * What the protocol is (public sources: badaix/snapcast doc/json_rpc_api, client/controller.cpp;
 * checked against Debian bookworm's snapserver 0.26 on this machine, tests/unit/snapcast-latency.test.ts):
 * - JSON-RPC 2.0 over TCP to snapserver's control port (1705 by default), one JSON object per line;
 *   the server ends its lines with "\r\n".
 * - Request `Client.SetLatency` with params `{ id, latency }` (whole ms; 0.26 drops a fraction),
 *   answered `{ result: { latency } }`; an id the server has never seen is answered with an error
 *   object (code -32603, data "Client not found"). A client the server knows keeps its latency in the
 *   server's settings file even while it is away.
 * - The client id is snapclient's `--hostID` (default: its MAC), `#N` appended for `--instance N` > 1.
 * - Notifications to the *other* control connections (never to the one that made the change):
 *   `Client.OnConnect` `{ id, client: { id, connected, config: { latency, … }, … } }`,
 *   `Client.OnLatencyChanged` `{ id, latency }`, `Client.OnDisconnect`, `Server.OnUpdate`, ….
 *
 * The reporter never throws into its caller: every failure is a state it leaves by retrying, said
 * in the log when the state changes (not per attempt).
 *
 * Another writer of our client's latency (a user in Snapweb, or a second appliance reporting under
 * the same client id: the default id is the host name, and many Pis are all `raspberrypi`) is
 * answered by putting ours back, but at most once per retry period, and after
 * FOREIGN_CHANGES_TO_GIVE_UP changes within FOREIGN_WINDOW_MS not at all (said once): two reporters
 * on one id would otherwise set it back and forth at network speed, and each change makes snapclient
 * resync.
 */
import net from 'node:net';
import type { OutputLatency } from './alsa-bridge.ts';

export const DEFAULT_SNAPCAST_CONTROL_PORT = 1705;
/** This many foreign changes of our client's latency within FOREIGN_WINDOW_MS: stop putting ours back. */
export const FOREIGN_CHANGES_TO_GIVE_UP = 3;
export const FOREIGN_WINDOW_MS = 60_000;

export interface SnapcastLatencyOptions {
  /** snapserver's host and control port. */
  host: string;
  port: number;
  /** The client id (snapclient's --hostID[#instance]). */
  clientId: string;
  /** The figure now; undefined while not known (nothing is pushed then). */
  latency: () => OutputLatency | undefined;
  log?: (line: string) => void;
  /** How often the figure is looked at, ms (default 1000). */
  pollMs?: number;
  /** Reconnect backoff, ms: from `minMs`, doubled per failed attempt, up to `maxMs` (default 500 … 30000). */
  backoff?: { minMs?: number; maxMs?: number };
  /**
   * After a refusal (client not known yet), asked again after this many ms, or at once when the client
   * connects; also the least time between two put-backs after another writer's change (default 5000).
   */
  retryMs?: number;
  /** A request unanswered this long means the connection is dead (default 10000). */
  answerTimeoutMs?: number;
  /** A connection attempt not established this long counts as failed (default 5000): a host that drops packets. */
  connectTimeoutMs?: number;
}

export type SnapcastState = 'connecting' | 'connected' | 'away' | 'closed';

/** One line of the log's breakdown: "bridge 50.0 ms, FIFO 8.0 ms, external 2.1 ms". */
export function describeLatency(f: OutputLatency): string {
  const fifo = f.fifoMs === undefined ? 'FIFO unknown' : `FIFO ${f.fifoMs.toFixed(1)} ms`;
  return `bridge ${f.bridgeMs.toFixed(1)} ms, ${fifo}, external ${f.externalMs.toFixed(1)} ms at ${f.rate} Hz`;
}

/** "HOST[:PORT]" ("[::1]:1705" for IPv6); an Error naming `what` when it is not one. */
export function parseSnapcastAddress(text: string, what = '--snapcast'): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+))(?::(\d+))?$/.exec(text);
  if (!m) throw new Error(`${what} ${JSON.stringify(text)}: expected HOST or HOST:PORT (IPv6: [ADDR]:PORT)`);
  const port = m[3] === undefined ? DEFAULT_SNAPCAST_CONTROL_PORT : Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} ${JSON.stringify(text)}: the port must be 1 to 65535`);
  return { host: m[1] ?? m[2]!, port };
}

interface Pending {
  latency: number;
  figure: OutputLatency;
  sentAt: number;
}

export class SnapcastLatencyReporter {
  private socket: net.Socket | undefined;
  private state_: SnapcastState = 'connecting';
  private readonly log: (line: string) => void;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered = '';
  /** The value the server confirmed for our client on this connection (undefined: not yet). */
  private confirmed: number | undefined;
  /** The rounded figure the reporter wants the server to hold. */
  private wanted: number | undefined;
  /** The client was not known to the server: when it was refused (ms), for the retry. */
  private refusedAt: number | undefined;
  private saidRefused = false;
  private saidForeign = false;
  /** When other writers changed our client's latency (ms, within the last FOREIGN_WINDOW_MS). */
  private foreignChanges: number[] = [];
  /** When ours was last put back after another writer's change (ms). */
  private lastPutBackAt: number | undefined;
  /** A put-back waits for the retry period (poll() sends it). */
  private putBackDue = false;
  /** Other writers kept changing it: ours is no longer put back (for the reporter's life). */
  private gaveUpPuttingBack = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private saidUnknown = '';
  private lastAwayReason: string | undefined;
  /** Why the socket failed (its error code), for the line said when it closes. */
  private lastErrorText: string | undefined;
  private polls_ = 0;
  private pushes_ = 0;
  private requests_ = 0;

  constructor(private readonly o: SnapcastLatencyOptions) {
    this.log = o.log ?? (() => {});
    this.backoffMs = o.backoff?.minMs ?? 500;
  }

  /** Connects and starts watching the figure. */
  start(): void {
    this.connect();
    this.pollTimer = setInterval(() => this.guard(() => this.poll()), this.o.pollMs ?? 1000);
  }

  get state(): SnapcastState {
    return this.state_;
  }

  /** The latency the server last confirmed for our client on the current connection. */
  get confirmedMs(): number | undefined {
    return this.confirmed;
  }

  /** Times the figure was looked at, and SetLatency requests answered OK (for tests and status). */
  get polls(): number {
    return this.polls_;
  }

  get pushes(): number {
    return this.pushes_;
  }

  /** Client.SetLatency requests sent (answered or not). */
  get requests(): number {
    return this.requests_;
  }

  async close(): Promise<void> {
    this.state_ = 'closed';
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        // A server that does not close its side: cut after a moment.
        setTimeout(() => { s.destroy(); resolve(); }, 1000).unref();
      });
    }
  }

  /** Runs fn; whatever it throws is logged, never passed on (serve must not die of the reporter). */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log(`snapcast: ${(e as Error).message}`);
    }
  }

  /** snapserver's control address as people write it (an IPv6 host in brackets). */
  where(): string {
    return `${this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host}:${this.o.port}`;
  }

  private connect(): void {
    if (this.state_ === 'closed') return;
    const s = net.connect({ host: this.o.host, port: this.o.port });
    this.socket = s;
    s.setEncoding('utf8');
    s.setNoDelay(true);
    // Without it a host that drops packets keeps the attempt open for minutes (the kernel's SYN
    // retries), with nothing said; as a failed attempt it takes the backoff and the log line.
    const connectTimeoutMs = this.o.connectTimeoutMs ?? 5000;
    this.connectTimer = setTimeout(() => {
      if (this.socket !== s || s.connecting === false) return;
      this.lastErrorText = `no connection in ${formatSeconds(connectTimeoutMs)}`;
      s.destroy();
    }, connectTimeoutMs);
    s.on('connect', () => this.guard(() => {
      if (this.socket !== s) return;
      clearTimeout(this.connectTimer);
      s.setKeepAlive(true, 10_000);
      this.state_ = 'connected';
      this.backoffMs = this.o.backoff?.minMs ?? 500;
      this.lastAwayReason = undefined;
      this.saidForeign = false;
      this.log(`snapcast: connected to snapserver at ${this.where()}`);
      // A (re)connected server may hold anything for our client (another server, settings lost): push.
      // What we wanted from the last connection is forgotten, so that a figure not known at this
      // moment is still pushed by poll() once it is (poll pushes when the figure differs from `wanted`).
      this.confirmed = undefined;
      this.refusedAt = undefined;
      this.wanted = undefined;
      this.putBackDue = false;
      this.push('connected');
    }));
    s.on('data', (chunk: string) => this.guard(() => this.receive(s, chunk)));
    s.on('error', (e: Error) => {
      if (this.socket === s) this.lastErrorText = (e as NodeJS.ErrnoException).code ?? e.message;
    });
    s.on('close', () => this.guard(() => {
      if (this.socket !== s) return;
      clearTimeout(this.connectTimer);
      this.socket = undefined;
      this.pending.clear();
      this.buffered = '';
      this.confirmed = undefined;
      if (this.state_ === 'closed') return;
      const was = this.state_;
      this.state_ = 'away';
      const why = this.lastErrorText ?? 'closed by the server';
      this.lastErrorText = undefined;
      // Said when the state changes: the connection lost, or the first failed attempt (and when the reason changes).
      if (was === 'connected') this.log(`snapcast: the connection to ${this.where()} is lost (${why}); reconnecting`);
      else if (why !== this.lastAwayReason) this.log(`snapcast: snapserver at ${this.where()} is not reachable (${why}); trying again, at most every ${formatSeconds(this.o.backoff?.maxMs ?? 30_000)}`);
      this.lastAwayReason = why;
      const wait = was === 'connected' ? (this.o.backoff?.minMs ?? 500) : this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoff?.maxMs ?? 30_000);
      this.reconnectTimer = setTimeout(() => this.guard(() => this.connect()), wait);
    }));
  }

  private receive(s: net.Socket, chunk: string): void {
    this.buffered += chunk;
    // One object a line; a line longer than 1 MiB is not JSON-RPC from a snapserver.
    if (this.buffered.length > 1 << 20) {
      this.lastErrorText = 'a line longer than 1 MiB';
      s.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (line === '') continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        continue; // not ours to judge: the next line may be fine
      }
      // A batch answer is an array; the reporter sends no batches, but handles one all the same.
      for (const m of Array.isArray(msg) ? msg : [msg]) if (m && typeof m === 'object') this.handle(m as Record<string, unknown>);
    }
  }

  private handle(m: Record<string, unknown>): void {
    if (typeof m.method === 'string') return this.notification(m.method, (m.params ?? {}) as Record<string, unknown>);
    if (typeof m.id !== 'number') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error !== undefined) {
      const e = m.error as { code?: number; message?: string; data?: unknown };
      const text = `${e.message ?? 'error'}${e.data !== undefined ? `: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}` : ''}`;
      this.refusedAt = Date.now();
      if (!this.saidRefused) {
        this.log(`snapcast: snapserver refused the latency of client ${this.o.clientId} (${text}): is snapclient running with --hostID ${this.o.clientId}? Trying again when it connects`);
        this.saidRefused = true;
      }
      return;
    }
    const result = m.result as { latency?: unknown } | undefined;
    const got = typeof result?.latency === 'number' ? result.latency : p.latency;
    this.confirmed = got;
    this.refusedAt = undefined;
    this.saidRefused = false;
    this.pushes_++;
    const unknown = p.figure.unknown.length ? `; not counted, unknown: ${p.figure.unknown.join('; ')}` : '';
    this.log(`snapcast: latency of client ${this.o.clientId} set to ${got} ms (${describeLatency(p.figure)}${unknown})`);
  }

  private notification(method: string, params: Record<string, unknown>): void {
    const client = params.client as { id?: unknown; config?: { latency?: unknown } } | undefined;
    const id = params.id ?? client?.id;
    if (method === 'Client.OnConnect' && id === this.o.clientId) {
      // The client (re)connected: make sure it runs with ours (its config may be an older value).
      this.confirmed = client?.config && typeof client.config.latency === 'number' ? client.config.latency : undefined;
      // (Not after giving up to another writer: that would start the back and forth again.)
      if (this.refusedAt !== undefined || (this.confirmed !== this.wanted && !this.gaveUpPuttingBack)) this.push('the client connected');
      return;
    }
    if (method === 'Client.OnLatencyChanged' && id === this.o.clientId) {
      const v = params.latency;
      this.confirmed = typeof v === 'number' ? v : undefined;
      if (v === this.wanted) this.putBackDue = false; // ours again (the other writer put it back)
      if (this.wanted !== undefined && v !== this.wanted) this.foreignChange(v);
      return;
    }
    // A client the server did not know may have appeared (0.26 says so in Server.OnUpdate too).
    if (this.refusedAt !== undefined && (method === 'Server.OnUpdate' || method === 'Client.OnConnect')) this.push('the server changed');
  }

  /** Another writer set our client's latency to v: put ours back, at most once per retry period, or give up. */
  private foreignChange(v: unknown): void {
    if (this.gaveUpPuttingBack) return;
    const now = Date.now();
    this.foreignChanges = [...this.foreignChanges.filter((t) => now - t < FOREIGN_WINDOW_MS), now];
    if (this.foreignChanges.length >= FOREIGN_CHANGES_TO_GIVE_UP) {
      this.gaveUpPuttingBack = true;
      this.putBackDue = false;
      this.log(`snapcast: another writer keeps setting client ${this.o.clientId}'s latency (${this.foreignChanges.length} times in ${formatSeconds(FOREIGN_WINDOW_MS)}, last to ${String(v)} ms, ours ${this.wanted} ms); not putting ours back: give each appliance its own --snapcast-client`);
      return;
    }
    if (!this.saidForeign) {
      this.log(`snapcast: something else set client ${this.o.clientId}'s latency to ${String(v)} ms; putting back the appliance's ${this.wanted} ms (said once)`);
      this.saidForeign = true;
    }
    this.putBackDue = true;
    this.putBack(now);
  }

  /** Sends the due put-back once the retry period since the last one has passed (else poll() comes back to it). */
  private putBack(now: number): void {
    if (!this.putBackDue || this.gaveUpPuttingBack) return;
    if (this.lastPutBackAt !== undefined && now - this.lastPutBackAt < (this.o.retryMs ?? 5000)) return;
    if (this.state_ !== 'connected') return;
    this.putBackDue = false;
    this.lastPutBackAt = now;
    this.push('changed by another');
  }

  private poll(): void {
    this.polls_++;
    const now = Date.now();
    for (const p of this.pending.values()) {
      if (now - p.sentAt > (this.o.answerTimeoutMs ?? 10_000)) {
        this.lastErrorText = `no answer in ${formatSeconds(this.o.answerTimeoutMs ?? 10_000)}`;
        this.socket?.destroy();
        return;
      }
    }
    const f = this.o.latency();
    if (!f) return;
    const want = Math.round(f.ms);
    const unknownKey = f.unknown.join('\n');
    if (unknownKey !== this.saidUnknown) {
      this.saidUnknown = unknownKey;
      if (f.unknown.length) this.log(`snapcast: the output latency has parts without a figure: ${f.unknown.join('; ')}; reporting the known part (${want} ms), the true latency is longer`);
    }
    if (want !== this.wanted) this.push('the figure changed', f);
    else if (this.putBackDue) this.putBack(now);
    else if (this.refusedAt !== undefined && now - this.refusedAt >= (this.o.retryMs ?? 5000)) this.push('retry', f);
  }

  private push(_why: string, figure = this.o.latency()): void {
    if (!figure) return;
    this.wanted = Math.round(figure.ms);
    const s = this.socket;
    if (this.state_ !== 'connected' || !s || s.destroyed) return; // pushed on connect
    for (const p of this.pending.values()) if (p.latency === this.wanted) return; // already on its way
    const id = this.nextId++;
    this.requests_++;
    this.putBackDue = false; // ours is on its way
    this.pending.set(id, { latency: this.wanted, figure, sentAt: Date.now() });
    if (this.refusedAt !== undefined) this.refusedAt = Date.now(); // the retry clock starts again
    s.write(`${JSON.stringify({ id, jsonrpc: '2.0', method: 'Client.SetLatency', params: { id: this.o.clientId, latency: this.wanted } })}\r\n`);
  }
}

/** "5 s", "0.3 s", "1 min". */
function formatSeconds(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Number((ms / 1000).toFixed(1))} s`;
}
