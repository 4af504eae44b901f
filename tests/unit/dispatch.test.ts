/**
 * Call classes (src/control/dispatch.ts, docs/CONTROL.md "Call classes") on the sim board, served
 * on a virtual clock (autoAdvance: the simulated bus's per-transfer delay, the bound and the
 * instantiation job all run on virtual time, no wall time).
 *
 * Expected register values are the sim-codec's, from its "datasheet" (the header of
 * codecs/sim-codec/model.ts): VOL_L 0x01 / VOL_R 0x02, code = −dB / 0.5 (0x00 = 0 dB, 0.5 dB per
 * step); DAC_CTRL 0x06, SOFT_MUTE bit 0, FILTER bits [2:1] (sharp 0, slow 1, low-latency 2), so
 * "slow" alone reads 0x02.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { ControlDispatcher, InstantiationLock, type SetOutcome } from '../../src/control/dispatch.ts';
import { controlDescriptors } from '../../src/control/model.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import type { SimI2cBus } from '../../src/hal/sim/i2c.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';

const VOL_L = 0x01;
const VOL_R = 0x02;
const DAC_CTRL = 0x06;
const BUS_DELAY_NS = 50e6; // the acceptance's slowed bus: 50 ms per transfer

interface Rig {
  clock: VirtualClock;
  rt: BoardRuntime;
  service: StreamService;
  bus: SimI2cBus;
  regs: Uint8Array;
  lock: InstantiationLock;
  d: ControlDispatcher;
  /** The bus log's length now: a mark for writesOf. */
  mark(): number;
  /** Register writes (register and value bytes) of `reg` logged after `mark`, optionally only those before `toNs`. */
  writesOf(reg: number, mark: number, fromNs?: number, toNs?: number): number;
  close(): Promise<void>;
}

async function rig(opts: { boundMs?: number; describe?: boolean } = {}): Promise<Rig> {
  const clock = new VirtualClock(1e9, true);
  const rt = await openBoard(loadBoard('sim'), { clock });
  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-dispatch-'));
  const service = await startStreamService(rt, { runtimeDir: dir });
  const bus = rt.sim!.simBus(rt.board.codec.bus!);
  bus.logLimit = 100_000;
  const regs = (rt.chipModel as { regs: Uint8Array }).regs;
  const lock = new InstantiationLock();
  const d = new ControlDispatcher(service.controls, {
    instantiation: lock, clock, ...(opts.boundMs !== undefined ? { boundMs: opts.boundMs } : {}),
    ...(opts.describe === false ? {} : { descriptors: controlDescriptors(rt, true) }),
  });
  return {
    clock, rt, service, bus, regs, lock, d,
    mark: () => bus.log.length,
    writesOf: (reg, mark, fromNs = Number.NEGATIVE_INFINITY, toNs = Number.POSITIVE_INFINITY) => bus.log.slice(mark)
      .filter((e) => e.kind === 'write' && e.data.length >= 2 && e.data[0] === reg && e.atNs >= fromNs && e.atNs < toNs).length,
    async close() {
      d.close();
      bus.setDelayNs(0);
      await service.close();
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('call classes: the control dispatcher and the instantiation lock (src/control/dispatch.ts)', function () {
  this.timeout(60000);
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  it('coalesces: 1000 sets of one control while the bus takes 50 ms a transfer — the last value lands, ≥ 990 coalesced', async () => {
    r = await rig();
    const { d, bus, regs } = r;
    bus.setDelayNs(BUS_DELAY_NS);
    const t0 = r.mark();
    const outcomes: Promise<SetOutcome>[] = [];
    // −10 dB down to −49.5 dB in 0.5 dB steps, over and over; the 1000th (i = 999: 999 % 80 = 39) is −29.5 dB.
    for (let i = 0; i < 1000; i++) outcomes.push(d.set('sim.speaker.gain', -10 - (i % 80) * 0.5));
    const got = await Promise.all(outcomes);
    const by = (s: string) => got.filter((o) => o.status === s).length;
    assert.ok(by('coalesced') >= 990, `coalesced: ${by('coalesced')}`);
    assert.equal(by('refused'), 0);
    await d.idle();
    // −29.5 dB: code 59 = 0x3b on both channels.
    assert.equal(regs[VOL_L], 0x3b);
    assert.equal(regs[VOL_R], 0x3b);
    const s = d.stats();
    assert.equal(s.received, 1000);
    assert.ok(s.coalesced >= 990, `stats.coalesced ${s.coalesced}`);
    assert.equal(s.applied + s.coalesced, 1000, JSON.stringify(s));
    assert.deepEqual(s.dropped, {});
    // Only what was in flight and the last value reached the bus: at most two writes of VOL_L.
    const writes = r.writesOf(VOL_L, t0);
    assert.ok(writes >= 1 && writes <= 2, `VOL_L writes: ${writes}`);
    // The last caller was answered within the bound (20 ms of virtual time): its write takes two
    // 50 ms transfers, so it is `queued`, not `applied`.
    assert.equal(got[999]!.status, 'queued');
  });

  it('negative control: sets spaced wider than a write are not coalesced, each one is written', async () => {
    r = await rig();
    const { d, bus, regs } = r;
    bus.setDelayNs(BUS_DELAY_NS);
    const t0 = r.mark();
    for (let i = 0; i < 20; i++) {
      const o = await d.set('sim.speaker.gain', -10 - i);
      assert.notEqual(o.status, 'coalesced');
      await d.idle();
    }
    const s = d.stats();
    assert.equal(s.coalesced, 0);
    assert.equal(s.applied, 20);
    assert.equal(r.writesOf(VOL_L, t0), 20);
    assert.equal(regs[VOL_L], 58); // −29 dB
  });

  it('controls that are one control on the chip (sameAs) share one pending entry: the newest value wins', async () => {
    r = await rig();
    const { d, bus, regs } = r;
    bus.setDelayNs(BUS_DELAY_NS);
    const first = d.set('sim.speaker.gain', -10); // taken by the loop: in flight
    await Promise.resolve();
    const second = d.set('sim.headphone.gain', -20); // pending
    const third = d.set('sim.speaker.gain', -30); // replaces the headphone's −20: the same VOL_L / VOL_R
    assert.deepEqual(await second, { status: 'coalesced' });
    await Promise.all([first, third]);
    await d.idle();
    assert.equal(regs[VOL_L], 60); // −30 dB
    assert.equal(d.stats().coalesced, 1);
  });

  it('relative steps add up against the pending value, though only one write reaches the bus', async () => {
    r = await rig();
    const { d, bus, regs } = r;
    bus.setDelayNs(BUS_DELAY_NS);
    const a = d.set('sim.speaker.gain', -10);
    await Promise.resolve();
    const b = d.set('sim.speaker.gain', -12);
    const c = d.set('sim.speaker.gain', '-3dB'); // −15, from the pending −12
    const e = d.set('sim.speaker.gain', '-3dB'); // −18
    await Promise.all([a, b, c, e]);
    await d.idle();
    assert.equal(regs[VOL_L], 36); // −18 dB
  });

  it('the bound: a set while a configure holds the instantiation lock for 1 s is answered queued within 20 ms, and lands after', async () => {
    r = await rig();
    const { d, lock, regs, clock } = r;
    assert.equal(regs[DAC_CTRL]! & 0x06, 0x00, 'the filter starts sharp (reset)');
    const t0 = clock.nowNs();
    const m0 = r.mark();
    let releasedNs = Number.NaN;
    const job = lock.run('configure sim-codec clocking', async () => {
      await clock.sleepUntilNs(t0 + 1e9);
      releasedNs = clock.nowNs();
    });
    assert.equal(lock.busy(), 'configure sim-codec clocking');
    const o = await d.set('sim.sim-codec.dac-filter', 'slow');
    const answeredNs = clock.nowNs();
    assert.equal(o.status, 'queued');
    assert.match((o as { why: string }).why, /instantiation work.*configure sim-codec clocking/);
    assert.ok(answeredNs - t0 <= 20e6, `answered after ${(answeredNs - t0) / 1e6} ms`);
    assert.equal(regs[DAC_CTRL]! & 0x06, 0x00, 'not written while the configure runs');
    await job;
    await d.idle();
    assert.equal(regs[DAC_CTRL], 0x02, 'slow (FILTER = 1) after the configure');
    assert.equal(r.writesOf(DAC_CTRL, m0, t0, releasedNs), 0, 'no DAC_CTRL write before the lock was released');
    assert.equal(r.writesOf(DAC_CTRL, m0, releasedNs), 1);
    assert.equal(lock.busy(), undefined);
    assert.equal(d.stats().queued, 1);
  });

  it('negative control: without instantiation work the same set is applied within the bound', async () => {
    r = await rig();
    const { d, regs, clock } = r;
    const t0 = clock.nowNs();
    const o = await d.set('sim.sim-codec.dac-filter', 'slow');
    assert.equal(o.status, 'applied');
    assert.equal((o as { control: { value: unknown } }).control.value, 'slow');
    assert.ok(clock.nowNs() - t0 <= 20e6);
    assert.equal(regs[DAC_CTRL], 0x02);
    assert.equal(d.stats().queued, 0);
  });

  it('engine controls bypass a busy bus and running instantiation work; a register control beside them is queued', async () => {
    r = await rig();
    const { d, bus, lock, clock, service } = r;
    bus.setDelayNs(BUS_DELAY_NS);
    const t0 = clock.nowNs();
    const reg = d.set('sim.speaker.gain', -40); // two 50 ms transfers
    await Promise.resolve();
    const job = lock.run('configure (test)', () => clock.sleepUntilNs(t0 + 500e6));
    const trim = await d.set('sim.speaker.trim', -6);
    assert.equal(trim.status, 'applied');
    assert.equal(clock.nowNs(), t0, 'answered with no time passing on the board clock');
    assert.equal((await service.controls.get('sim.speaker.trim')).value, -6);
    const regOutcome = await reg;
    assert.equal(regOutcome.status, 'queued', 'the register control waits for the bus');
    assert.ok(clock.nowNs() - t0 <= 20e6);
    await job;
    await d.idle();
  });

  it('refusals are answered at once and change nothing', async () => {
    r = await rig();
    const { d, regs, clock, bus } = r;
    bus.setDelayNs(BUS_DELAY_NS);
    const before = Uint8Array.from(regs);
    const t0 = clock.nowNs();
    const m0 = r.mark();
    const bad: [string, unknown, object?, RegExp?][] = [
      ['sim.nope.gain', -20, {}, /no control "sim\.nope\.gain"/],
      ['sim.speaker.gain', -200, {}, /-200 dB is outside its range -127 \.\. 0 dB \(step 0\.5\)/],
      ['sim.speaker.gain', 'loud', {}, /"loud" is not a gain/],
      ['sim.sim-codec.dac-filter', 'fast', {}, /"fast" is not one of its values: sharp, slow, low-latency/],
      ['sim.speaker.gain', -20, { at: { frame: 10 } }, /a change at a stream frame is for engine controls/],
      ['sim.speaker.gain', -20, { rampMs: 10 }, /rampMs is for engine controls/],
      ['sim.speaker.gain', -20, { at: { ns: -1 } }, /at\.ns must be a CLOCK_MONOTONIC time/],
      ['sim.board.amp-enable', true, {}, /cannot be set: /],
      ['sim.speaker.trim', 3, {}, /3 dB is outside its range -60 \.\. 0 dB/],
    ];
    for (const [id, value, opts, why] of bad) {
      const o = await d.set(id, value, opts as object);
      assert.equal(o.status, 'refused', `${id} ${JSON.stringify(value)}`);
      assert.match((o as { error: string }).error, why!);
    }
    assert.equal(clock.nowNs(), t0, 'answered with no time passing');
    await d.idle();
    assert.deepEqual(Uint8Array.from(regs), before);
    assert.equal(bus.log.slice(m0).filter((e) => e.kind === 'write' && e.data.length >= 2).length, 0, 'no register write');
    assert.equal((await r.service.controls.get('sim.speaker.trim')).value, 0);
    const s = d.stats();
    assert.deepEqual({ received: s.received, refused: s.refused, applied: s.applied, coalesced: s.coalesced, queued: s.queued }, { received: bad.length, refused: bad.length, applied: 0, coalesced: 0, queued: 0 });
    // Negative control: a good value of the same control changes the chip.
    bus.setDelayNs(0);
    assert.equal((await d.set('sim.speaker.gain', -20)).status, 'applied');
    assert.equal(regs[VOL_L], 40);
  });

  it('a register change at a time waits for it in the table while the others go on', async () => {
    r = await rig();
    const { d, regs, clock } = r;
    const t0 = clock.nowNs();
    const m0 = r.mark();
    const timed = d.set('sim.sim-codec.dac-filter', 'slow', { at: { ns: t0 + 300e6 } });
    const now = await d.set('sim.speaker.gain', -30);
    assert.equal(now.status, 'applied', 'not held up by the timed change ahead of it');
    assert.equal(clock.nowNs(), t0);
    const o = await timed;
    assert.equal(o.status, 'queued');
    assert.match((o as { why: string }).why, /scheduled for/);
    assert.equal(regs[DAC_CTRL], 0x00);
    await d.idle();
    assert.equal(regs[DAC_CTRL], 0x02);
    assert.equal(r.writesOf(DAC_CTRL, m0, t0, t0 + 300e6), 0, 'not written before its time');
    assert.equal(r.writesOf(DAC_CTRL, m0, t0 + 300e6), 1);
  });

  it('a write the bus fails is dropped with its reason, the caller told, the chip unchanged', async () => {
    r = await rig();
    const { d, regs, bus } = r;
    bus.failNextTransfers(1000, 'nack');
    const o = await d.set('sim.sim-codec.dac-filter', 'slow');
    assert.equal(o.status, 'refused');
    assert.match((o as { error: string }).error, /sim\.sim-codec\.dac-filter: not applied: /);
    assert.deepEqual(d.stats().dropped, { 'write failed': 1 });
    assert.equal(regs[DAC_CTRL], 0x00);
    // Negative control: the bus healthy again, the same change lands.
    bus.clearFaults();
    assert.equal((await d.set('sim.sim-codec.dac-filter', 'slow')).status, 'applied');
    assert.equal(regs[DAC_CTRL], 0x02);
  });

  it('without descriptors it lists the controls once and checks the same way', async () => {
    r = await rig({ describe: false });
    const { d, regs } = r;
    assert.equal((await d.set('sim.sim-codec.dac-filter', 'fast')).status, 'refused');
    assert.equal((await d.set('sim.sim-codec.dac-filter', 'low-latency')).status, 'applied');
    assert.equal(regs[DAC_CTRL], 0x04); // FILTER = 2
  });

  it('close: pending changes are dropped with a reason, later sets refused', async () => {
    r = await rig();
    const { d, bus } = r;
    bus.setDelayNs(BUS_DELAY_NS);
    const a = d.set('sim.speaker.gain', -10);
    await Promise.resolve();
    const b = d.set('sim.sim-codec.dac-filter', 'slow');
    d.close();
    assert.equal((await b).status, 'refused');
    assert.equal((await d.set('sim.speaker.gain', -20)).status, 'refused');
    await a;
    assert.deepEqual(d.stats().dropped, { 'closed before it was applied': 1 });
  });

  it('the instantiation lock runs jobs one at a time in arrival order; busy() names the one running', async () => {
    const lock = new InstantiationLock();
    const clock = new VirtualClock(1e9, true);
    const order: string[] = [];
    const job = (what: string, ns: number) => lock.run(what, async () => {
      order.push(`${what} start (busy: ${lock.busy()})`);
      await clock.sleepUntilNs(clock.nowNs() + ns);
      order.push(`${what} end`);
      return what;
    });
    assert.equal(lock.busy(), undefined);
    const p = [job('open', 30e6), job('probe', 10e6), job('configure', 20e6)];
    assert.equal(lock.busy(), 'open');
    assert.equal(lock.waiting(), 2);
    const failing = lock.run('set format', async () => { throw new Error('refused by the codec'); });
    assert.deepEqual(await Promise.all(p), ['open', 'probe', 'configure']);
    await assert.rejects(failing, /refused by the codec/);
    await lock.whenFree();
    assert.equal(lock.busy(), undefined);
    assert.deepEqual(order, ['open start (busy: open)', 'open end', 'probe start (busy: probe)', 'probe end', 'configure start (busy: configure)', 'configure end']);
  });
});
