import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { FrameRing, RingLayoutError, ringBytes } from '../../src/ringbuffer/ring.ts';
import { ShmFrameRing } from '../../src/ringbuffer/shm.ts';
import { tsWorker } from '../../src/util/worker.ts';
import { Xorshift32 } from './helpers/prng.ts';

const HERE = path.dirname(new URL(import.meta.url).pathname);

describe('ring buffer', () => {
  it('lays out the header as documented: magic, version, frame size, capacity, positions apart from audio', () => {
    const r = FrameRing.createShared(8, 4);
    const h = new DataView(r.buffer);
    assert.equal(h.getUint32(0, true), 0x52425341);
    assert.equal(h.getUint32(4, true), 1);
    assert.equal(h.getUint32(8, true), 4);
    assert.equal(h.getUint32(12, true), 8);
    assert.equal(r.buffer.byteLength, 4096 + 8 * 4);
    r.write(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 2);
    assert.equal(h.getUint32(64, true), 2, 'write position at offset 64');
    assert.deepEqual([...new Uint8Array(r.buffer, 4096, 8)], [1, 2, 3, 4, 5, 6, 7, 8], 'audio from offset 4096');
    r.read(new Uint8Array(4), 1);
    assert.equal(h.getUint32(128, true), 1, 'read position at offset 128');
  });

  it('moves whole frames only', () => {
    const r = FrameRing.createShared(8, 4);
    assert.equal(r.write(new Uint8Array(10), 3), 2, 'ten bytes hold two whole 4-byte frames');
    assert.equal(r.read(new Uint8Array(7), 2), 1, 'seven bytes take one whole frame');
  });

  it('wraps around the end of the audio region, keeping frame order', () => {
    const r = FrameRing.createShared(5, 2);
    const out = new Uint8Array(10);
    r.write(Uint8Array.of(1, 1, 2, 2, 3, 3, 4, 4), 4);
    assert.equal(r.read(out, 3), 3);
    assert.equal(r.write(Uint8Array.of(5, 5, 6, 6, 7, 7, 8, 8), 4), 4, 'four free frames after reading three');
    assert.equal(r.writable(), 0);
    assert.equal(r.write(Uint8Array.of(9, 9), 1), 0, 'a full ring takes nothing');
    assert.equal(r.read(out, 5), 5);
    assert.deepEqual([...out], [4, 4, 5, 5, 6, 6, 7, 7, 8, 8]);
    assert.equal(r.readable(), 0);
  });

  it('keeps counting across the 2^32 wrap of the free-running positions', () => {
    const r = FrameRing.createShared(4, 1);
    const h = new Uint32Array(r.buffer, 0, 64);
    h[64 / 4] = 0xfffffffe; // write position
    h[128 / 4] = 0xfffffffe; // read position
    assert.equal(r.write(Uint8Array.of(10, 11, 12), 3), 3);
    assert.equal(r.writePosition(), 1, 'wrapped past 2^32');
    assert.equal(r.readable(), 3);
    const out = new Uint8Array(3);
    assert.equal(r.read(out, 3), 3);
    assert.deepEqual([...out], [10, 11, 12]);
  });

  it('refuses a buffer that holds no ring or is too small', () => {
    assert.throws(() => new FrameRing(new SharedArrayBuffer(8192)), RingLayoutError);
    assert.throws(() => FrameRing.init(new SharedArrayBuffer(4096 + 3), 4, 1), /layout needs 4100/);
  });

  it('carries pseudo-random frames bit-exact from a worker thread to this one', async () => {
    const frames = 200_000, seed = 1234, frameBytes = 6;
    const ring = FrameRing.createShared(1000, frameBytes);
    const worker = tsWorker(path.join(HERE, 'helpers/ring-worker.ts'), { workerData: { sab: ring.buffer, frames, seed, chunk: 333 } });
    const done = new Promise<{ sent: number }>((res, rej) => {
      worker.on('message', (m) => { if ('sent' in m) res(m); });
      worker.once('error', rej);
    });
    // Loading the worker's TypeScript needs this thread's event loop, so wait for it before blocking.
    await new Promise((res, rej) => { worker.once('message', res); worker.once('error', rej); });
    const rng = new Xorshift32(seed);
    const buf = new Uint8Array(256 * frameBytes);
    const expect = new Uint8Array(256 * frameBytes);
    let got = 0, mismatches = 0;
    while (got < frames) {
      if (!ring.waitReadable(1, 5000)) throw new Error(`producer stalled at ${got}`);
      const n = ring.read(buf, 256);
      rng.fill(expect.subarray(0, n * frameBytes));
      for (let i = 0; i < n * frameBytes; i++) if (buf[i] !== expect[i]) mismatches++;
      got += n;
    }
    assert.equal((await done).sent, frames);
    assert.equal(mismatches, 0);
    await worker.terminate();
  });

  it('a write wakes a thread blocked in waitReadable (the waiters word says it sleeps; notify only then)', async function () {
    // The waiter's timeout is far beyond this test's: only a notify can end its wait in time.
    this.timeout(20000);
    const ring = FrameRing.createShared(64, 4);
    const waiters = new Int32Array(ring.buffer, 192, 1); // docs/ringbuffer.md: offset 192, waiters
    assert.equal(Atomics.load(waiters, 0), 0);
    const worker = tsWorker(path.join(HERE, 'helpers/ring-waiter.ts'), { workerData: { sab: ring.buffer, timeoutMs: 600000 } });
    try {
      const woke = new Promise<boolean>((res, rej) => {
        worker.on('message', (m: { woke?: boolean }) => { if (m.woke !== undefined) res(m.woke); });
        worker.once('error', rej);
      });
      // Until the worker counts itself as a waiter (it then sleeps, or is about to).
      while (Atomics.load(waiters, 0) === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(ring.write(new Uint8Array(4), 1), 1);
      assert.equal(await woke, true);
      assert.equal(Atomics.load(waiters, 0), 0, 'the waiter uncounted itself');
    } finally {
      await worker.terminate();
    }
  });

  it('carries pseudo-random frames bit-exact between two processes sharing one /dev/shm mapping', async function () {
    this.timeout(60000);
    const name = `/sbc-audio-test-${process.pid}`;
    const frames = 100_000, capacity = 1024, frameBytes = 8;
    const shm = ShmFrameRing.create(name, capacity, frameBytes);
    try {
      assert.ok(existsSync(`/dev/shm${name}`));
      assert.equal(statSync(`/dev/shm${name}`).size, ringBytes(capacity, frameBytes));
      assert.equal(statSync(`/dev/shm${name}`).mode & 0o777, 0o600);
      const run = (role: string) => new Promise<{ role: string; frames: number; mismatches: number }>((res, rej) => {
        const p = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'helpers/ring-process.ts'), role, name, String(frames), '77'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d) => { out += d; });
        p.on('exit', (code) => (code === 0 ? res(JSON.parse(out)) : rej(new Error(`${role} exited ${code}`))));
      });
      const [prod, cons] = await Promise.all([run('produce'), run('consume')]);
      assert.equal(prod.frames, frames);
      assert.equal(cons.frames, frames);
      assert.equal(cons.mismatches, 0);
      assert.equal(shm.ring.readPosition(), frames, 'the consumer process advanced the read position this process sees');
    } finally {
      shm.close();
      shm.unlink();
    }
  });
});
