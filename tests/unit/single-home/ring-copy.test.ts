/**
 * One home for byte copies on the audio path: src/util/ring-copy.ts (FrameCopier for two linear
 * arrays, RingCopier into and out of a wrapped ring). The ring buffer, the simulated PCM, the
 * stream bridge host, the sim capture signals and the stream client use it; nothing else in src/,
 * codecs/ or alsa/ copies element by element, round a ring by hand, or through subarray views.
 * Every copy is checked against a byte-by-byte walk round the ring written here.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FrameCopier, RingCopier } from '../../../src/util/ring-copy.ts';
import { Xorshift32 } from '../helpers/prng.ts';
import { walkFromRing, walkToRing } from '../helpers/ring-walk.ts';
import { RING_COPY_RULES } from './rules.ts';
import { listFindings, scanText, scanTree, sourceFiles } from './scan.ts';

const HOME = 'src/util/ring-copy.ts';

function bytes(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  new Xorshift32(seed).fill(a);
  return a;
}

describe('single home: ring copies (src/util/ring-copy.ts)', () => {
  describe('RingCopier', () => {
    it('writes into the ring across the wrap, in two pieces, and leaves the rest alone', () => {
      const c = new RingCopier();
      const ring = new Uint8Array(16).fill(0xee);
      const src = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
      const end = c.toRing(ring, 12, src, 0, 10);
      assert.equal(end, 6);
      assert.deepEqual([...ring], [5, 6, 7, 8, 9, 10, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 1, 2, 3, 4]);
    });

    it('reads out of the ring across the wrap into an offset in the destination', () => {
      const c = new RingCopier();
      const ring = Uint8Array.from({ length: 16 }, (_, i) => 100 + i);
      const dst = new Uint8Array(12).fill(0xee);
      const end = c.fromRing(ring, 13, dst, 2, 7);
      assert.equal(end, 4);
      assert.deepEqual([...dst], [0xee, 0xee, 113, 114, 115, 100, 101, 102, 103, 0xee, 0xee, 0xee]);
    });

    it('copies nothing for zero bytes (also at the end, and on an empty ring)', () => {
      const c = new RingCopier();
      const ring = new Uint8Array(8).fill(7);
      const other = new Uint8Array(8).fill(9);
      assert.equal(c.toRing(ring, 3, other, 0, 0), 3);
      assert.equal(c.fromRing(ring, 8, other, 8, 0), 0);
      assert.deepEqual([...ring], Array(8).fill(7));
      assert.deepEqual([...other], Array(8).fill(9));
      assert.equal(c.toRing(new Uint8Array(0), 0, other, 0, 0), 0);
      assert.throws(() => c.toRing(new Uint8Array(0), 0, other, 0, 1), RangeError);
    });

    it('ends exactly at the ring\'s end without a second piece, and starts at 0 from there', () => {
      const c = new RingCopier();
      const ring = new Uint8Array(12);
      const src = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
      assert.equal(c.toRing(ring, 8, src, 0, 4), 0, 'the offset after the last byte wraps to 0');
      assert.deepEqual([...ring], [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
      assert.equal(c.toRing(ring, 12, src, 4, 4), 4, 'an offset of the ring\'s size is 0');
      assert.deepEqual([...ring.subarray(0, 4)], [5, 6, 7, 8]);
      assert.equal(c.toRing(ring, 0, src, 0, 12), 0, 'the whole ring in one piece');
      assert.deepEqual([...ring], [...src]);
      const out = new Uint8Array(12);
      assert.equal(c.fromRing(ring, 0, out, 0, 12), 0);
      assert.deepEqual([...out], [...src]);
    });

    it('matches a byte-by-byte walk round the ring for every size, offset, length and alignment tried', () => {
      const c = new RingCopier();
      const rng = new Xorshift32(0x5eed);
      for (let trial = 0; trial < 3000; trial++) {
        const size = 1 + (rng.nextU32() % 97);
        const pad = rng.nextU32() % 8; // the arrays' own offsets in their buffers: aligned and not
        const ring = new Uint8Array(new ArrayBuffer(size + 8), pad, size);
        const ref = new Uint8Array(size);
        ring.set(bytes(size, trial + 1)); ref.set(ring);
        const n = rng.nextU32() % (size * 3); // up to three times round
        const at = (rng.nextU32() % (size * 2)) - (trial % 5 === 0 ? size : 0);
        const lin = new Uint8Array(new ArrayBuffer(n + 16), rng.nextU32() % 8, n + 8);
        lin.set(bytes(lin.length, trial + 7));
        const linStart = rng.nextU32() % 8;
        assert.equal(c.toRing(ring, at, lin, linStart, n), walkToRing(ref, at, lin, linStart, n));
        assert.deepEqual(ring, ref, `toRing size ${size} at ${at} n ${n}`);
        const got = new Uint8Array(lin.length), want = new Uint8Array(lin.length);
        assert.equal(c.fromRing(ring, at, got, linStart, n), walkFromRing(ring, at, want, linStart, n));
        assert.deepEqual(got, want, `fromRing size ${size} at ${at} n ${n}`);
      }
    });
  });

  describe('FrameCopier', () => {
    it('copies aligned, same-phase unaligned and differently aligned ranges exactly, touching nothing else', () => {
      const c = new FrameCopier();
      const src = bytes(96, 3);
      for (const [s, d, n] of [[0, 0, 64], [4, 8, 12], [1, 5, 30], [3, 7, 9], [1, 2, 33], [2, 0, 7], [0, 60, 4], [5, 9, 0]] as const) {
        const dst = new Uint8Array(96);
        c.copy(src, s, dst, d, n);
        const want = new Uint8Array(96);
        for (let i = 0; i < n; i++) want[d + i] = src[s + i]!;
        assert.deepEqual(dst, want, `src ${s} dst ${d} n ${n}`);
      }
      const odd = new Uint8Array(new ArrayBuffer(40), 2, 30).fill(9); // byteOffset not word-aligned
      const dst = new Uint8Array(32);
      c.copy(odd, 0, dst, 4, 8);
      assert.deepEqual([...dst.subarray(4, 12)], Array(8).fill(9));
    });
  });

  it('is the only copy loop in src/, codecs/ or alsa/', () => {
    const files = sourceFiles();
    assert.ok(files.includes('src/ringbuffer/ring.ts') && files.includes('src/engine/hosts/stream-bridge.ts') && files.includes(HOME), 'the scan reaches the users');
    const found = scanTree(RING_COPY_RULES, [HOME]);
    assert.equal(found.length, 0, `a copy loop outside ${HOME} (use RingCopier / FrameCopier):\n${listFindings(found)}`);
  });

  it('negative control: the scanner flags planted copy loops, each at its line', () => {
    const planted = [
      ['for (let i = 0; i < n; i++) dst[dstOffset + i] = src[srcOffset + i]!;', 'element-by-element copy loop'],
      ['  ring[i] = bytes[src++]!;', 'element-by-element copy loop'],
      ['  if (++at === ringBytes) at = 0;', 'manual wrap of a copy position'],
      ['for (let i = 0; i < count; i++) s[(w + i) % LINK_SAMPLES] = f32[base + i]!;', 'element copy at a wrapped index (a ring copy loop)'],
      ['  this.bytes.set(src.subarray(i, i + n), o);', 'copy through a subarray view'],
      ['if (n > first) this.copier.copy(src, first * fb, this.audio, 0, (n - first) * fb);', 'second piece of a wrapped copy'],
      ['function copyBytes(dst: Uint8Array, o: number, src: Uint8Array, so: number, n: number): void {', 'copy helper defined'],
      ['export class FrameCopier {', 'copy helper defined'],
    ] as const;
    const text = ['// line 1', ...planted.map(([code]) => code)].join('\n');
    const found = scanText('src/x.ts', text, RING_COPY_RULES);
    planted.forEach(([code, rule], i) => {
      assert.ok(found.some((f) => f.line === i + 2 && f.rule === rule), `not flagged as "${rule}" at line ${i + 2}: ${code}\n${listFindings(found)}`);
    });
    const clean = [
      "import { RingCopier } from '../../util/ring-copy.ts';",
      'if (output) copier.fromRing(buf, at, bytes, 0, frames * frameBytes);',
      'this.copier.copy(data, done * fb, ring, pcm.mmapByteOffset, got * fb);',
      'for (let f = 0; f < frames; f++) out[f * channels + ch] = seg.data[k * seg.channels + ch]!;', // a layout change
      'grown.set(this.buf);',
      "t.set(randomBytes(16).subarray(0, 16));",
    ].join('\n');
    assert.deepEqual(scanText('src/x.ts', clean, RING_COPY_RULES), []);
  });

  it('negative control: the tree scan names the file and line of a planted copy loop, and spares the home', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'single-home-ring-copy-'));
    try {
      const put = (rel: string, text: string) => {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), text);
      };
      put(HOME, 'for (let i = 0; i < n; i++) d[a + i] = s[b + i]!;\n');
      put('src/hal/sim/pcm.ts', 'const x = 1;\nfor (let i = 0; i < n; i++) dst[o + i] = src[p + i]!;\n');
      put('codecs/x/model.ts', 'out.set(this.ring.subarray(o, o + n), 0);\n');
      const found = scanTree(RING_COPY_RULES, [HOME], root);
      assert.deepEqual([...new Set(found.map((f) => `${f.file}:${f.line}`))], ['codecs/x/model.ts:1', 'src/hal/sim/pcm.ts:2']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
