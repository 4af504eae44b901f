/**
 * Benchmark: CPU time per audio second of our libasound write loop against alsa-utils' `aplay`,
 * at the same period and buffer size on the same device, measured in the same run.
 *
 *   node --import tsx bench/alsa-write.ts [--device null] [--period 256] [--buffer 1024]
 *        [--seconds S] [--rounds 3]
 *
 * Defaults: `null` (not paced: the loops run flat out, which measures pure CPU cost per frame)
 * with 600 audio seconds a run; pass `--device hw:Dummy --seconds 10` on a paced device (the guest).
 *
 * How each side is measured:
 * - ours: a child process runs bench/alsa-write-loop.ts; the CPU of that process during the
 *   loop only (process.cpuUsage), after a warm-up of the first fifth of the audio, so neither
 *   node's start-up nor JIT compilation is charged to the steady-state loop.
 * - aplay: CPU of the child from getrusage(RUSAGE_CHILDREN) around the run; its start-up is taken
 *   out by running it twice, for S and for S/10 audio seconds, and dividing the difference of CPU
 *   by the difference of audio time. aplay reads /dev/zero as raw S16_LE stereo at 48 kHz.
 * Each round runs every variant once (interleaved); the report gives the median of the rounds.
 * RW is compared with plain `aplay`, MMAP with `aplay -M`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const device = arg('device', 'null');
const period = Number(arg('period', '256'));
const buffer = Number(arg('buffer', '1024'));
const seconds = Number(arg('seconds', device === 'null' ? '600' : '10'));
const rounds = Number(arg('rounds', '3'));

// getrusage(RUSAGE_CHILDREN): struct rusage begins with ru_utime and ru_stime (struct timeval,
// two longs each) — sys/resource.h, bits/types/struct_rusage.h.
const getrusage = koffi.load('libc.so.6').func('int getrusage(int who, _Out_ uint8_t *usage)');
const RUSAGE_CHILDREN = -1;
function childrenCpuMs(): number {
  const b = new Uint8Array(144);
  if (getrusage(RUSAGE_CHILDREN, b) !== 0) throw new Error('getrusage failed');
  const dv = new DataView(b.buffer);
  const tv = (o: number) => Number(dv.getBigInt64(o, true)) * 1000 + Number(dv.getBigInt64(o + 8, true)) / 1000;
  return tv(0) + tv(16);
}

function aplayCpuMs(audioSeconds: number, mmap: boolean): number {
  const args = ['-q', '-D', device, '-f', 'S16_LE', '-c', '2', '-r', '48000', '-t', 'raw', `--period-size=${period}`, `--buffer-size=${buffer}`, '-d', String(audioSeconds)];
  if (mmap) args.push('-M');
  args.push('/dev/zero');
  const before = childrenCpuMs();
  const r = spawnSync('aplay', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`aplay ${args.join(' ')} failed: ${r.stderr || r.error}`);
  aplayUnderruns[mmap ? 'mmap' : 'rw'] += (r.stderr.match(/underrun/g) ?? []).length;
  return childrenCpuMs() - before;
}

/** aplay's CPU per audio second, start-up excluded (see the header). */
function aplayPerSecond(mmap: boolean): number {
  const short = Math.max(1, Math.round(seconds / 10));
  const cpuShort = aplayCpuMs(short, mmap);
  const cpuLong = aplayCpuMs(seconds, mmap);
  return (cpuLong - cpuShort) / (seconds - short);
}

const xruns = { rw: 0, mmap: 0 };
const aplayUnderruns = { rw: 0, mmap: 0 };

function oursPerSecond(access: 'rw' | 'mmap'): { perSecond: number; periodFrames: number; bufferFrames: number } {
  const loop = fileURLToPath(new URL('./alsa-write-loop.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', loop, device, access, String(period), String(buffer), String(seconds)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`write loop failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { cpuMs: number; audioSeconds: number; periodFrames: number; bufferFrames: number; xruns: number };
  xruns[access] += res.xruns;
  return { perSecond: res.cpuMs / res.audioSeconds, periodFrames: res.periodFrames, bufferFrames: res.bufferFrames };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const samples: Record<string, number[]> = { ours_rw: [], aplay_rw: [], ours_mmap: [], aplay_mmap: [] };
let chosen = { periodFrames: period, bufferFrames: buffer };
for (let r = 0; r < rounds; r++) {
  for (const access of ['rw', 'mmap'] as const) {
    const o = oursPerSecond(access);
    chosen = o;
    samples[`ours_${access}`]!.push(o.perSecond);
    samples[`aplay_${access}`]!.push(aplayPerSecond(access === 'mmap'));
  }
}
console.log(`alsa-write bench: device ${device}, S16_LE stereo 48 kHz, period ${period} / buffer ${buffer} frames requested ` +
  `(our stream got ${chosen.periodFrames} / ${chosen.bufferFrames}), ${seconds} audio s a run, median of ${rounds} rounds`);
for (const access of ['rw', 'mmap'] as const) {
  const ours = median(samples[`ours_${access}`]!);
  const aplay = median(samples[`aplay_${access}`]!);
  console.log(`  ${access.padEnd(4)} ours ${ours.toFixed(3)} ms CPU per audio s, aplay${access === 'mmap' ? ' -M' : ''} ${aplay.toFixed(3)} ms CPU per audio s: ratio ours/aplay ${(ours / aplay).toFixed(2)}`);
}
console.log(`  underruns recovered: ours rw ${xruns.rw}, mmap ${xruns.mmap}; aplay rw ${aplayUnderruns.rw}, mmap ${aplayUnderruns.mmap}`);
console.log(`  raw samples (ms CPU per audio s): ${JSON.stringify(Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((x) => +x.toFixed(3))])))}`);
