/**
 * Guest-only GPIO checks against gpio-sim, whose sysfs `pull` files are the outside world driving
 * our inputs and whose `value` files show what we drive. Facts relied on (kernel docs and
 * drivers/gpio/gpiolib-cdev.c): edge timestamps are CLOCK_MONOTONIC; with debounce, an edge is
 * stamped when the debounce period ends; seqno and line_seqno count events from 1.
 */
import assert from 'node:assert/strict';
import type { GpioEdgeEvent } from '../../../src/hal/gpio.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { LinuxGpioChip } from '../../../src/hal/linux/gpio.ts';
import { hilEnv } from '../env.ts';
import { GpioSimPeer } from '../peers.ts';

const env = hilEnv();
const gpio = env.gpio;
const clock = monotonicClock();
/**
 * The kernel's software debounce runs on a jiffies timer, which may expire up to one jiffy before
 * the period in ns has passed: 4 ms at Debian's HZ=250, 10 ms at HZ=100 (the bound used).
 */
const JIFFY_NS = 10e6;

/** Resolves when `events` holds `n` entries; rejects after `ms`. */
function waitForEvents(events: GpioEdgeEvent[], n: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (events.length >= n) resolve();
      else if (Date.now() > deadline) reject(new Error(`got ${events.length} of ${n} events: ${JSON.stringify(events)}`));
      else setTimeout(check, 2);
    };
    check();
  });
}

describe('gpio-sim through our GPIO uAPI v2 backend', function () {
  let chip: LinuxGpioChip;
  let sim: GpioSimPeer;
  let input: number;
  let output: number;
  before(function () {
    if (env.tier !== 'guest' || !gpio?.simDir) this.skip(); // reason: guest only (gpio-sim drives the lines)
    sim = new GpioSimPeer(gpio.simDir);
    input = gpio.input2 ?? gpio.input;
    output = gpio.output2 ?? gpio.output;
  });
  beforeEach(() => {
    chip = new LinuxGpioChip(`/dev/${gpio!.chip}`);
    sim.driveSync(input, 0);
  });
  afterEach(() => chip.close());

  it('reads the chip info gpio-sim was configured with', () => {
    const info = chip.info();
    assert.equal(info.name, gpio!.chip);
    assert.equal(info.label, gpio!.label);
    assert.equal(info.lines, gpio!.lines);
    assert.equal(chip.findLine('hil-in2'), 2);
    assert.equal(chip.lineInfo(5).name, '', 'unnamed lines have an empty name');
  });

  it('receives the edges of pull toggles with edge detection and debounce: timestamps inside the windows, seqnos stepping by one', async () => {
    const debounceUs = 50_000;
    const req = await chip.requestLines([input], { direction: 'input', edge: 'both', debounceUs, bias: 'pull-down' }, 'sbc-hil');
    const events: GpioEdgeEvent[] = [];
    const received: number[] = [];
    req.onEdge((e) => { events.push(e); received.push(clock.nowNs()); });
    try {
      const detailed = chip.lineInfoDetailed(input);
      assert.equal(detailed.debounceUs, debounceUs, 'the kernel reports the debounce period we asked for');
      assert.equal(detailed.consumer, 'sbc-hil');
      const windows: Array<[number, number]> = [];
      for (const [i, level] of ([1, 0, 1, 0, 1, 0] as const).entries()) {
        const before = clock.nowNs();
        sim.driveSync(input, level);
        const after = clock.nowNs();
        windows.push([before, after]);
        await waitForEvents(events, i + 1);
      }
      assert.deepEqual(events.map((e) => e.edge), ['rising', 'falling', 'rising', 'falling', 'rising', 'falling']);
      events.forEach((e, i) => {
        const [before, after] = windows[i]!;
        assert.equal(e.offset, input);
        // Debounced: stamped when the period ends, i.e. the period after the pull write began (less
        // one jiffy: the kernel times the period with a jiffies timer), and no later than our
        // receiving it.
        assert.ok(e.timestampNs >= before + debounceUs * 1000 - JIFFY_NS, `event ${i} stamped ${(e.timestampNs - before) / 1e6} ms after the write began`);
        assert.ok(e.timestampNs <= received[i]!, `event ${i} stamped after we received it`);
        assert.ok(after <= received[i]!);
        if (i > 0) {
          assert.ok(e.timestampNs > events[i - 1]!.timestampNs, `timestamps increase at ${i}`);
          assert.equal(e.seqno, events[i - 1]!.seqno + 1, `seqno steps by one at ${i}`);
          assert.equal(e.lineSeqno, events[i - 1]!.lineSeqno + 1, `line seqno steps by one at ${i}`);
        } else {
          assert.equal(e.seqno, 1);
          assert.equal(e.lineSeqno, 1);
        }
      });
    } finally {
      await req.release();
    }
  });

  it('stamps undebounced edges between host clock reads taken around each pull write', async () => {
    const req = await chip.requestLines([input], { direction: 'input', edge: 'both' }, 'sbc-hil');
    const events: GpioEdgeEvent[] = [];
    req.onEdge((e) => events.push(e));
    try {
      const windows: Array<[number, number]> = [];
      for (const [i, level] of ([1, 0, 1, 0] as const).entries()) {
        const before = clock.nowNs();
        sim.driveSync(input, level);
        windows.push([before, clock.nowNs()]);
        await waitForEvents(events, i + 1);
      }
      events.forEach((e, i) => {
        const [before, after] = windows[i]!;
        assert.ok(e.timestampNs >= before && e.timestampNs <= after, `event ${i} at ${e.timestampNs} outside [${before}, ${after}]`);
        if (i > 0) assert.equal(e.seqno, events[i - 1]!.seqno + 1);
      });
    } finally {
      await req.release();
    }
  });

  it('turns bounce shorter than the debounce period, made by one process, into one event', async () => {
    const debounceUs = 100_000;
    const req = await chip.requestLines([input], { direction: 'input', edge: 'both', debounceUs }, 'sbc-hil');
    const events: GpioEdgeEvent[] = [];
    req.onEdge((e) => events.push(e));
    try {
      // This process writes five levels back to back: four raw edges far inside the period.
      const before = clock.nowNs();
      for (const level of [1, 0, 1, 0, 1] as const) sim.driveSync(input, level);
      const after = clock.nowNs();
      assert.ok(after - before < debounceUs * 1000, `the bounce took ${(after - before) / 1e6} ms, not shorter than the period; cannot judge`);
      await waitForEvents(events, 1);
      // Wait three more periods: no further event may come.
      await clock.sleepUntilNs(clock.nowNs() + 3 * debounceUs * 1000);
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0]!.edge, 'rising');
      assert.ok(events[0]!.timestampNs >= before + debounceUs * 1000 - JIFFY_NS);
      assert.equal(req.getValue(input), 1);
    } finally {
      await req.release();
    }
  });

  it('drives an output that shows in gpio-sim\'s value file, inverted when active-low', async () => {
    let req = await chip.requestLines([output], { direction: 'output', initial: 0 }, 'sbc-hil');
    assert.equal(await sim.sense(output), 0);
    req.setValue(output, 1);
    assert.equal(await sim.sense(output), 1);
    req.setValue(output, 0);
    assert.equal(await sim.sense(output), 0);
    await req.release();
    req = await chip.requestLines([output], { direction: 'output', initial: 1, activeLow: true }, 'sbc-hil');
    assert.equal(await sim.sense(output), 0);
    await req.release();
  });

  it('applies the requested bias to the simulated line, and active-low to reads', async () => {
    let req = await chip.requestLines([input], { direction: 'input', bias: 'pull-up' }, 'sbc-hil');
    assert.equal(await sim.sense(input), 1, 'gpio-sim applies a pull-up bias to the line');
    assert.equal(req.getValue(input), 1);
    await req.release();
    req = await chip.requestLines([input], { direction: 'input', bias: 'pull-down', activeLow: true }, 'sbc-hil');
    assert.equal(await sim.sense(input), 0);
    assert.equal(req.getValue(input), 1, 'active-low: electrically low reads 1');
    assert.equal(chip.lineInfo(input).activeLow, true);
    await req.release();
  });

  it('requests several lines at once and keeps their values apart', async () => {
    const lines = [4, 5, 6];
    const req = await chip.requestLines(lines, { direction: 'output', initial: 0 }, 'sbc-hil');
    try {
      req.setValue(5, 1);
      assert.deepEqual(await Promise.all(lines.map((l) => sim.sense(l))), [0, 1, 0]);
      assert.deepEqual(lines.map((l) => req.getValue(l)), [0, 1, 0]);
    } finally {
      await req.release();
    }
  });
});
