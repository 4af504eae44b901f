/**
 * Child process of alsa-alloc.test.ts (run with --expose-gc): counts heap bytes allocated per
 * audio-path call on the `null` device. Prints one JSON line: { op: bytesPerCall, ... }.
 */
import { AlsaPcmBackend } from '../../src/hal/linux/alsa/pcm-backend.ts';
import { emptyPcmStatus, type PcmStream } from '../../src/hal/pcm.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

/** The least of three rounds: JIT compilation in a round allocates once, a per-call cost recurs. */
function bytesPerCall(fn: () => void, n: number): number {
  for (let i = 0; i < n; i++) fn(); // warm up: let the JIT settle
  let least = Infinity;
  for (let round = 0; round < 3; round++) {
    gc!();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) fn();
    const after = process.memoryUsage().heapUsed;
    least = Math.min(least, Math.max(0, after - before) / n);
  }
  return least;
}

const backend = new AlsaPcmBackend();
const result: Record<string, number> = {};
const N = 50_000;
for (const access of ['rw', 'mmap'] as const) {
  const p: PcmStream = await backend.open('null', { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 256, bufferFrames: 1024, access });
  const c: PcmStream = await backend.open('null', { direction: 'capture', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 256, bufferFrames: 1024, access });
  const buf = new Uint8Array(256 * 4);
  const st = emptyPcmStatus();
  result[`write.${access}`] = bytesPerCall(() => void p.write(buf, 256), N);
  result[`read.${access}`] = bytesPerCall(() => void c.read(buf, 256), N);
  result[`avail.${access}`] = bytesPerCall(() => void p.avail(), N);
  result[`delay.${access}`] = bytesPerCall(() => void p.delay(), N);
  result[`status.${access}`] = bytesPerCall(() => void p.status(st), N);
  result[`waitSync.${access}`] = bytesPerCall(() => void p.waitSync(10), N);
  p.close();
  c.close();
}
console.log(JSON.stringify(result));
