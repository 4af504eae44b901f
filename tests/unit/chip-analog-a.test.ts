/**
 * The analog side of the chip models (sim-codec, PCM5122, PCM5102A, MAX98357A): each test drives
 * a model as a real driver (or board) would, by bus bytes or pin levels, and listens at the output.
 * Expected values are the facts' literals (codecs/<part>/FACTS.md, the sim-codec header), never
 * the model's constants or the driver's tables.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Max98357aModel } from '../../codecs/max98357a/model.ts';
import { Pcm5102aModel } from '../../codecs/pcm5102a/model.ts';
import { Pcm5122Model } from '../../codecs/pcm5122/model.ts';
import { SimCodecModel } from '../../codecs/sim-codec/model.ts';
import type { ChipAnalogState, ChipEnvironment, I2sFormat, SimChip } from '../../src/hal/sim/chip.ts';

/** A small fake board around a chip: a clock, the I2S link and the chip's pins (by role). */
function fakeEnv() {
  const s = { t: 0, link: undefined as I2sFormat | undefined, pins: {} as Record<string, 0 | 1>, oscillatorsHz: [] as number[] };
  const env: ChipEnvironment = { nowNs: () => s.t, link: () => s.link, pin: (role) => s.pins[role], oscillatorsHz: () => s.oscillatorsHz };
  return { s, env };
}

const S16_48K: I2sFormat = { rate: 48000, channels: 2, bits: 16 };
const S24_48K: I2sFormat = { rate: 48000, channels: 2, bits: 24 };
const S32_48K: I2sFormat = { rate: 48000, channels: 2, bits: 32 };
const MINUS_6_DB = 10 ** (-6 / 20);

/** What the output carries for a link: its gains if the chip can play the link, else silence. */
function heard(st: ChipAnalogState, output: string, link: I2sFormat | undefined): number[] {
  const path = st.outputs[output];
  assert.ok(path, `no output ${output}`);
  return st.clockCheck(link) === undefined ? [...path.gains] : path.gains.map(() => 0);
}

function assertGains(actual: readonly number[], expected: number[], what = 'gains'): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual} vs ${expected}`);
  actual.forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-9, `${what}[${i}] = ${g}, expected ${expected[i]}`));
}

function assertSilent(st: ChipAnalogState, output: string, why: RegExp): void {
  const path = st.outputs[output]!;
  assert.ok(path.gains.every((g) => g === 0), `${output} should be silent: ${path.gains}`);
  assert.match(path.silentBecause ?? '', why);
}

describe('chip models stay independent of their drivers', () => {
  for (const part of ['sim-codec', 'pcm5122', 'pcm5102a', 'max98357a']) {
    it(`${part}/model.ts imports neither description.ts nor driver.ts`, () => {
      const src = readFileSync(new URL(`../../codecs/${part}/model.ts`, import.meta.url), 'utf8');
      assert.doesNotMatch(src, /from '\.\/(driver|description)(\.ts)?'/);
      assert.doesNotMatch(src, /codecs\/index/);
    });
  }
});

describe('sim-codec analog side (its header is the datasheet)', () => {
  const VOL_L = 0x01, POWER = 0x03, FORMAT = 0x04, RATE = 0x05;

  /** Bring-up as a driver does it; `skip` leaves out one step. */
  function bringUp(opts: { skip?: 'power' | 'format' | 'rate' | 'volume' | 'link'; link?: I2sFormat; wlen?: number } = {}) {
    const { s, env } = fakeEnv();
    const m = new SimCodecModel();
    m.attachEnvironment(env);
    const link = opts.link ?? S16_48K;
    if (opts.skip !== 'format') m.write(Uint8Array.of(FORMAT, opts.wlen ?? 0));
    if (opts.skip !== 'rate') m.write(Uint8Array.of(RATE, Math.round(link.rate / 1000)));
    if (opts.skip !== 'volume') m.write(Uint8Array.of(VOL_L, 0x00, 0x00)); // VOL_L, then VOL_R (auto-increment)
    s.t = 1_000_000;
    if (opts.skip !== 'link') s.link = link;
    if (opts.skip !== 'power') m.write(Uint8Array.of(POWER, 0x01));
    return { m, s, link };
  }

  it('plays 0 dB on speaker and headphone after the bring-up', () => {
    const { m, link } = bringUp();
    const st = m.analogState();
    assert.equal(st.clockCheck(link), undefined);
    assertGains(heard(st, 'speaker', link), [1, 1]);
    assertGains(heard(st, 'headphone', link), [1, 1]);
    assert.equal(st.muted, false);
    assert.deepEqual(st.gainCodes, { VOL_L: 0x00, VOL_R: 0x00 });
    assert.deepEqual(m.takeTransients(), []);
  });

  it('VOL 0x0C = -6 dB; 0xFE = -127 dB; 0xFF mutes its channel only', () => {
    const { m, link } = bringUp();
    m.write(Uint8Array.of(VOL_L, 0x0c, 0x0c));
    assertGains(heard(m.analogState(), 'speaker', link), [MINUS_6_DB, MINUS_6_DB]);
    m.write(Uint8Array.of(VOL_L, 0xfe, 0xff));
    const st = m.analogState();
    assertGains(heard(st, 'headphone', link), [10 ** (-127 / 20), 0]);
    assert.equal(st.muted, false);
    m.write(Uint8Array.of(VOL_L, 0xff));
    const muted = m.analogState();
    assert.equal(muted.muted, true);
    assertSilent(muted, 'speaker', /mute/);
  });

  it('is silent at reset volume (0xFF) and with the DAC off', () => {
    assertSilent(bringUp({ skip: 'volume' }).m.analogState(), 'speaker', /mute/);
    const off = bringUp({ skip: 'power' }).m.analogState();
    assertSilent(off, 'speaker', /DAC/);
    assertSilent(off, 'headphone', /DAC/);
    assert.equal(off.power, 'powered down');
  });

  it('refuses a link whose word length is not FORMAT.WLEN (reset 16-bit vs 24-bit link)', () => {
    const { m, link } = bringUp({ skip: 'format', link: S24_48K });
    assert.match(m.analogState().clockCheck(link) ?? '', /word length/);
    assertGains(heard(m.analogState(), 'speaker', link), [0, 0]);
    const ok = bringUp({ link: S24_48K, wlen: 2 });
    assert.equal(ok.m.analogState().clockCheck(S24_48K), undefined);
    assert.equal(ok.m.analogState().clockCheck({ rate: 48000, channels: 2, bits: 32 }) !== undefined, true);
  });

  it('refuses a link whose rate is not RATE × 1000 (rounded) and a missing bit clock', () => {
    const st = bringUp().m.analogState();
    assert.match(st.clockCheck({ rate: 96000, channels: 2, bits: 16 }) ?? '', /rate/);
    assert.equal(st.clockCheck({ rate: 48000, channels: 2, bits: 16 }), undefined);
    const cd = bringUp({ link: { rate: 44100, channels: 2, bits: 16 } });
    assert.equal(cd.m.analogState().clockCheck(cd.link), undefined); // RATE 44
    assert.match(st.clockCheck(undefined) ?? '', /bit clock/);
  });

  it('pops (0.5 on both outputs) when the DAC is powered before the bit clock runs', () => {
    const { m, s } = bringUp({ skip: 'link' });
    const pops = m.takeTransients();
    assert.deepEqual(pops.map((p) => p.output).sort(), ['headphone', 'speaker']);
    for (const p of pops) {
      assert.equal(p.amplitude, 0.5);
      assert.equal(p.atNs, s.t);
      assert.match(p.why, /powered up before the bit clock ran/);
    }
    assert.deepEqual(m.takeTransients(), [], 'taken once');
  });

  it('takes the ADC input "mic" at 0 dB with POWER.ADC', () => {
    const { m } = bringUp({ skip: 'power' });
    assertSilent(m.analogState(), 'speaker', /DAC/);
    assert.match(m.analogState().inputs!.mic!.silentBecause ?? '', /ADC/);
    m.write(Uint8Array.of(POWER, 0x02));
    assertGains(m.analogState().inputs!.mic!.gains, [1, 1]);
    assert.equal(m.analogState().power, 'ADC on');
  });

  it('works bare, as an I2C device with no environment (time 0, no link)', () => {
    const m = new SimCodecModel();
    m.write(Uint8Array.of(0x00));
    assert.deepEqual([...m.read(1)], [0x5a]);
    m.write(Uint8Array.of(POWER, 0x01));
    assert.equal(m.takeTransients()[0]?.atNs, 0);
  });
});

describe('PCM5122 analog side (codecs/pcm5122/FACTS.md)', () => {
  /** A real driver's read-modify-write. */
  function update(m: Pcm5122Model, reg: number, mask: number, value: number): void {
    m.write(Uint8Array.of(reg));
    const old = m.read(1)[0]!;
    m.write(Uint8Array.of(reg, (old & ~mask) | (value & mask)));
  }

  type Step = 'reset' | 'standby' | 'wordLength' | 'ignoreSck' | 'pllRef' | 'leaveStandby' | 'unmute' | 'volume' | 'link';

  /** The bring-up of FACTS.md, "Bring-up as clock slave", for a 16-bit link; `skip` leaves out steps. */
  function bringUp(opts: { skip?: Step[]; link?: I2sFormat } = {}) {
    const skip = new Set(opts.skip ?? []);
    const link = opts.link ?? S16_48K;
    const { s, env } = fakeEnv();
    const m = new Pcm5122Model();
    m.attachEnvironment(env);
    m.write(Uint8Array.of(0x00, 0x00)); // page 0
    if (!skip.has('reset')) { m.write(Uint8Array.of(0x01, 0x11)); m.write(Uint8Array.of(0x01, 0x00)); }
    if (!skip.has('standby')) m.write(Uint8Array.of(0x02, 0x10));
    update(m, 9, 0x31, 0x00); // BCK, LRCK inputs
    update(m, 12, 0x03, 0x00); // master dividers in reset
    if (!skip.has('wordLength')) update(m, 40, 0x33, { 16: 0, 20: 1, 24: 2, 32: 3 }[link.bits]!); // I2S, word length
    m.write(Uint8Array.of(41, 0x00));
    if (!skip.has('ignoreSck')) update(m, 37, 0x0a, 0x08); // ignore missing SCK, automatic dividers
    if (!skip.has('pllRef')) m.write(Uint8Array.of(13, 0x10)); // PLL reference = BCK
    s.t = 5_000_000;
    if (!skip.has('link')) s.link = link; // the Pi starts BCK
    if (!skip.has('leaveStandby')) m.write(Uint8Array.of(0x02, 0x00));
    if (!skip.has('unmute')) m.write(Uint8Array.of(0x03, 0x00));
    if (!skip.has('volume')) m.write(Uint8Array.of(61, 0x30, 0x30));
    return { m, s, link };
  }

  it('holds the reset defaults of FACTS.md (page 0 and page 1)', () => {
    const m = new Pcm5122Model();
    const p0: [number, number][] = [[1, 0x00], [2, 0x00], [3, 0x00], [9, 0x00], [12, 0x7c], [13, 0x00], [19, 0x10], [35, 0x01],
      [37, 0x00], [40, 0x02], [42, 0x11], [43, 0x01], [61, 0x30], [62, 0x30], [63, 0x22], [65, 0x07]];
    for (const [reg, v] of p0) assert.equal(m.peek(0, reg), v, `page 0 reg ${reg}`);
    assert.equal(m.peek(1, 2), 0x00);
    assert.equal(m.peek(1, 7), 0x00);
    assert.equal(m.peek(1, 9), 0x01);
  });

  it('restores the reset defaults on page 0 reg 1 = 0x11', () => {
    const m = new Pcm5122Model();
    m.write(Uint8Array.of(40, 0x00));
    m.write(Uint8Array.of(61, 0x80, 0x80));
    m.write(Uint8Array.of(0x00, 0x01));
    m.write(Uint8Array.of(9, 0x05));
    m.write(Uint8Array.of(0x00, 0x00));
    m.write(Uint8Array.of(0x01, 0x11));
    m.write(Uint8Array.of(0x01, 0x00));
    assert.equal(m.peek(0, 40), 0x02);
    assert.equal(m.peek(0, 61), 0x30);
    assert.equal(m.peek(0, 62), 0x30);
    assert.equal(m.peek(1, 9), 0x01);
  });

  it('plays 0 dB on line-out after the bring-up, and -6 dB at volume 0x3C', () => {
    const { m, link } = bringUp();
    const st = m.analogState();
    assert.equal(st.power, 'active');
    assert.equal(st.clockCheck(link), undefined);
    assertGains(heard(st, 'line-out', link), [1, 1]);
    assert.equal(st.muted, false);
    assert.deepEqual(st.gainCodes, { DIGITAL_VOLUME_L: 0x30, DIGITAL_VOLUME_R: 0x30 });
    assert.deepEqual(m.takeTransients(), [], 'left standby with BCK running: no pop');
    m.write(Uint8Array.of(61, 0x3c, 0x3c));
    assertGains(heard(m.analogState(), 'line-out', link), [MINUS_6_DB, MINUS_6_DB]);
  });

  it('volume ends: 0x00 = +24 dB, 0xFE = -103 dB, 0xFF = mute', () => {
    const { m, link } = bringUp();
    m.write(Uint8Array.of(61, 0x00, 0xfe));
    assertGains(heard(m.analogState(), 'line-out', link), [10 ** (24 / 20), 10 ** (-103 / 20)]);
    m.write(Uint8Array.of(61, 0xff, 0xff));
    const st = m.analogState();
    assert.equal(st.muted, true);
    assertSilent(st, 'line-out', /mute/);
  });

  it('plays 24-bit words with the reset word length, no reg 40 write needed', () => {
    const { m, link } = bringUp({ skip: ['wordLength'], link: S24_48K });
    assertGains(heard(m.analogState(), 'line-out', link), [1, 1]);
  });

  it('negative: without "leave standby" it is silent, in standby', () => {
    const { m, link } = bringUp({ skip: ['leaveStandby'] });
    const st = m.analogState();
    assert.equal(st.power, 'standby');
    assertSilent(st, 'line-out', /standby/);
    assertGains(heard(st, 'line-out', link), [0, 0]);
  });

  it('negative: powerdown (RQPD) is silent', () => {
    const { m } = bringUp();
    m.write(Uint8Array.of(0x02, 0x01));
    assert.equal(m.analogState().power, 'powerdown');
    assertSilent(m.analogState(), 'line-out', /powerdown/);
  });

  it('negative: reg 40 left at the reset 24-bit word length refuses a 16-bit link', () => {
    const { m, link } = bringUp({ skip: ['wordLength'] });
    assert.match(m.analogState().clockCheck(link) ?? '', /word length/);
    assertGains(heard(m.analogState(), 'line-out', link), [0, 0]);
  });

  it('negative: reg 13 left at SCK (reset) has no clock on a board without SCK', () => {
    const { m, link } = bringUp({ skip: ['pllRef'] });
    assert.match(m.analogState().clockCheck(link) ?? '', /SCK missing/);
    assertGains(heard(m.analogState(), 'line-out', link), [0, 0]);
  });

  it('negative: reg 37 bit 3 not set (missing SCK not ignored) has no clock', () => {
    const { m, link } = bringUp({ skip: ['ignoreSck'] });
    assert.match(m.analogState().clockCheck(link) ?? '', /SCK/);
  });

  it('negative: no bit clock is a clock error', () => {
    const { m } = bringUp();
    assert.match(m.analogState().clockCheck(undefined) ?? '', /bit clock/);
  });

  it('negative: soft mute (reg 3, no unmute) is silent; RQML alone mutes the left channel only', () => {
    const { m, link } = bringUp({ skip: ['reset', 'unmute'] });
    m.write(Uint8Array.of(0x03, 0x11));
    const st = m.analogState();
    assert.equal(st.muted, true);
    assertSilent(st, 'line-out', /mute/);
    m.write(Uint8Array.of(0x03, 0x10));
    assertGains(heard(m.analogState(), 'line-out', link), [0, 1]);
    assert.equal(m.analogState().muted, false);
  });

  it('negative: master mode (reg 9 BCKO/LRKO) with no oscillator selected has no SCK', () => {
    const { m, link } = bringUp();
    update(m, 9, 0x31, 0x11);
    assert.match(m.analogState().clockCheck(link) ?? '', /SCK missing as clock master: no oscillator selected/);
  });

  it('leaves an analog gain other than the reset value unknown: silent', () => {
    const { m } = bringUp();
    m.write(Uint8Array.of(0x00, 0x01));
    m.write(Uint8Array.of(0x02, 0x01));
    m.write(Uint8Array.of(0x00, 0x00));
    assertSilent(m.analogState(), 'line-out', /analog gain setting not among the facts/);
  });

  it('pops when leaving standby while no bit clock runs', () => {
    const { m, s, link } = bringUp({ skip: ['link'] });
    const pops = m.takeTransients();
    assert.equal(pops.length, 1);
    assert.equal(pops[0]!.output, 'line-out');
    assert.equal(pops[0]!.atNs, s.t);
    assert.ok(pops[0]!.amplitude > 0);
    assert.match(pops[0]!.why, /standby/);
    // The state itself is playable once the clock comes.
    assertGains(heard(m.analogState(), 'line-out', link), [1, 1]);
  });

  it('gives a clock check for the registers as they were (a snapshot)', () => {
    const { m, link } = bringUp();
    const before = m.analogState();
    m.write(Uint8Array.of(40, 0x02)); // 24-bit
    assert.equal(before.clockCheck(link), undefined);
    assert.match(m.analogState().clockCheck(link) ?? '', /word length/);
  });
});

describe('PCM5122 as clock master (codecs/pcm5122/FACTS.md#clock-master-hifiberry-dac-pro)', () => {
  const DAC_PRO_OSCILLATORS = [24_576_000, 22_579_200];
  function update(m: Pcm5122Model, reg: number, mask: number, value: number): void {
    m.write(Uint8Array.of(reg));
    const old = m.read(1)[0]!;
    m.write(Uint8Array.of(reg, (old & ~mask) | (value & mask)));
  }
  const read = (m: Pcm5122Model, reg: number) => { m.write(Uint8Array.of(reg)); return m.read(1)[0]!; };

  type Step = 'gpios' | 'oscillator' | 'master' | 'dividersRun' | 'dividers' | 'leaveStandby';

  /**
   * The facts' DAC+ Pro bring-up by bytes: GPIO3/GPIO6 outputs from reg 86 (reg 8 |= 0x24, regs
   * 82/85 = 0x02), the oscillator (reg 86 under 0x24: 0x04 = 24.576 MHz, 0x20 = 22.5792 MHz),
   * master (reg 9 under 0x31 = 0x11, reg 12 under 0x03 = 0x03, reg 37 = 0x7B, reg 4 bit 0 = 0,
   * reg 14 = 0x30), the word length, the dividers between reg 19 = 1 and 0 (27 = 0, 28 = 3, 29 = 3,
   * 30 = 7, 32 = 15 / 7 for S32, 33 = 31 / 63 for S32, 35/36 = 0x02/0x00, 34 = 0), leave standby, unmute.
   */
  function bringUpMaster(o: { link?: I2sFormat; osc?: number; oscillatorsHz?: number[]; skip?: Step[]; dividersFor?: 16 | 32 } = {}) {
    const skip = new Set(o.skip ?? []);
    const link = o.link ?? S16_48K;
    const { s, env } = fakeEnv();
    s.oscillatorsHz = o.oscillatorsHz ?? DAC_PRO_OSCILLATORS;
    const m = new Pcm5122Model();
    m.attachEnvironment(env);
    m.write(Uint8Array.of(0x00, 0x00));
    m.write(Uint8Array.of(0x01, 0x11));
    m.write(Uint8Array.of(0x01, 0x00));
    m.write(Uint8Array.of(0x02, 0x10));
    if (!skip.has('gpios')) {
      update(m, 8, 0x24, 0x24);
      m.write(Uint8Array.of(82, 0x02));
      m.write(Uint8Array.of(85, 0x02));
    }
    if (!skip.has('oscillator')) update(m, 86, 0x24, o.osc ?? (link.rate === 44100 ? 0x20 : 0x04));
    if (!skip.has('master')) {
      update(m, 9, 0x31, 0x11);
      if (!skip.has('dividersRun')) update(m, 12, 0x03, 0x03);
      m.write(Uint8Array.of(37, 0x7b));
      update(m, 4, 0x01, 0x00);
      m.write(Uint8Array.of(14, 0x30));
    }
    update(m, 40, 0x33, { 16: 0, 20: 1, 24: 2, 32: 3 }[link.bits]!);
    if (!skip.has('dividers')) {
      const s32 = (o.dividersFor ?? link.bits) === 32;
      m.write(Uint8Array.of(19, 0x01));
      for (const [reg, v] of [[27, 0], [28, 3], [29, 3], [30, 7], [32, s32 ? 7 : 15], [33, s32 ? 63 : 31], [35, 0x02], [36, 0x00], [34, 0]]) {
        m.write(Uint8Array.of(reg!, v!));
      }
      m.write(Uint8Array.of(19, 0x00));
    }
    s.t = 5_000_000;
    // No host link yet: as clock master the chip's own BCK runs when standby is left.
    if (!skip.has('leaveStandby')) m.write(Uint8Array.of(0x02, 0x00));
    m.write(Uint8Array.of(0x03, 0x00));
    s.link = link;
    return { m, s, link };
  }

  it('plays 0 dB at 48 kHz in 16- and 32-bit and at 44.1 kHz, leaving standby with no host clock and no pop', () => {
    for (const link of [S16_48K, S32_48K, { rate: 44100, channels: 2, bits: 16 }, { rate: 44100, channels: 2, bits: 32 }]) {
      const { m } = bringUpMaster({ link });
      const st = m.analogState();
      assert.equal(st.clockCheck(link), undefined, `${link.rate} Hz ${link.bits}-bit`);
      assertGains(heard(st, 'line-out', link), [1, 1]);
      assert.deepEqual(m.takeTransients(), [], 'its own BCK ran when standby was left');
    }
  });

  it('reg 94 bit 6 (SCK missing): 1 with no oscillator selected, 0 with a fitted one, 1 with one not fitted', () => {
    const pro = bringUpMaster({ skip: ['oscillator', 'master', 'dividers', 'leaveStandby'] }).m;
    assert.equal(read(pro, 94) & 0x40, 0x40, 'none selected');
    update(pro, 86, 0x24, 0x04);
    assert.equal(read(pro, 94) & 0x40, 0x00, '24.576 MHz selected');
    update(pro, 86, 0x24, 0x20);
    assert.equal(read(pro, 94) & 0x40, 0x00, '22.5792 MHz selected');
    const standard = bringUpMaster({ oscillatorsHz: [], skip: ['oscillator', 'master', 'dividers', 'leaveStandby'] }).m;
    update(standard, 86, 0x24, 0x04);
    assert.equal(read(standard, 94) & 0x40, 0x40, 'no oscillator fitted (DAC+ standard)');
    const notOutputs = bringUpMaster({ skip: ['gpios', 'oscillator', 'master', 'dividers', 'leaveStandby'] }).m;
    update(notOutputs, 86, 0x24, 0x04);
    assert.equal(read(notOutputs, 94) & 0x40, 0x40, 'GPIO3 not an output driven from reg 86: nothing selected');
  });

  it('negative: no oscillator fitted → SCK missing, silence, and leaving standby pops', () => {
    const { m, link } = bringUpMaster({ oscillatorsHz: [] });
    assert.match(m.analogState().clockCheck(link) ?? '', /SCK missing as clock master: the 24.576 MHz oscillator GPIO3 selects is not fitted/);
    assertGains(heard(m.analogState(), 'line-out', link), [0, 0]);
    assert.equal(m.takeTransients().length, 1);
  });

  it('negative: the 16-bit dividers (32 BCK per frame) for a 32-bit link, the 48 kHz oscillator for 44.1 kHz', () => {
    const wrongBck = bringUpMaster({ link: S32_48K, dividersFor: 16 });
    assert.match(wrongBck.m.analogState().clockCheck(S32_48K) ?? '', /32 BCK per frame, but the link carries 2 × 32-bit words/);
    const cd = { rate: 44100, channels: 2, bits: 16 };
    const wrongOsc = bringUpMaster({ link: cd, osc: 0x04 });
    assert.match(wrongOsc.m.analogState().clockCheck(cd) ?? '', /the chip's clocks give 48000.0 Hz .* but the stream is 44100 Hz/);
  });

  it('negative: master dividers held in reset (reg 12), dividers left at reset, clocks halted', () => {
    const held = bringUpMaster({ skip: ['dividersRun'] });
    assert.match(held.m.analogState().clockCheck(held.link) ?? '', /dividers held in reset \(page 0 reg 12/);
    const reset = bringUpMaster({ skip: ['dividers'] });
    assert.match(reset.m.analogState().clockCheck(reset.link) ?? '', /reg 28 = 0x00 \(not 0x03\).*not the facts' divider set/);
    const halted = bringUpMaster();
    halted.m.write(Uint8Array.of(19, 0x01));
    assert.match(halted.m.analogState().clockCheck(halted.link) ?? '', /clocks halted/);
  });

  it('the LED on GPIO4: reg 8 bit 3, reg 83 = 0x02, reg 86 bit 3', () => {
    const { m } = bringUpMaster();
    assert.equal(m.led, false);
    update(m, 8, 0x08, 0x08);
    m.write(Uint8Array.of(83, 0x02));
    assert.equal(m.led, false, 'not yet driven high');
    update(m, 86, 0x08, 0x08);
    assert.equal(m.led, true);
  });
});

describe('PCM5102A analog side (codecs/pcm5102a/FACTS.md: pins only)', () => {
  function chip(pins: Record<string, 0 | 1> = {}) {
    const { s, env } = fakeEnv();
    s.pins = pins;
    const m: SimChip = new Pcm5102aModel();
    m.attachEnvironment(env);
    return { m, s };
  }

  it('plays at full scale with XSMT high (mute line 0), and where the board ties XSMT', () => {
    for (const pins of [{ mute: 0 }, {}] as Record<string, 0 | 1>[]) {
      const st = chip(pins).m.analogState();
      assertGains(heard(st, 'line-out', S32_48K), [1, 1]);
      assert.equal(st.muted, false);
    }
  });

  it('negative: XSMT low (mute line 1) is a soft mute', () => {
    const { m, s } = chip({ mute: 1 });
    const st = m.analogState();
    assert.equal(st.muted, true);
    assertSilent(st, 'line-out', /mute/);
    s.pins.mute = 0;
    assertGains(heard(m.analogState(), 'line-out', S16_48K), [1, 1]);
  });

  it('plays 16/24/32-bit links at 8-192 kHz and nothing else', () => {
    const st = chip().m.analogState();
    for (const bits of [16, 24, 32]) for (const rate of [8000, 44100, 192000]) {
      assert.equal(st.clockCheck({ rate, channels: 2, bits }), undefined, `${bits}-bit ${rate} Hz`);
    }
    assert.match(st.clockCheck(undefined) ?? '', /bit clock/);
    assert.match(st.clockCheck({ rate: 48000, channels: 2, bits: 20 }) ?? '', /word length/);
    assert.match(st.clockCheck({ rate: 384000, channels: 2, bits: 32 }) ?? '', /rate/);
    assert.match(st.clockCheck({ rate: 4000, channels: 2, bits: 16 }) ?? '', /rate/);
    assert.deepEqual(chip().m.takeTransients(), []);
  });
});

describe('MAX98357A analog side (codecs/max98357a/FACTS.md: pins only)', () => {
  function chip(pins: Record<string, 0 | 1> = {}) {
    const { s, env } = fakeEnv();
    s.pins = pins;
    const m: SimChip = new Max98357aModel();
    m.attachEnvironment(env);
    return { m, s };
  }

  it('plays (L+R)/2 on the speaker with SD_MODE high', () => {
    const st = chip({ 'amp-enable': 1 }).m.analogState();
    assert.equal(st.power, 'active');
    assertGains(heard(st, 'speaker', S16_48K), [0.5, 0.5]);
    assert.equal(st.outputs.speaker!.monoMix, true);
  });

  it('negative: SD_MODE low is shutdown, silent', () => {
    const { m, s } = chip({ 'amp-enable': 0 });
    const st = m.analogState();
    assert.equal(st.power, 'shutdown');
    assertSilent(st, 'speaker', /shutdown \(SD_MODE low\)/);
    s.pins['amp-enable'] = 1;
    assertGains(heard(m.analogState(), 'speaker', S16_48K), [0.5, 0.5]);
  });

  it('plays 16/24/32-bit links at 8-96 kHz and nothing else', () => {
    const st = chip({ 'amp-enable': 1 }).m.analogState();
    for (const bits of [16, 24, 32]) for (const rate of [8000, 48000, 96000]) {
      assert.equal(st.clockCheck({ rate, channels: 2, bits }), undefined, `${bits}-bit ${rate} Hz`);
    }
    assert.match(st.clockCheck(undefined) ?? '', /bit clock/);
    assert.match(st.clockCheck({ rate: 48000, channels: 2, bits: 20 }) ?? '', /word length/);
    assert.match(st.clockCheck({ rate: 192000, channels: 2, bits: 16 }) ?? '', /rate/);
  });
});
