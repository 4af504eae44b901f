/**
 * The engine's gain stage (src/engine/gain-stage.ts): ramps that are zipper-free, land exactly on
 * their target, start exactly at the event's frame, and a unity gain that leaves the samples
 * bit-exact. The gain is read back by feeding a constant 1.0 (f32) through it; every expected value
 * below is written from the arithmetic of the ramp (issue 21), not taken from the code.
 */
import assert from 'node:assert/strict';
import { GainStage } from '../../src/engine/gain-stage.ts';

/** The per-frame gain of `frames` frames (channel 0 of a stereo f32 buffer of ones). */
function gainsOf(g: GainStage, frames: number): number[] {
  const buf = new Float32Array(frames * 2).fill(1);
  g.apply(buf, 'f32', 2, 0, frames);
  const out: number[] = [];
  for (let f = 0; f < frames; f++) {
    assert.equal(buf[f * 2], buf[f * 2 + 1], `frame ${f}: both channels get the same gain`);
    out.push(buf[f * 2]!);
  }
  return out;
}

const dB = (ratio: number) => 20 * Math.log10(ratio);

/** The largest step between adjacent gains, in dB (absolute). */
function largestStepDb(gains: number[]): number {
  let m = 0;
  for (let i = 1; i < gains.length; i++) m = Math.max(m, Math.abs(dB(gains[i]! / gains[i - 1]!)));
  return m;
}

/** An open gate (START with no fade): the stage as a running stream without ramps has it. */
function openStage(maxFrames = 64): GainStage {
  const g = new GainStage(maxFrames);
  g.gateStart(0);
  return g;
}

describe('engine gain stage (trim × fade × gate)', () => {
  it('a −40 dB → 0 dB trim ramp over 2400 frames moves 40/2400 dB per sample, monotonic, ending exactly at 1', () => {
    const g = openStage();
    g.rampTrim(0.01, 0); // −40 dB, at once
    const before = gainsOf(g, 100);
    assert.ok(before.every((x) => x === Math.fround(0.01)), 'static at −40 dB before the ramp');
    g.rampTrim(1, 2400);
    const ramp = gainsOf(g, 2400 + 100); // longer than maxFrames: computed 64 frames at a time
    const all = [before.at(-1)!, ...ramp];
    for (let i = 1; i < all.length; i++) assert.ok(all[i]! >= all[i - 1]!, `monotonic at ${i}`);
    assert.ok(largestStepDb(all) <= 0.05, `largest step ${largestStepDb(all)} dB`);
    // Exponential: every step is 40/2400 = 0.01667 dB (float32 samples: within 1e-4 dB).
    for (let i = 1; i <= 2400; i++) assert.ok(Math.abs(dB(all[i]! / all[i - 1]!) - 40 / 2400) < 1e-4, `step ${i}: ${dB(all[i]! / all[i - 1]!)} dB`);
    assert.equal(ramp[2399], 1, 'the ramp\'s last frame is the target exactly');
    assert.ok(ramp[2398]! < 1);
    assert.ok(ramp.slice(2399).every((x) => x === 1), 'static at 1 after it');
    assert.ok(g.isUnity());
  });

  it('negative control: the same change with frames 0 is one 40 dB step', () => {
    const g = openStage();
    g.rampTrim(0.01, 0);
    const all = [...gainsOf(g, 10)];
    g.rampTrim(1, 0);
    all.push(...gainsOf(g, 10));
    assert.ok(Math.abs(largestStepDb(all) - 40) < 1e-4, `largest step ${largestStepDb(all)} dB`);
    assert.ok(largestStepDb(all) > 0.05, 'the zipper check sees the jump');
  });

  it('an event at frame F of a period changes sample F exactly, sample F − 1 not', () => {
    const g = openStage();
    const buf = new Float32Array(64 * 2).fill(1);
    g.apply(buf, 'f32', 2, 0, 37);
    g.rampTrim(0.5, 0);
    g.apply(buf, 'f32', 2, 37, 64);
    assert.equal(buf[36 * 2], 1);
    assert.equal(buf[37 * 2], 0.5);
    assert.equal(buf[37 * 2 + 1], 0.5);
    assert.equal(buf[63 * 2 + 1], 0.5);

    // A ramp of 8 frames from 0.5 back to 1 at frame 20 of the next period: frame 19 untouched,
    // frame 20 the first step (0.5 · 2^(1/8)), frame 27 exactly 1.
    const next = new Float32Array(64 * 2).fill(1);
    g.apply(next, 'f32', 2, 0, 20);
    g.rampTrim(1, 8);
    g.apply(next, 'f32', 2, 20, 64);
    assert.equal(next[19 * 2], 0.5);
    assert.equal(next[20 * 2], Math.fround(0.5 * 2 ** (1 / 8)));
    assert.ok(next[26 * 2]! < 1);
    assert.equal(next[27 * 2], 1);
  });

  it('linear when an end is 0: 1 → 0 over 4 frames is 0.75, 0.5, 0.25, 0', () => {
    const g = openStage();
    g.rampFade(0, 4);
    assert.deepEqual(gainsOf(g, 6), [0.75, 0.5, 0.25, 0, 0, 0]);
    g.rampFade(1, 4);
    assert.deepEqual(gainsOf(g, 5), [0.25, 0.5, 0.75, 1, 1]);
    // Exponential between two positive ends: 1 → 0.25 over 2 frames halves each frame.
    g.rampTrim(0.25, 2);
    assert.deepEqual(gainsOf(g, 3), [0.5, 0.25, 0.25]);
  });

  it('unity leaves an Int16Array bit-exact; any other gain changes it', () => {
    const g = openStage();
    const samples = Int16Array.from([-32768, -32767, -12345, -1, 0, 1, 3, 12345, 32766, 32767, 7, -7]);
    const buf = samples.slice();
    assert.ok(g.isUnity());
    g.apply(buf, 'i16', 2, 0, 6);
    assert.deepEqual(buf, samples);
    // A ramp that came back to 1 is unity again.
    g.rampTrim(0.5, 3);
    g.apply(new Int16Array(8), 'i16', 2, 0, 4);
    g.rampTrim(1, 0);
    assert.ok(g.isUnity());
    g.apply(buf, 'i16', 2, 0, 6);
    assert.deepEqual(buf, samples);
    // Negative control: a gain of 0.5 does change it.
    g.rampTrim(0.5, 0);
    g.apply(buf, 'i16', 2, 0, 6);
    assert.notDeepEqual(buf, samples);
  });

  it('i16 and i32 results are rounded and clamped to the type', () => {
    const g = openStage();
    g.rampTrim(2, 0);
    const s16 = Int16Array.from([20000, -20000, 100, -100]);
    g.apply(s16, 'i16', 2, 0, 2);
    assert.deepEqual([...s16], [32767, -32768, 200, -200]);
    const s32 = Int32Array.from([2000000000, -2000000000, 3, -3]);
    g.apply(s32, 'i32', 2, 0, 2);
    assert.deepEqual([...s32], [2147483647, -2147483648, 6, -6]);
    g.rampTrim(0.5, 0);
    const odd = Int16Array.from([3, -3, 5, 1]);
    g.apply(odd, 'i16', 2, 0, 2);
    // 1.5 → 2, −1.5 → −1 (Math.round: halves toward +∞), 2.5 → 3, 0.5 → 1.
    assert.deepEqual([...odd], [2, -1, 3, 1]);
  });

  it('scaleFade(0.5) during an exponential fade ramp keeps its length and ends at target × 0.5', () => {
    const g = openStage();
    g.rampFade(0.5, 100);
    const first = gainsOf(g, 30);
    g.scaleFade(0.5);
    const rest = gainsOf(g, 80);
    const ratio = 0.5 ** (1 / 100);
    assert.ok(Math.abs(first[29]! - ratio ** 30) < 1e-6);
    // The frame after the scale: halved, and one ramp step on.
    assert.ok(Math.abs(rest[0]! - 0.5 * ratio ** 31) < 1e-6, `${rest[0]}`);
    assert.equal(rest[69], 0.25, 'the ramp ends at its 100th frame, at 0.5 × 0.5');
    assert.ok(rest[68]! > 0.25);
    assert.ok(rest.slice(69).every((x) => x === 0.25));
  });

  it('scaleFade during a linear fade ramp scales the step too; on a static fade it scales the value', () => {
    const g = openStage();
    g.rampFade(0, 4);
    assert.deepEqual(gainsOf(g, 2), [0.75, 0.5]);
    g.scaleFade(0.5);
    assert.deepEqual(gainsOf(g, 3), [0.125, 0, 0]);
    g.rampFade(1, 0);
    g.scaleFade(0.5);
    assert.deepEqual(gainsOf(g, 2), [0.5, 0.5]);
    assert.equal(g.isUnity(), false);
  });

  it('the gate opens to exactly 1 and closes to exactly 0 over its frames (linear)', () => {
    const g = new GainStage(64);
    assert.ok(g.gateDone(), 'closed before START');
    assert.deepEqual(gainsOf(g, 3), [0, 0, 0]);
    g.gateStart(480);
    const up = gainsOf(g, 500);
    assert.ok(Math.abs(up[0]! - 1 / 480) < 1e-7);
    assert.ok(Math.abs(up[239]! - 0.5) < 1e-6);
    assert.ok(up[478]! < 1);
    assert.equal(up[479], 1);
    assert.ok(g.isUnity());
    assert.equal(g.gateDone(), false);
    g.gateStop(480);
    const down = gainsOf(g, 500);
    assert.ok(Math.abs(down[0]! - 479 / 480) < 1e-6);
    assert.ok(down[478]! > 0);
    assert.equal(down[479], 0);
    assert.ok(down.slice(479).every((x) => x === 0));
    assert.ok(g.gateDone());
    // The trim and fade are not the gate's business: they stay as they were.
    assert.deepEqual(g.snapshot(), { trim: 1, fade: 1, gate: 0, trimFrames: 0, fadeFrames: 0, gateFrames: 0 });
  });

  it('a stop ramp not yet at 0 is not done', () => {
    const g = openStage();
    g.gateStop(100);
    gainsOf(g, 99);
    assert.equal(g.gateDone(), false);
    gainsOf(g, 1);
    assert.ok(g.gateDone());
  });

  it('refuses a buffer of another format and frames outside the buffer, naming them', () => {
    const g = openStage();
    g.rampTrim(0.5, 0);
    assert.throws(() => g.apply(new Int16Array(8), 'f32', 2, 0, 4), /format f32 given a buffer of type Int16Array/);
    assert.throws(() => g.apply(new Float32Array(8), 'f32', 2, 0, 5), /frames \[0, 5\) × 2 channels outside a buffer of 8 samples/);
    assert.throws(() => new GainStage(0), /maxFrames is 0/);
  });
});
