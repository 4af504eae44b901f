/**
 * Idle underruns (issue 19): `sbc-audio serve --board sim` as its own process (the sim PCM on
 * CLOCK_MONOTONIC, the default 2 × 128-frame engine periods) and a protocol client that plays a
 * tone through it, as `sbc-audio play` does, for S seconds. Every underrun the service's engine
 * counts reaches the client as EXT_RB_ERROR (kind underrun, with the service's running total),
 * so the figure is the service's own count, not the client's guess. Beside it, in the same run:
 * the load average at the start and the end (the figure means something only on an idle machine).
 * Not part of `make test`.
 *
 *   node --import tsx bench/idle-underruns.ts [seconds, default 60] [--stream NAME] [--no-fail]
 *
 * Beside the count, in the same run: cyclictest at the engine's priority and period (how often
 * the platform itself wakes a SCHED_FIFO thread later than one period: the slack at 2 × 128
 * frames), the engine thread's minor page faults (each one waits for the process's memory-map
 * lock) and the load average. --periods N runs the service with N engine periods (a bigger FIFO)
 * instead of `serve`'s default, to measure what that would buy.
 *
 * Exit code: 0 when no underrun was counted, 1 otherwise (or when the service did not start),
 * unless --no-fail (then 0 whenever the run completed).
 * Debugging: IDLE_DEBUG=1 prints each underrun's time and the service's output; IDLE_NODE_ARGS
 * passes node options to the service (e.g. "--trace-gc", "--perf-basic-prof").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { TICKS_PER_SECOND, stealTicks } from './proc-stat.ts';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RbErrorInfo } from '../src/stream/client.ts';
import { playSamples, toneSamples } from '../src/stream/player.ts';
import { RB_ERROR_KIND } from '../src/stream/wire.ts';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const noFail = args.includes('--no-fail');
const stream = opt('--stream') ?? 'sim.speaker';
const periods = opt('--periods') === undefined ? undefined : Number(opt('--periods'));
const seconds = Number(args.find((a, i) => /^\d+(\.\d+)?$/.test(a) && !args[i - 1]?.startsWith('--')) ?? 60);
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/sbc-audio.js');
const SELF = fileURLToPath(import.meta.url);

if (opt('--serve-child') !== undefined) {
  // The service for --periods N: `serve --board sim` as it runs, with the engine's periods set.
  const { serveBoard } = await import('../src/cli/wiring.ts');
  const served = await serveBoard('sim', { runtimeDir: opt('--serve-child')!, log: (l) => console.error(`serve: ${l}`), ringBuffer: { periods } });
  console.log(`serving ${served.service.endpoints.length} streams`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await served.close();
  process.exit(0);
}

/**
 * Minor page faults of the service's SCHED_FIFO threads (the engines), from /proc: each fault in
 * the audio thread waits for the process's memory-map lock, which the other threads' V8 heaps take.
 */
function engineFaults(pid: number): number | undefined {
  let sum: number | undefined;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  for (const tid of tids) {
    try {
      // Fields after the ")" of comm: state is field 3; minflt field 10, policy field 41 (1 = SCHED_FIFO).
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (f[41 - 3] === '1') sum = (sum ?? 0) + Number(f[10 - 3]);
    } catch {
      // the thread ended
    }
  }
  return sum;
}

/** cyclictest at the engine's priority and period, alongside: how often the platform wakes a SCHED_FIFO thread later than a period. */
function cyclictest(periodUs: number, secs: number): Promise<{ max: number; late: number; total: number } | undefined> {
  return new Promise((resolve) => {
    let text = '';
    let c: ChildProcess;
    try {
      c = spawn('cyclictest', ['-m', '-p', '70', '-i', String(periodUs), '-D', String(Math.ceil(secs)), '-q', '-h', '20000'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return resolve(undefined);
    }
    c.on('error', () => resolve(undefined));
    c.stdout!.on('data', (d) => { text += d; });
    c.on('exit', () => {
      let late = 0;
      let total = 0;
      for (const line of text.split('\n')) {
        const m = /^(\d+)\s+(\d+)/.exec(line);
        if (!m) continue;
        total += Number(m[2]);
        if (Number(m[1]) >= periodUs) late += Number(m[2]);
      }
      const max = Number(/Max Latencies:\s*(\d+)/.exec(text)?.[1] ?? Number.NaN);
      resolve(total > 0 ? { max, late, total } : undefined);
    });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'sbc-idle-'));
let serve: ChildProcess | undefined;
let out = '';
const load0 = loadavg()[0]!;
try {
  const nodeArgs = process.env.IDLE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  serve = periods === undefined
    ? spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--board', 'sim', '--runtime-dir', dir, '--no-state'], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [...nodeArgs, '--import', 'tsx', SELF, '--serve-child', dir, '--periods', String(periods)], { stdio: ['ignore', 'pipe', 'pipe'] });
  serve.stdout!.on('data', (d) => { out += d; });
  serve.stderr!.on('data', (d) => { out += d; });
  // Ready when serve says so (it prints its line once every endpoint is published); a hang guard only.
  const ready = await new Promise<boolean>((resolve) => {
    const guard = setTimeout(() => resolve(false), 60000);
    const check = () => {
      if (/serving \d+ streams/.test(out)) { clearTimeout(guard); resolve(true); }
    };
    serve!.stdout!.on('data', check);
    serve!.once('exit', () => { clearTimeout(guard); resolve(false); });
  });
  if (!ready) throw new Error(`idle-underruns: serve did not publish its streams:\n${out}`);
  let underruns = 0;
  let events = 0;
  let busFailures = 0;
  const rate = 48000;
  const samples = toneSamples(440, seconds, rate, 2, -12);
  const baseline = cyclictest(2667, seconds);
  const steal0 = stealTicks();
  let fifoBytes = 0;
  let startNs = 0;
  const faults: (number | undefined)[] = [];
  let faultTimer: NodeJS.Timeout | undefined;
  const r = await playSamples({
    endpoint: path.join(dir, 'audio-output', stream), rate, channels: 2,
    onOpen: (c) => {
      fifoBytes = c.fifoBytes;
      startNs = c.startTimeNs;
      faults.push(engineFaults(serve!.pid!));
      faultTimer = setTimeout(() => faults.push(engineFaults(serve!.pid!)), Math.min(10, seconds / 2) * 1000);
      void c.ringBuffer.extNotifications(true).catch(() => {});
      c.ringBuffer.on('rb-error', (e: RbErrorInfo) => {
        events++;
        if (process.env.IDLE_DEBUG) console.error(`rb-error kind ${e.kind} total ${e.total} at ${(e.monotonicTimeNs - startNs) / 1e6} ms`);
        if (e.kind === RB_ERROR_KIND.UNDERRUN) underruns = Math.max(underruns, e.total);
        else if (e.kind === RB_ERROR_KIND.BUS_FAILURE) busFailures++;
      });
    },
  }, samples);
  if (process.env.IDLE_DEBUG) console.error(out);
  faults.push(engineFaults(serve.pid!));
  clearTimeout(faultTimer);
  const load1 = loadavg()[0]!;
  const steal1 = stealTicks();
  const ct = await baseline;
  const played = r.frames / rate;
  console.log(`idle-underruns: ${stream} on the sim board (serve as a process, sim PCM on CLOCK_MONOTONIC), 128-frame engine periods × ${periods ?? 'default'}, FIFO ${fifoBytes / 4} frames`);
  console.log(ct
    ? `  baseline, same run: cyclictest SCHED_FIFO 70 every 2667 µs: ${ct.late} of ${ct.total} wake-ups later than one period (2667 µs), max ${ct.max} µs`
    : '  baseline: cyclictest not available (make bench-tools)');
  const [f0, f1, f2] = faults;
  if (f0 !== undefined && f1 !== undefined && f2 !== undefined) {
    const first = Math.min(10, seconds / 2);
    console.log(`  engine thread minor page faults: ${f1 - f0} in the first ${first} s of play, ${f2 - f1} in the ${(seconds - first).toFixed(0)} s after`);
  }
  console.log(`  load average (1 min) at start ${load0.toFixed(2)}, at end ${load1.toFixed(2)}; ${events} EXT_RB_ERROR notifications${busFailures ? `, ${busFailures} bus failures` : ''}`);
  if (steal0 !== undefined && steal1 !== undefined) {
    // Steal: time a hypervisor ran something else while this machine's vCPUs wanted to run. Any at
    // all means wake-ups can be late by whole scheduler ticks, whatever the priority.
    console.log(`  hypervisor steal during the run (/proc/stat): ${((steal1 - steal0) * 1000 / TICKS_PER_SECOND).toFixed(0)} ms of CPU time over all CPUs`);
  }
  console.log(`${underruns} underruns in ${played.toFixed(0)} s`);
  process.exitCode = underruns === 0 && busFailures === 0 ? 0 : noFail ? 0 : 1;
} finally {
  if (serve && serve.exitCode === null) {
    const gone = new Promise((r) => serve!.once('exit', r));
    serve.kill('SIGTERM');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
}
