/**
 * Byte copies on the audio path, without allocating: between two byte arrays at arbitrary offsets
 * (FrameCopier), and into and out of a wrapped ring (RingCopier: a copy that passes the ring's end
 * goes on at its start, so at most two pieces when it is no longer than the ring).
 *
 * Why not `dst.set(src.subarray(...))` or `Buffer.prototype.copy`: both make a view per call (an
 * allocation; measured with --trace-gc on Node 20), and these copies run every period. Instead a
 * word loop runs over Int32Array views of the same memory, made once per array (not per call) and
 * kept while the caller passes the same arrays; where the two sides are not word-aligned alike, a
 * byte loop. For 1 KiB (256 stereo S16 frames) that is about 150 ns (the byte loop ten times as
 * much). A Float64Array loop would be about twice as fast still, but a float register is not a
 * safe carrier of arbitrary bits (NaN patterns), and audio is arbitrary bits.
 *
 * This is the one home of these copies: tests/unit/single-home/ring-copy.test.ts fails on a copy
 * loop (or a wrapped two-part copy) anywhere else in src/, codecs/ or alsa/.
 */

/**
 * Copies byte ranges between two Uint8Arrays. Keep one per pair of arrays that stay the same from
 * call to call (one per direction, typically): it caches a word view of each side.
 */
export class FrameCopier {
  private src8: Uint8Array | undefined;
  private src32: Int32Array | undefined;
  private dst8: Uint8Array | undefined;
  private dst32: Int32Array | undefined;

  /** Copies `bytes` bytes from src[srcStart..] to dst[dstStart..] (ranges must not overlap). */
  copy(src: Uint8Array, srcStart: number, dst: Uint8Array, dstStart: number, bytes: number): void {
    if (src !== this.src8) {
      this.src8 = src;
      this.src32 = wordView(src);
    }
    if (dst !== this.dst8) {
      this.dst8 = dst;
      this.dst32 = wordView(dst);
    }
    const s32 = this.src32;
    const d32 = this.dst32;
    let i = 0;
    if (s32 !== undefined && d32 !== undefined && ((srcStart ^ dstStart) & 3) === 0 && bytes >= 8) {
      // Both sides at the same place in a word: bytes up to a word boundary, words, then the rest.
      const head = (4 - (srcStart & 3)) & 3;
      for (; i < head; i++) dst[dstStart + i] = src[srcStart + i]!;
      const s = (srcStart + head) >> 2;
      const d = (dstStart + head) >> 2;
      const n = (bytes - head) >> 2;
      for (let k = 0; k < n; k++) d32[d + k] = s32[s + k]!;
      i = head + (n << 2);
    }
    for (; i < bytes; i++) dst[dstStart + i] = src[srcStart + i]!;
  }
}

function wordView(a: Uint8Array): Int32Array | undefined {
  if ((a.byteOffset & 3) !== 0) return undefined;
  return new Int32Array(a.buffer, a.byteOffset, a.byteLength >> 2);
}

/**
 * Copies into and out of a ring of bytes: `ring` is the whole ring (its length is the ring's
 * size) and `at` a byte offset in it (taken modulo the size). A copy longer than the ring wraps
 * more than once, as a byte-by-byte walk round the ring would. Keep one per ring: it caches word
 * views of the ring and of the last linear buffer on each side.
 */
export class RingCopier {
  private readonly into = new FrameCopier();
  private readonly outOf = new FrameCopier();

  /** Copies `bytes` bytes from src[srcStart..] into the ring from `at`; returns the ring offset after them. */
  toRing(ring: Uint8Array, at: number, src: Uint8Array, srcStart: number, bytes: number): number {
    const size = ring.length;
    let o = ringOffset(size, at, bytes);
    let done = 0;
    while (done < bytes) {
      const n = Math.min(bytes - done, size - o);
      this.into.copy(src, srcStart + done, ring, o, n);
      done += n;
      o += n;
      if (o === size) o = 0;
    }
    return o;
  }

  /** Copies `bytes` bytes out of the ring from `at` into dst[dstStart..]; returns the ring offset after them. */
  fromRing(ring: Uint8Array, at: number, dst: Uint8Array, dstStart: number, bytes: number): number {
    const size = ring.length;
    let o = ringOffset(size, at, bytes);
    let done = 0;
    while (done < bytes) {
      const n = Math.min(bytes - done, size - o);
      this.outOf.copy(ring, o, dst, dstStart + done, n);
      done += n;
      o += n;
      if (o === size) o = 0;
    }
    return o;
  }
}

function ringOffset(size: number, at: number, bytes: number): number {
  if (size === 0) {
    if (bytes > 0) throw new RangeError('ring copy: the ring is empty');
    return 0;
  }
  return at >= 0 && at < size ? at : ((at % size) + size) % size;
}
