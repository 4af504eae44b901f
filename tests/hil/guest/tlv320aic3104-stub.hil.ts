/**
 * Guest only: the TLV320AIC3104 driver on the real Linux i2c-dev backend, against an i2c-stub chip
 * at 0x18 banked by page (tests/hil/guest-init.sh: page select in register 0, `bank_mask=0x01`,
 * registers 1..0x7f banked: pages 0 and 1). The peer is i2c-tools: i2cset prepares the chip,
 * i2cdump shows what landed. Expected bytes are the facts of codecs/tlv320aic3104/FACTS.md
 * (TLV320AIC3104): DAC volume R43/R44 (0x2B/0x2C) [6:0] 0 .. -63.5 dB in 0.5 dB steps, bit 7 mute;
 * headphone level R51/R65 (0x33/0x41) [7:4] 0 / 9 dB; PGA R15/R16 (0x0F/0x10) 0 .. 59.5 dB.
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

describe('TLV320AIC3104 driver on i2c-stub (guest)', function () {
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
    // Page 1 reg 0x2B gets a marker; page 0 starts from zeros, with bits 3..0 of R51/R65 set (not
    // among the facts: the driver must keep them).
    await set(0x00, 0x01);
    await set(0x2b, 0xa5);
    await set(0x00, 0x00);
    for (const reg of [0x0f, 0x10, 0x2b, 0x2c]) await set(reg, 0x00);
    await set(0x33, 0x05);
    await set(0x41, 0x0a);
  });
  afterEach(() => bus.close());

  function driver(): Tlv320aic3104Driver {
    const clock = monotonicClock();
    const ctx: CodecContext = {
      clock, bus, addr: addr(), gpio: new Map(), options: {},
      sleepMs: (ms) => clock.sleepUntilNs(clock.nowNs() + ms * 1e6),
    };
    return new Tlv320aic3104Driver(ctx);
  }

  it('init mutes the DAC with bit 7 in page 0; i2cdump shows the bytes', async () => {
    const d = driver();
    await d.probe();
    await d.init();
    const regs = await dump();
    assert.equal(regs[0x00], 0x00, 'left on page 0');
    assert.equal(regs[0x2b], 0x80, 'R43: mute bit, 0 dB');
    assert.equal(regs[0x2c], 0x80, 'R44: mute bit, 0 dB');
    assert.equal(regs[0x33], 0x05, 'R51: headphone level 0 dB, bits 3..0 kept');
    assert.equal(regs[0x41], 0x0a, 'R65: headphone level 0 dB, bits 3..0 kept');
  });

  it('lands volume, headphone and PGA writes in page 0: -63.5 dB = 0x7F, mute bit, 9 dB = [7:4] 9, 59.5 dB = 0x77', async () => {
    const d = driver();
    await d.init();
    await d.powerUp();
    let regs = await dump();
    assert.equal(regs[0x2b], 0x00, 'unmuted, 0 dB');
    assert.equal(regs[0x2c], 0x00);
    await d.setGain(DAC, -63.5);
    await d.setGain('Headphone Playback Volume', 9);
    await d.setGain('PGA Capture Volume', 59.5);
    regs = await dump();
    assert.equal(regs[0x2b], 0x7f);
    assert.equal(regs[0x2c], 0x7f);
    assert.equal(regs[0x33], 0x95);
    assert.equal(regs[0x41], 0x9a);
    assert.equal(regs[0x0f], 0x77);
    assert.equal(regs[0x10], 0x77);
    await d.setMute(DAC, true);
    regs = await dump();
    assert.equal(regs[0x2b], 0xff, 'mute bit with the code kept');
    assert.equal(regs[0x2c], 0xff);
  });

  it('power-down sets both mute bits, keeping the gain; page 1 is untouched', async () => {
    const d = driver();
    await d.init();
    await d.powerUp();
    await d.setGain(DAC, -10);
    await d.powerDown();
    const regs = await dump();
    assert.equal(regs[0x2b], 0x94, 'mute bit + 20 steps of 0.5 dB');
    assert.equal(regs[0x2c], 0x94);
    const page1 = await dumpPage1();
    assert.equal(page1[0x00], 0x01);
    assert.equal(page1[0x2b], 0xa5, 'the page-1 marker');
    for (const reg of [0x0f, 0x10, 0x2c, 0x33, 0x41]) assert.equal(page1[reg], 0x00, `page 1 reg 0x${reg.toString(16)} untouched`);
  });
});
