/**
 * The control-event queue (src/engine/control-queue.ts): a lock-free single-producer,
 * single-consumer ring in a SharedArrayBuffer, main thread → engine worker (issue 21). Order,
 * wrap-around (of the slots and of the Int32 counts), full, empty, argument checks, and a second
 * thread taking what this one pushed.
 *
 * Then its consumer, the stream bridge (src/engine/hosts/stream-bridge.ts), on the sim board in
 * real time: events stamped at a frame (and at a CLOCK_MONOTONIC time) change exactly that frame
 * of what the device played, START fades in from silence, STOP fades out completely before it is
 * answered, and the trim persists across STOP/START.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { engineForBoard } from '../../src/cli/wiring.ts';
import {
  CONTROL_KIND, CONTROL_WORD, WHEN, controlQueueViews, createControlQueue, pendingControls, pushControl, takeControl,
} from '../../src/engine/control-queue.ts';
import { CMD_CODE, EVENT, type StreamEvent, WORD, createStreamControl, postCommand, streamControlViews, takeEvent } from '../../src/engine/stream-control.ts';
import { SharedMapping } from '../../src/ringbuffer/shm.ts';
import { tsWorker } from '../../src/util/worker.ts';

/** The record pushControl(kind, when, at, value, ramp, id) should come out as. */
type Rec = [number, number, number, number, number, number];

function take(v: ReturnType<typeof controlQueueViews>): Rec | undefined {
  const into = new Float64Array(6);
  return takeControl(v, into) ? ([...into] as Rec) : undefined;
}

describe('control queue (SPSC ring, main thread → engine worker)', () => {
  it('gives records back in the order pushed, every field intact', () => {
    const v = controlQueueViews(createControlQueue());
    assert.equal(v.slots, 1024);
    const recs: Rec[] = [
      [CONTROL_KIND.TRIM, WHEN.FRAME, 48000, 0.5011872336272722, 2400, 1],
      [CONTROL_KIND.FADE_SCALE, WHEN.MONOTONIC_NS, 123456789012345.5, 2, 0, 2],
      [CONTROL_KIND.RAMP_FRAMES, WHEN.NOW, 0, 480, 0, 3],
      [CONTROL_KIND.FADE_RAMP, WHEN.FRAME, -64, 0, 96, 4.25],
    ];
    for (const r of recs) assert.equal(pushControl(v, ...r), true);
    assert.equal(pendingControls(v), 4);
    for (const r of recs) assert.deepEqual(take(v), r);
    assert.equal(take(v), undefined);
    assert.equal(pendingControls(v), 0);
  });

  it('empty: takeControl returns false and leaves the destination alone', () => {
    const v = controlQueueViews(createControlQueue(4));
    const into = new Float64Array(6).fill(7);
    assert.equal(takeControl(v, into), false);
    assert.deepEqual([...into], [7, 7, 7, 7, 7, 7]);
  });

  it('wraps round its slots', () => {
    const v = controlQueueViews(createControlQueue(4));
    let n = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 3; i++) assert.ok(pushControl(v, CONTROL_KIND.TRIM, WHEN.FRAME, n + i, (n + i) / 8, i, n + i));
      for (let i = 0; i < 3; i++) assert.deepEqual(take(v), [CONTROL_KIND.TRIM, WHEN.FRAME, n + i, (n + i) / 8, i, n + i]);
      n += 3;
    }
    assert.equal(Atomics.load(v.header, CONTROL_WORD.WRITE), 30);
    assert.equal(Atomics.load(v.header, CONTROL_WORD.READ), 30);
  });

  it('keeps working when the Int32 counts wrap past 2^31', () => {
    const v = controlQueueViews(createControlQueue(4));
    v.header[CONTROL_WORD.WRITE] = 2147483646;
    v.header[CONTROL_WORD.READ] = 2147483646;
    for (let i = 0; i < 4; i++) assert.ok(pushControl(v, CONTROL_KIND.TRIM, WHEN.NOW, 0, i, 0, 100 + i));
    assert.equal(pushControl(v, CONTROL_KIND.TRIM, WHEN.NOW, 0, 9, 0, 9), false, 'full across the wrap');
    assert.equal(Atomics.load(v.header, CONTROL_WORD.WRITE), -2147483646);
    for (let i = 0; i < 4; i++) assert.deepEqual(take(v), [CONTROL_KIND.TRIM, WHEN.NOW, 0, i, 0, 100 + i]);
    assert.equal(take(v), undefined);
  });

  it('full: refuses the newest record and counts it in DROPPED; room again after a take', () => {
    const v = controlQueueViews(createControlQueue(4));
    for (let i = 0; i < 4; i++) assert.equal(pushControl(v, CONTROL_KIND.FADE_RAMP, WHEN.NOW, 0, 1, 0, i), true);
    assert.equal(pushControl(v, CONTROL_KIND.FADE_RAMP, WHEN.NOW, 0, 1, 0, 4), false);
    assert.equal(pushControl(v, CONTROL_KIND.FADE_RAMP, WHEN.NOW, 0, 1, 0, 5), false);
    assert.equal(Atomics.load(v.header, CONTROL_WORD.DROPPED), 2);
    assert.equal(take(v)![5], 0);
    assert.equal(pushControl(v, CONTROL_KIND.FADE_RAMP, WHEN.NOW, 0, 1, 0, 6), true);
    assert.deepEqual([take(v)![5], take(v)![5], take(v)![5], take(v)![5]], [1, 2, 3, 6]);
    assert.equal(Atomics.load(v.header, CONTROL_WORD.DROPPED), 2);
  });

  it('refuses arguments out of range, naming the field and its range', () => {
    const v = controlQueueViews(createControlQueue(4));
    assert.throws(() => pushControl(v, 9, WHEN.NOW, 0, 1, 0, 1), /kind 9 is not one of CONTROL_KIND \(1, 2, 3, 4, 5, 6, 7, 8\)/);
    // Issue 29's plugin events: a port takes any finite number (negative too), a bypass 0 or 1, a target an integer ≥ 0.
    assert.throws(() => pushControl(v, CONTROL_KIND.PLUGIN_PORT, WHEN.NOW, 0, Number.NaN, 0, 1, 3), /value NaN of a plugin port must be a finite number/);
    assert.throws(() => pushControl(v, CONTROL_KIND.PLUGIN_BYPASS, WHEN.NOW, 0, 0.5, 0, 1, 0), /value 0.5 of a plugin bypass must be 0 or 1/);
    assert.throws(() => pushControl(v, CONTROL_KIND.PLUGIN_PORT, WHEN.NOW, 0, 1, 0, 1, -1), /target -1 must be an integer ≥ 0/);
    // Issue 30's: a MIDI channel message (status 0x80..0xef, 7-bit data) and a program (bank × 2^24 + program).
    assert.equal(pushControl(v, CONTROL_KIND.PLUGIN_MIDI, WHEN.NOW, 0, (0x90 << 16) | (60 << 8) | 100, 0, 1, 0), true);
    assert.throws(() => pushControl(v, CONTROL_KIND.PLUGIN_MIDI, WHEN.NOW, 0, (0xf0 << 16) | (60 << 8) | 100, 0, 1, 0), /of a MIDI message must be status \(0x80..0xef\)/);
    assert.throws(() => pushControl(v, CONTROL_KIND.PLUGIN_MIDI, WHEN.NOW, 0, (0x90 << 16) | (128 << 8), 0, 1, 0), /data bytes 0..127/);
    assert.throws(() => pushControl(v, CONTROL_KIND.PLUGIN_PROGRAM, WHEN.NOW, 0, -1, 0, 1, 0), /of a program must be bank × 2\^24 \+ program/);
    take(v);
    assert.throws(() => pushControl(v, CONTROL_KIND.TRIM, 3, 0, 1, 0, 1), /whenKind 3 is not one of WHEN \(0, 1, 2\)/);
    assert.throws(() => pushControl(v, CONTROL_KIND.TRIM, WHEN.FRAME, 1.5, 1, 0, 1), /at 1.5 must be an integer frame position/);
    assert.throws(() => pushControl(v, CONTROL_KIND.TRIM, WHEN.MONOTONIC_NS, Number.NaN, 1, 0, 1), /at NaN must be a finite number/);
    assert.throws(() => pushControl(v, CONTROL_KIND.TRIM, WHEN.NOW, 0, -0.5, 0, 1), /value -0.5 must be a finite linear gain ≥ 0/);
    assert.throws(() => pushControl(v, CONTROL_KIND.RAMP_FRAMES, WHEN.NOW, 0, 2.5, 0, 1), /value 2.5 must be an integer number of frames ≥ 0/);
    assert.throws(() => pushControl(v, CONTROL_KIND.TRIM, WHEN.NOW, 0, 1, -1, 1), /rampFrames -1 must be an integer ≥ 0/);
    assert.throws(() => pushControl(v, CONTROL_KIND.TRIM, WHEN.NOW, 0, 1, 0, Infinity), /id Infinity must be a finite number/);
    assert.equal(pendingControls(v), 0, 'nothing refused reached the ring');
    assert.equal(Atomics.load(v.header, CONTROL_WORD.DROPPED), 0, 'and nothing was counted as dropped');
    assert.ok(pushControl(v, CONTROL_KIND.PLUGIN_PORT, WHEN.NOW, 0, -12.5, 0, 1, 3), 'a plugin port takes a negative value');
    assert.equal(pendingControls(v), 1);
    assert.throws(() => createControlQueue(1000), /slots is 1000; it must be a power of two/);
    assert.throws(() => controlQueueViews(new SharedArrayBuffer(64)), /not made by createControlQueue/);
  });

  it('a second thread takes what this thread pushed, in order and intact', async function () {
    this.timeout(30000);
    const N = 20000;
    const sab = createControlQueue(64);
    const v = controlQueueViews(sab);
    const consumer = `
      import { workerData, parentPort } from 'node:worker_threads';
      const q = await import(${JSON.stringify(new URL('../../src/engine/control-queue.ts', import.meta.url).href)});
      const v = q.controlQueueViews(workerData.sab);
      const into = new Float64Array(6);
      const got = new Float64Array(workerData.n * 6);
      const idle = new Int32Array(new SharedArrayBuffer(4));
      for (let k = 0; k < workerData.n; ) {
        if (q.takeControl(v, into)) { got.set(into, k * 6); k++; } else Atomics.wait(idle, 0, 0, 1);
      }
      parentPort.postMessage(got);
    `;
    const w = tsWorker(new URL(`data:text/javascript,${encodeURIComponent(consumer)}`), { workerData: { sab, n: N } });
    const done = once(w, 'message');
    const expected = (i: number): Rec => {
      const when = i % 3;
      const kind = 1 + (i % 4);
      return [kind, when, when === WHEN.FRAME ? i : i * 1e6 + 0.25, kind === CONTROL_KIND.RAMP_FRAMES ? i : i / 7, i % 100, i * 3];
    };
    let refused = 0;
    let got: Float64Array;
    try {
      for (let i = 0; i < N; ) {
        if (pushControl(v, ...expected(i))) i++;
        else {
          refused++;
          await new Promise((r) => setImmediate(r));
        }
      }
      [got] = (await done) as [Float64Array];
    } finally {
      await w.terminate(); // a consumer still waiting would keep mocha alive
    }
    for (let i = 0; i < N; i++) assert.deepEqual([...got.subarray(i * 6, i * 6 + 6)], expected(i), `record ${i}`);
    assert.ok(refused > 0, 'the ring was full at times (the consumer started late): the full path ran concurrently too');
    assert.equal(Atomics.load(v.header, CONTROL_WORD.DROPPED), refused);
    assert.equal(pendingControls(v), 0);
  });
});

describe('stream bridge: control events at their frame, start/stop fade (sim board, real time)', function () {
  this.timeout(60000);

  it('a trim at frame F (and at a monotonic time) changes exactly that frame; START fades in, STOP fades out before its answer', async () => {
    // A run whose engine underran (a starved machine: this engine runs without SCHED_FIFO) loses the
    // periods it computed before the restart, fades included: the recording cannot show the shapes.
    // Such a run is made again, up to five in all (CI runs beside other work); a failure without an underrun fails at once.
    for (let attempt = 1; ; attempt++) {
      const seen = { underruns: 0 };
      try {
        await fadeAndTrimRun(seen);
        return;
      } catch (e) {
        if (seen.underruns === 0 || attempt >= 5) throw e;
        console.log(`      run ${attempt}: ${seen.underruns} underrun(s) on a loaded machine (${(e as Error).message.split('\n')[0]}); again`);
      }
    }
  });
});

async function fadeAndTrimRun(seen: { underruns: number }): Promise<void> {
  {
    const RING = 1000;
    const RATE = 48000;
    const nsPerFrame = 1e9 / RATE;
    const { driver } = await engineForBoard('sim', { simClock: 'monotonic' });
    const dev = await driver.open('speaker');
    const config = await dev.negotiate({ bufferFrames: 64, rate: RATE, format: 'i16', interleaved: true, inputChannels: 0, outputChannels: 2, periods: 4 });
    assert.equal(config.bufferFrames, 64);
    // The client's buffer: channel 0 says which frame it is (1000 + 16 · (n mod 1000)), channel 1
    // is a constant 20000 that shows the gain.
    const name = `/sbc-audio-control-test-${process.pid}`;
    const m = SharedMapping.create(name, RING * 4, 0o600);
    const client = new Int16Array(m.buffer);
    for (let n = 0; n < RING; n++) {
      client[2 * n] = 1000 + 16 * n;
      client[2 * n + 1] = 20000;
    }
    const control = createStreamControl();
    const v = streamControlViews(control);
    const controls = createControlQueue(64);
    const q = controlQueueViews(controls);
    const events: StreamEvent[] = [];
    const drain = () => {
      for (let e = takeEvent(v); e; e = takeEvent(v)) events.push(e);
    };
    const waitFor = async <T>(what: string, f: () => T | undefined): Promise<T> => {
      const end = Date.now() + 10000;
      for (;;) {
        drain();
        const x = f();
        if (x !== undefined) return x;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(1);
      }
    };
    const ack = (seq: number) => waitFor(`the answer to command ${seq}`, () => events.find((e) => e.type === EVENT.ACK && e.a === seq));
    const applied = (id: number) => waitFor(`control event ${id} applied`, () => events.find((e) => e.type === EVENT.CONTROL_APPLIED && e.a === id));
    try {
      const setBuffer = postCommand(v, CMD_CODE.SET_BUFFER, { path: name, frames: RING, notify: 4 });
      await dev.start(config, {
        path: 'src/engine/hosts/stream-bridge.ts',
        options: { control, direction: 'output', fifoFrames: config.periods * 64, controls, rampFrames: 480 },
      }, { realtime: false, sim: { recordFrames: RATE * 5 } });
      assert.equal((await ack(setBuffer)).b, 0);
      const start = await ack(postCommand(v, CMD_CODE.START));
      assert.equal(start.b, 0);
      const startNs = start.time;

      // Where the reader is now: a NOW event reports the first frame of the period that took it.
      assert.ok(pushControl(q, CONTROL_KIND.TRIM, WHEN.NOW, 0, 1, 0, 1));
      const now = (await applied(1)).b;
      // F: 37 frames into a period 1000 periods (1.33 s) ahead; G: 2411 frames later, as a time.
      // (Far ahead: a main thread held up longer than the lead pushes the event after F was
      // rendered, and it lands late without any underrun — seen once in CI at 100 periods.)
      // (Periods start at `now`'s grid: a multiple of 64 unless an underrun on a loaded machine
      // moved the engine's period boundaries; F lands exactly either way.)
      const F = now + 1000 * 64 + 37;
      const G = F + 2411;
      assert.ok(pushControl(q, CONTROL_KIND.TRIM, WHEN.FRAME, F, 0.5, 0, 2));
      assert.ok(pushControl(q, CONTROL_KIND.TRIM, WHEN.MONOTONIC_NS, startNs + G * nsPerFrame, 0.25, 0, 3));
      const atF = await applied(2);
      const atG = await applied(3);
      assert.equal(atF.b, F);
      assert.equal(atG.b, G);
      assert.ok(Math.abs(atF.time - (startNs + F * nsPerFrame)) < 1, `reported time of F: ${atF.time - startNs} ns after start_time`);
      assert.ok(Math.abs(atG.time - (startNs + G * nsPerFrame)) < 1);

      const stop = await ack(postCommand(v, CMD_CODE.STOP));
      assert.equal(stop.b, 0);
      assert.equal(Atomics.load(v.words, WORD.RUNNING), 0);
      // After the answer the host does not read the buffer: new content shows only after START.
      for (let n = 0; n < RING; n++) client[2 * n + 1] = 30000;
      // Not running: events apply at once (frame −1); RAMP_FRAMES sets the next fade-in's length.
      assert.ok(pushControl(q, CONTROL_KIND.RAMP_FRAMES, WHEN.FRAME, 12345, 240, 0, 4));
      assert.equal((await applied(4)).b, -1);
      assert.equal((await ack(postCommand(v, CMD_CODE.START))).b, 0);
      await sleep(100);
      await dev.stop();
      const r = await dev.finished;
      seen.underruns = r.underruns;
      drain();
      assert.equal(Atomics.load(q.header, CONTROL_WORD.APPLIED_COUNT), 4);

      const rec = new Int16Array(r.record!.buffer, r.record!.byteOffset, r.record!.byteLength / 2);
      const frames = rec.length / 2;
      const ch0 = (i: number) => rec[2 * i]!;
      const ch1 = (i: number) => rec[2 * i + 1]!;
      const find = (from: number, p: (i: number) => boolean, what: string) => {
        for (let i = from; i < frames; i++) if (p(i)) return i;
        throw new Error(`${what}: not found in ${frames} recorded frames after ${from}`);
      };
      const near = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 1, `${what}: ${got}, expected ${want} ± 1`);
      const noXrun = r.underruns === 0;
      // Without an underrun before it, the NOW event's frame is a period's first (a multiple of 64).
      if (noXrun) assert.equal(now % 64, 0, `a NOW event applies at a period's first frame (${now})`);

      // START: frame 0 is the first sound, the gate rises linearly over 480 frames to exactly 1.
      const i0 = find(0, (i) => ch1(i) !== 0, 'the first START');
      for (let k = 0; k < 480; k++) near(ch1(i0 + k), (20000 * (k + 1)) / 480, `fade-in frame ${k}`);
      near(ch0(i0), 1000 / 480, 'frame 0 of the buffer, at gain 1/480');
      assert.equal(ch1(i0 + 479), 20000);
      assert.equal(ch0(i0 + 479), 1000 + 16 * 479);

      // The trim to 0.5 lands on frame F exactly (channel 0 tells the frame), F − 1 untouched.
      const iF = find(i0 + 480, (i) => ch1(i) === 10000, 'the trim at F');
      assert.equal(ch1(iF - 1), 20000);
      assert.equal(ch0(iF - 1), 1000 + 16 * ((F - 1) % RING));
      assert.equal(ch0(iF), 500 + 8 * (F % RING));
      const iG = find(iF, (i) => ch1(i) === 5000, 'the trim at G');
      assert.equal(ch1(iG - 1), 10000);
      assert.equal(ch0(iG - 1), 500 + 8 * ((G - 1) % RING));
      assert.equal(ch0(iG), 250 + 4 * (G % RING));
      if (noXrun) assert.deepEqual([iF - i0, iG - i0], [F, G], 'recorded frame = stream frame');

      // STOP: from the first frame of the period that took it, down over 480 frames to exactly 0.
      const iS = find(iG, (i) => ch1(i) !== 5000, 'the STOP fade');
      for (let k = 0; k < 480; k++) near(ch1(iS + k), 5000 * (1 - (k + 1) / 480), `fade-out frame ${k}`);
      assert.ok(ch1(iS + 478) > 0);
      assert.equal(ch1(iS + 479), 0);
      const i1 = find(iS + 480, (i) => ch1(i) !== 0 || ch0(i) !== 0, 'the second START');
      if (noXrun) {
        const S = iS - i0;
        assert.equal(S % 64, 0, `the fade-out starts at a period boundary (${S})`);
        // The answer came from the period that read the fade's last frame (S + 479), the one that
        // starts at S + 448: the period due at t reads from frame (t − start_time)/ns_per_frame +
        // fifo − period. Times are measured (the wake-up less its lateness), so within a few
        // frames; a period earlier or later is 64 frames off.
        const readFrom = Math.round((stop.time - startNs) / nsPerFrame) + config.periods * 64 - 64;
        assert.ok(Math.abs(readFrom - (S + 448)) <= 4, `STOP answered by the period reading from frame ${readFrom}; the fade's last period reads from ${S + 448}`);
      }

      // Second START: silence before it; the trim (0.25) persisted; the buffer's new content
      // (30000) shows; the fade-in is 240 frames (RAMP_FRAMES).
      for (let k = 0; k < 240; k++) near(ch1(i1 + k), (7500 * (k + 1)) / 240, `second fade-in frame ${k}`);
      assert.ok(ch1(i1 + 238) < 7500);
      assert.equal(ch1(i1 + 239), 7500);
      assert.equal(ch0(i1 + 239), 250 + 4 * 239);
    } finally {
      await dev.stop().catch(() => undefined);
      m.close();
      rmSync(`/dev/shm${name}`, { force: true });
    }
  }
}
