/**
 * `sbc-audio play` and `record` as protocol clients of an in-process service on the sim board
 * (real time: the clients pace themselves on CLOCK_MONOTONIC). Nothing here asserts timing: the
 * played record must hold the tone bit-exact, the recorded file the sim microphone's sine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { playCommand } from '../../src/cli/commands/play.ts';
import { recordCommand } from '../../src/cli/commands/record.ts';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import type { EngineReport } from '../../src/engine/types.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { toneSamples } from '../../src/stream/player.ts';
import { parseWav } from '../../src/stream/wav.ts';

describe('sbc-audio play / record through the stream service (sim board)', function () {
  this.timeout(30000);
  let dir: string;
  let rt: BoardRuntime;
  let svc: StreamService;
  const reports: { endpoint: string; report: EngineReport }[] = [];
  const io = () => {
    const out: string[] = [];
    return { out, io: { out: (s: string) => out.push(s), err: (s: string) => out.push(s), isTTY: false } };
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-play-'));
    rt = await openBoard(loadBoard('sim'));
    // Ramps off: this checks R-RB-11's bit for bit from the tone's first frame (with the default
    // 50 ms ramp its first 2400 frames would be faded in; tests/unit/pop-free.test.ts listens to that).
    svc = await startStreamService(rt, { runtimeDir: dir, rampMs: 0, ringBuffer: { recordFrames: 48000 * 10, lingerMs: 50, onReport: (endpoint, report) => reports.push({ endpoint, report }) } });
  });
  after(async () => {
    await svc?.close();
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('play --tone: the PCM plays the tone\'s samples exactly, and one line is printed when not a terminal', async () => {
    // A play during which the engine reported an underrun (a machine too busy to run it in time)
    // cannot be bit-exact and proves nothing either way: at most four more are made (CI runs beside other work). The last one
    // is checked; without an underrun it must be exact.
    let report: EngineReport | undefined;
    for (let attempt = 1; attempt <= 5; attempt++) {
      reports.length = 0;
      const { out, io: cli } = io();
      const code = await playCommand.run(['--tone', '--freq', '1000', '--seconds', '0.5', '--level', '-6', '--stream', 'sim.speaker', '--runtime-dir', dir], cli);
      assert.equal(code, 0);
      assert.equal(out.length, 1);
      assert.match(out[0]!, /^played a 1000 Hz tone: 0\.50 s at 48000 Hz, 2 ch, to .*sim\.speaker$/);
      for (let i = 0; i < 200 && !reports.some((r) => r.endpoint === 'sim.speaker'); i++) await new Promise((r) => setTimeout(r, 10));
      report = reports.find((r) => r.endpoint === 'sim.speaker')!.report;
      if (report.underruns === 0) break;
      console.log(`      (attempt ${attempt}: ${report.underruns} underruns reported by the engine; again)`);
    }
    const { record: rec, underruns } = report!;
    const played = new Int16Array(rec!.buffer, rec!.byteOffset, rec!.byteLength / 2);
    const tone = toneSamples(1000, 0.5, 48000, 2, -6);
    // Where the tone lies in the record: its first non-zero frame is the tone's frame k, the one
    // frame of the first period (48 frames of 1000 Hz) whose two frames from there match (frame 0
    // is sin 0 = 0). k is 1 unless an underrun took the start away. Frame n plays at
    // start_time + n / rate (R-RB-11), so every frame of the tone is at that one offset.
    const first = played.findIndex((v) => v !== 0);
    assert.ok(first > 0, 'the tone is in the record');
    const firstFrame = first - (first % 2);
    let k = 1;
    while (k < 48 && [0, 1, 2, 3].some((j) => played[firstFrame + j] !== tone[2 * k + j])) k++;
    assert.ok(k < 48, `the record's first frames (${played.subarray(firstFrame, firstFrame + 4).join(', ')}) are not the tone's`);
    const start = firstFrame - 2 * k;
    // Bit for bit. Only where the engine reported an underrun (a machine too busy to run it in
    // time) may frames be missing, and then as silence, never as other samples.
    let missing = 0;
    for (let i = 0; i < tone.length; i++) {
      if (played[start + i] === tone[i]) continue;
      assert.ok(underruns > 0 && (played[start + i] ?? 0) === 0, `sample ${i}: ${played[start + i]} vs ${tone[i]} (${underruns} underruns reported)`);
      missing++;
    }
    assert.ok(missing < tone.length / 10, `${missing} of ${tone.length} samples missing (${underruns} underruns)`);
  });

  it('record: a WAV file of the sim microphone (a 440 Hz sine at 1/4 of full scale)', async () => {
    const { out, io: cli } = io();
    const file = path.join(dir, 'mic.wav');
    const code = await recordCommand.run([file, '--seconds', '0.5', '--runtime-dir', dir], cli);
    assert.equal(code, 0);
    assert.match(out[0]!, /^recorded 0\.50 s at 48000 Hz, 2 ch from .*sim\.mic into /);
    const w = parseWav(new Uint8Array(readFileSync(file)));
    assert.deepEqual([w.rate, w.channels, w.samples.length], [48000, 2, 48000]);
    let peak = 0;
    let crossings = 0;
    for (let i = 2; i < w.samples.length; i += 2) {
      peak = Math.max(peak, Math.abs(w.samples[i]!));
      if ((w.samples[i - 2]! < 0) !== (w.samples[i]! < 0)) crossings++;
    }
    assert.ok(peak > 8000 && peak < 8300, `peak ${peak} (0.25 × 32767 = 8192)`);
    assert.ok(crossings > 400 && crossings < 480, `${crossings} zero crossings in 0.5 s of 440 Hz`);
  });
});
