/**
 * Guest only: the ALSA way in (issue 27, docs/alsa-in.md) with real players we did not write.
 *
 *   aplay / mpd / snapclient / squeezelite ──▶ "sbc-audio" (alsa/50-sbc-audio.conf: plug → hw:Loopback)
 *     ══ snd-aloop ══▶ hw:Loopback,1,N ──▶ `sbc-audio serve` (the bridge) ──▶ the board's speaker stream
 *     (a PCM5122 on i2c-stub, its PCM the second loopback card) ──▶ hw:SimDac,0,0 ══▶ hw:SimDac,1,0 ──▶ arecord
 *
 * The board's DAC is the guest's second snd-aloop card (SimDac, tests/hil/guest-init.sh), so the
 * players' cables and the DAC's never share a card; arecord on its capture side hears what the
 * board played. Periods of 20 ms (`serve --period-us 20000`): TCG cannot keep 2.7 ms periods, and
 * the players and the bridge share the guest's two vCPUs with the DAC's engine.
 *
 * The service runs as a child process (`serve`, as a user starts it), the players are the guest's
 * alsa-utils and the host's mpd, mpc, snapserver, snapclient and squeezelite (run from the host's
 * /usr over 9p: tests/hil/run-vm.sh). The installed configuration is the repository's template,
 * copied where `sbc-audio setup` puts it (setup.hil.ts checks that setup does so). Bit-exact at
 * 0 dB: the signal is the padded pseudo-random one of tests/hil/lib/bitexact.ts; snapclient's
 * frame corrections are counted and the signal is checked bit-exact between them
 * (tests/hil/lib/piecewise.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bytesToS16, paddedTestSignal, s16ToBytes, verifyBitExact, withFlippedSample, withoutSignal, type PaddedSignal } from '../lib/bitexact.ts';
import { preloadPcm5122Stub } from '../lib/pcm5122-stub.ts';
import { sbcCli } from '../lib/sbc-cli.ts';
import { assertExactBetweenUnderruns, verifyPiecewiseExact } from '../lib/piecewise.ts';
import { hilEnv } from '../env.ts';
import { hostProgram } from '../peers.ts';
import { runPeer, waitForRunning } from './alsa-peers.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
const CONF = '/etc/alsa/conf.d/50-sbc-audio.conf';
/**
 * Seconds of silence before a player's signal. The bridge drops what a player wrote while the
 * stream was being set up (docs/alsa-in.md: a few ms on a Pi). In this guest under TCG that took
 * 0.8–3.9 s (most of it GET_FIFO_DEPTH waiting for the engine's worker to start: 0.7–3.4 s), so
 * 2 s of silence was sometimes not enough and the signal's start was lost.
 */
const LEAD_S = 6;

/** A program of the host's /usr in the guest (tests/hil/run-vm.sh shares it; tests/hil/peers.ts hostProgram). */
function spawnHost(name: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { child: ChildProcess; out: () => string; done: Promise<number> } {
  const p = hostProgram(hilEnv(), name, opts.env);
  if (!p) throw new Error(`${name} is not in the host /usr share (tests/hil/run-vm.sh installs it)`);
  const child = spawn(p.cmd, args, { cwd: opts.cwd, env: p.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve) => {
    child.on('error', (e) => { out += `spawn: ${e.message}\n`; resolve(127); });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  return { child, out: () => out, done };
}

async function runHost(name: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const p = spawnHost(name, args, opts);
  const t = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 60000);
  const code = await p.done;
  clearTimeout(t);
  if (code !== 0) throw new Error(`${name} ${args.join(' ')}: exit ${code}: ${p.out().trim()}`);
  return p.out();
}


async function until<T>(what: string, probe: () => T | undefined | false, guardMs = 60000): Promise<T> {
  const end = Date.now() + guardMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A WAV file of S16 stereo samples (mpd plays files). */
function wav(samples: Int16Array, rate: number): Uint8Array {
  const data = s16ToBytes(samples);
  const h = new DataView(new ArrayBuffer(44));
  const tag = (o: number, s: string) => [...s].forEach((c, i) => h.setUint8(o + i, c.charCodeAt(0)));
  tag(0, 'RIFF'); h.setUint32(4, 36 + data.length, true); tag(8, 'WAVE'); tag(12, 'fmt ');
  h.setUint32(16, 16, true); h.setUint16(20, 1, true); h.setUint16(22, 2, true); h.setUint32(24, rate, true);
  h.setUint32(28, rate * 4, true); h.setUint16(32, 4, true); h.setUint16(34, 16, true); tag(36, 'data'); h.setUint32(40, data.length, true);
  const out = new Uint8Array(44 + data.length);
  out.set(new Uint8Array(h.buffer), 0);
  out.set(data, 44);
  return out;
}

/**
 * For a failed bit-exact check: where the capture is non-zero (runs of frames), and whether a
 * stretch of it is the signal in another shape (channels swapped, half a frame off, the right
 * channel at every other frame as a 32-bit misreading of 16-bit frames gives). Test diagnostics.
 */
function describeCapture(captured: Int16Array, sig: PaddedSignal): string {
  const frames = captured.length / 2;
  const runs: string[] = [];
  let start = -1, zeros = 0;
  for (let f = 0; f <= frames; f++) {
    const nz = f < frames && (captured[f * 2] !== 0 || captured[f * 2 + 1] !== 0);
    if (nz) { if (start < 0) start = f; zeros = 0; } else if (start >= 0 && (++zeros > 64 || f === frames)) { runs.push(`${start}..${f - zeros + 1}`); start = -1; zeros = 0; }
  }
  const sigSamples = sig.samples.subarray(sig.signalStart * 2, (sig.signalStart + sig.signalFrames) * 2);
  const where = (probe: number[], stride: number, from: number): number => {
    outer: for (let i = from; i + (probe.length - 1) * stride < sigSamples.length; i++) {
      for (let k = 0; k < probe.length; k++) if (sigSamples[i + k * stride] !== probe[k]) continue outer;
      return i;
    }
    return -1;
  };
  const shapes: string[] = [];
  const first = runs.length ? Number(runs[0]!.split('..')[0]) : -1;
  if (first >= 0 && first + 200 < frames) {
    const at = first + 100;
    const seq = [...captured.subarray(at * 2, at * 2 + 16)];
    for (const [name, probe, stride] of [['interleaved as is', seq, 1], ['left channel', seq.filter((_, i) => i % 2 === 0), 2], ['right channel', seq.filter((_, i) => i % 2 === 1), 2],
      ['left channel, every other sample of one channel', seq.filter((_, i) => i % 2 === 0), 4], ['right channel, every other sample of one channel', seq.filter((_, i) => i % 2 === 1), 4]] as const) {
      const i = where([...probe], stride, 0);
      if (i >= 0) shapes.push(`${name} is the signal from its sample ${i} (stride ${stride})`);
    }
  }
  return `non-zero runs (frames) ${runs.slice(0, 12).join(', ') || 'none'}${runs.length > 12 ? ` … (${runs.length})` : ''}; ${shapes.join('; ') || 'no stretch is the signal in any shape tried'}`;
}

describe('guest: the ALSA way in — real players through the "sbc-audio" PCM into a board', function () {
  this.timeout(300000);
  const env = hilEnv();
  let dir: string;
  let runtime: string;
  let serve: ChildProcess | undefined;
  let serveOut = '';
  let boardFile: string;

  before(async function () {
    if (env.tier !== 'guest') this.skip(); // a real board's /etc is not ours to write (the written reason: docs/hil.md)
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-alsa-in-'));
    runtime = path.join(dir, 'run');
    mkdirSync('/etc/alsa/conf.d', { recursive: true });
    copyFileSync(path.join(ROOT, 'alsa/50-sbc-audio.conf'), CONF);
    const i2c = env.i2c!;
    await preloadPcm5122Stub(i2c.bus);
    boardFile = path.join(dir, 'guest-alsa-in.json');
    writeFileSync(boardFile, JSON.stringify({
      name: 'guest-alsa-in', description: 'HIL guest: PCM5122 on i2c-stub, its PCM the SimDac loopback card', manufacturer: 'sbc-audio HIL guest', hal: 'linux',
      codec: { part: 'pcm5122', bus: i2c.bus, address: '0x4c', options: { filter: 'normal' } },
      streams: [{ id: 'speaker', direction: 'output', purpose: 'speaker', pcm: env.alsa?.dacPlayback ?? 'hw:SimDac,0,0', plug: 'hardwired' }],
    }));
    serve = spawn(process.execPath, [BIN, 'serve', '--board', boardFile, '--runtime-dir', runtime, '--no-state', '--no-osc', '--no-http', '--no-midi', '--ramp-ms', '0', '--period-us', '20000', '--alsa-in-latency', '60'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    serve.stdout!.on('data', (d: Buffer) => (serveOut += d.toString()));
    serve.stderr!.on('data', (d: Buffer) => (serveOut += d.toString()));
    await until('serve to start the ALSA way in', () => /alsa-in pcm "sbc-audio" \(card Loopback\) → guest-alsa-in\.speaker/.test(serveOut) || (serve!.exitCode !== null && assert.fail(serveOut)), 120000);
    await sbcCli(['gain', 'guest-alsa-in.speaker', '0'], runtime);
  });
  after(async () => {
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve!.once('exit', r));
    }
    rmSync(CONF, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  /**
   * Every test starts with no player on the cables and no bridge session: a player an earlier test
   * left running (or a session still draining) would be summed with, or keep out, this test's player.
   * The kernel says which cables a player holds (/proc/asound/Loopback/pcm0p/sub*\/status); the
   * serve log says when the bridge's sessions ended.
   */
  beforeEach(async function () {
    if (!serve) return;
    const held = () => {
      const dir = '/proc/asound/Loopback/pcm0p';
      if (!existsSync(dir)) return [];
      return readdirSync(dir).filter((d) => /^sub\d+$/.test(d) && !/^closed/m.test(readFileSync(path.join(dir, d, 'status'), 'utf8')));
    };
    const sessions = () => (serveOut.match(/alsa-in: cable \d+: \d+ Hz \S+ \d+ ch → /g) ?? []).length;
    const ended = () => (serveOut.match(/alsa-in: cable \d+: [^;\n]+; (?:idle|\d+ Hz \S+ \d+ ch from cable)/g) ?? []).length;
    await until(`the cables free and the bridge idle before "${this.currentTest?.title}" (held: ${held().join(' ') || 'none'}; ${sessions()} sessions, ${ended()} ended)`,
      () => held().length === 0 && ended() >= sessions(), 60000);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(`      serve said:\n${serveOut.split('\n').map((l) => `        ${l}`).join('\n')}`);
  });

  /**
   * Records the DAC (arecord on hw:SimDac,1,0) at `rate` while `play` runs; resolves when the bridge
   * has let go of a session at that rate in S16_LE (the serve log says so). Only such a session
   * counts: another player's session (a squeezelite left running once held 44.1 kHz S32_LE) ends
   * otherwise, and its end is not the end of the signal.
   */
  let lastRecorderSaid = '';
  let lastListenLog = '';
  let rateOfLastListen = 48000;
  async function listen(rate: number, seconds: number, play: () => Promise<unknown>): Promise<Int16Array> {
    const from = serveOut.length;
    const stopped = new RegExp(`the player stopped; ${rate} Hz S16_LE`);
    const file = path.join(dir, `dac-${Date.now()}.raw`);
    // arecord opens the DAC cable first, at the player's rate: the board's engine then opens the same parameters.
    const capture = env.alsa?.dacCapture ?? 'hw:SimDac,1,0';
    const rec = runPeer('arecord', ['-q', '-D', capture, '-t', 'raw', '-f', 'S16_LE', '-c', '2', '-r', String(rate), file], (seconds + 120) * 1000);
    // The capture must be running before the player starts (a fixed pause was not enough for a
    // starved guest): the kernel says so in the substream's status.
    const hw = /^hw:([^,]+),(\d+)(?:,(\d+))?$/.exec(capture);
    if (hw) await waitForRunning(hw[1]!, Number(hw[2]), 'c', Number(hw[3] ?? 0), 30000);
    else await new Promise((r) => setTimeout(r, 500));
    await play();
    await until(`the bridge to end a ${rate} Hz S16_LE session`, () => stopped.test(serveOut.slice(from)), 60000);
    await new Promise((r) => setTimeout(r, 500));
    rec.child.kill('SIGINT');
    await rec.done;
    lastRecorderSaid = rec.stderr();
    lastListenLog = serveOut.slice(from);
    rateOfLastListen = rate;
    return bytesToS16(new Uint8Array(readFileSync(file)));
  }

  /**
   * What the bridge said it lost of the last capture's player, when that can have reached the
   * signal: a capture overrun (the service was late by more than the capture buffer), or a set-up
   * that dropped about as much as the signal's lead of silence. Undefined when nothing was lost.
   */
  function bridgeLoss(sig: PaddedSignal): string | undefined {
    const overruns = (lastListenLog.match(/capture overrun/g) ?? []).length;
    const dropped = Math.max(0, ...[...lastListenLog.matchAll(/(\d+) ms the player wrote while the stream was being set up were dropped/g)].map((m) => Number(m[1])));
    const leadMs = (sig.signalStart / rateOfLastListen) * 1000;
    if (overruns > 0) return `${overruns} capture overruns in the bridge`;
    if (dropped > leadMs - 250) return `the set-up dropped ${dropped} ms of the ${leadMs.toFixed(0)} ms lead`;
    return undefined;
  }

  /** The DAC's underruns the bridge has seen so far (its session lines: "N DAC underruns"). */
  const dacUnderruns = () => Math.max(0, ...[...serveOut.matchAll(/(\d+) DAC underruns/g)].map((m) => Number(m[1])));

  /**
   * Plays and checks bit-exact; a run whose DAC engine underran (TCG starves it now and then: the
   * engine then skips frames, R-EXT-5 — the DAC's loss, not the bridge's) is made again, up to
   * five in all; a failure without an underrun fails at once. When every one of the five underran
   * (a CI machine busy with other work ran the guest at half speed), the last is checked piecewise:
   * the DAC engine's skips may leave frames out, but every frame that plays is the signal's, in
   * order (no substitution, nothing inserted).
   */
  async function playExact(sig: PaddedSignal, what: string, run: () => Promise<Int16Array>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const before = dacUnderruns();
      const captured = await run();
      const v = verifyBitExact(sig, captured, sig.signalFrames);
      const underran = dacUnderruns() - before;
      const setUpLoss = bridgeLoss(sig);
      if (v.ok || (underran === 0 && !setUpLoss)) return exact(sig, captured, what);
      if (attempt === 5 && setUpLoss) assert.fail(`${what}: the fifth attempt too lost audio the player wrote (${setUpLoss})`);
      if (attempt === 5) {
        console.log(`      ${assertExactBetweenUnderruns(sig, captured, underran, what)}`);
        return;
      }
      console.log(`      (${what}, attempt ${attempt}: ${setUpLoss ?? `the DAC engine underran ${underran} times`}; again)`);
    }
  }

  async function exact(sig: PaddedSignal, captured: Int16Array, what: string): Promise<void> {
    const v = verifyBitExact(sig, captured, sig.signalFrames);
    if (!v.ok) {
      let nz = 0, pk = 0;
      for (const x of captured) { if (x !== 0) nz++; pk = Math.max(pk, Math.abs(x)); }
      const first = captured.findIndex((x) => x !== 0);
      const lag = v.alignment?.lagFrames ?? 0;
      const pairs: string[] = [];
      for (let k = 0; k < 6; k++) { const i = (sig.signalStart + 1000 + k) * 2; pairs.push(`${sig.samples[i]}→${captured[i + lag * 2]}`); }
      console.log(`      ${what}: at the lag, signal→captured ${pairs.join(' ')}`);
      console.log(`      ${what}: arecord said: ${lastRecorderSaid.trim() || '(nothing)'}; the bridge during the capture:\n${lastListenLog.split('\n').map((l) => `        ${l}`).join('\n')}`);
      console.log(`      ${what}: ${describeCapture(captured, sig)}`);
      console.log(`      ${what}: captured ${captured.length / 2} frames, ${nz} non-zero samples, peak ${pk}, first non-zero at ${first}: ${[...captured.subarray(first, first + 8)].join(' ')}; the signal starts ${[...sig.samples.subarray(sig.signalStart * 2, sig.signalStart * 2 + 8)].join(' ')}`);
    }
    assert.ok(v.ok, `${what}: ${v.reason}`);
    assert.equal(v.mismatches, 0);
    // The control: one flipped bit is caught.
    assert.equal(verifyBitExact(sig, withFlippedSample(captured, (v.alignment!.lagFrames + sig.signalStart + 100) * 2), sig.signalFrames).ok, false);
  }

  for (const rate of [48000, 44100]) {
    it(`aplay -D sbc-audio at ${rate} Hz is bit-exact at the DAC; the stream runs at the player's rate`, async () => {
      // LEAD_S of silence before: what the player writes while the bridge sets the stream up is
      // dropped (seconds under TCG, ms on a Pi: docs/alsa-in.md).
      const sig = paddedTestSignal(rate * 2, rate * LEAD_S, 2, 0xa11 + rate, rate * 2);
      const file = path.join(dir, `aplay-${rate}.raw`);
      writeFileSync(file, s16ToBytes(sig.samples));
      await playExact(sig, `aplay at ${rate} Hz`, () => listen(rate, 6, async () => {
        const p = runPeer('aplay', ['-q', '-D', 'sbc-audio', '-t', 'raw', '-f', 'S16_LE', '-c', '2', '-r', String(rate), file], 60000);
        assert.equal(await p.done, 0, p.stderr());
      }));
      assert.match(serveOut, new RegExp(`alsa-in: cable \\d: ${rate} Hz S16_LE 2 ch → guest-alsa-in\\.speaker`));
    });
  }

  it('two aplay at once both play (no "busy"): the DAC carries their sum', async () => {
    const rate = 48000;
    const a = paddedTestSignal(rate * 4, rate * LEAD_S, 2, 0xa, rate * 2);
    // The second joins a running session: what it writes before its capture opens is lost (its lead).
    const b = paddedTestSignal(rate * 2, rate * 2, 2, 0xb, rate / 2);
    for (const s of [a, b]) for (let i = 0; i < s.samples.length; i++) s.samples[i] = s.samples[i]! >> 3; // the sum cannot clip
    writeFileSync(path.join(dir, 'a.raw'), s16ToBytes(a.samples));
    writeFileSync(path.join(dir, 'b.raw'), s16ToBytes(b.samples));
    const captured = await listen(rate, 8, async () => {
      const fmt = ['-q', '-D', 'sbc-audio', '-t', 'raw', '-f', 'S16_LE', '-c', '2', '-r', String(rate)];
      const mark = serveOut.length;
      const pa = runPeer('aplay', [...fmt, path.join(dir, 'a.raw')], 60000);
      // The second after the first one's session is running (its lead is longer than any set-up seen).
      await until('the first player\'s session', () => /alsa-in: cable \d+: 48000 Hz S16_LE 2 ch → /.test(serveOut.slice(mark)), 60000);
      await new Promise((r) => setTimeout(r, 1000));
      const pb = runPeer('aplay', [...fmt, path.join(dir, 'b.raw')], 60000);
      assert.equal(await pb.done, 0, `second aplay: ${pb.stderr()}`);
      assert.equal(await pa.done, 0, `first aplay: ${pa.stderr()}`);
    });
    assert.match(serveOut, /cable \d joins cable \d \(2 players summed\)/);
    const va = verifyBitExact(a, captured, rate / 10);
    assert.ok(va.alignment, va.reason);
    const lag = va.alignment!.lagFrames;
    const rest = withoutSignal(captured, a, lag);
    const vb = verifyBitExact(b, rest, rate);
    assert.ok(vb.ok, `the monitor less the first player is the second: ${vb.reason}`);
  });

  describe('mpd driven by mpc', () => {
    let mpd: ReturnType<typeof spawnHost> | undefined;
    let mpdDir: string;
    const port = 6612;
    const mpc = (...args: string[]) => runHost('mpc', ['-h', '127.0.0.1', '-p', String(port), ...args]);

    let mpdRuns = 0;
    async function startMpd(mixer: 'none' | 'hardware'): Promise<void> {
      // A folder of its own each time: an mpd started on an earlier run's state file resumes that
      // run's song (it did: a 48 kHz session in the middle of the 44.1 kHz test).
      mpdDir = path.join(dir, `mpd-${mixer}-${++mpdRuns}`);
      mkdirSync(path.join(mpdDir, 'music'), { recursive: true });
      for (const rate of [48000, 44100]) {
        const sig = paddedTestSignal(rate * 2, rate * LEAD_S, 2, 0x3d0 + rate, rate * 2);
        writeFileSync(path.join(mpdDir, 'music', `sig-${rate}.wav`), wav(sig.samples, rate));
      }
      // Bit-exact: no resampling, no format or channel conversion, no replay gain, no software volume.
      writeFileSync(path.join(mpdDir, 'mpd.conf'), [
        `music_directory "${mpdDir}/music"`, `db_file "${mpdDir}/db"`, `state_file "${mpdDir}/state"`, `pid_file "${mpdDir}/pid"`,
        `log_file "${mpdDir}/log"`, 'log_level "verbose"', `bind_to_address "127.0.0.1"`, `port "${port}"`, 'zeroconf_enabled "no"',
        'auto_update "no"', 'replaygain "off"', 'volume_normalization "no"', 'restore_paused "yes"',
        'audio_output {', '  type "alsa"', '  name "sbc-audio"', '  device "sbc-audio"',
        ...(mixer === 'hardware' ? ['  mixer_type "hardware"', '  mixer_device "sbc-audio"', '  mixer_control "PCM"'] : ['  mixer_type "none"']),
        '  auto_resample "no"', '  auto_format "no"', '  auto_channels "no"', '  dop "no"', '}', '',
      ].join('\n'));
      mpd = spawnHost('mpd', ['--no-daemon', '--stderr', path.join(mpdDir, 'mpd.conf')]);
      await until('mpd to answer', () => existsSync(path.join(mpdDir, 'pid')) || (mpd!.child.exitCode !== null && assert.fail(`mpd exited: ${mpd!.out()}`)), 120000);
      for (let i = 0; ; i++) {
        try {
          await mpc('status');
          break;
        } catch (e) {
          if (i > 100) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await mpc('update', '--wait');
    }

    async function stopMpd(): Promise<void> {
      if (mpd && mpd.child.exitCode === null) {
        mpd.child.kill('SIGTERM');
        await mpd.done;
      }
      mpd = undefined;
    }
    afterEach(function () {
      if (this.currentTest?.state !== 'failed') return;
      const log = mpdDir && existsSync(path.join(mpdDir, 'log')) ? readFileSync(path.join(mpdDir, 'log'), 'utf8') : '';
      console.log(`      mpd said:\n${(log + (mpd?.out() ?? '')).split('\n').map((l) => `        ${l}`).join('\n')}`);
    });
    afterEach(stopMpd);

    for (const rate of [48000, 44100]) {
      it(`mpc play of a ${rate} Hz WAV (mixer and resampler off) is bit-exact at the DAC`, async function () {
        // Skipped at 48 kHz, with this reason: in 2 of the last 3 CI runs mpd's 48 kHz session
        // carried ~1.5 s of full-scale audio that is not the file's at all (never at 44.1 kHz);
        // not yet traced (mpd's first S32_LE open? the bridge?). Left open in issue 30's closing
        // note; remove this skip when it is understood.
        await startMpd('none');
        const sig = paddedTestSignal(rate * 2, rate * LEAD_S, 2, 0x3d0 + rate, rate * 2);
        await playExact(sig, `mpd at ${rate} Hz`, () => listen(rate, 6, async () => {
          await mpc('clear');
          await mpc('add', `sig-${rate}.wav`);
          await mpc('play');
          for (let i = 0; i < 300 && /\[playing\]/.test(await mpc('status')); i++) await new Promise((r) => setTimeout(r, 100));
        }));
      });
    }

    it('mpd\'s hardware mixer (mixer_device "sbc-audio", control "PCM") moves the stream\'s gain; a gain set elsewhere shows in mpc', async () => {
      await startMpd('hardware');
      const gainDb = async () => Number(/(-?[\d.]+) dB/.exec(await sbcCli(['ctl', 'get', 'guest-alsa-in.speaker.gain'], runtime))?.[1]);
      // The element's dB as alsa-lib computes it from our TLV (amixer, a peer we did not write).
      const amixerDb = async () => Number(/\[(-?[\d.]+)dB\]/.exec((await new Promise<string>((resolve) => {
        const p = runPeer('amixer', ['-D', 'sbc-audio', 'sget', 'PCM']);
        let out = '';
        p.child.stdout!.removeAllListeners('data');
        p.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        void p.done.then(() => resolve(out));
      })))?.[1]);
      await mpc('volume', '100');
      for (let i = 0; i < 100 && (await gainDb()) !== (await amixerDb()); i++) await new Promise((r) => setTimeout(r, 100));
      const top = await gainDb();
      assert.equal(top, await amixerDb(), 'mpc volume 100: the gain is the element\'s dB');
      await mpc('volume', '50');
      let g = top;
      for (let i = 0; i < 100 && (g = await gainDb()) === top; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(g < top, `mpc volume 50 lowered the gain (${top} → ${g} dB)`);
      assert.equal(g, await amixerDb(), 'mpc volume 50: the gain is the element\'s dB');
      // Back the other way: sbc-audio gain → the element → mpd's volume.
      await sbcCli(['gain', 'guest-alsa-in.speaker', '-6'], runtime);
      for (let i = 0; i < 100 && (await amixerDb()) !== -6; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await amixerDb(), -6, 'sbc-audio gain -6 → the element at -6 dB');
      const vol = /volume:\s*(\d+)%/.exec(await mpc('volume'))?.[1];
      assert.ok(vol !== undefined && Number(vol) < 100, `mpc volume reads the element (${vol}%)`);
      await sbcCli(['gain', 'guest-alsa-in.speaker', '0'], runtime);
    });
  });

  it('snapclient fed by snapserver (codec pcm) is bit-exact between the frame corrections it makes; they are counted', async () => {
    const rate = 48000;
    // 1 s of silence either side: snapclient's first chunks (and any hard sync at its start) fall there.
    const signal = paddedTestSignal(5 * rate, rate, 2, 0x736e6171);
    const s = path.join(dir, 'snap');
    const home = path.join(s, 'home');
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(s, 'snapserver.conf'), ''); // not /etc/snapserver.conf
    const fifo = path.join(s, 'fifo');
    // The flags that work in the guest: players.hil.ts (snapclient without -h searches by avahi for ever).
    const server = spawnHost('snapserver', ['-c', path.join(s, 'snapserver.conf'), `--server.datadir=${s}`, '--http.enabled=false', '--tcp.enabled=false',
      '--stream.bind_to_address=127.0.0.1', '--stream.port=1705', '--stream.codec=pcm',
      '--stream.source', `pipe://${fifo}?name=t&sampleformat=${rate}:16:2&mode=create`, '--logging.sink=stderr', '--logging.filter=*:debug'], { env: { HOME: home } });
    let client: ReturnType<typeof spawnHost> | undefined;
    try {
      await until('snapserver creating its fifo', () => existsSync(fifo), 60000);
      const captured = await listen(rate, 12, async () => {
        client = spawnHost('snapclient', ['-h', '127.0.0.1', '-p', '1705', '--hostID', 'hil-alsa-in', '--player', 'alsa', '-s', 'sbc-audio', '--logsink', 'stderr', '--logfilter', '*:debug'], { env: { HOME: home } });
        await until('snapclient opening sbc-audio and synchronising', () => /PCM name: sbc-audio/.test(client!.out()) && /diff to server/.test(client!.out()), 60000);
        // snapserver reads the pipe at the stream's pace.
        await new Promise<void>((resolve, reject) => {
          const w = spawn('sh', ['-c', `cat > '${fifo}'`], { stdio: ['pipe', 'ignore', 'ignore'] });
          w.on('exit', () => resolve());
          w.on('error', reject);
          w.stdin!.end(s16ToBytes(signal.samples));
        });
        await new Promise((r) => setTimeout(r, 3000)); // the chunks snapclient still buffers
        client.child.kill('SIGTERM');
        await client.done;
      });
      const log = client!.out();
      const deltas = [...log.matchAll(/\(Stats\) Chunk: (?:-?\d+\t){6}(-?\d+)/g)].map((m) => Number(m[1]));
      const logged = deltas.reduce((a, d) => a + Math.abs(d), 0);
      const hardSyncs = (log.match(/Silent frames: |dropping old chunks|full\(\) && \(abs|abs\(age > 500\)/g) ?? []).length;
      const v = verifyPiecewiseExact(signal, captured, { maxShift: 64, maxCorrections: Math.ceil(signal.signalFrames * 0.0005) + hardSyncs });
      const soft = v.corrections.filter((c) => c.kind === 'drop' || c.kind === 'insert');
      const softFrames = soft.reduce((a, c) => a + Math.abs(c.droppedFrames - c.insertedFrames), 0);
      console.log(`      snapclient → sbc-audio: ${v.segments.length} bit-exact stretches (${v.exactFrames} of ${signal.signalFrames} signal frames), ${soft.length} soft corrections (${soft.filter((c) => c.kind === 'drop').length} dropped, ${soft.filter((c) => c.kind === 'insert').length} repeated), ${v.corrections.filter((c) => c.kind === 'jump').length} jumps; logged: ${logged} frames over ${deltas.length} s, ${hardSyncs} hard-sync lines`);
      assert.ok(v.ok, `snapclient: ${v.reason}`);
      assert.equal(v.substitutedFrames, 0, 'between corrections, every frame bit for bit');
      assert.ok(softFrames <= logged, `${softFrames} frames corrected in the signal, but snapclient logged only ${logged}`);
      assert.ok(v.corrections.filter((c) => c.kind === 'jump').length <= hardSyncs, 'every jump is a hard sync snapclient logged');
    } finally {
      if (client && client.child.exitCode === null) { client.child.kill('SIGKILL'); await client.done; }
      server.child.kill('SIGTERM');
      await server.done;
    }
  });

  it('squeezelite -o sbc-audio opens the PCM (it plays only from a SlimProto server, which Debian does not ship)', async () => {
    const sq = spawnHost('squeezelite', ['-o', 'sbc-audio', '-s', '127.0.0.1', '-d', 'all=debug', '-r', '44100,48000']);
    try {
      await until('squeezelite to open the output', () => /output_init_alsa|open|supported rates|sample rates/i.test(sq.out()) || (sq.child.exitCode !== null && assert.fail(`squeezelite exited ${sq.child.exitCode}: ${sq.out()}`)), 60000);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(sq.child.exitCode, null, `squeezelite stays up: ${sq.out()}`);
      assert.doesNotMatch(sq.out(), /unable to open|error opening|device or resource busy/i, sq.out());
      console.log(`      squeezelite: ${sq.out().split('\n').filter((l) => /alsa|rate|output/i.test(l)).slice(0, 4).join(' | ')}`);
    } finally {
      // squeezelite, still looking for a server, can take long to hear SIGTERM (under load it did
      // not within mocha's 300 s): then SIGKILL. Either way its PCM is closed before the next test
      // (beforeEach waits for the bridge to be idle): a squeezelite left playing silence at 44.1 kHz
      // S32_LE held the cable through the mpd tests after it.
      sq.child.kill('SIGTERM');
      const killer = setTimeout(() => sq.child.kill('SIGKILL'), 10000);
      await sq.done;
      clearTimeout(killer);
    }
  });
});

