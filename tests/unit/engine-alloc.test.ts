/**
 * No allocation in the engine's steady-state period loop.
 *
 * The worker runs with a 1 MB young generation, so a few hundred kB of garbage forces a
 * scavenge. After the warm-up (V8 must have optimised the loop: until then every double the
 * loop computes is a heap number), the worker counts the scavenges whose start falls in a window
 * of 7500 periods of 64 frames (10 s of audio at 48 kHz) through a PerformanceObserver of 'gc'
 * entries (see src/engine/worker.ts). The sim PCM runs on the worker's virtual clock, so the
 * 10 s take well under a second of wall time; the sim keeps no record (it would grow).
 *
 * The control host allocates 64 bytes per period (480 kB over the window): it must make the
 * same check fail, which shows the check can see garbage at that rate.
 */
import assert from 'node:assert/strict';
import { EngineDriver, type EngineReport } from '../../src/engine/index.ts';

const driver = EngineDriver.forBoard('sim', { simClock: 'virtual' });
const PERIODS = 7500;

/** The check: no scavenge in the window, and the young generation grew less than a byte per period. */
function allocationFree(r: EngineReport): boolean {
  return r.scavenges === 0 && r.youngBytes < PERIODS;
}

async function measure(host: string, format: 'f32' | 'i16', interleaved: boolean): Promise<EngineReport> {
  const dev = await driver.open('speaker');
  const config = await dev.negotiate({ bufferFrames: 64, format, interleaved, inputChannels: 2, outputChannels: 2 });
  await dev.start(config, { path: host }, {
    warmupPeriods: 3000, warmupMs: 300, measurePeriods: PERIODS, youngGenerationMb: 1,
    sim: { capture: { kind: 'sine', freq: 997, amplitude: 0.5 } },
  });
  return dev.finished;
}

describe('engine: no allocation in the period loop (64-frame periods, 10 s of audio, 1 MB young generation)', function () {
  this.timeout(60000);

  for (const [format, interleaved] of [['f32', false], ['i16', true]] as const) {
    it(`pass-through host, ${format} ${interleaved ? 'interleaved' : 'planar'}: zero scavenges`, async () => {
      const r = await measure('examples/passthrough.ts', format, interleaved);
      assert.equal(r.measuredPeriods, PERIODS);
      assert.equal(r.underruns + r.overruns, 0);
      assert.equal(r.scavenges, 0, `scavenges in the window: ${r.scavenges} (young generation grew ${r.youngBytes} bytes)`);
      // With no scavenge the young generation's growth is what the window allocated: only the
      // window's own end marks (a heap-statistics call), not a byte per period.
      assert.ok(r.youngBytes < PERIODS, `young generation grew ${r.youngBytes} bytes over ${PERIODS} periods`);
      assert.ok(allocationFree(r));
    });
  }

  it('control: a host allocating 64 bytes per period makes the check fail', async () => {
    const r = await measure('tests/unit/engine-hosts/alloc.ts', 'f32', false);
    assert.equal(r.measuredPeriods, PERIODS);
    assert.equal(allocationFree(r), false, `the control host passed: ${r.scavenges} scavenges, ${r.youngBytes} bytes`);
    // In practice the 1 MB young generation fills: 1 or 2 scavenges in the window.
    assert.ok(r.scavenges >= 1 || r.youngBytes >= 64 * PERIODS, `${r.scavenges} scavenges, ${r.youngBytes} bytes`);
  });
});
