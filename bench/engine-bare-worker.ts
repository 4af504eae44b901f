/**
 * Baselines for bench/engine-lib.ts: a thread that wakes at each period boundary and does nothing else.
 * - mode 'cpu': CPU per audio second of such a thread (normal policy).
 * - mode 'lateness': its wake-up lateness per period, as a fraction of the period, with the engine's
 *   real-time set-up (SCHED_FIFO at the engine's priority, timer slack 1 ns) and the engine's sleep
 *   (MonotonicClock.sleepUntilNsSync: Atomics.wait); the floor a Node thread reaches on this machine.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MonotonicClock } from '../src/hal/linux/clock.ts';
import { applyRealtime } from '../src/engine/realtime.ts';

const { periodNs, seconds, mode, fifo } = workerData as { periodNs: number; seconds: number; mode?: 'cpu' | 'lateness'; fifo?: boolean };
const clock = new MonotonicClock();
const periods = Math.round((seconds * 1e9) / periodNs);
if (mode === 'lateness') {
  const realtime = await applyRealtime({ fifo: fifo ?? true, mlock: false });
  const trace = new Float64Array(periods);
  // One second of warm-up, as the engine has, so the loop is compiled before it is measured.
  const warm = Math.round(1e9 / periodNs);
  let start = clock.nowNs();
  for (let k = 1; k <= warm; k++) clock.sleepUntilNsSync(start + k * periodNs);
  start = clock.nowNs();
  for (let k = 1; k <= periods; k++) {
    const target = start + k * periodNs;
    clock.sleepUntilNsSync(target);
    trace[k - 1] = (clock.nowNs() - target) / periodNs;
  }
  parentPort!.postMessage({ trace, fifo: realtime.fifo }, [trace.buffer]);
} else {
  const start = clock.nowNs();
  const cpu0 = process.cpuUsage();
  for (let k = 1; k <= periods; k++) clock.sleepUntilNsSync(start + k * periodNs);
  const cpu = process.cpuUsage(cpu0);
  parentPort!.postMessage(cpu.user + cpu.system);
}
