/**
 * Underrun and overrun on a paced kernel device (snd-dummy, hrtimer): the writer (reader) stops,
 * the binding detects it, reports it (PcmXrunError, state 'xrun', the xrun count) and recovers.
 * Buffers of 4096 frames (85 ms): a TCG guest on a shared host can stall for tens of ms, which
 * must not pass for the stop of the writer nor cause a second xrun after recovery.
 */
import assert from 'node:assert/strict';
import { AlsaPcmBackend } from '../../../src/hal/linux/alsa/pcm-backend.ts';
import { PcmXrunError } from '../../../src/hal/pcm.ts';
import { hilEnv } from '../env.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ALSA xrun detection and recovery on hw:Dummy (guest)', function () {
  this.timeout(60000);
  const dev = hilEnv().alsa.dummy;
  const backend = new AlsaPcmBackend();
  before(function () {
    if (!dev) this.skip(); // reason: no snd-dummy card in this environment (guest only)
  });

  for (const access of ['rw', 'mmap'] as const) {
    it(`detects, reports and recovers from an underrun (${access})`, async () => {
      const p = await backend.open(dev!, { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 1024, bufferFrames: 4096, access });
      try {
        const buf = new Uint8Array(p.config.bufferFrames * p.config.frameBytes);
        assert.equal(p.write(buf, p.config.bufferFrames), p.config.bufferFrames);
        assert.equal(p.status().state, 'running', 'a full buffer reaches the start threshold');
        await sleep(((p.config.bufferFrames * 1000) / 48000) * 5); // the writer stops feeding
        assert.equal(p.status().state, 'xrun');
        assert.equal(await p.wait(100), true, 'wait returns at once on xrun, so the writer meets it');
        assert.throws(() => p.write(buf, p.config.periodFrames), PcmXrunError);
        assert.throws(() => p.write(buf, p.config.periodFrames), PcmXrunError);
        assert.equal(p.status().xruns, 1, 'one underrun counts once');
        p.recover();
        assert.equal(p.status().state, 'prepared');
        assert.equal(p.write(buf, p.config.bufferFrames), p.config.bufferFrames);
        assert.equal(p.status().state, 'running', 'plays again after recovery');
        assert.equal(await p.wait(1000), true);
        assert.ok(p.write(buf, p.config.periodFrames) > 0);
        assert.equal(p.status().xruns, 1);
      } finally {
        p.close();
      }
    });

    it(`detects, reports and recovers from an overrun (${access})`, async () => {
      const c = await backend.open(dev!, { direction: 'capture', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 1024, bufferFrames: 4096, access });
      try {
        const buf = new Uint8Array(c.config.bufferFrames * c.config.frameBytes);
        c.start();
        await sleep(((c.config.bufferFrames * 1000) / 48000) * 5); // the reader stops reading
        assert.throws(() => c.read(buf, c.config.periodFrames), PcmXrunError);
        assert.equal(c.status().xruns, 1);
        c.recover();
        assert.equal(c.status().state, 'running', 'capture restarts on recovery');
        assert.equal(await c.wait(1000), true);
        assert.ok(c.read(buf, c.config.periodFrames) > 0);
      } finally {
        c.close();
      }
    });
  }
});
