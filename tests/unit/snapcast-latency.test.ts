/**
 * The appliance's output latency reported to a Snapcast group (issue 28; src/stream/snapcast-latency.ts,
 * AlsaBridge.outputLatency(), docs/alsa-in.md "Snapcast").
 *
 * Real peers: Debian's snapserver (a pipe:// source in a temp dir, free loopback ports, no HTTP,
 * an empty config, its own data dir and HOME) and a real snapclient (--player file to null,
 * --hostID test-room). What the server holds is read through the server's own JSON-RPC
 * (Client.GetStatus), and what snapclient took from its own log ("ServerSettings - … latency: N").
 * Every wait is a hang guard, never a timing assertion.
 *
 * The figure itself is checked against the sim board's stream service and the bridge over the
 * simulated loopback card: 20 ms more analog delay in the board file → 20 ms more; another
 * --alsa-in-latency → moved by the difference; the FIFO unknown until a session, then counted.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { SimLoopbackBackend, SimLoopbackCard } from '../../src/hal/sim/loopback-card.ts';
import type { OutputLatency } from '../../src/stream/alsa-bridge.ts';
import { type AlsaIn, startAlsaIn } from '../../src/stream/alsa-in.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { AlsaBridge } from '../../src/stream/alsa-bridge.ts';
import { SnapcastLatencyReporter, parseSnapcastAddress } from '../../src/stream/snapcast-latency.ts';
import { exitCode, freePort, sleep, stopChild, waitFor } from './helpers/mosquitto.ts';

const SNAPSERVER = '/usr/bin/snapserver';
const SNAPCLIENT = '/usr/bin/snapclient';
const INSTALL = "snapserver and snapclient are needed (Debian: apt-get install --no-install-recommends snapserver snapclient)";

interface Server {
  child: ChildProcess;
  log(): string;
}

/** snapserver on 127.0.0.1 with the given ports and a fresh data dir under `dir`; resolves once its control port accepts. */
async function startServer(dir: string, controlPort: number, streamPort: number): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'empty.conf');
  writeFileSync(conf, '');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'home'), { recursive: true });
  const child = spawn(SNAPSERVER, [
    '-c', conf, `--server.datadir=${path.join(dir, 'data')}`, '--http.enabled=false',
    `--tcp.port=${controlPort}`, '--tcp.bind_to_address=127.0.0.1', `--stream.port=${streamPort}`, '--stream.bind_to_address=127.0.0.1',
    `--stream.source=pipe://${path.join(dir, 'fifo')}?name=default&mode=create`, '--logging.sink=stderr',
  ], { env: { ...process.env, HOME: path.join(dir, 'home') }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  const server = { child, log: () => log };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`snapserver exited (${child.exitCode}): ${log}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(controlPort, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return server;
    if (i > 300) {
      await stopChild(child);
      throw new Error(`snapserver did not listen on ${controlPort} within the guard: ${log}`);
    }
    await sleep(100);
  }
}

function startClient(dir: string, streamPort: number, hostId: string): { child: ChildProcess; log(): string } {
  mkdirSync(path.join(dir, 'home'), { recursive: true });
  const child = spawn(SNAPCLIENT, ['-h', '127.0.0.1', '-p', String(streamPort), '--hostID', hostId, '--player', 'file:filename=null', '--logsink=stderr'], { env: { ...process.env, HOME: path.join(dir, 'home') }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  return { child, log: () => log };
}

/** One JSON-RPC request on a connection of its own: the answer (result or error object). */
async function rpc(port: number, method: string, params?: unknown): Promise<{ result?: Record<string, unknown>; error?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.setEncoding('utf8');
    let buf = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error(`${method}: no answer (a hang guard)`)); }, 10_000);
    s.on('error', (e) => { clearTimeout(t); reject(e); });
    s.on('connect', () => s.write(`${JSON.stringify({ id: 4242, jsonrpc: '2.0', method, ...(params !== undefined ? { params } : {}) })}\r\n`));
    s.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl)) as { id?: number };
        buf = buf.slice(nl + 1);
        if (m.id === 4242) {
          clearTimeout(t);
          s.destroy();
          resolve(m as { result?: Record<string, unknown> });
        }
      }
    });
  });
}

/** The latency the server holds for a client (Client.GetStatus), undefined when it does not know it. */
async function serverLatency(port: number, id: string): Promise<number | undefined> {
  const r = await rpc(port, 'Client.GetStatus', { id });
  const client = r.result?.client as { config?: { latency?: number } } | undefined;
  return client?.config?.latency;
}

/** A control connection of its own that only listens: the server's notifications it received. */
async function listen(port: number): Promise<{ notes: Array<{ method: string; params: Record<string, unknown> }>; close(): void }> {
  const s = net.connect(port, '127.0.0.1');
  s.setEncoding('utf8');
  const notes: Array<{ method: string; params: Record<string, unknown> }> = [];
  let buf = '';
  s.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const m = JSON.parse(buf.slice(0, nl)) as { method?: string; params?: Record<string, unknown> };
      buf = buf.slice(nl + 1);
      if (typeof m.method === 'string') notes.push({ method: m.method, params: m.params ?? {} });
    }
  });
  await new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('error', reject); });
  return { notes, close: () => s.destroy() };
}

async function connected(port: number, id: string): Promise<boolean> {
  const r = await rpc(port, 'Client.GetStatus', { id });
  return (r.result?.client as { connected?: boolean } | undefined)?.connected === true;
}

/** Polls an async probe until it is true; throws naming `what` after the hang guard. */
async function until(what: string, probe: () => Promise<boolean>, guardMs = 30_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${guardMs} ms (a hang guard)`);
    await sleep(100);
  }
}

const figure = (ms: number, unknown: string[] = []): OutputLatency => ({ ms, rate: 48000, bridgeMs: 30, fifoMs: 8, externalMs: ms - 38, unknown });

describe('snapcast: the output latency reported to a real snapserver', function () {
  this.timeout(180_000);
  let dir: string;
  let controlPort: number;
  let streamPort: number;
  let server: Server | undefined;
  let client: ReturnType<typeof startClient> | undefined;
  let late: ReturnType<typeof startClient> | undefined;
  let reporter: SnapcastLatencyReporter | undefined;
  let lateReporter: SnapcastLatencyReporter | undefined;
  const moreReporters: SnapcastLatencyReporter[] = [];
  const moreChildren: ChildProcess[] = [];
  let now: OutputLatency | undefined;
  const lines: string[] = [];

  before(async () => {
    assert.ok(existsSync(SNAPSERVER) && existsSync(SNAPCLIENT), INSTALL);
    assert.match(spawnSync(SNAPSERVER, ['--version'], { encoding: 'utf8' }).stdout, /^snapserver v0\.\d+/);
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-snapcast-'));
    controlPort = await freePort();
    streamPort = await freePort();
    server = await startServer(path.join(dir, 'server-1'), controlPort, streamPort);
    client = startClient(path.join(dir, 'client'), streamPort, 'test-room');
    await until('snapclient test-room connected', () => connected(controlPort, 'test-room'));
  });

  after(async () => {
    await reporter?.close();
    await lateReporter?.close();
    for (const r of moreReporters) await r.close();
    for (const c of moreChildren) await stopChild(c);
    await stopChild(client?.child);
    await stopChild(late?.child);
    await stopChild(server?.child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('no figure yet: nothing is pushed, the server keeps 0 (the negative control)', async () => {
    reporter = new SnapcastLatencyReporter({ host: '127.0.0.1', port: controlPort, clientId: 'test-room', latency: () => now, log: (l) => lines.push(l), pollMs: 100, backoff: { minMs: 100, maxMs: 400 } });
    reporter.start();
    await waitFor('the reporter connected', () => reporter!.state === 'connected');
    const polls = reporter.polls;
    await waitFor('three more looks at the figure', () => reporter!.polls >= polls + 3);
    assert.equal(await serverLatency(controlPort, 'test-room'), 0);
    assert.equal(reporter.pushes, 0);
  });

  it('the figure is pushed: the server holds its rounded ms, and snapclient runs with it', async () => {
    now = figure(42.4);
    await until('the server holds 42 ms', async () => (await serverLatency(controlPort, 'test-room')) === 42);
    await waitFor('the log line', () => lines.some((l) => l.startsWith('snapcast: latency of client test-room set to 42 ms')));
    assert.ok(lines.includes('snapcast: latency of client test-room set to 42 ms (bridge 30.0 ms, FIFO 8.0 ms, external 4.4 ms at 48000 Hz)'), lines.join('\n'));
    // snapclient took it live (client/controller.cpp logs each ServerSettings it applies).
    await waitFor('snapclient applied 42 ms', () => /ServerSettings - buffer: \d+, latency: 42,/.test(client!.log()));
  });

  it('pushes only when the rounded ms change', async () => {
    const pushes = reporter!.pushes;
    now = figure(42.3);
    const polls = reporter!.polls;
    await waitFor('three more looks at the figure', () => reporter!.polls >= polls + 3);
    assert.equal(reporter!.pushes, pushes, '42.3 rounds to the 42 already held: no request');
    now = figure(57.6);
    await until('the server holds 58 ms', async () => (await serverLatency(controlPort, 'test-room')) === 58);
    assert.equal(reporter!.pushes, pushes + 1);
  });

  it('another tool sets 99 ms: ours comes back, said once', async () => {
    for (let round = 0; round < 2; round++) {
      const r = await rpc(controlPort, 'Client.SetLatency', { id: 'test-room', latency: 99 });
      assert.deepEqual(r.result, { latency: 99 }, 'the other tool\'s value was taken');
      await until('ours (58 ms) is back', async () => (await serverLatency(controlPort, 'test-room')) === 58);
    }
    assert.equal(lines.filter((l) => l.includes("something else set client test-room's latency to 99 ms; putting back the appliance's 58 ms")).length, 1, lines.join('\n'));
  });

  it('the server restarts (its settings gone): the reporter reconnects and pushes again; the outage is said once', async () => {
    await stopChild(server!.child);
    await waitFor('the loss said', () => lines.some((l) => l.startsWith(`snapcast: the connection to 127.0.0.1:${controlPort} is lost`)));
    // While it is away the reporter tries many times (backoff 100…400 ms): one line for all of them.
    const polls = reporter!.polls;
    await waitFor('a while away', () => reporter!.polls >= polls + 20);
    // Exactly one: none would mean the outage was never said.
    assert.equal(lines.filter((l) => l.includes('is not reachable')).length, 1, lines.join('\n'));
    server = await startServer(path.join(dir, 'server-2'), controlPort, streamPort);
    await until('snapclient reconnected', () => connected(controlPort, 'test-room'));
    await until('the new server holds 58 ms', async () => (await serverLatency(controlPort, 'test-room')) === 58);
    assert.ok(lines.filter((l) => l === `snapcast: connected to snapserver at 127.0.0.1:${controlPort}`).length >= 2, lines.join('\n'));
  });

  it('the server restarts holding 0 for our client while the figure is momentarily unknown: ours arrives once it is known again', async () => {
    // snapclient is stopped for the restart, so no notification about test-room can make the reporter
    // push: only what it does on connecting and polling can bring ours back (a late Client.OnConnect would hide the fault).
    now = undefined;
    await stopChild(client!.child);
    await until('snapclient test-room away', async () => !(await connected(controlPort, 'test-room')));
    await stopChild(server!.child);
    // The settings the stopped server wrote (its datadir's server.json), test-room's latency set to 0:
    // the new server knows the client (away) and holds 0 for it, as a server whose settings were reset.
    const settings = JSON.parse(readFileSync(path.join(dir, 'server-2', 'data', 'server.json'), 'utf8')) as { Groups: Array<{ clients: Array<{ id: string; config: { latency: number } }> }> };
    const held = settings.Groups.flatMap((g) => g.clients).filter((c) => c.id === 'test-room');
    assert.equal(held.length, 1, 'server-2 wrote test-room into its settings');
    assert.equal(held[0]!.config.latency, 58, 'server-2 held ours');
    held[0]!.config.latency = 0;
    mkdirSync(path.join(dir, 'server-3', 'data'), { recursive: true });
    writeFileSync(path.join(dir, 'server-3', 'data', 'server.json'), JSON.stringify(settings));
    const connects = () => lines.filter((l) => l === `snapcast: connected to snapserver at 127.0.0.1:${controlPort}`).length;
    const before = connects();
    const requests = reporter!.requests;
    server = await startServer(path.join(dir, 'server-3'), controlPort, streamPort);
    await waitFor('the reporter reconnected', () => connects() > before && reporter!.state === 'connected');
    // The control: nothing is pushed while the figure is unknown; the new server holds 0.
    const polls = reporter!.polls;
    await waitFor('three more looks at the figure', () => reporter!.polls >= polls + 3);
    assert.equal(reporter!.requests, requests, 'no request while the figure is unknown');
    assert.equal(await serverLatency(controlPort, 'test-room'), 0);
    // The same 58 ms as before the restart: it must still go to the new server.
    now = figure(57.6);
    await until('the new server holds 58 ms', async () => (await serverLatency(controlPort, 'test-room')) === 58);
    client = startClient(path.join(dir, 'client'), streamPort, 'test-room');
    await until('snapclient test-room back', () => connected(controlPort, 'test-room'));
  });

  it('two reporters on one client id: ours is put back at most twice each, then one gives up, said once; the server settles', async () => {
    const shared = startClient(path.join(dir, 'shared'), streamPort, 'shared-room');
    moreChildren.push(shared.child);
    await until('snapclient shared-room connected', () => connected(controlPort, 'shared-room'));
    const listener = await listen(controlPort);
    const changes = () => listener.notes.filter((n) => n.method === 'Client.OnLatencyChanged' && n.params.id === 'shared-room').length;
    try {
      const aLines: string[] = [];
      const bLines: string[] = [];
      const a = new SnapcastLatencyReporter({ host: '127.0.0.1', port: controlPort, clientId: 'shared-room', latency: () => figure(20), log: (l) => aLines.push(l), pollMs: 100, retryMs: 300 });
      moreReporters.push(a);
      a.start();
      await until('the server holds A\'s 20 ms', async () => (await serverLatency(controlPort, 'shared-room')) === 20);
      const b = new SnapcastLatencyReporter({ host: '127.0.0.1', port: controlPort, clientId: 'shared-room', latency: () => figure(30), log: (l) => bLines.push(l), pollMs: 100, retryMs: 300 });
      moreReporters.push(b);
      b.start();
      const gaveUp = (ls: string[]) => ls.filter((l) => l.startsWith("snapcast: another writer keeps setting client shared-room's latency (3 times in 1 min")).length;
      await waitFor('one of them gave up', () => gaveUp(aLines) + gaveUp(bLines) > 0, 60_000);
      const settled = changes();
      const aPolls = a.polls;
      const bPolls = b.polls;
      // Twenty more polls each (100 ms apart, so many retry periods of 300 ms): nothing more.
      await waitFor('twenty more looks by each', () => a.polls >= aPolls + 20 && b.polls >= bPolls + 20);
      assert.equal(changes(), settled, 'no change of shared-room\'s latency after one gave up');
      // The rule: one request on connecting, then a put-back for each of the first two foreign changes;
      // the third stops it. So at most 3 requests each, and the server saw at most 6 changes.
      assert.ok(a.requests <= 3 && b.requests <= 3, `requests: A ${a.requests}, B ${b.requests}\n${aLines.join('\n')}\n${bLines.join('\n')}`);
      assert.ok(settled <= 6, `${settled} changes`);
      assert.ok(gaveUp(aLines) <= 1 && gaveUp(bLines) <= 1, 'said once');
      assert.match([...aLines, ...bLines].find((l) => gaveUp([l]) === 1)!, /; not putting ours back: give each appliance its own --snapcast-client$/);
      // The server holds one of the two, whichever was last.
      assert.ok([20, 30].includes((await serverLatency(controlPort, 'shared-room'))!));
    } finally {
      listener.close();
    }
  });

  it('a host that drops the connection attempt: given up after the connect timeout, said as not reachable, tried again', async () => {
    // A listening socket with a backlog of 0 that never accepts: once one connection fills its queue,
    // Linux drops further SYNs, so a connect neither succeeds nor fails (as with a host that drops packets).
    const blackhole = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(600)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    moreChildren.push(blackhole);
    let out = '';
    blackhole.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const port = Number(await waitFor('python3 printed its port (python3 is needed for this test)', () => /^(\d+)\n/.exec(out)?.[1]));
    const filler = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => { filler.once('connect', () => resolve()); filler.once('error', reject); });
    try {
      // The control: a plain connect to it now stays pending (so the reporter's attempt cannot fail by itself).
      const probe = net.connect(port, '127.0.0.1');
      const probePolls: number[] = [];
      const probeTimer = setInterval(() => probePolls.push(probe.connecting ? 1 : 0), 100);
      await waitFor('ten looks at the probe', () => probePolls.length >= 10);
      clearInterval(probeTimer);
      assert.ok(probePolls.every((p) => p === 1), 'the probe connection stayed pending');
      probe.destroy();
      const dropLines: string[] = [];
      const r = new SnapcastLatencyReporter({ host: '127.0.0.1', port, clientId: 'nowhere', latency: () => figure(10), log: (l) => dropLines.push(l), pollMs: 100, connectTimeoutMs: 300, backoff: { minMs: 100, maxMs: 200 } });
      moreReporters.push(r);
      r.start();
      await waitFor('the attempt given up', () => dropLines.some((l) => l === `snapcast: snapserver at 127.0.0.1:${port} is not reachable (no connection in 0.3 s); trying again, at most every 0.2 s`), 60_000);
      assert.notEqual(r.state, 'connected');
      await r.close();
    } finally {
      filler.destroy();
      await stopChild(blackhole);
    }
  });

  it('a client the server does not know yet: refused, said once, set once snapclient connects', async () => {
    const lateLines: string[] = [];
    lateReporter = new SnapcastLatencyReporter({ host: '127.0.0.1', port: controlPort, clientId: 'late-room', latency: () => figure(33), log: (l) => lateLines.push(l), pollMs: 100, retryMs: 300 });
    lateReporter.start();
    await waitFor('the refusal said', () => lateLines.some((l) => l.includes('snapserver refused the latency of client late-room (Internal error: Client not found)')));
    assert.equal(await serverLatency(controlPort, 'late-room'), undefined, 'the server does not know late-room');
    late = startClient(path.join(dir, 'late'), streamPort, 'late-room');
    await until('the server holds 33 ms for late-room', async () => (await serverLatency(controlPort, 'late-room')) === 33);
    assert.equal(lateLines.filter((l) => l.includes('refused')).length, 1, lateLines.join('\n'));
    // The other client's figure is its own.
    assert.equal(await serverLatency(controlPort, 'test-room'), 58);
  });

  it('with the reporter closed, another tool\'s value stays (the control for the put-back)', async () => {
    await reporter!.close();
    const polls = reporter!.polls;
    const requests = reporter!.requests;
    const r = await rpc(controlPort, 'Client.SetLatency', { id: 'test-room', latency: 12 });
    assert.deepEqual(r.result, { latency: 12 });
    await sleep(1000); // ten of the closed reporter's poll periods: nothing answers
    assert.equal(await serverLatency(controlPort, 'test-room'), 12);
    // The value stayed because the reporter is closed, not because it missed its chance: it neither looked nor asked.
    assert.equal(reporter!.polls, polls, 'a closed reporter does not poll');
    assert.equal(reporter!.requests, requests, 'a closed reporter sends nothing');
  });

  it('HOST[:PORT]: the default port is 1705; IPv6 in brackets; a bad port is an error naming the flag', () => {
    assert.deepEqual(parseSnapcastAddress('snap.local'), { host: 'snap.local', port: 1705 });
    assert.deepEqual(parseSnapcastAddress('10.0.0.2:1800'), { host: '10.0.0.2', port: 1800 });
    assert.deepEqual(parseSnapcastAddress('[::1]:1705'), { host: '::1', port: 1705 });
    assert.throws(() => parseSnapcastAddress('host:70000'), /--snapcast "host:70000": the port must be 1 to 65535/);
    assert.throws(() => parseSnapcastAddress('a b'), /--snapcast "a b": expected HOST or HOST:PORT/);
  });
});

describe('snapcast: the output latency figure of the ALSA way in (sim board, simulated loopback)', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const runtimes: BoardRuntime[] = [];
  const services: StreamService[] = [];
  const ins: AlsaIn[] = [];
  let base: AlsaIn;
  let later: AlsaIn;
  let slow: AlsaIn;
  let baseCard: SimLoopbackCard;

  async function service(extraAnalogNs: number, boardName = 'sim'): Promise<StreamService> {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-snapcast-fig-'));
    dirs.push(dir);
    const board = loadBoard(boardName);
    const withDelay = extraAnalogNs ? { ...board, analogDelays: [...board.analogDelays, { direction: 'output' as const, what: 'test: a 20 ms output stage', ns: extraAnalogNs, source: 'test' }] } : board;
    const rt = await openBoard(withDelay);
    runtimes.push(rt);
    const svc = await startStreamService(rt, { runtimeDir: dir, rampMs: 0 });
    services.push(svc);
    return svc;
  }

  async function bridge(svc: StreamService, cardId: string, latencyMs?: number, boardName = 'sim'): Promise<{ alsaIn: AlsaIn; card: SimLoopbackCard }> {
    const card = new SimLoopbackCard(cardId, 2);
    const alsaIn = await startAlsaIn({ loopback: new SimLoopbackBackend(new Map([[cardId, card]])), capture: card, service: svc, board: boardName, card: cardId, mixer: false, ...(latencyMs !== undefined ? { bridge: { latencyMs } } : {}) });
    ins.push(alsaIn);
    return { alsaIn, card };
  }

  const latencyOf = (a: AlsaIn) => waitFor('the output latency', () => a.bridge.outputLatency());

  before(async () => {
    const plain = await service(0);
    ({ alsaIn: base, card: baseCard } = await bridge(plain, 'SimLoopA'));
    ({ alsaIn: slow } = await bridge(plain, 'SimLoopC', 65));
    ({ alsaIn: later } = await bridge(await service(20_000_000), 'SimLoopB'));
  });

  after(async () => {
    for (const a of ins) await a.close();
    for (const s of services) await s.close();
    for (const r of runtimes) await r.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('close() while the delay channel is being opened: the channel is closed too, not left open (a proxy counts the open channels)', async () => {
    const svc = services[0]!;
    const endpoint = svc.endpoints.find((e) => e.direction === 'output')!;
    const proxyDir = mkdtempSync(path.join(tmpdir(), 'sbc-snapcast-proxy-'));
    dirs.push(proxyDir);
    let accepted = 0;
    let open = 0;
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((c) => {
      accepted++;
      open++;
      sockets.add(c);
      const up = net.connect(endpoint.path);
      c.pipe(up);
      up.pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
      c.on('close', () => { open--; up.destroy(); });
      up.on('close', () => c.destroy());
    });
    const proxyPath = path.join(proxyDir, 'proxy.sock');
    await new Promise<void>((resolve) => proxy.listen(proxyPath, resolve));
    try {
      // The control: a bridge left open keeps its channel (the proxy sees it open once the figure is known).
      const keptCard = new SimLoopbackCard('SimLoopK', 2);
      const kept = new AlsaBridge({ card: keptCard, capture: keptCard, endpointPath: proxyPath, stream: endpoint.name });
      await waitFor('the kept bridge\'s figure', () => kept.outputLatency());
      assert.equal(open, 1, 'the kept bridge\'s channel is open');
      await kept.close();
      await waitFor('the kept bridge\'s channel closed by close()', () => open === 0);
      // close() right after the first outputLatency() started the connect: the connect ends after close().
      const card = new SimLoopbackCard('SimLoopL', 2);
      const b = new AlsaBridge({ card, capture: card, endpointPath: proxyPath, stream: endpoint.name });
      assert.equal(b.outputLatency(), undefined);
      await b.close();
      await waitFor('the proxy accepted the late channel', () => accepted === 2);
      await waitFor('the late channel closed', () => open === 0);
    } finally {
      // A channel left open would keep close() waiting: cut them first.
      for (const c of sockets) c.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('idle before any player: at 48 kHz, the FIFO named unknown and left out (never 0)', async () => {
    const f = await latencyOf(base);
    assert.equal(f.rate, 48000);
    assert.equal(f.fifoMs, undefined);
    assert.deepEqual(f.unknown, ["sim.speaker's FIFO (known once a player has played)"]);
    // A capture period (480 frames: 10 ms) + the 40 ms held above the FIFO.
    assert.ok(Math.abs(f.bridgeMs - 50) < 1e-9, String(f.bridgeMs));
    assert.equal(f.ms, f.bridgeMs + f.externalMs);
  });

  it('20 ms more analog delay in the board file: the figure is 20 ms more', async () => {
    const a = await latencyOf(base);
    const b = await latencyOf(later);
    assert.ok(Math.abs(b.ms - a.ms - 20) < 1e-9, `${b.ms} − ${a.ms}`);
    assert.ok(Math.abs(b.externalMs - a.externalMs - 20) < 1e-9);
    assert.equal(b.bridgeMs, a.bridgeMs);
  });

  it('--alsa-in-latency 65 instead of 40: the figure moves by 25 ms', async () => {
    const a = await latencyOf(base);
    const c = await latencyOf(slow);
    assert.ok(Math.abs(c.ms - a.ms - 25) < 1e-9, `${c.ms} − ${a.ms}`);
    assert.equal(c.externalMs, a.externalMs);
  });

  it('the codec\'s filter mode changes (pcm5122 normal → low-latency → high-attenuation): the figure follows within the guard; a mode without a figure is named unknown', async () => {
    const svc = await service(0, 'hifiberry-dacplus-sim');
    const { alsaIn } = await bridge(svc, 'SimLoopD', undefined, 'hifiberry-dacplus-sim');
    const options = runtimes.at(-1)!.board.codec.options;
    // codecs/pcm5122 (TI's figures): the DAC's group delay 20/fs with the normal filter, 3.5/fs low-latency.
    const normal = await latencyOf(alsaIn);
    assert.deepEqual(normal.unknown, ["hifiberry-dacplus-sim.line-out's FIFO (known once a player has played)"]);
    // What `configure pcm5122 filter low-latency` sets (tests/unit/configure.test.ts checks the key itself).
    options.filter = 'low-latency';
    const low = await waitFor('the low-latency figure', () => { const f = alsaIn.bridge.outputLatency(); return f && f.externalMs !== normal.externalMs ? f : undefined; });
    // The external delay comes in whole ns (R-FMT-4): differences hold to 1 ns (1e-6 ms).
    assert.ok(Math.abs(normal.ms - low.ms - 16.5 / 48) < 1e-6, `${normal.ms} − ${low.ms}`);
    options.filter = 'high-attenuation';
    const high = await waitFor('the high-attenuation figure', () => { const f = alsaIn.bridge.outputLatency(); return f && f.unknown.length === 2 ? f : undefined; });
    assert.match(high.unknown[1]!, /DAC interpolation filter group delay/);
    // The unknown item is left out of the figure, not counted as anything: the known part is the normal figure less 20/fs.
    assert.ok(Math.abs(normal.ms - high.ms - 20 / 48) < 1e-6, `${normal.ms} − ${high.ms}`);
  });

  it('while a player plays, and after: the stream\'s FIFO counted (2 periods of 128 frames on the sim board), nothing unknown', async () => {
    const frames = 48000 * 3;
    baseCard.play(1, { rate: 48000, channels: 2, format: 'S16_LE', bytes: new Uint8Array(frames * 4) });
    await waitFor('the bridge plays', () => base.bridge.status().state === 'playing');
    const during = base.bridge.outputLatency()!;
    assert.equal(during.rate, 48000);
    // docs/PROTOCOL.md section 6: fifo = periods × period; the sim board's device buffer holds 2 periods of 128 frames at 48 kHz.
    assert.ok(Math.abs(during.fifoMs! - (256 / 48)) < 1e-9, String(during.fifoMs));
    assert.deepEqual(during.unknown, []);
    assert.ok(Math.abs(during.ms - (during.bridgeMs + during.fifoMs! + during.externalMs)) < 1e-9);
    assert.ok(Math.abs(during.bridgeMs - 50) < 1e-9, String(during.bridgeMs));
    await waitFor('the player stopped', () => !baseCard.cable(1).active && base.bridge.status().state === 'idle', 60_000);
    const idle = base.bridge.outputLatency()!;
    assert.deepEqual(idle, during, 'idle: the last session\'s rate and FIFO');
  });
});

describe('serve: the snapcast flags', function () {
  this.timeout(60_000);
  const BIN = path.resolve(import.meta.dirname, '../../bin/sbc-audio.js');
  const serve = (args: string[]) => spawnSync(process.execPath, [BIN, 'serve', '--board', 'sim', '--no-state', '--no-osc', '--no-http', '--no-midi', ...args], { encoding: 'utf8', timeout: 30_000 });

  it('--snapcast with --no-alsa-in, --snapcast-client alone, a bad port: usage errors (exit 2) naming the flags', () => {
    let r = serve(['--no-alsa-in', '--snapcast', '127.0.0.1']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--snapcast reports the ALSA way in's latency: it does not go with --no-alsa-in/);
    r = serve(['--snapcast-client', 'kitchen']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--snapcast-client goes with --snapcast HOST\[:PORT\]/);
    r = serve(['--snapcast', '127.0.0.1:0']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--snapcast "127\.0\.0\.1:0": the port must be 1 to 65535/);
  });

  it('--snapcast needs the loopback card: where it is missing serve stops (exit 2) saying so', async function () {
    // This host's card decides which answer is right; a host with snd-aloop loaded gets the serve's start line instead.
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-snapcast-cli-'));
    try {
      if (existsSync('/proc/asound/Loopback')) {
        // Wait for the start line (a hang guard, not a bound on how long starting takes), then stop it with SIGTERM.
        const c = spawn(process.execPath, [BIN, 'serve', '--board', 'sim', '--no-state', '--no-osc', '--no-http', '--no-midi', '--runtime-dir', dir, '--snapcast', '127.0.0.1:1', '--snapcast-client', 'kitchen'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const exited = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
        let out = '';
        c.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
        c.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
        try {
          await waitFor('serve\'s snapcast start line', () => /^ {2}snapcast latency → 127\.0\.0\.1:1 client kitchen$/m.test(out) || c.exitCode !== null, 60_000);
          assert.match(out, /^ {2}snapcast latency → 127\.0\.0\.1:1 client kitchen$/m, out);
          c.kill('SIGTERM');
          assert.equal(await exitCode('serve after SIGTERM', exited, 60_000), 0, out);
        } finally {
          await stopChild(c);
        }
      } else {
        const r = serve(['--runtime-dir', dir, '--snapcast', '127.0.0.1', '--alsa-in-card', 'NoSuchLoop']);
        assert.equal(r.status, 2, r.stdout + r.stderr);
        assert.match(r.stderr, /--alsa-in: NoSuchLoop: /);
        const d = serve(['--runtime-dir', dir, '--snapcast', '127.0.0.1']);
        assert.equal(d.status, 2, d.stdout + d.stderr);
        assert.match(d.stderr, /--snapcast needs the ALSA way in: Loopback: .*modprobe snd-aloop/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a client id many machines share (raspberrypi, localhost, with #N too) is warned about in one line; another is not (the control)', () => {
    // --alsa-in-card NoSuchLoop: serve stops after the option checks on every host (exit 2), the warning said before.
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-snapcast-cli-'));
    const warning = /^sbc-audio serve: snapcast: the client id "([^"]+)" is the default name of many machines: give each appliance its own --snapcast-client/m;
    try {
      for (const id of ['raspberrypi', 'localhost', 'raspberrypi#2']) {
        const r = serve(['--runtime-dir', dir, '--snapcast', '127.0.0.1', '--snapcast-client', id, '--alsa-in-card', 'NoSuchLoop']);
        assert.equal(r.status, 2, r.stdout + r.stderr);
        assert.equal(r.stderr.split('\n').filter((l) => warning.test(l)).length, 1, r.stderr);
        assert.equal(warning.exec(r.stderr)?.[1], id);
      }
      const r = serve(['--runtime-dir', dir, '--snapcast', '127.0.0.1', '--snapcast-client', 'kitchen', '--alsa-in-card', 'NoSuchLoop']);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.doesNotMatch(r.stderr, /default name of many machines/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
