/**
 * `sbc-audio serve` as a real process (endpoints appear; SIGTERM removes them and exits 0) and
 * `sbc-audio ls` against it (table, --json); `ls --watch` in-process against an in-process
 * service, printing plug and gain changes as the service announces them.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { infoCommand } from '../../src/cli/commands/info.ts';
import { lsCommand, watchStreams } from '../../src/cli/commands/ls.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { StreamClient } from '../../src/stream/client.ts';
import { startStreamService } from '../../src/stream/service.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sbc-audio.js');

function captureIO(): CliIO & { lines: string[]; errors: string[]; waitFor(re: RegExp): Promise<string> } {
  const lines: string[] = [];
  const errors: string[] = [];
  let wake = () => {};
  return {
    lines, errors, isTTY: false,
    out: (t) => { lines.push(...t.replace(/\n$/, '').split('\n')); wake(); },
    err: (t) => { errors.push(t); },
    waitFor(re) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re}; got:\n${lines.join('\n')}`)), 10000);
        const check = () => {
          const l = lines.find((x) => re.test(x));
          if (l) { clearTimeout(timer); resolve(l); }
        };
        wake = check;
        check();
      });
    },
  };
}

describe('sbc-audio serve and ls', function () {
  this.timeout(60000);

  describe('serve as a process', () => {
    let dir: string;
    let child: ChildProcess;
    let stdout = '';
    let stderr = '';

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'sbc-serve-'));
      child = spawn(process.execPath, [BIN, 'serve', '--board', 'sim', '--runtime-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d) => { stdout += d; });
      child.stderr!.on('data', (d) => { stderr += d; });
      const deadline = Date.now() + 30000;
      // Ready when serve says so: it prints its line once every endpoint (monitors too) is published.
      while (!/serving \d+ streams/.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not publish: ${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('ls --json lists the three streams (and the monitors of the two simulated outputs) with formats, gain, plug state and latency', async () => {
      const io = captureIO();
      assert.equal(await lsCommand.run(['--runtime-dir', dir, '--json'], io), 0);
      const j = JSON.parse(io.lines.join('\n')) as { streams: { name: string; plug: { hardwired: boolean }; gain: { minGain: number }; externalDelayNs: Record<string, number>; formats: unknown[] }[] };
      assert.deepEqual(j.streams.map((s) => s.name), ['sim.headphone', 'sim.speaker', 'sim.headphone.monitor', 'sim.mic', 'sim.speaker.monitor']);
      const hp = j.streams[0]!;
      assert.equal(hp.plug.hardwired, false);
      assert.equal(hp.gain.minGain, -127);
      assert.equal(hp.formats.length, 2);
      // 8 frames at 48 kHz + 2000 ns; 8 frames at 44.1 kHz + 2000 ns (board/sim.json, sim codec).
      assert.deepEqual(hp.externalDelayNs, { 48000: 168667, 44100: 183406 });
    });

    it('ls prints a table; listing does not take ownership (ls observes)', async () => {
      const app = await StreamClient.connect(path.join(dir, 'audio-output/sim.speaker'));
      const io = captureIO();
      assert.equal(await lsCommand.run(['--runtime-dir', dir], io), 0);
      assert.match(io.lines[0]!, /^STREAM\s+DIR\s+PLUG\s+GAIN\s+EXTERNAL DELAY\s+PRODUCT$/);
      assert.ok(io.lines.some((l) => /^sim\.speaker\s+output\s+hardwired\s+/.test(l)));
      assert.ok(io.lines.some((l) => l.includes('16 bit, 1-2 ch, 8000-192000 Hz (48k family)')), 'only the carried sample formats are offered (no 24in32)');
      assert.equal((await app.setGain({ gain: -6 })).result, 0, 'the application that connected first still owns the stream');
      await app.close();
    });

    it('SIGTERM removes every endpoint and exits 0', async () => {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      for (const p of ['audio-output/sim.headphone', 'audio-output/sim.speaker', 'audio-input/sim.mic', 'audio-input/sim.headphone.monitor', 'audio-input/sim.speaker.monitor']) {
        assert.equal(existsSync(path.join(dir, p)), false, `${p} removed`);
      }
      assert.match(stdout, /serving 5 streams of board sim/); // 3 of the board, 2 monitors
    });
  });

  it('a delay with no figure (PCM5102A): ls, ls --json, info and info --json say "unknown", never 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-unknown-'));
    const rt = await openBoard(loadBoard('pimoroni-phat-dac-sim'), { clock: new VirtualClock(1e9, true) });
    const svc = await startStreamService(rt, { runtimeDir: dir });
    try {
      const j = captureIO();
      assert.equal(await lsCommand.run(['--runtime-dir', dir, '--json'], j), 0);
      const lo = (JSON.parse(j.lines.join('\n')) as { streams: { name: string; externalDelayNs: Record<string, unknown>; externalDelayKnownNs: Record<string, number>; externalDelayUnknown: Record<string, string[]> }[] })
        .streams.find((x) => x.name === 'pimoroni-phat-dac-sim.line-out')!;
      assert.deepEqual(lo.externalDelayNs, { 48000: 'unknown', 44100: 'unknown' });
      assert.deepEqual(lo.externalDelayKnownNs, { 48000: 0, 44100: 0 });
      assert.match(lo.externalDelayUnknown['48000']![0]!, /PCM5102A/);
      const t = captureIO();
      assert.equal(await lsCommand.run(['--runtime-dir', dir], t), 0);
      const row = t.lines.find((l) => l.startsWith('pimoroni-phat-dac-sim.line-out '))!;
      assert.match(row, /unknown @44\.1k, unknown @48k/);
      assert.doesNotMatch(row, /0\.0 µs/);
      // The negative control: a complete delay is a number (the monitor's 50 ms).
      assert.match(t.lines.find((l) => l.startsWith('pimoroni-phat-dac-sim.line-out.monitor '))!, /50000\.0 µs @48k/);
    } finally {
      await svc.close();
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const info = captureIO();
    assert.equal(await infoCommand.run(['--board', 'pimoroni-phat-dac-sim', '--json'], info), 0);
    const lat = (JSON.parse(info.lines.join('\n')) as { latency: { rate: number; totalNs: unknown; knownNs: number; unknown: string[] }[] }).latency;
    assert.ok(lat.length > 0 && lat.every((l) => l.totalNs === 'unknown' && l.knownNs === 0 && l.unknown.length === 1), JSON.stringify(lat));
    const text = captureIO();
    assert.equal(await infoCommand.run(['--board', 'pimoroni-phat-dac-sim'], text), 0);
    assert.ok(text.lines.some((l) => /output at 48000 Hz: unknown \(known part 0 ns/.test(l)), text.lines.join('\n'));
    const complete = captureIO();
    assert.equal(await infoCommand.run(['--board', 'sim', '--json'], complete), 0);
    assert.ok((JSON.parse(complete.lines.join('\n')) as { latency: { totalNs: unknown }[] }).latency.every((l) => typeof l.totalNs === 'number'));
  });

  it('a stale entry (left by a killed service: listed, nothing accepts) is named as such; ls exits 3 (the service is not reachable)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-stale-'));
    try {
      const p = path.join(dir, 'audio-output', 'gone.headphone');
      mkdirSync(path.dirname(p), { recursive: true });
      // A process that binds the endpoint and exits without removing it, as a SIGKILLed service would.
      spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => process.exit(0))`]);
      assert.ok(existsSync(p), 'the entry is left behind');
      const io = captureIO();
      assert.equal(await lsCommand.run(['--runtime-dir', dir], io), 3);
      assert.match(io.errors.join('\n'), /gone\.headphone: cannot connect to .*: stale entry: nothing serves it/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ls --watch prints streams appearing, plug and gain changes, and streams disappearing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-watch-'));
    const io = captureIO();
    let stop = () => {};
    const stopped = new Promise<void>((r) => { stop = r; });
    const watching = watchStreams(dir, io, false, stopped);
    const rt = await openBoard(loadBoard('sim'), { clock: new VirtualClock(1e9, true) });
    const svc = await startStreamService(rt, { runtimeDir: dir });
    try {
      await io.waitFor(/sim\.headphone {2}appeared: output, unplugged, gain/); // printed once its notifications are on
      await io.waitFor(/sim\.mic {2}appeared: input, hardwired, gain fixed/);
      const app = await StreamClient.connect(svc.endpoints.find((e) => e.name === 'sim.speaker')!.path);
      assert.equal((await app.setGain({ gain: -30, mute: false })).result, 0);
      await io.waitFor(/sim\.headphone {2}gain: -30 dB \[-127\.\.0 dB, step 0\.5 dB\]/); // the shared main volume
      rt.setSimJack(true);
      await io.waitFor(/sim\.headphone {2}plug: plugged \(at 1\.020000 s\)/); // virtual clock: 1 s + 20 ms debounce
      await app.close();
    } finally {
      await svc.close();
      await rt.close();
    }
    await io.waitFor(/sim\.headphone {2}disappeared/);
    stop();
    await watching;
    rmSync(dir, { recursive: true, force: true });
  });
});
