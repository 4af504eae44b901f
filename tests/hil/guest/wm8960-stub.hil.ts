/**
 * Guest only: the WM8960 driver on the real Linux i2c-dev backend, against an i2c-stub register
 * file at 0x1a (tests/hil/guest-init.sh). The adapter is SMBus-only, so each of the WM8960's
 * two-byte writes [A6..A0 D8] [D7..D0] goes out as an SMBus byte write: register R with the 9-bit
 * value V lands in the stub at byte register (R << 1) | (V >> 8), holding V & 0xFF. i2c-stub
 * models no chip (the software reset resets nothing), so every byte register is preloaded with a
 * marker (0xA5) and i2cdump (i2c-tools, the peer) shows which landed. Expected values are the
 * facts of codecs/wm8960/FACTS.md#bring-up-on-the-waveshare-hat, codecs/wm8960/FACTS.md#capture-path,
 * codecs/wm8960/FACTS.md#pll-from-a-24-mhz-clock and codecs/wm8960/FACTS.md#power-off, as literals.
 */
import assert from 'node:assert/strict';
import { Wm8960Driver } from '../../../codecs/wm8960/driver.ts';
import type { CodecContext } from '../../../src/codec/types.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { LinuxI2cBus } from '../../../src/hal/linux/i2c.ts';
import { hilEnv } from '../env.ts';
import { parseI2cdump, run } from '../peers.ts';

const env = hilEnv();
const i2c = env.i2c;
const MARK = 0xa5;

/** Where the stub keeps a WM8960 register's value: [byte register, byte]. */
const slot = (reg: number, value: number): [number, number] => [(reg << 1) | ((value >> 8) & 1), value & 0xff];

describe('WM8960 driver on i2c-stub (guest): the bring-up in the 7/9-bit packing', function () {
  let bus: LinuxI2cBus;
  const addr = () => i2c!.wm8960Addr!;
  const dump = async () => parseI2cdump(await run('i2cdump', ['-y', String(i2c!.bus), `0x${addr().toString(16)}`, 'b']));

  before(function () {
    if (env.tier !== 'guest' || !i2c || i2c.wm8960Addr === undefined) this.skip(); // reason: guest only (needs the i2c-stub register file at 0x1a)
  });
  beforeEach(async () => {
    bus = new LinuxI2cBus(i2c!.bus);
    for (let r = 0; r < 256; r++) await bus.writeByteData(addr(), r, MARK);
  });
  afterEach(() => bus.close());

  function driver(clocking: 'mclk-12m288' | 'pll-24m') {
    const clock = monotonicClock();
    const ctx: CodecContext = {
      clock, bus, addr: addr(), gpio: new Map(), options: { clocking },
      sleepMs: (ms) => clock.sleepUntilNs(clock.nowNs() + ms * 1e6),
    };
    return { d: new Wm8960Driver(ctx), clock };
  }

  /** Asserts each [register, 9-bit value] landed where the packing puts it. */
  function landed(regs: (number | undefined)[], expected: [number, number, string][]) {
    for (const [reg, value, what] of expected) {
      const [at, byte] = slot(reg, value);
      assert.equal(regs[at], byte, `R${reg} = 0x${value.toString(16).padStart(3, '0')} (${what}): byte register 0x${at.toString(16)} holds 0x${regs[at]?.toString(16)}`);
    }
  }

  it('mclk-12m288, headphone and microphone: i2cdump shows R15, R7, R4, R25, R26, R47, R34/R37, R32/R33, R0/R1, R5 and the volumes', async () => {
    const { d } = driver('mclk-12m288');
    await d.probe();
    await d.init();
    await d.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await d.setPathsInUse({ output: ['headphone'], input: ['microphone'] });
    await d.powerUp();
    const regs = await dump();
    landed(regs, [
      [15, 0x000, 'software reset'],
      [7, 0x002, 'I2S, slave, 16-bit'],
      [4, 0x000, 'SYSCLK = MCLK'],
      [25, 0x0fe, 'VMID 2×50 kΩ, VREF, AINL, AINR, ADCL, ADCR, MICB'],
      [26, 0x1e0, 'DACL, DACR, LOUT1, ROUT1'],
      [47, 0x03c, 'LMIC, RMIC, LOMIX, ROMIX'],
      [34, 0x150, 'left DAC into the output mixer (reset 0x050 | 0x100)'],
      [37, 0x150, 'right DAC into the output mixer'],
      [32, 0x108, 'left input boost (reset 0x100 | bit 3)'],
      [33, 0x108, 'right input boost'],
      [0, 0x017, 'left PGA 0 dB, unmuted'],
      [1, 0x117, 'right PGA 0 dB, unmuted, latched'],
      [5, 0x000, 'DAC soft mute off'],
      [28, 0x008, 'anti-pop off, BUFIOEN kept'],
      [10, 0x0ff, 'DAC left 0 dB'],
      [11, 0x1ff, 'DAC right 0 dB, latched'],
      [2, 0x079, 'headphone left 0 dB'],
      [3, 0x179, 'headphone right 0 dB, latched'],
      [21, 0x0c3, 'ADC left 0 dB'],
      [22, 0x1c3, 'ADC right 0 dB, latched'],
    ]);
    // The speaker path is not in use: R49 never written (both of its byte registers keep the marker), R26 has no 0x018.
    assert.deepEqual([regs[98], regs[99]], [MARK, MARK], 'R49 untouched');
    // Negative control: the PLL registers were not written with MCLK clocking.
    assert.deepEqual([104, 105, 106, 107, 108, 109, 110, 111].map((r) => regs[r]), new Array(8).fill(MARK), 'R52–R55 untouched');
  });

  it('pll-24m: R52–R55 = 0x036/0x024/0x0DD/0x02F, R26 bit 0, R4 = 0x049, after the 250 ms lock', async () => {
    const { d, clock } = driver('pll-24m');
    await d.init();
    await d.setFormat({ rate: 48000, channels: 2, bits: 32 });
    await d.setPathsInUse({ output: ['headphone'], input: [] });
    const t0 = clock.nowNs();
    await d.powerUp();
    assert.ok(clock.nowNs() - t0 >= 450e6, `power-up took ${((clock.nowNs() - t0) / 1e6).toFixed(0)} ms: VMID 100 + VREF 100 + PLL 250`);
    const regs = await dump();
    landed(regs, [
      [52, 0x036, 'PLL N'], [53, 0x024, 'PLL K'], [54, 0x0dd, 'PLL K'], [55, 0x02f, 'PLL K'],
      [26, 0x1e1, 'DACs, headphone, PLL on'],
      [4, 0x049, 'SYSCLK from the PLL'],
      [7, 0x00e, 'I2S, slave, 32-bit'],
      [25, 0x0c0, 'VMID 2×50 kΩ, VREF; no capture power'],
    ]);
  });

  it('power-down: R5 bit 3 set, R28 = 0x09C, R25 = 0, then the 600 ms discharge', async () => {
    const { d, clock } = driver('mclk-12m288');
    await d.init();
    await d.setFormat({ rate: 48000, channels: 2, bits: 16 });
    await d.setPathsInUse({ output: ['speaker'], input: [] });
    await d.powerUp();
    let regs = await dump();
    landed(regs, [[26, 0x198, 'DACs, SPKL, SPKR'], [49, 0x0f7, 'class-D outputs on (reset 0x037 | bits 7:6)']]);
    const t0 = clock.nowNs();
    await d.powerDown();
    assert.ok(clock.nowNs() - t0 >= 600e6, `power-down took ${((clock.nowNs() - t0) / 1e6).toFixed(0)} ms`);
    regs = await dump();
    landed(regs, [
      [5, 0x008, 'DAC soft mute'],
      [28, 0x09c, 'anti-pop on'],
      [25, 0x000, 'R25 = 0'],
      [26, 0x000, 'DACs and speaker drivers off'],
      [49, 0x037, 'class-D outputs off'],
    ]);
  });
});
