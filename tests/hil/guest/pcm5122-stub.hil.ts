/**
 * Guest only: the PCM5122 driver on the real Linux i2c-dev backend, against an i2c-stub chip at
 * 0x4d banked by page (tests/hil/guest-init.sh: page select in register 0, registers 1..0x7f
 * banked). The peer is i2c-tools (busybox): i2cset prepares the chip, i2cdump shows what landed.
 *
 * i2c-stub models no chip behaviour: the analog mute detect (page 0 reg 108) reads as written,
 * so it is preloaded with 0 (muted) and the power-down poll settles at once; the reset (page 0
 * reg 1 = 0x11 then 0x00) resets nothing, so the full bring-up test preloads what a reset leaves,
 * the reset defaults of codecs/pcm5122/FACTS.md#reset-defaults, and then finds the bring-up's
 * values of codecs/pcm5122/FACTS.md#bring-up-as-clock-slave in i2cdump (pages 0 and 1).
 */
import assert from 'node:assert/strict';
import { Pcm5122Driver } from '../../../codecs/pcm5122/driver.ts';
import type { CodecContext } from '../../../src/codec/types.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { LinuxI2cBus } from '../../../src/hal/linux/i2c.ts';
import { hilEnv } from '../env.ts';
import { parseI2cdump, run } from '../peers.ts';

const ADDR = 0x4d;
const env = hilEnv();
const i2c = env.i2c;

describe('PCM5122 driver on i2c-stub (guest)', function () {
  let bus: LinuxI2cBus;
  const busArg = () => String(i2c!.bus);
  const set = (reg: number, value: number) => run('i2cset', ['-y', busArg(), `0x${ADDR.toString(16)}`, `0x${reg.toString(16)}`, `0x${value.toString(16)}`]);
  const dump = async () => parseI2cdump(await run('i2cdump', ['-y', busArg(), `0x${ADDR.toString(16)}`, 'b']));

  before(function () {
    if (env.tier !== 'guest' || !i2c || !i2c.pcm5122Addrs.includes(ADDR)) this.skip(); // reason: guest only (needs the banked i2c-stub chip at 0x4d)
  });
  beforeEach(async () => {
    bus = new LinuxI2cBus(i2c!.bus);
    // Page 1 reg 2 gets a marker; page 0 starts from zeros (reg 108 = 0: analog mute detected).
    await set(0x00, 0x01);
    await set(0x02, 0xa5);
    await set(0x00, 0x00);
    for (const reg of [0x02, 0x03, 0x2b, 0x3d, 0x3e, 0x6c]) await set(reg, 0x00);
  });
  afterEach(() => bus.close());

  function driver(): Pcm5122Driver {
    const clock = monotonicClock();
    const ctx: CodecContext = {
      clock, bus, addr: ADDR, gpio: new Map(), options: { filter: 'normal' },
      sleepMs: (ms) => clock.sleepUntilNs(clock.nowNs() + ms * 1e6),
    };
    return new Pcm5122Driver(ctx);
  }

  it('lands init and gain writes in page 0; i2cdump shows the expected bytes', async () => {
    const d = driver();
    await d.probe();
    assert.equal(await d.regmap!.readFromChip('ANALOG_GAIN_CTRL'), 0xa5, 'page 1 reg 2 read through the page select');
    await d.init();
    await d.setGain('Digital Playback Volume', -33.3);
    const regs = await dump();
    assert.equal(regs[0x00], 0x00, 'left on page 0');
    assert.equal(regs[0x02], 0x10, 'POWER: RQST (standby)');
    assert.equal(regs[0x03], 0x11, 'MUTE: RQML | RQMR');
    assert.equal(regs[0x2b], 0x01, 'DSP_PROGRAM: normal filter');
    assert.equal(regs[0x3d], 0x73, 'left volume -33.5 dB');
    assert.equal(regs[0x3e], 0x73, 'right volume -33.5 dB');
  });

  it('the full bring-up as clock slave (init, 48 kHz 16-bit then 32-bit, power-up) lands on pages 0 and 1: i2cdump shows the facts\' values', async () => {
    // What the reset leaves (FACTS.md, "Reset defaults"): the stub does not reset itself.
    const page0: [number, number][] = [
      [1, 0x00], [2, 0x00], [3, 0x00], [7, 0x00], [9, 0x00], [12, 0x7c], [13, 0x00], [14, 0x00], [16, 0x00], [18, 0x00], [19, 0x10],
      [20, 0x00], [21, 0x00], [22, 0x00], [23, 0x00], [24, 0x00], [27, 0x00], [28, 0x00], [29, 0x00], [30, 0x00], [32, 0x00], [33, 0x00],
      [34, 0x00], [35, 0x01], [36, 0x00], [37, 0x00], [40, 0x02], [41, 0x00], [42, 0x11], [43, 0x01], [44, 0x00], [59, 0x00], [60, 0x00],
      [61, 0x30], [62, 0x30], [63, 0x22], [64, 0x00], [65, 0x07], [108, 0x00],
    ];
    const page1: [number, number][] = [[1, 0x00], [2, 0x00], [5, 0x00], [6, 0x00], [7, 0x00], [8, 0x00], [9, 0x01]];
    await set(0x00, 0x01);
    for (const [reg, v] of page1) await set(reg, v);
    await set(0x00, 0x00);
    for (const [reg, v] of page0) await set(reg, v);

    const d = driver();
    await d.probe();
    await d.init();
    await d.setFormat({ rate: 48000, channels: 2, bits: 16 });
    let regs = await dump();
    assert.equal(regs[0x00], 0x00, 'page 0');
    assert.equal(regs[1], 0x00, 'reset released');
    assert.equal(regs[2], 0x10, 'standby while configuring');
    assert.equal(regs[3], 0x11, 'soft mute');
    assert.equal(regs[9]! & 0x31, 0x00, 'BCK/LRCK inputs, normal polarity');
    assert.equal(regs[12]! & 0x03, 0x00, 'master dividers held in reset');
    assert.equal(regs[13], 0x10, 'PLL reference BCK');
    assert.equal(regs[37]! & 0x0a, 0x08, 'ignore missing SCK, automatic dividers');
    assert.equal(regs[40], 0x00, 'I2S, 16-bit');
    assert.equal(regs[41], 0x00, 'no data offset');
    assert.equal(regs[43], 0x01, 'normal filter');
    assert.equal(regs[61], 0x30, '0 dB');
    assert.equal(regs[62], 0x30, '0 dB');
    await d.setFormat({ rate: 48000, channels: 2, bits: 32 });
    await d.powerUp();
    regs = await dump();
    assert.equal(regs[40], 0x03, 'I2S, 32-bit');
    assert.equal(regs[2], 0x00, 'out of standby');
    assert.equal(regs[3], 0x00, 'unmuted');
    await set(0x00, 0x01);
    const p1 = await dump();
    await set(0x00, 0x00);
    assert.equal(p1[0x00], 0x01, 'page 1');
    for (const [reg, v] of page1) assert.equal(p1[reg], v, `page 1 reg ${reg}: untouched by the bring-up`);
    assert.equal(p1[61], 0x00, 'no page 0 write leaked into page 1');
  });

  it('keeps pages apart: page 1 still holds its own reg 2 after the page-0 writes', async () => {
    const d = driver();
    await d.init();
    await set(0x00, 0x01);
    const page1 = await dump();
    await set(0x00, 0x00);
    assert.equal(page1[0x00], 0x01);
    assert.equal(page1[0x02], 0xa5);
    assert.equal(page1[0x3d], 0x00, 'no volume write leaked into page 1');
  });

  it('runs the pop-free power cycle over SMBus (the stub refuses plain I2C transfers)', async () => {
    const d = driver();
    await d.init();
    await d.powerUp();
    let regs = await dump();
    assert.equal(regs[0x02], 0x00);
    assert.equal(regs[0x03], 0x00);
    await d.powerDown();
    regs = await dump();
    assert.equal(regs[0x03], 0x11);
    assert.equal(regs[0x02], 0x10);
    const poll = d.events.find((e) => e.sequence === 'powerDown' && e.step.op === 'poll')!;
    assert.equal(poll.met, true);
  });
});
