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

  it('init: soft reset (reg 1 = 0x80), page 0, DAC muted by bit 7, stream gain 0 dB remembered, headphone level 0 dB, routed at 0 dB', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.deepEqual(model.writes.find((w) => w.reg === 1), { page: 0, reg: 1, value: 0x80, atNs: model.writes.find((w) => w.reg === 1)!.atNs, link: false });
    assert.equal(model.peek(0, 47), 0x80, 'R47: DAC_L1 → HPLOUT at 0 dB');
    assert.equal(model.peek(0, 64), 0x80, 'R64: DAC_R1 → HPROUT at 0 dB');
    assert.equal(model.peek(0, 19), 0x00, 'R19: LINE1L into the ADC at 0 dB, ADC still off');
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
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.peek(0, 0x33), 0x04, 'R51 after the soft reset: its default 0x04 (level 0 dB)');
    await driver.setGain(HP, 9);
    assert.equal(model.peek(0, 0x33), 0x94);
    assert.equal(model.peek(0, 0x41), 0x94);
    assert.deepEqual(model.headphone(), { left: 9, right: 9 });
    assert.deepEqual(await driver.setGain(HP, 4.5), { db: 0, muted: false }, 'halfway between the known codes: the lower');
    assert.equal(model.peek(0, 0x33), 0x04);
    await driver.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await driver.powerUp();
    assert.equal(model.peek(0, 0x33), 0x09, 'powered and unmuted at 0 dB (the facts\' 0x09)');
    await driver.setGain(HP, 9);
    assert.equal(model.peek(0, 0x41), 0x99, 'the level kept beside the power and unmute bits');
  });

  it('sets the PGA: 0 .. 59.5 dB in 0.5 dB steps in [6:0], its mute bit (set at reset) cleared at power-up', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.peek(0, 0x0f), 0xa0, 'R15: 0x20 (16 dB) as the bring-up sets it, still muted (bit 7 resets set)');
    await driver.setGain(PGA, 59.5);
    assert.equal(model.peek(0, 0x0f), 0xf7);
    assert.equal(model.peek(0, 0x10), 0xf7);
    await driver.setGain(PGA, 16);
    await driver.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await driver.powerUp();
    assert.equal(model.peek(0, 0x0f), 0x20, 'the facts\' 0x20, bit 7 = 0');
    assert.equal(model.peek(0, 0x10), 0x20);
    await driver.setGain(PGA, 0.5);
    assert.deepEqual(model.pga(), { left: 0.5, right: 0.5 });
    await assert.rejects(driver.setGain(PGA, 60), /outside its range 0 .. 59.5 dB/);
  });

  it('powers up: DAC and headphone power, the 50 ms wait, then the DAC mute bits clear, then the amplifier', async () => {
    const { driver, power, log, model, clock } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    await driver.setFormat({ rate: 48000, channels: 2, bits: 16 });
    log.length = 0;
    const t0 = clock.nowNs();
    await power.powerUp();
    assert.ok(clock.nowNs() - t0 >= 50e6, 'the power-up took its 50 ms');
    const dacPower = indexOf(log, isWrite([0x25, 0xc0]));
    const hpl = indexOf(log, isWrite([0x33, 0x09]));
    const unmuteL = indexOf(log, isWrite([0x2b, 0x00]));
    const unmuteR = indexOf(log, isWrite([0x2c, 0x00]));
    assert.ok(dacPower >= 0 && hpl > dacPower && unmuteL > hpl && unmuteR > unmuteL, JSON.stringify(log));
    assert.ok(indexOf(log, isGpio('mute', 0)) > unmuteR && indexOf(log, isGpio('amp-enable', 1)) > unmuteR, 'the amplifier last');
    assert.deepEqual(model.timeline.at(-1), { left: { muted: false, db: 0 }, right: { muted: false, db: 0 } });
    assert.deepEqual(driver.events.filter((e) => e.sequence === 'powerUp' && e.skipped), [], 'no unknown step left');
  });

  it('sets the output common mode a board names (R40 [7:6] = 0..3 for 1.35..1.8 V); without it the step is unknown and R40 keeps its reset 0', async () => {
    for (const [v, code] of [['1.35V', 0], ['1.5V', 1], ['1.65V', 2], ['1.8V', 3]] as const) {
      const { driver, model } = setup({ options: { outputCommonMode: v } });
      await driver.init();
      assert.equal(model.peek(0, 40) >> 6, code, v);
    }
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.peek(0, 40), 0x00);
    assert.equal(driver.events.filter((e) => e.skipped).length, 1, 'recorded, not run');
    assert.throws(() => setup({ options: { outputCommonMode: '2V' } }), /outputCommonMode must be one of "1.35V", "1.5V", "1.65V", "1.8V"/);
  });

  it('keeps page 1 untouched: every write lands in page 0', async () => {
    const model = new Tlv320aic3104Model();
    const before = model.writes.length;
    const { driver } = setup({ model });
    await driver.init();
    await driver.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await driver.powerUp();
    await driver.setGain(DAC, -20);
    await driver.powerDown();
    assert.ok(model.writes.length > before);
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

  it('offers S16, S20_3, S24_3, S24, S32 stereo at 48 kHz both ways (the one rate of the facts\' clocking), no stand-in width', async () => {
    const { driver } = setup();
    for (const dir of ['output', 'input'] as const) {
      // src/audio/formats.ts: BIT16 1<<2, BIT20_PACKED 1<<4, BIT24_PACKED 1<<5, BIT24_IN32 1<<7, BIT32 1<<8; FPS_48000_FAMILY 2.
      assert.deepEqual(driver.formats(dir), [{ sampleFormats: 4 | 16 | 32 | 128 | 256, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 2 }], dir);
    }
    for (const bits of [16, 20, 24, 32]) await driver.setFormat({ rate: 48000, channels: 2, bits });
    await assert.rejects(driver.setFormat({ rate: 96000, channels: 2, bits: 16 }), /96000 Hz: as clock master from a 24.576 MHz MCLK the TLV320AIC3104 runs at 48000 Hz only/);
    await assert.rejects(driver.setFormat({ rate: 44100, channels: 2, bits: 16 }), /48000 Hz only/);
    await assert.rejects(driver.setFormat({ rate: 48000, channels: 1, bits: 16 }), /not among the part's format ranges/);
    assert.deepEqual({ mode: driver.clocking().mode, master: driver.clocking().clockMaster }, { mode: 'master-mclk-24m576', master: 'codec' });
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
