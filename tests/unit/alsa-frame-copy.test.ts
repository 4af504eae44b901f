import assert from 'node:assert/strict';
import { FrameCopier } from '../../src/hal/linux/alsa/frame-copy.ts';

describe('FrameCopier', () => {
  it('copies aligned and unaligned ranges exactly, between changing arrays', () => {
    const copier = new FrameCopier();
    const src = new Uint8Array(64).map((_, i) => i + 1);
    for (const [s, d, n] of [[0, 0, 16], [4, 8, 12], [1, 2, 7], [3, 0, 5], [0, 60, 4]] as const) {
      const dst = new Uint8Array(64);
      copier.copy(src, s, dst, d, n);
      assert.deepEqual([...dst.subarray(d, d + n)], [...src.subarray(s, s + n)]);
      assert.equal(dst.reduce((a, v, i) => a + (i >= d && i < d + n ? 0 : v), 0), 0, 'nothing outside the range');
    }
    const odd = new Uint8Array(new ArrayBuffer(40), 2, 30).fill(9); // byteOffset not word-aligned
    const dst = new Uint8Array(32);
    copier.copy(odd, 0, dst, 4, 8);
    assert.deepEqual([...dst.subarray(4, 12)], Array(8).fill(9));
  });
});
