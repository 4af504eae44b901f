/**
 * Whole-stack benchmark on hw:Dummy inside the QEMU guest (issue 26; mocha file, not part of
 * `make test`):
 *
 *   SBC_HIL_SPEC=bench/stack-guest.bench.ts bash tests/hil/run-vm.sh
 *
 * The stack as it is used: this process opens a board (an i2c-stub PCM5122 whose one output
 * stream is `hw:Dummy`) and runs the stream service with the engine's ring-buffer channels at 128
 * (then 256) frame periods × 3; a child process, `sbc-audio play --tone` (the project's CLI and
 * stream client, stdout not a terminal), connects, negotiates 48 kHz S16 stereo, maps the shared
 * buffer and plays a tone through it. CPU (user + system, every thread of both processes, from
 * /proc/<pid>/task/<tid>/schedstat) is taken over a window that starts one second after START (so
 * the client's start-up and the first periods are not in it) and lasts N audio seconds. Beside it
 * in the same run: `aplay` on hw:Dummy at the same period and buffer (3 periods), measured the
 * same way over the same window (aplayCpuWindow), and aplayCpuBaseline (a shell's children CPU,
 * the whole run, 10 ms ticks) as bench/engine-guest.bench.ts reports it.
 *
 * Prints one line per period:
 *   STACK-BENCH guest hw:Dummy period 128: stack CPU X ms/audio s (service+engine Y, client Z) | aplay A | ratio R | xruns N
 * and the per-thread breakdown (STACK-THREADS). Asserts only that figures were produced (TCG
 * timings are noisy: speed is reported, never asserted).
 *
 * Environment (in the guest: pass it through SBC_HIL_GUEST_CMD, since run-vm.sh does not carry
 * the host's environment in):
 *   SBC_STACK_BENCH_SECONDS  audio seconds in the window (default 10)
 *   SBC_STACK_BENCH_PROFILE  1: also profile every thread over the window (the inspector on this
 *                            process's main thread and workers, --cpu-prof in the client) and print
 *                            the top functions and files (STACK-PROFILE); the CPU figures of such a
 *                            run include the profiler's own cost.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../src/board/load.ts';
import { openBoard } from '../src/board/runtime.ts';
import { CLIENT, ClientWatch } from '../src/engine/client-watch.ts';
import { EngineDriver } from '../src/engine/index.ts';
import type { EngineReport } from '../src/engine/types.ts';
import { startStreamService } from '../src/stream/service.ts';
import { hilEnv } from '../tests/hil/env.ts';
import { run } from '../tests/hil/peers.ts';
import { type CpuProfile, type ThreadCpu, aplayCpuBaseline, aplayCpuWindow, measureEngine, processCpuNs, profileSummary, threadCpu, threadCpuDelta } from './engine-lib.ts';

const env = hilEnv();
const SECONDS = Number(process.env.SBC_STACK_BENCH_SECONDS ?? 10);
const PROFILE = process.env.SBC_STACK_BENCH_PROFILE === '1';
/** Left out after START: the client's first writes, the engine's first periods after the switch to the buffer. */
const WARMUP_S = 1;
const RATE = 48000;
const ADDR = 0x4c;
const BOARD = 'guest-stack';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowNs = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, the service's clock on a linux board

/** Both processes' threads at one instant, and their whole-process totals. */
interface Snapshot {
  self: Map<number, ThreadCpu>;
  child: Map<number, ThreadCpu>;
  selfStatNs: number;
  childStatNs: number;
  atNs: number;
}

function snapshot(childPid: number): Snapshot {
  return { self: threadCpu('self'), child: threadCpu(childPid), selfStatNs: processCpuNs('self'), childStatNs: processCpuNs(childPid), atNs: nowNs() };
}

const sum = (ts: ThreadCpu[]) => ts.reduce((s, t) => s + t.ns, 0);

/**
 * The inspector on this process's main thread, over a window. Worker threads are not asked
 * through it: the engine's thread never returns to its event loop, where a worker handles
 * inspector messages, so a Profiler.start sent to it is never answered (tried in the guest). Run
 * this process with --cpu-prof for them (see workerProfiles).
 */
class MainThreadProfiler {
  private readonly s = new Session();

  private post<T>(method: string, params: object = {}): Promise<T> {
    return new Promise((resolve, reject) => this.s.post(method, params, (e, r) => (e ? reject(e) : resolve(r as T))));
  }

  async start(): Promise<void> {
    this.s.connect();
    await this.post('Profiler.enable');
    await this.post('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const r = await this.post<{ profile: CpuProfile }>('Profiler.stop');
    this.s.disconnect();
    return r.profile;
  }
}

/**
 * The profiles that --cpu-prof (in this process's execArgv) wrote for worker threads that have
 * ended since `sinceMs`: each thread writes its own when it exits (the engines when the service
 * closes); the main thread's comes only at the process's exit.
 */
function workerProfiles(sinceMs: number): { file: string; profile: CpuProfile }[] {
  if (!process.execArgv.includes('--cpu-prof')) return [];
  const dirArg = process.execArgv.find((a) => a.startsWith('--cpu-prof-dir='));
  const profDir = dirArg ? dirArg.slice('--cpu-prof-dir='.length) : process.cwd();
  const out: { file: string; profile: CpuProfile }[] = [];
  for (const f of readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile'))) {
    const file = path.join(profDir, f);
    if (statSync(file).mtimeMs < sinceMs) continue;
    out.push({ file: f, profile: JSON.parse(readFileSync(file, 'utf8')) as CpuProfile });
  }
  return out;
}

/**
 * What the engine's per-period client check (R-RB-12, src/engine/client-watch.ts: a pread of the
 * client's /proc/<pid>/stat and a poll with timeout 0) costs on this machine: CPU µs per call,
 * timed on this thread against the live client (2000 calls; the poll is on the stat descriptor,
 * which never hangs up, so every call does both parts).
 */
function clientWatchCost(pid: number, statPath = `/proc/${pid}/stat`): number {
  const fd = openSync(statPath, 'r');
  try {
    const w = new ClientWatch(fd, fd);
    for (let i = 0; i < 200; i++) w.check();
    const tid = process.pid; // the main thread's tid is the pid
    const before = threadCpu('self').get(tid)!.ns;
    const n = 2000;
    for (let i = 0; i < n; i++) if (w.check() !== CLIENT.PRESENT) return Number.NaN;
    return (threadCpu('self').get(tid)!.ns - before) / n / 1e3;
  } finally {
    closeSync(fd);
  }
}

function printProfile(period: number, thread: string, p: CpuProfile, fromUs?: number, toUs?: number): void {
  const s = profileSummary(p, 12, fromUs, toUs);
  console.log(`      STACK-PROFILE period ${period} ${thread}: ${s.samples} samples`);
  console.log(`        functions: ${s.functions.join(' | ')}`);
  console.log(`        files: ${s.files.join(' | ')}`);
}

interface StackFigures {
  periodFrames: number;
  fifoFrames: number;
  audioSeconds: number;
  serviceMs: number;
  clientMs: number;
  xruns: number;
  threads: string;
  check: string;
  spareLoad: string;
  /** ClientWatch.check() on the live client, this thread: CPU µs per call (the engine makes one per period). */
  watchUs: number;
  /** The same with /proc/<pid>/task/<pid>/stat. */
  watchTaskUs: number;
  engineReport?: EngineReport;
}

async function measureStack(period: number, dir: string): Promise<StackFigures> {
  const runtimeDir = path.join(dir, `run-${period}`);
  const boardFile = path.join(dir, `${BOARD}.json`);
  writeFileSync(boardFile, JSON.stringify({
    name: BOARD,
    description: 'stack bench: PCM5122 on i2c-stub, one output on hw:Dummy',
    manufacturer: 'sbc-audio HIL guest',
    hal: 'linux',
    codec: { part: 'pcm5122', bus: env.i2c!.bus, address: `0x${ADDR.toString(16)}`, options: { filter: 'normal' } },
    streams: [{ id: 'line-out', direction: 'output', purpose: 'line-out', pcm: env.alsa.dummy!, plug: 'hardwired' }],
  }));
  // i2c-stub models no chip: page 0, and the registers init touches, from zero (as stream-protocol.hil.ts does).
  const i2cset = (reg: number, value: number) => run('i2cset', ['-y', String(env.i2c!.bus), `0x${ADDR.toString(16)}`, `0x${reg.toString(16)}`, `0x${value.toString(16)}`]);
  await i2cset(0x00, 0x00);
  for (const reg of [0x02, 0x03, 0x2b, 0x3d, 0x3e, 0x6c]) await i2cset(reg, 0x00);

  const endpoint = `${BOARD}.line-out`;
  let xruns = 0;
  let engineReport: EngineReport | undefined;
  const profiler = PROFILE ? new MainThreadProfiler() : undefined;
  const testStartMs = Date.now();
  const preTids = new Set(threadCpu('self').keys());
  const rt = await openBoard(loadBoard(boardFile));
  // periodFramesFor rounds the period to whole frames, a multiple of 16: period·1e6/48000 µs gives exactly `period`.
  const svc = await startStreamService(rt, {
    runtimeDir,
    log: (l) => console.log(`      service: ${l}`),
    ringBuffer: { periodUs: (period * 1e6) / RATE, periods: 3, onXrun: (_s, _d, n) => { xruns += n; }, onReport: (_e, r) => { engineReport = r; } },
  });
  const serviceTids = new Set(threadCpu('self').keys());
  const profDir = path.join(dir, `prof-${period}`);
  let windowUs: [number, number] | undefined;
  let figures: StackFigures | undefined;
  let child: ChildProcess | undefined;
  try {
    // Longer than the window can need (the next spare's loading comes first): SIGINT ends it after
    // the window (play answers it with STOP and exit 130), so STOP and close are not in it.
    const playSeconds = WARMUP_S + SECONDS + 90;
    // As in use, the service has been up a while when a client comes: its spare engine thread has
    // loaded (under a profiler, in the guest, that takes longer than the client waits for an answer).
    await svc.enginePool?.warm();
    child = spawn(process.execPath, [
      ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      path.join(ROOT, 'bin/sbc-audio.js'), 'play', '--tone', '--seconds', String(playSeconds), '--stream', endpoint, '--runtime-dir', runtimeDir,
    ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let childOut = '';
    child.stdout!.on('data', (b: Buffer) => { childOut += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { childOut += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const pid = child.pid!;

    // START: the engine reads the client's buffer from start_time on (EngineRingBuffer.timing()).
    const deadline = Date.now() + 240_000; // the client's start-up under TCG (node and tsx over 9p): tens of seconds
    let timing: { startNs: number; periodFrames: number; fifoFrames: number } | undefined;
    for (;;) {
      timing = [...svc.ringBuffers].find((e) => e.endpoint === endpoint && e.isRunning)?.timing();
      if (timing) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the client did not start playing (exit ${child.exitCode}): ${childOut.trim()}`);
      await sleep(20);
    }
    // The pool starts the next spare engine thread once this start has settled (src/engine/driver.ts,
    // EngineWorkerPool): its module loading is a one-off per start, not a cost per audio second, so
    // the window opens after it (and it is reported apart).
    const warmFromNs = nowNs();
    const selfBeforeWarm = processCpuNs('self');
    await svc.enginePool?.warm();
    const spareLoad = `next spare engine thread loaded ${((nowNs() - timing.startNs) / 1e9).toFixed(1)} s after start_time, ${((processCpuNs('self') - selfBeforeWarm) / 1e6).toFixed(0)} ms of service CPU while waiting ${((nowNs() - warmFromNs) / 1e9).toFixed(1)} s (pool: ${svc.enginePool ? `${svc.enginePool.counts.started} started, ${svc.enginePool.counts.taken} taken` : 'none'})`;
    const windowStartNs = Math.max(nowNs(), timing.startNs + WARMUP_S * 1e9);
    await sleep(Math.max(0, (windowStartNs - nowNs()) / 1e6));
    if (child.exitCode !== null || (windowStartNs + SECONDS * 1e9 - timing.startNs) / 1e9 > playSeconds - 0.5) throw new Error(`the window would not fit in the client's ${playSeconds} s (spare loaded too late): ${spareLoad}`);
    await profiler?.start();
    const xrunsBefore = xruns;
    const a = snapshot(pid);
    await sleep(SECONDS * 1000);
    const b = snapshot(pid);
    const xrunsIn = xruns - xrunsBefore;
    const mainProfile = await profiler?.stop();
    const audioSeconds = (b.atNs - a.atNs) / 1e9; // the device plays in real time: wall seconds are audio seconds
    const watch = clientWatchCost(pid);
    // The same check on the main thread's own stat file: the same PF_EXITING and state fields (the
    // leader's, which /proc/<pid>/stat shows too), without summing every thread's times (proc(5),
    // do_task_stat's whole-group pass).
    const watchTask = clientWatchCost(pid, `/proc/${pid}/task/${pid}/stat`);
    child.kill('SIGINT');
    const code = await exited;
    if (code !== 0 && code !== 130) throw new Error(`the client exited ${code}: ${childOut.trim()}`);

    const selfThreads = threadCpuDelta(a.self, b.self);
    const childThreads = threadCpuDelta(a.child, b.child);
    const serviceNs = sum(selfThreads);
    const clientNs = sum(childThreads);
    const perS = (ns: number) => ns / 1e6 / audioSeconds;
    // Where a thread came from: main; there before the board opened (V8's platform workers: GC and
    // compilation; tsx's hooks thread); started with the service (the spare engine thread, taken
    // by this channel's engine); started after the client connected (the next spare).
    const label = (pidOf: number, t: ThreadCpu) => {
      if (t.tid === pidOf) return 'main';
      if (pidOf !== process.pid) return `${t.comm}#${t.tid}`;
      return `${t.comm}#${t.tid}(${preTids.has(t.tid) ? 'pre' : serviceTids.has(t.tid) ? 'svc-start' : 'after-connect'})`;
    };
    const threads = [
      `service: ${selfThreads.filter((t) => t.ns > 0).slice(0, 10).map((t) => `${label(process.pid, t)} ${perS(t.ns).toFixed(1)}`).join(', ')}`,
      `client: ${childThreads.filter((t) => t.ns > 0).slice(0, 8).map((t) => `${label(pid, t)} ${perS(t.ns).toFixed(1)}`).join(', ')}`,
    ].join(' | ');
    // Cross-check from /proc/<pid>/stat (10 ms ticks, exited threads included).
    const check = `stat ticks: service ${perS(b.selfStatNs - a.selfStatNs).toFixed(1)}, client ${perS(b.childStatNs - a.childStatNs).toFixed(1)}`;

    if (mainProfile) printProfile(period, 'service main thread', mainProfile);
    if (PROFILE) {
      for (const f of readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile'))) {
        // V8's profile clock is CLOCK_MONOTONIC in µs, as process.hrtime: the window's samples only.
        printProfile(period, `client ${f}`, JSON.parse(readFileSync(path.join(profDir, f), 'utf8')) as CpuProfile, a.atNs / 1e3, b.atNs / 1e3);
      }
      windowUs = [a.atNs / 1e3, b.atNs / 1e3];
    }
    figures = { periodFrames: timing.periodFrames, fifoFrames: timing.fifoFrames, audioSeconds, serviceMs: perS(serviceNs), clientMs: perS(clientNs), xruns: xrunsIn, threads, check, spareLoad, watchUs: watch, watchTaskUs: watchTask };
    return figures;
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await svc.close();
    await rt.close();
    // The engine's own report comes when it has ended (svc.close): after the return value was made.
    if (figures && engineReport) figures.engineReport = engineReport;
    // The engine threads have ended: their --cpu-prof profiles are written.
    if (windowUs) for (const w of workerProfiles(testStartMs)) printProfile(period, `service worker ${w.file}`, w.profile, windowUs[0], windowUs[1]);
  }
}

describe('stack benchmark on hw:Dummy (guest): client → service → engine → PCM vs aplay', function () {
  this.timeout(600000);
  let dir: string;
  before(function () {
    if (env.tier !== 'guest' || !env.alsa.dummy || !env.i2c?.pcm5122Addrs.includes(ADDR)) this.skip(); // reason: needs the QEMU guest's hw:Dummy and i2c-stub PCM5122
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-stack-bench-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  for (const period of [128, 256]) {
    it(`period ${period}: whole-stack CPU per audio second beside aplay`, async () => {
      const s = await measureStack(period, dir);
      const a = await aplayCpuWindow(env.alsa.dummy!, period, WARMUP_S, SECONDS);
      const aWhole = aplayCpuBaseline(env.alsa.dummy!, period, SECONDS);
      // The engine alone on the same device (bench/engine-guest.bench.ts: tone host, no service, no client).
      const dev = await EngineDriver.forAlsa().open({ name: 'dummy-out', playback: env.alsa.dummy! });
      const e = await measureEngine(dev, period, SECONDS, 'examples/tone.ts', false);
      const stack = s.serviceMs + s.clientMs;
      const r = s.engineReport;
      const engineOwn = r && r.measuredPeriods > 0 && Number.isFinite(r.threadCpuNs) ? ` | engine's own report: thread ${(r.threadCpuNs / 1e6 / ((r.measuredPeriods * s.periodFrames) / RATE)).toFixed(1)} ms/audio s over ${r.measuredPeriods} periods` : '';
      console.log(`      negotiated: period ${s.periodFrames} frames, FIFO ${s.fifoFrames} frames; window ${s.audioSeconds.toFixed(2)} audio s; client: a child process (sbc-audio play --tone); ${s.spareLoad}`);
      console.log(`      STACK-BENCH guest hw:Dummy period ${period}: stack CPU ${stack.toFixed(1)} ms/audio s (service+engine ${s.serviceMs.toFixed(1)}, client ${s.clientMs.toFixed(1)}) | aplay ${a?.toFixed(1) ?? 'n/a'} | ratio ${a ? (stack / a).toFixed(2) : 'n/a'} | xruns ${s.xruns}`);
      console.log(`      STACK-THREADS period ${period} (ms/audio s): ${s.threads} | ${s.check} | aplay whole run (shell children, ticks) ${aWhole?.toFixed(1) ?? 'n/a'}${engineOwn}`);
      console.log(`      STACK-PARTS period ${period}: engine alone (tone host, no service) process ${e.cpuMsPerAudioSecond.toFixed(1)} ms/audio s, thread ${e.threadCpuMsPerAudioSecond.toFixed(1)}, xruns ${e.xruns} | client check (R-RB-12) ${s.watchUs.toFixed(1)} µs a period = ${((s.watchUs * RATE) / s.periodFrames / 1e3).toFixed(1)} ms/audio s (with /proc/<pid>/task/<pid>/stat: ${s.watchTaskUs.toFixed(1)} µs = ${((s.watchTaskUs * RATE) / s.periodFrames / 1e3).toFixed(1)} ms/audio s)`);
      assert.ok(Number.isFinite(stack) && stack > 0, `stack CPU ${stack}`);
    });
  }
});
