/**
 * Engine benchmark on the sim board (real time: the sim PCM on CLOCK_MONOTONIC), 64 / 128 / 256
 * frames, each beside baselines measured in the same run. Not part of `make test`.
 *
 *   node --import tsx bench/engine-sim.ts [seconds per figure, default 4]
 */
import { engineForBoard } from '../src/cli/wiring.ts';
import { bareWakeBaseline, cyclictestBaseline, fmt, measureEngine } from './engine-lib.ts';

const seconds = Number(process.argv[2] ?? 4);
const dev = await (await engineForBoard('sim', { simClock: 'monotonic' })).driver.open('speaker');
dev.on('warning', (w) => console.error(w));
console.log(`engine on the sim board (sim PCM on CLOCK_MONOTONIC), pass-through host, f32 planar, 3 periods, ${seconds} s per figure`);
console.log('period | engine lateness p50/p99/max (fraction of period) | cyclictest p50/p99/max | ratio p99 | engine CPU ms per audio s (thread) | bare-wake worker | ratio | xruns | FIFO');
for (const period of [64, 128, 256]) {
  const e = await measureEngine(dev, period, seconds, 'examples/passthrough.ts', true);
  const c = cyclictestBaseline((period * 1e6) / 48000, seconds);
  const bare = await bareWakeBaseline(period, seconds);
  console.log([
    period, fmt(e.lateness), fmt(c), c ? (e.lateness.p99 / c.p99).toFixed(2) : 'n/a',
    `${e.cpuMsPerAudioSecond.toFixed(1)} (${e.threadCpuMsPerAudioSecond.toFixed(1)})`, bare.toFixed(1), (e.cpuMsPerAudioSecond / bare).toFixed(2), e.xruns, e.fifo,
  ].join(' | '));
}
