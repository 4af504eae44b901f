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
import { execFileSync, spawnSync } from 'node:child_process';
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
  xruns: number;
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
    fifo: r.realtime.fifo,
  };
}

/** cyclictest at the period's interval: wake-up latency as fractions of the period (undefined if not installed). */
export function cyclictestBaseline(periodUs: number, seconds: number): Percentiles | undefined {
  const res = spawnSync('cyclictest', ['-q', '-t1', '-p70', `-i${Math.round(periodUs)}`, `-D${seconds}`, '-h2000'], { encoding: 'utf8' });
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
  return { p50: q(0.5) / periodUs, p99: q(0.99) / periodUs, max: max / periodUs };
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
