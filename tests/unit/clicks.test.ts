/**
 * The click detectors of tests/unit/helpers/clicks.ts on synthetic records whose answers are known
 * by hand: what passes (a faded tone, a ramped gain change, a step below the bound) and what fails
 * (a hard start, a modelled pop, a step above the bound). 48 kHz, 2 channels, a 1 kHz cosine at
 * 0.5 of full scale (−6 dBFS), preceded by 100 ms (4800 frames) of silence or of the tone.
 *
 * Hand figures: a 1 kHz tone at 48 kHz moves at most A·2·sin(π/48) = A·0.130806 between samples.
 * A cosine started at its peak of 0.5 steps 0.5 from silence: 0.5 − 0.5·0.130806 = 0.434597
 * beyond the allowance, 20·log10 = −7.24 dBFS. A step of 0.002 on silence: 0.002·(1 − 0.130806)
 * = 0.0017384, −55.20 dBFS; of 0.0005: 0.00043460, −67.24 dBFS.
 */
import assert from 'node:assert/strict';
import { BURST_BOUND_DB, STEP_BOUND_DBFS, burstDb, stepExcess, worstBurst } from './helpers/clicks.ts';

const RATE = 48000;
const CH = 2;
const PRE = 4800; // 100 ms before the event
const FRAMES = 14400; // 300 ms in all

/** A record whose every channel carries f(n). */
function record(f: (n: number) => number, frames = FRAMES): Float32Array {
  const x = new Float32Array(frames * CH);
  for (let n = 0; n < frames; n++) {
    const v = f(n);
    for (let c = 0; c < CH; c++) x[n * CH + c] = v;
  }
  return x;
}
const cos1k = (n: number) => Math.cos((2 * Math.PI * 1000 * n) / RATE);
const sin = (hz: number, amp: number) => (n: number) => amp * Math.sin((2 * Math.PI * hz * n) / RATE);

function measure(x: Float32Array) {
  return { step: stepExcess(x, CH, RATE, 1000), burst: worstBurst(x, CH, RATE) };
}

describe('click detectors (tests/unit/helpers/clicks.ts) on synthetic records', () => {
  it('the bounds are −60 dBFS (step) and −60 dB (burst)', () => {
    assert.equal(STEP_BOUND_DBFS, -60);
    assert.equal(BURST_BOUND_DB, -60);
  });

  it('burst scale: a full-scale 6 kHz sine whole in the window is 0 dB, at −20 dBFS −20 dB; a steady 1 kHz tone is far below', () => {
    // 6 kHz: 120 periods in 960 frames, all of its energy above 4 kHz.
    assert.ok(Math.abs(burstDb(record(sin(6000, 1)), CH, RATE, 0) - 0) < 0.01, `${burstDb(record(sin(6000, 1)), CH, RATE, 0)}`);
    assert.ok(Math.abs(burstDb(record(sin(6000, 0.1)), CH, RATE, 0) - -20) < 0.01);
    assert.ok(burstDb(record((n) => 0.5 * cos1k(n)), CH, RATE, 100) < -140, 'a steady tone has nothing above 4 kHz');
    assert.equal(burstDb(record(() => 0), CH, RATE, 0), -Infinity, 'silence');
    assert.throws(() => burstDb(record(() => 0), CH, RATE, 0, 960, 30000), /cutoffHz must be in \(0, 24000\) Hz, got 30000/);
    assert.throws(() => stepExcess(new Float32Array(3), CH, RATE, 1000), /3 samples are not whole frames of 2 channels/);
  });

  it('a 1 kHz cosine at 0.5 faded in linearly over 2400 frames passes both', () => {
    const m = measure(record((n) => (n < PRE ? 0 : 0.5 * Math.min(1, (n - PRE) / 2400) * cos1k(n - PRE))));
    assert.ok(m.step.worstDbfs <= STEP_BOUND_DBFS, `step excess ${m.step.worstDbfs} dBFS at frame ${m.step.atFrame}`);
    assert.ok(m.burst.worstDb <= BURST_BOUND_DB, `burst ${m.burst.worstDb} dB at frame ${m.burst.atFrame}`);
  });

  it('the same faded out linearly over 2400 frames passes both', () => {
    const m = measure(record((n) => 0.5 * Math.max(0, n < PRE ? 1 : 1 - (n - PRE) / 2400) * cos1k(n)));
    assert.ok(m.step.worstDbfs <= STEP_BOUND_DBFS, `step excess ${m.step.worstDbfs} dBFS`);
    assert.ok(m.burst.worstDb <= BURST_BOUND_DB, `burst ${m.burst.worstDb} dB`);
  });

  it('the same started at its peak (no fade) fails both: −7.24 dBFS at the first frame', () => {
    const m = measure(record((n) => (n < PRE ? 0 : 0.5 * cos1k(n - PRE))));
    assert.ok(Math.abs(m.step.worstDbfs - -7.24) < 0.01, `step excess ${m.step.worstDbfs} dBFS`);
    assert.equal(m.step.atFrame, PRE);
    assert.ok(m.burst.worstDb > BURST_BOUND_DB, `burst ${m.burst.worstDb} dB`);
    assert.ok(m.burst.atFrame <= PRE && m.burst.atFrame + 960 > PRE, `the worst window (from ${m.burst.atFrame}) holds the start`);
  });

  it('silence plus an exponential pop (τ 1 ms, amplitude 0.1) fails both', () => {
    const m = measure(record((n) => (n < PRE ? 0 : 0.1 * Math.exp(-(n - PRE) / 48))));
    // 0.1·(1 − 0.130806) = 0.0869194: −21.22 dBFS.
    assert.ok(Math.abs(m.step.worstDbfs - -21.22) < 0.01, `step excess ${m.step.worstDbfs} dBFS`);
    assert.ok(m.burst.worstDb > BURST_BOUND_DB, `burst ${m.burst.worstDb} dB`);
  });

  it('the same pop on the playing tone fails both (the tone does not hide it)', () => {
    const m = measure(record((n) => 0.5 * cos1k(n) + (n < PRE ? 0 : 0.1 * Math.exp(-(n - PRE) / 48))));
    assert.ok(m.step.worstDbfs > STEP_BOUND_DBFS, `step excess ${m.step.worstDbfs} dBFS`);
    assert.ok(m.burst.worstDb > BURST_BOUND_DB, `burst ${m.burst.worstDb} dB`);
  });

  it('a −40 → 0 dB exponential gain ramp over 2400 frames on the playing tone passes', () => {
    const gainDb = (n: number) => (n < PRE ? -40 : Math.min(0, -40 + (40 * (n - PRE)) / 2400));
    const m = measure(record((n) => 0.5 * 10 ** (gainDb(n) / 20) * cos1k(n)));
    assert.ok(m.step.worstDbfs <= STEP_BOUND_DBFS, `step excess ${m.step.worstDbfs} dBFS`);
    assert.ok(m.burst.worstDb <= BURST_BOUND_DB, `burst ${m.burst.worstDb} dB`);
    // Negative control: the same change as a jump (−40 → 0 dB at one frame, a peak of the tone) is a step.
    const jump = measure(record((n) => 0.5 * 10 ** ((n < PRE ? -40 : 0) / 20) * cos1k(n)));
    assert.ok(jump.step.worstDbfs > STEP_BOUND_DBFS, `the jump: ${jump.step.worstDbfs} dBFS`);
  });

  it('a step of 0.002 (−54 dBFS) fails the step check, 0.0005 (−66 dBFS) passes it', () => {
    const big = stepExcess(record((n) => (n < PRE ? 0 : 0.002)), CH, RATE, 1000);
    assert.ok(Math.abs(big.worstDbfs - -55.2) < 0.01, `${big.worstDbfs}`);
    assert.ok(big.worstDbfs > STEP_BOUND_DBFS);
    assert.equal(big.atFrame, PRE);
    const small = stepExcess(record((n) => (n < PRE ? 0 : 0.0005)), CH, RATE, 1000);
    assert.ok(Math.abs(small.worstDbfs - -67.24) < 0.01, `${small.worstDbfs}`);
    assert.ok(small.worstDbfs <= STEP_BOUND_DBFS);
  });

  it('a step of 0.002 on the tone where the tone falls steepest (a zero crossing) fails the step check', () => {
    // cos1k crosses zero falling at n = 12 (mod 48): the step adds to the tone's own largest slope.
    const at = PRE + 12;
    const m = stepExcess(record((n) => 0.5 * cos1k(n) - (n < at ? 0 : 0.002)), CH, RATE, 1000);
    assert.ok(m.worstDbfs > STEP_BOUND_DBFS, `${m.worstDbfs}`);
    assert.equal(m.atFrame, at);
  });

  it('one channel is enough: a pop on the right channel only is found there', () => {
    const x = record((n) => 0.5 * cos1k(n));
    for (let n = PRE; n < FRAMES; n++) x[n * CH + 1]! += 0.1 * Math.exp(-(n - PRE) / 48);
    const s = stepExcess(x, CH, RATE, 1000);
    assert.equal(s.channel, 1);
    assert.ok(s.worstDbfs > STEP_BOUND_DBFS);
  });
});
