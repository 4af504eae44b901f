/**
 * The rooms-in-sync measurement (tests/hil/lib/room-sync.ts) on synthetic captures whose answer is
 * known: DACs that start the pulse train at chosen times, snd-aloop-like status reads that lag by
 * up to a 4 ms jiffy, frames dropped and repeated the way snapclient corrects. The guests' test
 * (tests/hil/rooms/rooms.hil.ts) relies on these functions to turn captures into an offset.
 */
import assert from 'node:assert/strict';
import { type CaptureStamp, findPulses, frameTimeNs, median, pulseTrain, type PulseTrain, roomOffset, type RoomCapture } from '../hil/lib/room-sync.ts';

const RATE = 48000;
const JIFFY_NS = 4e6; // HZ 250

/** A deterministic PRNG for read phases (Math.random would make failures unrepeatable). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/**
 * What a room's capture holds when its DAC puts frame 0 of `out` out at `dacStartNs`: the samples,
 * and status reads every ~10 ms (random phase) whose frame count moves only on jiffies
 * (`jiffyPhaseNs` into the jiffy grid).
 */
function capture(room: string, out: Int16Array, dacStartNs: number, jiffyPhaseNs: number, afterDacNs: number, seed: number): RoomCapture {
  const frames = out.length / 2;
  const rnd = lcg(seed);
  const stamps: CaptureStamp[] = [];
  const endNs = dacStartNs + (frames * 1e9) / RATE;
  for (let t = dacStartNs + 5e6; t < endNs; t += 5e6 + rnd() * 10e6) {
    // The last jiffy edge at or before t, then the frames the DAC had put out by that edge.
    const edge = Math.floor((t - jiffyPhaseNs) / JIFFY_NS) * JIFFY_NS + jiffyPhaseNs;
    const n = Math.floor(((edge - dacStartNs) * RATE) / 1e9);
    if (n > 0) stamps.push({ frames: Math.min(n, frames), realtimeNs: t });
  }
  return { room, samples: out, stamps, rate: RATE, afterDacNs };
}

/** The train with `lead` frames of silence before it (the capture began before the signal). */
function delayed(train: PulseTrain, lead: number): Int16Array {
  const out = new Int16Array(train.samples.length + lead * 2);
  out.set(train.samples, lead * 2);
  return out;
}

/** Drops frame `at` (snapclient playing faster) or repeats it (slower). */
function dropFrame(s: Int16Array, at: number): Int16Array {
  const out = new Int16Array(s.length - 2);
  out.set(s.subarray(0, at * 2), 0);
  out.set(s.subarray(at * 2 + 2), at * 2);
  return out;
}
function repeatFrame(s: Int16Array, at: number): Int16Array {
  const out = new Int16Array(s.length + 2);
  out.set(s.subarray(0, at * 2 + 2), 0);
  out.set(s.subarray(at * 2), at * 2 + 2);
  return out;
}

describe('room sync measurement (tests/hil/lib/room-sync.ts)', () => {
  const train = pulseTrain({ rate: RATE, count: 24, spacingFrames: 12000, pulseFrames: 960, leadFrames: 24000, tailFrames: 24000, seed: 0x5eed });
  const T0 = 1.7e18; // CLOCK_REALTIME ns, some day in 2023

  it('each pulse is distinct, never zero inside, and found where it was put', () => {
    const found = findPulses(train, delayed(train, 777));
    assert.deepEqual(found, train.starts.map((s) => s + 777));
    for (const s of train.starts) for (let i = s * 2; i < (s + train.pulseFrames) * 2; i++) assert.notEqual(train.samples[i], 0);
    // Negative control: silence holds no pulse.
    assert.ok(findPulses(train, new Int16Array(train.samples.length)).every((f) => f === undefined));
  });

  it('a frame time is recovered from jiffy-stepped reads to well under a millisecond', () => {
    const c = capture('a', delayed(train, 0), T0, 1.1e6, 0, 1);
    for (const frame of [30000, 100000, 200000]) {
      const t = frameTimeNs(c.stamps, RATE, frame)!;
      const truth = T0 + (frame * 1e9) / RATE;
      assert.ok(Math.abs(t - truth) < 0.25e6, `frame ${frame}: ${((t - truth) / 1e6).toFixed(3)} ms off`);
    }
    // The control: the raw lag of single reads is up to a jiffy (what the envelope removes).
    const lags = c.stamps.map((s) => s.realtimeNs - (T0 + (s.frames * 1e9) / RATE));
    assert.ok(Math.max(...lags) > 2e6, 'single reads lag by milliseconds');
  });

  it('two rooms: the offset is the DACs\' difference plus the stated analog delays\' (−20 ms), whatever the jiffy phases', () => {
    // Room a's DAC puts the train out 5 ms after room b's; room b's analog path is 25 ms longer.
    const a = capture('a', delayed(train, 1000), T0 + 5e6, 0.3e6, 0, 2);
    const b = capture('b', delayed(train, 1000), T0, 2.9e6, 25e6, 3);
    const off = roomOffset(train, a, b);
    assert.equal(off.pulses, 24);
    assert.equal(off.missed, 0);
    assert.ok(Math.abs(off.medianMs - -20) < 0.3, `median ${off.medianMs.toFixed(3)} ms, expected −20`);
    assert.ok(off.spreadMs < 1, `spread ${off.spreadMs.toFixed(3)} ms`);
  });

  it('in sync: 0 ms; a shift of 96 frames (2 ms) in one room is seen as 2 ms', () => {
    const a = capture('a', delayed(train, 500), T0, 1e6, 10e6, 4);
    const b = capture('b', delayed(train, 500), T0, 3e6, 10e6, 5);
    assert.ok(Math.abs(roomOffset(train, a, b).medianMs) < 0.3);
    // Negative control: room a's samples 96 frames later in its capture (its DAC 2 ms late).
    const late = capture('a', delayed(train, 596), T0, 1e6, 10e6, 4);
    const off = roomOffset(train, late, b).medianMs;
    assert.ok(Math.abs(off - 2) < 0.3, `a 2 ms late: ${off.toFixed(3)} ms`);
  });

  it('frames dropped and repeated between pulses move what follows by a frame each; one inside a pulse loses that pulse only', () => {
    let s = delayed(train, 0);
    // A repeated frame before pulse 6 and a dropped one before pulse 12: net 0 after pulse 12, +1 frame for pulses 6..11.
    s = repeatFrame(s, train.starts[6]! - 100);
    s = dropFrame(s, train.starts[12]! - 100);
    // A dropped frame inside pulse 18's match window.
    s = dropFrame(s, train.starts[18]! + 5);
    const found = findPulses(train, s);
    assert.equal(found[5], train.starts[5]);
    assert.equal(found[6], train.starts[6]! + 1);
    assert.equal(found[11], train.starts[11]! + 1);
    assert.equal(found[12], train.starts[12]);
    assert.equal(found[18], undefined, 'a pulse cut inside its match is not guessed');
    assert.equal(found[19], train.starts[19]! - 1);
    const a = capture('a', s, T0, 0.5e6, 0, 6);
    const b = capture('b', delayed(train, 0), T0, 1.5e6, 0, 7);
    const off = roomOffset(train, a, b);
    assert.equal(off.missed, 1);
    assert.ok(Math.abs(off.medianMs) < 0.3, `median ${off.medianMs}`);
  });

  it('median of an even and an odd count', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});
