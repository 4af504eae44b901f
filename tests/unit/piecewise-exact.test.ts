import assert from 'node:assert/strict';
import { paddedTestSignal, withFlippedSample } from '../hil/lib/bitexact.ts';
import { assertExactBetweenUnderruns, verifyPiecewiseExact } from '../hil/lib/piecewise.ts';

const CH = 2;

/**
 * What a syncing player's output looks like: `lead` frames of silence, then the padded signal with
 * frames left out (`drop`: signal-relative frame indices) and frames repeated (`dup`: the frame at
 * that index played twice), then silence.
 */
function played(samples: Int16Array, signalStart: number, lead: number, drop: number[], dup: number[], tail = 500): Int16Array {
  const frames: number[][] = [];
  for (let i = 0; i < lead; i++) frames.push([0, 0]);
  for (let f = 0; f < samples.length / CH; f++) {
    const rel = f - signalStart;
    const frame = [samples[f * CH]!, samples[f * CH + 1]!];
    if (drop.includes(rel)) continue;
    frames.push(frame);
    if (dup.includes(rel)) frames.push(frame);
  }
  for (let i = 0; i < tail; i++) frames.push([0, 0]);
  return Int16Array.from(frames.flat());
}

describe('piecewise bit-exact comparison (tests/hil/lib/piecewise.ts)', () => {
  const sig = paddedTestSignal(24000, 2400, CH, 0x1234abcd);

  it('passes an unchanged capture with no corrections', () => {
    const v = verifyPiecewiseExact(sig, played(sig.samples, sig.signalStart, 777, [], []));
    assert.ok(v.ok, v.reason);
    assert.deepEqual(v.corrections, []);
    assert.deepEqual(v.segments, [{ start: 0, frames: 24000, lagFrames: 777 }]);
  });

  it('finds each dropped and each duplicated frame, and the stretches between them are identical', () => {
    const v = verifyPiecewiseExact(sig, played(sig.samples, sig.signalStart, 300, [5000, 17000], [9000, 12000]));
    assert.ok(v.ok, v.reason);
    assert.deepEqual(v.corrections.map((c) => [c.kind, c.at]), [['drop', 5000], ['insert', 9001], ['insert', 12001], ['drop', 17000]]);
    assert.deepEqual(v.segments.map((s) => s.lagFrames), [300, 299, 300, 301, 300]);
    assert.equal(v.exactFrames, 24000 - 2, 'every frame but the two dropped ones is in an identical stretch');
    assert.equal(v.substitutedFrames, 0);
  });

  it('takes a larger jump (a hard sync) by correlating again', () => {
    const drop = Array.from({ length: 2000 }, (_, i) => 10000 + i);
    const v = verifyPiecewiseExact(sig, played(sig.samples, sig.signalStart, 100, drop, []));
    assert.ok(v.ok, v.reason);
    assert.deepEqual(v.corrections.map((c) => [c.kind, c.at, c.droppedFrames]), [['jump', 10000, 2000]]);
  });

  it('negative controls: a flipped bit between corrections, a cut-off tail, too many corrections', () => {
    const cap = played(sig.samples, sig.signalStart, 300, [5000], [9000]);
    // Signal frame 7000 sits after the drop: capture frame 7000 + 2400 + 300 - 1.
    const flipped = withFlippedSample(cap, (sig.signalStart + 7000 + 299) * CH + 1);
    const v = verifyPiecewiseExact(sig, flipped);
    assert.equal(v.ok, false);
    assert.equal(v.substitutedFrames, 1);
    assert.match(v.reason, /1 signal frames arrived changed \(first at signal frame 7000\)/);

    const cut = cap.subarray(0, (300 + sig.signalStart + 20000) * CH);
    const c = verifyPiecewiseExact(sig, cut);
    assert.equal(c.ok, false);
    assert.match(c.reason, /the capture ends \d+ frames before the signal does/);

    assert.equal(verifyPiecewiseExact(sig, cap, { maxCorrections: 1 }).ok, false);
    assert.ok(verifyPiecewiseExact(sig, cap, { maxCorrections: 2 }).ok);
  });

  it('negative control: a capture without the signal fails', () => {
    const other = paddedTestSignal(24000, 2400, CH, 0x0badf00d);
    const v = verifyPiecewiseExact(sig, other.samples);
    assert.equal(v.ok, false);
    assert.match(v.reason, /start of the signal is not in the capture/);
  });

  it('negative control: the start of the signal, then other audio, fails in bounded time (the jump search stops)', function () {
    this.timeout(120000); // 64 correlations over the whole capture
    // 40000 frames of signal (more than the 64 × 512 frames the jump search tries) of which the first 4800 arrive, then another signal.
    const big = paddedTestSignal(40000, 4800, CH, 0x5eed);
    const other = paddedTestSignal(40000, 4800, CH, 0x0badf00d);
    const capture = other.samples.slice();
    capture.set(big.samples.subarray(0, (4800 + 4800) * CH));
    const v = verifyPiecewiseExact(big, capture, { maxShift: 64 });
    assert.equal(v.ok, false);
    assert.match(v.reason, /no identical stretch follows.*64 probes/);
    // And with a bound on corrections, the walk stops once it is passed.
    const noisy = big.samples.slice();
    for (let f = 6000; f < 6400; f += 40) noisy[(4800 + f) * CH] = noisy[(4800 + f) * CH]! ^ 0x100;
    const w = verifyPiecewiseExact(big, noisy, { maxCorrections: 3 });
    assert.equal(w.ok, false);
    assert.equal(w.corrections.length, 4, 'stopped at the first correction past the bound');
  });

  it('after underruns: stretches of the signal with silence between pass; other audio in a gap, or a changed frame, fails', () => {
    // An underrun: 480 frames of the signal left out at 6000, 300 frames of silence in their place (the DAC's clock went on).
    const capture = (gap: (f: number) => number[]) => {
      const frames: number[][] = [];
      for (let i = 0; i < 200; i++) frames.push([0, 0]);
      for (let f = 0; f < sig.samples.length / CH; f++) {
        const rel = f - sig.signalStart;
        if (rel === 6000) for (let k = 0; k < 300; k++) frames.push(gap(k));
        if (rel >= 6000 && rel < 6480) continue;
        frames.push([sig.samples[f * CH]!, sig.samples[f * CH + 1]!]);
      }
      return Int16Array.from(frames.flat());
    };
    const ok = capture(() => [0, 0]);
    assert.match(assertExactBetweenUnderruns(sig, ok, 1, 'ok'), /2 bit-exact stretches, 23520 of 24000 signal frames/);
    assert.throws(() => assertExactBetweenUnderruns(sig, capture((k) => (k === 150 ? [77, 77] : [0, 0])), 1, 'noise'), /between two stretches, is not silence/);
    assert.throws(() => assertExactBetweenUnderruns(sig, withFlippedSample(ok, (200 + sig.signalStart + 9000) * CH), 1, 'flipped'));
  });
});
