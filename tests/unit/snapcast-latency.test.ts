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
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { SimLoopbackBackend, SimLoopbackCard } from '../../src/hal/sim/loopback-card.ts';
import type { OutputLatency } from '../../src/stream/alsa-bridge.ts';
import { type AlsaIn, startAlsaIn } from '../../src/stream/alsa-in.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { SnapcastLatencyReporter, parseSnapcastAddress } from '../../src/stream/snapcast-latency.ts';
import { freePort, sleep, stopChild, waitFor } from './helpers/mosquitto.ts';

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
    assert.ok(lines.filter((l) => l.includes('is not reachable')).length <= 1, lines.join('\n'));
    server = await startServer(path.join(dir, 'server-2'), controlPort, streamPort);
    await until('snapclient reconnected', () => connected(controlPort, 'test-room'));
    await until('the new server holds 58 ms', async () => (await serverLatency(controlPort, 'test-room')) === 58);
    assert.ok(lines.filter((l) => l === `snapcast: connected to snapserver at 127.0.0.1:${controlPort}`).length >= 2, lines.join('\n'));
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
    const r = await rpc(controlPort, 'Client.SetLatency', { id: 'test-room', latency: 12 });
    assert.deepEqual(r.result, { latency: 12 });
    await sleep(1000); // ten of the closed reporter's poll periods: nothing answers
    assert.equal(await serverLatency(controlPort, 'test-room'), 12);
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

  it('--snapcast needs the loopback card: where it is missing serve stops (exit 2) saying so', function () {
    // This host's card decides which answer is right; a host with snd-aloop loaded gets the serve's start line instead.
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-snapcast-cli-'));
    try {
      if (existsSync('/proc/asound/Loopback')) {
        const c = spawnSync('timeout', ['-s', 'TERM', '6', process.execPath, BIN, 'serve', '--board', 'sim', '--no-state', '--no-osc', '--no-http', '--no-midi', '--runtime-dir', dir, '--snapcast', '127.0.0.1:1', '--snapcast-client', 'kitchen'], { encoding: 'utf8', timeout: 30_000 });
        assert.match(c.stdout, /^ {2}snapcast latency → 127\.0\.0\.1:1 client kitchen$/m, c.stdout + c.stderr);
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
});
