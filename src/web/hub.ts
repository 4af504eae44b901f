/**
 * The WebSocket side of the API server (./server.ts, `/api/ws`): subscriptions, as CamillaDSP's
 * state and level subscriptions are.
 *
 * A client sends `{"subscribe": ["controls", "streams", "levels"]}` (any of them) and
 * `{"unsubscribe": [...]}`; each is answered `{"type": "subscribed", "kinds": [...]}` with the
 * kinds it now holds. The source's change events go to the subscribers of their kind as
 * `{"type": "control", "control": …}` and `{"type": "stream", "stream": …}`; the streams' newest
 * level readings go to level subscribers as `{"type": "levels", "streams": [LevelReading…]}` at a
 * fixed rate (one timer for all clients, running only while someone subscribes). Attack and
 * release of the meters are the level source's; the hub only samples them.
 *
 * A message the hub cannot take gets `{"type": "error", "error": …}` naming what is wrong, and
 * the connection stays; a message over MAX_CLIENT_MESSAGE_BYTES closes it with 1009 (ws does that
 * before buffering the rest).
 *
 * A client that does not read: while more than SLOW_CLIENT_BYTES wait unsent to it, it is skipped
 * at level ticks (a later reading supersedes a skipped one), and once that has lasted
 * SLOW_CLIENT_DROP_NS it is dropped (one log line). Change events are not skipped — a subscriber
 * that silently missed one would show a stale value — so a backlog past MAX_BACKLOG_BYTES drops the
 * client at once: that bounds what one stuck phone can make the service hold.
 */
import type { WebSocket } from 'ws';
import type { Clock, TimerHandle } from '../hal/clock.ts';
import type { ApplianceEvent, ApplianceSource, LevelReading } from './source.ts';

export const WS_KINDS = ['controls', 'streams', 'levels'] as const;
export type WsKind = (typeof WS_KINDS)[number];

/** A client's messages are subscriptions, a few dozen bytes: anything over 4 KiB is refused (1009). */
export const MAX_CLIENT_MESSAGE_BYTES = 4096;
/** Unsent bytes over which a client is skipped at level ticks: over 10 s of levels for a board's streams. */
export const SLOW_CLIENT_BYTES = 256 * 1024;
/** How long a client may stay over SLOW_CLIENT_BYTES before it is dropped. */
export const SLOW_CLIENT_DROP_NS = 5e9;
/** Unsent bytes at which a client is dropped at once (change events are never skipped, so they could pile up). */
export const MAX_BACKLOG_BYTES = 1024 * 1024;

export const DEFAULT_LEVELS_RATE_HZ = 20;
/** The meters' rate cap: 50 Hz is beyond what a screen shows a meter move at, and bounds the traffic. */
export const MAX_LEVELS_RATE_HZ = 50;
/**
 * WebSocket connections held at once; the next upgrade is refused (503) until one closes. Each
 * costs its socket and up to MAX_BACKLOG_BYTES of unsent pushes: the cap bounds what clients can
 * make the service hold (the 50-phone bench, bench/remote-load.ts, stays well under it).
 */
export const MAX_WS_CLIENTS = 128;

export interface HubStats {
  /** Connected clients now, and how many hold each kind. */
  clients: number;
  subscribers: Record<WsKind, number>;
  /** Messages received from clients, and those answered with an error. */
  received: number;
  badMessages: number;
  /** Connections closed with 1009 (a message over MAX_CLIENT_MESSAGE_BYTES). */
  oversized: number;
  /** Messages sent (events, levels, replies). */
  sent: number;
  /** Level ticks run, and client sends skipped at them (backlog). */
  levelTicks: number;
  levelSkips: number;
  /** Clients dropped for not reading. */
  dropped: number;
  /** Errors from the source while taking level readings (the first is logged). */
  levelErrors: number;
}

interface Client {
  ws: WebSocket;
  name: string;
  kinds: Set<WsKind>;
  /** Since when (clock ns) more than SLOW_CLIENT_BYTES have waited unsent; undefined: not behind. */
  behindSinceNs: number | undefined;
  dropped: boolean;
}

export interface HubOptions {
  source: ApplianceSource;
  clock: Clock;
  levelsRateHz: number;
  log: (line: string) => void;
}

export class WsHub {
  private readonly clients = new Set<Client>();
  private readonly st: HubStats = {
    clients: 0, subscribers: { controls: 0, streams: 0, levels: 0 }, received: 0, badMessages: 0, oversized: 0,
    sent: 0, levelTicks: 0, levelSkips: 0, dropped: 0, levelErrors: 0,
  };
  private readonly periodNs: number;
  private timer: TimerHandle | undefined;
  private nextTickNs = 0;
  /** The streams to read levels of: the source's at start, plus any a stream event names. */
  private readonly streamIds: Set<string>;
  private readonly offEvent: () => void;
  private closed = false;
  private ticking = false;

  constructor(private readonly o: HubOptions) {
    this.periodNs = 1e9 / o.levelsRateHz;
    this.streamIds = new Set(o.source.streams().map((s) => s.id));
    this.offEvent = o.source.onEvent((e) => this.onEvent(e));
  }

  /** Connections now (the server refuses upgrades at MAX_WS_CLIENTS). */
  get size(): number {
    return this.clients.size;
  }

  stats(): HubStats {
    const subscribers = { controls: 0, streams: 0, levels: 0 };
    for (const c of this.clients) for (const k of c.kinds) subscribers[k]++;
    return { ...this.st, clients: this.clients.size, subscribers };
  }

  /** A connection the server accepted (`name`: its peer address, for the log). */
  add(ws: WebSocket, name: string): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const c: Client = { ws, name, kinds: new Set(), behindSinceNs: undefined, dropped: false };
    this.clients.add(c);
    ws.on('message', (data, isBinary) => this.onMessage(c, data as Buffer | ArrayBuffer | Buffer[], isBinary));
    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.st.oversized++;
    });
    ws.on('close', () => this.remove(c));
  }

  private remove(c: Client): void {
    if (!this.clients.delete(c)) return;
    this.levelSubscribersChanged();
  }

  private send(c: Client, data: Buffer): void {
    c.ws.send(data, { binary: false });
    this.st.sent++;
  }

  private reply(c: Client, body: unknown): void {
    this.send(c, Buffer.from(JSON.stringify(body)));
  }

  private onMessage(c: Client, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    this.st.received++;
    const bad = (error: string) => {
      this.st.badMessages++;
      this.reply(c, { type: 'error', error });
    };
    if (isBinary) return bad('messages are JSON text; this one was binary');
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return bad(`malformed JSON: ${(e as Error).message}`);
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return bad('expected an object: {"subscribe": ["controls", "streams", "levels"]} or {"unsubscribe": [...]}');
    }
    const m = msg as Record<string, unknown>;
    const keys = Object.keys(m);
    const unknown = keys.find((k) => k !== 'subscribe' && k !== 'unsubscribe');
    if (unknown !== undefined) return bad(`${JSON.stringify(unknown.slice(0, 64))}: not a field of a message (fields: subscribe, unsubscribe)`);
    if (keys.length === 0) return bad('empty message: expected {"subscribe": [...]} or {"unsubscribe": [...]}');
    const lists: Partial<Record<'subscribe' | 'unsubscribe', WsKind[]>> = {};
    for (const field of ['subscribe', 'unsubscribe'] as const) {
      if (!(field in m)) continue;
      const v = m[field];
      if (!Array.isArray(v)) return bad(`${field}: expected an array of kinds (${WS_KINDS.join(', ')})`);
      const out: WsKind[] = [];
      for (let i = 0; i < v.length; i++) {
        const k = v[i];
        if (typeof k !== 'string' || !(WS_KINDS as readonly string[]).includes(k)) {
          return bad(`${field}[${i}]: ${JSON.stringify(typeof k === 'string' ? k.slice(0, 64) : k)} is not a kind (kinds: ${WS_KINDS.join(', ')})`);
        }
        out.push(k as WsKind);
      }
      lists[field] = out;
    }
    // Both checked before either applies: a message with one bad part changes nothing.
    for (const k of lists.subscribe ?? []) c.kinds.add(k);
    for (const k of lists.unsubscribe ?? []) c.kinds.delete(k);
    this.levelSubscribersChanged();
    this.reply(c, { type: 'subscribed', kinds: WS_KINDS.filter((k) => c.kinds.has(k)) });
  }

  /**
   * Whether `c` is behind now (more than SLOW_CLIENT_BYTES unsent); drops it when it has been
   * for SLOW_CLIENT_DROP_NS, or is past MAX_BACKLOG_BYTES. True: skip it (or it is gone).
   */
  private behind(c: Client, nowNs: number): boolean {
    if (c.dropped) return true;
    const unsent = c.ws.bufferedAmount;
    if (unsent <= SLOW_CLIENT_BYTES) {
      c.behindSinceNs = undefined;
      return false;
    }
    c.behindSinceNs ??= nowNs;
    const over = unsent > MAX_BACKLOG_BYTES;
    if (over || nowNs - c.behindSinceNs >= SLOW_CLIENT_DROP_NS) {
      c.dropped = true;
      this.st.dropped++;
      this.o.log(`web: dropped WebSocket client ${c.name}: ${over
        ? `${unsent} bytes unsent (over ${MAX_BACKLOG_BYTES})`
        : `over ${SLOW_CLIENT_BYTES} bytes unsent for ${((nowNs - c.behindSinceNs) / 1e9).toFixed(1)} s`}; it is not reading`);
      // A close frame would queue behind the backlog: the socket goes at once.
      c.ws.terminate();
      this.remove(c);
    }
    return true;
  }

  private onEvent(e: ApplianceEvent): void {
    if (e.type === 'stream') this.streamIds.add(e.stream.id);
    const kind: WsKind = e.type === 'control' ? 'controls' : 'streams';
    let data: Buffer | undefined;
    const now = this.o.clock.nowNs();
    for (const c of [...this.clients]) {
      if (!c.kinds.has(kind)) continue;
      // Behind or not, the event goes (see the module comment); behind() only drops a stuck client.
      this.behind(c, now);
      if (c.dropped) continue;
      data ??= Buffer.from(JSON.stringify(e));
      this.send(c, data);
    }
  }

  /** Starts the level timer when the first client wants levels, stops it when the last stops. */
  private levelSubscribersChanged(): void {
    if (this.ticking) return; // tick() re-arms (or not) when it ends
    const want = this.clientsWantLevels();
    if (want && !this.timer && !this.closed) {
      this.nextTickNs = this.o.clock.nowNs() + this.periodNs;
      this.timer = this.o.clock.setTimerNs(this.nextTickNs, () => this.tick());
    } else if (!want && this.timer) {
      this.timer.cancel();
      this.timer = undefined;
    }
  }

  private clientsWantLevels(): boolean {
    for (const c of this.clients) if (c.kinds.has('levels')) return true;
    return false;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closed) return;
    this.ticking = true;
    try {
      this.st.levelTicks++;
      const now = this.o.clock.nowNs();
      const readings: LevelReading[] = [];
      for (const id of this.streamIds) {
        try {
          const r = this.o.source.levels(id);
          if (r) readings.push(r);
        } catch (e) {
          if (this.st.levelErrors++ === 0) this.o.log(`web: levels of stream ${id}: ${(e as Error).message} (further errors are only counted)`);
        }
      }
      let data: Buffer | undefined;
      for (const c of [...this.clients]) {
        if (!c.kinds.has('levels')) continue;
        if (this.behind(c, now)) {
          if (!c.dropped) this.st.levelSkips++;
          continue;
        }
        data ??= Buffer.from(JSON.stringify({ type: 'levels', streams: readings }));
        this.send(c, data);
      }
      // The next tick on the fixed grid; ticks missed (a blocked loop) are skipped, not bunched.
      this.nextTickNs += this.periodNs;
      if (this.nextTickNs <= now) this.nextTickNs = now + this.periodNs;
    } finally {
      this.ticking = false;
    }
    if (this.clientsWantLevels() && !this.closed) this.timer = this.o.clock.setTimerNs(this.nextTickNs, () => this.tick());
  }

  /** Stops the timer and the source's events, and closes every client (1001: going away). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.offEvent();
    for (const c of [...this.clients]) {
      c.ws.close(1001, 'server stopping');
      // A client that does not answer the close handshake is not waited for.
      setTimeout(() => c.ws.terminate(), 1000).unref();
    }
    this.clients.clear();
  }
}
