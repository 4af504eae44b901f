/**
 * SGTL5000: expected values are the figures of codecs/sgtl5000/FACTS.md, as literals.
 * DAC volume register 0x0010 (left [7:0], right [15:8]), headphone volume 0x0022.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Sgtl5000Driver } from '../../codecs/sgtl5000/driver.ts';
import { Sgtl5000Model } from '../../codecs/sgtl5000/model.ts';
import { boardPower, indexOf, isGpio, isWrite, LoggingDevice, makeHarness } from '../fixtures/codecs/harness.ts';

const ADDR = 0x0a;
const DAC = 'Digital Playback Volume';
const HP = 'Headphone Playback Volume';

function setup(opts: { boardRoles?: string[]; options?: Record<string, unknown>; mclkRunning?: boolean; model?: Sgtl5000Model } = {}) {
  const model = opts.model ?? new Sgtl5000Model({ mclkRunning: opts.mclkRunning });
  const h = makeHarness({ addr: ADDR, model, boardRoles: opts.boardRoles, options: opts.options });
  h.bus.attach(ADDR, new LoggingDevice(model, h.log)); // passes on the model's acknowledge (its MCLK)
  return { ...h, model, driver: new Sgtl5000Driver(h.ctx) };
}

/** A driver and model with MCLK running, initialised and powered up. */
async function running(opts: { model?: Sgtl5000Model } = {}) {
  const s = setup({ ...opts, mclkRunning: true });
  await s.driver.setMclkRunning(true);
  await s.driver.init();
  await s.driver.powerUp();
  return s;
}

describe('sgtl5000 model (written from codecs/sgtl5000/FACTS.md, not from the driver)', () => {
  it('does not import the driver or its description', () => {
    const src = readFileSync(new URL('../../codecs/sgtl5000/model.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(src, /from '\.\/(driver|description)(\.ts)?'/);
  });

  it('takes 16-bit addresses and values, and reads the DAC volume coding', () => {
    const m = new Sgtl5000Model({ mclkRunning: true });
    m.write(Uint8Array.of(0x00, 0x10, 0xf0, 0x3c));
    assert.deepEqual(m.dac(), { left: 0, right: -90 });
    m.write(Uint8Array.of(0x00, 0x10, 0xfc, 0xff));
    assert.deepEqual(m.dac(), { left: 'mute', right: 'mute' });
    m.write(Uint8Array.of(0x00, 0x10));
    assert.deepEqual([...m.read(2)], [0xfc, 0xff]);
    m.write(Uint8Array.of(0x00, 0x10, 0x3b, 0x3c));
    assert.equal(m.reservedWrites, 1);
  });

  it('does not acknowledge its address while MCLK is stopped', () => {
    const m = new Sgtl5000Model();
    assert.equal(m.acknowledges(), false);
    assert.equal(m.refusedWhileStopped, 1);
    m.startMclk();
    assert.equal(m.acknowledges(), true);
  });
});

describe('sgtl5000 driver', () => {
  it('makes no register access before its clock runs: probe and init fail at once, nothing reaches the bus', async () => {
    const { driver, model, bus, log } = setup();
    await assert.rejects(driver.probe(), /no SGTL5000 answering .*its master clock \(MCLK\) is not running.*MCLK must run before I2C access/);
    await assert.rejects(driver.init(), /no write of DAC_VOL on the chip at 0x0a on sim-i2c-1: its master clock \(MCLK\) is not running/);
    await assert.rejects(driver.getGain(HP), /no read of HP_VOL/);
    assert.equal(model.refusedWhileStopped, 0, 'the chip never saw its address');
    assert.equal(bus.log.length, 0);
    assert.equal(log.length, 0);
    // The clock starts: the same driver works.
    model.startMclk();
    await driver.setMclkRunning(true);
    await driver.probe();
    await driver.init();
    assert.equal(model.peek(0x0010), 0xfcfc);
    // Before the clock stops again: closed.
    await driver.setMclkRunning(false);
    model.stopMclk();
    const n = bus.log.length;
    await assert.rejects(driver.setGain(HP, 0), /no read of HP_VOL|no write of HP_VOL/);
    assert.equal(bus.log.length, n);
    assert.equal(model.refusedWhileStopped, 0);
  });

  it('a board whose oscillator always runs says so (codec.options.mclk = "free-running"); the model still refuses a stopped clock', async () => {
    const ok = setup({ mclkRunning: true, options: { mclk: 'free-running' } });
    await ok.driver.probe();
    await ok.driver.init();
    const wrong = setup({ options: { mclk: 'free-running' } }); // the board claims it; the chip's clock is stopped
    await assert.rejects(wrong.driver.probe(), /no acknowledge/);
    assert.ok(wrong.model.refusedWhileStopped > 0);
  });

  it('reports its controls: DAC -90 .. 0 dB in 0.5 dB steps with mute (the stream gain); headphone -51.5 .. +12 dB apart', () => {
    const c = setup().driver.gainControls().map(({ source: _s, ...x }) => x);
    assert.deepEqual(c, [
      { name: DAC, direction: 'output', minDb: -90, maxDb: 0, stepDb: 0.5, canMute: true, main: true },
      { name: HP, direction: 'output', minDb: -51.5, maxDb: 12, stepDb: 0.5, canMute: false, main: false },
    ]);
  });

  it('writes 0x3C = 0 dB and 0xF0 = -90 dB on both channels of register 0x0010 in one write', async () => {
    const { driver, model, log } = await running();
    log.length = 0;
    assert.deepEqual(await driver.setGain(DAC, 0), { db: 0, muted: false });
    assert.deepEqual(log.filter((e) => e.kind === 'i2c-write').map((e) => e.bytes), [[0x00, 0x10, 0x3c, 0x3c]]);
    await driver.setGain(DAC, -90);
    assert.equal(model.peek(0x0010), 0xf0f0);
    await driver.setGain(DAC, -0.5);
    assert.equal(model.peek(0x0010), 0x3d3d);
    await assert.rejects(driver.setGain(DAC, -90.5), /outside its range -90 .. 0 dB/);
    await assert.rejects(driver.setGain(DAC, 0.5), /outside its range/);
    assert.equal(model.reservedWrites, 0, 'no reserved code (<= 0x3B) ever written');
  });

  it('mutes with a code >= 0xFC and restores the gain on unmute', async () => {
    const { driver, model } = await running();
    await driver.setGain(DAC, -90);
    assert.deepEqual(await driver.setMute(DAC, true), { db: -90, muted: true });
    assert.equal(model.peek(0x0010), 0xfcfc);
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    await driver.setMute(DAC, false);
    assert.equal(model.peek(0x0010), 0xf0f0);
  });

  it('sets the headphone volume: 0x00 = +12 dB, 0x18 = 0 dB, 0x7F = -51.5 dB, keeping bits 15 and 7', async () => {
    const model = new Sgtl5000Model({ mclkRunning: true });
    model.write(Uint8Array.of(0x00, 0x22, 0x80, 0x80));
    const { driver } = await running({ model });
    assert.equal(model.peek(0x0022), 0x9898, 'init: 0 dB');
    await driver.setGain(HP, 12);
    assert.equal(model.peek(0x0022), 0x8080);
    await driver.setGain(HP, -51.5);
    assert.equal(model.peek(0x0022), 0xffff);
    assert.deepEqual(model.headphone(), { left: -51.5, right: -51.5 });
  });

  it('powers up: the DAC gain back, then the amplifier; powers down: the amplifier first, then the mute code', async () => {
    const s = setup({ boardRoles: ['mute', 'amp-enable'], mclkRunning: true });
    const { driver, log, model } = s;
    const power = boardPower(s, driver); // the board's amplifier lines, around the codec's sequences
    await driver.setMclkRunning(true);
    await driver.init();
    log.length = 0;
    await power.powerUp();
    const unmute = indexOf(log, isWrite([0x00, 0x10, 0x3c, 0x3c]));
    assert.ok(unmute >= 0);
    assert.ok(indexOf(log, isGpio('mute', 0)) > unmute && indexOf(log, isGpio('amp-enable', 1)) > unmute);
    log.length = 0;
    await power.powerDown();
    const mute = indexOf(log, isWrite([0x00, 0x10, 0xfc, 0xfc]));
    const ampOff = indexOf(log, isGpio('amp-enable', 0));
    assert.ok(ampOff === 0 || indexOf(log, isGpio('mute', 1)) === 0, 'the amplifier goes first');
    assert.ok(mute > ampOff && mute > indexOf(log, isGpio('mute', 1)));
    assert.deepEqual(model.timeline.at(-1), { left: 'mute', right: 'mute' });
    assert.equal(model.reservedWrites, 0);
  });

  it('has no format range (rates and widths are not among the facts) and an unknown latency', async () => {
    const { driver } = await running();
    assert.deepEqual(driver.formats('output'), []);
    await assert.rejects(driver.setFormat({ rate: 48000, channels: 2, bits: 16 }), /it has none: the SGTL5000's rates and sample widths are not among the collected facts/);
    assert.equal(driver.latency('output', 48000)[0]!.ns, null);
  });
});
