/**
 * Level meters per stream (issue 24): the engine's meter block (src/engine/meters.ts), its reader
 * (src/stream/levels.ts) and EngineRingBuffer.levels() on the `sim` board served on a virtual clock.
 *
 * Expected values are literals: a 1 kHz cosine at half of full scale (16-bit 16384) peaks at
 * 20·log10(0.5) = −6.02 dBFS and, a sine's mean square being half its peak's square, has an RMS
 * 3.01 dB lower: −9.03 dBFS; a trim of −20 dB moves both by −20 dB. Full scale is 1.0 in every
 * sample format: i16 −32768, i32 −2147483648 and f32 −1.0 all peak at 1.0 (0 dBFS).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import { METER, METER_SEQ, MeterWriter, TAKE_ATTEMPTS, createMeterViews, takeMeters } from '../../src/engine/meters.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { MappedRingBuffer, StreamClient } from '../../src/stream/client.ts';
import { LevelMeter, PeakBallistics, releasePeak } from '../../src/stream/levels.ts';
import { startStreamService } from '../../src/stream/service.ts';
import { STATUS } from '../../src/stream/wire.ts';
import { tsWorker } from '../../src/util/worker.ts';
import type { LevelReading } from '../../src/web/source.ts';

const near = (got: number, want: number, tol: number, what: string) =>
  assert.ok(Math.abs(got - want) <= tol, `${what}: ${got.toFixed(3)}, expected ${want} ± ${tol}`);

/** A clock the test moves by hand. */
function handClock(ns = 0) {
  return { ns, nowNs() { return this.ns; } };
}

describe('level meters: the engine block (src/engine/meters.ts)', () => {
  it('full scale is 1.0 in every format: i16 −32768, i32 −2^31, f32 −1.0 peak at 1.0', () => {
    const cases = [
      ['i16', Int16Array.from([-32768, 16384, 16384, -8192])],
      ['i32', Int32Array.from([-2147483648, 1073741824, 1073741824, -536870912])],
      ['f32', Float32Array.from([-1, 0.5, 0.5, -0.25])],
    ] as const;
    for (const [format, buf] of cases) {
      const m = createMeterViews();
      new MeterWriter(m, 2, format).add(buf, 2);
      const out = new Float64Array(METER.SIZE);
      assert.equal(takeMeters(m, out).state, 'taken');
      assert.equal(out[METER.FRAMES], 2, format);
      assert.equal(out[METER.PEAK], 1, `${format}: channel 0 peak`);
      assert.equal(out[METER.PEAK + 1], 0.5, `${format}: channel 1 peak`);
      assert.equal(out[METER.SUMSQ], 1 + 0.25, `${format}: channel 0 sum of squares`);
      assert.equal(out[METER.SUMSQ + 1], 0.25 + 0.0625, `${format}: channel 1 sum of squares`);
    }
  });

  it('periods accumulate until a take; a take starts a new window; nothing new reads as unchanged', () => {
    const m = createMeterViews();
    const w = new MeterWriter(m, 1, 'i16');
    const out = new Float64Array(METER.SIZE);
    w.add(Int16Array.from([16384, 0]), 2);
    w.add(Int16Array.from([-8192, 8192, 0]), 3);
    assert.equal(takeMeters(m, out).state, 'taken');
    assert.deepEqual([out[METER.FRAMES], out[METER.PEAK], out[METER.SUMSQ]], [5, 0.5, 0.25 + 0.0625 + 0.0625]);
    assert.equal(takeMeters(m, out).state, 'unchanged', 'no period since the take');
    w.add(Int16Array.from([4096]), 1);
    assert.equal(takeMeters(m, out).state, 'taken');
    // The earlier 0.5 peak and 5 frames are not in the new window.
    assert.deepEqual([out[METER.FRAMES], out[METER.PEAK], out[METER.SUMSQ]], [1, 0.125, 0.015625]);
  });

  it('refuses channels outside 1..8 and names the field', () => {
    assert.throws(() => new MeterWriter(createMeterViews(), 9, 'i16'), /channels is 9; it must be an integer from 1 to 8/);
    assert.throws(() => new MeterWriter(createMeterViews(), 0, 'i16'), /channels is 0/);
  });

  describe('the seqlock reader, against a fake writer', () => {
    /** A writer by hand: the same protocol as MeterWriter, one step at a time. */
    function fakeWriter(m: ReturnType<typeof createMeterViews>) {
      let n = 0;
      let taken = false;
      return {
        begin() {
          taken = (Atomics.exchange(m.words, m.seqAt, (n << 2) | METER_SEQ.WRITING) & METER_SEQ.TAKEN) !== 0;
          if (taken) m.block.fill(0, METER.FRAMES);
        },
        /** Writes one field of a period of `frames` frames at a constant `level` on channel 0. */
        frames(frames: number) { m.block[METER.FRAMES] = m.block[METER.FRAMES]! + frames; },
        level(frames: number, level: number) {
          m.block[METER.PEAK] = Math.max(m.block[METER.PEAK]!, level);
          m.block[METER.SUMSQ] = m.block[METER.SUMSQ]! + frames * level * level;
        },
        end() { n++; Atomics.store(m.words, m.seqAt, n << 2); },
        period(frames: number, level: number) { this.begin(); this.frames(frames); this.level(frames, level); this.end(); },
      };
    }

    it('a period written between the copy and the check: the torn copy is thrown away and the read retried', () => {
      const m = createMeterViews();
      m.block[METER.CHANNELS] = 1;
      const w = fakeWriter(m);
      w.period(100, 0.5);
      const out = new Float64Array(METER.SIZE);
      let calls = 0;
      let firstCopy: number[] = [];
      // On the first attempt the writer gets as far as the frames of a new period, then (as a
      // preempted reader would see it) the reader checks; the writer finishes before the retry.
      const r = takeMeters(m, out, () => {
        if (calls++ > 0) return;
        firstCopy = [out[METER.FRAMES]!, out[METER.PEAK]!, out[METER.SUMSQ]!];
        w.begin();
        w.frames(100);
        // A reader without the check would return this mix: 200 frames with one period's level.
        const torn = [m.block[METER.FRAMES]!, m.block[METER.PEAK]!, m.block[METER.SUMSQ]!];
        assert.deepEqual(torn, [200, 0.5, 25], 'the negative control: the block is torn mid-update');
        w.level(100, 0.25);
        w.end();
      });
      assert.equal(r.state, 'taken');
      assert.equal(r.attempts, 2, 'the first attempt failed its check');
      assert.deepEqual(firstCopy, [100, 0.5, 25], 'the first copy was of the state before');
      assert.deepEqual([out[METER.FRAMES], out[METER.PEAK], out[METER.SUMSQ]], [200, 0.5, 25 + 6.25], 'the retry copied both periods, whole');
      // And the take holds: the writer's next period starts a new window.
      w.period(10, 0.125);
      assert.equal(takeMeters(m, out).state, 'taken');
      assert.deepEqual([out[METER.FRAMES], out[METER.PEAK], out[METER.SUMSQ]], [10, 0.125, 0.15625]);
    });

    it('a writer stuck inside its update: busy after the tries, nothing taken, nothing lost', () => {
      const m = createMeterViews();
      const w = fakeWriter(m);
      w.period(100, 0.5);
      w.begin();
      w.frames(50);
      const out = new Float64Array(METER.SIZE);
      const r = takeMeters(m, out);
      assert.deepEqual(r, { state: 'busy', attempts: TAKE_ATTEMPTS });
      w.level(50, 0.5);
      w.end();
      assert.equal(takeMeters(m, out).state, 'taken');
      assert.deepEqual([out[METER.FRAMES], out[METER.SUMSQ]], [150, 37.5], 'both periods, none dropped');
    });
  });

  it('across threads: every take is whole, and the takes add up to what the writer wrote', async function () {
    this.timeout(30000);
    const m = createMeterViews();
    const PERIODS = 200000;
    // The writer thread: 8 channels of the same constant per period (1..100 / 128 of full scale,
    // cycling), so in a whole take every channel's peak and sum are equal.
    const writer = `
      import { workerData, parentPort } from 'node:worker_threads';
      const { MeterWriter } = await import(${JSON.stringify(new URL('../../src/engine/meters.ts', import.meta.url).href)});
      const w = new MeterWriter({ words: new Int32Array(workerData.seq), seqAt: 0, block: new Float64Array(workerData.block) }, 8, 'i16');
      const buf = new Int16Array(16 * 8);
      let frames = 0;
      for (let k = 0; k < workerData.periods; k++) {
        buf.fill(256 * (1 + (k % 100)));
        w.add(buf, 16);
        frames += 16;
      }
      parentPort.postMessage(frames);
    `;
    const worker = tsWorker(new URL(`data:text/javascript,${encodeURIComponent(writer)}`), { workerData: { seq: m.words.buffer, block: m.block.buffer, periods: PERIODS } });
    const done = once(worker, 'message');
    let finished = false;
    void done.then(() => { finished = true; });
    const out = new Float64Array(METER.SIZE);
    let frames = 0;
    let sum = 0;
    let takes = 0;
    let retried = 0;
    try {
      for (;;) {
        const last = finished;
        const r = takeMeters(m, out);
        if (r.attempts > 1) retried++;
        if (r.state === 'taken') {
          takes++;
          frames += out[METER.FRAMES]!;
          sum += out[METER.SUMSQ]!;
          for (let c = 1; c < 8; c++) {
            assert.equal(out[METER.PEAK + c], out[METER.PEAK], `take ${takes}: channel ${c}'s peak differs from channel 0's: a torn copy`);
            assert.equal(out[METER.SUMSQ + c], out[METER.SUMSQ], `take ${takes}: channel ${c}'s sum differs from channel 0's: a torn copy`);
          }
        }
        if (last) break;
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      await worker.terminate();
    }
    const [written] = (await done) as [number];
    assert.equal(frames, written, 'no frame lost or counted twice across the takes');
    assert.equal(written, PERIODS * 16);
    // Σ over periods of 16 · (k/128)² for k cycling 1..100: exact in doubles (multiples of 2^-10).
    let want = 0;
    for (let k = 0; k < PERIODS; k++) want += 16 * ((1 + (k % 100)) / 128) ** 2;
    near(sum, want, want * 1e-12, 'channel 0 sum of squares over all takes');
    assert.ok(takes > 1, `${takes} takes while the writer ran`);
    console.log(`      ${takes} takes, ${retried} retried`);
  });
});

describe('level readings (src/stream/levels.ts)', () => {
  it('peak and RMS dBFS over the window; frames 0 reads −Infinity; digital zero reads −Infinity', () => {
    const m = createMeterViews();
    const w = new MeterWriter(m, 2, 'i16');
    const clock = handClock(1e9);
    const meter = new LevelMeter('speaker', 2, m, clock);
    w.add(Int16Array.from([16384, 0, -16384, 0, 16384, 0, -16384, 0]), 4);
    let r = meter.read();
    assert.equal(r.frames, 4);
    near(r.peakDb[0]!, -6.02, 0.005, 'peak of ±16384');
    near(r.rmsDb[0]!, -6.02, 0.005, 'RMS of a ±16384 square wave');
    assert.equal(r.peakDb[1], -Infinity, 'digital zero');
    assert.equal(r.rmsDb[1], -Infinity, 'digital zero');
    clock.ns += 1e9;
    r = meter.read();
    assert.deepEqual(r, { stream: 'speaker', atNs: 2e9, frames: 0, peakDb: [-Infinity, -Infinity], rmsDb: [-Infinity, -Infinity] });
  });

  it('the rate cap: within minIntervalNs the last reading comes again and the frames wait for the next', () => {
    const m = createMeterViews();
    const w = new MeterWriter(m, 1, 'i16');
    const clock = handClock(0);
    const meter = new LevelMeter('speaker', 1, m, clock, { minIntervalNs: 50e6 });
    w.add(Int16Array.from([16384]), 1);
    const a = meter.read();
    w.add(Int16Array.from([32767, 32767]), 2);
    clock.ns = 49e6;
    assert.equal(meter.read(), a, 'the same reading, 49 ms later');
    clock.ns = 50e6;
    const b = meter.read();
    assert.equal(b.frames, 2, 'the frames written meanwhile, all in the next reading');
    near(b.peakDb[0]!, -0.0003, 0.0001, 'peak of 32767');
  });

  it('floorDb: levels below it read −Infinity', () => {
    const m = createMeterViews();
    const w = new MeterWriter(m, 1, 'i16');
    const meter = new LevelMeter('speaker', 1, m, handClock(0), { floorDb: -80 });
    w.add(Int16Array.from([1, -1]), 2); // −90.3 dBFS
    assert.deepEqual(meter.read().peakDb, [-Infinity]);
    assert.throws(() => new LevelMeter('x', 9, m, handClock()), /channels is 9; it must be an integer from 1 to 8/);
    assert.throws(() => new LevelMeter('x', 1, m, handClock(), { minIntervalNs: -1 }), /minIntervalNs is -1/);
  });

  describe('peak ballistics: instant attack, release in dB/s', () => {
    it('releasePeak with literal numbers', () => {
      assert.equal(releasePeak(-6, -Infinity, 0.5, 20), -16, 'silence for 0.5 s at 20 dB/s: 10 dB down');
      assert.equal(releasePeak(-6, -30, 1, 20), -26, 'a quieter window: the fall, not the window');
      assert.equal(releasePeak(-6, -12, 0.1, 20), -8);
      assert.equal(releasePeak(-6, -7, 0.1, 20), -7, 'the window is above the fall: the window');
      assert.equal(releasePeak(-40, -3, 0.05, 20), -3, 'attack is instant');
      assert.equal(releasePeak(-6, -Infinity, 0.25, 8), -8);
    });

    it('on a meter: the held peak falls at 20 dB/s after the tone stops; without ballistics it drops to −Infinity (control)', () => {
      const reading = (atNs: number, db: number): LevelReading => ({ stream: 's', atNs, frames: 1, peakDb: [db], rmsDb: [db] });
      const b = new PeakBallistics();
      assert.equal(b.releaseDbPerS, 20);
      assert.deepEqual(b.apply(reading(0, -6)).peakDb, [-6]);
      assert.deepEqual(b.apply(reading(100e6, -Infinity)).peakDb, [-8]);
      assert.deepEqual(b.apply(reading(600e6, -Infinity)).peakDb, [-18]);
      assert.deepEqual(b.apply(reading(650e6, -3)).peakDb, [-3], 'attack');
      assert.deepEqual(b.apply(reading(650e6, -50)).rmsDb, [-50], 'RMS is the window\'s');

      for (const ballistics of [true, false]) {
        const m = createMeterViews();
        const w = new MeterWriter(m, 1, 'i16');
        const clock = handClock(0);
        const meter = new LevelMeter('s', 1, m, clock, { ballistics, floorDb: -60 });
        w.add(Int16Array.from([16384]), 1);
        near(meter.read().peakDb[0]!, -6.02, 0.005, 'the tone');
        clock.ns = 1e9;
        const after = meter.read();
        assert.equal(after.frames, 0);
        if (ballistics) near(after.peakDb[0]!, -26.02, 0.005, 'one second of silence later, held');
        else assert.equal(after.peakDb[0], -Infinity, 'control: no ballistics, the window\'s peak');
        clock.ns = 3e9;
        assert.equal(meter.read().peakDb[0], -Infinity, `${ballistics ? 'fallen below the −60 dB floor' : 'still silent'}`);
      }
      assert.throws(() => new PeakBallistics(0), /releaseDbPerS is 0; it must be a number of dB\/s > 0/);
    });
  });
});

describe('EngineRingBuffer.levels() on the sim board (virtual clock): a 1 kHz tone at −6.02 dBFS through the service', function () {
  this.timeout(60000);

  it('floor before START, −6.02 / −9.03 dBFS while it plays, −20 dB with the trim at −20 dB, floor after STOP', async () => {
    const RATE = 48000;
    const clock = new VirtualClock(1e9, true);
    const rt = await openBoard(loadBoard('sim'), { clock });
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-levels-'));
    const service = await startStreamService(rt, { runtimeDir });
    let client: StreamClient | undefined;
    try {
      client = await StreamClient.connect(service.endpoints.find((e) => e.name === 'sim.speaker')!.path);
      const f = await client.setFormat({ fps: RATE, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
      assert.equal(f.result, STATUS.OK);
      const rb = await client.openRingBuffer(f.token!);
      const b = await rb.getBuffer(RATE, 0);
      assert.equal(b.result, STATUS.OK);
      assert.equal(b.frames, RATE, 'one second: the tone repeats seamlessly');
      const tone = new Int16Array(RATE * 2);
      for (let n = 0; n < RATE; n++) tone[2 * n] = tone[2 * n + 1] = Math.round(16384 * Math.cos((2 * Math.PI * 1000 * n) / RATE));
      const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, 4);
      ring.write(0, new Uint8Array(tone.buffer));
      ring.close();
      const engine = [...service.ringBuffers].find((e) => e.endpoint === 'sim.speaker');
      assert.ok(engine, 'the speaker has an engine');

      const floor = (r: LevelReading | undefined, what: string) => {
        assert.ok(r, `${what}: a reading`);
        assert.equal(r.stream, 'speaker');
        assert.equal(r.frames, 0, `${what}: no frames`);
        assert.deepEqual([...r.peakDb, ...r.rmsDb], [-Infinity, -Infinity, -Infinity, -Infinity], `${what}: the floor`);
      };
      floor(engine.levels(), 'before START');
      await clock.sleepUntilNs(clock.nowNs() + 100e6);
      floor(engine.levels(), 'before START, 100 ms later');

      const st = await rb.start();
      assert.equal(st.result, STATUS.OK);
      const t0 = st.startTimeNs;
      /** Reads over (from, to] after start_time: one reading to open the window, one to close it. */
      const window = async (fromNs: number, toNs: number) => {
        await clock.sleepUntilNs(t0 + fromNs);
        engine.levels();
        await clock.sleepUntilNs(t0 + toNs);
        return engine.levels()!;
      };
      // Past the start fade (50 ms): 200 ms of the tone.
      const loud = await window(100e6, 300e6);
      near(loud.frames, 9600, 256, 'frames in 200 ms');
      for (let c = 0; c < 2; c++) {
        near(loud.peakDb[c]!, -6.02, 0.1, `channel ${c} peak while the tone plays`);
        near(loud.rmsDb[c]!, -9.03, 0.1, `channel ${c} RMS while the tone plays`);
      }
      console.log(`      tone: peak ${loud.peakDb.map((x) => x.toFixed(3))} dBFS, RMS ${loud.rmsDb.map((x) => x.toFixed(3))} dBFS over ${loud.frames} frames`);

      // The engine's trim (after which the meter sits) to −20 dB; its 50 ms ramp is over by 500 ms.
      await service.controls.set('sim.speaker.trim', -20);
      const quiet = await window(500e6, 700e6);
      for (let c = 0; c < 2; c++) {
        near(quiet.peakDb[c]! - loud.peakDb[c]!, -20, 0.1, `channel ${c} peak moved by the trim`);
        near(quiet.rmsDb[c]! - loud.rmsDb[c]!, -20, 0.1, `channel ${c} RMS moved by the trim`);
      }
      console.log(`      trim −20 dB: peak ${quiet.peakDb.map((x) => x.toFixed(3))} dBFS, RMS ${quiet.rmsDb.map((x) => x.toFixed(3))} dBFS`);

      const sp = await rb.stop();
      assert.equal(sp.result, STATUS.OK);
      const last = engine.levels()!;
      assert.ok(last.frames > 0, 'the frames up to the STOP (its fade) come in one more reading');
      await clock.sleepUntilNs(clock.nowNs() + 100e6);
      floor(engine.levels(), 'after STOP');
      await rb.close();
      assert.equal(engine.levels(), undefined, 'the channel closed: no engine to meter');
    } finally {
      await client?.close();
      await service.close();
      await rt.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});
