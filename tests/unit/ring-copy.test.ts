/**
 * The audio path's byte copies (src/util/ring-copy.ts, issue 26): TypedArray.prototype.set from
 * kept source views, the word loop below SET_MIN_BYTES and once a copier's view table is full.
 *
 * Every copy is checked against a byte-by-byte walk round the ring written here, at odd offsets,
 * lengths and byteOffsets, across the ring's end, on both paths. Then allocation: a child process
 * with a 1 MB young generation runs the copies in steady state after a warm-up and counts the
 * scavenges (as tests/unit/ringbuffer-alloc.test.ts does for FrameRing); controls that allocate
 * 64 bytes a period, or copy through a fresh subarray view a period, must be caught by the same count.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameCopier, RingCopier, SET_MIN_BYTES, VIEW_LIMIT } from '../../src/util/ring-copy.ts';
import { Xorshift32 } from './helpers/prng.ts';
import { walkFromRing, walkToRing } from './helpers/ring-walk.ts';

const HOME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/util/ring-copy.ts');

/** Byte-for-byte equality of any two byte arrays (a Buffer and a Uint8Array alike), naming the first difference. */
function assertSameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: byte ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

type Kind = 'ArrayBuffer' | 'SharedArrayBuffer' | 'Buffer';

/** `n` random bytes in an array that starts `pad` bytes into a larger buffer of the given kind. */
function bytesIn(kind: Kind, n: number, pad: number, rng: Xorshift32): Uint8Array {
  let a: Uint8Array;
  if (kind === 'Buffer') a = Buffer.allocUnsafe(n + pad).subarray(pad); // small ones come from Node's shared pool
  else a = new Uint8Array(kind === 'ArrayBuffer' ? new ArrayBuffer(n + pad + 8) : new SharedArrayBuffer(n + pad + 8), pad, n);
  rng.fill(a);
  return a;
}

describe('ring copies at memory speed (src/util/ring-copy.ts)', () => {
  it('matches a byte walk round the ring below and above SET_MIN_BYTES, up to 20 KiB, at odd offsets, on ArrayBuffer, SharedArrayBuffer and Buffer-pool arrays', () => {
    const rng = new Xorshift32(0x26);
    const kinds: Kind[] = ['ArrayBuffer', 'SharedArrayBuffer', 'Buffer'];
    let viaViews = 0;
    for (let trial = 0; trial < 600; trial++) {
      const c = new RingCopier();
      const size = trial % 3 === 0 ? 1 + (rng.nextU32() % 200) : 1 + (rng.nextU32() % 20000);
      const ring = bytesIn(kinds[trial % 3]!, size, rng.nextU32() % 8, rng);
      const ref = Uint8Array.from(ring);
      const linLength = 1 + (rng.nextU32() % (size * 2));
      const lin = bytesIn(kinds[(trial + 1) % 3]!, linLength, rng.nextU32() % 8, rng);
      // Several copies per copier, so that kept views are used again, not only made.
      for (let k = 0; k < 6; k++) {
        const linStart = k % 2 === 0 ? 0 : rng.nextU32() % linLength;
        const n = k === 0 ? linLength : rng.nextU32() % (linLength - linStart + 1); // k = 0: the whole array
        const at = (rng.nextU32() % (size * 2)) - (k === 5 ? size : 0);
        assert.equal(c.toRing(ring, at, lin, linStart, n), walkToRing(ref, at, lin, linStart, n));
        assertSameBytes(ring, ref, `toRing trial ${trial}.${k}: size ${size} at ${at} from ${linStart} n ${n}`);
        const got = Uint8Array.from(lin), want = Uint8Array.from(lin); // the bytes around the range must stay
        const at2 = rng.nextU32() % size;
        assert.equal(c.fromRing(ring, at2, got, linStart, n), walkFromRing(ring, at2, want, linStart, n));
        assertSameBytes(got, want, `fromRing trial ${trial}.${k}: size ${size} at ${at2} into ${linStart} n ${n}`);
      }
      viaViews += c.keptViews;
    }
    assert.ok(viaViews > 1000, `the trials must go through kept views, not only the word loop (${viaViews} views kept)`);
  });

  it('keeps one view per ring place a steady ring cycles through, and takes the whole source array without one', () => {
    const frame = 8, period = 64, capacity = 1024; // as tests/unit/helpers/ring-alloc-child.ts: 16 places
    const c = new RingCopier();
    const ring = new Uint8Array(capacity * frame);
    const src = new Uint8Array(period * frame).fill(3), dst = new Uint8Array(period * frame);
    for (let lap = 0; lap < 3; lap++) {
      for (let p = 0; p < capacity / period; p++) {
        c.toRing(ring, p * period * frame, src, 0, src.length);
        c.fromRing(ring, p * period * frame, dst, 0, dst.length);
      }
      assert.equal(c.keptViews, capacity / period, `lap ${lap}: one view per place read from, none for the whole source`);
    }
    assert.deepEqual(dst, src);
  });

  it('stops keeping views at VIEW_LIMIT and still copies every range right past it', () => {
    const c = new FrameCopier();
    const rng = new Xorshift32(7);
    const src = bytesIn('ArrayBuffer', 8192, 0, rng);
    const dst = new Uint8Array(8192);
    const n = SET_MIN_BYTES + 5;
    for (let i = 0; i < 3 * VIEW_LIMIT; i++) {
      const from = (i * 7) % (src.length - n);
      dst.fill(0);
      c.copy(src, from, dst, i % 13, n);
      assert.deepEqual(dst.subarray(i % 13, (i % 13) + n), src.subarray(from, from + n), `range ${i} from ${from}`);
      assert.equal(dst[(i % 13) + n], 0, 'nothing past the range');
    }
    assert.equal(c.keptViews, VIEW_LIMIT);
  });

  it('never serves a view of another buffer: the same offsets in a new source buffer copy the new bytes', () => {
    const c = new FrameCopier();
    const a = new Uint8Array(4096).fill(0x11), b = new Uint8Array(4096).fill(0x22);
    const dst = new Uint8Array(200);
    c.copy(a, 100, dst, 0, 200);
    assert.ok(dst.every((x) => x === 0x11));
    c.copy(b, 100, dst, 0, 200); // a view kept by (offset, length) alone would copy a's bytes again
    assert.ok(dst.every((x) => x === 0x22), 'the second source\'s bytes');
    assert.equal(c.keptViews, 1, 'the first buffer\'s views were dropped');
  });

  it('shares views between arrays over one buffer by absolute offset, each at its own byteOffset', () => {
    const buf = new ArrayBuffer(4096);
    new Xorshift32(9).fill(new Uint8Array(buf));
    const whole = new Uint8Array(buf), inner = new Uint8Array(buf, 64, 1024);
    const c = new FrameCopier();
    const d1 = new Uint8Array(300), d2 = new Uint8Array(300);
    c.copy(whole, 164, d1, 0, 300);
    c.copy(inner, 100, d2, 0, 300); // the same bytes: buffer offset 164
    assert.deepEqual(d2, d1);
    assert.deepEqual(d1, whole.subarray(164, 464));
    assert.equal(c.keptViews, 1);
    const d3 = new Uint8Array(300);
    c.copy(inner, 0, d3, 0, 300); // inner's 0 is the buffer's 64, not its 0
    assert.deepEqual(d3, whole.subarray(64, 364));
    assert.notDeepEqual(d3, whole.subarray(0, 300), 'control: the buffer\'s first bytes differ, so the check can fail');
  });

  it('reads nothing past the source array into the rest of its buffer (a range past its end takes the word loop, as before)', () => {
    const buf = new Uint8Array(1024).fill(0xaa);
    const src = new Uint8Array(buf.buffer, 16, 100).fill(0x55);
    const dst = new Uint8Array(200);
    new FrameCopier().copy(src, 50, dst, 0, 120); // 70 bytes past src's end, still inside its buffer
    assert.ok(dst.subarray(0, 50).every((x) => x === 0x55));
    assert.ok(dst.subarray(50, 120).every((x) => x === 0), 'past the array: nothing (the word loop reads undefined, stored as 0)');
    assert.equal(buf[16 + 100], 0xaa, 'control: the buffer past the array holds 0xaa, which a view would have copied');
  });

  describe('allocation in steady state', function () {
    this.timeout(120000);

    /**
     * The child: a warm-up of 100,000 periods (V8 optimises the loop; the copiers make their
     * views), then 300,000 periods counted. One period: a 64-frame write into and read out of a
     * ring of 1000 frames of 4 bytes (the stream bridge's client buffer in engine-alloc.test.ts:
     * 125 places, 7 of them straddling the end) through one RingCopier, and a FrameCopier copy of
     * a range (not the whole array) that cycles through `distinct` places.
     */
    function run(mode: 'steady' | 'overflow' | 'allocate' | 'subarray'): { scavenges: number; kept: number } {
      const child = `
        import { PerformanceObserver, constants } from 'node:perf_hooks';
        const { RingCopier, FrameCopier, VIEW_LIMIT } = await import(${JSON.stringify(HOME)});
        const mode = ${JSON.stringify(mode)};
        const fb = 4, period = 64, ringFrames = 1000;
        const ring = new Uint8Array(ringFrames * fb), io = new Uint8Array(period * fb);
        const rc = new RingCopier(), fc = new FrameCopier();
        const big = new Uint8Array(65536), out = new Uint8Array(1024);
        const distinct = mode === 'overflow' ? 3 * VIEW_LIMIT : 40;
        let r = 0, k = 0, sink = 0;
        function periodOnce() {
          const at = (r % ringFrames) * fb;
          rc.toRing(ring, at, io, 0, io.length);
          rc.fromRing(ring, at, io, 0, io.length);
          r += period;
          const from = (k % distinct) * 100;
          k++;
          if (mode === 'subarray') out.set(big.subarray(from, from + 512), 0);
          else fc.copy(big, from, out, 0, 512);
          if (mode === 'allocate') sink += new Uint8Array(64).length;
        }
        for (let i = 0; i < 100000; i++) periodOnce();
        let scavenges = 0;
        const obs = new PerformanceObserver((list) => {
          for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
        });
        obs.observe({ entryTypes: ['gc'] });
        for (let i = 0; i < 300000; i++) periodOnce();
        setTimeout(() => { // gc entries arrive asynchronously
          obs.disconnect();
          process.stdout.write(JSON.stringify({ scavenges, kept: rc.keptViews + fc.keptViews, sink }) + '\\n');
        }, 100);
      `;
      // --no-concurrent-recompilation: hot code is optimised at once on this thread, not on a
      // background thread a busy machine may starve past the warm-up (see alsa-alloc.test.ts).
      const r = spawnSync(process.execPath, ['--max-semi-space-size=1', '--no-concurrent-recompilation', '--import', 'tsx', '--input-type=module', '--eval', child], { encoding: 'utf8', timeout: 110000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { scavenges: number; kept: number };
    }

    it('allocates nothing per period after warm-up: zero scavenges, with the copies going through kept views', () => {
      const r = run('steady');
      assert.equal(r.scavenges, 0);
      assert.ok(r.kept >= 125 + 40, `the copies must be served by kept views (${r.kept} kept), or the zero says nothing about them`);
    });

    it('allocates nothing either once the view table is full (ranges past VIEW_LIMIT take the word loop)', () => {
      const r = run('overflow');
      assert.equal(r.scavenges, 0);
      assert.ok(r.kept >= VIEW_LIMIT, `the FrameCopier's table must have filled (${r.kept} kept)`);
    });

    it('negative controls: 64 bytes a period, or a subarray view a period, are caught by the same count', () => {
      assert.ok(run('allocate').scavenges > 0, 'the allocating control must produce scavenges, or the measurement is blind');
      assert.ok(run('subarray').scavenges > 0, 'a fresh view per period (the copy this module avoids) must produce scavenges');
    });
  });
});
