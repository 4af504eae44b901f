/** A worker thread that blocks in waitReadable on a shared ring and says whether it woke with data (ringbuffer.test.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { FrameRing } from '../../../src/ringbuffer/ring.ts';

const { sab, timeoutMs } = workerData as { sab: SharedArrayBuffer; timeoutMs: number };
const ring = new FrameRing(sab);
parentPort!.postMessage({ ready: true });
parentPort!.postMessage({ woke: ring.waitReadable(1, timeoutMs) });
