/**
 * TLV320AIC3104: expected values are the figures of codecs/tlv320aic3104/FACTS.md, as
 * literals. Page 0 registers: R15/R16 = 0x0F/0x10, R43/R44 = 0x2B/0x2C, R51 = 0x33, R65 = 0x41.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Tlv320aic3104Driver } from '../../codecs/tlv320aic3104/driver.ts';
import { Tlv320aic3104Model } from '../../codecs/tlv320aic3104/model.ts';
import { boardPower, indexOf, isGpio, isWrite, makeHarness } from '../fixtures/codecs/harness.ts';

const ADDR = 0x18;
const DAC = 'Digital Playback Volume';
const HP = 'Headphone Playback Volume';
const PGA = 'PGA Capture Volume';
const BITS16 = { sampleBits: { bits: [16], source: 'test' } };

function setup(opts: { boardRoles?: string[]; options?: Record<string, unknown>; smbusOnly?: boolean; model?: Tlv320aic3104Model } = {}) {
  const model = opts.model ?? new Tlv320aic3104Model();
  const h = makeHarness({ addr: ADDR, model, boardRoles: opts.boardRoles, options: opts.options, smbusOnly: opts.smbusOnly });
  const driver = new Tlv320aic3104Driver(h.ctx);
  // The board's amplifier lines (boardRoles) around the codec's sequences, as openBoard wires rt.power.
  return { ...h, model, driver, power: boardPower(h, driver) };
}

describe('tlv320aic3104 model (written from codecs/tlv320aic3104/FACTS.md, not from the driver)', () => {
  it('does not import the driver or its description', () => {
    const src = readFileSync(new URL('../../codecs/tlv320aic3104/model.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(src, /from '\.\/(driver|description)(\.ts)?'/);
  });

  it('selects pages 0 and 1 with register 0 and reads the DAC volume coding', () => {
    const m = new Tlv320aic3104Model();
    m.write(Uint8Array.of(0x00, 0x01));
    m.write(Uint8Array.of(0x2b, 0xaa));
    m.write(Uint8Array.of(0x00, 0x00));
    m.write(Uint8Array.of(0x2b, 0xff)); // mute bit + 0x7F
    m.write(Uint8Array.of(0x2c, 0x00));
    assert.equal(m.peek(1, 0x2b), 0xaa);
    assert.deepEqual(m.dac(), { left: { muted: true, db: -63.5 }, right: { muted: false, db: 0 } });
    m.write(Uint8Array.of(0x00));
    assert.deepEqual([...m.read(1)], [0x00]);
  });
});

describe('tlv320aic3104 driver', () => {
  it('probes the chip through the page select, and names the address when nothing answers', async () => {
    const { driver } = setup();
    await driver.probe();
    const h = makeHarness({ addr: 0x19, model: new Tlv320aic3104Model() });
    await assert.rejects(new Tlv320aic3104Driver({ ...h.ctx, addr: 0x18 }).probe(), /tlv320aic3104: no TLV320AIC3104 answering at 0x18 on sim-i2c-1: .*no acknowledge/);
  });

  it('reports its controls: DAC 0 .. -63.5 dB in 0.5 dB steps with a mute bit (the stream gain); headphone and PGA apart', () => {
    const c = setup().driver.gainControls().map(({ source: _s, ...x }) => x);
    assert.deepEqual(c, [
      { name: DAC, direction: 'output', minDb: -63.5, maxDb: 0, stepDb: 0.5, canMute: true, main: true },
      { name: HP, direction: 'output', minDb: 0, maxDb: 9, stepDb: 9, canMute: false, main: false },
      { name: PGA, direction: 'input', minDb: 0, maxDb: 59.5, stepDb: 0.5, canMute: false, main: false },
    ]);
  });

  it('init: page 0, DAC muted by bit 7, stream gain 0 dB remembered, headphone level 0 dB', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.page, 0);
    assert.equal(model.peek(0, 0x2b), 0x80);
    assert.equal(model.peek(0, 0x2c), 0x80);
    assert.equal(model.peek(0, 0x33) >> 4, 0);
    assert.deepEqual(await driver.getGain(DAC), { db: 0, muted: false });
  });

  it('writes the inverted DAC volume: code 0 = 0 dB, 0x7F = -63.5 dB, 0.5 dB per code, on both channels', async () => {
    const { driver, model } = setup();
    await driver.init();
    await driver.powerUp();
    assert.equal(model.peek(0, 0x2b), 0x00);
    assert.deepEqual(await driver.setGain(DAC, -63.5), { db: -63.5, muted: false });
    assert.equal(model.peek(0, 0x2b), 0x7f);
    assert.equal(model.peek(0, 0x2c), 0x7f);
    await driver.setGain(DAC, -0.5);
    assert.equal(model.peek(0, 0x2b), 0x01);
    await driver.setGain(DAC, -0.25); // halfway: the lower gain
    assert.equal(model.peek(0, 0x2c), 0x01);
    await assert.rejects(driver.setGain(DAC, 0.5), /outside its range -63.5 .. 0 dB/);
  });

  it('mutes with bit 7, keeping the volume code, and unmutes to the same code', async () => {
    const { driver, model } = setup();
    await driver.init();
    await driver.powerUp();
    await driver.setGain(DAC, -63.5);
    assert.deepEqual(await driver.setMute(DAC, true), { db: -63.5, muted: true });
    assert.equal(model.peek(0, 0x2b), 0xff);
    assert.equal(model.peek(0, 0x2c), 0xff);
    assert.deepEqual(model.dac(), { left: { muted: true, db: -63.5 }, right: { muted: true, db: -63.5 } });
    await driver.setMute(DAC, false);
    assert.equal(model.peek(0, 0x2b), 0x7f);
  });

  it('sets the headphone level in [7:4] (0 and 9 dB, the codes the facts name), keeping the other bits', async () => {
    const model = new Tlv320aic3104Model();
    model.write(Uint8Array.of(0x33, 0x05)); // bits 3..0 hold something the facts do not describe
    model.write(Uint8Array.of(0x41, 0x0a));
    const { driver } = setup({ model });
    await driver.init();
    await driver.setGain(HP, 9);
    assert.equal(model.peek(0, 0x33), 0x95);
    assert.equal(model.peek(0, 0x41), 0x9a);
    assert.deepEqual(model.headphone(), { left: 9, right: 9 });
    assert.deepEqual(await driver.setGain(HP, 4.5), { db: 0, muted: false }, 'halfway between the known codes: the lower');
    assert.equal(model.peek(0, 0x33), 0x05);
  });

  it('sets the PGA: 0 .. 59.5 dB in 0.5 dB steps in [6:0]', async () => {
    // R15/R16 bit 7 clear, as K's aic3x_init leaves it (FACTS bring-up: 15/16 "bit 7 = 0, unmuted");
    // the chip's reset default (0x80) sets it, and the description keeps bits outside [6:0].
    const model = new Tlv320aic3104Model();
    model.write(Uint8Array.of(0x0f, 0x00));
    model.write(Uint8Array.of(0x10, 0x00));
    const { driver } = setup({ model });
    await driver.init();
    await driver.setGain(PGA, 59.5);
    assert.equal(model.peek(0, 0x0f), 0x77);
    assert.equal(model.peek(0, 0x10), 0x77);
    await driver.setGain(PGA, 0.5);
    assert.deepEqual(model.pga(), { left: 0.5, right: 0.5 });
    await assert.rejects(driver.setGain(PGA, 60), /outside its range 0 .. 59.5 dB/);
  });

  it('powers up: DAC mute bits clear, then the amplifier', async () => {
    const { driver, power, log, model } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    log.length = 0;
    await power.powerUp();
    const unmuteL = indexOf(log, isWrite([0x2b, 0x00]));
    const unmuteR = indexOf(log, isWrite([0x2c, 0x00]));
    assert.ok(unmuteL >= 0 && unmuteR > unmuteL);
    assert.ok(indexOf(log, isGpio('mute', 0)) > unmuteR && indexOf(log, isGpio('amp-enable', 1)) > unmuteR, 'the amplifier last');
    assert.deepEqual(model.timeline.at(-1), { left: { muted: false, db: 0 }, right: { muted: false, db: 0 } });
    const unknown = driver.events.filter((e) => e.sequence === 'powerUp' && e.skipped);
    assert.equal(unknown.length, 1, 'the power bits: recorded, not run');
  });

  it('powers down: the amplifier first, then both DAC mute bits', async () => {
    const { driver, power, log, model } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    await power.powerUp();
    await driver.setGain(DAC, -10);
    log.length = 0;
    await power.powerDown();
    const ampOff = indexOf(log, isGpio('amp-enable', 0));
    const ampMute = indexOf(log, isGpio('mute', 1));
    const muteL = indexOf(log, isWrite([0x2b, 0x94]));
    const muteR = indexOf(log, isWrite([0x2c, 0x94]));
    assert.ok(ampOff === 0 || ampMute === 0, 'the amplifier goes first');
    assert.ok(ampOff < muteL && ampMute < muteL && muteL < muteR);
    assert.deepEqual(model.dac(), { left: { muted: true, db: -10 }, right: { muted: true, db: -10 } });
    assert.deepEqual(await driver.getGain(DAC), { db: -10, muted: false });
  });

  it('keeps page 1 untouched', async () => {
    const model = new Tlv320aic3104Model();
    model.write(Uint8Array.of(0x00, 0x01));
    model.write(Uint8Array.of(0x2b, 0x5a));
    model.write(Uint8Array.of(0x00, 0x00));
    const before = model.writes.length;
    const { driver } = setup({ model });
    await driver.init();
    await driver.powerUp();
    await driver.setGain(DAC, -20);
    assert.equal(model.peek(1, 0x2b), 0x5a);
    assert.ok(model.writes.slice(before).every((w) => w.page === 0));
  });

  it('reports latency DAC 21/fs and ADC 17/fs', () => {
    const { driver } = setup();
    const [out] = driver.latency('output', 48000);
    assert.equal(out!.frames, 21);
    assert.equal(Math.round(out!.ns!), 437500);
    const [inp] = driver.latency('input', 48000);
    assert.equal(inp!.frames, 17);
    assert.equal(Math.round(inp!.ns!), 354167);
  });

  it('offers 8-96 kHz stereo both ways, with sample widths only from the board', async () => {
    assert.deepEqual(setup().driver.formats('output'), []);
    const { driver } = setup({ options: BITS16 });
    for (const dir of ['output', 'input'] as const) {
      assert.deepEqual(driver.formats(dir).map((r) => [r.minFps, r.maxFps, r.minChannels, r.maxChannels]), [[8000, 96000, 2, 2], [11025, 88200, 2, 2]]);
    }
    await driver.setFormat({ rate: 96000, channels: 2, bits: 16 });
    await assert.rejects(driver.setFormat({ rate: 192000, channels: 2, bits: 16 }), /not among the part's format ranges/);
  });

  it('works over an SMBus-only adapter (as on i2c-stub)', async () => {
    const { driver, model } = setup({ smbusOnly: true });
    await driver.probe();
    await driver.init();
    await driver.powerUp();
    await driver.setGain(DAC, -63.5);
    assert.equal(model.peek(0, 0x2b), 0x7f);
  });
});
