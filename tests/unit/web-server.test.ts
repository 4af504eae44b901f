/**
 * The HTTP + WebSocket API server (src/web/server.ts) against an in-memory ApplianceSource: every
 * route with its answers and its 4xx reasons (a refused change changes nothing), the token and
 * the loopback rules, the page's files and path traversal, and the WebSocket subscriptions — events
 * by kind, the level rate counted over a VirtualClock second, the 4 KiB message bound (1009), and
 * a client that stops reading being skipped and then dropped.
 *
 * Expected figures are the brief's (issue 24 contract): 16 KiB bodies, 4 KiB messages, 20 Hz
 * default and 50 Hz cap, 256 KiB backlog, 5 s before the drop.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import type { ControlInfo, ControlListing } from '../../src/control/types.ts';
import type { Program } from '../../src/control/programs.ts';
import { VirtualClock } from '../../src/hal/sim/clock.ts';
import type { ApplianceEvent, ApplianceSource, LevelReading, StreamStatus } from '../../src/web/source.ts';
import { type WebServer, type WebServerOptions, startWebServer } from '../../src/web/server.ts';

const TOKEN = 'tok-0123456789abcdef';

function control(id: string, kind: 'volume' | 'switch', value: number | boolean): ControlInfo {
  const name = id.split('.').pop()!;
  return {
    id, name, kind, owner: { kind: 'stream', id: 'speaker' }, direction: 'output',
    ...(kind === 'volume' ? { range: { min: -60, max: 0, step: 0.5 }, unit: 'dB' as const } : { values: ['off', 'on'], unit: 'none' as const }),
    default: kind === 'volume' ? -20 : false, realtimeSafe: true, writable: true, source: 'test fixture', persistent: true,
    value, state: 'idle',
  };
}

/** An in-memory appliance: two controls, two streams (the speaker metered), two programs. */
class FakeSource implements ApplianceSource {
  readonly board = 'sim';
  readonly controls = new Map<string, ControlInfo>([
    ['sim.speaker.gain', control('sim.speaker.gain', 'volume', -20)],
    ['sim.speaker.mute', control('sim.speaker.mute', 'switch', false)],
  ]);
  /** Calls that changed a value (a refused or thrown set must not add one). */
  changes: string[] = [];
  setCalls = 0;
  loads: string[] = [];
  current: { bank: number; program: number } | null = { bank: 0, program: 0 };
  /** Channels per level reading (the slow-client test makes the messages large). */
  levelChannels = 2;
  levelReads = 0;
  private listeners = new Set<(e: ApplianceEvent) => void>();
  readonly programList: Program[] = [
    { bank: 0, program: 0, name: 'DAC Filter: normal', values: { 'sim.sim-codec.dac-filter': 'normal' }, source: 'fixture' },
    { bank: 0, program: 1, name: 'DAC Filter: slow', values: { 'sim.sim-codec.dac-filter': 'slow' }, source: 'fixture' },
  ];

  /** Makes the listing fail (a source failure, not bad input). */
  listFails = false;

  async listControls(): Promise<ControlListing> {
    if (this.listFails) throw new Error('control channel closed');
    const d = { id: 'sim', name: 'Simulated board', vendor: 'test', version: '0', licence: 'MIT', source: 'fixture' };
    return { board: d, parts: [], controls: [...this.controls.values()].map((c) => ({ ...c })) };
  }

  async getControl(id: string): Promise<ControlInfo> {
    const c = this.controls.get(id);
    if (!c) throw new Error(`no control "${id}" on board sim`);
    return { ...c };
  }

  async setControl(id: string, value: unknown) {
    this.setCalls++;
    const c = this.controls.get(id);
    if (!c) throw new Error(`no control "${id}" on board sim`);
    if (c.kind === 'volume') {
      if (typeof value !== 'number' || value < -60 || value > 0) {
        return { status: 'refused' as const, error: `${id}: ${JSON.stringify(value)} is outside -60 .. 0 dB (step 0.5)` };
      }
    } else if (typeof value !== 'boolean') {
      return { status: 'refused' as const, error: `${id}: expected on/off (true/false), got ${JSON.stringify(value)}` };
    }
    c.value = value;
    this.changes.push(`${id}=${value}`);
    this.emit({ type: 'control', control: { ...c } });
    return { status: 'applied' as const, control: { ...c } };
  }

  programs() {
    return { list: this.programList, current: this.current };
  }

  async loadProgram(bank: number, program: number): Promise<Program> {
    const p = this.programList.find((x) => x.bank === bank && x.program === program);
    if (!p) throw new Error(`no program ${bank}/${program}`);
    this.loads.push(`${bank}/${program}`);
    this.current = { bank, program };
    return p;
  }

  streams(): StreamStatus[] {
    const latency = { direction: 'output' as const, rate: 48000, items: [], totalNs: 0, totalFrames: 0, unknown: [] };
    return [
      { id: 'speaker', endpoint: 'sim.speaker', direction: 'output', purpose: 'speaker', state: 'idle', plugged: false, xruns: { underruns: 0, overruns: 0 }, latency, lateness: null },
      { id: 'mic', endpoint: 'sim.mic', direction: 'input', purpose: 'microphone', state: 'idle', xruns: { underruns: 0, overruns: 0 }, latency: { ...latency, direction: 'input' }, lateness: null },
    ];
  }

  levels(stream: string): LevelReading | undefined {
    if (stream !== 'speaker') return undefined;
    this.levelReads++;
    const n = this.levelChannels;
    // Channel 0 reads digital silence: −∞, which JSON carries as null.
    return { stream, atNs: 5e9, peakDb: Array.from({ length: n }, (_, i) => (i === 0 ? -Infinity : -6.021)), rmsDb: Array.from({ length: n }, (_, i) => (i === 0 ? -Infinity : -9.031)), frames: 480 };
  }

  onEvent(listener: (e: ApplianceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: ApplianceEvent): void {
    for (const l of this.listeners) l(e);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(srv: WebServer, p: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(new URL(p, srv.url), init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON (the page's files) */ }
  return { status: res.status, headers: res.headers, text, json };
}

const put = (srv: WebServer, p: string, body: string, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
  call(srv, p, { method: 'PUT', body, headers });
const post = (srv: WebServer, p: string, body: string) => call(srv, p, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });

/** A request with the path exactly as written (fetch would normalise `..` away). */
function rawGet(srv: WebServer, rawPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: srv.address, port: srv.port, path: rawPath, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket client that queues what it receives. */
class Peer {
  readonly msgs: any[] = [];
  private wake: (() => void) | undefined;
  closeCode: number | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.msgs.push(JSON.parse(d.toString()));
      this.wake?.();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake?.();
    });
  }

  static open(srv: WebServer, opts: { query?: string; headers?: Record<string, string>; origin?: string } = {}): Promise<Peer> {
    const ws = new WebSocket(`ws://${srv.address}:${srv.port}/api/ws${opts.query ?? ''}`, { headers: opts.headers, origin: opts.origin });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Peer(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** The first queued message of `type` (removed from the queue), waiting up to 2 s. */
  async take(type: string, ms = 2000): Promise<any> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.msgs.findIndex((m) => m.type === type);
      if (i >= 0) return this.msgs.splice(i, 1)[0];
      if (Date.now() >= end || this.closeCode !== undefined) assert.fail(`no "${type}" message within ${ms} ms (queued: ${JSON.stringify(this.msgs).slice(0, 300)})`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 20);
      });
    }
  }

  count(type: string): number {
    return this.msgs.filter((m) => m.type === type).length;
  }

  async subscribe(kinds: string[], field = 'subscribe'): Promise<string[]> {
    this.ws.send(JSON.stringify({ [field]: kinds }));
    return (await this.take('subscribed')).kinds;
  }

  closed(ms = 2000): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
      this.ws.once('close', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('web API server (src/web/server.ts)', function () {
  this.timeout(30000);
  const servers: WebServer[] = [];
  const dirs: string[] = [];
  const peers: Peer[] = [];
  async function start(src: ApplianceSource, opts: Partial<WebServerOptions> = {}): Promise<WebServer> {
    const s = await startWebServer(src, { bind: { address: '127.0.0.1', port: 0 }, clock: new VirtualClock(), ...opts });
    servers.push(s);
    return s;
  }
  async function open(srv: WebServer, opts?: Parameters<typeof Peer.open>[1]): Promise<Peer> {
    const p = await Peer.open(srv, opts);
    peers.push(p);
    return p;
  }
  afterEach(async () => {
    for (const p of peers.splice(0)) p.ws.terminate();
    for (const s of servers.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  describe('starting', () => {
    it('refuses to bind beyond loopback without a token, naming --http-token; with one it starts', async () => {
      await assert.rejects(startWebServer(new FakeSource(), { bind: { address: '0.0.0.0', port: 0 } }), /beyond loopback.*--http-token/);
      const s = await start(new FakeSource(), { bind: { address: '0.0.0.0', port: 0 }, token: TOKEN });
      assert.equal(s.loopback, false);
      const l = await start(new FakeSource());
      assert.equal(l.loopback, true);
      assert.match(l.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    });

    it('refuses a bind address that is not an IP, a short token, and a level rate outside (0, 50] Hz', async () => {
      await assert.rejects(startWebServer(new FakeSource(), { bind: { address: 'example.com', port: 0 } }), /--http-bind.*example\.com/);
      await assert.rejects(startWebServer(new FakeSource(), { bind: { address: '127.0.0.1', port: 0 }, token: 'short' }), /--http-token.*16 to 256/);
      await assert.rejects(startWebServer(new FakeSource(), { bind: { address: '127.0.0.1', port: 0 }, levelsRateHz: 51 }), /levelsRateHz.*50 Hz, got 51/);
      await assert.rejects(startWebServer(new FakeSource(), { bind: { address: '127.0.0.1', port: 0 }, levelsRateHz: 0 }), /levelsRateHz/);
      // 50 Hz itself is allowed (negative control of the bound).
      await start(new FakeSource(), { levelsRateHz: 50 });
    });
  });

  describe('routes', () => {
    let src: FakeSource;
    let srv: WebServer;
    beforeEach(async () => {
      src = new FakeSource();
      srv = await start(src);
    });

    it('GET /api/board: the board, as JSON that no cache keeps and no browser sniffs', async () => {
      const a = await call(srv, '/api/board');
      assert.equal(a.status, 200);
      assert.deepEqual(a.json, { board: 'sim' });
      assert.equal(a.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(a.headers.get('cache-control'), 'no-store');
      assert.equal(a.headers.get('x-content-type-options'), 'nosniff');
    });

    it('GET /api/controls and /api/controls/:id; an unknown id is a 404 naming it', async () => {
      const l = await call(srv, '/api/controls');
      assert.equal(l.status, 200);
      assert.deepEqual(l.json.controls.map((c: ControlInfo) => c.id), ['sim.speaker.gain', 'sim.speaker.mute']);
      const g = await call(srv, '/api/controls/sim.speaker.gain');
      assert.equal(g.status, 200);
      assert.equal(g.json.value, -20);
      const u = await call(srv, '/api/controls/sim.speaker.nope');
      assert.equal(u.status, 404);
      assert.match(u.json.error, /sim\.speaker\.nope/);
    });

    it('PUT /api/controls/:id sets the value; a refused value is a 400 naming the control and its range, and changes nothing', async () => {
      const ok = await put(srv, '/api/controls/sim.speaker.gain', '{"value": -12.5}');
      assert.equal(ok.status, 200);
      assert.equal(ok.json.status, 'applied');
      assert.equal((await call(srv, '/api/controls/sim.speaker.gain')).json.value, -12.5);
      assert.deepEqual(src.changes, ['sim.speaker.gain=-12.5']);

      const bad = await put(srv, '/api/controls/sim.speaker.gain', '{"value": -90}');
      assert.equal(bad.status, 400);
      assert.match(bad.json.error, /sim\.speaker\.gain.*-60 \.\. 0 dB/);
      assert.deepEqual(Object.keys(bad.json), ['error']);
      assert.equal((await call(srv, '/api/controls/sim.speaker.gain')).json.value, -12.5, 'the refused set changed nothing');
      assert.deepEqual(src.changes, ['sim.speaker.gain=-12.5']);
    });

    it('PUT to an unknown control is a 404 naming the id', async () => {
      const a = await put(srv, '/api/controls/sim.speaker.volume', '{"value": -3}');
      assert.equal(a.status, 404);
      assert.match(a.json.error, /sim\.speaker\.volume/);
      assert.deepEqual(src.changes, []);
    });

    it('malformed JSON is a 400 with the parser\'s reason, before the source is asked', async () => {
      const a = await put(srv, '/api/controls/sim.speaker.gain', '{"value": -3');
      assert.equal(a.status, 400);
      assert.match(a.json.error, /^body: malformed JSON: .*JSON/);
      assert.equal(src.setCalls, 0);
      assert.equal((await call(srv, '/api/controls/sim.speaker.gain')).json.value, -20);
    });

    it('a body without "value", with another field, empty, or not an object: 400 naming the field', async () => {
      const missing = await put(srv, '/api/controls/sim.speaker.gain', '{"valeu": -3}');
      assert.equal(missing.status, 400);
      assert.match(missing.json.error, /"valeu" is not a field/);
      const none = await put(srv, '/api/controls/sim.speaker.gain', '{}');
      assert.match(none.json.error, /field "value" is missing/);
      const arr = await put(srv, '/api/controls/sim.speaker.gain', '[-3]');
      assert.match(arr.json.error, /expected a JSON object.*got an array/);
      const empty = await put(srv, '/api/controls/sim.speaker.gain', '');
      assert.equal(empty.status, 400);
      assert.match(empty.json.error, /body: empty/);
      assert.equal(src.setCalls, 0);
    });

    it('a body over 16 KiB is a 413, declared or chunked; 16 KiB itself is read', async () => {
      const big = JSON.stringify({ value: -3, pad: 'x'.repeat(16 * 1024) });
      const a = await put(srv, '/api/controls/sim.speaker.gain', big);
      assert.equal(a.status, 413);
      assert.match(a.json.error, /body: larger than 16384 bytes/);
      // Chunked (no Content-Length): the bound holds while reading.
      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: srv.address, port: srv.port, path: '/api/controls/sim.speaker.gain', method: 'PUT', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
          const cs: Buffer[] = [];
          res.on('data', (c: Buffer) => cs.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(cs).toString() }));
        });
        req.on('error', reject);
        for (let i = 0; i < 20; i++) req.write('x'.repeat(1024));
        req.end();
      });
      assert.equal(chunked.status, 413);
      // Exactly 16384 bytes is within the bound: it is read and parsed (then refused for its extra field).
      const exact = '{"value":-3,"p":"' + 'x'.repeat(16384 - 19) + '"}';
      assert.equal(Buffer.byteLength(exact), 16384);
      const e = await put(srv, '/api/controls/sim.speaker.gain', exact);
      assert.equal(e.status, 400);
      assert.match(e.json.error, /"p" is not a field/);
      assert.equal(src.setCalls, 0);
    });

    it('a body that is not application/json is a 415', async () => {
      const a = await put(srv, '/api/controls/sim.speaker.gain', '{"value": -3}', { 'Content-Type': 'text/plain' });
      assert.equal(a.status, 415);
      assert.match(a.json.error, /Content-Type: expected application\/json, got "text\/plain"/);
      assert.equal(src.setCalls, 0);
    });

    it('GET /api/streams and the levels of a stream (−∞ dBFS reads null); unmetered and unknown streams are 404s saying which', async () => {
      const s = await call(srv, '/api/streams');
      assert.equal(s.status, 200);
      assert.deepEqual(s.json.map((x: StreamStatus) => x.id), ['speaker', 'mic']);
      const l = await call(srv, '/api/streams/speaker/levels');
      assert.equal(l.status, 200);
      assert.deepEqual(l.json.peakDb, [null, -6.021]);
      assert.deepEqual(l.json.rmsDb, [null, -9.031]);
      const m = await call(srv, '/api/streams/mic/levels');
      assert.equal(m.status, 404);
      assert.match(m.json.error, /stream "mic": no level reading/);
      const u = await call(srv, '/api/streams/tweeter/levels');
      assert.equal(u.status, 404);
      assert.match(u.json.error, /no stream "tweeter" \(streams: speaker, mic\)/);
    });

    it('GET /api/programs; POST /api/programs/load loads one; bad fields are 400s naming the field, and load nothing', async () => {
      const g = await call(srv, '/api/programs');
      assert.equal(g.status, 200);
      assert.equal(g.json.list.length, 2);
      assert.deepEqual(g.json.current, { bank: 0, program: 0 });
      const ok = await post(srv, '/api/programs/load', '{"bank": 0, "program": 1}');
      assert.equal(ok.status, 200);
      assert.equal(ok.json.name, 'DAC Filter: slow');
      assert.deepEqual((await call(srv, '/api/programs')).json.current, { bank: 0, program: 1 });
      for (const [body, re] of [
        ['{"bank": "0", "program": 1}', /^bank: expected a whole number/],
        ['{"bank": 0, "program": 1.5}', /^program: expected a whole number/],
        ['{"bank": 0}', /field "program" is missing/],
        ['{"bank": 0, "program": 7}', /^program: no program 0\/7 on board sim \(programs: 0\/0, 0\/1\)/],
        ['{"bank": 0, "program": 1,', /malformed JSON/],
      ] as const) {
        const a = await post(srv, '/api/programs/load', body);
        assert.equal(a.status, 400, body);
        assert.match(a.json.error, re, body);
      }
      assert.deepEqual(src.loads, ['0/1']);
    });

    it('an unknown route is a 404; a method a route does not take is a 405 with Allow', async () => {
      const u = await call(srv, '/api/volume');
      assert.equal(u.status, 404);
      assert.match(u.json.error, /no route \/api\/volume/);
      const d = await call(srv, '/api/controls/sim.speaker.gain', { method: 'DELETE' });
      assert.equal(d.status, 405);
      assert.equal(d.headers.get('allow'), 'GET, HEAD, PUT');
      assert.match(d.json.error, /DELETE .*not allowed/);
      const p = await call(srv, '/api/programs/load');
      assert.equal(p.status, 405);
      assert.equal(p.headers.get('allow'), 'POST');
      const w = await call(srv, '/api/ws');
      assert.equal(w.status, 426);
    });

    it('a failure of the source is a 500 with its reason, logged', async () => {
      const lines: string[] = [];
      const s2 = await start(src, { log: (l) => lines.push(l) });
      src.listFails = true;
      const a = await call(s2, '/api/controls');
      assert.equal(a.status, 500);
      assert.equal(a.json.error, 'listing controls: control channel closed');
      assert.deepEqual(lines, ['web: listing controls: control channel closed']);
      assert.equal(s2.stats().http.sourceErrors, 1);
      assert.equal(s2.stats().http.status['500'], 1);
    });

    it('without a token, answers only requests addressed to a loopback name (DNS rebinding)', async () => {
      const a = await rawGet(srv, '/api/board', { Host: 'evil.example:80' });
      assert.equal(a.status, 403);
      assert.match(JSON.parse(a.body).error, /Host: "evil\.example:80" is not a loopback name/);
      assert.equal((await rawGet(srv, '/api/board', { Host: `localhost:${srv.port}` })).status, 200);
    });
  });

  describe('the page\'s files', () => {
    it('GET / says the page is not built while src/web/page/index.html is missing', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-web-empty-'));
      dirs.push(dir);
      const srv = await start(new FakeSource(), { pageDir: path.join(dir, 'page') });
      const a = await call(srv, '/');
      assert.equal(a.status, 200);
      assert.match(a.headers.get('content-type')!, /^text\/plain/);
      assert.match(a.text, /not built yet/);
      assert.equal(a.text.trim().split('\n').length, 1);
    });

    it('serves files inside the page folder only: .., encoded .., encoded slashes and a link out are refused', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-web-page-'));
      dirs.push(dir);
      const page = path.join(dir, 'page');
      mkdirSync(path.join(page, 'sub'), { recursive: true });
      writeFileSync(path.join(page, 'index.html'), '<!doctype html><title>meters</title>');
      writeFileSync(path.join(page, 'app.js'), 'console.log(1);');
      writeFileSync(path.join(page, 'sub', 'a.css'), 'body{}');
      writeFileSync(path.join(dir, 'secret.txt'), 'SECRET-OUTSIDE');
      symlinkSync(path.join(dir, 'secret.txt'), path.join(page, 'link.txt'));
      const srv = await start(new FakeSource(), { pageDir: page });

      const index = await call(srv, '/');
      assert.equal(index.status, 200);
      assert.equal(index.text, '<!doctype html><title>meters</title>');
      assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
      assert.match(index.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
      assert.equal((await call(srv, '/app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal((await call(srv, '/sub/a.css')).text, 'body{}');

      for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/sub/%2e%2e%2f%2e%2e%2fsecret.txt', '/..%2fsecret.txt', '/..%5csecret.txt', '/link.txt', '/.%2e/secret.txt', '/sub/%00']) {
        const a = await rawGet(srv, p);
        assert.ok(a.status === 404 || a.status === 400, `${p}: ${a.status}`);
        assert.doesNotMatch(a.body, /SECRET-OUTSIDE/, p);
      }
      // Negative control: the secret file is readable by name when the folder is its own.
      const outer = await start(new FakeSource(), { pageDir: dir });
      assert.equal((await call(outer, '/secret.txt')).text, 'SECRET-OUTSIDE');
      assert.equal((await call(srv, '/missing.js')).status, 404);
      assert.equal((await call(srv, '/app.js', { method: 'POST' })).status, 405);
    });
  });

  describe('with a token', () => {
    let src: FakeSource;
    let srv: WebServer;
    beforeEach(async () => {
      src = new FakeSource();
      srv = await start(src, { token: TOKEN });
    });

    it('every request needs Authorization: Bearer <token>; without it 401 and nothing else', async () => {
      const bearer = { Authorization: `Bearer ${TOKEN}` };
      assert.equal((await call(srv, '/api/board', { headers: bearer })).status, 200);
      const none = await call(srv, '/api/board');
      assert.equal(none.status, 401);
      assert.deepEqual(none.json, { error: 'unauthorized' });
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      // An unknown route and a page file answer the same: nothing tells what exists.
      assert.deepEqual((await call(srv, '/api/nothing-here')).json, { error: 'unauthorized' });
      assert.equal((await call(srv, '/')).status, 401);
      assert.equal((await call(srv, '/api/board', { headers: { Authorization: `Bearer ${TOKEN}x` } })).status, 401);
      assert.equal((await call(srv, '/api/board', { headers: { Authorization: TOKEN } })).status, 401);
      // ?token= is for the WebSocket upgrade only.
      assert.equal((await call(srv, `/api/board?token=${TOKEN}`)).status, 401);
      const set = await put(srv, '/api/controls/sim.speaker.gain', '{"value": -3}');
      assert.equal(set.status, 401);
      assert.equal(src.setCalls, 0);
      const okSet = await call(srv, '/api/controls/sim.speaker.gain', { method: 'PUT', body: '{"value": -3}', headers: { ...bearer, 'Content-Type': 'application/json' } });
      assert.equal(okSet.status, 200);
      // With a token, any Host is answered (the token is the check).
      assert.equal((await rawGet(srv, '/api/board', { ...bearer, Host: 'appliance.local' })).status, 200);
    });

    it('the WebSocket upgrade is refused without the token; ?token= or the header opens it', async () => {
      await assert.rejects(Peer.open(srv), /refused: 401/);
      await assert.rejects(Peer.open(srv, { query: '?token=wrong-token-0123456789' }), /refused: 401/);
      const q = await open(srv, { query: `?token=${TOKEN}` });
      assert.deepEqual(await q.subscribe(['controls']), ['controls']);
      const h = await open(srv, { headers: { Authorization: `Bearer ${TOKEN}` } });
      assert.deepEqual(await h.subscribe(['levels']), ['levels']);
      assert.equal(srv.stats().http.upgradesRefused, 2);
    });

    it('a browser\'s first visit: /?token=TOKEN sets an HttpOnly SameSite=Strict cookie and sends it to /; the cookie then opens everything', async () => {
      const wrong = await call(srv, '/?token=wrong-token-0123456789', { redirect: 'manual' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers.get('set-cookie'), null);
      const first = await call(srv, `/?token=${encodeURIComponent(TOKEN)}`, { redirect: 'manual' });
      assert.equal(first.status, 303);
      assert.equal(first.headers.get('location'), '/');
      const cookie = first.headers.get('set-cookie')!;
      assert.match(cookie, /^sbc-audio-token=[^;]+; HttpOnly; SameSite=Strict; Path=\/$/);
      const jar = { Cookie: cookie.split(';')[0]! };
      assert.equal((await call(srv, '/api/board', { headers: jar })).status, 200);
      const set = await call(srv, '/api/controls/sim.speaker.gain', { method: 'PUT', body: '{"value": -4}', headers: { ...jar, 'Content-Type': 'application/json' } });
      assert.equal(set.status, 200);
      const ws = await open(srv, { headers: jar });
      assert.deepEqual(await ws.subscribe(['streams']), ['streams']);
      // Negative controls: another cookie value, or the cookie under another name, is not the token.
      assert.equal((await call(srv, '/api/board', { headers: { Cookie: 'sbc-audio-token=wrong-token-0123456789' } })).status, 401);
      assert.equal((await call(srv, '/api/board', { headers: { Cookie: `other=${encodeURIComponent(TOKEN)}` } })).status, 401);
      await assert.rejects(Peer.open(srv, { headers: { Cookie: 'sbc-audio-token=wrong-token-0123456789' } }), /refused: 401/);
    });

    it('a change from a page of another origin is refused (403) even with the cookie, and changes nothing', async () => {
      const first = await call(srv, `/?token=${encodeURIComponent(TOKEN)}`, { redirect: 'manual' });
      const jar = { Cookie: first.headers.get('set-cookie')!.split(';')[0]! };
      const before = src.setCalls;
      const foreign = await call(srv, '/api/controls/sim.speaker.gain', { method: 'PUT', body: '{"value": -5}', headers: { ...jar, 'Content-Type': 'application/json', Origin: 'http://evil.example' } });
      assert.equal(foreign.status, 403);
      assert.match(foreign.json.error, /Origin "http:\/\/evil\.example": not this server's page/);
      assert.equal(src.setCalls, before);
      const own = await call(srv, '/api/controls/sim.speaker.gain', { method: 'PUT', body: '{"value": -5}', headers: { ...jar, 'Content-Type': 'application/json', Origin: `http://127.0.0.1:${srv.port}` } });
      assert.equal(own.status, 200);
      assert.equal(src.setCalls, before + 1);
    });
  });

  describe('uPlot, served from its npm package', () => {
    it('GET /vendor/uPlot.iife.min.js and /vendor/uPlot.min.css are the package\'s files; other /vendor paths are 404s', async () => {
      const srv = await start(new FakeSource());
      const js = await call(srv, '/vendor/uPlot.iife.min.js');
      assert.equal(js.status, 200);
      assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal(js.text, readFileSync('node_modules/uplot/dist/uPlot.iife.min.js', 'utf8'));
      const css = await call(srv, '/vendor/uPlot.min.css');
      assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
      for (const p of ['/vendor/uPlot.esm.js', '/vendor/../package.json', '/vendor/constructor']) assert.equal((await rawGet(srv, p)).status, 404, p);
    });
  });

  describe('WebSocket /api/ws', () => {
    let src: FakeSource;
    let clock: VirtualClock;
    let srv: WebServer;
    const lines: string[] = [];
    beforeEach(async () => {
      src = new FakeSource();
      clock = new VirtualClock();
      lines.length = 0;
      srv = await start(src, { clock, log: (l) => lines.push(l) });
    });

    it('pushes control and stream events to the subscribers of their kind only; unsubscribe stops them', async () => {
      const ctl = await open(srv);
      const str = await open(srv);
      const none = await open(srv);
      assert.deepEqual(await ctl.subscribe(['controls']), ['controls']);
      assert.deepEqual(await str.subscribe(['streams']), ['streams']);
      await put(srv, '/api/controls/sim.speaker.gain', '{"value": -6}');
      const e = await ctl.take('control');
      assert.equal(e.control.id, 'sim.speaker.gain');
      assert.equal(e.control.value, -6);
      src.emit({ type: 'stream', stream: { ...src.streams()[0]!, plugged: true } });
      const s = await str.take('stream');
      assert.equal(s.stream.id, 'speaker');
      assert.equal(s.stream.plugged, true);
      await sleep(100);
      assert.equal(str.count('control'), 0);
      assert.equal(ctl.count('stream'), 0);
      assert.equal(none.msgs.length, 0);
      assert.deepEqual(await ctl.subscribe(['controls'], 'unsubscribe'), []);
      await put(srv, '/api/controls/sim.speaker.gain', '{"value": -7}');
      await sleep(100);
      assert.equal(ctl.count('control'), 0);
      assert.equal(srv.stats().ws.subscribers.streams, 1);
    });

    it('refuses an upgrade from a page of another origin (403), or to another path (404); the page\'s own origin is taken', async () => {
      await assert.rejects(Peer.open(srv, { origin: 'http://evil.example' }), /refused: 403/);
      await assert.rejects(Peer.open(srv, { origin: 'null' }), /refused: 403/);
      const ws = new WebSocket(`ws://${srv.address}:${srv.port}/api/websocket`);
      await assert.rejects(new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('unexpected-response', (_q, res) => reject(new Error(`refused: ${res.statusCode}`)));
      }), /refused: 404/);
      const own = await open(srv, { origin: `http://127.0.0.1:${srv.port}` });
      assert.deepEqual(await own.subscribe(['streams']), ['streams']);
      assert.equal(srv.stats().http.upgradesRefused, 3);
    });

    it('holds at most maxWsClients connections: the next upgrade is a 503 saying so, and is taken once one closes', async () => {
      const srv = await start(new FakeSource(), { maxWsClients: 3 });
      const held = [await open(srv), await open(srv), await open(srv)];
      await assert.rejects(Peer.open(srv), /refused: 503/);
      assert.equal(srv.stats().ws.clients, 3);
      held[0]!.ws.close();
      for (let i = 0; i < 200 && srv.stats().ws.clients > 2; i++) await new Promise((r) => setTimeout(r, 10));
      const again = await open(srv);
      assert.deepEqual(await again.subscribe(['levels']), ['levels']);
    });

    it('a malformed message gets an error reply naming what is wrong; the connection stays', async () => {
      const p = await open(srv);
      for (const [msg, re] of [
        ['{"subscribe": ["levels"', /^malformed JSON: /],
        ['["levels"]', /^expected an object/],
        ['{"subscribe": "levels"}', /^subscribe: expected an array/],
        ['{"subscribe": ["controls", "meters"]}', /^subscribe\[1\]: "meters" is not a kind \(kinds: controls, streams, levels\)/],
        ['{"subscribe": ["levels"], "rate": 50}', /^"rate": not a field/],
      ] as const) {
        p.ws.send(msg);
        const e = await p.take('error');
        assert.match(e.error, re, msg);
      }
      p.ws.send(Buffer.from('{"subscribe":["levels"]}'), { binary: true });
      assert.match((await p.take('error')).error, /binary/);
      // Nothing of the bad ones applied (the one naming "meters" had a good kind too).
      assert.equal(srv.stats().ws.subscribers.controls, 0);
      assert.equal(srv.stats().ws.subscribers.levels, 0);
      assert.deepEqual(await p.subscribe(['controls', 'levels']), ['controls', 'levels']);
      assert.equal(p.closeCode, undefined);
      assert.equal(srv.stats().ws.badMessages, 6);
    });

    it('pushes levels at 20 Hz: 20 over a virtual second, from one timer for all clients, and none without subscribers', async () => {
      const a = await open(srv);
      const b = await open(srv);
      const c = await open(srv);
      assert.equal(clock.nextTimerNs(), undefined, 'no timer while nobody wants levels');
      await a.subscribe(['levels']);
      await b.subscribe(['levels', 'controls']);
      await c.subscribe(['controls']);
      clock.advanceBy(1e9);
      await sleep(200);
      assert.equal(a.count('levels'), 20);
      assert.equal(b.count('levels'), 20);
      assert.equal(c.count('levels'), 0);
      assert.equal(srv.stats().ws.levelTicks, 20, 'one timer, not one per client');
      assert.equal(src.levelReads, 20);
      const m = await a.take('levels');
      assert.equal(m.streams.length, 1);
      assert.equal(m.streams[0].stream, 'speaker');
      assert.deepEqual(m.streams[0].peakDb, [null, -6.021]);
      // Just short of the next period: nothing more.
      clock.advanceBy(50e6 - 1);
      await sleep(100);
      assert.equal(b.count('levels'), 20);
      await a.subscribe(['levels'], 'unsubscribe');
      await b.subscribe(['levels'], 'unsubscribe');
      assert.equal(clock.nextTimerNs(), undefined, 'the timer stops with the last level subscriber');
      clock.advanceBy(1e9);
      await sleep(100);
      assert.equal(b.count('levels'), 20);
    });

    it('levelsRateHz sets the rate: 50 Hz is 50 pushes a virtual second', async () => {
      const clock50 = new VirtualClock();
      const s50 = await start(new FakeSource(), { clock: clock50, levelsRateHz: 50 });
      const p = await open(s50);
      await p.subscribe(['levels']);
      clock50.advanceBy(1e9);
      await sleep(200);
      assert.equal(p.count('levels'), 50);
    });

    it('a message over 4 KiB closes the connection with 1009; 4 KiB is answered', async () => {
      const p = await open(srv);
      // 4096 bytes exactly: within the bound, so it is parsed (and is not a message we know).
      p.ws.send(`"${'x'.repeat(4094)}"`);
      assert.match((await p.take('error')).error, /expected an object/);
      p.ws.send(JSON.stringify({ subscribe: ['levels'], pad: 'x'.repeat(4096) }));
      assert.equal(await p.closed(), 1009);
      assert.equal(srv.stats().ws.oversized, 1);
      assert.equal(srv.stats().ws.subscribers.levels, 0);
    });

    it('a client that stops reading is skipped while 256 KiB wait for it, and dropped after 5 s of that (logged once)', async () => {
      // Large readings (4096 channels, ~60 KB a push) fill the socket buffers in a few seconds.
      src.levelChannels = 4096;
      const slow = await open(srv);
      const good = await open(srv);
      await slow.subscribe(['levels']);
      await good.subscribe(['levels']);
      slow.ws.pause();
      // Tick by tick, letting the sockets move between ticks, until the first skip.
      let firstSkipNs: number | undefined;
      for (let i = 0; i < 2000 && firstSkipNs === undefined; i++) {
        clock.advanceBy(50e6);
        await new Promise((r) => setImmediate(r));
        if (srv.stats().ws.levelSkips > 0) firstSkipNs = clock.nowNs();
      }
      assert.ok(firstSkipNs !== undefined, 'the slow client was never skipped');
      // 4.95 s after the first skip: still connected, skipped at every tick since.
      for (let t = 0; t < 99; t++) {
        clock.advanceBy(50e6);
        await new Promise((r) => setImmediate(r));
      }
      let st = srv.stats().ws;
      assert.equal(st.dropped, 0);
      assert.equal(st.levelSkips, 100);
      assert.equal(st.clients, 2, 'both clients still there');
      assert.equal(lines.length, 0);
      // The tick at 5 s drops it.
      clock.advanceBy(50e6);
      st = srv.stats().ws;
      assert.equal(st.dropped, 1);
      assert.equal(st.clients, 1);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /dropped WebSocket client 127\.0\.0\.1:\d+: over 262144 bytes unsent for 5\.0 s/);
      clock.advanceBy(1e9);
      assert.equal(lines.length, 1, 'logged once');
      // The good client read every push all along.
      const ticks = srv.stats().ws.levelTicks;
      for (let i = 0; i < 500 && good.count('levels') < ticks; i++) await sleep(10);
      assert.equal(good.count('levels'), ticks);
    });

    it('a subscriber that stops reading while change events pile up is dropped at 1 MiB unsent, at once', async () => {
      const slow = await open(srv);
      const good = await open(srv);
      await slow.subscribe(['controls']);
      await good.subscribe(['controls']);
      slow.ws.pause();
      // Events of ~100 KB (a control whose source text is long).
      const big = { ...control('sim.speaker.gain', 'volume', -6), source: 'y'.repeat(100_000) };
      let sent = 0;
      for (; sent < 500 && srv.stats().ws.dropped === 0; sent++) {
        src.emit({ type: 'control', control: big });
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(srv.stats().ws.dropped, 1, 'never dropped');
      assert.equal(clock.nowNs(), 1e9, 'no time passed: the drop is for the backlog, not for 5 s');
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /dropped WebSocket client .*: \d+ bytes unsent \(over 1048576\)/);
      const n = Number(/: (\d+) bytes/.exec(lines[0]!)![1]);
      assert.ok(n > 1048576 && n <= 1048576 + 200_000, String(n));
      for (let i = 0; i < 500 && good.count('control') < sent; i++) await sleep(10);
      assert.equal(good.count('control'), sent, 'the reading client got every event');
    });
  });

  it('with the default clock (CLOCK_MONOTONIC), levels come at about 20 Hz in real time', async () => {
    const srv = await start(new FakeSource(), { clock: undefined });
    const p = await open(srv);
    await p.subscribe(['levels']);
    const t0 = Date.now();
    await sleep(1000);
    const n = p.count('levels');
    const s = (Date.now() - t0) / 1000;
    // 20 Hz over s seconds, with room for a loaded machine: a timer can run late, never early.
    assert.ok(n >= 10 && n <= Math.ceil(20 * s) + 1, `${n} pushes in ${s} s`);
  });

  it('close() stops the level timer, leaves the source\'s events and closes the clients', async () => {
    const src = new FakeSource();
    const clock = new VirtualClock();
    const srv = await startWebServer(src, { bind: { address: '127.0.0.1', port: 0 }, clock });
    const p = await Peer.open(srv);
    await p.subscribe(['levels']);
    assert.equal(src.listenerCount, 1);
    assert.notEqual(clock.nextTimerNs(), undefined);
    await srv.close();
    assert.equal(src.listenerCount, 0);
    assert.equal(clock.nextTimerNs(), undefined);
    assert.equal(await p.closed(), 1001);
  });
});
