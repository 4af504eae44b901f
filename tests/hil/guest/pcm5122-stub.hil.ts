/**
 * Guest only: the PCM5122 driver on the real Linux i2c-dev backend, against an i2c-stub chip at
 * 0x4d banked by page (tests/hil/guest-init.sh: page select in register 0, registers 1..0x7f
 * banked). The peer is i2c-tools (busybox): i2cset prepares the chip, i2cdump shows what landed.
 *
 * i2c-stub models no chip behaviour: the analog mute detect (page 0 reg 108) reads as written,
 * so it is preloaded with 0 (muted) and the power-down poll settles at once.
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
