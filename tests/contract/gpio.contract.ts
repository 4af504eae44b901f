/**
 * The GPIO HAL contract: every backend (simulated chip, Linux character device) must pass it.
 * The fixture's outside world drives an input line and senses an output line.
 */
import assert from 'node:assert/strict';
import { type GpioEdgeEvent, GpioError } from '../../src/hal/gpio.ts';
import type { GpioFixture } from './fixtures.ts';

export function gpioContract(name: string, make: () => Promise<GpioFixture>): void {
  describe(`GPIO contract: ${name}`, function () {
    let fx: GpioFixture;
    beforeEach(async () => { fx = await make(); });
    afterEach(async () => { await fx.close(); });

    it('describes the chip and its lines; a named line is found by its name', () => {
      const info = fx.chip.info();
      assert.ok(info.lines > Math.max(fx.inputOffset, fx.outputOffset), `${info.lines} lines`);
      assert.ok(info.name.length > 0);
      const li = fx.chip.lineInfo(fx.inputOffset);
      assert.equal(li.offset, fx.inputOffset);
      if (li.name) assert.equal(fx.chip.findLine(li.name), fx.inputOffset);
      assert.equal(fx.chip.findLine('no-such-line-name'), undefined);
    });

    it('drives an output: the initial value, then set values, show electrically', async () => {
      const req = await fx.chip.requestLines([fx.outputOffset], { direction: 'output', initial: 1 }, 'contract');
      try {
        assert.equal(await fx.sense(fx.outputOffset), 1);
        req.setValue(fx.outputOffset, 0);
        assert.equal(await fx.sense(fx.outputOffset), 0);
        assert.equal(req.getValue(fx.outputOffset), 0);
        const li = fx.chip.lineInfo(fx.outputOffset);
        assert.equal(li.used, true);
        assert.equal(li.consumer, 'contract');
        assert.equal(li.direction, 'output');
      } finally {
        await req.release();
      }
    });

    it('inverts an active-low output', async () => {
      const req = await fx.chip.requestLines([fx.outputOffset], { direction: 'output', activeLow: true, initial: 0 }, 'contract');
      try {
        assert.equal(await fx.sense(fx.outputOffset), 1);
        req.setValue(fx.outputOffset, 1);
        assert.equal(await fx.sense(fx.outputOffset), 0);
      } finally {
        await req.release();
      }
    });

    it('reads an input as the outside world drives it, inverted when active-low', async () => {
      await fx.drive(fx.inputOffset, 1);
      let req = await fx.chip.requestLines([fx.inputOffset], { direction: 'input' }, 'contract');
      assert.equal(req.getValue(fx.inputOffset), 1);
      await fx.drive(fx.inputOffset, 0);
      await fx.settle();
      assert.equal(req.getValue(fx.inputOffset), 0);
      await req.release();
      req = await fx.chip.requestLines([fx.inputOffset], { direction: 'input', activeLow: true }, 'contract');
      assert.equal(req.getValue(fx.inputOffset), 1);
      await req.release();
    });

    it('refuses to set an input line', async () => {
      const req = await fx.chip.requestLines([fx.inputOffset], { direction: 'input' }, 'contract');
      try {
        assert.throws(() => req.setValue(fx.inputOffset, 1), GpioError);
      } finally {
        await req.release();
      }
    });

    it('refuses a line that is already requested, and grants it again after release', async () => {
      const a = await fx.chip.requestLines([fx.inputOffset], { direction: 'input' }, 'first');
      await assert.rejects(fx.chip.requestLines([fx.inputOffset], { direction: 'input' }, 'second'), GpioError);
      await a.release();
      const b = await fx.chip.requestLines([fx.inputOffset], { direction: 'input' }, 'second');
      await b.release();
    });

    it('delivers both edges with increasing timestamps between clock reads and sequence numbers stepping by one', async () => {
      await fx.drive(fx.inputOffset, 0);
      const req = await fx.chip.requestLines([fx.inputOffset], { direction: 'input', edge: 'both' }, 'contract');
      const events: GpioEdgeEvent[] = [];
      req.onEdge((e) => events.push(e));
      const windows: [number, number][] = [];
      try {
        for (const level of [1, 0, 1] as const) {
          const before = fx.clock.nowNs();
          await fx.drive(fx.inputOffset, level);
          windows.push([before, fx.clock.nowNs()]);
          await fx.settle();
        }
        assert.deepEqual(events.map((e) => e.edge), ['rising', 'falling', 'rising']);
        events.forEach((e, i) => {
          assert.equal(e.offset, fx.inputOffset);
          assert.ok(e.timestampNs >= windows[i]![0] && e.timestampNs <= windows[i]![1],
            `event ${i} at ${e.timestampNs} outside [${windows[i]![0]}, ${windows[i]![1]}]`);
          if (i > 0) {
            assert.equal(e.seqno, events[i - 1]!.seqno + 1);
            assert.equal(e.lineSeqno, events[i - 1]!.lineSeqno + 1);
            assert.ok(e.timestampNs > events[i - 1]!.timestampNs);
          }
        });
      } finally {
        await req.release();
      }
    });

    it('delivers only the requested edge', async () => {
      await fx.drive(fx.inputOffset, 0);
      const req = await fx.chip.requestLines([fx.inputOffset], { direction: 'input', edge: 'falling' }, 'contract');
      const events: GpioEdgeEvent[] = [];
      req.onEdge((e) => events.push(e));
      try {
        await fx.drive(fx.inputOffset, 1);
        await fx.settle();
        await fx.drive(fx.inputOffset, 0);
        await fx.settle();
        assert.deepEqual(events.map((e) => e.edge), ['falling']);
      } finally {
        await req.release();
      }
    });

    it('debounces: bounce shorter than the period gives one event, stamped when the period ends', async () => {
      const debounceUs = 50_000;
      await fx.drive(fx.inputOffset, 0);
      const req = await fx.chip.requestLines([fx.inputOffset], { direction: 'input', edge: 'both', debounceUs }, 'contract');
      const events: GpioEdgeEvent[] = [];
      req.onEdge((e) => events.push(e));
      try {
        for (const level of [1, 0, 1, 0, 1] as const) await fx.drive(fx.inputOffset, level);
        const lastDrive = fx.clock.nowNs();
        await fx.settle(debounceUs * 1000 * 3);
        assert.equal(events.length, 1, `events: ${JSON.stringify(events)}`);
        assert.equal(events[0]!.edge, 'rising');
        // Slack of one jiffy: the kernel times debounce with a jiffies timer (HZ 100..1000).
        assert.ok(events[0]!.timestampNs >= lastDrive + debounceUs * 1000 - 10e6,
          `stamped ${(events[0]!.timestampNs - lastDrive) / 1e6} ms after the last raw edge; the period is ${debounceUs / 1000} ms`);
        assert.equal(req.getValue(fx.inputOffset), 1);
      } finally {
        await req.release();
      }
    });
  });
}
