/**
 * Byte copies on the audio path, without allocating: between two byte arrays at arbitrary offsets
 * (FrameCopier), and into and out of a wrapped ring (RingCopier: a copy that passes the ring's end
 * goes on at its start, so at most two pieces when it is no longer than the ring).
 *
 * How: `dst.set(view, dstStart)`, which V8 runs as one memmove when both sides are Uint8Arrays
 * (TypedArray.prototype.set with a typed-array source of the same element type). `set` takes an
 * offset on the target only, so the source must be a view of exactly the range, and a view made
 * per call (`src.subarray(...)`, or Buffer.prototype.copy's own in Node 20's lib/buffer.js
 * _copyActual) is an allocation, which the audio path may not make per period (the zero-allocation
 * tests: tests/unit/ringbuffer-alloc.test.ts, engine-alloc, alsa-alloc). So each FrameCopier keeps
 * the source views it made in a bounded table keyed by (buffer, absolute byte offset, length): in
 * steady state a ring's offsets cycle through a fixed set of places (16 for FrameRing's 1024-frame
 * alloc test with 64-frame periods, 125 for engine-alloc's 1000-frame client buffer), so after
 * warm-up every copy finds its view and nothing is allocated. The table stops growing at VIEW_LIMIT views (a ring whose offsets
 * never repeat, or callers passing ever new ranges, do not make it grow without bound): a range it
 * has no view for then takes the word loop below, still without allocating. A copy of a whole
 * source array needs no view at all (`dst.set(src, dstStart)`).
 *
 * The word loop (the copy before issue 26, and the fallback now): Int32Array views of the same
 * memory, made once per array, not per call; where the two sides are not word-aligned alike, a
 * byte loop. Below SET_MIN_BYTES it beats the call into `set`. (A Float64Array loop would be
 * faster than Int32, but a float register is not a safe carrier of arbitrary bits (NaN patterns),
 * and audio is arbitrary bits.)
 *
 * Measured with bench/ring-copy.ts (Node 20.20, x86-64, 2 shared cores, median of 9 rounds; FrameRing
 * write + read of one chunk in a ring of 2.5 chunks, the chunk counted once; baselines in the same
 * run), MB/s at 2 KiB: the ring 7109 (SharedArrayBuffer) / 14367 (ArrayBuffer), the word loop before
 * 1559 / 1672; Buffer.copy doing the same two copies over the same memory 7067 / 15090 (so the ring
 * is 1.01× / 0.95× of it: what the ring adds is its position atomics); one whole Buffer.copy of the
 * chunk (a single memcpy, half the work, no view) 81004. A write + read cannot pass half of that
 * (two copies), and out of a SharedArrayBuffer V8 copies with relaxed atomic moves: about 89 ns for
 * 2 KiB against 29 ns out of an ArrayBuffer. FrameRing notifies only when a thread waits (its
 * waiters word): a notify with nobody waiting cost about 40 ns, as much as the copy. One FrameCopier
 * copy between ArrayBuffers, kept view against the word loop: 21 / 150 ns at 512 B, 32 / 590 ns at
 * 2 KiB, 110 / 4400 ns at 16 KiB. libc memcpy through koffi was measured too: about 63 ns a call
 * whatever the size up to 2 KiB, against about 18 ns for `set`, and it would need raw addresses of
 * JavaScript memory: not used.
 *
 * This is the one home of these copies: tests/unit/single-home/ring-copy.test.ts fails on a copy
 * loop (or a wrapped two-part copy) anywhere else in src/, codecs/ or alsa/.
 */

/**
 * Below this many bytes the word loop is faster than a call into TypedArray.prototype.set: 18 ns
 * against 22 ns at 32 B, the same at 48 B, 28 against 22 at 64 B (both sides word-aligned alike).
 */
export const SET_MIN_BYTES = 48;
/** Slots of a source-view table (a power of two); at most VIEW_LIMIT are filled, so probes stay short. */
const VIEW_SLOTS = 512;
/** Views one FrameCopier keeps at most (a Uint8Array view is about 100 bytes of heap: measured, 102). */
export const VIEW_LIMIT = 256;
const EMPTY = -1;

/**
 * Views of byte ranges of one buffer, made on first use and kept: an open-addressing table keyed
 * by (absolute byte offset, length), cleared when the buffer changes. Made lazily by the copier
 * (a copier that only ever copies whole arrays or tiny ranges never makes one).
 */
class SourceViews {
  private array: Uint8Array | undefined; // the last array asked for, and its offset in its buffer:
  private base = 0; // `a.buffer` is a builtin call (about 10 ns), so it is read only when the array changes
  private buffer: ArrayBufferLike | undefined;
  private readonly keys = new Int32Array(VIEW_SLOTS * 2).fill(EMPTY); // [offset, length] per slot
  private readonly views: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(VIEW_SLOTS).fill(undefined);
  private readonly used = new Int32Array(VIEW_LIMIT); // the filled slots, to clear only those
  private count = 0;

  /** A view of `a[start, start + length)`, or undefined when the table is full and has none. */
  get(a: Uint8Array, start: number, length: number): Uint8Array | undefined {
    if (a !== this.array) this.attach(a);
    const at = this.base + start;
    if (at > 0x7fffffff || length > 0x7fffffff) return undefined; // keys are Int32
    const keys = this.keys;
    let slot = (Math.imul(at, 0x9e3779b1) ^ Math.imul(length, 0x85ebca6b)) >>> (32 - 9); // 9 = log2(VIEW_SLOTS)
    for (;;) {
      const k = keys[slot << 1]!;
      if (k === at && keys[(slot << 1) + 1] === length) return this.views[slot];
      if (k === EMPTY) break;
      slot = (slot + 1) & (VIEW_SLOTS - 1);
    }
    if (this.count === VIEW_LIMIT) return undefined;
    const v = new Uint8Array(this.buffer!, at, length);
    keys[slot << 1] = at;
    keys[(slot << 1) + 1] = length;
    this.views[slot] = v;
    this.used[this.count++] = slot;
    return v;
  }

  /** Views kept now. */
  get size(): number {
    return this.count;
  }

  private attach(a: Uint8Array): void {
    const buffer = a.buffer;
    if (buffer !== this.buffer) this.reset(buffer); // views of the same buffer serve every array over it
    this.array = a;
    this.base = a.byteOffset;
  }

  private reset(buffer: ArrayBufferLike): void {
    for (let i = 0; i < this.count; i++) {
      const slot = this.used[i]!;
      this.keys[slot << 1] = EMPTY;
      this.views[slot] = undefined;
    }
    this.count = 0;
    this.buffer = buffer;
  }
}

/**
 * Copies byte ranges between two Uint8Arrays. Keep one per pair of arrays that stay the same from
 * call to call (one per direction, typically): it keeps views of the source's ranges and a word
 * view of each side.
 */
export class FrameCopier {
  private views: SourceViews | undefined;
  private src8: Uint8Array | undefined;
  private src32: Int32Array | undefined;
  private dst8: Uint8Array | undefined;
  private dst32: Int32Array | undefined;

  /** Source views kept (at most VIEW_LIMIT): for tests and diagnostics. */
  get keptViews(): number {
    return this.views?.size ?? 0;
  }

  /** Copies `bytes` bytes from src[srcStart..] to dst[dstStart..] (ranges must not overlap). */
  copy(src: Uint8Array, srcStart: number, dst: Uint8Array, dstStart: number, bytes: number): void {
    // Ranges inside both arrays only: out of them `set` throws where the loop read undefined (0)
    // and dropped writes, and a view could reach past the source array into the rest of its buffer.
    if (bytes >= SET_MIN_BYTES && srcStart >= 0 && dstStart >= 0 && srcStart + bytes <= src.length && dstStart + bytes <= dst.length) {
      if (srcStart === 0 && bytes === src.length) {
        dst.set(src, dstStart);
        return;
      }
      const v = (this.views ??= new SourceViews()).get(src, srcStart, bytes);
      if (v !== undefined) {
        dst.set(v, dstStart);
        return;
      }
    }
    this.loop(src, srcStart, dst, dstStart, bytes);
  }

  private loop(src: Uint8Array, srcStart: number, dst: Uint8Array, dstStart: number, bytes: number): void {
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
 * more than once, as a byte-by-byte walk round the ring would. Keep one per ring: it keeps views
 * of the ring's ranges (for copies out of it) and of the linear buffer's (for copies into it).
 */
export class RingCopier {
  private readonly into = new FrameCopier();
  private readonly outOf = new FrameCopier();

  /** Source views kept by both directions (at most 2 × VIEW_LIMIT): for tests and diagnostics. */
  get keptViews(): number {
    return this.into.keptViews + this.outOf.keptViews;
  }

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
