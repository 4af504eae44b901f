/**
 * The reference for ring copies in tests (tests/unit/ring-copy.test.ts, single-home/ring-copy.test.ts):
 * byte i of a copy sits at ring[(at + i) mod size], walked one byte at a time. Returns the ring offset
 * after the copy. Written from that definition, not from src/util/ring-copy.ts.
 */
export function walkToRing(ring: Uint8Array, at: number, src: Uint8Array, srcStart: number, n: number): number {
  let o = ((at % ring.length) + ring.length) % ring.length;
  for (let i = 0; i < n; i++) {
    ring[o] = src[srcStart + i]!;
    o = (o + 1) % ring.length;
  }
  return o;
}

export function walkFromRing(ring: Uint8Array, at: number, dst: Uint8Array, dstStart: number, n: number): number {
  let o = ((at % ring.length) + ring.length) % ring.length;
  for (let i = 0; i < n; i++) {
    dst[dstStart + i] = ring[o]!;
    o = (o + 1) % ring.length;
  }
  return o;
}
