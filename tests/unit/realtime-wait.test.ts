/**
 * The engine thread's waiting (issue 26): MonotonicClock.sleepUntilNsSync sleeps with clock_nanosleep
 * to an absolute CLOCK_MONOTONIC deadline, and the real-time set-up gives the thread a timer slack of
 * 1 ns (PR_SET_TIMERSLACK) so its sleeps end at their deadline, not up to 50 µs later (Linux's
 * default slack for a normal thread, prctl(2)).
 * Only what the kernel guarantees is asserted (never woken before the deadline; the slack value the
 * kernel reports); how late a wake-up is belongs to bench/engine-sim.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { MonotonicClock } from '../../src/hal/linux/clock.ts';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** The slack of a worker thread before and after applyRealtime, in a child without CAP_SYS_NICE. */
function slackIn(fifo: boolean): { before: number; after: number; fifo: string } {
  const r = spawnSync('setpriv', ['--inh-caps=-sys_nice', '--bounding-set=-sys_nice', '--', process.execPath, '--import', 'tsx',
    path.join(HERE, 'realtime-wait-child.ts'), fifo ? 'fifo' : 'none'], { cwd: path.resolve(HERE, '../..'), encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as { before: number; after: number; fifo: string };
}

describe('the engine thread\'s wait (clock_nanosleep, timer slack)', () => {
  it('sleepUntilNsSync never returns before its deadline, and at once for one passed', () => {
    const clock = new MonotonicClock();
    for (const aheadNs of [1, 50_000, 333_333, 1_000_000, 2_500_000]) {
      const deadline = clock.nowNs() + aheadNs;
      clock.sleepUntilNsSync(deadline);
      const now = clock.nowNs();
      assert.ok(now >= deadline, `woke ${deadline - now} ns before a deadline ${aheadNs} ns ahead`);
    }
    // A deadline in the past: no sleep (the call returns before the clock moves a millisecond on).
    const t0 = clock.nowNs();
    clock.sleepUntilNsSync(t0 - 5e9);
    assert.ok(clock.nowNs() - t0 < 1e9);
  });

  it('a deadline 200 ms ahead is slept, not spun: the thread uses almost no CPU meanwhile', () => {
    const clock = new MonotonicClock();
    const cpu0 = process.cpuUsage();
    clock.sleepUntilNsSync(clock.nowNs() + 200e6);
    const cpu = process.cpuUsage(cpu0);
    // A busy wait would cost the whole 200 ms of CPU; a sleep costs microseconds.
    assert.ok(cpu.user + cpu.system < 100_000, `${cpu.user + cpu.system} µs of CPU for a 200 ms sleep`);
  });

  it('the real-time set-up gives the engine thread a timer slack of 1 ns, kept where SCHED_FIFO is refused', function () {
    if (spawnSync('setpriv', ['--version']).status !== 0) this.skip(); // written reason: needs util-linux's setpriv to drop CAP_SYS_NICE
    const rt = slackIn(true);
    assert.equal(rt.fifo, 'refused', 'without CAP_SYS_NICE (and rtprio 0) SCHED_FIFO is refused');
    assert.equal(rt.after, 1);
    assert.equal(rt.before, 50_000, 'a thread starts with the default slack of 50 µs (prctl(2))');
    // Control: a thread that asks for no real-time set-up keeps the default.
    const plain = slackIn(false);
    assert.equal(plain.after, 50_000);
  });
});
