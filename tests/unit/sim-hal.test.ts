/** Behaviour of the simulated backends beyond the HAL contract: fault injection, bounce, records. */
import assert from 'node:assert/strict';
import { I2cError } from '../../src/hal/i2c.ts';
import type { GpioEdgeEvent } from '../../src/hal/gpio.ts';
import { RegisterFileDevice, SimGpioChip, SimHal, SimI2cBus, VirtualClock, flushMicrotasks } from '../../src/hal/sim/index.ts';

describe('simulated I2C bus', () => {
  it('fails the next N transfers with the injected fault, then works again', async () => {
    const bus = new SimI2cBus(3, new VirtualClock());
    bus.attach(0x10, new RegisterFileDevice());
    bus.failNextTransfers(2, 'arbitration-lost');
    for (let i = 0; i < 2; i++) {
      await assert.rejects(bus.writeByteData(0x10, 1, 1), (e: unknown) => e instanceof I2cError && e.fault === 'arbitration-lost' && e.bus === 'sim-i2c-3' && e.reg === 1);
    }
    await bus.writeByteData(0x10, 1, 7);
    assert.equal(await bus.readByteData(0x10, 1), 7);
  });

  it('adds the injected delay on its clock', async () => {
    const clock = new VirtualClock(1e9);
    const bus = new SimI2cBus(1, clock);
    bus.attach(0x10, new RegisterFileDevice());
    bus.setDelayNs(5e6);
    const p = bus.writeByteData(0x10, 0, 1);
    await clock.runUntilIdle();
    await p;
    assert.equal(clock.nowNs(), 1e9 + 5e6);
  });

  it('logs the bytes each device saw, in order', async () => {
    const bus = new SimI2cBus(1, new VirtualClock());
    bus.attach(0x10, new RegisterFileDevice());
    await bus.writeByteData(0x10, 0x05, 0xaa);
    await bus.readByteData(0x10, 0x05);
    assert.deepEqual(bus.log.map((l) => [l.kind, [...l.data]]), [['write', [0x05, 0xaa]], ['write', [0x05]], ['read', [0xaa]]]);
  });
});

describe('simulated GPIO chip', () => {
  it('turns contact bounce into one debounced event stamped when the debounce period ends', async () => {
    const clock = new VirtualClock(1e9);
    const chip = new SimGpioChip('g', clock);
    const req = await chip.requestLines([4], { direction: 'input', edge: 'both', debounceUs: 10_000 }, 't');
    const events: GpioEdgeEvent[] = [];
    req.onEdge((e) => events.push(e));
    // Toggles at 0.5, 1, 2, 3.5, 4 ms after now, ending high: contact bounce on insertion.
    chip.bounce(4, 1, [0.5e6, 1e6, 2e6, 3.5e6, 4e6]);
    await clock.runUntil(1e9 + 50e6);
    await flushMicrotasks();
    assert.equal(events.length, 1);
    assert.equal(events[0]!.edge, 'rising');
    assert.equal(events[0]!.timestampNs, 1e9 + 4e6 + 10e6, 'the last raw edge plus the 10 ms period');
  });

  it('reports both edges without debounce, stamped at the edge', async () => {
    const clock = new VirtualClock(5e9);
    const chip = new SimGpioChip('g', clock);
    const req = await chip.requestLines([1], { direction: 'input', edge: 'both', activeLow: true }, 't');
    const events: GpioEdgeEvent[] = [];
    req.onEdge((e) => events.push(e));
    chip.drive(1, 1); // electrically high = logically low with active-low: a falling edge
    clock.advanceBy(1e6);
    chip.drive(1, 0);
    await flushMicrotasks();
    assert.deepEqual(events.map((e) => [e.edge, e.timestampNs, e.seqno]), [['falling', 5e9, 1], ['rising', 5e9 + 1e6, 2]]);
  });

  it('reads an open-drain output as pulled high when it releases the line', async () => {
    const chip = new SimGpioChip('g', new VirtualClock());
    const req = await chip.requestLines([2], { direction: 'output', drive: 'open-drain', initial: 0 }, 't');
    assert.equal(chip.sense(2), 0);
    req.setValue(2, 1);
    assert.equal(chip.sense(2), 1);
    chip.drive(2, 0); // another device holds the wired-AND line low
    assert.equal(chip.sense(2), 0);
  });
});

describe('simulated PCM', () => {
  it('records exactly the frames played, bit-exact, and nothing after a stop', async () => {
    const clock = new VirtualClock(1e9);
    const hal = new SimHal({ clock });
    const s = await hal.pcm.open('sim:0,0', { direction: 'playback', rate: 48000, channels: 1, format: 'S16_LE', periodFrames: 64, bufferFrames: 256, startThreshold: 1 });
    const data = new Uint8Array(256 * 2).map((_, i) => (i * 7) & 0xff);
    assert.equal(s.write(data, 256), 256);
    clock.advanceBy((128 * 1e9) / 48000); // half the buffer plays
    assert.equal(s.avail(), 128);
    s.drop();
    clock.advanceBy(1e9);
    const rec = hal.pcm.records.get('sim:0,0')!;
    assert.equal(rec.frames, 128);
    assert.deepEqual(rec.bytes(), data.subarray(0, 256));
    assert.deepEqual(rec.marks.map((m) => m.what), ['start', 'stop']);
  });

  it('rounds the period to a multiple of 16 frames and the buffer to whole periods', async () => {
    const hal = new SimHal();
    const s = await hal.pcm.open('sim:x', { direction: 'playback', rate: 44100, channels: 2, format: 'S32_LE', periodFrames: 100, bufferFrames: 350 });
    assert.equal(s.config.periodFrames, 112);
    assert.equal(s.config.bufferFrames, 336);
    assert.equal(s.config.frameBytes, 8);
  });

  it('captures what its source produces, frame-numbered from the start', async () => {
    const clock = new VirtualClock(1e9);
    const hal = new SimHal({ clock });
    hal.pcm.setCaptureSource('sim:mic', (out, first, frames) => { for (let i = 0; i < frames; i++) out[i] = (first + i) & 0xff; });
    const c = await hal.pcm.open('sim:mic', { direction: 'capture', rate: 8000, channels: 1, format: 'S16_LE', periodFrames: 16, bufferFrames: 64 });
    c.start();
    clock.advanceBy((40 * 1e9) / 8000);
    const buf = new Uint8Array(64 * 2);
    assert.equal(c.read(buf, 64), 40);
    assert.deepEqual([...buf.subarray(0, 6)], [0, 1, 2, 3, 4, 5], 'the source fills bytes in order from frame 0');
  });

  it('refuses a second open of the same device and direction (as hw devices do)', async () => {
    const hal = new SimHal();
    await hal.pcm.open('sim:0,0', { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 64, bufferFrames: 256 });
    await assert.rejects(hal.pcm.open('sim:0,0', { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 64, bufferFrames: 256 }), /busy/);
  });
});

describe('virtual clock', () => {
  it('fires timers in time order, each seeing its own due time', () => {
    const c = new VirtualClock(0);
    const seen: [string, number][] = [];
    c.setTimerNs(30, () => seen.push(['b', c.nowNs()]));
    c.setTimerNs(10, () => seen.push(['a', c.nowNs()]));
    const t = c.setTimerNs(20, () => seen.push(['cancelled', c.nowNs()]));
    t.cancel();
    c.advanceTo(100);
    assert.deepEqual(seen, [['a', 10], ['b', 30]]);
    assert.equal(c.nowNs(), 100);
  });

  it('auto-advances to the next timer when the event loop is idle', async () => {
    const c = new VirtualClock(0, true);
    await c.sleepUntilNs(3_600e9); // an hour of virtual time, no wall time
    assert.equal(c.nowNs(), 3_600e9);
  });
});
