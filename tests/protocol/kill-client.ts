/**
 * A client in its own process, for the "a client that disappears leaves silence" test (R-RB-12):
 * it owns a stream, gets a buffer, writes a pseudo-random S16 stereo signal that never repeats
 * (frame n of the signal at buffer frame n mod F), starts, prints one JSON line
 * { startTimeNs, fifoBytes, frames } and keeps writing ahead until it is killed.
 *
 *   node --import tsx tests/protocol/kill-client.ts ENDPOINT FRAMES MODE
 *
 * MODE 'prefill': the whole signal fits in the buffer (FRAMES frames), written before START;
 * nothing more (for a service on a virtual clock, whose time is not this process's).
 * MODE 'ahead': writes up to half a buffer ahead of the position, from CLOCK_MONOTONIC.
 */
import { MappedRingBuffer, StreamClient } from '../../src/stream/client.ts';
import { pseudoRandomS16, s16ToBytes } from '../hil/lib/bitexact.ts';

const [endpoint, framesArg, mode] = process.argv.slice(2);
const want = Number(framesArg);
const RATE = 48000;
const c = await StreamClient.connect(endpoint!, { timeoutMs: 120000 }); // an engine starts in seconds under TCG, in tens of seconds beside other work
const f = await c.setFormat({ fps: RATE, sampleFormat: 1 << 2, channels: 2 });
if (f.result !== 0) throw new Error(`SET_FORMAT ${f.result}`);
const rb = await c.openRingBuffer(f.token!);
const fifo = await rb.getFifoDepth();
const b = await rb.getBuffer(want, 0);
if (b.result !== 0) throw new Error(`GET_BUFFER ${b.result}`);
const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, 4);
// The signal: pseudo-random blocks, one seed per block of 4800 frames, so it is long and never repeats.
const BLOCK = 4800;
const block = (k: number) => s16ToBytes(pseudoRandomS16(BLOCK, 2, 0x1000 + k));
let written = 0;
const writeUpTo = (frame: number) => {
  while (written < frame) {
    const k = Math.floor(written / BLOCK);
    const bytes = block(k);
    const from = written - k * BLOCK;
    const n = Math.min(BLOCK - from, frame - written);
    ring.write(written, bytes.subarray(from * 4, (from + n) * 4));
    written += n;
  }
};
writeUpTo(mode === 'prefill' ? b.frames : Math.floor(b.frames / 2));
const s = await rb.start();
process.stdout.write(`${JSON.stringify({ startTimeNs: s.startTimeNs, fifoBytes: fifo.fifoDepth, frames: b.frames, result: s.result })}\n`);
if (mode === 'ahead') {
  setInterval(() => {
    const now = Number(process.hrtime.bigint());
    const pos = Math.floor(((now - s.startTimeNs) * RATE) / 1e9);
    writeUpTo(Math.max(written, pos + Math.floor(b.frames / 2)));
  }, 5);
} else {
  setInterval(() => {}, 1000);
}
