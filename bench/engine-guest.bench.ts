/**
 * Engine benchmark on hw:Dummy inside the QEMU guest (mocha file, not part of `make test`):
 *
 *   SBC_HIL_SPEC=bench/engine-guest.bench.ts bash tests/hil/run-vm.sh
 *
 * Needs cyclictest and aplay in the guest (cyclictest: Debian's rt-tests, copied in by the
 * harness where installed on the host). Prints one line per period size; asserts nothing about
 * speed (TCG timings are noisy), only that figures were produced.
 */
import assert from 'node:assert/strict';
import { EngineDriver } from '../src/engine/index.ts';
import { hilEnv } from '../tests/hil/env.ts';
import { aplayCpuBaseline, cyclictestBaseline, fmt, measureEngine } from './engine-lib.ts';

const env = hilEnv();
const SECONDS = Number(process.env.SBC_ENGINE_BENCH_SECONDS ?? 4);

describe('engine benchmark on hw:Dummy (guest)', function () {
  this.timeout(300000);
  before(function () {
    if (!env.alsa.dummy) this.skip(); // reason: no snd-dummy here
  });
  for (const period of [128, 256]) {
    it(`period ${period}: lateness and CPU beside cyclictest and aplay`, async () => {
      const dev = await EngineDriver.forAlsa().open({ name: 'dummy-out', playback: env.alsa.dummy! });
      const e = await measureEngine(dev, period, SECONDS, 'examples/tone.ts', false);
      const c = cyclictestBaseline((period * 1e6) / 48000, SECONDS);
      const a = aplayCpuBaseline(env.alsa.dummy!, period, SECONDS);
      console.log(`ENGINE-BENCH guest hw:Dummy period ${period}: engine lateness p50/p99/max ${fmt(e.lateness)} | cyclictest ${fmt(c)} | p99 ratio ${c ? (e.lateness.p99 / c.p99).toFixed(2) : 'n/a'} | engine CPU ${e.cpuMsPerAudioSecond.toFixed(1)} ms/audio s (thread ${e.threadCpuMsPerAudioSecond.toFixed(1)}) | aplay ${a?.toFixed(1) ?? 'n/a'} | ratio ${a ? (e.cpuMsPerAudioSecond / a).toFixed(2) : 'n/a'} | xruns ${e.xruns} | FIFO ${e.fifo}`);
      assert.ok(Number.isFinite(e.lateness.p50));
    });
  }
});
