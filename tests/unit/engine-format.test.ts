import assert from 'node:assert/strict';
import { PeriodBuffers } from '../../src/engine/format.ts';

describe('engine buffers: PCM bytes ↔ host buffers', () => {
  it('is zero-copy when the host format is the PCM format and interleaved', () => {
    const b = new PeriodBuffers('S16_LE', 'i16', 2, 4, true);
    assert.equal(b.zeroCopy, true);
    (b.host[0] as Int16Array)[3] = -2;
    assert.deepEqual([...b.pcmBytes.subarray(6, 8)], [0xfe, 0xff]);
  });

  it('de-interleaves S16 into planar f32 and back, bit-exact for every 16-bit value', () => {
    const frames = 32768;
    const b = new PeriodBuffers('S16_LE', 'f32', 2, frames, false);
    const pcm = new Int16Array(b.pcmBytes.buffer);
    for (let i = 0; i < pcm.length; i++) pcm[i] = (i * 7919) % 65536 - 32768;
    const before = pcm.slice();
    b.pcmToHost();
    assert.equal(b.host.length, 2);
    assert.equal((b.host[1] as Float32Array)[5], before[11]! / 32768);
    pcm.fill(0);
    b.hostToPcm();
    assert.deepEqual(pcm, before);
  });

  it('clips floats outside -1..1 on the way to integer PCM and rounds to nearest', () => {
    const b = new PeriodBuffers('S16_LE', 'f32', 1, 4, true);
    (b.host[0] as Float32Array).set([1.5, -2, 0.5 / 32768 + 1e-7, -1]);
    b.hostToPcm();
    assert.deepEqual([...new Int16Array(b.pcmBytes.buffer)], [32767, -32768, 1, -32768]);
  });

  it('converts i32 hosts to S16 devices by dropping the low 16 bits, and S16 to i32 by shifting up', () => {
    const b = new PeriodBuffers('S16_LE', 'i32', 2, 2, true);
    (b.host[0] as Int32Array).set([0x12345678, -0x12345678, 65535, -1]);
    b.hostToPcm();
    assert.deepEqual([...new Int16Array(b.pcmBytes.buffer)], [0x1234, -0x1235, 0, -1]);
    b.pcmToHost();
    assert.deepEqual([...(b.host[0] as Int32Array)], [0x12340000, -0x12350000, 0, -65536]);
  });

  it('converts between f32 hosts and S32 devices within float precision', () => {
    const b = new PeriodBuffers('S32_LE', 'f32', 1, 3, false);
    (b.host[0] as Float32Array).set([0.25, -1, 1]);
    b.hostToPcm();
    assert.deepEqual([...new Int32Array(b.pcmBytes.buffer)], [0x20000000, -0x80000000, 0x7fffffff]);
  });
});
