/**
 * Bit-exactness of our libasound binding against peers we did not write (alsa-utils), on the
 * kernel's loopback card (snd-aloop): what is played on hw:Loopback,0,0 is captured on
 * hw:Loopback,1,0. A 2 s pseudo-random signal padded with 200 ms of silence goes each way, with
 * RW and with MMAP access; the capture is aligned to it by correlation and at least 1.5 s must
 * match bit for bit. Each comparison has a control run with one sample flipped, which must fail.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { AlsaPcmBackend } from '../../../src/hal/linux/alsa/pcm-backend.ts';
import { hilEnv } from '../env.ts';
import { bytesToS16, paddedTestSignal, s16ToBytes, verifyBitExact, withFlippedSample, type PaddedSignal } from '../lib/bitexact.ts';
import { CHANNELS, RATE, captureFrames, playAll, runPeer, waitForRunning } from './alsa-peers.ts';

const SIGNAL_FRAMES = 2 * RATE;
const PAD_FRAMES = RATE / 5;
const MIN_EXACT_FRAMES = 1.5 * RATE;
/** Capture this much beyond the padded signal: the peer starts before the signal does. */
const MARGIN_FRAMES = 2 * RATE;
// Buffers of 1024-frame periods and 65536 frames (1.4 s) on both sides: under TCG, on a host
// whose two cores other work shares, the guest can stall for hundreds of ms (a 341 ms capture
// buffer once overran), and these checks are about bits, not latency (the xrun checks in
// alsa-xrun.hil.ts and the contract use small buffers on purpose).

/** The check and its control run: the capture passes, and the same capture with one sample flipped fails. */
function assertBitExactWithControl(signal: PaddedSignal, captured: Int16Array, what: string): void {
  const v = verifyBitExact(signal, captured, MIN_EXACT_FRAMES);
  assert.ok(v.ok, `${what}: ${v.reason}`);
  console.log(`      ${what}: lag ${v.alignment!.lagFrames} frames, correlation ${v.alignment!.score.toFixed(3)} (next ${v.alignment!.runnerUp.toFixed(3)}), ` +
    `bit-exact run ${v.length} of ${signal.signalFrames} signal frames (${(v.length / RATE).toFixed(3)} s), ${v.mismatches} frames lost or differing`);
  const flipFrame = v.start + Math.floor(v.length / 2);
  const flipped = withFlippedSample(captured, (flipFrame + v.alignment!.lagFrames) * CHANNELS);
  const c = verifyBitExact(signal, flipped, MIN_EXACT_FRAMES);
  assert.equal(c.ok, false, `${what}: the control run with one flipped sample at frame ${flipFrame} was not caught`);
  assert.ok(c.length < v.length, `${what}: control run ${c.length} frames not shorter than ${v.length}`);
}

describe('ALSA bit-exact on the loopback card, against alsa-utils (guest)', function () {
  this.timeout(120000);
  const env = hilEnv();
  const playDev = env.alsa.loopbackPlayback;
  const capDev = env.alsa.loopbackCapture;
  const backend = new AlsaPcmBackend();
  let dir = '';
  const signal = paddedTestSignal(SIGNAL_FRAMES, PAD_FRAMES, CHANNELS, 0x5eed1234);
  const signalBytes = s16ToBytes(signal.samples);
  const totalFrames = signal.samples.length / CHANNELS;

  before(function () {
    if (!playDev || !capDev) this.skip(); // reason: no loopback card in this environment (guest only)
    dir = mkdtempSync(join(tmpdir(), 'alsa-loopback-'));
    writeFileSync(join(dir, 'signal.raw'), signalBytes);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const card = () => /hw:(?:CARD=)?([^,]+)/.exec(capDev!)![1]!;
  const subdevice = (dev: string) => Number(/hw:[^,]+,(\d+)/.exec(dev)![1]);

  for (const access of ['rw', 'mmap'] as const) {
    it(`our ${access} playback on ${'hw:Loopback,0,0'} is captured bit-exact by arecord`, async () => {
      const out = join(dir, `arecord-${access}.raw`);
      const frames = totalFrames + MARGIN_FRAMES;
      const rec = runPeer('arecord', ['-q', '-D', capDev!, '-f', 'S16_LE', '-c', String(CHANNELS), '-r', String(RATE), '-t', 'raw', '-s', String(frames), out], 60000);
      await waitForRunning(card(), subdevice(capDev!), 'c');
      try {
        const p = await backend.open(playDev!, { direction: 'playback', rate: RATE, channels: CHANNELS, format: 'S16_LE', periodFrames: 1024, bufferFrames: 65536, access });
        try {
          assert.equal(p.config.access, access);
          await playAll(p, signalBytes);
        } finally {
          p.close();
        }
      } catch (e) {
        rec.child.kill();
        throw e;
      }
      const code = await rec.done;
      assert.equal(code, 0, `arecord failed: ${rec.stderr()}`);
      assertBitExactWithControl(signal, bytesToS16(readFileSync(out)), `binding ${access} → arecord`);
    });

    it(`aplay's playback is captured bit-exact by our ${access} capture on ${'hw:Loopback,1,0'}`, async () => {
      const c = await backend.open(capDev!, { direction: 'capture', rate: RATE, channels: CHANNELS, format: 'S16_LE', periodFrames: 1024, bufferFrames: 65536, access });
      let captured: Uint8Array;
      let play: ReturnType<typeof runPeer> | undefined;
      try {
        assert.equal(c.config.access, access);
        c.start();
        const capturing = captureFrames(c, totalFrames + MARGIN_FRAMES);
        play = runPeer('aplay', ['-q', '-D', playDev!, '-f', 'S16_LE', '-c', String(CHANNELS), '-r', String(RATE), '-t', 'raw', join(dir, 'signal.raw')], 60000);
        captured = await capturing;
        assert.equal(c.status().xruns, 0, 'no overrun while capturing');
      } finally {
        c.close();
      }
      const code = await play!.done;
      assert.equal(code, 0, `aplay failed: ${play!.stderr()}`);
      assertBitExactWithControl(signal, bytesToS16(captured), `aplay → binding ${access}`);
    });
  }
});
