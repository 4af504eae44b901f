/**
 * A single-producer single-consumer ring of whole audio frames, in memory that two threads or two
 * processes share.
 *
 * Memory layout (all little-endian; documented in docs/ringbuffer.md):
 *
 *   offset  size  field
 *   0       4     magic 0x52425341 ('ASBR')
 *   4       4     layout version (1)
 *   8       4     frame size in bytes
 *   12      4     capacity in frames (a power of two is not required)
 *   64      4     write position: frames written since creation, a free-running u32
 *   128     4     read position: frames read since creation, a free-running u32
 *   192     4     waiters: threads blocked in waitReadable / waitWritable (0 across processes)
 *   4096    ...   audio: capacity × frame size bytes; frame at position p lives at (p mod capacity)
 *
 * The positions sit in a header page of their own, each in its own 64-byte cache line, apart from
 * the audio bytes: the producer only stores the write position and the consumer only the read
 * position, so neither line is written by both sides, and the audio region is nothing but frames.
 * Positions are u32 counters that wrap at 2^32; fill = (write − read) mod 2^32, which is exact
 * while capacity < 2^31. (A 64-bit position would need BigInt reads, which allocate.)
 *
 * Ordering: the producer copies frames, then publishes the write position with Atomics.store; the
 * consumer reads the position with Atomics.load before copying. Atomics on a SharedArrayBuffer
 * are sequentially consistent; on an mmap'd ArrayBuffer (cross-process) V8 uses the same
 * instructions (see docs/facts/node-realtime.md#shared-memory-across-processes for the arm64 caveat).
 */

import { RingCopier } from '../util/ring-copy.ts';

export const RING_MAGIC = 0x52425341;
export const RING_VERSION = 1;
export const RING_HEADER_BYTES = 4096;
const OFF_MAGIC = 0, OFF_VERSION = 4, OFF_FRAME_BYTES = 8, OFF_CAPACITY = 12, OFF_WRITE = 64, OFF_READ = 128, OFF_WAITERS = 192;

export function ringBytes(capacityFrames: number, frameBytes: number): number {
  return RING_HEADER_BYTES + capacityFrames * frameBytes;
}

export class RingLayoutError extends Error {
  constructor(message: string) {
    super(`ring buffer: ${message}`);
    this.name = 'RingLayoutError';
  }
}

export class FrameRing {
  readonly capacityFrames: number;
  readonly frameBytes: number;
  private readonly header: Int32Array;
  private readonly audio: Uint8Array;
  private readonly shared: boolean;
  // Copies without subarray views: a view is an allocation, and write/read run every period.
  // The copier caches word views of the audio region and of the caller's arrays.
  private readonly copier = new RingCopier();

  /**
   * Attaches to a ring already initialised in `buffer` (see `FrameRing.init`).
   * `buffer` is a SharedArrayBuffer (threads) or an ArrayBuffer over a shared mapping (processes).
   */
  constructor(readonly buffer: ArrayBufferLike, readonly byteOffset = 0) {
    if (byteOffset % 8 !== 0) throw new RingLayoutError(`byte offset ${byteOffset} is not 8-byte aligned`);
    this.header = new Int32Array(buffer, byteOffset, RING_HEADER_BYTES / 4);
    if (this.header[OFF_MAGIC / 4] !== RING_MAGIC) throw new RingLayoutError('no ring here (bad magic)');
    if (this.header[OFF_VERSION / 4] !== RING_VERSION) throw new RingLayoutError(`layout version ${this.header[OFF_VERSION / 4]}, expected ${RING_VERSION}`);
    this.frameBytes = this.header[OFF_FRAME_BYTES / 4]!;
    this.capacityFrames = this.header[OFF_CAPACITY / 4]!;
    const need = ringBytes(this.capacityFrames, this.frameBytes);
    if (buffer.byteLength - byteOffset < need) throw new RingLayoutError(`buffer holds ${buffer.byteLength - byteOffset} bytes, layout needs ${need}`);
    this.audio = new Uint8Array(buffer, byteOffset + RING_HEADER_BYTES, this.capacityFrames * this.frameBytes);
    this.shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
  }

  /** Writes a fresh header (positions 0) into `buffer` and attaches to it. */
  static init(buffer: ArrayBufferLike, capacityFrames: number, frameBytes: number, byteOffset = 0): FrameRing {
    if (!Number.isInteger(capacityFrames) || capacityFrames < 1 || capacityFrames >= 2 ** 31) throw new RingLayoutError(`capacity ${capacityFrames} frames is outside 1..2^31-1`);
    if (!Number.isInteger(frameBytes) || frameBytes < 1) throw new RingLayoutError(`frame size ${frameBytes} is not a positive whole number of bytes`);
    const need = ringBytes(capacityFrames, frameBytes);
    if (buffer.byteLength - byteOffset < need) throw new RingLayoutError(`buffer holds ${buffer.byteLength - byteOffset} bytes, layout needs ${need}`);
    const h = new Int32Array(buffer, byteOffset, RING_HEADER_BYTES / 4);
    h.fill(0);
    h[OFF_FRAME_BYTES / 4] = frameBytes;
    h[OFF_CAPACITY / 4] = capacityFrames;
    h[OFF_VERSION / 4] = RING_VERSION;
    Atomics.store(h, OFF_MAGIC / 4, RING_MAGIC); // last: a reader that sees the magic sees the rest
    return new FrameRing(buffer, byteOffset);
  }

  /** A ring in a new SharedArrayBuffer, for use between worker threads. */
  static createShared(capacityFrames: number, frameBytes: number): FrameRing {
    return FrameRing.init(new SharedArrayBuffer(ringBytes(capacityFrames, frameBytes)), capacityFrames, frameBytes);
  }

  writePosition(): number {
    return Atomics.load(this.header, OFF_WRITE / 4) >>> 0;
  }

  readPosition(): number {
    return Atomics.load(this.header, OFF_READ / 4) >>> 0;
  }

  /** Frames the consumer can read now. */
  readable(): number {
    return (this.writePosition() - this.readPosition()) >>> 0;
  }

  /** Frames the producer can write now. */
  writable(): number {
    return this.capacityFrames - this.readable();
  }

  /** Producer: copies up to `frames` whole frames from `src`; returns the frames written. */
  write(src: Uint8Array, frames: number): number {
    const w = this.writePosition();
    const room = this.capacityFrames - ((w - this.readPosition()) >>> 0);
    const n = Math.min(frames, room, Math.floor(src.length / this.frameBytes));
    if (n <= 0) return 0;
    this.copier.toRing(this.audio, (w % this.capacityFrames) * this.frameBytes, src, 0, n * this.frameBytes);
    Atomics.store(this.header, OFF_WRITE / 4, (w + n) | 0);
    // Only when a thread sleeps on the ring: a notify with nobody waiting costs as much as the copy.
    if (this.shared && Atomics.load(this.header, OFF_WAITERS / 4) !== 0) Atomics.notify(this.header, OFF_WRITE / 4);
    return n;
  }

  /** Consumer: copies up to `frames` whole frames into `dst`; returns the frames read. */
  read(dst: Uint8Array, frames: number): number {
    const r = this.readPosition();
    const have = (this.writePosition() - r) >>> 0;
    const n = Math.min(frames, have, Math.floor(dst.length / this.frameBytes));
    if (n <= 0) return 0;
    this.copier.fromRing(this.audio, (r % this.capacityFrames) * this.frameBytes, dst, 0, n * this.frameBytes);
    Atomics.store(this.header, OFF_READ / 4, (r + n) | 0);
    if (this.shared && Atomics.load(this.header, OFF_WAITERS / 4) !== 0) Atomics.notify(this.header, OFF_READ / 4);
    return n;
  }

  /** Consumer: drops up to `frames` frames without copying; returns the frames skipped. */
  skip(frames: number): number {
    const r = this.readPosition();
    const n = Math.min(frames, (this.writePosition() - r) >>> 0);
    if (n > 0) Atomics.store(this.header, OFF_READ / 4, (r + n) | 0);
    if (n > 0 && this.shared && Atomics.load(this.header, OFF_WAITERS / 4) !== 0) Atomics.notify(this.header, OFF_READ / 4);
    return n;
  }

  /**
   * Consumer, threads only: blocks until at least `frames` frames are readable or `timeoutMs`
   * passes. Returns whether they are. (Atomics.wait needs a SharedArrayBuffer; across processes,
   * wake the consumer another way, e.g. by polling at period rate.)
   */
  waitReadable(frames: number, timeoutMs: number): boolean {
    if (!this.shared) throw new RingLayoutError('waitReadable needs a SharedArrayBuffer (cross-process rings poll instead)');
    const deadline = Date.now() + timeoutMs;
    // Counted before the position is read (see docs/ringbuffer.md, "Ordering"): a producer that
    // stores after this read sees the count and notifies.
    Atomics.add(this.header, OFF_WAITERS / 4, 1);
    try {
      for (;;) {
        const w = Atomics.load(this.header, OFF_WRITE / 4);
        if (((w >>> 0) - this.readPosition()) >>> 0 >= frames) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        Atomics.wait(this.header, OFF_WRITE / 4, w, left);
      }
    } finally {
      Atomics.sub(this.header, OFF_WAITERS / 4, 1);
    }
  }

  /** Producer, threads only: blocks until at least `frames` frames are writable or `timeoutMs` passes. */
  waitWritable(frames: number, timeoutMs: number): boolean {
    if (!this.shared) throw new RingLayoutError('waitWritable needs a SharedArrayBuffer (cross-process rings poll instead)');
    const deadline = Date.now() + timeoutMs;
    Atomics.add(this.header, OFF_WAITERS / 4, 1);
    try {
      for (;;) {
        const r = Atomics.load(this.header, OFF_READ / 4);
        if (this.capacityFrames - (((this.writePosition() - (r >>> 0)) >>> 0)) >= frames) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        Atomics.wait(this.header, OFF_READ / 4, r, left);
      }
    } finally {
      Atomics.sub(this.header, OFF_WAITERS / 4, 1);
    }
  }
}
