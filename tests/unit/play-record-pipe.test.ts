/**
 * `sbc-audio play` / `record` with WAV files of every common kind and with `-` (issue 25), against
 * an in-process stream service on the sim board:
 * - `play -` as a child process with a WAV piped into its stdin (a streamed header, sent in
 *   parts): the speaker's monitor (docs/PROTOCOL.md, "Monitor endpoints": at 0 dB the sim codec
 *   outputs the I2S samples themselves) records the played signal bit-exact, found by the
 *   correlation alignment of tests/hil/lib/bitexact.ts; the control: one flipped bit fails it.
 * - `record -` as a child process into a pipe equals `record FILE`: the same header but for the
 *   two sizes (0xFFFFFFFF on a pipe, the real ones when stdout is a regular file), the same length,
 *   and the same samples. The sim microphone plays a looped pseudo-random signal here; each
 *   recording starts wherever in the loop the capture device is at START (that differs per
 *   session), so each is checked to be an unbroken, bit-exact excerpt of the loop.
 * - play of each kind of file (generated here from the WAV spec): 8-bit mono 44.1 kHz, 16-bit,
 *   24-bit 96 kHz, float, 6 channels, a truncated header, cut data, not a WAV, a missing file,
 *   --seconds: the result line or the message.
 *
 * Nothing asserts timing. A run during which the engine reported an underrun (a machine too busy
 * to run it in time) cannot be bit-exact and proves nothing either way: it is made again, at most twice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { playCommand } from '../../src/cli/commands/play.ts';
import type { EngineReport } from '../../src/engine/types.ts';
import { recordSamples } from '../../src/stream/player.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { paddedTestSignal, pseudoRandomS16, verifyBitExact, withFlippedSample } from '../hil/lib/bitexact.ts';
import { assertExactBetweenUnderruns } from '../hil/lib/piecewise.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
const RATE = 48000;

// ---- WAV bytes from the spec (RIFF/WAVE, fmt, data), not from the code under test ----
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const u16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** A 44-byte PCM/float header; `dataBytes` undefined: the streamed 0xFFFFFFFF sizes. */
function header(tag: number, channels: number, rate: number, bits: number, dataBytes?: number): number[] {
  const b = bits / 8;
  return [...ascii('RIFF'), ...u32(dataBytes === undefined ? 0xffffffff : 36 + dataBytes), ...ascii('WAVE'),
    ...ascii('fmt '), ...u32(16), ...u16(tag), ...u16(channels), ...u32(rate), ...u32(rate * channels * b), ...u16(channels * b), ...u16(bits),
    ...ascii('data'), ...u32(dataBytes === undefined ? 0xffffffff : dataBytes)];
}
function s16Bytes(s: Int16Array): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  const dv = new DataView(out.buffer);
  s.forEach((v, i) => dv.setInt16(i * 2, v, true));
  return out;
}
function wav(tag: number, channels: number, rate: number, bits: number, data: Uint8Array, streamed = false): Uint8Array {
  return Uint8Array.from([...header(tag, channels, rate, bits, streamed ? undefined : data.length), ...data]);
}
/** `frames` frames of a 440 Hz sine at half scale, in a sample size. */
function sineData(frames: number, channels: number, rate: number, kind: 'u8' | 's16' | 's24' | 'f32'): Uint8Array {
  const bps = { u8: 1, s16: 2, s24: 3, f32: 4 }[kind];
  const out = new Uint8Array(frames * channels * bps);
  const dv = new DataView(out.buffer);
  for (let f = 0; f < frames; f++) {
    const x = 0.5 * Math.sin((2 * Math.PI * 440 * f) / rate);
    for (let c = 0; c < channels; c++) {
      const o = (f * channels + c) * bps;
      if (kind === 'u8') dv.setUint8(o, 128 + Math.round(x * 127));
      else if (kind === 's16') dv.setInt16(o, Math.round(x * 32767), true);
      else if (kind === 's24') { const v = Math.round(x * 8388607); dv.setUint8(o, v & 0xff); dv.setUint8(o + 1, (v >> 8) & 0xff); dv.setInt8(o + 2, v >> 16); }
      else dv.setFloat32(o, x, true);
    }
  }
  return out;
}

interface Run { code: number | null; out: Buffer; err: string }
/** The CLI as a child process; `stdin` chunks are written with a pause between them (a pipe that fills as it goes). */
function cli(args: string[], o: { stdin?: Uint8Array[]; stdout?: number } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: [o.stdin ? 'pipe' : 'ignore', o.stdout ?? 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d) => { err += d; });
  if (o.stdin) {
    const parts = o.stdin;
    void (async () => {
      for (const p of parts) {
        if (!child.stdin!.write(p)) await new Promise((r) => child.stdin!.once('drain', r));
        await new Promise((r) => setTimeout(r, 150));
      }
      child.stdin!.end();
    })();
    child.stdin!.on('error', () => { /* the child stopped reading (--seconds): fine */ });
  }
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`sbc-audio ${args.join(' ')}: still running after 30 s\n${err}`)); }, 30000);
    child.once('exit', (code) => { clearTimeout(guard); resolve({ code, out: Buffer.concat(out), err }); });
  });
}

describe('play / record: every common WAV kind, and - for stdin / stdout (sim board)', function () {
  this.timeout(120000);
  let dir: string;
  let rt: BoardRuntime;
  let svc: StreamService;
  const reports: { endpoint: string; report: EngineReport }[] = [];
  /** What the simulated microphone hears: this loop, round and round. */
  const LOOP_FRAMES = 4800;
  const loop = pseudoRandomS16(LOOP_FRAMES, 2, 0x1234567);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-pipe-'));
    rt = await openBoard(loadBoard('sim'));
    svc = await startStreamService(rt, {
      runtimeDir: dir,
      ringBuffer: { simCapture: { kind: 'samples', data: loop, loop: true }, onReport: (endpoint, report) => reports.push({ endpoint, report }) },
    });
  });
  after(async () => {
    await svc?.close();
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const underrunsOf = async (endpoint: string): Promise<number> => {
    for (let i = 0; i < 200 && !reports.some((r) => r.endpoint === endpoint); i++) await new Promise((r) => setTimeout(r, 10));
    return reports.find((r) => r.endpoint === endpoint)?.report.underruns ?? 0;
  };

  /**
   * The kinds piped into `play -`: the file's bytes made from the padded signal, and what the
   * monitor must then carry (the sim streams take 16-bit only): 16-bit as it is; 24-bit with a
   * pseudo-random low byte under each sample, truncated to the signal (rounding would be off by
   * one wherever that byte is 0x80 or more); 8-bit (x − 128) << 8.
   */
  const PIPED: [string, (s: Int16Array) => { file: Uint8Array; expected: Int16Array }][] = [
    ['16-bit', (s) => ({ file: wav(1, 2, RATE, 16, s16Bytes(s), true), expected: s })],
    ['24-bit, truncated to the stream\'s 16 bits', (s) => {
      const d = new Uint8Array(s.length * 3);
      s.forEach((v, i) => { d[i * 3] = (i * 97 + 13) & 0xff; d[i * 3 + 1] = v & 0xff; d[i * 3 + 2] = (v >> 8) & 0xff; });
      return { file: wav(1, 2, RATE, 24, d, true), expected: s };
    }],
    ['8-bit, (x − 128) << 8', (s) => ({
      file: wav(1, 2, RATE, 8, Uint8Array.from(s, (v) => (v >> 8) + 128), true),
      expected: Int16Array.from(s, (v) => v & ~0xff),
    })],
  ];
  for (const [kind, make] of PIPED) {
    it(`play - through a pipe (${kind}) reaches the speaker's monitor bit-exact at 0 dB (--volume 0)`, async () => {
      // 0.5 s of a pseudo-random signal between 0.2 s of silence (the start and stop ramps fall there).
      const padded = paddedTestSignal(RATE / 2, RATE / 5, 2, 0xbeef);
      const { file: bytes, expected } = make(padded.samples);
      const sig = { ...padded, samples: expected };
      const frameBytes = (bytes[32]! | (bytes[33]! << 8));
      let verdict: ReturnType<typeof verifyBitExact> | undefined;
      let captured: Int16Array | undefined;
      let underran = 0;
      for (let attempt = 1; attempt <= 5; attempt++) {
        reports.length = 0;
        const stopMonitor = new AbortController();
        const monitor = recordSamples({ endpoint: path.join(dir, 'audio-input/sim.speaker.monitor'), rate: RATE, channels: 2, signal: stopMonitor.signal }, RATE * 25);
        await new Promise((r) => setTimeout(r, 300)); // the monitor runs before the player starts
        // The header in two parts, then the first 0.3 s, the rest later: play starts while the pipe still fills.
        const cut = 44 + Math.round(0.3 * RATE) * frameBytes;
        const r = await cli(['play', '-', '--volume', '0', '--stream', 'sim.speaker', '--runtime-dir', dir], { stdin: [bytes.subarray(0, 20), bytes.subarray(20, cut), bytes.subarray(cut)] });
        assert.equal(r.code, 0, r.err);
        assert.match(r.out.toString(), /^played stdin: 0\.90 s at 48000 Hz, 2 ch, \d+-bit integer sent as 16-bit, to .*sim\.speaker\n$/);
        await new Promise((res) => setTimeout(res, 300)); // the monitor is 50 ms behind
        stopMonitor.abort('done');
        captured = await monitor;
        verdict = verifyBitExact(sig, captured, sig.signalFrames);
        const underruns = await underrunsOf('sim.speaker');
        underran = underruns;
        if (verdict.ok || underruns === 0) break;
        console.log(`      (attempt ${attempt}: ${underruns} underruns reported by the engine; again)`);
      }
      if (!verdict!.ok && underran > 0) {
        // Five runs, each underrunning (CI beside other work): the last is checked piecewise.
        console.log(`      ${assertExactBetweenUnderruns(sig, captured!, underran, kind)}`);
        return;
      }
      assert.ok(verdict!.ok, verdict!.reason);
      assert.equal(verdict!.mismatches, 0, 'every frame of the signal, bit for bit');
      // The control: one flipped bit in the recording is caught.
      const flipped = withFlippedSample(captured!, (verdict!.alignment!.lagFrames + sig.signalStart + 1000) * 2);
      assert.equal(verifyBitExact(sig, flipped, sig.signalFrames).ok, false);
    });
  }

  it('record - through a pipe equals record FILE: the header but for the streamed sizes, the length, and the samples', async () => {
    const file = path.join(dir, 'file.wav');
    const redirected = path.join(dir, 'redirected.wav');
    const args = ['--seconds', '0.5', '--stream', 'sim.mic', '--runtime-dir', dir];
    /** Where a recording (S16 stereo bytes) starts in the loop, after checking every frame follows it. */
    const placeInLoop = (data: Uint8Array, what: string): number => {
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const s = (i: number) => dv.getInt16(i * 2, true);
      const at = [...Array(LOOP_FRAMES).keys()].find((k) => [0, 1, 2, 3].every((j) => loop[(k * 2 + j) % loop.length] === s(j)));
      assert.ok(at !== undefined, `${what}: its first frames are not in the microphone's signal`);
      for (let i = 0; i < data.length / 2; i++) assert.equal(s(i), loop[(at * 2 + i) % loop.length], `${what}: sample ${i}`);
      return at;
    };
    /**
     * One recording, made again (at most twice) when it is not an excerpt of the loop and the
     * engine reported an overrun or underrun on sim.mic (a machine too busy to run it in time).
     */
    const recordChecked = async (what: string, run: () => Promise<Run>, bytesOf: (r: Run) => Uint8Array): Promise<Run> => {
      for (let attempt = 1; ; attempt++) {
        reports.length = 0;
        const r = await run();
        assert.equal(r.code, 0, `${what}: ${r.err}`);
        await underrunsOf('sim.mic');
        const xruns = reports.filter((x) => x.endpoint === 'sim.mic').reduce((n, x) => n + x.report.underruns + x.report.overruns, 0);
        try {
          placeInLoop(bytesOf(r).subarray(44), what);
          return r;
        } catch (e) {
          if (xruns === 0 || attempt === 3) throw e;
          console.log(`      (${what}, attempt ${attempt}: ${xruns} xruns reported by the engine; again)`);
        }
      }
    };
    const piped = await recordChecked('record -', () => cli(['record', '-', ...args]), (r) => new Uint8Array(r.out));
    assert.match(piped.err, /^recorded 0\.50 s at 48000 Hz, 2 ch from .*sim\.mic into stdout\n$/, 'the line goes to stderr: stdout carries the WAV only');
    const fileRun = await recordChecked('record FILE', () => cli(['record', file, ...args]), () => new Uint8Array(readFileSync(file)));
    assert.match(fileRun.out.toString(), /into .*file\.wav\n$/);
    await recordChecked('record - > FILE', async () => {
      const fd = openSync(redirected, 'w');
      try { return await cli(['record', '-', ...args], { stdout: fd }); } finally { closeSync(fd); }
    }, () => new Uint8Array(readFileSync(redirected)));

    const fromPipe = new Uint8Array(piped.out);
    const fromFile = new Uint8Array(readFileSync(file));
    const fromRedirect = new Uint8Array(readFileSync(redirected));
    const dataBytes = RATE / 2 * 4;
    // The file: the 44-byte PCM header of the spec with the real sizes.
    assert.deepEqual([...fromFile.subarray(0, 44)], header(1, 2, RATE, 16, dataBytes));
    // The pipe: the same but 0xFFFFFFFF for the RIFF and data sizes; a regular file as stdout gets them fixed up.
    assert.deepEqual([...fromPipe.subarray(0, 44)], header(1, 2, RATE, 16));
    assert.deepEqual([...fromRedirect.subarray(0, 44)], header(1, 2, RATE, 16, dataBytes));
    assert.deepEqual([fromPipe.length, fromRedirect.length, fromFile.length], [44 + dataBytes, 44 + dataBytes, 44 + dataBytes]);
    // The samples: each was checked above to be an unbroken excerpt of the microphone's loop.
    // The control: a recording one sample off is not an excerpt of the loop.
    const off = fromFile.slice(44);
    off[1001] ^= 1;
    assert.throws(() => placeInLoop(off, 'control'), /control: sample 500/);
  });

  describe('each kind of file through `play` (in process), with the expected result or message', () => {
    const files: Record<string, Uint8Array> = {};
    const errs: string[] = [];
    const outs: string[] = [];
    const io = { out: (s: string) => outs.push(s), err: (s: string) => errs.push(s), isTTY: false };
    const f = (name: string) => path.join(dir, name);
    const play = (...a: string[]) => playCommand.run([...a, '--stream', 'sim.speaker', '--runtime-dir', dir], io);
    before(() => {
      const n = (rate: number) => Math.round(rate * 0.1);
      files['u8-mono-44k1.wav'] = wav(1, 1, 44100, 8, sineData(n(44100), 1, 44100, 'u8'));
      files['s16-stereo-48k.wav'] = wav(1, 2, 48000, 16, sineData(n(48000), 2, 48000, 's16'));
      files['s24-stereo-96k.wav'] = wav(1, 2, 96000, 24, sineData(n(96000), 2, 96000, 's24'));
      files['f32-stereo-48k.wav'] = wav(3, 2, 48000, 32, sineData(n(48000), 2, 48000, 'f32'));
      files['s16-6ch.wav'] = wav(1, 6, 48000, 16, sineData(n(48000), 6, 48000, 's16'));
      files['s16-1s.wav'] = wav(1, 2, 48000, 16, sineData(48000, 2, 48000, 's16'));
      files['truncated.wav'] = files['s16-stereo-48k.wav']!.subarray(0, 30);
      files['cut.wav'] = files['s16-stereo-48k.wav']!.subarray(0, 44 + 2400 * 4 + 3); // 2400 of 4800 frames and 3 bytes
      files['not.wav'] = Uint8Array.from(ascii('ID3\x03 this is an mp3'));
      for (const [k, v] of Object.entries(files)) writeFileSync(f(k), v);
    });
    beforeEach(() => { errs.length = 0; outs.length = 0; });

    it('8-bit mono at 44.1 kHz: plays, as 16-bit', async () => {
      assert.equal(await play(f('u8-mono-44k1.wav')), 0);
      assert.match(outs.join(), /played .*u8-mono-44k1\.wav: 0\.10 s at 44100 Hz, 1 ch, 8-bit integer sent as 16-bit, to /);
      assert.deepEqual(errs, [], 'exact: no note');
    });
    it('16-bit stereo at 48 kHz: plays as it is', async () => {
      assert.equal(await play(f('s16-stereo-48k.wav')), 0);
      assert.match(outs.join(), /0\.10 s at 48000 Hz, 2 ch, 16-bit integer sent as 16-bit/);
    });
    it('24-bit at 96 kHz: the sim stream offers 16-bit only, so truncated to 16 bits, with a note', async () => {
      assert.equal(await play(f('s24-stereo-96k.wav')), 0);
      assert.match(outs.join(), /0\.10 s at 96000 Hz, 2 ch, 24-bit integer sent as 16-bit/);
      assert.match(errs.join(), /s24-stereo-96k\.wav: 24-bit samples truncated to 16 bits \(the low 8 bits dropped, no dither\)/);
    });
    it('32-bit float: plays, rounded and clipped into 16-bit, with a note', async () => {
      assert.equal(await play(f('f32-stereo-48k.wav')), 0);
      assert.match(outs.join(), /32-bit float sent as 16-bit/);
      assert.match(errs.join(), /float samples converted to 16-bit integer \(rounded, clipped at full scale\)/);
    });
    it('6 channels: refused, naming what the stream takes (no downmix)', async () => {
      await assert.rejects(play(f('s16-6ch.wav')), /s16-6ch\.wav: 6 ch at 48000 Hz is not taken by .*sim\.speaker, which takes 16 bit, 1-2 ch, 8000-192000 Hz \(48k family\); 16 bit, 1-2 ch, 11025-176400 Hz \(44\.1k family\)/);
    });
    it('a truncated header: "truncated WAV header ... at byte 30"', async () => {
      await assert.rejects(play(f('truncated.wav')), /truncated\.wav: truncated WAV header: the fmt chunk \(16 bytes from byte 20\) needs bytes up to 36, the file ends at byte 30/);
    });
    it('cut data: plays what is there, and says the file ends after 2400 of 4800 frames (and mid-frame)', async () => {
      assert.equal(await play(f('cut.wav')), 0);
      assert.match(outs.join(), /cut\.wav: 0\.05 s at 48000 Hz/);
      assert.match(errs.join(), /cut\.wav: the file ends after 2400 of 4800 frames and mid-frame \(the last 3 bytes of a 4-byte frame are dropped\): cut short, playing what is there/);
    });
    it('not a WAV: says what it is', async () => {
      await assert.rejects(play(f('not.wav')), /not\.wav: not a WAV file: it is an MP3 file/);
    });
    it('a missing file: "cannot open FILE: no such file"', async () => {
      await assert.rejects(play(f('nosuch.wav')), (e: Error) => e.message === `cannot open ${f('nosuch.wav')}: no such file`);
    });
    it('--seconds 0.25 plays 0.25 s of a 1 s file; 0 or negative is a usage error naming --seconds', async () => {
      assert.equal(await play(f('s16-1s.wav'), '--seconds', '0.25'), 0);
      assert.match(outs.join(), /s16-1s\.wav: 0\.25 s at 48000 Hz/);
      for (const bad of ['0', '-1', 'x']) await assert.rejects(play(f('s16-1s.wav'), '--seconds', bad), { name: 'UsageError', message: `--seconds must be a positive number of seconds, got "${bad}"` });
    });
  });
});
