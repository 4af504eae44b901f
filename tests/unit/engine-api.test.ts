import assert from 'node:assert/strict';
import { engineForBoard } from '../../src/cli/wiring.ts';
import { ENGINE_RESULT, EngineError } from '../../src/engine/index.ts';

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (e: unknown) => {
    assert.ok(e instanceof EngineError, `expected an EngineError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const { driver } = await engineForBoard('sim', { simClock: 'virtual' });

describe('engine driver API (sim board)', () => {
  it('lists the board devices: outputs paired with the first input, inputs alone', () => {
    const devices = driver.listDevices();
    assert.deepEqual(devices.map((d) => [d.name, d.playback, d.capture]), [
      ['speaker', 'sim:0,0', 'sim:0,2'],
      ['headphone', 'sim:0,1', 'sim:0,2'],
      ['mic', undefined, 'sim:0,2'],
    ]);
    assert.ok(devices.every((d) => d.backend === 'sim'));
  });

  it('opens by name and refuses unknown names and unknown boards with invalid-argument', async () => {
    assert.equal((await driver.open('speaker')).name, 'speaker');
    await rejectsWith(driver.open('nope'), 'invalid-argument');
    await rejectsWith(() => engineForBoard('no-such-board'), 'invalid-argument');
  });

  it('gives a default config and capabilities that match the device', async () => {
    const mic = await driver.open('mic');
    const c = mic.defaultConfig();
    assert.equal(c.outputChannels, 0);
    assert.equal(c.inputChannels, 2);
    const caps = mic.capabilities();
    assert.equal(caps.fullDuplex, false);
    assert.equal(caps.maxOutputChannels, 0);
    assert.deepEqual(caps.formats, ['f32', 'i16', 'i32']);
    assert.equal((await driver.open('speaker')).capabilities().fullDuplex, true);
  });

  it('negotiates what the device grants: the sim rounds periods up to 16 frames, picks the host format for the PCM', async () => {
    const dev = await driver.open('speaker');
    const c = await dev.negotiate({ bufferFrames: 40, format: 'i16' });
    assert.equal(c.bufferFrames, 48);
    assert.deepEqual(c.pcmFormat, { output: 'S16_LE', input: 'S16_LE' });
    const f = await dev.negotiate({ bufferFrames: 32, format: 'f32' });
    assert.equal(f.bufferFrames, 32);
    assert.deepEqual(f.pcmFormat, { output: 'FLOAT_LE', input: 'FLOAT_LE' });
  });

  it('reports latency in frames with the board external delay (nominal: one period in, periods-1 out)', async () => {
    const dev = await driver.open('speaker');
    assert.throws(() => dev.latency(), (e: unknown) => e instanceof EngineError && e.code === 'state');
    await dev.negotiate({ bufferFrames: 64, periods: 3, rate: 48000 });
    const l = dev.latency();
    // board/sim.json: 2000 ns out, 1000 ns in → 0 frames at 48 kHz each, plus the sim codec's figures.
    assert.equal(l.inputFrames, 64 + l.externalInputFrames);
    assert.equal(l.outputFrames, 128 + l.externalOutputFrames);
    assert.ok(l.externalOutputFrames >= 0 && l.externalInputFrames >= 0);
  });

  it('types its errors after OpenASIO result codes', async () => {
    const dev = await driver.open('speaker');
    await rejectsWith(dev.negotiate({ rate: 1000 }), 'invalid-argument');
    await rejectsWith(dev.negotiate({ format: 'f64' as 'f32' }), 'invalid-argument');
    await rejectsWith(dev.negotiate({ inputChannels: 0, outputChannels: 0 }), 'invalid-argument');
    const mic = await driver.open('mic');
    await rejectsWith(mic.negotiate({ outputChannels: 2 }), 'unsupported');
    await rejectsWith(dev.stop(), 'state');
    await rejectsWith(dev.start(await dev.negotiate({}), { path: 'tests/unit/engine-hosts/no-factory.ts' }, { seconds: 0.1 }), 'invalid-argument');
    assert.equal(dev.running, false);
    assert.deepEqual(ENGINE_RESULT, { ok: 0, generic: -1, unsupported: -2, 'invalid-argument': -3, device: -4, backend: -5, state: -6 });
  });

  it('refuses a second start while running (state) and a negotiate while running', async () => {
    const dev = await driver.open('speaker');
    const c = await dev.negotiate({ bufferFrames: 64 });
    const flag = new SharedArrayBuffer(16);
    await dev.start(c, { path: 'tests/unit/engine-hosts/block.ts', options: { flag, at: 5, ms: 300, mode: 'wait' } });
    await rejectsWith(dev.start(c, { path: 'examples/tone.ts' }), 'state');
    await rejectsWith(dev.negotiate({}), 'state');
    await dev.stop();
  });
});
