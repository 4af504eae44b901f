/**
 * Log lines a client causes (refused requests, protocol violations, a client that does not read),
 * rate-limited per client and per kind, so that a hostile or broken client cannot fill the disk:
 * a million bad messages from one process once wrote 23.5 MB of log, and one line per connection
 * is still unlimited for a client that opens connection after connection.
 *
 * A client is the process that connected (SO_PEERCRED), across every endpoint of the service; a
 * connection whose process is not known counts as a client of its own. Of each kind, the first
 * LINES_PER_WINDOW lines of a client in a window of WINDOW_NS are logged; the rest are counted and
 * summed up in one line — when that client's next line of the kind falls in a new window, or once
 * a window has passed since its last connection closed (its record is then dropped: a client that
 * reconnects at once is still the same client, and the map holds only recent ones), or at `flush`
 * (the service stopping). Callers ask `allow` first and build the line only when it says yes.
 */

/** Lines of one kind logged per client and window. */
export const LINES_PER_WINDOW = 10;
/** The window (ns). */
export const WINDOW_NS = 60e9;

interface KindCount {
  /** Lines of this kind in the current window (logged or not). */
  count: number;
  windowStartNs: number;
}

interface ClientRecord {
  /** Open connections of this client. */
  open: number;
  /** When its last connection closed (open = 0). */
  idleSinceNs: number;
  kinds: Map<string, KindCount>;
}

/** Records beyond this many trigger a sweep of the idle ones at once (else one runs every window). */
const SWEEP_AT = 4096;

export class ClientLogLimiter {
  private readonly clients = new Map<string, ClientRecord>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: (line: string) => void,
    private readonly opts: { linesPerWindow?: number; windowNs?: number; nowNs?: () => number } = {},
  ) {}

  private get limit(): number {
    return this.opts.linesPerWindow ?? LINES_PER_WINDOW;
  }

  private get windowNs(): number {
    return this.opts.windowNs ?? WINDOW_NS;
  }

  private now(): number {
    return this.opts.nowNs ? this.opts.nowNs() : Number(process.hrtime.bigint());
  }

  /** A connection of `client` opened. */
  opened(client: string): void {
    const r = this.clients.get(client);
    if (r) r.open++;
    else this.clients.set(client, { open: 1, idleSinceNs: 0, kinds: new Map() });
    if (this.clients.size > SWEEP_AT) this.sweep();
    if (!this.sweeper && !this.opts.nowNs) {
      this.sweeper = setInterval(() => this.sweep(), this.windowNs / 1e6);
      this.sweeper.unref(); // never what keeps the process alive
    }
  }

  /** A connection of `client` closed. */
  closed(client: string): void {
    const r = this.clients.get(client);
    if (r && --r.open <= 0) {
      r.open = 0;
      r.idleSinceNs = this.now();
    }
  }

  /** Sums up and drops the clients idle for a window. */
  sweep(): void {
    const now = this.now();
    for (const [client, r] of this.clients) {
      if (r.open > 0 || now - r.idleSinceNs < this.windowNs) continue;
      for (const [kind, k] of r.kinds) this.summarise(client, kind, k);
      this.clients.delete(client);
    }
  }

  /** Sums up every client's suppressed lines and forgets them all (the service is stopping). */
  flush(): void {
    for (const [client, r] of this.clients) for (const [kind, k] of r.kinds) this.summarise(client, kind, k);
    this.clients.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Whether a line of `kind` caused by `client` is logged now. */
  allow(client: string, kind: string): boolean {
    let r = this.clients.get(client);
    if (!r) {
      // A line from a client with no record (its connection came before a flush): one from now.
      r = { open: 0, idleSinceNs: this.now(), kinds: new Map() };
      this.clients.set(client, r);
    }
    const now = this.now();
    let k = r.kinds.get(kind);
    if (!k) {
      k = { count: 0, windowStartNs: now };
      r.kinds.set(kind, k);
    } else if (now - k.windowStartNs >= this.windowNs) {
      this.summarise(client, kind, k);
      k.count = 0;
      k.windowStartNs = now;
    }
    return ++k.count <= this.limit;
  }

  private summarise(client: string, kind: string, k: KindCount): void {
    if (k.count > this.limit) this.log(`${client}: suppressed ${k.count - this.limit} more '${kind}' lines (${k.count} in all since the first)`);
  }

  /** Clients on record (tests: the map does not keep idle ones past a window). */
  get size(): number {
    return this.clients.size;
  }
}
