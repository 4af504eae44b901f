/**
 * Guest only: the TLV320AIC3104 driver on the real Linux i2c-dev backend, against an i2c-stub chip
 * at 0x18 banked by page (tests/hil/guest-init.sh: page select in register 0, `bank_mask=0x01`,
 * registers 1..0x7f banked: pages 0 and 1). The peer is i2c-tools: i2cdump shows what landed.
 * i2c-stub models no chip (the soft reset, reg 1 = 0x80, resets nothing), so before each test page
 * 0 is loaded with the facts' reset defaults (codecs/tlv320aic3104/FACTS.md#reset-defaults: 3 =
 * 0x10, 4 = 0x04, 11 = 0x01, 15/16 = 0x80, 17/18 = 0xFF, 19–24 = 0x78, 43/44 = 0x80, 51/58/65/72
 * = 0x04, 102 = 0x02, all others 0), as a chip holds them after its reset, and page 1 with a marker.
 * Expected bytes are the bring-up's on the ReSpeaker 2-Mic v2
 * (codecs/tlv320aic3104/FACTS.md#bring-up-on-the-respeaker-2-mic-v2), as literals: the clock
 * master from MCLK (reg 102 [7:4] = 0, reg 3 = 0x20, reg 101 = 0x01, reg 7 = 0x0A, reg 2 = 0x00,
 * reg 8 = 0xC0), the interface (reg 9 [5:4] = 0 / 3, reg 10 = 0), the power and routing (reg 37 =
 * 0xC0, 47/64 = 0x80, 51/65 = 0x09, 19/22 = 0x04, 15/16 = 0x20, 25 = 0x80), the DAC volume (R43/R44
 * [6:0] 0 .. -63.5 dB in 0.5 dB steps, bit 7 mute).
 */
import assert from 'node:assert/strict';
import { Tlv320aic3104Driver } from '../../../codecs/tlv320aic3104/driver.ts';
import type { CodecContext } from '../../../src/codec/types.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { LinuxI2cBus } from '../../../src/hal/linux/i2c.ts';
import { hilEnv } from '../env.ts';
import { parseI2cdump, run } from '../peers.ts';

const env = hilEnv();
const i2c = env.i2c;
const DAC = 'Digital Playback Volume';
const PAGE1_MARK = 0xa5;

/** FACTS.md "Reset defaults", page 0 (all others 0). */
const RESET = new Map<number, number>([
  [3, 0x10], [4, 0x04], [11, 0x01], [15, 0x80], [16, 0x80], [17, 0xff], [18, 0xff], [19, 0x78], [20, 0x78], [21, 0x78], [22, 0x78], [23, 0x78], [24, 0x78],
  [43, 0x80], [44, 0x80], [51, 0x04], [58, 0x04], [65, 0x04], [72, 0x04], [102, 0x02],
]);

describe('TLV320AIC3104 driver on i2c-stub (guest): the ReSpeaker 2-Mic v2 bring-up in page 0', function () {
  let bus: LinuxI2cBus;
  const addr = () => i2c!.tlv320aic3104Addr!;
  const hexAddr = () => `0x${addr().toString(16)}`;
  const set = (reg: number, value: number) => run('i2cset', ['-y', String(i2c!.bus), hexAddr(), `0x${reg.toString(16)}`, `0x${value.toString(16)}`]);
  const dump = async () => parseI2cdump(await run('i2cdump', ['-y', String(i2c!.bus), hexAddr(), 'b']));
  /** Page 1 seen by the peer, then back to page 0. */
  const dumpPage1 = async () => {
    await set(0x00, 0x01);
    const regs = await dump();
    await set(0x00, 0x00);
    return regs;
  };

  before(function () {
    if (env.tier !== 'guest' || !i2c || i2c.tlv320aic3104Addr === undefined) this.skip(); // reason: guest only (needs the i2c-stub chip at 0x18)
  });
  beforeEach(async () => {
    bus = new LinuxI2cBus(i2c!.bus);
    // Page 1: a marker in every banked register; page 0: the reset defaults.
    await bus.writeByteData(addr(), 0x00, 0x01);
    for (let r = 1; r <= 0x7f; r++) await bus.writeByteData(addr(), r, PAGE1_MARK);
    await bus.writeByteData(addr(), 0x00, 0x00);
    for (let r = 1; r <= 0x7f; r++) await bus.writeByteData(addr(), r, RESET.get(r) ?? 0);
  });
  afterEach(() => bus.close());

  function driver(): { d: Tlv320aic3104Driver; clock: ReturnType<typeof monotonicClock> } {
    const clock = monotonicClock();
    const ctx: CodecContext = {
      clock, bus, addr: addr(), gpio: new Map(), options: {},
      sleepMs: (ms) => clock.sleepUntilNs(clock.nowNs() + ms * 1e6),
    };
    return { d: new Tlv320aic3104Driver(ctx), clock };
  }

  /** Asserts each [register, byte] of page 0. */
  function landed(regs: (number | undefined)[], expected: [number, number, string][]) {
    for (const [reg, value, what] of expected) {
      assert.equal(regs[reg], value, `reg ${reg} = 0x${value.toString(16).padStart(2, '0')} (${what}): i2cdump shows 0x${regs[reg]?.toString(16)}`);
    }
  }

  it('init: soft reset (reg 1 = 0x80), the DAC muted (R43/R44 = 0x80), routed to the headphone at 0 dB (R47/R64 = 0x80), PGA 0x20 still muted, LINE1 connected', async () => {
    const { d } = driver();
    await d.probe();
    await d.init();
    const regs = await dump();
    assert.equal(regs[0x00], 0x00, 'left on page 0');
    landed(regs, [
      [1, 0x80, 'soft reset'],
      [43, 0x80, 'left DAC muted, 0 dB'], [44, 0x80, 'right DAC muted, 0 dB'],
      [47, 0x80, 'DAC_L1 → HPLOUT at 0 dB'], [64, 0x80, 'DAC_R1 → HPROUT at 0 dB'],
      [15, 0xa0, 'left PGA 0x20, muted (bit 7 of the reset)'], [16, 0xa0, 'right PGA 0x20, muted'],
      [19, 0x00, 'LINE1L into the left ADC at 0 dB, ADC off'], [22, 0x00, 'LINE1R into the right ADC at 0 dB, ADC off'],
      [51, 0x04, 'HPLOUT at its reset'], [65, 0x04, 'HPROUT at its reset'],
      [40, 0x00, 'output common mode at its reset (not among the facts for this board)'],
    ]);
  });

  for (const [bits, r9] of [[16, 0x00], [32, 0x30]] as const) {
    it(`setFormat 48 kHz ${bits}-bit and power-up: i2cdump shows the clock master from MCLK, reg 9 = 0x${r9.toString(16).padStart(2, '0')}, the power, routing and unmute of the facts, after the 50 ms`, async () => {
      const { d, clock } = driver();
      await d.probe();
      await d.init();
      await d.setFormat({ rate: 48000, channels: 2, bits });
      let regs = await dump();
      landed(regs, [
        [102, 0x02, 'clock divider and PLL input = MCLK ([7:4] = 0)'],
        [3, 0x20, 'PLL off, Q = 4'],
        [101, 0x01, 'CODEC_CLK from the clock divider'],
        [7, 0x0a, 'fsref 48 kHz, left ← left, right ← right'],
        [2, 0x00, 'ADC and DAC at fsref ÷ 1'],
        [8, 0xc0, 'the codec drives BCLK and WCLK'],
        [9, r9, `I2S, ${bits}-bit`],
        [10, 0x00, 'no data offset'],
        [37, 0x00, 'DACs still off before the power-up'],
      ]);
      const t0 = clock.nowNs();
      await d.powerUp();
      assert.ok(clock.nowNs() - t0 >= 50e6, `power-up took ${((clock.nowNs() - t0) / 1e6).toFixed(1)} ms: the 50 ms wait`);
      regs = await dump();
      landed(regs, [
        [37, 0xc0, 'left and right DAC power'],
        [51, 0x09, 'HPLOUT powered and unmuted'], [65, 0x09, 'HPROUT powered and unmuted'],
        [19, 0x04, 'LINE1L into the ADC, ADC powered'], [22, 0x04, 'LINE1R into the ADC, ADC powered'],
        [15, 0x20, 'left PGA 0x20, unmuted'], [16, 0x20, 'right PGA 0x20, unmuted'],
        [25, 0x80, 'MICBIAS 2.5 V'],
        [43, 0x00, 'left DAC unmuted, 0 dB'], [44, 0x00, 'right DAC unmuted, 0 dB'],
      ]);
    });
  }

  it('volume writes land in page 0: -63.5 dB = 0x7F, the mute bit keeps the code', async () => {
    const { d } = driver();
    await d.init();
    await d.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await d.powerUp();
    await d.setGain(DAC, -63.5);
    await d.setGain('Headphone Playback Volume', 9);
    await d.setGain('PGA Capture Volume', 59.5);
    let regs = await dump();
    landed(regs, [[43, 0x7f, '-63.5 dB'], [44, 0x7f, '-63.5 dB'], [51, 0x99, 'headphone 9 dB, powered, unmuted'], [65, 0x99, 'headphone 9 dB'], [15, 0x77, 'PGA 59.5 dB'], [16, 0x77, 'PGA 59.5 dB']]);
    await d.setMute(DAC, true);
    regs = await dump();
    landed(regs, [[43, 0xff, 'mute bit with the code kept'], [44, 0xff, 'mute bit with the code kept']]);
  });

  it('power-down: the DAC muted (gain kept), the drivers, DACs and ADCs off, MICBIAS at its reset; page 1 untouched', async () => {
    const { d } = driver();
    await d.init();
    await d.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await d.powerUp();
    await d.setGain(DAC, -10);
    await d.powerDown();
    const regs = await dump();
    landed(regs, [
      [43, 0x94, 'mute bit + 20 steps of 0.5 dB'], [44, 0x94, 'mute bit + 20 steps'],
      [51, 0x00, 'HPLOUT muted and off'], [65, 0x00, 'HPROUT muted and off'],
      [37, 0x00, 'DACs off'], [19, 0x00, 'left ADC off'], [22, 0x00, 'right ADC off'], [25, 0x00, 'MICBIAS at its reset'],
      [15, 0xa0, 'left PGA muted'], [16, 0xa0, 'right PGA muted'],
      [8, 0xc0, 'the codec still drives the clocks'],
    ]);
    const page1 = await dumpPage1();
    assert.equal(page1[0x00], 0x01);
    for (let r = 1; r <= 0x7f; r++) assert.equal(page1[r], PAGE1_MARK, `page 1 reg ${r} untouched`);
  });
});
