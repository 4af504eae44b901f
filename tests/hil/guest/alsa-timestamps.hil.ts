/**
 * Status timestamps and poll descriptors on a paced kernel device (hw:Dummy, hrtimer): the trigger
 * and snapshot times are on CLOCK_MONOTONIC (the clock the rest of the project reads), the audio
 * time follows the hardware pointer, and the poll descriptors wake when a period is free.
 * Guest timings run under TCG: they are printed, and asserted only for coarse sanity.
 */
import assert from 'node:assert/strict';
import { AlsaPcmBackend, type AlsaPcmStream } from '../../../src/hal/linux/alsa/pcm-backend.ts';
import { POLLOUT } from '../../../src/hal/linux/libc.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { emptyPcmStatus } from '../../../src/hal/pcm.ts';
import { hilEnv } from '../env.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ALSA status timestamps and poll descriptors on hw:Dummy (guest)', function () {
  this.timeout(30000);
  const dev = hilEnv().alsa.dummy;
  before(function () {
    if (!dev) this.skip(); // reason: no snd-dummy card in this environment (guest only)
  });

  it('reports trigger, snapshot and audio times on CLOCK_MONOTONIC', async () => {
    const clock = monotonicClock();
    const s = (await new AlsaPcmBackend().open(dev!, {
      direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 480, bufferFrames: 48000, startThreshold: Infinity,
    })) as AlsaPcmStream;
    try {
      s.write(new Uint8Array(s.config.bufferFrames * 4), s.config.bufferFrames);
      const before = clock.nowNs();
      s.start();
      const after = clock.nowNs();
      await sleep(300);
      const st = s.status(emptyPcmStatus());
      const now = clock.nowNs();
      assert.equal(st.state, 'running');
      assert.ok(st.triggerNs >= before - 1e6 && st.triggerNs <= after + 1e6, `trigger ${st.triggerNs} within the start() call [${before}, ${after}]`);
      assert.ok(st.hostNs > st.triggerNs && st.hostNs <= now + 1e6, 'snapshot time after the trigger and before now');
      const elapsedNs = st.hostNs - st.triggerNs;
      const consumedNs = ((s.config.bufferFrames - st.delay) * 1e9) / 48000;
      assert.ok(Number.isFinite(st.audioNs) && st.audioNs > 0, `audio time ${st.audioNs}`);
      assert.ok(st.audioNs <= elapsedNs + 2 * ((s.config.periodFrames * 1e9) / 48000), 'the audio time does not run ahead of the host time');
      console.log(`      after ${(elapsedNs / 1e6).toFixed(1)} ms on CLOCK_MONOTONIC: audio time ${(st.audioNs / 1e6).toFixed(1)} ms, ` +
        `frames consumed ${(consumedNs / 1e6).toFixed(1)} ms worth`);
    } finally {
      s.close();
    }
  });

  it('poll descriptors wake when a period of the ring is free', async () => {
    const s = (await new AlsaPcmBackend().open(dev!, {
      direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 2400, bufferFrames: 9600,
    })) as AlsaPcmStream;
    try {
      const { count } = s.pcm.pollDescriptors;
      assert.ok(count >= 1, 'a kernel device has a descriptor');
      const b = s.config.bufferFrames;
      assert.equal(s.write(new Uint8Array(b * 4), b), b, 'the empty ring takes a whole buffer');
      assert.equal(s.status().state, 'running', 'a full buffer reaches the start threshold');
      const rev0 = s.pcm.pollRevents(0);
      const st = s.status();
      assert.equal(rev0 & POLLOUT, 0, `a full ring is not writable (revents ${rev0}, avail ${st.avail}, availMin ${s.config.availMin}, ` +
        `period ${s.config.periodFrames}, buffer ${b})`);
      const t0 = performance.now();
      const rev = s.pcm.pollRevents(1000);
      const ms = performance.now() - t0;
      assert.equal(rev & POLLOUT, POLLOUT, `revents ${rev}`);
      assert.ok(s.avail() >= s.config.availMin);
      console.log(`      POLLOUT after ${ms.toFixed(1)} ms (one period is 50 ms)`);
      assert.equal(s.waitSync(1000), true);
    } finally {
      s.close();
    }
  });
});
