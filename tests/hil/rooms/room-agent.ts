/**
 * One room of the multi-room rig (tests/hil/run-rooms.sh, docs/multi-room.md): runs in each QEMU
 * guest and does, on request of the rooms test (tests/hil/rooms/rooms.hil.ts, in room a), what a
 * user does on an appliance: start chronyd, `sbc-audio serve` on the guest's board (a PCM5122 on
 * i2c-stub whose DAC is the SimDac snd-aloop card), snapclient into the ALSA way in,
 * and it captures what the DAC put out (hw:SimDac,1,0) with CLOCK_REALTIME timestamps; room a's
 * agent also feeds the audio into snapserver (which runs on the rig's host, tests/hil/run-rooms.sh).
 *
 * HTTP with JSON bodies on the rig's private link (10.77.0.0/24 between the guests; nothing else
 * reaches it). Test code: it allocates freely and trusts its one caller.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createLinuxPcmBackend } from '../../../src/hal/linux/index.ts';
import { CLOCK_MONOTONIC, libc } from '../../../src/hal/linux/libc.ts';
import { chronyDropIn } from '../../../src/system/setup.ts';
import { emptyPcmStatus, PcmXrunError, type PcmStream } from '../../../src/hal/pcm.ts';
import { hilEnv } from '../env.ts';
import { hostProgram } from '../peers.ts';
import { preloadPcm5122Stub } from '../lib/pcm5122-stub.ts';
import { sbcCli } from '../lib/sbc-cli.ts';
import { type CaptureStamp, earTimesNs, pulseTrain } from '../lib/room-sync.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
export const AGENT_PORT = 7070;
const WORK = '/tmp/room';
const env = hilEnv();
const room = process.env.SBC_HIL_HOSTNAME ?? 'room';
const TIMESYNC = process.env.SBC_HIL_TIMESYNC_DIR ?? '/host/timesync';
const HOST_LIBS = process.env.SBC_HIL_HOST_LD_LIBRARY_PATH ?? '/usr/lib/x86_64-linux-gnu';

interface Proc { child: ChildProcess; out: string; exited: boolean }
const procs = new Map<string, Proc>();

function start(name: string, cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Proc {
  const p: Proc = { child: spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }), out: '', exited: false };
  const keep = (d: Buffer) => { p.out = (p.out + d.toString()).slice(-200_000); };
  p.child.stdout!.on('data', keep);
  p.child.stderr!.on('data', keep);
  p.child.on('error', (e) => { p.out += `\nspawn: ${e.message}`; p.exited = true; });
  p.child.on('exit', (code, sig) => { p.out += `\n[exit ${code ?? sig}]`; p.exited = true; });
  procs.set(name, p);
  return p;
}

async function stop(name: string): Promise<void> {
  const p = procs.get(name);
  if (!p || p.exited) return;
  p.child.kill('SIGTERM');
  for (let i = 0; i < 200 && !p.exited; i++) await sleep(50);
  if (!p.exited) p.child.kill('SIGKILL');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => boolean, guardMs: number, p?: Proc): Promise<void> {
  const end = Date.now() + guardMs;
  while (!probe()) {
    if (p?.exited) throw new Error(`${what}: the process exited: ${p.out.slice(-3000)}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${p ? `: ${p.out.slice(-3000)}` : ''}`);
    await sleep(100);
  }
}

// --- chrony -----------------------------------------------------------------------------------
const CHRONY_DIR = '/run/chrony';
const chronyc = (args: string[]) => spawnSync(path.join(TIMESYNC, 'usr/bin/chronyc'), ['-h', `${CHRONY_DIR}/chronyd.sock`, ...args], { env: { ...process.env, LD_LIBRARY_PATH: HOST_LIBS }, encoding: 'utf8' });

async function startChrony(o: { server: string; port: number }): Promise<string> {
  await stop('chronyd');
  mkdirSync(CHRONY_DIR, { recursive: true, mode: 0o700 });
  mkdirSync('/var/lib/chrony', { recursive: true });
  const conf = path.join(WORK, 'chrony.conf');
  // The appliance's drop-in as `sbc-audio setup --time-from HOST` writes it (chronyDropIn, from
  // deploy/chrony/time-client.conf), the rig's time server's port added (it is not on 123), and what
  // Debian's chrony.conf would give (a command socket, a pid file).
  const dropIn = chronyDropIn({ timeFrom: o.server }).replace(`server ${o.server} `, `server ${o.server} port ${o.port} `);
  if (!dropIn.includes(`port ${o.port}`)) throw new Error(`the drop-in has no "server ${o.server}" line: ${dropIn}`);
  writeFileSync(conf, [
    dropIn,
    `bindcmdaddress ${CHRONY_DIR}/chronyd.sock`, 'cmdport 0', `pidfile ${CHRONY_DIR}/chronyd.pid`, 'driftfile /var/lib/chrony/drift', '',
  ].join('\n'));
  const p = start('chronyd', path.join(TIMESYNC, 'usr/sbin/chronyd'), ['-d', '-u', 'root', '-f', conf], { LD_LIBRARY_PATH: HOST_LIBS });
  await until('chronyd to answer', () => chronyc(['-c', 'tracking']).status === 0, 30000, p);
  return p.out;
}

// --- serve ----------------------------------------------------------------------------------------
const runtimeDir = path.join(WORK, 'run');
let boardName = '';



async function startServe(o: { analogDelayMs: number; snapcast?: { server: string; client: string }; latencyMs?: number }): Promise<string> {
  await stop('serve');
  await preloadPcm5122Stub(env.i2c!.bus);
  boardName = `${room}-board`;
  const boardFile = path.join(WORK, `${boardName}.json`);
  writeFileSync(boardFile, JSON.stringify({
    name: boardName, description: `HIL rooms rig, ${room}: PCM5122 on i2c-stub, its DAC the SimDac loopback card`, manufacturer: 'sbc-audio HIL guest', hal: 'linux',
    codec: { part: 'pcm5122', bus: env.i2c!.bus, address: '0x4c', options: { filter: 'normal' } },
    streams: [{ id: 'speaker', direction: 'output', purpose: 'speaker', pcm: env.alsa?.dacPlayback ?? 'hw:SimDac,0,0', plug: 'hardwired' }],
    analogDelays: o.analogDelayMs > 0 ? [{ direction: 'output', what: 'the room\'s amplifier (a stated figure)', ns: Math.round(o.analogDelayMs * 1e6), source: 'HIL rooms rig: the delay this room states' }] : [],
  }));
  const args = ['serve', '--board', boardFile, '--runtime-dir', runtimeDir, '--no-state', '--no-osc', '--no-http', '--no-midi', '--ramp-ms', '0',
    '--period-us', '40000', '--alsa-in-latency', String(o.latencyMs ?? 60),
    ...(o.snapcast ? ['--snapcast', o.snapcast.server, '--snapcast-client', o.snapcast.client] : [])];
  const p = start('serve', process.execPath, [BIN, ...args]);
  await until('serve to start the ALSA way in', () => /alsa-in pcm "sbc-audio"/.test(p.out), 180000, p);
  await sbcCli(['gain', `${boardName}.speaker`, '0'], runtimeDir);
  return p.out;
}

// --- snapcast -----------------------------------------------------------------------------------------
// snapserver runs on the rig's host (tests/hil/run-rooms.sh), reached as 10.0.2.2 through QEMU's user network.
const SNAP = path.join(WORK, 'snap');
const SNAP_HOST = process.env.SBC_HIL_SNAP_HOST ?? '10.0.2.2';
const SNAP_STREAM_PORT = Number(process.env.SBC_HIL_SNAP_STREAM_PORT ?? 1704);
const SNAP_SOURCE_PORT = Number(process.env.SBC_HIL_SNAP_SOURCE_PORT ?? 4953);

function host(name: string, args: string[]): Proc {
  const prog = hostProgram(env, name, { HOME: SNAP });
  if (!prog) throw new Error(`${name} is not in the host /usr share`);
  return start(name, prog.cmd, args, prog.env);
}

async function startSnapclient(o: { hostId: string }): Promise<string> {
  await stop('snapclient');
  mkdirSync(SNAP, { recursive: true });
  // 40 ms ALSA periods (buffer_time 160 ms in 4 fragments; snapclient's default is 80 in 4): fewer
  // wake-ups for a guest's one vCPU. snapclient counts its PCM's buffer itself (snd_pcm_delay).
  const p = host('snapclient', ['-h', SNAP_HOST, '-p', String(SNAP_STREAM_PORT), '--hostID', o.hostId, '--player', 'alsa:buffer_time=160,fragments=4', '-s', 'sbc-audio', '--logsink', 'stderr', '--logfilter', '*:info']);
  // Connected once the server's settings arrived; it opens "sbc-audio" when audio comes (a missing PCM says so at once).
  await until('snapclient to connect', () => /ServerSettings/.test(p.out) && !/PCM device "sbc-audio" not found/.test(p.out), 60000, p);
  await sleep(1000);
  if (/not found/.test(p.out)) throw new Error(`snapclient: ${p.out}`);
  return p.out;
}

/**
 * The feed into snapserver's TCP source (snapserver reads it at the stream's pace): silence from
 * /feed/start on, paced by the clock, which is the settle (snapclient
 * opens its PCM only when audio comes, and the rooms converge while it plays), then the pulse train
 * on /feed/train, then 2 s of silence and the end.
 */
interface Feed { socket: net.Socket; timer: NodeJS.Timeout; train?: Buffer; ended: boolean }
let feed: Feed | undefined;
const SILENCE = Buffer.alloc(48000 * 4 / 4); // 250 ms
/** How far ahead of real time the silence may run: what the TCP path (socket buffers, snapserver) holds stays small, so the train is not queued behind seconds of it. */
const AHEAD_MS = 500;

function startFeed(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(SNAP_SOURCE_PORT, SNAP_HOST, () => {
      const startMs = Date.now();
      let sentMs = 0;
      const f: Feed = {
        socket, ended: false,
        // Silence paced by the clock (the socket's back-pressure alone let megabytes of it queue up).
        timer: setInterval(() => {
          if (f.ended) return;
          if (f.train) {
            f.ended = true;
            clearInterval(f.timer);
            socket.end(Buffer.concat([f.train, Buffer.alloc(2 * 48000 * 4)]));
            return;
          }
          while (sentMs < Date.now() - startMs + AHEAD_MS) {
            socket.write(SILENCE);
            sentMs += 250;
          }
        }, 50),
      };
      feed = f;
      resolve();
    });
    socket.on('error', reject);
  });
}

function sendTrain(train: ReturnType<typeof pulseTrain>): void {
  if (!feed || feed.ended) throw new Error('no feed is running (/feed/start)');
  feed.train = Buffer.from(train.samples.buffer, train.samples.byteOffset, train.samples.byteLength); // the next tick sends it
}

// --- capture with system-clock timestamps --------------------------------------------------------------------
interface Capture { pcm: PcmStream; chunks: Int16Array[]; frames: number; stamps: CaptureStamp[]; xruns: number; running: boolean; done: Promise<void>; error?: string }
let capture: Capture | undefined;

const tsBuf = new Uint8Array(16);
const tsWords = new Uint32Array(tsBuf.buffer);
function clockNs(clk: number): number {
  libc().clockGettime(clk, tsBuf);
  return tsWords[0]! * 1e9 + tsWords[2]!;
}
const CLOCK_REALTIME = 0;

async function startCapture(): Promise<void> {
  if (capture) throw new Error('a capture is running');
  // Opened before the board's engine opens the DAC side: snd-aloop then holds the DAC to these parameters.
  const pcm = await createLinuxPcmBackend().open(env.alsa?.dacCapture ?? 'hw:SimDac,1,0', {
    // 8 s of buffer (snd-aloop allows 2 MiB): a stall of the guest's one vCPU must not overrun it.
    direction: 'capture', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 1200, bufferFrames: 8 * 48000,
  });
  const c: Capture = { pcm, chunks: [], frames: 0, stamps: [], xruns: 0, running: true, done: Promise.resolve() };
  const st = emptyPcmStatus();
  const buf = new Uint8Array(48000 * 4);
  pcm.start();
  c.done = (async () => {
    while (c.running) {
      await pcm.wait(200);
      try {
        const n = pcm.read(buf, Math.min(pcm.avail(), 48000));
        if (n > 0) {
          c.chunks.push(new Int16Array(buf.slice(0, n * 4).buffer));
          c.frames += n;
        }
        // The status right after the read: frames captured so far = read + still available, at hostNs
        // (CLOCK_MONOTONIC), moved to CLOCK_REALTIME by the two clocks read back to back.
        pcm.status(st);
        const rt = clockNs(CLOCK_REALTIME), mono = clockNs(CLOCK_MONOTONIC);
        c.stamps.push({ frames: c.frames + st.avail, realtimeNs: rt - (mono - st.hostNs) });
      } catch (e) {
        if (!(e instanceof PcmXrunError)) throw e;
        // An overrun loses frames and with them the frame count's tie to time: start the count again
        // from here (the result says so; a run with one fails the test).
        c.xruns++;
        pcm.recover(); // a capture starts again by itself
      }
    }
  })().catch((e: Error) => { c.error = e.stack ?? String(e); });
  capture = c;
}

async function stopCapture(trainSpec: Parameters<typeof pulseTrain>[0], afterDacNs: number): Promise<object> {
  const c = capture;
  if (!c) throw new Error('no capture is running');
  c.running = false;
  await c.done;
  c.pcm.close();
  capture = undefined;
  if (c.error) throw new Error(`the capture failed: ${c.error}`);
  const samples = new Int16Array(c.frames * 2);
  let at = 0;
  for (const ch of c.chunks) { samples.set(ch, at); at += ch.length; }
  const train = pulseTrain(trainSpec);
  const ear = earTimesNs(train, { room, samples, stamps: c.stamps, rate: 48000, afterDacNs });
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, Math.abs(s));
  return { room, frames: c.frames, stamps: c.stamps.length, xruns: c.xruns, peak, earTimesNs: ear.map((t) => (t === undefined ? null : t)) };
}

// --- the server -------------------------------------------------------------------------------------------
type Handler = (body: Record<string, unknown>) => Promise<unknown>;
const routes: Record<string, Handler> = {
  '/ping': async () => ({ room, now: clockNs(CLOCK_REALTIME) }),
  '/chrony': async (b) => ({ out: await startChrony(b as { server: string; port: number }) }),
  '/chrony/stop': async () => { await stop('chronyd'); return {}; },
  '/tracking': async () => { const r = chronyc(['-n', '-c', 'tracking']); return { status: r.status, out: r.stdout + r.stderr }; },
  '/serve': async (b) => ({ out: await startServe(b as Parameters<typeof startServe>[0]) }),
  '/snapclient': async (b) => ({ out: await startSnapclient(b as { hostId: string }) }),
  '/capture/start': async () => {
    // A capture an earlier (failed) measurement left running goes first: its result is not wanted.
    if (capture) { capture.running = false; await capture.done; capture.pcm.close(); capture = undefined; }
    await startCapture();
    return {};
  },
  '/capture/stop': async (b) => stopCapture(b.train as Parameters<typeof pulseTrain>[0], Number(b.afterDacNs ?? 0)),
  '/feed/start': async () => { if (feed) { clearInterval(feed.timer); feed.socket.destroy(); } await startFeed(); return {}; },
  '/feed/train': async (b) => { sendTrain(pulseTrain(b.train as Parameters<typeof pulseTrain>[0])); return {}; },
  '/doctor': async () => {
    // chronyc on PATH, as on an appliance (here a wrapper: the program runs from the unpacked package with the host's libraries).
    const bin = path.join(WORK, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'chronyc'), `#!/bin/sh\nLD_LIBRARY_PATH=${HOST_LIBS} exec ${path.join(TIMESYNC, 'usr/bin/chronyc')} "$@"\n`, { mode: 0o755 });
    const r = spawnSync(process.execPath, [BIN, 'doctor', '--board', path.join(WORK, `${boardName}.json`), '--json', '--runtime-dir', runtimeDir],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    return { status: r.status, out: r.stdout, err: r.stderr };
  },
  '/logs': async () => Object.fromEntries([...procs].map(([k, p]) => [k, p.out.slice(-6000)])),
  '/poweroff': async () => { setTimeout(() => void shutdown(), 100); return {}; },
};

async function shutdown(): Promise<void> {
  if (capture) { capture.running = false; await capture.done.catch(() => undefined); }
  for (const name of ['snapclient', 'serve', 'chronyd']) await stop(name);
  server.close();
  process.exit(0);
}

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
// The ALSA name "sbc-audio" where `sbc-audio setup` installs it (setup.hil.ts checks that setup does).
mkdirSync('/etc/alsa/conf.d', { recursive: true });
copyFileSync(path.join(ROOT, 'alsa/50-sbc-audio.conf'), '/etc/alsa/conf.d/50-sbc-audio.conf');
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    const h = routes[req.url ?? ''];
    if (!h) { res.writeHead(404).end(JSON.stringify({ error: `no route ${req.url}` })); return; }
    void (async () => {
      try {
        const out = await h(body ? (JSON.parse(body) as Record<string, unknown>) : {});
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (e) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (e as Error).stack ?? String(e) }));
      }
    })();
  });
});
// On the rig's private link only (the guests' point-to-point link; the user network does not reach it).
const listenOn = process.env.SBC_HIL_NET_IP ?? '127.0.0.1';
server.listen(AGENT_PORT, listenOn, () => console.log(`room-agent ${room}: listening on ${listenOn}:${AGENT_PORT}`));
process.on('SIGTERM', () => void shutdown());
