/**
 * WM8960: expected values are the figures of codecs/wm8960/FACTS.md, written as literals.
 * Bytes on the wire are [A6..A0 D8] [D7..D0]: R10 (0x0A) becomes 0x14 | D8, R11 (0x0B) 0x16 | D8.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Wm8960Driver } from '../../codecs/wm8960/driver.ts';
import { Wm8960Model } from '../../codecs/wm8960/model.ts';
import { boardPower, indexOf, isGpio, isWrite, makeHarness } from '../fixtures/codecs/harness.ts';

const ADDR = 0x1a;
const DAC = 'Digital Playback Volume';
const HP = 'Headphone Playback Volume';
const SPK = 'Speaker Playback Volume';
const ADC = 'ADC Capture Volume';
const PGA = 'Capture PGA Volume';

function setup(opts: { boardRoles?: string[]; options?: Record<string, unknown>; smbusOnly?: boolean } = {}) {
  const model = new Wm8960Model();
  const h = makeHarness({ addr: ADDR, model, boardRoles: opts.boardRoles, options: opts.options, smbusOnly: opts.smbusOnly });
  model.clock = h.clock;
  const driver = new Wm8960Driver(h.ctx);
  // The board's amplifier lines (boardRoles) around the codec's sequences, as openBoard wires rt.power.
  return { ...h, model, driver, power: boardPower(h, driver) };
}

const writes = (log: ReturnType<typeof setup>['log']) => log.filter((e) => e.kind === 'i2c-write').map((e) => e.bytes);

describe('wm8960 model (written from codecs/wm8960/FACTS.md, not from the driver)', () => {
  it('does not import the driver or its description', () => {
    const src = readFileSync(new URL('../../codecs/wm8960/model.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(src, /from '\.\/(driver|description)(\.ts)?'/);
  });

  it('unpacks 7-bit address + 9-bit value and applies a volume pair only on the update latch', () => {
    const m = new Wm8960Model();
    assert.deepEqual(m.dac(), { left: 0, right: 0 }, '[7:0] reset 0xFF = 0 dB');
    m.write(Uint8Array.of(0x14, 0x01)); // R10 = 0x001, no latch
    assert.equal(m.peek(10), 0x001);
    assert.deepEqual(m.dac(), { left: 0, right: 0 }, 'not yet in effect');
    m.write(Uint8Array.of(0x17, 0x01)); // R11 = 0x101: latch
    assert.deepEqual(m.dac(), { left: -127, right: -127 });
    m.write(Uint8Array.of(0x14, 0x00));
    m.write(Uint8Array.of(0x17, 0x00));
    assert.deepEqual(m.dac(), { left: 'mute', right: 'mute' });
    assert.throws(() => m.read(1), /cannot be read/);
    assert.equal(m.readAttempts, 1);
  });
});

describe('wm8960 driver', () => {
  it('never reads the chip (write-only), over full I2C and over SMBus', async () => {
    for (const smbusOnly of [false, true]) {
      const { driver, model, log } = setup({ smbusOnly });
      await driver.probe();
      await driver.init();
      await driver.setFormat({ rate: 48000, channels: 2, bits: 16 }).catch(() => undefined);
      await driver.powerUp();
      await driver.setGain(DAC, -20);
      await driver.setGain(HP, -3);
      await driver.powerDown();
      assert.equal(model.readAttempts, 0);
      assert.equal(model.badWrites, 0);
      assert.equal(log.filter((e) => e.kind === 'i2c-read').length, 0);
      assert.equal(driver.regmap!.stats.reads, 0);
    }
  });

  it('reports the DAC volume in stream terms: -127 .. 0 dB in 0.5 dB steps, mute through code 0x00', () => {
    const { driver } = setup();
    const c = driver.gainControls().map(({ source: _s, ...x }) => x);
    assert.deepEqual(c.find((x) => x.name === DAC), { name: DAC, direction: 'output', minDb: -127, maxDb: 0, stepDb: 0.5, canMute: true, main: true });
    assert.deepEqual(c.find((x) => x.name === HP), { name: HP, direction: 'output', minDb: -73, maxDb: 6, stepDb: 1, canMute: false, main: false });
    assert.deepEqual(c.find((x) => x.name === SPK), { name: SPK, direction: 'output', minDb: -73, maxDb: 6, stepDb: 1, canMute: false, main: false });
    assert.deepEqual(c.find((x) => x.name === ADC), { name: ADC, direction: 'input', minDb: -97, maxDb: 30, stepDb: 0.5, canMute: true, main: true });
    assert.deepEqual(c.find((x) => x.name === PGA), { name: PGA, direction: 'input', minDb: -17.25, maxDb: 30, stepDb: 0.75, canMute: false, main: false });
  });

  it('writes 0xFF = 0 dB, 0x01 = -127 dB, 0.5 dB steps, and sets DACVU on the second channel only', async () => {
    const { driver, model, log } = setup();
    await driver.init();
    await driver.powerUp();
    log.length = 0;
    assert.deepEqual(await driver.setGain(DAC, 0), { db: 0, muted: false });
    assert.deepEqual(writes(log), [[0x14, 0xff], [0x17, 0xff]]);
    log.length = 0;
    assert.deepEqual(await driver.setGain(DAC, -127), { db: -127, muted: false });
    assert.deepEqual(writes(log), [[0x14, 0x01], [0x17, 0x01]]);
    assert.deepEqual(model.dac(), { left: -127, right: -127 });
    await driver.setGain(DAC, -126.5);
    assert.equal(model.peek(10), 0x002);
    assert.equal(model.peek(11), 0x102);
    // Halfway between -127 and -126.5: the lower gain.
    await driver.setGain(DAC, -126.75);
    assert.equal(model.peek(10), 0x001);
    await assert.rejects(driver.setGain(DAC, 0.5), /outside its range -127 .. 0 dB/);
    await assert.rejects(driver.setGain(DAC, -127.5), /outside its range/);
  });

  it('mutes with code 0x00 (latched on the right channel) and restores the gain on unmute', async () => {
    const { driver, model, log } = setup();
    await driver.init();
    await driver.powerUp();
    await driver.setGain(DAC, -10);
    log.length = 0;
    assert.deepEqual(await driver.setMute(DAC, true), { db: -10, muted: true });
    assert.deepEqual(writes(log), [[0x14, 0x00], [0x17, 0x00]]);
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    await driver.setGain(DAC, -20); // remembered while muted
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    await driver.setMute(DAC, false);
    assert.deepEqual(model.dac(), { left: -20, right: -20 });
    assert.equal(model.peek(11), 0x100 | 0xd7); // -20 dB = 0x01 + 214 steps
  });

  it('sets the headphone and speaker volumes: 0x7F = +6 dB, 0x79 = 0 dB, latched on the right; codes below 0x30 are unknown', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.peek(2), 0x079);
    assert.equal(model.peek(3), 0x179);
    assert.deepEqual(await driver.getGain(HP), { db: 0, muted: false });
    await driver.setGain(HP, 6);
    assert.equal(model.peek(2), 0x07f);
    assert.equal(model.peek(3), 0x17f);
    assert.equal(model.effective(3), 0x7f);
    await driver.setGain(SPK, 0);
    assert.equal(model.peek(40), 0x079);
    assert.equal(model.peek(41), 0x179);
    await driver.setGain(SPK, -73);
    assert.equal(model.peek(40), 0x030);
    await assert.rejects(driver.setGain(HP, -74), /outside its range -73 .. 6 dB/);
    await assert.rejects(driver.setMute(HP, true), /cannot mute/);
  });

  it('sets the ADC volume: 0xC3 = 0 dB, 0xFF = +30 dB, 0x00 = mute', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.peek(21), 0x000, 'muted until power-up');
    assert.equal(model.peek(22), 0x100);
    await driver.powerUp();
    assert.equal(model.peek(21), 0x0c3);
    assert.equal(model.peek(22), 0x1c3);
    await driver.setGain(ADC, 30);
    assert.equal(model.peek(22), 0x1ff);
  });

  it('cannot set the PGA before its whole register is known (bits 7..6 are not among the facts; the chip cannot be read)', async () => {
    const { driver, model } = setup();
    await driver.init();
    await assert.rejects(driver.setGain(PGA, 0), /LEFT_INPUT_VOL cannot be read from the chip and its value is not known yet/);
    assert.equal(model.peek(0), undefined);
  });

  it('init: DAC and ADC muted (code 0x00), gains 0 dB remembered; unknown steps recorded, not run', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    assert.deepEqual(await driver.getGain(DAC), { db: 0, muted: false }, 'the stream gain: 0xFF = 0 dB (reset default)');
    const skipped = driver.events.filter((e) => e.skipped).map((e) => e.step.op === 'unknown' && e.step.what);
    assert.deepEqual(skipped, ['software reset']);
  });

  it('powers up in order: anti-pop, VMID 100 ms, VREF 100 ms, then the DAC unmuted (latched), then the amplifier', async () => {
    const { driver, power, model, log, clock } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    log.length = 0;
    model.timeline.length = 0;
    const t0 = clock.nowNs();
    await power.powerUp();
    const steps = driver.events.filter((e) => e.sequence === 'powerUp').map((e) =>
      e.step.op === 'unknown' ? `unknown: ${e.step.what}` : e.step.op === 'delay' ? `delay ${e.step.ms}` :
        e.step.op === 'mute-control' ? `${e.step.muted ? 'hold' : 'release'} ${e.step.control}` : e.step.op === 'gpio' ? `gpio ${e.step.role}=${e.step.value}` : e.step.op);
    // The codec's steps, then the board's amplifier lines (BoardPower), the last events of all.
    const amplifier = log.flatMap((e) => (e.kind === 'gpio' ? [`gpio ${e.role}=${e.value}`] : []));
    assert.deepEqual([...steps, ...amplifier], [
      'unknown: anti-pop start-up: set POBCTRL, BUFDCOPEN and SOFT_ST (R28/R29)',
      'unknown: enable VMID', 'delay 100',
      'unknown: enable VREF', 'delay 100',
      'hook',
      'unknown: power up the DAC, ADC and the headphone/speaker drivers',
      `release ${DAC}`, `release ${ADC}`,
      'gpio mute=0', 'gpio amp-enable=1',
    ]);
    const dacOn = model.timeline.find((e) => e.pair === 10)!;
    assert.deepEqual([dacOn.left, dacOn.right], [0xff, 0xff]);
    assert.ok(dacOn.atNs! - t0 >= 200e6, `the DAC is unmuted ${(dacOn.atNs! - t0) / 1e6} ms after power-up began (VMID 100 ms + VREF 100 ms)`);
    const unmuteRight = indexOf(log, isWrite([0x17, 0xff]));
    assert.ok(unmuteRight > indexOf(log, isWrite([0x14, 0xff])), 'left first, latch with the right');
    assert.ok(indexOf(log, isGpio('mute', 0)) > unmuteRight && indexOf(log, isGpio('amp-enable', 1)) > unmuteRight, 'the amplifier last');
    assert.deepEqual(log.slice(-2), [{ kind: 'gpio', role: 'mute', value: 0 }, { kind: 'gpio', role: 'amp-enable', value: 1 }], 'nothing after the amplifier');
  });

  it('waits 250 ms for the PLL to lock when the board uses it', async () => {
    const withPll = setup({ options: { pll: true } });
    await withPll.driver.init();
    const t0 = withPll.clock.nowNs();
    await withPll.driver.powerUp();
    assert.ok(withPll.clock.nowNs() - t0 >= 450e6, 'VMID 100 + VREF 100 + PLL 250 ms');
    assert.ok(withPll.driver.events.some((e) => e.step.op === 'delay' && e.step.ms === 250));
    const without = setup();
    await without.driver.init();
    const t1 = without.clock.nowNs();
    await without.driver.powerUp();
    assert.ok(without.clock.nowNs() - t1 < 250e6);
    assert.throws(() => setup({ options: { pll: 'yes' } }), /codec.options.pll must be true or false, got "yes"/);
  });

  it('powers down in order: the amplifier first, then the DAC muted with the latch on the right channel', async () => {
    const { driver, power, model, log } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    await power.powerUp();
    await driver.setGain(DAC, -6);
    log.length = 0;
    await power.powerDown();
    const ampOff = indexOf(log, isGpio('amp-enable', 0));
    const ampMute = indexOf(log, isGpio('mute', 1));
    const muteL = indexOf(log, isWrite([0x14, 0x00]));
    const muteR = indexOf(log, isWrite([0x17, 0x00]));
    assert.ok(ampOff === 0 || ampMute === 0, 'the amplifier goes first');
    assert.ok(ampOff < muteL && ampMute < muteL && muteL < muteR);
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    assert.deepEqual(await driver.getGain(DAC), { db: -6, muted: false }, 'the stream gain is kept for the next power-up');
    await driver.setGain(DAC, -3); // while powered down: remembered only
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    await driver.powerUp();
    assert.deepEqual(model.dac(), { left: -3, right: -3 });
  });

  it('offers 8-48 kHz stereo, with sample widths only from the board (they are not among the facts)', async () => {
    const bare = setup();
    assert.deepEqual(bare.driver.formats('output'), []);
    await assert.rejects(bare.driver.setFormat({ rate: 48000, channels: 2, bits: 16 }), /sample widths are not among the facts.*codec.options.sampleBits/);
    const { driver } = setup({ options: { sampleBits: { bits: [16], source: 'test' } } });
    assert.deepEqual(driver.formats('output').map((r) => [r.minFps, r.maxFps, r.minChannels, r.maxChannels, r.sampleFormats]), [[8000, 48000, 2, 2, 1 << 2], [11025, 44100, 2, 2, 1 << 2]]);
    await driver.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await driver.setFormat({ rate: 8000, channels: 2, bits: 16 });
    await assert.rejects(driver.setFormat({ rate: 96000, channels: 2, bits: 16 }), /not among the part's format ranges/);
    assert.throws(() => setup({ options: { sampleBits: { bits: [12], source: 'x' } } }), /codec.options.sampleBits must be/);
  });

  it('reports its latency as unknown (unverified in the facts)', () => {
    const { driver } = setup();
    const [out] = driver.latency('output', 48000);
    assert.equal(out!.ns, null);
    assert.match(out!.source, /unverified/);
    const [inp] = driver.latency('input', 48000);
    assert.equal(inp!.ns, null);
  });
});
