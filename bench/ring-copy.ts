// Copies at memory speed (issue 26): FrameRing write + read (src/ringbuffer/ring.ts, whose copies
// are src/util/ring-copy.ts) against Buffer.prototype.copy, in the same run, interleaved round by
// round, median of the rounds. Target (issue 26): the ring at 2 KiB ≥ 0.8 × Buffer.copy.
//
// What is timed, per size (512 B, 2 KiB, 16 KiB chunks):
// - ring: `write(src, frames)` then `read(dst, frames)` of one chunk (4-byte frames: stereo S16),
//   in a ring of 2.5 chunks, so the offsets cycle through five places and one write and one read
//   in five straddle the ring's end (the two-piece copy). MB/s counts the chunk once per pair.
//   Two rings: a SharedArrayBuffer one (threads) and an ArrayBuffer one (the cross-process kind,
//   over a shared mapping; also the sim PCM's and the engine's own buffers).
// - Buffer.copy, the same work (the baseline the target is judged on): the two copies a write + read
//   makes — the chunk into the ring's memory at the ring's offset (in two pieces where it wraps) and
//   back out — done with Buffer.copy over the same kind of memory (a SharedArrayBuffer or an
//   ArrayBuffer of the ring's size). What the ring adds is its bookkeeping: the position atomics.
// - Buffer.copy whole: one `src.copy(dst)` of a chunk-sized Buffer (one memcpy of the chunk, half the
//   work of a pair; Node 20 makes no view for a whole source), shown for scale: a pair can reach at
//   most about half of it, and from a SharedArrayBuffer V8 copies with relaxed atomic moves.
//
//   node --import tsx bench/ring-copy.ts [--rounds N] [--ms M] [--before DIR]
// Defaults: 7 rounds, 150 ms a case. --before DIR: also the FrameRing of another tree (DIR holds
// src/ringbuffer/ring.ts and src/util/ring-copy.ts, e.g. from `git show REV:PATH`), in the same
// run, for a before/after figure.
// Exit 0 when the 2 KiB target holds for both rings, 1 when not. Not part of `make test`.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { FrameRing, ringBytes } from '../src/ringbuffer/ring.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, ms: { type: 'string' }, before: { type: 'string' } } });
const rounds = Number(values.rounds ?? 7);
const caseMs = Number(values.ms ?? 150);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number from 1, got "${values.rounds}"`);
if (!(caseMs > 0)) throw new Error(`--ms must be above 0, got "${values.ms}"`);

type Ring = Pick<FrameRing, 'write' | 'read'>;
interface RingModule { FrameRing: { createShared(capacity: number, frameBytes: number): Ring; init(buffer: ArrayBufferLike, capacity: number, frameBytes: number): Ring } }
const before = values.before === undefined ? undefined
  : await import(pathToFileURL(path.resolve(values.before, 'src/ringbuffer/ring.ts')).href) as RingModule;

const FRAME = 4;
const SIZES = [512, 2048, 16384];
const TARGET = 0.8; // at 2 KiB, against Buffer.copy doing the same work (issue 26)

interface Case { name: string; run: (times: number) => void }

function ringCase(name: string, ring: Ring, chunk: number): Case {
  const frames = chunk / FRAME;
  const src = new Uint8Array(chunk);
  for (let i = 0; i < chunk; i++) src[i] = (i * 7 + 3) & 0xff;
  const dst = new Uint8Array(chunk);
  return {
    name,
    run: (times) => {
      for (let i = 0; i < times; i++) {
        if (ring.write(src, frames) !== frames || ring.read(dst, frames) !== frames) throw new Error(`${name}: short write or read`);
      }
    },
  };
}

/** The copies of a ring write + read, by Buffer.copy into and out of `memory` (the ring's audio bytes) at the ring's offsets. */
function sameWorkCase(name: string, memory: ArrayBufferLike, chunk: number): Case {
  const region = Buffer.from(memory);
  const src = Buffer.alloc(chunk, 7);
  const dst = Buffer.alloc(chunk);
  const size = region.length;
  let at = 0;
  return {
    name,
    run: (times) => {
      for (let i = 0; i < times; i++) {
        const first = Math.min(chunk, size - at);
        src.copy(region, at, 0, first);
        if (first < chunk) src.copy(region, 0, first, chunk);
        region.copy(dst, 0, at, at + first);
        if (first < chunk) region.copy(dst, first, 0, chunk - first);
        at = (at + chunk) % size;
      }
    },
  };
}

function casesFor(chunk: number): Case[] {
  const capacity = (chunk / FRAME) * 5 / 2;
  const whole = Buffer.alloc(chunk, 5), wholeDst = Buffer.alloc(chunk);
  const big = Buffer.alloc(chunk * 3, 6), bigDst = Buffer.alloc(chunk);
  return [
    { name: 'Buffer.copy whole', run: (times) => { for (let i = 0; i < times; i++) whole.copy(wholeDst); } },
    { name: 'Buffer.copy range', run: (times) => { for (let i = 0; i < times; i++) { const at = (i & 1) * 4; big.copy(bigDst, 0, at, at + chunk); } } },
    sameWorkCase('Buffer.copy pair (SAB)', new SharedArrayBuffer(capacity * FRAME), chunk),
    sameWorkCase('Buffer.copy pair (AB)', new ArrayBuffer(capacity * FRAME), chunk),
    ringCase('ring (SharedArrayBuffer)', FrameRing.createShared(capacity, FRAME), chunk),
    ringCase('ring (ArrayBuffer)', FrameRing.init(new ArrayBuffer(ringBytes(capacity, FRAME)), capacity, FRAME), chunk),
    ...(before === undefined ? [] : [
      ringCase('before: ring (SAB)', before.FrameRing.createShared(capacity, FRAME), chunk),
      ringCase('before: ring (ArrayBuffer)', before.FrameRing.init(new ArrayBuffer(ringBytes(capacity, FRAME)), capacity, FRAME), chunk),
    ]),
  ];
}

/** Calls per second of one case, over about `caseMs` (calibrated once per case). */
function rate(c: Case, batch: number): number {
  const t0 = process.hrtime.bigint();
  let calls = 0;
  const until = t0 + BigInt(Math.round(caseMs * 1e6));
  let now = t0;
  while (now < until) {
    c.run(batch);
    calls += batch;
    now = process.hrtime.bigint();
  }
  return calls / (Number(now - t0) / 1e9);
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

let met = true;
console.log(`ring write + read vs Buffer.copy, median of ${rounds} rounds of ${caseMs} ms a case (node ${process.version})`);
console.log(`${'chunk'.padEnd(7)} ${'case'.padEnd(26)} ${'MB/s'.padStart(9)} ${'x same work'.padStart(12)} ${'x whole copy'.padStart(13)}  (min..max MB/s)`);
for (const chunk of SIZES) {
  const cases = casesFor(chunk);
  const batch = Math.max(16, Math.round(2e6 / (chunk + 256))); // a few ms a batch: the clock read is no cost
  for (const c of cases) rate(c, batch); // warm-up: optimised code before the first round
  const mbs: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) cases.forEach((c, k) => mbs[k]!.push((rate(c, batch) * chunk) / 1e6));
  const whole = median(mbs[0]!);
  const pairSab = median(mbs[cases.findIndex((c) => c.name === 'Buffer.copy pair (SAB)')]!);
  const pairAb = median(mbs[cases.findIndex((c) => c.name === 'Buffer.copy pair (AB)')]!);
  cases.forEach((c, k) => {
    const m = median(mbs[k]!);
    const sameWork = /SAB|SharedArrayBuffer/.test(c.name) ? m / pairSab : /AB|ArrayBuffer/.test(c.name) ? m / pairAb : Number.NaN;
    console.log(`${`${chunk} B`.padEnd(7)} ${c.name.padEnd(26)} ${m.toFixed(0).padStart(9)} ${(Number.isNaN(sameWork) ? '' : sameWork.toFixed(2)).padStart(12)} ${(m / whole).toFixed(2).padStart(13)}  (${Math.min(...mbs[k]!).toFixed(0)}..${Math.max(...mbs[k]!).toFixed(0)})`);
    if (chunk === 2048 && c.name.startsWith('ring') && sameWork < TARGET) met = false;
  });
}
console.log(`target: ring write + read at 2 KiB ≥ ${TARGET} × Buffer.copy doing the same work, both rings: ${met ? 'met' : 'NOT met'}`);
process.exit(met ? 0 : 1);
