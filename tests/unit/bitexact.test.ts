import assert from 'node:assert/strict';
import {
  bytesToS16, findAlignment, longestExactRun, paddedTestSignal, pseudoRandomS16, s16ToBytes, verifyBitExact, withFlippedSample,
} from '../hil/lib/bitexact.ts';

const RATE = 48000;

/** What a loopback capture looks like: some silence, the played signal (maybe cut short), silence. */
function capture(played: Int16Array, channels: number, leadFrames: number, keepFrames: number, tailFrames = 1000): Int16Array {
  const out = new Int16Array((leadFrames + keepFrames + tailFrames) * channels);
  out.set(played.subarray(0, keepFrames * channels), leadFrames * channels);
  return out;
}

describe('bit-exact comparison (tests/hil/lib/bitexact.ts)', () => {
  it('makes a reproducible pseudo-random signal without zeros', () => {
    const a = pseudoRandomS16(4800, 2, 7);
    assert.deepEqual(a, pseudoRandomS16(4800, 2, 7));
    assert.notDeepEqual(a, pseudoRandomS16(4800, 2, 8));
    assert.equal(a.indexOf(0), -1);
    assert.deepEqual(bytesToS16(s16ToBytes(a)), a);
    assert.equal(s16ToBytes(Int16Array.of(-2))[0], 0xfe, 'little-endian');
  });

  it('pads the signal with its lead of silence before and its tail after (the tail as long as the lead unless given)', () => {
    const even = paddedTestSignal(100, 30, 2, 7);
    assert.equal(even.samples.length, (30 + 100 + 30) * 2);
    const lead = paddedTestSignal(100, 30, 2, 7, 5);
    assert.equal(lead.samples.length, (30 + 100 + 5) * 2);
    assert.equal(lead.signalStart, 30);
    assert.deepEqual(lead.samples.subarray(0, 60), new Int16Array(60));
    assert.deepEqual(lead.samples.subarray(60, 260), even.samples.subarray(60, 260));
    assert.ok(lead.samples.subarray(60, 260).every((x) => x !== 0));
    assert.deepEqual(lead.samples.subarray(260), new Int16Array(10));
  });

  it('finds the lag by correlation, with a clear peak', () => {
    const sig = paddedTestSignal(RATE / 4, RATE / 50, 2);
    const cap = capture(sig.samples, 2, 3217, sig.samples.length / 2);
    const al = findAlignment(sig.samples, cap, 2, sig.signalStart)!;
    assert.equal(al.lagFrames, 3217);
    assert.ok(al.score > 0.999 && al.runnerUp < 0.3, JSON.stringify(al));
    assert.equal(findAlignment(sig.samples, new Int16Array(10), 2, sig.signalStart), undefined, 'capture shorter than the probe');
  });

  it('passes an exact capture whose tail was lost, and measures the longest run', () => {
    const sig = paddedTestSignal(2 * RATE, RATE / 5, 2);
    const keep = sig.signalStart + sig.signalFrames - 2000; // the drained tail lost, as on snd-aloop
    const v = verifyBitExact(sig, capture(sig.samples, 2, 12345, keep), 1.5 * RATE);
    assert.ok(v.ok, v.reason);
    assert.equal(v.alignment!.lagFrames, 12345);
    assert.equal(v.length, sig.signalFrames - 2000);
    assert.equal(v.mismatches, 2000);
  });

  it('catches one flipped bit of one sample (the control run)', () => {
    const sig = paddedTestSignal(2 * RATE, RATE / 5, 2);
    const cap = capture(sig.samples, 2, 500, sig.samples.length / 2);
    assert.ok(verifyBitExact(sig, cap, 1.5 * RATE).ok);
    const flipAtFrame = sig.signalStart + sig.signalFrames / 2;
    const flipped = withFlippedSample(cap, (500 + flipAtFrame) * 2 + 1); // right channel
    const v = verifyBitExact(sig, flipped, 1.5 * RATE);
    assert.equal(v.ok, false);
    assert.equal(v.mismatches, 1);
    assert.equal(v.firstMismatch, flipAtFrame);
    assert.match(v.reason, /longest bit-exact run/);
  });

  it('fails a capture that is shifted by one sample within frames, or scaled', () => {
    const sig = paddedTestSignal(RATE, RATE / 10, 2);
    const cap = capture(sig.samples, 2, 100, sig.samples.length / 2);
    const swapped = new Int16Array(cap.length);
    for (let i = 0; i + 1 < cap.length; i += 2) [swapped[i], swapped[i + 1]] = [cap[i + 1]!, cap[i]!];
    assert.equal(verifyBitExact(sig, swapped, RATE / 2).ok, false, 'channels swapped');
    const quieter = cap.map((v) => v >> 1);
    const v = verifyBitExact(sig, quieter, RATE / 2);
    assert.equal(v.ok, false, 'scaled by half');
    assert.equal(v.alignment!.lagFrames, 100, 'correlation still aligns a scaled copy');
  });

  it('counts a region beyond the capture as missing', () => {
    const ref = pseudoRandomS16(100, 1);
    const r = longestExactRun(ref, ref.subarray(0, 60), 1, 0, 0, 100);
    assert.deepEqual(r, { start: 0, length: 60, mismatches: 40, firstMismatch: 60 });
  });
});
