/**
 * The players the ALSA way in (issue 27) must serve, run in the guest from the host's /usr (the
 * /host/usr share, tests/hil/peers.ts hostProgram): mpd driven by mpc, snapserver + snapclient,
 * squeezelite. Here they play into a plain loopback, the SimDac card (hw:SimDac,0,0, captured by
 * arecord on hw:SimDac,1,0): what each does to the signal on its own, before anything of ours is in
 * the path. Later tests point the same command lines at the `sbc-audio` PCM alias.
 *
 * - mpd: a 2 s pseudo-random signal in a 16-bit stereo WAV at 48000 and at 44100 Hz arrives whole,
 *   bit for bit, with the DAC opened at the file's own rate and format (no conversion).
 * - snapclient: keeps time by dropping or repeating single frames (soft sync) and by silence or
 *   skips (hard sync); between its corrections the signal is bit-exact, and it corrects no more
 *   frames than it logs (its per-second "Stats" line ends with the frames corrected).
 * - squeezelite: no SlimProto server exists in Debian, so it is proved only to find and probe the PCM.
 * Each check has a control run: the same capture with one sample flipped must fail.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeWav } from '../../../src/stream/wav.ts';
import { hilEnv } from '../env.ts';
import { bytesToS16, paddedTestSignal, s16ToBytes, verifyBitExact, withFlippedSample, type PaddedSignal } from '../lib/bitexact.ts';
import { verifyPiecewiseExact } from '../lib/piecewise.ts';
import { finishChild, hostProgram, runHost, spawnHost, stopChild, type HostProgram } from '../peers.ts';
import { runPeer, waitForRunning } from './alsa-peers.ts';

const CHANNELS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls `probe` until it resolves true; the guard only ends a hang (it bounds nothing tested). */
async function until(what: string, probe: () => Promise<boolean> | boolean, guardMs: number): Promise<void> {
  const end = performance.now() + guardMs;
  while (!(await probe())) {
    if (performance.now() > end) throw new Error(`hang guard: ${what} not within ${guardMs} ms`);
    await sleep(50);
  }
}

/** The whole signal bit-exact, and the control run with one flipped sample fails. */
function assertWholeSignalExact(signal: PaddedSignal, captured: Int16Array, what: string): void {
  const v = verifyBitExact(signal, captured, signal.signalFrames);
  assert.ok(v.ok, `${what}: ${v.reason}`);
  console.log(`      ${what}: lag ${v.alignment!.lagFrames} frames, correlation ${v.alignment!.score.toFixed(3)} (next ${v.alignment!.runnerUp.toFixed(3)}), ` +
    `all ${v.length} signal frames bit-exact`);
  const flipFrame = v.start + Math.floor(v.length / 2);
  const c = verifyBitExact(signal, withFlippedSample(captured, (flipFrame + v.alignment!.lagFrames) * CHANNELS), signal.signalFrames);
  assert.equal(c.ok, false, `${what}: the control run with one flipped sample at frame ${flipFrame} was not caught`);
}

/** The DAC playback substream's hw_params while it runs (/proc/asound/CARD/pcm0p/sub0/hw_params). */
function dacHwParams(card: string): string {
  return readFileSync(`/proc/asound/${card}/pcm0p/sub0/hw_params`, 'utf8');
}

describe('players from the host /usr play into a plain loopback (guest)', function () {
  this.timeout(240000);
  const env = hilEnv();
  const dacPlay = env.alsa.dacPlayback;
  const dacCap = env.alsa.dacCapture;
  const dacCard = env.alsa.dacCard;
  let dir = '';

  before(function () {
    if (!env.hostUsr || !dacPlay || !dacCap || !dacCard) this.skip(); // reason: no host /usr share or no SimDac card (guest only)
    dir = mkdtempSync(join(tmpdir(), 'players-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('mpd driven by mpc', function () {
    const RATES = [48000, 44100] as const;
    const signals = new Map<number, PaddedSignal>(RATES.map((r, i) => [r, paddedTestSignal(2 * r, r / 5, CHANNELS, 0x6d706400 + i)]));
    const PORT = 6600;
    let mpdProg: HostProgram;
    let mpcProg: HostProgram;
    let mpd: ReturnType<typeof spawnHost> | undefined;
    let mpdDone: ReturnType<typeof finishChild> | undefined;
    let mpdLog = '';
    const mpc = (...args: string[]) => runHost(mpcProg, ['-h', '127.0.0.1', '-p', String(PORT), ...args], 60000);

    before(async function () {
      if (!dir) this.skip(); // reason: see the outer before
      mpdProg = hostProgram(env, 'mpd')!;
      mpcProg = hostProgram(env, 'mpc')!;
      assert.ok(mpdProg && mpcProg, 'mpd and mpc in the host /usr share');
      const m = join(dir, 'mpd');
      mkdirSync(join(m, 'music'), { recursive: true });
      mkdirSync(join(m, 'playlists'));
      for (const [rate, s] of signals) writeFileSync(join(m, 'music', `signal-${rate}.wav`), encodeWav({ rate, channels: CHANNELS, samples: s.samples }));
      // Every output option that could convert is off: the alsa output takes the decoder's format or
      // fails to open (auto_* "no"), no software mixer scales (mixer_type "none": measured in the
      // guest, mixer_type "software" changed 68624 of 96000 frames even at volume 100), no replay gain.
      writeFileSync(join(m, 'mpd.conf'), `music_directory "${m}/music"
playlist_directory "${m}/playlists"
db_file "${m}/db"
state_file "${m}/state"
pid_file "${m}/pid"
log_file "${m}/log"
log_level "verbose"
bind_to_address "127.0.0.1"
port "${PORT}"
zeroconf_enabled "no"
replaygain "off"
volume_normalization "no"
audio_output {
  type "alsa"
  name "SimDac"
  device "${dacPlay}"
  mixer_type "none"
  auto_resample "no"
  auto_format "no"
  auto_channels "no"
}
`);
      const t0 = performance.now();
      mpd = spawnHost(mpdProg, ['--no-daemon', '--stderr', join(m, 'mpd.conf')]);
      mpd.stderr!.on('data', (d: Buffer) => (mpdLog += d.toString()));
      mpdDone = finishChild(mpd, null);
      mpdDone.catch(() => {});
      await until('mpd answering mpc', () => mpc('status').then(() => true, () => false), 120000);
      const t1 = performance.now();
      await mpc('update', '--wait');
      const listed = await mpc('ls');
      console.log(`      mpd answered ${seconds(t1 - t0)} after its start; mpc update --wait took ${seconds(performance.now() - t1)}`);
      for (const rate of RATES) assert.match(listed, new RegExp(`^signal-${rate}\\.wav$`, 'm'));
    });

    after(async () => {
      if (mpd && mpdDone) {
        const r = await stopChild(mpd, mpdDone, 'SIGTERM', 20000);
        assert.equal(r.code, 0, `mpd exit: ${mpdLog.slice(-2000)}`);
      }
    });

    for (const rate of RATES) {
      it(`plays a 16-bit stereo WAV at ${rate} Hz bit-exact to ${'hw:SimDac,0,0'}, the DAC opened at the file's rate and format`, async () => {
        const signal = signals.get(rate)!;
        const frames = signal.samples.length / CHANNELS + 5 * rate; // 5 s for mpd to start playing
        const out = join(dir, `mpd-${rate}.raw`);
        await mpc('clear');
        await mpc('add', `signal-${rate}.wav`);
        // The capture opens first and fixes the cable's parameters: an mpd that wanted another
        // rate or format could not open the DAC at all.
        const rec = runPeer('arecord', ['-q', '-D', dacCap!, '-f', 'S16_LE', '-c', String(CHANNELS), '-r', String(rate), '-t', 'raw', '-s', String(frames), out], 120000);
        await waitForRunning(dacCard!, 1, 'c', 0);
        const t0 = performance.now();
        await mpc('play');
        await waitForRunning(dacCard!, 0, 'p', 0, 30000);
        const hw = dacHwParams(dacCard!);
        console.log(`      mpd's DAC running ${seconds(performance.now() - t0)} after mpc play`);
        assert.match(hw, /^format: S16_LE$/m, hw);
        assert.match(hw, new RegExp(`^rate: ${rate} \\(`, 'm'), hw);
        assert.match(hw, /^channels: 2$/m, hw);
        const code = await rec.done;
        assert.equal(code, 0, `arecord: ${rec.stderr()}`);
        await mpc('stop');
        assert.match(mpdLog, new RegExp(`output: opened "SimDac" \\(alsa\\) audio_format=${rate}:16:2`), 'mpd opened its output at the decoder\'s format');
        assertWholeSignalExact(signal, bytesToS16(readFileSync(out)), `mpd ${rate} Hz → arecord`);
      });
    }
  });

  describe('snapserver + snapclient', function () {
    const RATE = 48000;
    // 1 s of silence either side: snapclient's first chunks (and any hard sync at its start) fall there.
    const signal = paddedTestSignal(5 * RATE, RATE, CHANNELS, 0x736e6170);

    it('snapclient plays a pipe source bit-exact between the frames it drops or repeats, and logs every frame it corrects', async () => {
      const s = join(dir, 'snap');
      const home = join(s, 'home');
      mkdirSync(home, { recursive: true });
      writeFileSync(join(s, 'snapserver.conf'), ''); // not /etc/snapserver.conf
      const fifo = join(s, 'fifo');
      const serverProg = hostProgram(env, 'snapserver', { HOME: home })!;
      const clientProg = hostProgram(env, 'snapclient', { HOME: home })!;
      assert.ok(serverProg && clientProg, 'snapserver and snapclient in the host /usr share');
      const t0 = performance.now();
      const server = spawnHost(serverProg, ['-c', join(s, 'snapserver.conf'), `--server.datadir=${s}`, '--http.enabled=false', '--tcp.enabled=false',
        '--stream.bind_to_address=127.0.0.1', '--stream.port=1704', '--stream.codec=pcm',
        '--stream.source', `pipe://${fifo}?name=t&sampleformat=${RATE}:16:2&mode=create`, '--logging.sink=stderr', '--logging.filter=*:debug']);
      const serverDone = finishChild(server, null);
      serverDone.catch(() => {});
      let clientLog = '';
      let client: ReturnType<typeof spawnHost> | undefined;
      let clientDone: ReturnType<typeof finishChild> | undefined;
      const out = join(s, 'capture.raw');
      try {
        await until('snapserver creating its fifo', () => existsSync(fifo), 60000);
        const rec = runPeer('arecord', ['-q', '-D', dacCap!, '-f', 'S16_LE', '-c', String(CHANNELS), '-r', String(RATE), '-t', 'raw', '-s', String(18 * RATE), out], 120000);
        await waitForRunning(dacCard!, 1, 'c', 0);
        client = spawnHost(clientProg, ['-h', '127.0.0.1', '-p', '1704', '--hostID', 'hil', '--player', 'alsa', '-s', dacPlay!,
          '--logsink', 'stderr', '--logfilter', '*:debug']);
        client.stderr!.on('data', (d: Buffer) => (clientLog += d.toString()));
        clientDone = finishChild(client, null);
        clientDone.catch(() => {});
        // Ready once it has opened the DAC (it starts the PCM only with the first chunk) and
        // synchronised its clock with the server's.
        await until('snapclient opening the DAC and synchronising its clock',
          () => new RegExp(`PCM name: ${dacPlay!}, sample rate: ${RATE} Hz`).test(clientLog) && /diff to server/.test(clientLog), 60000);
        console.log(`      snapclient playing and synchronised ${seconds(performance.now() - t0)} after snapserver's start`);
        // snapserver reads the pipe at the stream's pace; the write ends when it has all but a pipe's worth.
        await writeFile(fifo, s16ToBytes(signal.samples));
        const code = await rec.done;
        assert.equal(code, 0, `arecord: ${rec.stderr()}`);
      } finally {
        if (client && clientDone) await stopChild(client, clientDone, 'SIGTERM', 20000);
        await stopChild(server, serverDone, 'SIGTERM', 20000);
      }
      const hw = /Codec: (\S+), sampleformat: (\S+)/.exec(clientLog);
      assert.deepEqual(hw?.slice(1), ['pcm', `${RATE}:16:2`], `snapclient's stream:\n${clientLog.slice(0, 3000)}`);

      // What snapclient says it did: per second, the frames it dropped or repeated (last column of
      // "(Stats) Chunk: age mini short median size dacTime frame_delta", client/stream.cpp of 0.26),
      // and its hard syncs (silence inserted, old chunks dropped, buffer medians out of range).
      const deltas = [...clientLog.matchAll(/\(Stats\) Chunk: (?:-?\d+\t){6}(-?\d+)/g)].map((m) => Number(m[1]));
      const logged = deltas.reduce((a, d) => a + Math.abs(d), 0);
      const hardSyncs = (clientLog.match(/Silent frames: |dropping old chunks|full\(\) && \(abs|abs\(age > 500\)/g) ?? []).length;
      assert.ok(deltas.length > 0, `snapclient logged no Stats lines:\n${clientLog.slice(0, 3000)}`);

      const captured = bytesToS16(readFileSync(out));
      // Soft sync corrects at most 500 ppm (client/stream.cpp: rate limited to 1 ± 0.0005).
      const v = verifyPiecewiseExact(signal, captured, { maxShift: 64, maxCorrections: Math.ceil(signal.signalFrames * 0.0005) + hardSyncs });
      const soft = v.corrections.filter((c) => c.kind === 'drop' || c.kind === 'insert');
      const softFrames = soft.reduce((a, c) => a + Math.abs(c.droppedFrames - c.insertedFrames), 0);
      console.log(`      snapclient: ${v.segments.length} bit-exact stretches (${v.exactFrames} of ${signal.signalFrames} signal frames), ` +
        `${soft.length} soft corrections in the signal (${soft.filter((c) => c.kind === 'drop').length} dropped, ${soft.filter((c) => c.kind === 'insert').length} repeated frames), ` +
        `${v.corrections.filter((c) => c.kind === 'jump').length} jumps; logged: ${logged} frames corrected over ${deltas.length} s [${deltas.join(' ')}], ${hardSyncs} hard-sync lines`);
      assert.ok(v.ok, `snapclient: ${v.reason}`);
      assert.equal(v.substitutedFrames, 0);
      assert.ok(softFrames <= logged, `${softFrames} frames corrected in the signal, but snapclient logged only ${logged}`);
      assert.ok(v.corrections.filter((c) => c.kind === 'jump').length <= hardSyncs, 'every jump in the signal is a hard sync snapclient logged');

      // Control: one flipped sample inside the longest stretch.
      const longest = v.segments.reduce((a, g) => (g.frames > a.frames ? g : a));
      const at = signal.signalStart + longest.start + Math.floor(longest.frames / 2);
      const c = verifyPiecewiseExact(signal, withFlippedSample(captured, (at + longest.lagFrames) * CHANNELS));
      assert.equal(c.ok, false, 'the control run with one flipped sample was not caught');
      assert.equal(c.substitutedFrames, 1);
    });
  });

  describe('squeezelite', function () {
    it('lists the SimDac PCM and, with no SlimProto server to play from, opens and probes it', async () => {
      const prog = hostProgram(env, 'squeezelite')!;
      assert.ok(prog, 'squeezelite in the host /usr share');
      const list = await runHost(prog, ['-l'], 60000);
      assert.match(list, new RegExp(`^\\s*hw:CARD=${dacCard},DEV=0\\s`, 'm'), list);

      const t0 = performance.now();
      // Nothing listens on 127.0.0.1:3483: squeezelite keeps trying to connect; the output side
      // opens the device at start to learn its rates.
      const sq = spawnHost(prog, ['-o', dacPlay!, '-s', '127.0.0.1', '-d', 'all=debug']);
      let log = '';
      sq.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      sq.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      const done = finishChild(sq, null);
      done.catch(() => {});
      try {
        await until('squeezelite reporting the rates of its output', () => /rates/i.test(log) && /connect/i.test(log), 60000);
        await sleep(2000);
      } finally {
        await stopChild(sq, done, 'SIGTERM', 20000);
      }
      console.log(`      squeezelite probed its output ${seconds(performance.now() - t0)} after its start; its log:\n${log.split('\n').slice(0, 40).map((l) => `        ${l}`).join('\n')}`);
      assert.match(log, new RegExp(dacPlay!.replace(/[,]/g, '.')), 'it names the device');
      assert.match(log, /48000/);
      assert.match(log, /44100/);
    });
  });
});
