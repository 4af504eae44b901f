/**
 * The engine's worker on the sim board's virtual clock (the worker advances it itself: periods
 * cost no wall time and everything is deterministic). See docs/engine.md.
 */
import assert from 'node:assert/strict';
import { engineForBoard } from '../../src/cli/wiring.ts';
import { readdirSync } from 'node:fs';
import type { EngineDevice } from '../../src/engine/index.ts';
import { bytesToS16, paddedTestSignal, verifyBitExact, withFlippedSample } from '../hil/lib/bitexact.ts';

const { driver } = await engineForBoard('sim', { simClock: 'virtual', codecReady: true });
const RATE = 48000;

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

function messages(dev: EngineDevice): unknown[] {
  const got: unknown[] = [];
  dev.on('message', (m) => got.push(m));
  return got;
}

describe('engine on the sim board (worker, virtual clock)', function () {
  this.timeout(60000);

  it('tone example: plays the frames asked for at the asked level, then stops by itself', async () => {
    const dev = await driver.open('speaker');
    const config = await dev.negotiate({ bufferFrames: 64, inputChannels: 0, format: 'f32', interleaved: false });
    await dev.start(config, { path: 'examples/tone.ts', options: { freq: 1000, level: -6 } }, { seconds: 0.5, sim: { recordFrames: RATE } });
    const r = await dev.finished;
    assert.equal(r.reason, 'frames');
    assert.equal(r.frames, 24000);
    assert.equal(r.underruns, 0);
    const played = new Float32Array(r.record!.buffer, r.record!.byteOffset, r.record!.byteLength / 4);
    assert.equal(played.length / 2, 24000 + 128, 'the prefill (2 periods of silence) then every frame');
    const peak = played.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(Math.abs(20 * Math.log10(peak) + 6) < 0.01, `peak ${peak}`);
  });

  for (const [format, interleaved, period] of [['i16', true, 64], ['f32', false, 64], ['i32', false, 128], ['i16', false, 32]] as const) {
    it(`pass-through is bit-exact (${format}, ${interleaved ? 'interleaved' : 'planar'}, ${period}-frame periods), the lag is the reported latency, and a flipped sample fails`, async () => {
      const signal = paddedTestSignal(RATE / 2, RATE / 20, 2, 0xabc + period);
      const dev = await driver.open('speaker');
      const config = await dev.negotiate({ bufferFrames: period, periods: 2, format, interleaved });
      const frames = signal.samples.length / 2 + 4 * period;
      // The capture device runs in the PCM format negotiated for the host's format: feed it the
      // S16 signal in that format (exactly representable in each) and read the record back the same way.
      const pcm = config.pcmFormat.output;
      const data = pcm === 'S16_LE' ? signal.samples
        : pcm === 'S32_LE' ? new Uint8Array(Int32Array.from(signal.samples, (v) => v * 65536).buffer)
          : new Uint8Array(Float32Array.from(signal.samples, (v) => v / 32768).buffer);
      assert.equal(pcm, { i16: 'S16_LE', i32: 'S32_LE', f32: 'FLOAT_LE' }[format]);
      await dev.start(config, { path: 'examples/passthrough.ts' }, {
        stopAfterFrames: frames, sim: { capture: { kind: 'samples', data }, recordFrames: frames + 1024 },
      });
      const r = await dev.finished;
      assert.equal(r.underruns + r.overruns + r.resets, 0);
      const rec = r.record!;
      const captured = pcm === 'S16_LE' ? bytesToS16(rec)
        : pcm === 'S32_LE' ? Int16Array.from(new Int32Array(rec.buffer, rec.byteOffset, rec.byteLength / 4), (v) => (v % 65536 === 0 ? v / 65536 : 0x7fff))
          : Int16Array.from(new Float32Array(rec.buffer, rec.byteOffset, rec.byteLength / 4), (v) => (Number.isInteger(v * 32768) ? v * 32768 : 0x7fff));
      const verdict = verifyBitExact(signal, captured, signal.signalFrames);
      assert.ok(verdict.ok, verdict.reason);
      const lat = r.latency;
      assert.equal(verdict.alignment!.lagFrames, lat.inputFrames - lat.externalInputFrames + lat.outputFrames - lat.externalOutputFrames);
      const control = verifyBitExact(signal, withFlippedSample(captured, (verdict.alignment!.lagFrames + signal.signalStart + 100) * 2 + 1), signal.signalFrames);
      assert.equal(control.ok, false);
    });
  }

  it('process returning false stops the engine gracefully: that period is still played', async () => {
    const signal = paddedTestSignal(4800, 480, 2, 9);
    const dev = await driver.open('speaker');
    const got = messages(dev);
    const config = await dev.negotiate({ bufferFrames: 64, format: 'i16', interleaved: true });
    await dev.start(config, { path: 'tests/unit/engine-hosts/stop-after.ts', options: { periods: 50 } }, {
      sim: { capture: { kind: 'samples', data: signal.samples }, recordFrames: RATE },
    });
    const r = await dev.finished;
    assert.equal(r.reason, 'host');
    assert.equal(r.periods, 50);
    assert.deepEqual(got, [{ calls: 50 }]);
    // Prefill (128) + 50 periods, all played out by the drain.
    assert.equal(r.record!.length / 4, 128 + 50 * 64);
    const out = bytesToS16(r.record!);
    const inp = signal.samples;
    assert.deepEqual(out.subarray(out.length - 64 * 2), inp.subarray(49 * 64 * 2, 50 * 64 * 2), 'the last period is the input\'s 50th');
    assert.equal(dev.running, false);
  });

  it('stop() while the host is inside process() waits for the period to finish and leaves no thread behind', async () => {
    const before = threads();
    const dev = await driver.open('speaker');
    const got = messages(dev);
    const flag = new SharedArrayBuffer(16);
    const f = new Int32Array(flag);
    await dev.start(await dev.negotiate({ bufferFrames: 64 }), { path: 'tests/unit/engine-hosts/block.ts', options: { flag, at: 20, ms: 300, mode: 'wait' } });
    while (Atomics.load(f, 0) !== 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal(dev.stats().inProcess, true);
    const r = await dev.stop();
    assert.equal(r.reason, 'stop');
    assert.equal(Atomics.load(f, 0), 2, 'process() ran to its end');
    assert.deepEqual(got, [{ calls: 20, completed: 20 }]);
    assert.equal(dev.running, false);
    assert.equal(threads(), before);
  });

  it('stop() on a host that never returns terminates the thread after the timeout, leaving none behind', async () => {
    const before = threads();
    const dev = await driver.open('speaker');
    const flag = new SharedArrayBuffer(16);
    const f = new Int32Array(flag);
    await dev.start(await dev.negotiate({ bufferFrames: 64 }), { path: 'tests/unit/engine-hosts/block.ts', options: { flag, at: 10, ms: 0, mode: 'spin' } });
    while (Atomics.load(f, 0) !== 1) await new Promise((r) => setTimeout(r, 5));
    const r = await dev.stop(300);
    assert.equal(r.reason, 'terminated');
    assert.equal(dev.running, false);
    assert.equal(threads(), before);
  });

  it('a host may request a reset: both streams restart, the host hears reset(), nothing counts as an xrun', async () => {
    const dev = await driver.open('speaker');
    const got = messages(dev);
    await dev.start(await dev.negotiate({ bufferFrames: 64 }), { path: 'tests/unit/engine-hosts/reset.ts', options: { at: 30 } }, { stopAfterFrames: 64 * 100 });
    const r = await dev.finished;
    assert.equal(r.resets, 1);
    assert.equal(r.underruns + r.overruns, 0);
    const state = got[0] as { resets: number; callsAtReset: number; latencyNotices: number };
    assert.equal(state.resets, 1);
    assert.equal(state.callsAtReset, 30);
    assert.equal(state.latencyNotices, 0, 'on the sim the latency after the restart is the nominal one');
  });

  it('gain example scales the capture (i16: rounded)', async () => {
    const signal = paddedTestSignal(4800, 480, 2, 77);
    const dev = await driver.open('speaker');
    const config = await dev.negotiate({ bufferFrames: 64, format: 'i16', interleaved: false });
    await dev.start(config, { path: 'examples/gain.ts', options: { db: -6 } }, {
      stopAfterFrames: 5760 + 256, sim: { capture: { kind: 'samples', data: signal.samples }, recordFrames: RATE },
    });
    const r = await dev.finished;
    const out = bytesToS16(r.record!);
    const g = 10 ** (-6 / 20);
    const lag = r.latency.inputFrames - r.latency.externalInputFrames + r.latency.outputFrames - r.latency.externalOutputFrames;
    for (const i of [480 * 2, 1000 * 2 + 1, 5000 * 2]) assert.equal(out[i + lag * 2], Math.round(signal.samples[i]! * g));
  });
});
