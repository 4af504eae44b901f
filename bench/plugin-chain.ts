/**
 * Issue 29's bench: the plugin chain's own CPU cost on the engine, against the reference host.
 *
 *   node --import tsx bench/plugin-chain.ts [seconds per run, default 20] [period frames, default 128]
 *
 * The chain: cmt `lpf` → swh `single_para` → LSP `compressor_mono`, all mono, on a stereo stream
 * (two instances each), as tests/unit/plugin-chain.test.ts compares it with applyplugin.
 *
 * 1. Engine (the sim board's PCM on CLOCK_MONOTONIC, real time, 16-bit interleaved stereo): the
 *    engine thread's CPU per audio second running bench/chain-host.ts with the chain, minus the
 *    same with an empty chain (the host still writes the signal): the chain's own cost.
 * 2. applyplugin (ladspa-sdk) on a mono 16-bit file of the same length, once per channel: its CPU
 *    (user + system, from the shell's `time`) with the chain, minus with a pass-through plugin
 *    (the test library's sbc_test_gain at 1.0), per audio second, both channels.
 *    Target: (1) ≤ 1.5 × (2).
 * 3. The engine's period lateness p99 with the chain ≤ 1.2 × without it (the runs of 1).
 * Exit 1 when a target is missed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { engineForBoard } from '../src/cli/wiring.ts';
import type { ChainStageSpec } from '../src/dsp/chain.ts';
import { findLibrary, openPlugin, portDefault } from '../src/dsp/ladspa.ts';
import { buildTestPlugins } from '../tests/support/ladspa-fixtures.ts';
import { fmt, percentiles } from './engine-lib.ts';

const seconds = Number(process.argv[2] ?? 20);
const period = Number(process.argv[3] ?? 128);
const RATE = 48000;
const DIRS = ['/usr/lib/ladspa'];
const CHAIN: { library: string; label: string; controls: Record<string, number> }[] = [
  { library: 'cmt.so', label: 'lpf', controls: { 'Cutoff Frequency (Hz)': 4000 } },
  { library: 'single_para_1203.so', label: 'singlePara', controls: { 'Gain (dB)': 6, 'Frequency (Hz)': 1000, 'Bandwidth (octaves)': 1 } },
  { library: 'lsp-plugins-ladspa-1.2.5.so', label: 'http://lsp-plug.in/plugins/ladspa/compressor_mono', controls: {} },
];

/** Each stage's control inputs in port order: the value given, else the default hint, else the lower bound, else 0. */
function stageValues(library: string, label: string, controls: Record<string, number>): { lib: string; values: (number | null)[]; args: string[] } {
  const lib = findLibrary(library, DIRS);
  const info = openPlugin(lib, label).info;
  const values = info.ports.map((p) => (p.type === 'control' && p.direction === 'input' ? controls[p.name] ?? portDefault(p, RATE) ?? (p.boundedBelow ? p.lower! : 0) : null));
  return { lib, values, args: values.filter((v): v is number => v !== null).map(String) };
}

const stages = CHAIN.map((s) => ({ ...s, ...stageValues(s.library, s.label, s.controls) }));
const spec: ChainStageSpec[] = stages.map((s) => ({ library: s.lib, label: s.label, channels: [0, 1], values: s.values, bypass: false }));

const dev = await (await engineForBoard('sim', { simClock: 'monotonic' })).driver.open('speaker');
dev.on('warning', (w) => console.error(w));
async function engineRun(chain: ChainStageSpec[]) {
  const config = await dev.negotiate({ rate: RATE, bufferFrames: period, periods: 3, inputChannels: 0, outputChannels: 2, format: 'i16', interleaved: true });
  const warmup = Math.ceil(RATE / config.bufferFrames);
  const measure = Math.ceil((seconds * RATE) / config.bufferFrames);
  await dev.start(config, { path: 'bench/chain-host.ts', options: { stages: chain } }, { warmupPeriods: warmup, measurePeriods: measure, latenessTrace: measure + 16 });
  const r = await dev.finished;
  const audioSeconds = (r.measuredPeriods * config.bufferFrames) / RATE;
  return { cpuMs: r.threadCpuNs / 1e6 / audioSeconds, lateness: percentiles(r.lateness ?? []), xruns: r.underruns + r.overruns };
}

// A first run with the chain, not counted (the machine's caches, the worker's first start), then
// the two kinds alternate (empty, chain, empty, chain) so a busy moment hits both alike.
await engineRun(spec);
const empties: Awaited<ReturnType<typeof engineRun>>[] = [];
const fulls: Awaited<ReturnType<typeof engineRun>>[] = [];
for (let i = 0; i < 3; i++) {
  empties.push(await engineRun([]));
  fulls.push(await engineRun(spec));
}
// Each kind's least disturbed run (the least CPU), as for applyplugin below.
const emptyCpu = Math.min(...empties.map((x) => x.cpuMs));
const fullCpu = Math.min(...fulls.map((x) => x.cpuMs));
const engineChainMs = fullCpu - emptyCpu;

// applyplugin on the same signal, per channel (mono files).
const dir = mkdtempSync(path.join(tmpdir(), 'sbc-bench-chain-'));
const testLib = buildTestPlugins();
function wav16(samples: Int16Array): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii'); h.writeUInt32LE(36 + samples.byteLength, 4); h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(RATE, 24); h.writeUInt32LE(RATE * 2, 28);
  h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36, 'ascii'); h.writeUInt32LE(samples.byteLength, 40);
  return Buffer.concat([h, Buffer.from(samples.buffer)]);
}
/** CPU seconds (user + system) of one applyplugin run, from bash's `time`. */
function applyCpu(args: string[]): number {
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="%U %S"; time applyplugin "$@" > /dev/null', 'bash', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`applyplugin ${args.join(' ')}: ${r.stderr}`);
  const m = /(\d+\.\d+) (\d+\.\d+)\s*$/.exec(r.stderr.trim());
  if (!m) throw new Error(`no time in: ${r.stderr}`);
  return Number(m[1]) + Number(m[2]);
}
let refChain = 0, refPass = 0;
try {
  for (const c of [0, 1]) {
    const n = seconds * RATE;
    const x = new Int16Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.round(32767 * (0.2 * Math.sin((2 * Math.PI * (220 + 110 * c) * i) / RATE) + 0.1 * Math.sin((2 * Math.PI * 5000 * i) / RATE)));
    const inFile = path.join(dir, `in${c}.wav`);
    writeFileSync(inFile, wav16(x));
    const out = path.join(dir, 'out.wav');
    const chainArgs = stages.flatMap((s) => [s.lib, s.label, ...s.args]);
    const passArgs = [path.join(testLib, 'sbc_test_plugins.so'), 'sbc_test_gain', '1'];
    // Alternated too; the smaller of two runs each (the least disturbed).
    const p1 = applyCpu([inFile, out, ...passArgs]);
    const c1 = applyCpu([inFile, out, ...chainArgs]);
    const p2 = applyCpu([inFile, out, ...passArgs]);
    const c2 = applyCpu([inFile, out, ...chainArgs]);
    refPass += Math.min(p1, p2);
    refChain += Math.min(c1, c2);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const refChainMs = ((refChain - refPass) * 1000) / seconds;
const cpuRatio = engineChainMs / refChainMs;
// Each kind's less disturbed run (the smaller p99), as for applyplugin's CPU above.
const lateRatio = Math.min(...fulls.map((x) => x.lateness.p99)) / Math.min(...empties.map((x) => x.lateness.p99));

console.log(`plugin chain: ${CHAIN.map((s) => s.label.split('/').pop()).join(' → ')} (mono, 2 instances each), ${period}-frame periods, ${seconds} s per run`);
console.log(`engine thread CPU per audio s: empty chain ${emptyCpu.toFixed(2)} ms, with the chain ${fullCpu.toFixed(2)} ms: the chain's own ${engineChainMs.toFixed(2)} ms`);
console.log(`applyplugin CPU per audio s (both channels): pass-through ${((refPass * 1000) / seconds).toFixed(2)} ms, chain ${((refChain * 1000) / seconds).toFixed(2)} ms: the chain's own ${refChainMs.toFixed(2)} ms`);
console.log(`ratio engine / applyplugin (the chain's own CPU): ${cpuRatio.toFixed(2)} (target ≤ 1.5)`);
console.log(`engine lateness p50/p99/max (fraction of the period): empty ${empties.map((x) => fmt(x.lateness)).join(' | ')}; chain ${fulls.map((x) => fmt(x.lateness)).join(' | ')}; p99 ratio (each kind's smallest) ${lateRatio.toFixed(2)} (target ≤ 1.2); xruns ${empties.reduce((a, x) => a + x.xruns, 0)} / ${fulls.reduce((a, x) => a + x.xruns, 0)}`);
await dev.close?.();
process.exit(cpuRatio <= 1.5 && lateRatio <= 1.2 ? 0 : 1);
