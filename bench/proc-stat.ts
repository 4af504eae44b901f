/**
 * The hypervisor's steal time, from /proc/stat (bench/idle-underruns.ts and bench/control-storm.ts
 * print it beside their counts): time a hypervisor ran something else while this machine's CPUs
 * wanted to run. Any steal in a window can make a wake-up late by whole scheduler ticks, whatever
 * the thread's priority.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/stat counts in 1/100 s on Linux. */
export const TICKS_PER_SECOND = 100;

/** The "steal" column of /proc/stat's cpu line (ticks, all CPUs), undefined where there is none. */
export function stealTicks(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    return f.length > 8 ? Number(f[8]) : undefined;
  } catch {
    return undefined;
  }
}
