/**
 * The libasound binding and the PCM backend on alsa-lib's `null` device (present wherever
 * libasound is; not paced in time, so only the FFI layer, the negotiation and the bookkeeping are
 * checked here: timing, xruns and bit-exact data are checked in the guest on hw:Loopback/hw:Dummy).
 */
import assert from 'node:assert/strict';
import { AlsaError, asound, POLLFD_BYTES, SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_S24_3LE, SND_PCM_STATE_PREPARED, SND_PCM_STATE_RUNNING } from '../../src/hal/linux/alsa/libasound.ts';
import { AlsaPcm, emptyAlsaStatus } from '../../src/hal/linux/alsa/pcm.ts';
import { AlsaPcmBackend } from '../../src/hal/linux/alsa/pcm-backend.ts';
import { AlsaControl, AlsaMixer } from '../../src/hal/linux/alsa/control.ts';
import { monotonicClock } from '../../src/hal/linux/clock.ts';
import { PcmError, type PcmRequest, type SampleFormat, SAMPLE_BYTES } from '../../src/hal/pcm.ts';
import { ERRNO } from '../../src/util/errno.ts';
import { POLLOUT } from '../../src/hal/linux/libc.ts';

const base: PcmRequest = { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 256, bufferFrames: 1024 };

describe('alsa binding (libasound through koffi)', () => {
  it('loads libasound.so.2 and carries snd_strerror text in errors', () => {
    assert.match(asound().asoundlibVersion(), /^1\.\d+\.\d+/);
    assert.equal(asound().strerror(-ERRNO.EPIPE), 'Broken pipe');
    const e = new AlsaError('snd_pcm_writei', -ERRNO.EPIPE, 'null');
    assert.equal(e.message, 'snd_pcm_writei(null): Broken pipe (-32)');
    assert.equal(e.errno, ERRNO.EPIPE);
  });

  it('refuses a device that does not exist with libasound\'s reason', () => {
    assert.throws(() => AlsaPcm.open('hw:CARD=NoSuchCard', 'playback'), (e: unknown) => e instanceof AlsaError && /snd_pcm_open\(hw:CARD=NoSuchCard\): No such (file or directory|device)/.test(e.message));
    assert.throws(() => AlsaControl.open('hw:CARD=NoSuchCard'), AlsaError);
    assert.throws(() => AlsaMixer.open('hw:CARD=NoSuchCard'), AlsaError);
  });

  for (const access of ['rw', 'mmap'] as const) {
    it(`negotiates hw params with ${access} access and reads back what the device chose`, () => {
      const pcm = AlsaPcm.open('null', 'playback');
      try {
        const chosen = pcm.setHwParams({ access, format: SND_PCM_FORMAT_S16_LE, channels: 2, rate: 44100, periodFrames: 300, bufferFrames: 1200 });
        assert.equal(chosen.access, access);
        assert.equal(chosen.format, SND_PCM_FORMAT_S16_LE);
        assert.equal(chosen.channels, 2);
        assert.equal(chosen.rate, 44100);
        assert.ok(chosen.periodFrames > 0 && chosen.bufferFrames >= chosen.periodFrames, JSON.stringify(chosen));
        assert.deepEqual(pcm.readHwParams(), chosen);
        const sw = pcm.setSwParams({ startThreshold: Infinity, availMin: chosen.periodFrames });
        assert.equal(sw.startThreshold, sw.boundary, 'Infinity means the boundary: only start() starts');
        assert.equal(sw.availMin, chosen.periodFrames);
        assert.equal(pcm.state(), SND_PCM_STATE_PREPARED);
      } finally {
        pcm.close();
      }
    });
  }

  it('hands out the mmap ring and moves the pointers with begin/commit', () => {
    const pcm = AlsaPcm.open('null', 'playback');
    try {
      const hw = pcm.setHwParams({ access: 'mmap', format: SND_PCM_FORMAT_S24_3LE, channels: 2, rate: 48000, periodFrames: 256, bufferFrames: 1024 });
      pcm.setSwParams({ startThreshold: Infinity, availMin: 256 });
      assert.equal(pcm.availUpdate(), hw.bufferFrames);
      const got = pcm.mmapBegin(100);
      assert.equal(got, 100);
      assert.equal(pcm.mmapOffset, 0);
      assert.equal(pcm.mmapRing.length, hw.bufferFrames * 6, 'S24_3LE stereo: 6 bytes a frame');
      pcm.mmapRing.fill(0x5a, pcm.mmapByteOffset, pcm.mmapByteOffset + got * 6);
      assert.equal(pcm.mmapCommit(pcm.mmapOffset, got), 100);
      assert.equal(pcm.availUpdate(), hw.bufferFrames - 100);
      assert.equal(pcm.mmapBegin(100), 100);
      assert.equal(pcm.mmapOffset, 100);
      assert.equal(pcm.mmapByteOffset, 600);
      pcm.mmapCommit(pcm.mmapOffset, 100);
      assert.equal(pcm.state(), SND_PCM_STATE_PREPARED, 'threshold at the boundary: nothing starts by itself');
      pcm.start();
      assert.equal(pcm.state(), SND_PCM_STATE_RUNNING);
    } finally {
      pcm.close();
    }
  });

  it('reports status with CLOCK_MONOTONIC host timestamps and has poll descriptors', () => {
    const pcm = AlsaPcm.open('null', 'playback');
    try {
      pcm.setHwParams({ access: 'rw', format: SND_PCM_FORMAT_S16_LE, channels: 2, rate: 48000, periodFrames: 256, bufferFrames: 1024 });
      pcm.setSwParams({ startThreshold: 1024, availMin: 256 });
      const st = emptyAlsaStatus();
      const before = monotonicClock().nowNs();
      assert.equal(pcm.statusInto(st), 0);
      const after = monotonicClock().nowNs();
      assert.equal(st.state, SND_PCM_STATE_PREPARED);
      assert.equal(st.avail, 1024);
      assert.ok(st.hostNs >= before - 1e6 && st.hostNs <= after + 1e6, `hostNs ${st.hostNs} within [${before}, ${after}]`);
      const { fds, count } = pcm.pollDescriptors;
      assert.ok(count >= 0 && fds.length >= count * POLLFD_BYTES);
      assert.equal(pcm.pollRevents(0) & POLLOUT, POLLOUT, 'an empty playback ring is writable');
      assert.equal(pcm.delay(), 0);
    } finally {
      pcm.close();
    }
  });
});

describe('AlsaPcmBackend on the null device', () => {
  const backend = new AlsaPcmBackend();

  for (const format of Object.keys(SAMPLE_BYTES) as SampleFormat[]) {
    for (const access of ['rw', 'mmap'] as const) {
      it(`opens ${format} ${access} and moves frames both ways`, async () => {
        const p = await backend.open('null', { ...base, format, access });
        const c = await backend.open('null', { ...base, format, access, direction: 'capture' });
        try {
          assert.equal(p.config.format, format);
          assert.equal(p.config.frameBytes, SAMPLE_BYTES[format] * 2);
          assert.equal(p.config.access, access);
          assert.equal(p.config.startThreshold, p.config.bufferFrames);
          assert.equal(p.config.availMin, p.config.periodFrames);
          assert.equal(c.config.startThreshold, 1);
          const buf = new Uint8Array(256 * p.config.frameBytes).fill(0x11);
          let wrote = 0;
          let read = 0;
          for (let i = 0; i < 8; i++) {
            wrote += p.write(buf, 256);
            read += c.read(buf, 256);
          }
          assert.ok(wrote >= 1024, `wrote ${wrote}`);
          assert.ok(read > 0, `read ${read}`);
          assert.equal(c.status().state, 'running', 'the first read starts capture');
          assert.equal(await p.wait(50), true);
          assert.equal(p.waitSync(50), true);
        } finally {
          p.close();
          c.close();
        }
      });
    }
  }

  it('fills a caller-owned status and follows start/drop/prepare', async () => {
    const p = await backend.open('null', { ...base, startThreshold: Infinity });
    try {
      assert.equal(p.config.startThreshold, Infinity);
      const st = p.status({ state: 'open', avail: -1, delay: -1, triggerNs: -1, hostNs: 0, audioNs: 0, xruns: -1 });
      assert.equal(st.state, 'prepared');
      assert.equal(st.avail, p.config.bufferFrames);
      assert.equal(st.xruns, 0);
      assert.ok(Number.isNaN(st.audioNs));
      const t0 = monotonicClock().nowNs();
      p.start();
      const st2 = p.status(st);
      assert.equal(st2, st, 'the same object comes back');
      assert.equal(st.state, 'running');
      assert.ok(st.triggerNs >= t0 - 1e6 && st.triggerNs <= st.hostNs + 1e6, 'trigger time on CLOCK_MONOTONIC');
      p.drop();
      assert.equal(p.status().state, 'setup');
      assert.throws(() => p.write(new Uint8Array(1024), 256), PcmError);
      p.prepare();
      assert.equal(p.status().state, 'prepared');
      assert.equal(p.write(new Uint8Array(1024), 256), 256);
      await p.drain();
      assert.equal(p.status().state, 'setup');
    } finally {
      p.close();
    }
  });

  it('refuses what the device cannot do, and misuse, with PcmError', async () => {
    await assert.rejects(backend.open('null', { ...base, channels: 0 }), (e: unknown) => e instanceof PcmError && /channels 0/.test(e.message));
    await assert.rejects(backend.open('hw:CARD=NoSuchCard', base), (e: unknown) => e instanceof PcmError && /No such/.test(e.message));
    const c = await backend.open('null', { ...base, direction: 'capture' });
    assert.throws(() => c.write(new Uint8Array(4), 1), PcmError);
    c.close();
    assert.throws(() => c.read(new Uint8Array(4), 1), (e: unknown) => e instanceof PcmError && /closed/.test(e.message));
    c.close(); // closing twice is harmless
  });

  it('moves no more than the caller\'s buffer holds', async () => {
    const p = await backend.open('null', { ...base, access: 'mmap' });
    try {
      assert.equal(p.write(new Uint8Array(10 * 4 + 3), 256), 10);
      assert.equal(p.write(new Uint8Array(0), 256), 0);
    } finally {
      p.close();
    }
  });
});
