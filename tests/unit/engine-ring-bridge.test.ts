import assert from 'node:assert/strict';
import { engineForBoard } from '../../src/cli/wiring.ts';
import { FrameRing } from '../../src/ringbuffer/index.ts';
import { bytesToS16, paddedTestSignal, s16ToBytes, verifyBitExact } from '../hil/lib/bitexact.ts';

describe('engine with the ring-bridge host (the stream service\'s shape)', function () {
  this.timeout(30000);

  it('plays what a client wrote into the playback ring and fills the capture ring, bit-exact', async () => {
    const signal = paddedTestSignal(4800, 480, 2, 31);
    const frames = signal.samples.length / 2;
    const playback = FrameRing.createShared(frames + 64, 4);
    const capture = FrameRing.createShared(frames + 1024, 4);
    assert.equal(playback.write(s16ToBytes(signal.samples), frames), frames);
    const dev = await (await engineForBoard('sim', { simClock: 'virtual', codecReady: true })).driver.open('speaker');
    const got: unknown[] = [];
    dev.on('message', (m) => got.push(m));
    const config = await dev.negotiate({ bufferFrames: 64, format: 'i16', interleaved: true });
    await dev.start(config, { path: 'src/engine/hosts/ring-bridge.ts', options: { playback: playback.buffer, capture: capture.buffer } }, {
      stopAfterFrames: frames + 128, sim: { capture: { kind: 'samples', data: signal.samples }, recordFrames: frames + 512 },
    });
    const r = await dev.finished;
    // What the device played: the playback ring's signal.
    assert.ok(verifyBitExact(signal, bytesToS16(r.record!), signal.signalFrames).ok);
    // What the capture ring holds: the device's capture, from its first frame.
    const held = new Uint8Array(capture.readable() * 4);
    capture.read(held, capture.readable());
    const v = verifyBitExact(signal, bytesToS16(held), signal.signalFrames);
    assert.ok(v.ok, v.reason);
    assert.equal(v.alignment!.lagFrames, 0);
    assert.deepEqual(got, [{ ringBridge: { silentFrames: 128, droppedFrames: 0 } }]);
  });
});
