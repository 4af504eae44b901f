/**
 * A knob turned fast never delays a period (issue 23's acceptance; docs/CONTROL.md, "Knobs"). Not
 * part of `make test` (`make knob`).
 *
 *   node --import tsx bench/encoder-turn.ts [--seconds S (turning, default 10)] [--baseline-seconds B (default S)]
 *       [--rate N (detents per second, default 200)] [--no-fail]
 *
 * The rig, all in this process: the sim board on CLOCK_MONOTONIC (the sim PCM paced by the real
 * clock), the stream service with its engines (one worker thread per stream), a protocol client
 * playing a tone through sim.speaker's engine, and the board's simulated rotary encoder
 * (src/board/sim-knobs.ts: its contacts driven on the simulated GPIO chip, debounced as the
 * kernel does it; the service's Knobs decode it and set sim.speaker.gain through the control
 * dispatcher, one relative step a detent).
 *
 * 1. Warm-up: a few detents each way, 2 s of play; then the **baseline**: B seconds of play.
 * 2. The **turn**: N detents a second for S seconds, in sweeps of 20 detents one way then 20 the
 *    other (the gain stays inside its range, so no step stops at an end).
 * 3. After: the gain must be the start plus the detents driven (each detent 1 dB: board/sim.json),
 *    and the decoder must have counted every detent driven.
 *
 * Figures, each window from the same run: xruns (underruns + overruns: must be 0 in the turn), the
 * engine's per-period lateness (its own trace: src/engine/loop.ts) p50 / p99 / max as a fraction
 * of a period, and the ratio of the turn's p99 to the baseline's (must be ≤ 1.2); the detents
 * driven and the rate reached (a late timer on a busy machine makes a turn slower, never faster);
 * the dispatcher's counts. Exit 1 when a bound fails (unless --no-fail), 2 on a usage error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../src/board/load.ts';
import { openBoard } from '../src/board/runtime.ts';
import { simEncoder } from '../src/board/sim-knobs.ts';
import type { EngineReport } from '../src/engine/types.ts';
import { startStreamService } from '../src/stream/service.ts';
import { fmt, percentiles, traceEngineStarts } from './engine-lib.ts';
import { type Mark, playSpeakerTone, stealText } from './speaker-tone.ts';

const args = process.argv.slice(2);
function num(name: string, dflt: number, min: number, max: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < min || v > max) {
    console.error(`encoder-turn: ${name} must be a number from ${min} to ${max}, got ${JSON.stringify(args[i + 1])}`);
    process.exit(2);
  }
  return v;
}
const TURN_S = num('--seconds', 10, 1, 600);
const BASELINE_S = num('--baseline-seconds', TURN_S, 1, 600);
const RATE = num('--rate', 200, 1, 400);
const NO_FAIL = args.includes('--no-fail');
/** Detents one way, then as many the other: the gain sweeps 20 dB and back. */
const SWEEP = 20;
const START_DB = -40;


const TRACE_PERIODS = Math.ceil(((2 + BASELINE_S + TURN_S + 30) * 48000) / 128) + 1024;
const { devices, restore: restoreEngineStart } = traceEngineStarts(TRACE_PERIODS);

const dir = mkdtempSync(path.join(tmpdir(), 'sbc-knob-'));
const logLines: string[] = [];
const reports = new Map<string, EngineReport>();
const rt = await openBoard(loadBoard('sim'));
let failed = false;
try {
  if (rt.hal.clock.kind !== 'monotonic') throw new Error('the sim board is expected on CLOCK_MONOTONIC (board/sim.json: no sim.virtualClock)');
  const service = await startStreamService(rt, { runtimeDir: dir, log: (l) => logLines.push(l), ringBuffer: { onReport: (ep, r) => reports.set(ep, r) } });
  const clock = rt.hal.clock;
  const encoder = simEncoder(rt);
  const gain = async () => (await service.controls.get('sim.speaker.gain')).value as number;

  // The client: a tone on sim.speaker for the whole run (bench/speaker-tone.ts).
  const tone = await playSpeakerTone(dir, 2 + BASELINE_S + TURN_S + 30, devices, clock);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const mark = (): Mark => tone.mark();

  // Warm-up: the knob's path runs a few times (V8 optimises it before the windows), the gain set.
  await service.dispatcher.set('sim.speaker.gain', START_DB);
  const spacingMs = 1000 / RATE / encoder.transitionsPerDetent;
  for (const d of [3, -3, 3, -3]) await encoder.turn(d, { spacingMs });
  await service.dispatcher.idle();
  await sleep(2000);
  const start = await gain();
  const detents0 = service.knobs.info().encoder!.detents;
  const before = service.dispatcher.stats();
  const b0 = mark();
  await sleep(BASELINE_S * 1000);
  const b1 = mark();

  // The turn: sweeps at RATE detents a second until TURN_S seconds have passed.
  const t0 = mark();
  let driven = 0;
  let sweeps = 0;
  while (clock.nowNs() - t0.ns < TURN_S * 1e9) {
    const d = sweeps % 2 === 0 ? SWEEP : -SWEEP;
    const r = await encoder.turn(d, { spacingMs, paced: true });
    driven += r.detents;
    sweeps++;
  }
  const t1 = mark();
  await service.dispatcher.idle();
  const final = await gain();
  const decoded = service.knobs.info().encoder!.detents - detents0;
  const expectedDb = start + driven; // 1 dB a detent (board/sim.json encoder.step)
  const stillPlaying = tone.playing();

  await tone.stop();
  await service.close();
  const report = reports.get('sim.speaker');
  const trace = report?.lateness;
  const window = (a: Mark, b: Mark) => (trace ? percentiles(trace.subarray(a.periods, Math.min(b.periods, trace.length))) : undefined);
  const base = window(b0, b1);
  const turn = window(t0, t1);
  const xruns = (a: Mark, b: Mark) => b.underruns - a.underruns + b.overruns - a.overruns;
  const ratio = base && turn ? turn.p99 / base.p99 : Number.NaN;
  const total = service.dispatcher.stats();
  const steal = stealText;
  const absDriven = sweeps * SWEEP;
  const rate = absDriven / ((t1.ns - t0.ns) / 1e9);

  console.log(`encoder-turn: sim board on CLOCK_MONOTONIC, sim.speaker playing (engine ${report?.realtime.fifo === 'granted' ? 'SCHED_FIFO' : `SCHED_FIFO ${report?.realtime.fifo ?? '?'}`}, 128-frame periods);`);
  console.log(`  the simulated encoder (${encoder.transitionsPerDetent} transitions a detent, debounce ${encoder.debounceUs} µs) turned ${absDriven} detents in ${sweeps} sweeps of ${SWEEP}, asked ${RATE}/s, reached ${rate.toFixed(0)}/s; baseline ${BASELINE_S} s, same run`);
  console.log('window   | periods | xruns | lateness p50 / p99 / max (fraction of a period) | hypervisor steal (all CPUs)');
  console.log(`baseline | ${b1.periods - b0.periods} | ${xruns(b0, b1)} | ${fmt(base)} | ${steal(b0, b1)}`);
  console.log(`turning  | ${t1.periods - t0.periods} | ${xruns(t0, t1)} | ${fmt(turn)} | ${steal(t0, t1)}`);
  console.log(`lateness p99 turning / baseline: ${ratio.toFixed(2)} (bound 1.2)`);
  console.log(`dispatcher while turning: received ${total.received - before.received}, applied ${total.applied - before.applied}, coalesced ${total.coalesced - before.coalesced}, queued ${total.queued - before.queued}, refused ${total.refused - before.refused}`);
  console.log(`gain: ${start} dB before, ${final} dB after (expected ${expectedDb}: ${driven >= 0 ? '+' : ''}${driven} net detents of 1 dB); decoded ${decoded} net detents`);
  const checks: [string, boolean][] = [
    ['xruns 0 while turning', xruns(t0, t1) === 0],
    ['lateness p99 turning / baseline ≤ 1.2', ratio <= 1.2],
    ['every detent decoded', decoded === driven],
    ['one set per detent reached the dispatcher', total.received - before.received === absDriven],
    ['the final gain exact (no detent lost)', final === expectedDb],
    ['the lateness trace covers the run', !!trace && t1.periods <= trace.length],
    ['the client played through the run', tone.error() === undefined && stillPlaying],
  ];
  for (const [what, ok] of checks) {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
    if (!ok) failed = true;
  }
  if (xruns(b0, b1) !== 0) console.log(`  (the baseline had ${xruns(b0, b1)} xrun(s): this machine's scheduling, not the knob; see issue 19)`);
  if (failed) console.log(`the service's last log lines:\n  ${logLines.slice(-15).join('\n  ')}${tone.error() ? `\nthe client: ${tone.error()!.message}` : ''}`);
} catch (e) {
  failed = true;
  console.error(`encoder-turn: ${(e as Error).stack ?? e}`);
  if (logLines.length) console.error(logLines.slice(-20).join('\n'));
} finally {
  restoreEngineStart();
  await rt.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed && !NO_FAIL ? 1 : 0);
