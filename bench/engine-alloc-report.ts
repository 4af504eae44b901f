/** Prints the allocation test's figures (scavenges, young-generation growth) for the pass-through and the control host. */
import { engineForBoard } from '../src/cli/wiring.ts';

const { driver } = await engineForBoard('sim', { simClock: 'virtual' });
for (const [host, format, interleaved] of [['examples/passthrough.ts', 'f32', false], ['examples/passthrough.ts', 'i16', true], ['examples/tone.ts', 'i32', false], ['tests/unit/engine-hosts/alloc.ts', 'f32', false]] as const) {
  const dev = await driver.open('speaker');
  const config = await dev.negotiate({ bufferFrames: 64, format, interleaved });
  await dev.start(config, { path: host }, { warmupPeriods: 3000, warmupMs: 300, measurePeriods: 7500, youngGenerationMb: 1, sim: { capture: { kind: 'sine', freq: 997, amplitude: 0.5 } } });
  const r = await dev.finished;
  console.log(`${host} ${format} ${interleaved ? 'interleaved' : 'planar'}: ${r.scavenges} scavenges over ${r.measuredPeriods} periods of 64 frames; young generation grew ${r.youngBytes} bytes`);
}
