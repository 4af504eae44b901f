/**
 * A client killed with SIGKILL, heard at the simulated analog output from another process: the
 * service runs as its own process on the sim board (CLOCK_MONOTONIC), a client in a third process
 * plays a pseudo-random signal and is killed, and this process records the speaker's monitor
 * endpoint. Frame k of the monitor is what the output carried at start_time − 50 ms + k / rate
 * (src/stream/monitor.ts), so each frame has a CLOCK_MONOTONIC time, comparable with the kill's.
 *
 * Bound: kill + FIFO + one period + the client-watch bound of docs/engine.md (10 ms: the worker
 * sees the killed process exiting at its next period, measured ≤ 2 ms natively).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StreamClient } from '../../src/stream/client.ts';
import { recordSamples } from '../../src/stream/player.ts';

const CLIENT_WATCH_BOUND_NS = 10e6; // the client-watch bound stated in docs/engine.md
const PERIOD_NS = (128 / 48000) * 1e9; // the service's default period at 48 kHz (128 frames)
const MONITOR_DELAY_NS = 50e6; // docs/PROTOCOL.md, monitor endpoints
const now = () => Number(process.hrtime.bigint());

describe('a killed client is silent at the simulated analog output (three processes, CLOCK_MONOTONIC)', function () {
  this.timeout(60000);
  let dir: string;
  let service: ChildProcess;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-kill-'));
    service = spawn(process.execPath, ['--import', 'tsx', 'bin/sbc-audio.js', 'serve', '--board', 'sim', '--runtime-dir', dir, '--quiet'], { stdio: 'ignore' });
    const deadline = Date.now() + 30000;
    while (!existsSync(path.join(dir, 'audio-input', 'sim.speaker.monitor'))) {
      if (Date.now() > deadline || service.exitCode !== null) throw new Error('serve did not publish its endpoints');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(() => {
    service?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the monitor is digital zero from kill + FIFO + one period + the client-watch bound, and carried the client before', async () => {
    // The stream gain at 0 dB, unmuted, from a first client that then lets ownership go.
    const g = await StreamClient.connect(path.join(dir, 'audio-output', 'sim.speaker'));
    const set = await g.setGain({ gain: 0, mute: false });
    assert.equal(set.curGain, 0);
    await g.close();

    let startTimeNs = 0;
    const rate = 48000;
    const recording = recordSamples({ endpoint: path.join(dir, 'audio-input', 'sim.speaker.monitor'), rate, channels: 2, onOpen: (o) => { startTimeNs = o.startTimeNs; } }, rate * 3);
    const client = spawn(process.execPath, ['--import', 'tsx', 'tests/protocol/kill-client.ts', path.join(dir, 'audio-output', 'sim.speaker'), String(rate), 'ahead'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      client.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      client.once('exit', () => reject(new Error('the client exited before it started')));
    });
    const info = JSON.parse(line) as { startTimeNs: number; fifoBytes: number };
    await new Promise((r) => setTimeout(r, 600));
    const killNs = now();
    client.kill('SIGKILL');
    const rec = await recording;
    const frameTime = (k: number) => startTimeNs - MONITOR_DELAY_NS + (k * 1e9) / rate;
    let lastLoud = -1;
    let loudBeforeKill = 0;
    for (let k = 0; k < rec.length / 2; k++) {
      if (rec[2 * k] !== 0 || rec[2 * k + 1] !== 0) {
        lastLoud = k;
        if (frameTime(k) < killNs) loudBeforeKill++;
      }
    }
    assert.ok(loudBeforeKill > rate * 0.2, `the monitor carried the client before the kill (${loudBeforeKill} non-zero frames)`);
    const fifoNs = ((info.fifoBytes / 4) * 1e9) / rate;
    const boundNs = killNs + fifoNs + PERIOD_NS + CLIENT_WATCH_BOUND_NS;
    const lastNs = frameTime(lastLoud);
    assert.ok(lastNs <= boundNs, `last non-zero frame ${((lastNs - killNs) / 1e6).toFixed(2)} ms after the kill; bound ${((boundNs - killNs) / 1e6).toFixed(2)} ms`);
    assert.ok(frameTime(rec.length / 2 - 1) > boundNs + 100e6, 'the recording goes on well past the bound (zeros were heard, not assumed)');
    console.log(`      last non-zero frame ${((lastNs - killNs) / 1e6).toFixed(2)} ms after the kill (bound ${((boundNs - killNs) / 1e6).toFixed(2)} ms)`);
  });
});
