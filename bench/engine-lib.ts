/**
 * Measuring the engine beside baselines taken in the same run (used by bench/engine-sim.ts on
 * this machine and bench/engine-guest.bench.ts in the QEMU guest). Benchmark code: it allocates.
 *
 * - Lateness of each period start as a fraction of the period: the engine's own trace (how far
 *   the device's avail was beyond one period when the thread woke), p50 / p99 / max over the
 *   window after warm-up. Baseline: cyclictest (rt-tests) at the same interval and priority,
 *   whose latency is the machine's own wake-up latency for a C thread.
 * - CPU per audio second: whole-process CPU (user + system) over the window divided by the
 *   window's audio seconds. Baseline: aplay on the same device at the same period (guest), or on
 *   the sim board a bare worker thread that only sleeps until each period boundary (the floor of
 *   waking a Node thread per period; there is no paced ALSA device on this machine).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EngineDevice } from '../src/engine/index.ts';
import { EngineDevice as EngineDeviceClass } from '../src/engine/driver.ts';
import { tsWorker } from '../src/util/worker.ts';

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export function percentiles(values: ArrayLike<number>): Percentiles {
  const v = Float64Array.from(values).sort();
  if (v.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const at = (q: number) => v[Math.min(v.length - 1, Math.floor(q * (v.length - 1)))]!;
  return { p50: at(0.5), p99: at(0.99), max: v[v.length - 1]! };
}

export interface EngineFigures {
  period: number;
  lateness: Percentiles;
  /** CPU ms per audio second, whole process. */
  cpuMsPerAudioSecond: number;
  /** CPU ms per audio second of the audio thread alone. */
  threadCpuMsPerAudioSecond: number;
  /** Underruns + overruns of the whole run, warm-up included. */
  xruns: number;
  /** Those inside the measurement window (after the warm-up second). */
  windowXruns: number;
  fifo: string;
}

export async function measureEngine(dev: EngineDevice, period: number, seconds: number, host: string, duplex: boolean): Promise<EngineFigures> {
  const config = await dev.negotiate({ rate: 48000, bufferFrames: period, periods: 3, inputChannels: duplex ? 2 : 0, outputChannels: 2, format: 'f32', interleaved: false });
  const warmup = Math.ceil(48000 / config.bufferFrames); // one second
  const measure = Math.ceil((seconds * 48000) / config.bufferFrames);
  await dev.start(config, { path: host }, { warmupPeriods: warmup, measurePeriods: measure, latenessTrace: measure + 16 });
  const r = await dev.finished;
  const audioSeconds = (r.measuredPeriods * config.bufferFrames) / 48000;
  return {
    period: config.bufferFrames,
    lateness: percentiles(r.lateness ?? []),
    cpuMsPerAudioSecond: r.cpuMicros / 1000 / audioSeconds,
    threadCpuMsPerAudioSecond: r.threadCpuNs / 1e6 / audioSeconds,
    xruns: r.underruns + r.overruns,
    windowXruns: r.windowXruns,
    fifo: r.realtime.fifo,
  };
}

/** cyclictest at the period's interval: wake-up latency as fractions of the period (undefined if not installed). */
export function cyclictestBaseline(periodUs: number, seconds: number): Percentiles | undefined {
  return cyclictestRun(periodUs, seconds)?.lateness;
}

/**
 * cyclictest at the period's interval (SCHED_FIFO 70, as the engine): the wake-up latency as fractions
 * of the period, and how many wake-ups were later than `headroomUs` (a C thread that late would have
 * let a buffer with that much headroom run dry).
 */
export function cyclictestRun(periodUs: number, seconds: number, headroomUs = Infinity): { lateness: Percentiles; over: number; wakeups: number } | undefined {
  const histUs = Number.isFinite(headroomUs) ? Math.max(2000, Math.ceil(headroomUs) + 1) : 2000;
  const res = spawnSync('cyclictest', ['-q', '-t1', '-p70', `-i${Math.round(periodUs)}`, `-D${seconds}`, `-h${histUs}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.error || res.status !== 0) return undefined;
  const hist: [number, number][] = [];
  for (const line of res.stdout.split('\n')) {
    const m = /^(\d{6})\s+(\d+)/.exec(line);
    if (m && Number(m[2]) > 0) hist.push([Number(m[1]), Number(m[2])]);
  }
  const maxLine = /# Max Latencies:\s+(\d+)/.exec(res.stdout);
  const total = hist.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return undefined;
  const q = (p: number) => {
    let acc = 0;
    for (const [us, n] of hist) {
      acc += n;
      if (acc >= p * total) return us;
    }
    return hist[hist.length - 1]![0];
  };
  const max = maxLine ? Number(maxLine[1]) : hist[hist.length - 1]![0];
  const overflows = Number(/# Histogram Overflows:\s+(\d+)/.exec(res.stdout)?.[1] ?? 0);
  const over = hist.filter(([us]) => us > headroomUs).reduce((sum, [, n]) => sum + n, 0) + overflows;
  return { lateness: { p50: q(0.5) / periodUs, p99: q(0.99) / periodUs, max: max / periodUs }, over, wakeups: total + overflows };
}

/** aplay of silence on `device` at the period: CPU ms per audio second (children times of a shell). */
export function aplayCpuBaseline(device: string, period: number, seconds: number): number | undefined {
  const script = `aplay -q -D ${device} -t raw -f S16_LE -c 2 -r 48000 --period-size=${period} --buffer-size=${period * 3} -d ${seconds} /dev/zero; cat /proc/$$/stat`;
  try {
    const stat = execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim().split(') ')[1]!.split(' ');
    // After ") ": state is field 3, so cutime (16) and cstime (17) are at indexes 13 and 14.
    const ticks = Number(stat[13]) + Number(stat[14]);
    return (ticks * 10) / seconds; // USER_HZ = 100
  } catch {
    return undefined;
  }
}

/** A worker that only sleeps until each period boundary: CPU ms per audio second. */
export async function bareWakeBaseline(period: number, seconds: number): Promise<number> {
  const w = tsWorker(fileURLToPath(new URL('./engine-bare-worker.ts', import.meta.url)), { workerData: { periodNs: (period * 1e9) / 48000, seconds } });
  const cpuMicros = await new Promise<number>((resolve, reject) => {
    w.on('message', resolve);
    w.on('error', reject);
  });
  await w.terminate();
  return cpuMicros / 1000 / seconds;
}

/**
 * A worker that only sleeps until each period boundary, with the engine's real-time set-up
 * (SCHED_FIFO, timer slack) and sleep: its wake-up lateness as fractions of the period.
 */
export async function bareFifoLateness(period: number, seconds: number): Promise<{ lateness: Percentiles; fifo: string }> {
  const w = tsWorker(fileURLToPath(new URL('./engine-bare-worker.ts', import.meta.url)), { workerData: { periodNs: (period * 1e9) / 48000, seconds, mode: 'lateness', fifo: true } });
  const r = await new Promise<{ trace: Float64Array; fifo: string }>((resolve, reject) => {
    w.on('message', resolve);
    w.on('error', reject);
  });
  await w.terminate();
  return { lateness: percentiles(r.trace), fifo: r.fifo };
}

export function fmt(p: Percentiles | undefined): string {
  return p ? `${p.p50.toFixed(3)} / ${p.p99.toFixed(3)} / ${p.max.toFixed(3)}` : 'n/a';
}

/**
 * Asks every engine started from now on (the service's ring-buffer engines, which take no such
 * option) for its own lateness trace of `periods` periods, by wrapping EngineDevice.prototype.start;
 * nothing else of the run changes. `devices` lists them in start order; restore() unwraps.
 */
export function traceEngineStarts(periods: number): { devices: EngineDeviceClass[]; restore(): void } {
  const devices: EngineDeviceClass[] = [];
  const originalStart = EngineDeviceClass.prototype.start;
  EngineDeviceClass.prototype.start = function (this: EngineDeviceClass, config, host, run = {}) {
    devices.push(this);
    return originalStart.call(this, config, host, { ...run, latenessTrace: periods });
  };
  return { devices, restore: () => { EngineDeviceClass.prototype.start = originalStart; } };
}

// ---- Whole-stack CPU (bench/stack-guest.bench.ts, issue 26) ----------------------------------

/** One thread's CPU so far: schedstat's on-CPU ns (user + system, exact), and its name. */
export interface ThreadCpu {
  tid: number;
  comm: string;
  ns: number;
}

/**
 * CPU of every live thread of a process, from /proc/<pid>/task/<tid>/schedstat (field 1: time
 * on the CPU in ns, proc(5); CONFIG_SCHED_INFO, set in Debian's kernels). Without schedstat it
 * falls back to utime + stime of the thread's stat (USER_HZ = 100 ticks). A thread that exited
 * is not listed: processCpuNs counts it.
 */
export function threadCpu(pid: number | 'self'): Map<number, ThreadCpu> {
  const out = new Map<number, ThreadCpu>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // the process is gone
  }
  for (const t of tids) {
    const dir = `/proc/${pid}/task/${t}`;
    try {
      const comm = readFileSync(`${dir}/comm`, 'utf8').trim();
      let ns: number;
      try {
        ns = Number(readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        ns = statTicks(readFileSync(`${dir}/stat`, 'utf8')) * 1e7;
      }
      out.set(Number(t), { tid: Number(t), comm, ns });
    } catch {
      // the thread exited between readdir and read
    }
  }
  return out;
}

/** utime + stime (ticks) of a /proc stat line: fields 14 and 15, counted after the ") " that ends comm. */
function statTicks(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** A process's CPU (user + system, all threads, exited ones too) from /proc/<pid>/stat, ns (10 ms ticks). */
export function processCpuNs(pid: number | 'self'): number {
  try {
    return statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) * 1e7;
  } catch {
    return Number.NaN;
  }
}

/** CPU ns each thread used between two threadCpu snapshots (threads that started in between count from 0). */
export function threadCpuDelta(before: Map<number, ThreadCpu>, after: Map<number, ThreadCpu>): ThreadCpu[] {
  const out: ThreadCpu[] = [];
  for (const [tid, a] of after) out.push({ tid, comm: a.comm, ns: a.ns - (before.get(tid)?.ns ?? 0) });
  return out.sort((x, y) => y.ns - x.ns);
}

/**
 * aplay of silence on `device` at the period (buffer 3 periods), measured like the stack: its
 * schedstat CPU over `seconds` after `warmupS` of playing (startup and the first periods left
 * out), ms per audio second. Undefined if aplay is missing or ended early.
 */
export async function aplayCpuWindow(device: string, period: number, warmupS: number, seconds: number): Promise<number | undefined> {
  const child = spawn('aplay', ['-q', '-D', device, '-t', 'raw', '-f', 'S16_LE', '-c', '2', '-r', '48000', `--period-size=${period}`, `--buffer-size=${period * 3}`, '-d', String(Math.ceil(warmupS + seconds + 1)), '/dev/zero'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    await sleep(warmupS * 1000);
    if (child.pid === undefined || child.exitCode !== null) return undefined;
    const a = [...threadCpu(child.pid).values()].reduce((s, t) => s + t.ns, 0);
    const t0 = process.hrtime.bigint();
    await sleep(seconds * 1000);
    const b = [...threadCpu(child.pid).values()].reduce((s, t) => s + t.ns, 0);
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    if (child.exitCode !== null || !(b >= a)) return undefined;
    return (b - a) / 1e6 / wallS;
  } finally {
    await exited;
  }
}

/** A V8 CPU profile (.cpuprofile, the inspector's Profiler.Profile). */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * Where a profile's samples fell, by function (self time) and by source file, in the window
 * [fromUs, toUs] of V8's clock (CLOCK_MONOTONIC µs on Linux, the clock of process.hrtime; the
 * whole profile without a window): "share% name (file:line)", largest first.
 */
export function profileSummary(p: CpuProfile, top: number, fromUs = -Infinity, toUs = Infinity): { samples: number; functions: string[]; files: string[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let t = p.startTime;
  let n = 0;
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const short = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/(src|bench|node_modules|examples)\//, '$1/') || '(native)';
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(samples[i]!);
    if (!node) continue;
    n++;
    const cf = node.callFrame;
    const where = cf.url ? ` (${short(cf.url)}:${cf.lineNumber + 1})` : '';
    const key = `${cf.functionName || '(anonymous)'}${where}`;
    fn.set(key, (fn.get(key) ?? 0) + 1);
    const fk = cf.url ? short(cf.url) : cf.functionName.startsWith('(') ? cf.functionName : '(native)';
    file.set(fk, (file.get(fk) ?? 0) + 1);
  }
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, c]) => `${((100 * c) / Math.max(1, n)).toFixed(1)}% ${k}`);
  return { samples: n, functions: rank(fn), files: rank(file) };
}
