/**
 * Child of realtime-wait.test.ts, run without CAP_SYS_NICE (setpriv) so that SCHED_FIFO is refused
 * and the thread stays a normal one, whose timer slack the kernel keeps as set (a real-time thread's
 * slack the kernel zeroes by itself in Linux 6.x). In a worker thread (PR_GET_TIMERSLACK is per
 * thread, and the engine runs in one): the slack before and after the engine's real-time set-up.
 * Prints one JSON line.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { applyRealtime } from '../../src/engine/realtime.ts';
import { libc, PR_GET_TIMERSLACK } from '../../src/hal/linux/libc.ts';
import { tsWorker } from '../../src/util/worker.ts';

if (isMainThread) {
  const fifo = process.argv[2] === 'fifo';
  const w = tsWorker(new URL(import.meta.url), { workerData: { fifo } });
  const result = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const { fifo } = workerData as { fifo: boolean };
  const before = libc().prctlInt(PR_GET_TIMERSLACK, 0);
  const outcome = await applyRealtime({ fifo, mlock: false });
  parentPort!.postMessage({ before, after: libc().prctlInt(PR_GET_TIMERSLACK, 0), fifo: outcome.fifo });
}
