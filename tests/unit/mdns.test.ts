/**
 * mDNS / DNS-SD advertisement of the page (src/web/mdns.ts): a second, separate bonjour-service
 * instance — a browser, as a phone's Bonjour browser would be — finds the advertised service with
 * its name, port, SRV target and TXT record, and the `_sbc-audio` subtype answers; after stop() the
 * browser sees the goodbye and a fresh browser finds nothing; without advertising a browser finds
 * nothing in the same window (the negative control); a name in use is renamed `NAME (2)`; a port
 * held without SO_REUSEADDR, an interface that takes no multicast and a loopback-only HTTP server
 * are refused with an error naming mDNS and the reason, and nothing crashes.
 *
 * Where the packets go: every test uses its own free UDP port (not 5353) on the loopback interface
 * (multicast-dns's `interface: 127.0.0.1`, TTL 1), so nothing leaves the machine and a real mDNS
 * responder on a developer's machine (avahi on 5353) neither sees nor disturbs the tests. Linux
 * carries multicast over `lo` when a socket names it as its multicast interface, even though `lo`
 * lacks the MULTICAST flag; a `before` hook checks that with two plain sockets first, and skips the
 * network tests with the reason written out when it does not hold.
 *
 * Expected values are the brief's and the specs' (RFC 6763 §4.1.1: 63-byte instance names; the
 * _http._tcp TXT key `path`; the keys the brief lists), written here as literals.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Bonjour from 'bonjour-service';
import { type ServeChild, startServe } from './helpers/serve-child.ts';
import { type MdnsAdvert, type MdnsTransport, MdnsError, advertisePage, checkInstanceName, defaultInstanceName, isLoopbackBind, pageTxt } from '../../src/web/mdns.ts';

/** Long enough for a fresh browser's query and its answers on loopback (they take milliseconds), short enough to run often. */
const WINDOW_MS = 2500;
/** Hang guard for things that should happen within milliseconds. */
const GUARD_MS = 10_000;
const HOSTNAME = 'sbc-test-host';

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(0, '127.0.0.1', () => resolve()); });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function loopbackTransport(port: number): MdnsTransport {
  return { interface: '127.0.0.1', port, ttl: 1 };
}

/** Whether a datagram sent to 224.0.0.251 on the loopback interface reaches a second socket; the reason when not. */
async function loopbackMulticast(): Promise<string | null> {
  const port = await freeUdpPort();
  const sockets: dgram.Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      sockets.push(s);
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, '0.0.0.0', () => resolve()); });
      s.addMembership('224.0.0.251', '127.0.0.1');
      s.setMulticastInterface('127.0.0.1');
      s.setMulticastTTL(1);
      s.setMulticastLoopback(true);
    }
    const got = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 1500);
      sockets[1]!.once('message', () => { clearTimeout(t); resolve(true); });
    });
    await new Promise<void>((resolve, reject) => sockets[0]!.send('ping', port, '224.0.0.251', (e) => (e ? reject(e) : resolve())));
    return (await got) ? null : 'a datagram sent to 224.0.0.251 on 127.0.0.1 did not arrive within 1.5 s';
  } catch (e) {
    return (e as Error).message;
  } finally {
    for (const s of sockets) s.close();
  }
}

interface Seen { name: string; host: string; port: number; txt: Record<string, string> | undefined; fqdn: string }

/** A separate bonjour-service instance browsing `_http._tcp`, recording what comes up and goes down. */
class TestBrowser {
  readonly up: Seen[] = [];
  readonly down: string[] = [];
  private readonly instance: Bonjour;
  private readonly browser: ReturnType<Bonjour['find']>;
  private readonly requery: NodeJS.Timeout;

  constructor(readonly transport: MdnsTransport) {
    this.instance = new Bonjour({ ...transport, bind: '0.0.0.0' } as any, () => {});
    (this.instance as any).server.mdns.on('error', () => {});
    this.browser = this.instance.find({ type: 'http' });
    this.browser.on('up', (s) => this.up.push({ name: s.name, host: s.host, port: s.port, txt: s.txt, fqdn: s.fqdn }));
    this.browser.on('down', (s) => this.down.push(s.name));
    // A lost first query would leave the window empty: ask again each second.
    this.requery = setInterval(() => this.browser.update(), 1000);
  }

  async waitFor(what: string, probe: () => boolean, guardMs = GUARD_MS): Promise<void> {
    const deadline = Date.now() + guardMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${guardMs} ms (seen up: ${JSON.stringify(this.up.map((s) => s.name))}, down: ${JSON.stringify(this.down)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends a raw query and collects the answers for `name` that arrive within `ms` (the browser's own re-queries bring other answers meanwhile). */
  async query(name: string, type: string, ms: number): Promise<Array<{ name: string; type: string; data: unknown }>> {
    const mdns = (this.instance as any).server.mdns;
    const answers: Array<{ name: string; type: string; data: unknown }> = [];
    const onResponse = (packet: { answers: typeof answers }) => { answers.push(...packet.answers.filter((rr) => rr.name.toLowerCase() === name.toLowerCase())); };
    mdns.on('response', onResponse);
    mdns.query(name, type);
    await new Promise((r) => setTimeout(r, ms));
    mdns.removeListener('response', onResponse);
    return answers;
  }

  async close(): Promise<void> {
    clearInterval(this.requery);
    this.browser.stop();
    await new Promise<void>((resolve) => this.instance.destroy(() => resolve()));
  }
}

describe('mDNS advertisement (src/web/mdns.ts): names, TXT and refusals', function () {
  it('names the instance "sbc-audio <board> on <host>", within 63 bytes, without dots', function () {
    assert.equal(defaultInstanceName('sim', 'vm'), 'sbc-audio sim on vm');
    assert.equal(defaultInstanceName('hifiberry-dacplus', 'pi.lan'), 'sbc-audio hifiberry-dacplus on pi-lan');
    const long = defaultInstanceName('b'.repeat(40), 'h'.repeat(40));
    assert.equal(Buffer.byteLength(long), 63);
    assert.ok(long.startsWith(`sbc-audio ${'b'.repeat(40)} on h`), long);
    // Multi-byte characters are not split: 30 × 'é' (2 bytes each) in the host part.
    const utf = defaultInstanceName('sim', 'é'.repeat(30));
    assert.ok(Buffer.byteLength(utf) <= 63 && !utf.includes('\ufffd'), utf);
  });

  it('refuses an instance name over 63 bytes, empty, or with a dot, naming the field; takes one of 63', function () {
    assert.throws(() => checkInstanceName('x'.repeat(64)), (e: Error) => e instanceof MdnsError && /^mDNS: instance name \(name\).*64 bytes.*at most 63/.test(e.message));
    assert.throws(() => checkInstanceName(''), /mDNS: instance name \(name\): empty/);
    assert.throws(() => checkInstanceName('a.b'), /mDNS: instance name \(name\) "a\.b": contains a '\.'/);
    assert.doesNotThrow(() => checkInstanceName('x'.repeat(63)));
    assert.doesNotThrow(() => checkInstanceName('Kitchen speaker (2)'));
  });

  it('publishes TXT txtvers=1, path=/, api=/api/, board=<board>, auth=none|token (never the token)', function () {
    assert.deepEqual(pageTxt('sim', false), { txtvers: '1', path: '/', api: '/api/', board: 'sim', auth: 'none' });
    assert.deepEqual(pageTxt('sim', true), { txtvers: '1', path: '/', api: '/api/', board: 'sim', auth: 'token' });
    assert.throws(() => pageTxt('b'.repeat(250), false), /mDNS: TXT "board" \(board name\): 256 bytes as key=value, at most 255/);
  });

  it('refuses to advertise an HTTP server bound to loopback, saying why; takes any other bind address', async function () {
    for (const host of ['127.0.0.1', '127.0.1.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      await assert.rejects(
        advertisePage({ name: 'sbc-audio sim on test', port: 7771, board: 'sim', host, transport: loopbackTransport(9) }),
        (e: Error) => e instanceof MdnsError && e.message.startsWith('mDNS: not advertising') && e.message.includes('loopback') && e.message.includes(host),
        host,
      );
    }
    // Negative control: the same check passes what a phone can reach.
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'fd00::2']) assert.equal(isLoopbackBind(host), false, host);
  });

  it('refuses a port outside 1..65535, naming it', async function () {
    await assert.rejects(advertisePage({ name: 'x', port: 0, board: 'sim', host: '0.0.0.0' }), /mDNS: port 0: expected the HTTP server's port, an integer 1 to 65535/);
    await assert.rejects(advertisePage({ name: 'x', port: 65536, board: 'sim', host: '0.0.0.0' }), /mDNS: port 65536/);
  });
});

describe('mDNS advertisement (src/web/mdns.ts) seen by a separate browser, on the loopback interface', function () {
  this.timeout(60_000);
  const open: Array<{ close(): Promise<void> } | MdnsAdvert> = [];
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => { uncaught.push(e); };

  before(async function () {
    const reason = await loopbackMulticast();
    if (reason !== null) {
      console.log(`    skipped: multicast over the loopback interface does not work on this machine (${reason}); these tests send mDNS only over loopback so as not to reach the network, and cannot run without it`);
      this.skip();
    }
    process.on('uncaughtException', onUncaught);
  });

  afterEach(async function () {
    while (open.length) {
      const o = open.pop()!;
      await ('stop' in o ? o.stop() : o.close());
    }
  });

  after(function () {
    process.removeListener('uncaughtException', onUncaught);
    assert.deepEqual(uncaught, [], 'no uncaught exception while advertising');
  });

  it('negative control: without an advertisement, a browser finds nothing in the window', async function () {
    const transport = loopbackTransport(await freeUdpPort());
    const browser = new TestBrowser(transport);
    open.push(browser);
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    assert.deepEqual(browser.up, []);
  });

  it('a browser finds the page: name, SRV port and target, TXT; the _sbc-audio subtype answers', async function () {
    const transport = loopbackTransport(await freeUdpPort());
    const logs: string[] = [];
    const advert = await advertisePage({ name: 'sbc-audio sim on test', port: 7771, board: 'sim', host: '0.0.0.0', token: true, transport, hostname: HOSTNAME, log: (m) => logs.push(m) });
    open.push(advert);
    assert.equal(advert.name, 'sbc-audio sim on test');
    assert.equal(advert.type, '_http._tcp');
    const browser = new TestBrowser(transport);
    open.push(browser);
    const t0 = Date.now();
    await browser.waitFor('the advertised page', () => browser.up.some((s) => s.name === 'sbc-audio sim on test'), WINDOW_MS);
    // Found within the window the negative control waits: that window is long enough to have found it.
    assert.ok(Date.now() - t0 < WINDOW_MS);
    const seen = browser.up.find((s) => s.name === 'sbc-audio sim on test')!;
    assert.equal(seen.port, 7771);
    assert.equal(seen.host, 'sbc-test-host.local');
    assert.equal(seen.fqdn, 'sbc-audio sim on test._http._tcp.local');
    assert.deepEqual(seen.txt, { txtvers: '1', path: '/', api: '/api/', board: 'sim', auth: 'token' });

    const sub = await browser.query('_sbc-audio._sub._http._tcp.local', 'PTR', 500);
    assert.ok(sub.some((rr) => rr.type === 'PTR' && rr.name === '_sbc-audio._sub._http._tcp.local' && rr.data === 'sbc-audio sim on test._http._tcp.local'), JSON.stringify(sub));
    // Negative control for the subtype query: a subtype nobody published gets no answer.
    const other = await browser.query('_printer._sub._http._tcp.local', 'PTR', 500);
    assert.deepEqual(other, []);
    assert.deepEqual(logs, []);
  });

  it('stop() sends the goodbye (the browser sees the page go), a fresh browser finds nothing, and stop() again is harmless', async function () {
    const transport = loopbackTransport(await freeUdpPort());
    const advert = await advertisePage({ name: 'sbc-audio sim on test', port: 7771, board: 'sim', transport, hostname: HOSTNAME });
    const browser = new TestBrowser(transport);
    open.push(browser);
    await browser.waitFor('the advertised page', () => browser.up.some((s) => s.name === 'sbc-audio sim on test'));
    assert.deepEqual(browser.down, []);
    await advert.stop();
    await browser.waitFor('the goodbye', () => browser.down.includes('sbc-audio sim on test'));
    await advert.stop();

    const fresh = new TestBrowser(transport);
    open.push(fresh);
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    assert.deepEqual(fresh.up, []);
  });

  it('a name in use is probed and renamed "NAME (2)"; both are then found', async function () {
    const transport = loopbackTransport(await freeUdpPort());
    const first = await advertisePage({ name: 'sbc-audio sim on test', port: 7771, board: 'sim', transport, hostname: HOSTNAME });
    open.push(first);
    const logs: string[] = [];
    const second = await advertisePage({ name: 'sbc-audio sim on test', port: 7772, board: 'sim', transport, hostname: HOSTNAME, log: (m) => logs.push(m) });
    open.push(second);
    assert.equal(first.name, 'sbc-audio sim on test');
    assert.equal(second.name, 'sbc-audio sim on test (2)');
    assert.deepEqual(logs, ['mDNS: the name "sbc-audio sim on test" is in use on the network: trying "sbc-audio sim on test (2)"']);
    const browser = new TestBrowser(transport);
    open.push(browser);
    await browser.waitFor('both pages', () => browser.up.length === 2);
    assert.deepEqual(browser.up.map((s) => [s.name, s.port]).sort((a, b) => (a[1] as number) - (b[1] as number)), [['sbc-audio sim on test', 7771], ['sbc-audio sim on test (2)', 7772]]);
  });

  it('a port held without SO_REUSEADDR is an error naming mDNS and the reason, not a crash', async function () {
    const port = await freeUdpPort();
    const holder = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve) => holder.bind(port, '0.0.0.0', () => resolve()));
    open.push({ close: () => new Promise<void>((resolve) => holder.close(() => resolve())) });
    await assert.rejects(
      advertisePage({ name: 'sbc-audio sim on test', port: 7771, board: 'sim', transport: loopbackTransport(port) }),
      (e: Error) => e instanceof MdnsError && /^mDNS: cannot listen: UDP port \d+ is taken .*EADDRINUSE/.test(e.message),
    );
    // The second 'error' multicast-dns emits for a failed bind must not surface as an uncaught exception.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(uncaught, []);
  });

  it('an interface that cannot join the group is an error naming mDNS, the group and the interface', async function () {
    // 203.0.113.1 (TEST-NET-3, RFC 5737) is no address of this machine: joining fails, and nothing is sent.
    await assert.rejects(
      advertisePage({ name: 'sbc-audio sim on test', port: 7771, board: 'sim', transport: { interface: '203.0.113.1', port: await freeUdpPort(), ttl: 1 } }),
      (e: Error) => e instanceof MdnsError && /^mDNS: cannot join the multicast group 224\.0\.0\.251 on interface 203\.0\.113\.1: /.test(e.message),
    );
  });
});

/**
 * `serve --mdns` as a user runs it (tests/unit/helpers/serve-child.ts: the real CLI on the sim
 * board), bound beyond loopback with a token, on the standard mDNS port and interfaces — the
 * acceptance line: "with mDNS enabled, a second bonjour-service instance finds the page; without
 * the flag it finds nothing". A machine whose network takes no multicast cannot run this: the
 * first case then fails saying nothing was found, rather than passing on silence.
 */
describe('serve --mdns (the real CLI, the standard mDNS port)', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const serves: ServeChild[] = [];
  after(async () => {
    for (const s of serves.splice(0)) await s.stop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** The `_http._tcp` services a default bonjour-service browser sees within `ms` on `port`. */
  async function browseFor(port: number, ms: number): Promise<{ name: string; port: number; txt: Record<string, unknown> }[]> {
    const b = new Bonjour();
    const seen: { name: string; port: number; txt: Record<string, unknown> }[] = [];
    try {
      b.find({ type: 'http' }, (s) => {
        if (s.port === port) seen.push({ name: s.name, port: s.port, txt: (s.txt ?? {}) as Record<string, unknown> });
      });
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      b.destroy();
    }
    return seen;
  }

  async function serve(mdns: boolean): Promise<{ s: ServeChild; port: number }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-mdns-serve-'));
    dirs.push(dir);
    const s = await startServe('sim', dir, 60_000, ['--http-bind', '0.0.0.0:0', '--http-token', 'mdns-test-token-0123456789', ...(mdns ? ['--mdns'] : [])]);
    serves.push(s);
    return { s, port: Number(new URL(s.url).port) };
  }

  it('with --mdns a separate browser finds the page (name, port, TXT); without it, nothing on that port', async () => {
    const on = await serve(true);
    // The line comes once the name is probed and published (after the http line startServe waited for).
    for (let i = 0; i < 400 && !/^ {2}mdns /m.test(on.s.out()) && !/mDNS/.test(on.s.err()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(on.s.out(), /^ {2}mdns {4}"sbc-audio sim on [^"]+" \(_http\._tcp, port \d+\)$/m);
    const found = await browseFor(on.port, 4000);
    assert.ok(found.length >= 1, `no _http._tcp service on port ${on.port} within 4 s (serve said: ${on.s.out()} ${on.s.err()})`);
    assert.match(found[0]!.name, /^sbc-audio sim on /);
    assert.equal(found[0]!.txt.board, 'sim');
    assert.equal(found[0]!.txt.auth, 'token');
    await on.s.stop();

    const off = await serve(false);
    assert.doesNotMatch(off.s.out(), /^ {2}mdns /m);
    assert.deepEqual(await browseFor(off.port, 4000), [], 'without --mdns nothing is advertised');
  });

  it('bound to loopback (the default), --mdns says why it does not advertise, and serves on', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-mdns-serve-'));
    dirs.push(dir);
    const s = await startServe('sim', dir, 60_000, ['--mdns']);
    serves.push(s);
    for (let i = 0; i < 100 && !/mDNS: not advertising/.test(s.err()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(s.err(), /mDNS: not advertising: the HTTP server is bound to 127\.0\.0\.1 \(loopback\)/);
    assert.equal((await fetch(new URL('/api/board', s.url))).status, 200, 'still serving');
  });
});
