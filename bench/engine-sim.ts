/**
 * Engine benchmark on the sim board (real time: the sim PCM on CLOCK_MONOTONIC), 32 / 64 / 128 / 256
 * frames, each beside baselines measured in the same run. Not part of `make test`.
 *
 *   node --import tsx bench/engine-sim.ts [seconds per figure, default 4] [periods, default 32,64,128,256]
 *
 * Lateness baselines: cyclictest (a C thread, SCHED_FIFO 70, the machine's floor) and a bare Node
 * worker with the engine's real-time set-up that only sleeps to each period boundary (the floor of a
 * Node thread: what the engine adds is the difference).
 */
import { engineForBoard } from '../src/cli/wiring.ts';
import { bareFifoLateness, bareWakeBaseline, cyclictestBaseline, fmt, measureEngine } from './engine-lib.ts';

const seconds = Number(process.argv[2] ?? 4);
const periods = (process.argv[3] ?? '32,64,128,256').split(',').map(Number);
const dev = await (await engineForBoard('sim', { simClock: 'monotonic' })).driver.open('speaker');
dev.on('warning', (w) => console.error(w));
console.log(`engine on the sim board (sim PCM on CLOCK_MONOTONIC), pass-through host, f32 planar, full duplex, 3 periods, ${seconds} s per figure`);
console.log('period | engine lateness p50/p99/max (fraction of period) | bare FIFO worker p50/p99/max | ratio p99 | cyclictest p50/p99/max | ratio p99 | engine CPU ms per audio s (thread) | bare-wake worker | ratio | xruns | FIFO');
for (const period of periods) {
  const e = await measureEngine(dev, period, seconds, 'examples/passthrough.ts', true);
  const bareLate = await bareFifoLateness(period, seconds);
  const c = cyclictestBaseline((period * 1e6) / 48000, seconds);
  const bare = await bareWakeBaseline(period, seconds);
  console.log([
    period, fmt(e.lateness), fmt(bareLate.lateness), (e.lateness.p99 / bareLate.lateness.p99).toFixed(2), fmt(c), c ? (e.lateness.p99 / c.p99).toFixed(2) : 'n/a',
    `${e.cpuMsPerAudioSecond.toFixed(1)} (${e.threadCpuMsPerAudioSecond.toFixed(1)})`, bare.toFixed(1), (e.cpuMsPerAudioSecond / bare).toFixed(2), e.xruns, e.fifo,
  ].join(' | '));
}
