/**
 * Workers that start at once (issue 26): SET_FORMAT → first GET_BUFFER reply against the start of
 * an empty worker thread, in one run. Not part of `make test`.
 *
 *   node --import tsx bench/worker-start.ts [--runs N (default 5)] [--cold-runs N (default 3)] [--no-fail]
 *
 * (a) **Baseline**: `new Worker` on a plain JavaScript module (a temp .mjs file) that posts
 *     'ready' at once, until that message arrives; median of N.
 * (b) **Warm service**: the stream service on the sim board in this process (serveBoard('sim'):
 *     what `serve --board sim` runs, without OSC, HTTP and MIDI), then N fresh client sessions on
 *     sim.speaker, each: connect, SET_FORMAT (48 kHz, 16-bit, stereo), open the ring-buffer
 *     channel, GET_BUFFER; the time from sending SET_FORMAT to the GET_BUFFER reply; between
 *     sessions the channel closes and the bench waits until its engine is gone and the service's
 *     spare thread has loaded (src/engine/driver.ts, EngineWorkerPool: a client that comes at
 *     any later time finds it so). Median of N. The same once more with the spare thread off
 *     (`ringBuffer: { prestart: false }`: each engine's thread starts when its channel opens), as
 *     the figure before issue 26.
 * (c) **Cold service**: `sbc-audio serve --board sim` as a child process (bin/sbc-audio.js: tsx
 *     in a checkout, dist/ in the package), and one session as in (b) as soon as the endpoint's
 *     socket appears: the first client after the service starts. Median of the cold runs, each a new process. Also printed: the time from the spawn
 *     to the endpoint (the service publishes once its spare has loaded, src/stream/service.ts).
 *
 * Prints (b)/(a) and (c)/(a), each against the target of 3 (the issue's), and exits 1 when one is
 * over it (unless --no-fail). Both figures are wall times on a shared machine: compare the ratios,
 * which take the machine's speed at the time of the run out, not the milliseconds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SAMPLE_FORMAT } from '../src/audio/formats.ts';
import { serveBoard } from '../src/cli/wiring.ts';
import { StreamClient } from '../src/stream/client.ts';
import { STATUS } from '../src/stream/wire.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`worker-start: ${name} takes a whole number above 0`);
    process.exit(2);
  }
  return v;
};
const RUNS = num('--runs', 5);
const COLD_RUNS = num('--cold-runs', 3);
const TARGET = 3;
const now = () => performance.now();
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

const tmp = mkdtempSync(path.join(tmpdir(), 'sbc-worker-start-'));

/** (a) An empty worker thread: start → its first message. */
async function emptyWorker(): Promise<number> {
  const file = path.join(tmp, 'empty.mjs');
  if (!existsSync(file)) writeFileSync(file, "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage('ready');\n");
  const t = now();
  const w = new Worker(file);
  await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  const took = now() - t;
  await w.terminate();
  return took;
}

/** One client session: SET_FORMAT sent → GET_BUFFER answered (ms); the channels closed after. */
async function session(endpoint: string): Promise<number> {
  const c = await StreamClient.connect(endpoint);
  try {
    const t = now();
    const sf = await c.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
    if (sf.result !== STATUS.OK || !sf.token) throw new Error(`SET_FORMAT answered ${sf.result}`);
    const rb = await c.openRingBuffer(sf.token);
    const gb = await rb.getBuffer(4800, 0);
    const took = now() - t;
    await rb.close();
    if (gb.result !== STATUS.OK) throw new Error(`GET_BUFFER answered ${gb.result}`);
    return took;
  } finally {
    await c.close();
  }
}

/** (b) In-process service: RUNS sessions, each after the previous engine is gone (and the spare loaded). */
async function warmSessions(prestart: boolean): Promise<{ times: number[]; fromSpare: number }> {
  const runtimeDir = path.join(tmp, `run-${prestart ? 'spare' : 'none'}`);
  const served = await serveBoard('sim', { runtimeDir, log: () => {}, ringBuffer: { prestart } });
  try {
    const { service } = served;
    const endpoint = path.join(runtimeDir, 'audio-output', 'sim.speaker');
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await service.enginePool?.warm();
      times.push(await session(endpoint));
      while (service.ringBuffers.size > 0) await sleep(20);
      // The refill starts once the engine has stopped (EngineDevice.start): wait for it to be there.
      while (prestart && (service.enginePool?.size ?? 0) === 0) await sleep(5);
    }
    return { times, fromSpare: service.enginePool?.counts.taken ?? 0 };
  } finally {
    await served.close();
  }
}

/** (c) `serve --board sim` in a new process; the first session as soon as the endpoint exists. */
async function coldSession(i: number): Promise<{ session: number; publish: number }> {
  const t0 = now();
  const runtimeDir = path.join(tmp, `cold-${i}`);
  const child: ChildProcess = spawn(process.execPath, [
    path.join(ROOT, 'bin/sbc-audio.js'), 'serve', '--board', 'sim', '--runtime-dir', runtimeDir, '--no-osc', '--no-http', '--no-midi', '--quiet',
    '--state-file', path.join(tmp, `cold-${i}-state.json`),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const endpoint = path.join(runtimeDir, 'audio-output', 'sim.speaker');
    const deadline = now() + 60_000; // a hang guard, not a figure
    while (!existsSync(endpoint)) {
      if (now() > deadline || child.exitCode !== null) throw new Error(`serve did not publish ${endpoint}`);
      await sleep(5);
    }
    const publish = now() - t0;
    // The socket exists before it listens only for an instant: retry a refused connect.
    for (;;) {
      try {
        return { session: await session(endpoint), publish };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || now() > deadline) throw e;
        await sleep(5);
      }
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

try {
  await emptyWorker(); // the first worker of a process pays for one-time set-up: not a baseline
  const baseline: number[] = [];
  for (let i = 0; i < RUNS; i++) baseline.push(await emptyWorker());
  const a = median(baseline);
  const warm = await warmSessions(true);
  const before = await warmSessions(false);
  const cold: number[] = [];
  const publish: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const r = await coldSession(i);
    cold.push(r.session);
    publish.push(r.publish);
  }
  const b = median(warm.times);
  const b0 = median(before.times);
  const c = median(cold);
  console.log(`worker-start (node ${process.version}, ${path.relative(process.cwd(), ROOT) || '.'}: ${existsSync(path.join(ROOT, 'src/cli/main.ts')) ? 'TypeScript through tsx' : 'compiled dist/'})`);
  console.log(`  (a) empty worker thread, start → 'ready':                     median ${ms(a)}  [${list(baseline)}]`);
  console.log(`  (b) SET_FORMAT → GET_BUFFER, in-process service, spare thread: median ${ms(b)}  [${list(warm.times)}]  (${warm.fromSpare}/${RUNS} engines on a spare)`);
  console.log(`      the same without the spare (prestart: false):             median ${ms(b0)}  [${list(before.times)}]`);
  console.log(`  (c) first session after 'serve --board sim' starts (cold):     median ${ms(c)}  [${list(cold)}]`);
  console.log(`      (for information: spawn → endpoint published, median ${ms(median(publish))}  [${list(publish)}])`);
  const rb = b / a;
  const rc = c / a;
  console.log(`  (b)/(a) = ${rb.toFixed(2)}  (target ≤ ${TARGET}; without the spare ${(b0 / a).toFixed(2)})`);
  console.log(`  (c)/(a) = ${rc.toFixed(2)}  (target ≤ ${TARGET})`);
  if (!args.includes('--no-fail') && (rb > TARGET || rc > TARGET)) process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
