/**
 * The smallest period the engine holds without a dropout (issue 26): the engine on the sim board
 * (sim PCM on CLOCK_MONOTONIC, pass-through host, full duplex, 3 periods: 2 periods of headroom at
 * each wake-up) for 60 s at 32, 64, 128 and 256 frames with one other core busy (stress-ng --cpu 1),
 * counting xruns after the warm-up second; beside each, in the same conditions, cyclictest (a C thread,
 * SCHED_FIFO 70) at the same interval, counting wake-ups later than those 2 periods: a C engine would
 * have had that many dropouts. Not part of `make test`.
 *
 *   node --import tsx bench/engine-xruns.ts [seconds, default 60] [periods, default 32,64,128,256]
 */
import { spawn } from 'node:child_process';
import { engineForBoard } from '../src/cli/wiring.ts';
import { cyclictestRun, fmt, measureEngine } from './engine-lib.ts';

const seconds = Number(process.argv[2] ?? 60);
const periods = (process.argv[3] ?? '32,64,128,256').split(',').map(Number);
const dev = await (await engineForBoard('sim', { simClock: 'monotonic' })).driver.open('speaker');
dev.on('warning', () => {}); // the memlock warning once per start: not this bench's subject

/** Runs `fn` with stress-ng keeping one core busy (SCHED_OTHER, as any other work on the machine). */
async function withOneCoreBusy<T>(fn: () => Promise<T> | T): Promise<T> {
  const stress = spawn('stress-ng', ['--cpu', '1', '--timeout', `${seconds * 3}s`, '--quiet'], { stdio: 'ignore' });
  const gone = new Promise((r) => stress.once('exit', r));
  try {
    return await fn();
  } finally {
    stress.kill('SIGTERM');
    await gone;
  }
}

console.log(`engine xruns in ${seconds} s with one other core busy (stress-ng --cpu 1): sim board, CLOCK_MONOTONIC, pass-through, full duplex, 3 periods`);
console.log('period | engine xruns after warm-up (whole run) | engine lateness p50/p99/max | cyclictest wake-ups later than 2 periods (of N) | cyclictest p50/p99/max');
let smallest: number | undefined;
for (const period of periods) {
  const periodUs = (period * 1e6) / 48000;
  const e = await withOneCoreBusy(() => measureEngine(dev, period, seconds, 'examples/passthrough.ts', true));
  const c = await withOneCoreBusy(() => cyclictestRun(periodUs, seconds, 2 * periodUs));
  console.log([period, `${e.windowXruns} (${e.xruns})`, fmt(e.lateness), c ? `${c.over} (of ${c.wakeups})` : 'n/a (no cyclictest)', fmt(c?.lateness)].join(' | '));
  if (smallest === undefined && e.windowXruns === 0) smallest = period;
}
console.log(`smallest period with 0 xruns in ${seconds} s (after the warm-up second): ${smallest ?? 'none of those tried'}`);
