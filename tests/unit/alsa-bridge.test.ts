/**
 * The ALSA way in (src/stream/alsa-bridge.ts, docs/alsa-in.md) on the host, with a simulated
 * snd-aloop card (src/hal/sim/loopback-card.ts) in front of the sim board's stream service: the
 * samples a "player" writes reach the speaker's monitor (the simulated analog output) bit-exact at
 * 0 dB, at the player's rate; two players are summed; the volume element follows the gain and the
 * gain the element. The real card, aplay, mpd and snapclient are the guest's (tests/hil/guest/alsa-in.hil.ts).
 * Expected samples are the player's own, shifted as the spec says (S24 << 8 then cut to 16 bits).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { SimLoopbackBackend, SimLoopbackCard } from '../../src/hal/sim/loopback-card.ts';
import { accumulate, carriedFormat, emit } from '../../src/stream/alsa-bridge.ts';
import { type AlsaIn, startAlsaIn } from '../../src/stream/alsa-in.ts';
import { recordSamples } from '../../src/stream/player.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { type PaddedSignal, paddedTestSignal, s16ToBytes, verifyBitExact, withFlippedSample, withoutSignal } from '../hil/lib/bitexact.ts';

describe('ALSA way in: sample formats', () => {
  it('picks the lossless ring format, else widens S16 or cuts S24/S32 to 16 bits', () => {
    const { BIT16, BIT32, BIT32_FLOAT } = SAMPLE_FORMAT;
    assert.deepEqual(carriedFormat('S16_LE', BIT16 | BIT32), { sampleFormat: BIT16, bytes: 2, truncates: false });
    assert.deepEqual(carriedFormat('S16_LE', BIT32), { sampleFormat: BIT32, bytes: 4, truncates: false });
    assert.deepEqual(carriedFormat('S24_LE', BIT16 | BIT32), { sampleFormat: BIT32, bytes: 4, truncates: false });
    assert.deepEqual(carriedFormat('S32_LE', BIT16), { sampleFormat: BIT16, bytes: 2, truncates: true });
    assert.equal(carriedFormat('FLOAT_LE', BIT16 | BIT32), undefined);
    assert.deepEqual(carriedFormat('FLOAT_LE', BIT32_FLOAT), { sampleFormat: BIT32_FLOAT, bytes: 4, truncates: false });
  });

  it('widens S16 << 16, S24 << 8, S24_3LE into the top bytes; sums clip at full scale', () => {
    const acc = new Float64Array(4);
    const s16 = new Uint8Array([0x01, 0x80, 0xff, 0x7f]); // -32767, 32767
    accumulate(acc, s16, new DataView(s16.buffer), 'S16_LE', 2, true);
    assert.deepEqual([...acc.subarray(0, 2)], [-32767 * 65536, 32767 * 65536]);
    const s24 = new Uint8Array([0x56, 0x34, 0x12, 0xaa, 0x00, 0x00, 0x80, 0x00]); // 0x123456 (junk top byte), -0x800000
    accumulate(acc, s24, new DataView(s24.buffer), 'S24_LE', 2, true);
    assert.deepEqual([...acc.subarray(0, 2)], [0x12345600, -0x80000000]);
    const s243 = new Uint8Array([0x56, 0x34, 0x12, 0x00, 0x00, 0x80]);
    accumulate(acc, s243, new DataView(s243.buffer), 'S24_3LE', 2, true);
    assert.deepEqual([...acc.subarray(0, 2)], [0x12345600, -0x80000000]);
    // Two loud players: the sum clips rather than wraps.
    const loud = new Uint8Array([0x00, 0x70, 0x00, 0x90]); // 28672, -28672
    accumulate(acc, loud, new DataView(loud.buffer), 'S16_LE', 2, true);
    accumulate(acc, loud, new DataView(loud.buffer), 'S16_LE', 2, false);
    const out = new Uint8Array(4);
    emit(new DataView(out.buffer), acc, 2, SAMPLE_FORMAT.BIT16);
    assert.deepEqual([...new Int16Array(out.buffer)], [32767, -32768]);
    // S24 cut to 16 bits: the upper 16 bits (0x123456 → 0x1234).
    accumulate(acc, s24, new DataView(s24.buffer), 'S24_LE', 1, true);
    emit(new DataView(out.buffer), acc, 1, SAMPLE_FORMAT.BIT16);
    assert.equal(new Int16Array(out.buffer)[0], 0x1234);
  });
});

describe('ALSA way in: a simulated loopback into the sim board (real time)', function () {
  this.timeout(60000);
  const RATE = 48000;
  let dir: string;
  let rt: BoardRuntime;
  let svc: StreamService;
  let card: SimLoopbackCard;
  let loopback: SimLoopbackBackend;
  let alsaIn: AlsaIn;
  const lines: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-alsa-in-'));
    rt = await openBoard(loadBoard('sim'));
    // Ramps off: the signal is compared from its first frame (the pads are silence anyway).
    svc = await startStreamService(rt, { runtimeDir: dir, rampMs: 0 });
    await svc.controls.set('sim.speaker.gain', 0);
    card = new SimLoopbackCard('SimLoop', 4);
    loopback = new SimLoopbackBackend(new Map([['SimLoop', card]]));
    alsaIn = await startAlsaIn({ loopback, capture: card, service: svc, board: 'sim', card: 'SimLoop', log: (l) => lines.push(l) });
  });
  after(async () => {
    await alsaIn?.close();
    await svc?.close();
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Plays `bytes` on cable `sub` while the monitor records; the monitor's samples at `rate`. The
   * signals start after 2 s of silence: what a player writes while the bridge sets the stream up is
   * dropped (docs/alsa-in.md), and on a loaded machine that took 0.5–0.7 s (beside stress-ng --cpu 2).
   */
  async function playThrough(sub: number, rate: number, format: 'S16_LE' | 'S24_LE', bytes: Uint8Array, seconds: number, also?: () => void): Promise<Int16Array> {
    const stop = new AbortController();
    const monitor = recordSamples({ endpoint: path.join(dir, 'audio-input/sim.speaker.monitor'), rate, channels: 2, signal: stop.signal }, Math.round(rate * (seconds + 10)));
    await new Promise((r) => setTimeout(r, 300));
    card.play(sub, { rate, channels: 2, format, bytes });
    also?.();
    // Until the bridge has let go of the cable (the player stopped, the session ended).
    for (let i = 0; i < 2000 && (card.cable(sub).active || alsaIn.bridge.status().state !== 'idle'); i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 300));
    stop.abort('done');
    return monitor;
  }

  /**
   * A run whose engine underran (a busy machine; the engine runs without SCHED_FIFO here) skips
   * frames at the DAC (R-EXT-5), not the bridge's doing: it is made again, up to five in all (CI
   * runs beside other work on two shared cores; three were not always enough there); a failure
   * without an underrun fails at once.
   */
  const ATTEMPTS = 5;
  async function untilNoUnderrun<T>(run: () => Promise<Int16Array>, verify: (captured: Int16Array) => T & { ok: boolean }): Promise<{ v: T & { ok: boolean }; captured: Int16Array }> {
    for (let attempt = 1; ; attempt++) {
      const before = alsaIn.bridge.status().dacUnderruns;
      const captured = await run();
      const v = verify(captured);
      if (v.ok || attempt === ATTEMPTS || alsaIn.bridge.status().dacUnderruns === before) return { v, captured };
      console.log(`      (attempt ${attempt}: the engine underran; again)`);
    }
  }
  const exactRun = (sig: PaddedSignal, run: () => Promise<Int16Array>) => untilNoUnderrun(run, (captured) => verifyBitExact(sig, captured, sig.signalFrames));

  for (const rate of [48000, 44100]) {
    it(`an S16 player at ${rate} Hz reaches the monitor bit-exact at 0 dB; the stream follows its rate`, async () => {
      const sig = paddedTestSignal(rate, rate * 2, 2, 0x5eed + rate);
      const { v, captured } = await exactRun(sig, () => playThrough(1, rate, 'S16_LE', s16ToBytes(sig.samples), 4));
      assert.ok(v.ok, `${v.reason}; log: ${lines.join(' | ')}`);
      assert.equal(v.mismatches, 0);
      assert.ok(lines.some((l) => l.includes(`cable 1: ${rate} Hz S16_LE 2 ch → sim.speaker`)), lines.join('\n'));
      // The control: one flipped bit is caught.
      assert.equal(verifyBitExact(sig, withFlippedSample(captured, (v.alignment!.lagFrames + sig.signalStart + 500) * 2), sig.signalFrames).ok, false);
    });
  }

  it('an S24 player on a 16-bit stream: its upper 16 bits, said in the log', async () => {
    const sig = paddedTestSignal(RATE, RATE * 2, 2, 0x2424);
    const bytes = new Uint8Array(sig.samples.length * 4);
    // Each sample in the upper 16 of 24 bits, a pseudo-random low byte under it (cut away), junk in the container's top byte.
    sig.samples.forEach((v, i) => { bytes[i * 4] = (i * 37 + 11) & 0xff; bytes[i * 4 + 1] = v & 0xff; bytes[i * 4 + 2] = (v >> 8) & 0xff; bytes[i * 4 + 3] = 0x5a; });
    const { v } = await exactRun(sig, () => playThrough(2, RATE, 'S24_LE', bytes, 4));
    assert.ok(v.ok, v.reason);
    assert.ok(lines.some((l) => /cable 2: sim\.speaker takes 16-bit samples only: the player's S24_LE is cut/.test(l)), lines.join('\n'));
  });

  it('two players at once are summed; the second joins the first', async () => {
    // Quiet signals whose sum cannot clip: each sample of A and B within ±8000.
    const a = paddedTestSignal(RATE * 2, RATE * 2, 2, 0xa);
    const b = paddedTestSignal(RATE * 2, RATE * 2, 2, 0xb);
    for (const s of [a, b]) for (let i = 0; i < s.samples.length; i++) s.samples[i] = s.samples[i]! >> 3;
    const play = () => playThrough(0, RATE, 'S16_LE', s16ToBytes(a.samples), 6, () => card.play(3, { rate: RATE, channels: 2, format: 'S16_LE', bytes: s16ToBytes(b.samples) }));
    // Where A's signal is found, the monitor minus A is B at one fixed lag (the join moved B by whole frames only).
    const { v: { va, vb }, captured } = await untilNoUnderrun(play, (captured) => {
      const va = verifyBitExact(a, captured, RATE / 10);
      const vb = va.alignment ? verifyBitExact(b, withoutSignal(captured, a, va.alignment.lagFrames), RATE) : undefined;
      return { ok: !!vb?.ok, va, vb };
    });
    assert.ok(lines.some((l) => /cable \d joins cable \d \(2 players summed\)/.test(l)), lines.join('\n'));
    assert.ok(va.alignment, va.reason);
    const lag = va.alignment!.lagFrames;
    assert.ok(vb?.ok, `the monitor less player A is player B: ${vb?.reason}`);
    // The control: less a wrong A (B's own signal) it is not B.
    const wrong = Int16Array.from(captured, (x, i) => x - (b.samples[i - lag * 2] ?? 0));
    assert.equal(verifyBitExact(b, wrong, RATE).ok, false);
  });

  it('a player at another rate waits, and plays once the first stops', async () => {
    const first = paddedTestSignal(RATE / 2, RATE / 4, 2, 0x1);
    const second = paddedTestSignal(44100 * 2, 44100 / 2, 2, 0x2);
    card.play(0, { rate: RATE, channels: 2, format: 'S16_LE', bytes: s16ToBytes(first.samples) });
    for (let i = 0; i < 500 && alsaIn.bridge.status().state !== 'playing'; i++) await new Promise((r) => setTimeout(r, 10));
    card.play(3, { rate: 44100, channels: 2, format: 'S16_LE', bytes: s16ToBytes(second.samples) });
    const said = (re: RegExp) => lines.some((l) => re.test(l));
    for (let i = 0; i < 1000 && !said(/cable 3: 44100 Hz S16_LE 2 ch → sim\.speaker/); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(said(/cable 3: a player at 44100 Hz S16_LE 2 ch waits: cable 0 plays 48000 Hz/), lines.join('\n'));
    assert.ok(said(/cable 3: 44100 Hz S16_LE 2 ch → sim\.speaker/), `the waiting player played after the first: ${lines.join('\n')}`);
    for (let i = 0; i < 1000 && (card.cable(3).active || alsaIn.bridge.status().state !== 'idle'); i++) await new Promise((r) => setTimeout(r, 10));
  });

  it('the volume element follows the gain, and the gain the element (what mpd\'s hardware mixer writes)', async () => {
    const vol = loopback.volumes.get('SimLoop')!;
    assert.ok(vol, 'a volume element on the card');
    const range = (await svc.controls.get('sim.speaker.gain')).range!;
    // The sim speaker's gain: its range and steps (board file / sim-codec), the element's too.
    assert.equal(vol.minCdb, Math.round(range.min * 100));
    const at = (cdb: number) => Math.round((cdb - vol.minCdb) / vol.stepCdb);
    await svc.controls.set('sim.speaker.gain', -10);
    for (let i = 0; i < 100 && vol.read()[0] !== at(-1000); i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(vol.read(), [at(-1000), at(-1000)], 'gain −10 dB → the element\'s value for −10.00 dB');
    vol.writeFromOutside([at(-2000), at(-2000)]);
    let g: unknown;
    for (let i = 0; i < 100 && (g = (await svc.controls.get('sim.speaker.gain')).value) !== -20; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(g, -20, 'the element at −20.00 dB → gain −20 dB');
    await svc.controls.set('sim.speaker.gain', 0);
  });
});

describe('serve: the ALSA way in flags', function () {
  this.timeout(60000);
  const BIN = path.resolve(import.meta.dirname, '../../bin/sbc-audio.js');
  const serve = (args: string[]) => spawnSync(process.execPath, [BIN, 'serve', '--board', 'sim', '--no-state', '--no-osc', '--no-http', '--no-midi', ...args], { encoding: 'utf8', timeout: 30000 });

  it('--no-alsa-in with --alsa-in is a usage error (exit 2), naming both', () => {
    const r = serve(['--no-alsa-in', '--alsa-in', 'speaker']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--no-alsa-in turns the ALSA way in off: --alsa-in/);
  });

  it('a loopback card asked for that does not exist stops serve (exit 2) with the fix; by default its absence is one line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-alsa-in-cli-'));
    try {
      const r = serve(['--runtime-dir', dir, '--alsa-in-card', 'NoSuchLoop']);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /--alsa-in: NoSuchLoop: .*modprobe snd-aloop/);
      // The control: without the flag serve runs, and says whether the way in is on (a host with
      // snd-aloop loaded) or off, and why.
      const c = spawnSync('timeout', ['-s', 'TERM', '6', process.execPath, BIN, 'serve', '--board', 'sim', '--no-state', '--no-osc', '--no-http', '--no-midi', '--runtime-dir', dir], { encoding: 'utf8', timeout: 30000 });
      assert.match(c.stdout, existsSync('/proc/asound/Loopback') ? /^ {2}alsa-in pcm "sbc-audio" \(card Loopback\) → sim\.speaker/m : /^ {2}alsa-in off: Loopback: .*modprobe snd-aloop/m, c.stdout + c.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
