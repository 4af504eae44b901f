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

/** The fixture board's supplies (board/sim-sgtl5000.json): external VDDD, VDDA 3.3 V. */
const SUPPLIES = { vddd: 'external', vdda: '3.3V' };

function setup(opts: { boardRoles?: string[]; options?: Record<string, unknown>; mclkRunning?: boolean; model?: Sgtl5000Model } = {}) {
  const model = opts.model ?? new Sgtl5000Model({ mclkRunning: opts.mclkRunning });
  const h = makeHarness({ addr: ADDR, model, boardRoles: opts.boardRoles, options: opts.options ?? SUPPLIES });
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
    await assert.rejects(driver.probe(), /no SGTL5000 answering .*its master clock \(MCLK\) is not running.*MCLK must run before any I2C access/);
    await assert.rejects(driver.init(), /no write of DIG_POWER on the chip at 0x0a on sim-i2c-1: its master clock \(MCLK\) is not running/);
    await assert.rejects(driver.setGain(HP, -6), /no write of HP_VOL/);
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

  it('the old board option codec.options.mclk = "free-running" is refused (a board states its oscillator as codec.mclk); a gate opened on a stopped clock meets the model\'s refusal', async () => {
    assert.throws(() => setup({ options: { ...SUPPLIES, mclk: 'free-running' } }), /codec.options.mclk is no longer read: .*codec.mclk = \{ "hz": N, "from": "oscillator"/);
    const wrong = setup(); // the driver is told the clock runs; the chip's clock is stopped
    await wrong.driver.setMclkRunning(true);
    await assert.rejects(wrong.driver.probe(), /no acknowledge/);
    assert.ok(wrong.model.refusedWhileStopped > 0);
  });

  it('probe compares CHIP_ID [15:8] with 0xA0 (the revision in [7:0] ignored)', async () => {
    const { driver, model } = setup({ mclkRunning: true });
    await driver.setMclkRunning(true);
    await driver.probe();
    assert.deepEqual(model.accesses.map((a) => [a.kind, a.reg]), [['read', 0x0000]]);
    const other = new Sgtl5000Model({ mclkRunning: true });
    (other as unknown as { peek(r: number): number }).peek = (r: number) => (r === 0 ? 0xa100 : 0);
    const s = setup({ model: other });
    await s.driver.setMclkRunning(true);
    await assert.rejects(s.driver.probe(), /chip id 0xa100 .*expected 0xa000/);
  });

  it('init refuses a board that names no supplies (VDDD, VDDA), before any power write', async () => {
    const { driver, model } = setup({ mclkRunning: true, options: {} });
    await driver.setMclkRunning(true);
    await assert.rejects(driver.init(), /must name its supplies: codec.options.vddd \("external" or "internal-ldo"\), codec.options.vdda \("3.3V"\)/);
    assert.equal(model.writes.filter((w) => w.reg === 0x0030).length, 0, 'ANA_POWER never written');
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

  it('sets the headphone volume: 0x00 = +12 dB, 0x18 = 0 dB, 0x7F = -51.5 dB; init writes the reset default 0x1818 over what the chip held (no reset)', async () => {
    const model = new Sgtl5000Model({ mclkRunning: true });
    model.write(Uint8Array.of(0x00, 0x22, 0x80, 0x80));
    const { driver } = await running({ model });
    assert.equal(model.peek(0x0022), 0x1818, 'init: the default, 0 dB');
    await driver.setGain(HP, 12);
    assert.equal(model.peek(0x0022), 0x0000);
    await driver.setGain(HP, -51.5);
    assert.equal(model.peek(0x0022), 0x7f7f);
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

  it('offers 48 kHz 16-bit stereo output only (the facts\' one clocking and word length): CLK_CTRL 0x0008, I2S_CTRL 0x0130; latency unknown', async () => {
    const { driver, model } = await running();
    // src/audio/formats.ts: BIT16 = 1 << 2; FPS_48000_FAMILY = 2.
    assert.deepEqual(driver.formats('output'), [{ sampleFormats: 4, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 2 }]);
    assert.deepEqual(driver.formats('input'), [], 'the ADC path\'s ANA_CTRL values are not among the facts');
    await driver.setFormat({ rate: 48000, channels: 2, bits: 16 });
    assert.equal(model.peek(0x0004), 0x0008);
    assert.equal(model.peek(0x0006), 0x0130);
    await assert.rejects(driver.setFormat({ rate: 48000, channels: 2, bits: 24 }), /not among the part's format ranges/);
    await assert.rejects(driver.setFormat({ rate: 44100, channels: 2, bits: 16 }), /not among the part's format ranges/);
    assert.equal(driver.latency('output', 48000)[0]!.ns, null);
  });
});
