/** Baseline for bench/engine-lib.ts: a thread that wakes at each period boundary and does nothing else. */
import { parentPort, workerData } from 'node:worker_threads';
import { MonotonicClock } from '../src/hal/linux/clock.ts';

const { periodNs, seconds } = workerData as { periodNs: number; seconds: number };
const clock = new MonotonicClock();
const start = clock.nowNs();
const cpu0 = process.cpuUsage();
const periods = Math.round((seconds * 1e9) / periodNs);
for (let k = 1; k <= periods; k++) clock.sleepUntilNsSync(start + k * periodNs);
const cpu = process.cpuUsage(cpu0);
parentPort!.postMessage(cpu.user + cpu.system);
