/**
 * One side of the cross-process ring test: `produce NAME FRAMES SEED` or `consume NAME FRAMES SEED`.
 * Both sides map the same /dev/shm file; they poll (Atomics.wait does not work across processes).
 */
import { ShmFrameRing } from '../../../src/ringbuffer/shm.ts';
import { Xorshift32 } from './prng.ts';

const [role, name, framesArg, seedArg] = process.argv.slice(2);
const frames = Number(framesArg);
const rng = new Xorshift32(Number(seedArg));
const shm = ShmFrameRing.open(name!);
const ring = shm.ring;
const chunk = 97; // deliberately not a divisor of the capacity, so copies wrap mid-chunk
const buf = new Uint8Array(chunk * ring.frameBytes);
const expect = new Uint8Array(chunk * ring.frameBytes);
const deadline = Date.now() + 20000;
let done = 0;
let mismatches = 0;

async function pause(): Promise<void> {
  if (Date.now() > deadline) throw new Error(`${role}: timed out after ${done} frames`);
  await new Promise((r) => setTimeout(r, 1));
}

if (role === 'produce') {
  while (done < frames) {
    const n = Math.min(chunk, frames - done);
    rng.fill(buf.subarray(0, n * ring.frameBytes));
    let off = 0;
    while (off < n) {
      const w = ring.write(buf.subarray(off * ring.frameBytes, n * ring.frameBytes), n - off);
      if (w === 0) await pause();
      off += w;
    }
    done += n;
  }
} else {
  while (done < frames) {
    const r = ring.read(buf, Math.min(chunk, frames - done));
    if (r === 0) { await pause(); continue; }
    rng.fill(expect.subarray(0, r * ring.frameBytes));
    for (let i = 0; i < r * ring.frameBytes; i++) if (buf[i] !== expect[i]) mismatches++;
    done += r;
  }
}
shm.close();
process.stdout.write(JSON.stringify({ role, frames: done, mismatches }) + '\n');
