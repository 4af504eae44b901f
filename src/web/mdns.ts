/**
 * mDNS / DNS-SD advertisement of the status page (issue 24), so that a phone's "Bonjour browser"
 * (or Safari's Bonjour list, `avahi-browse -r _http._tcp`, `dns-sd -B _http._tcp`) finds the board
 * without anyone typing an address. Off by default: `serve --mdns` turns it on (wired in src/cli).
 *
 * What is published (one DNS-SD service instance, through the `bonjour-service` package, which
 * answers queries and sends the announcements and goodbyes itself):
 *  - type `_http._tcp`: the type generic web browsers and Bonjour browsers look for (RFC 6763 §7.1
 *    gives it as the example of what "a web browser wanting to discover all advertised web pages"
 *    queries). Our page is plain HTTP, so that is the type; a type of our own alone would hide the
 *    page from every browser;
 *  - subtype `_sbc-audio._sub._http._tcp`: RFC 6763 §7.1's way to let specific clients (our own
 *    tools) ask for "only the HTTP pages that are sbc-audio boards" without a second service type.
 *    A subtype is a PTR record in the same `_http._tcp` name space, so it costs one record and no
 *    second name to probe, and no service name of our own (`_sbc-audio._tcp` would be one, and
 *    service names are meant to be registered with IANA: RFC 6763 §7, RFC 6335);
 *  - instance name: by default `sbc-audio <board> on <host>` (defaultInstanceName), at most 63
 *    bytes of UTF-8 (RFC 6763 §4.1.1: the instance part is one DNS label). Spaces and capitals are
 *    allowed in instance names: they are meant to be read by people;
 *  - SRV: the HTTP server's port, target `<hostname>.local` (bonjour-service's default target is
 *    the bare `os.hostname()`, which an mDNS resolver, resolving only names under `local.`, cannot
 *    look up; bonjour-service answers A / AAAA queries for the target we give it);
 *  - TXT (RFC 6763 §6: `key=value` strings of at most 255 bytes each; §6.4: keys of at most nine
 *    characters; unknown keys are ignored by clients):
 *      txtvers=1  RFC 6763 §6.7's version tag for the key set below, first, so the set can change;
 *      path=/     the key the `_http._tcp` type defines for the part of the URL after the port
 *                 (dns-sd.org's TXT record page for _http._tcp, which also defines `u` and `p`;
 *                 without it a client assumes "/" — said explicitly all the same);
 *      api=/api/  where the JSON API starts (docs/REMOTE.md), for our tools;
 *      board=NAME the served board (the board file's name), to tell boards apart in a list;
 *      auth=token | none  whether the server wants a token (a browser opening a board that asks
 *                 for one must be given `?token=...` once). The token itself is never published:
 *                 the advertisement is readable by everything on the link.
 *
 * Name conflicts (RFC 6762 §8.1 probing, §9 conflict resolution): before publishing, the name is
 * probed — three queries for the instance's full name, 250 ms apart — and if anyone answers, the
 * next candidate `NAME (2)`, `NAME (3)` … up to `(MAX_RENAMES + 1)` is tried, each rename logged;
 * MdnsAdvert.name is the name finally published. We probe ourselves rather than let bonjour-service
 * do it: on a conflict it only console.logs an Error and stops the service, with no event to tell
 * its caller and no rename. After publishing, a newcomer claiming our name is expected to probe
 * and rename itself (bonjour-service does not defend a published name beyond answering queries).
 *
 * Errors never crash the service: advertisePage rejects with an MdnsError naming mDNS and the reason
 * (the port taken by a responder that did not set SO_REUSEADDR, no interface that takes multicast,
 * a multicast send refused) and leaves no socket open; errors after publishing (socket errors, a
 * failed answer) go to `log`. bonjour-service itself throws from a failed answer unless given an
 * error callback, and multicast-dns emits 'error' events that crash a process when nobody listens:
 * both are caught here.
 *
 * Loopback: an HTTP server bound to loopback only (127.0.0.0/8, ::1, localhost — serve's default)
 * cannot be reached from a phone, and advertising it would put an entry on every phone of the LAN
 * that fails to open, which looks like a network fault. So advertisePage refuses it (MdnsError:
 * "bind the HTTP server beyond loopback"); serve logs that and goes on serving on loopback.
 *
 * Not handled: the A / AAAA records are the addresses of every non-internal interface at the time
 * of publishing (bonjour-service computes them once); an address that arrives later (a board whose
 * network comes up after the service) is not advertised until the next start.
 */
import os from 'node:os';
import { isIP } from 'node:net';
import Bonjour from 'bonjour-service';
import { isLoopbackAddress } from './http.ts';

/** The DNS-SD service type (bonjour-service's short form: `_http._tcp`). */
export const HTTP_SERVICE_TYPE = 'http';
export const HTTP_SERVICE_TYPE_FQ = '_http._tcp';
/** The subtype our own tools browse for: `_sbc-audio._sub._http._tcp.local`. */
export const SBC_AUDIO_SUBTYPE = 'sbc-audio';
/** RFC 6763 §4.1.1: the instance name is one DNS label, at most 63 bytes (UTF-8). */
export const MAX_INSTANCE_NAME_BYTES = 63;
/** RFC 1035 §3.3.14 / RFC 6763 §6.1: each TXT string is at most 255 bytes. */
export const MAX_TXT_STRING_BYTES = 255;
/** Conflicts tolerated before giving up: names `NAME (2)` … `NAME (MAX_RENAMES + 1)`. */
export const MAX_RENAMES = 9;

/** RFC 6762 §8.1: three probes, 250 ms apart. */
const PROBES = 3;
const PROBE_INTERVAL_MS = 250;
/** Hang guards: binding the socket, and the first announcement's send. Neither takes more than milliseconds when it works. */
const READY_TIMEOUT_MS = 5000;
const ANNOUNCE_TIMEOUT_MS = 5000;
/** stop(): the goodbye is one datagram; past this the instance is destroyed without waiting for its send. */
const GOODBYE_TIMEOUT_MS = 2000;

/**
 * Where the mDNS socket listens and sends (multicast-dns's options). Default: the mDNS group
 * 224.0.0.251, port 5353, on every IPv4 interface — what phones listen to. Tests use a private
 * port on the loopback interface so nothing leaves the machine; a board with several networks may
 * name the one interface (by its IPv4 address) to advertise on.
 */
export interface MdnsTransport {
  /** IPv4 address of the interface to join the group on and send from (default: all). */
  interface?: string;
  /** Address the socket binds (default: all, 0.0.0.0). Linux delivers no multicast to a socket bound to a unicast address, so naming `interface` does not bind to it. */
  bind?: string;
  /** UDP port (default 5353). */
  port?: number;
  /** Multicast group (default 224.0.0.251). */
  ip?: string;
  /** Multicast TTL (default 255, as RFC 6762 §11 has mDNS senders use). */
  ttl?: number;
}

export interface AdvertisePageOptions {
  /** The service instance name people see; defaultInstanceName(board) gives `sbc-audio <board> on <host>`. No dots (see checkInstanceName). */
  name: string;
  /** The HTTP server's port (WebServer.port). */
  port: number;
  /** The served board's name (TXT `board=`). */
  board: string;
  /** Whether the HTTP server wants a token (TXT `auth=token` / `auth=none`). */
  token?: boolean;
  /**
   * The address the HTTP server is bound to (WebServer.address). A loopback address is refused
   * (see the module comment). Absent: taken as bound to all interfaces (node's listen() without a
   * host).
   */
  host?: string;
  /** Renames, late errors and warnings (default: dropped). */
  log?: (m: string) => void;
  /** The mDNS socket (default: the real mDNS group and port on every interface). */
  transport?: MdnsTransport;
  /** The SRV target's host name, without `.local` (default: os.hostname() up to its first dot). */
  hostname?: string;
}

export interface MdnsAdvert {
  /** The instance name published (the one asked for, or `NAME (N)` after a conflict). */
  readonly name: string;
  /** `_http._tcp`. */
  readonly type: string;
  /** `sbc-audio` (published as `_sbc-audio._sub._http._tcp`). */
  readonly subtype: string;
  /** The TXT record published. */
  readonly txt: Readonly<Record<string, string>>;
  /** Sends the goodbye (the records with TTL 0, RFC 6762 §10.1) and closes the socket. Idempotent; never rejects. */
  stop(): Promise<void>;
}

/** An mDNS failure; the message starts with "mDNS:" and says why. */
export class MdnsError extends Error {
  override name = 'MdnsError';
}

/** This machine's host name as one label (os.hostname() may be a dotted FQDN). */
export function shortHostname(): string {
  return os.hostname().split('.')[0] || 'localhost';
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (utf8Bytes(out + ch) > max) break;
    out += ch;
  }
  return out;
}

/**
 * `sbc-audio <board> on <host>`, cut to 63 bytes (the host part is cut first, then the board).
 * Dots (a dotted host name or board name) become '-': bonjour-service writes names into DNS names
 * unescaped, so a dot would split the label.
 */
export function defaultInstanceName(board: string, hostname: string = shortHostname()): string {
  const clean = (s: string) => s.replace(/\./g, '-');
  const head = `sbc-audio ${clean(board)}`;
  const full = `${head} on ${clean(hostname)}`;
  if (utf8Bytes(full) <= MAX_INSTANCE_NAME_BYTES) return full;
  if (utf8Bytes(head) + ' on '.length < MAX_INSTANCE_NAME_BYTES) return truncateUtf8(full, MAX_INSTANCE_NAME_BYTES);
  return truncateUtf8(head, MAX_INSTANCE_NAME_BYTES);
}

/** Throws naming the field when `name` cannot be published as an instance name. */
export function checkInstanceName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new MdnsError('mDNS: instance name (name): empty');
  if (utf8Bytes(name) > MAX_INSTANCE_NAME_BYTES) {
    throw new MdnsError(`mDNS: instance name (name) ${JSON.stringify(name)}: ${utf8Bytes(name)} bytes of UTF-8, at most ${MAX_INSTANCE_NAME_BYTES} (RFC 6763 §4.1.1)`);
  }
  // bonjour-service replaces dots with '-' silently; we refuse, so the name published is the one asked for.
  if (name.includes('.')) throw new MdnsError(`mDNS: instance name (name) ${JSON.stringify(name)}: contains a '.', which bonjour-service cannot publish unchanged (use '-')`);
  if (/[\x00-\x1f\x7f]/.test(name)) throw new MdnsError(`mDNS: instance name (name) ${JSON.stringify(name)}: contains a control character`);
}

/** The TXT record for a page (see the module comment for each key's source). Key order is publication order. */
export function pageTxt(board: string, token: boolean): Record<string, string> {
  const txt: Record<string, string> = {
    txtvers: '1',
    path: '/',
    api: '/api/',
    board,
    auth: token ? 'token' : 'none',
  };
  for (const [k, v] of Object.entries(txt)) {
    const bytes = utf8Bytes(`${k}=${v}`);
    if (bytes > MAX_TXT_STRING_BYTES) throw new MdnsError(`mDNS: TXT "${k}" (${k === 'board' ? 'board name' : k}): ${bytes} bytes as key=value, at most ${MAX_TXT_STRING_BYTES}`);
  }
  return txt;
}

/** Candidate names after a conflict: `NAME (2)`, cut so the whole stays within 63 bytes. */
function renamed(base: string, n: number): string {
  const suffix = ` (${n})`;
  return truncateUtf8(base, MAX_INSTANCE_NAME_BYTES - utf8Bytes(suffix)) + suffix;
}

/** Whether an HTTP bind address reaches only this machine. */
export function isLoopbackBind(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  return isIP(h) !== 0 && isLoopbackAddress(h);
}

/** The subset of multicast-dns's instance that we use (bonjour-service keeps it in a private field). */
interface MdnsSocket {
  on(event: string, fn: (...args: any[]) => void): unknown;
  once(event: string, fn: (...args: any[]) => void): unknown;
  removeListener(event: string, fn: (...args: any[]) => void): unknown;
  query(q: unknown, type: string, cb: (err: Error | null) => void): void;
  query(q: unknown, cb: (err: Error | null) => void): void;
}

interface DnsRecord { name: string; type: string; ttl?: number; data?: unknown }
interface DnsPacket { answers?: DnsRecord[]; additionals?: DnsRecord[] }

function mdnsOf(instance: Bonjour): MdnsSocket {
  const mdns = (instance as unknown as { server?: { mdns?: MdnsSocket } }).server?.mdns;
  if (!mdns || typeof mdns.on !== 'function' || typeof mdns.query !== 'function') {
    throw new MdnsError('mDNS: bonjour-service has no server.mdns (its internals changed: check the installed version against package.json)');
  }
  return mdns;
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && 'message' in e) return e.code ? `${e.code} (${e.message})` : String(e.message);
  return String(err);
}

/** DNS names compare case-insensitively (RFC 1035 §2.3.3). */
function sameName(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
}

function destroyQuietly(instance: Bonjour): Promise<void> {
  return new Promise((resolve) => {
    try {
      instance.destroy(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** Waits for the socket to be bound and in the multicast group on at least one interface. */
function whenReady(mdns: MdnsSocket, transport: MdnsTransport, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const warnings: string[] = [];
    let joined = false;
    const cleanup = () => {
      clearTimeout(timer);
      mdns.removeListener('ready', onReady);
      mdns.removeListener('error', onError);
      mdns.removeListener('warning', onWarning);
      mdns.removeListener('networkInterface', onJoined);
    };
    const onJoined = () => { joined = true; };
    const onWarning = (err: unknown) => { warnings.push(describe(err)); };
    const onError = (err: unknown) => {
      cleanup();
      const e = err as NodeJS.ErrnoException;
      const why = e?.code === 'EADDRINUSE'
        ? `UDP port ${port} is taken by a program that did not allow sharing it (SO_REUSEADDR): another mDNS responder? avahi-daemon shares it`
        : e?.code === 'EACCES' ? `not allowed to bind UDP port ${port}` : 'the socket failed';
      reject(new MdnsError(`mDNS: cannot listen: ${why}: ${describe(err)}`));
    };
    const onReady = () => {
      cleanup();
      // multicast-dns joins the group in its 'listening' handler, before it says 'ready'.
      if (!joined) {
        const where = transport.interface ? `on interface ${transport.interface}` : 'on any IPv4 interface';
        reject(new MdnsError(`mDNS: cannot join the multicast group ${transport.ip ?? '224.0.0.251'} ${where}: ${warnings.join('; ') || 'no interface'}`));
        return;
      }
      resolve();
    };
    const timer = setTimeout(() => { cleanup(); reject(new MdnsError(`mDNS: the socket was not bound within ${READY_TIMEOUT_MS} ms`)); }, READY_TIMEOUT_MS);
    mdns.on('networkInterface', onJoined);
    mdns.on('warning', onWarning);
    mdns.once('error', onError);
    mdns.once('ready', onReady);
  });
}

/**
 * Probes `fqdn` (RFC 6762 §8.1, without the authority section: we only listen for answers).
 * Resolves true when something answers for it, false after three unanswered probes; rejects when
 * a probe cannot be sent (no route for multicast, sending refused).
 */
function probe(mdns: MdnsSocket, fqdn: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (err: Error | null, taken: boolean) => {
      clearTimeout(timer);
      mdns.removeListener('response', onResponse);
      if (err) reject(err);
      else resolve(taken);
    };
    const onResponse = (packet: DnsPacket) => {
      const rrs = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
      if (rrs.some((rr) => sameName(rr.name, fqdn) && (rr.ttl ?? 1) > 0)) done(null, true);
    };
    const send = () => {
      mdns.query(fqdn, 'ANY', (err) => {
        if (err) {
          done(new MdnsError(`mDNS: cannot send multicast: ${describe(err)}`), false);
          return;
        }
        sent += 1;
        timer = setTimeout(sent < PROBES ? send : () => done(null, false), PROBE_INTERVAL_MS);
      });
    };
    mdns.on('response', onResponse);
    send();
  });
}

/**
 * Publishes the page (see the module comment). Rejects with an MdnsError, having closed what it
 * opened, when it cannot; the caller logs that and serves on without the advertisement.
 */
export async function advertisePage(opts: AdvertisePageOptions): Promise<MdnsAdvert> {
  const log = opts.log ?? (() => {});
  checkInstanceName(opts.name);
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new MdnsError(`mDNS: port ${JSON.stringify(opts.port)}: expected the HTTP server's port, an integer 1 to 65535`);
  }
  if (typeof opts.board !== 'string' || opts.board.length === 0) throw new MdnsError('mDNS: board: empty');
  if (opts.host !== undefined && isLoopbackBind(opts.host)) {
    throw new MdnsError(`mDNS: not advertising: the HTTP server is bound to ${opts.host} (loopback), which no phone on the network can reach; bind it beyond loopback (serve --http-bind 0.0.0.0:PORT with --http-token) to be found`);
  }
  const txt = pageTxt(opts.board, opts.token === true);
  const hostname = (opts.hostname ?? shortHostname()).replace(/\.local\.?$/i, '');
  if (!hostname || hostname.includes('.')) throw new MdnsError(`mDNS: hostname ${JSON.stringify(hostname)}: expected one label, without dots`);
  const transport = opts.transport ?? {};

  let lateErrors = 0;
  const seenWarnings = new Set<string>();
  // bonjour-service's Server throws this callback's argument by default (from a socket callback: a crash).
  const mdnsOptions = { ...transport, bind: transport.bind ?? (transport.interface !== undefined ? '0.0.0.0' : undefined) };
  const instance = new Bonjour(mdnsOptions as any, (err: unknown) => {
    lateErrors += 1;
    log(`mDNS: answering a query failed: ${describe(err)}`);
  });
  let mdns: MdnsSocket;
  try {
    mdns = mdnsOf(instance);
  } catch (e) {
    await destroyQuietly(instance);
    throw e;
  }
  // Without a listener, multicast-dns's 'error' event is thrown (a crash). A failed bind is emitted
  // twice (by its bind callback and its socket's error handler): whenReady reports the first, this
  // listener swallows the second and logs only errors after start-up.
  let started = false;
  const onLateError = (err: unknown) => {
    if (!started) return;
    lateErrors += 1;
    log(`mDNS: socket error: ${describe(err)}`);
  };
  mdns.on('error', onLateError);

  try {
    await whenReady(mdns, transport, transport.port ?? 5353);
    // Interfaces that fail to join are retried every 5 s by multicast-dns: say each reason once.
    mdns.on('warning', (err: unknown) => {
      const m = describe(err);
      if (!seenWarnings.has(m)) { seenWarnings.add(m); log(`mDNS: warning: ${m}`); }
    });

    let name = opts.name;
    for (let n = 2; ; n++) {
      const taken = await probe(mdns, `${name}.${HTTP_SERVICE_TYPE_FQ}.local`);
      if (!taken) break;
      if (n > MAX_RENAMES + 1) throw new MdnsError(`mDNS: instance name ${JSON.stringify(opts.name)} and ${MAX_RENAMES} renames are all in use on the network`);
      const next = renamed(opts.name, n);
      log(`mDNS: the name ${JSON.stringify(name)} is in use on the network: trying ${JSON.stringify(next)}`);
      name = next;
    }

    const service = instance.publish({
      name,
      type: HTTP_SERVICE_TYPE,
      protocol: 'tcp',
      port: opts.port,
      host: `${hostname}.local`,
      subtypes: [SBC_AUDIO_SUBTYPE],
      txt,
      probe: false, // probed above
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new MdnsError(`mDNS: the announcement was not sent within ${ANNOUNCE_TIMEOUT_MS} ms`)), ANNOUNCE_TIMEOUT_MS);
      service.once('up', () => { clearTimeout(timer); resolve(); });
    });

    started = true;
    let stopping: Promise<void> | undefined;
    const advert: MdnsAdvert = {
      name,
      type: HTTP_SERVICE_TYPE_FQ,
      subtype: SBC_AUDIO_SUBTYPE,
      txt,
      stop() {
        stopping ??= (async () => {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, GOODBYE_TIMEOUT_MS);
            try {
              instance.unpublishAll(() => { clearTimeout(timer); resolve(); });
            } catch (err) {
              log(`mDNS: sending the goodbye failed: ${describe(err)}`);
              clearTimeout(timer);
              resolve();
            }
          });
          await destroyQuietly(instance);
          if (lateErrors > 0) log(`mDNS: stopped after ${lateErrors} error(s)`);
        })();
        return stopping;
      },
    };
    return advert;
  } catch (e) {
    await destroyQuietly(instance);
    throw e instanceof MdnsError ? e : new MdnsError(`mDNS: ${describe(e)}`);
  }
}
