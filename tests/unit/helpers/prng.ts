/** A deterministic pseudo-random byte stream (xorshift32), the same in every process. */
export class Xorshift32 {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  nextU32(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
  fill(out: Uint8Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.nextU32() & 0xff;
  }
}
