/** A worker thread that produces pseudo-random frames into a shared ring (for ringbuffer.test.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { FrameRing } from '../../../src/ringbuffer/ring.ts';
import { Xorshift32 } from './prng.ts';

const { sab, frames, seed, chunk } = workerData as { sab: SharedArrayBuffer; frames: number; seed: number; chunk: number };
const ring = new FrameRing(sab);
const rng = new Xorshift32(seed);
const buf = new Uint8Array(chunk * ring.frameBytes);
let sent = 0;
parentPort!.postMessage({ ready: true });
while (sent < frames) {
  const n = Math.min(chunk, frames - sent);
  rng.fill(buf.subarray(0, n * ring.frameBytes));
  let off = 0;
  while (off < n) {
    if (!ring.waitWritable(1, 5000)) throw new Error('consumer stalled');
    off += ring.write(buf.subarray(off * ring.frameBytes, n * ring.frameBytes), n - off);
  }
  sent += n;
}
parentPort!.postMessage({ sent });
