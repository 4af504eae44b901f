/**
 * The PCM HAL contract: every backend (simulated, libasound) must pass it. Checks that depend on
 * the device consuming frames in real time run only where the fixture says it is paced.
 */
import assert from 'node:assert/strict';
import { PcmError, PcmXrunError, type PcmStream } from '../../src/hal/pcm.ts';
import type { PcmFixture } from './fixtures.ts';

export function pcmContract(name: string, make: () => Promise<PcmFixture>): void {
  describe(`PCM contract: ${name}`, function () {
    this.timeout(30000);
    let fx: PcmFixture;
    const open: PcmStream[] = [];
    beforeEach(async () => { fx = await make(); });
    afterEach(async () => {
      for (const s of open.splice(0)) s.close();
      await fx.close();
    });

    async function playback(periodFrames = 256, bufferFrames = 1024, startThreshold?: number) {
      const s = await fx.backend.open(fx.playbackDevice, {
        direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames, bufferFrames, startThreshold,
      });
      open.push(s);
      return s;
    }

    it('negotiates: the chosen configuration comes back, with the frame size of the format', async () => {
      const s = await playback(250, 1000);
      assert.equal(s.config.rate, 48000);
      assert.equal(s.config.channels, 2);
      assert.equal(s.config.format, 'S16_LE');
      assert.equal(s.config.frameBytes, 4);
      assert.ok(s.config.periodFrames > 0);
      assert.ok(s.config.bufferFrames >= s.config.periodFrames, `buffer ${s.config.bufferFrames} < period ${s.config.periodFrames}`);
      assert.equal(s.config.direction, 'playback');
    });

    it('refuses a device that does not exist, with an error naming it', async () => {
      await assert.rejects(
        fx.backend.open('no-such-pcm-device', { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 256, bufferFrames: 1024 }),
        (e: unknown) => e instanceof PcmError && e.message.includes('no-such-pcm-device'),
      ).catch(async (e) => {
        // The simulated backend opens any name; it must still refuse a rate no device has.
        if (fx.backend.kind !== 'sim') throw e;
        await assert.rejects(fx.backend.open(fx.playbackDevice, { direction: 'playback', rate: 1, channels: 2, format: 'S16_LE', periodFrames: 256, bufferFrames: 1024 }), PcmError);
      });
    });

    it('takes frames up to the buffer before starting and reports them as delay (paced devices)', async function () {
      if (!fx.paced) this.skip(); // reason: an unpaced device (ALSA 'null') discards frames as they come, so there is no queue
      const s = await playback(256, 1024, Number.MAX_SAFE_INTEGER);
      const buf = new Uint8Array(s.config.bufferFrames * s.config.frameBytes * 2);
      assert.equal(s.avail(), s.config.bufferFrames);
      const n = s.write(buf, 100);
      assert.equal(n, 100);
      assert.equal(s.avail(), s.config.bufferFrames - 100);
      assert.equal(s.delay(), 100);
      const m = s.write(buf, s.config.bufferFrames * 2);
      assert.equal(m, s.config.bufferFrames - 100, 'a full buffer takes no more');
      assert.equal(s.status().state, 'prepared');
    });

    it('starts, runs, stops on drop, and prepares again', async () => {
      const s = await playback(256, 1024, Number.MAX_SAFE_INTEGER);
      s.write(new Uint8Array(1024 * 4), 1024);
      s.start();
      assert.equal(s.status().state, 'running');
      assert.ok(s.status().triggerNs > 0);
      s.drop();
      assert.equal(s.status().state, 'setup');
      s.prepare();
      assert.equal(s.status().state, 'prepared');
      assert.equal(s.avail(), s.config.bufferFrames);
    });

    it('fills a caller-provided status object', async () => {
      const s = await playback();
      const st = { state: 'open' as const, avail: -1, delay: -1, triggerNs: -1, hostNs: -1, audioNs: -1, xruns: -1 };
      const got = s.status(st as never);
      assert.equal(got, st);
      assert.equal(st.avail, s.config.bufferFrames);
      assert.ok(st.hostNs > 0);
    });

    it('plays out what is queued on drain', async () => {
      const s = await playback(256, 1024);
      s.write(new Uint8Array(512 * 4), 512);
      await s.drain();
      assert.equal(s.status().state, 'setup');
    });

    it('refuses I/O after close', async () => {
      const s = await playback();
      open.splice(open.indexOf(s), 1);
      s.close();
      assert.throws(() => s.write(new Uint8Array(16), 4), PcmError);
    });

    it('consumes at the nominal rate once started (paced devices)', async function () {
      if (!fx.paced) this.skip(); // reason: the device is not paced in time (ALSA 'null' takes frames instantly)
      const s = await playback(256, 4096, Number.MAX_SAFE_INTEGER);
      const buf = new Uint8Array(4096 * 4);
      s.write(buf, 4096);
      s.start();
      const t0 = s.status().triggerNs;
      assert.equal(await s.wait(2000), true);
      const st = s.status();
      const consumed = 4096 - st.delay;
      const expected = ((st.hostNs - t0) * 48000) / 1e9;
      // One period of slack either way: the hardware pointer moves in periods on some devices.
      assert.ok(Math.abs(consumed - expected) <= s.config.periodFrames + 64, `consumed ${consumed}, expected ~${expected.toFixed(0)}`);
    });

    it('detects an underrun when the writer stops feeding, and recovers (paced devices)', async function () {
      if (!fx.paced) this.skip(); // reason: an unpaced device never runs dry
      const s = await playback(256, 1024);
      const buf = new Uint8Array(1024 * 4);
      s.write(buf, 1024); // reaches the start threshold: running
      assert.equal(s.status().state, 'running');
      await fx.clock.sleepUntilNs(fx.clock.nowNs() + (3 * 1024 * 1e9) / 48000);
      assert.throws(() => s.write(buf, 256), PcmXrunError);
      assert.ok(s.status().xruns >= 1);
      s.recover();
      assert.equal(s.write(buf, 256), 256);
    });

    it('captures frames at the nominal rate once started (capture devices)', async function () {
      if (!fx.captureDevice) this.skip(); // reason: the fixture has no capture device
      const c = await fx.backend.open(fx.captureDevice!, { direction: 'capture', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 256, bufferFrames: 2048 });
      open.push(c);
      c.start();
      assert.equal(await c.wait(2000), true);
      const buf = new Uint8Array(2048 * 4);
      const n = c.read(buf, 2048);
      assert.ok(n >= c.config.availMin, `read ${n} frames`);
    });
  });
}
