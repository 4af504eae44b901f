/**
 * The analog truth of the WM8960, TLV320AIC3104, SGTL5000 and CS4271 models: each part is brought
 * up with the bring-up registers of the collected facts (codecs/<part>/FACTS.md), written
 * as raw bus bytes, and listened to at its outputs. Expected gains are the facts' literals (e.g.
 * WM8960 DAC 0xFF = 0 dB, 0.5 dB steps), never the models' constants or a driver's tables; each
 * missing step has its negative control.
 */
import { strict as assert } from 'node:assert';
import { Cs4271Model } from '../../codecs/cs4271/model.ts';
import { Sgtl5000Model } from '../../codecs/sgtl5000/model.ts';
import { Tlv320aic3104Model } from '../../codecs/tlv320aic3104/model.ts';
import { Wm8960Model } from '../../codecs/wm8960/model.ts';
import type { AnalogPath, ChipEnvironment, I2sFormat, SimChip } from '../../src/hal/sim/chip.ts';

const db = (x: number) => 10 ** (x / 20);
const MS = 1e6;

/** A chip's surroundings under the test's control. */
class FakeEnv implements ChipEnvironment {
  t = 0;
  l: I2sFormat | undefined;
  mclk: number | undefined;
  /** The host takes its I2S clocks from the codec (the ReSpeaker's codec-master overlay). */
  consumer: boolean;
  constructor(opts: { link?: I2sFormat; mclk?: number; consumer?: boolean } = {}) {
    this.l = opts.link;
    this.mclk = opts.mclk;
    this.consumer = opts.consumer ?? false;
  }
  hostClockConsumer(): boolean {
    return this.consumer;
  }
  nowNs(): number {
    return this.t;
  }
  link(): I2sFormat | undefined {
    return this.l;
  }
  pin(): 0 | 1 | undefined {
    return undefined;
  }
  mclkHz(): number | undefined {
    return this.mclk;
  }
  wait(ms: number): void {
    this.t += ms * MS;
  }
}

function assertGains(path: AnalogPath | undefined, expected: number[], what = '') {
  assert.ok(path, `no such path ${what}`);
  assert.equal(path.gains.length, expected.length, what);
  path.gains.forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-9, `${what} channel ${i}: gain ${g}, expected ${expected[i]} (${path.silentBecause ?? 'passes'})`));
}

function assertSilent(path: AnalogPath | undefined, why: RegExp) {
  assert.ok(path);
  assert.ok(path.gains.every((g) => g === 0), `expected silence, got gains ${path.gains.join(', ')}`);
  assert.match(path.silentBecause ?? '', why);
}

function attach<T extends SimChip>(chip: T, env: FakeEnv): T {
  chip.attachEnvironment(env);
  return chip;
}

type Step = { name: string; reg: number; value: number } | { name: string; waitMs: number };

/** Runs a bring-up: steps by name can be dropped or given another value. */
function run(steps: Step[], write: (reg: number, value: number) => void, env: FakeEnv, opts: { drop?: string[]; set?: Record<string, number> } = {}) {
  for (const s of steps) {
    if (opts.drop?.includes(s.name)) continue;
    if ('waitMs' in s) env.wait(s.waitMs);
    else write(s.reg, opts.set?.[s.name] ?? s.value);
  }
}

// ---------------------------------------------------------------------------------------------
// WM8960: writes are [A6..A0 D8] [D7..D0]; codecs/wm8960/FACTS.md, bring-up on the Waveshare HAT.

const wmWrite = (m: Wm8960Model) => (reg: number, value: number) => m.write(Uint8Array.of((reg << 1) | ((value >> 8) & 1), value & 0xff));

const WM_BRINGUP: Step[] = [
  { name: 'reset', reg: 15, value: 0x000 },
  { name: 'anti-pop on', reg: 28, value: 0x09c },
  { name: 'vmid', reg: 25, value: 0x080 },
  { name: 'vmid wait', waitMs: 100 },
  { name: 'vref', reg: 25, value: 0x0c0 },
  { name: 'anti-pop off', reg: 28, value: 0x008 },
  { name: 'iface', reg: 7, value: 0x002 }, // I2S, slave, 16-bit
  { name: 'clocking', reg: 4, value: 0x000 }, // MCLK direct, 256fs (12.288 MHz)
  { name: 'power2', reg: 26, value: 0x1e0 }, // DACL, DACR, LOUT1, ROUT1
  { name: 'mixers', reg: 47, value: 0x00c }, // LOMIX, ROMIX
  { name: 'route L', reg: 34, value: 0x050 | 0x100 }, // reset 0x050, set 0x100
  { name: 'route R', reg: 37, value: 0x050 | 0x100 },
  { name: 'unmute', reg: 5, value: 0x000 }, // R5 resets 0x008: clear bit 3
  { name: 'dac L', reg: 10, value: 0x0ff },
  { name: 'dac R', reg: 11, value: 0x1ff },
  { name: 'hp L', reg: 2, value: 0x079 },
  { name: 'hp R', reg: 3, value: 0x179 },
];
const LINK16 = { rate: 48000, channels: 2, bits: 16 };

function wm8960(opts: { drop?: string[]; set?: Record<string, number>; link?: I2sFormat | null; mclk?: number | null } = {}) {
  const env = new FakeEnv({ link: opts.link === null ? undefined : opts.link ?? LINK16, mclk: opts.mclk === null ? undefined : opts.mclk ?? 12_288_000 });
  const m = attach(new Wm8960Model(), env);
  const w = wmWrite(m);
  run(WM_BRINGUP, w, env, opts);
  return { m, env, w };
}

describe('chip analog truth: WM8960 (Waveshare bring-up)', () => {
  it('plays at 0 dB on the headphone after the bring-up (DAC 0xFF, HP 0x79), with no pop and no clock error', () => {
    const { m, env } = wm8960();
    const s = m.analogState();
    assertGains(s.outputs.headphone, [1, 1], 'headphone');
    assert.equal(s.clockCheck(env.link()), undefined);
    assert.equal(s.power, 'playing');
    assert.equal(s.muted, false);
    assert.deepEqual(m.takeTransients(), []);
    assertSilent(s.outputs.speaker, /SPKL not powered|class-D/);
  });

  it('DAC 0xF3 = -6 dB, 0x01 = -127 dB; headphone 0x7F = +6 dB, 0x73 = -6 dB; both volume pairs latch on bit 8', () => {
    const { m, w } = wm8960();
    w(10, 0x0f3);
    assertGains(m.analogState().outputs.headphone, [1, 1], 'not latched yet');
    w(11, 0x1f3);
    assertGains(m.analogState().outputs.headphone, [db(-6), db(-6)]);
    w(10, 0x001);
    w(11, 0x101);
    assertGains(m.analogState().outputs.headphone, [db(-127), db(-127)]);
    w(10, 0x0ff);
    w(11, 0x1ff);
    w(2, 0x07f);
    w(3, 0x173);
    assertGains(m.analogState().outputs.headphone, [db(6), db(-6)]);
  });

  it('DAC code 0x00 is the digital mute', () => {
    const { m, w } = wm8960();
    w(10, 0x000);
    w(11, 0x100);
    assertSilent(m.analogState().outputs.headphone, /0x00 \(digital mute/);
    assert.equal(m.analogState().muted, true);
  });

  it('headphone codes below 0x30 are unverified: silent, and says so', () => {
    const { m, w } = wm8960();
    w(2, 0x020);
    w(3, 0x120);
    assertSilent(m.analogState().outputs.headphone, /unverified/);
    // R2/R3 reset to 0: a bring-up that never sets the headphone volume is not heard either.
    assertSilent(wm8960({ drop: ['hp L', 'hp R'] }).m.analogState().outputs.headphone, /unverified/);
  });

  it('negative controls: each missing step silences the headphone', () => {
    assertSilent(wm8960({ set: { vmid: 0x000, vref: 0x040 } }).m.analogState().outputs.headphone, /VMID off/);
    assertSilent(wm8960({ set: { vref: 0x080 } }).m.analogState().outputs.headphone, /VREF off/);
    assertSilent(wm8960({ drop: ['unmute'] }).m.analogState().outputs.headphone, /soft mute/);
    assertSilent(wm8960({ set: { power2: 0x060 } }).m.analogState().outputs.headphone, /DAC not powered/);
    assertSilent(wm8960({ set: { power2: 0x180 } }).m.analogState().outputs.headphone, /LOUT1 not powered|ROUT1 not powered/);
    assertSilent(wm8960({ drop: ['mixers'] }).m.analogState().outputs.headphone, /output mixer off/);
    assertSilent(wm8960({ drop: ['route L', 'route R'] }).m.analogState().outputs.headphone, /not routed into the output mixer/);
    // One side missing: that side only.
    assertGains(wm8960({ drop: ['route L'] }).m.analogState().outputs.headphone, [0, 1]);
    assertGains(wm8960({ set: { power2: 0x1c0 } }).m.analogState().outputs.headphone, [1, 0], 'ROUT1 off');
  });

  it('the speaker: SPKL/SPKR powered (R26 0x018) and class-D enabled (R49 bits 7:6), R40/R41 0x79 = 0 dB', () => {
    const { m, w } = wm8960();
    w(26, 0x1e0 | 0x018);
    assertSilent(m.analogState().outputs.speaker, /class-D outputs disabled/);
    w(49, 0x037 | 0x0c0);
    assertSilent(m.analogState().outputs.speaker, /R40 volume code 0x00.*unverified/);
    w(40, 0x079);
    w(41, 0x179);
    assertGains(m.analogState().outputs.speaker, [1, 1], 'speaker');
    w(49, 0x037 | 0x080);
    assertSilent(m.analogState().outputs.speaker, /not among the facts/);
  });

  it('clock errors: word length, no MCLK, MCLK not 256fs, no bit clock, PLL off', () => {
    assert.match(wm8960({ set: { iface: 0x00a } }).m.analogState().clockCheck(LINK16)!, /24-bit.*16-bit/);
    assert.equal(wm8960({ set: { iface: 0x00a }, link: { rate: 48000, channels: 2, bits: 24 } }).m.analogState().clockCheck({ rate: 48000, channels: 2, bits: 24 }), undefined);
    assert.match(wm8960({ mclk: null }).m.analogState().clockCheck(LINK16)!, /no master clock|MCLK/);
    assert.match(wm8960({ mclk: 24_000_000 }).m.analogState().clockCheck(LINK16)!, /256fs/);
    assert.match(wm8960({ link: null }).m.analogState().clockCheck(undefined)!, /no bit clock/);
    assert.match(wm8960({ set: { clocking: 0x049 } }).m.analogState().clockCheck(LINK16)!, /PLL is off/);
  });

  it('the PLL setting of the facts: 24 MHz MCLK, R52–R55 = 0x036/0x24/0xDD/0x2F, R26 bit 0, R4 = 0x049 → 48 kHz', () => {
    const { m, w, env } = wm8960({ mclk: 24_000_000, drop: ['clocking'] });
    w(52, 0x036);
    w(53, 0x024);
    w(54, 0x0dd);
    w(55, 0x02f);
    w(26, 0x1e0 | 0x001);
    env.wait(250);
    w(4, 0x049);
    assert.equal(m.analogState().clockCheck(LINK16), undefined);
    assert.match(m.analogState().clockCheck({ rate: 44100, channels: 2, bits: 16 })!, /48000/);
    w(53, 0x031);
    assert.match(m.analogState().clockCheck(LINK16)!, /cannot tell the rate/);
  });

  it('pops: soft mute released 10 ms after VMID came on', () => {
    const env = new FakeEnv({ link: LINK16, mclk: 12_288_000 });
    const m = attach(new Wm8960Model(), env);
    const w = wmWrite(m);
    run(WM_BRINGUP.filter((s) => ['iface', 'clocking', 'power2', 'mixers', 'route L', 'route R', 'hp L', 'hp R'].includes(s.name)), w, env);
    assert.deepEqual(m.takeTransients(), [], 'outputs enabled with VMID off: no rule');
    env.wait(5);
    w(25, 0x080);
    env.wait(10);
    w(25, 0x0c0);
    w(5, 0x000);
    const t = m.takeTransients();
    assert.equal(t.length, 1);
    assert.equal(t[0]!.output, 'headphone');
    assert.equal(t[0]!.atNs, 15 * MS);
    assert.match(t[0]!.why, /soft mute released 10\.0 ms after VMID/);
    assert.deepEqual(m.takeTransients(), [], 'taken once');
  });

  it('pops: outputs enabled 10 ms after VMID; VMID turned off under enabled outputs', () => {
    const env = new FakeEnv({ link: LINK16, mclk: 12_288_000 });
    const m = attach(new Wm8960Model(), env);
    const w = wmWrite(m);
    w(25, 0x080);
    env.wait(10);
    w(26, 0x1e0 | 0x018);
    assert.deepEqual(m.takeTransients().map((t) => t.output), ['headphone', 'speaker']);
    env.wait(500);
    w(25, 0x000);
    const off = m.takeTransients();
    assert.deepEqual(off.map((t) => t.output), ['headphone', 'speaker']);
    assert.match(off[0]!.why, /VMID turned off/);
  });

  it('the software reset (R15) brings back the reset defaults: silent again', () => {
    const { m, w } = wm8960();
    w(15, 0x000);
    assertSilent(m.analogState().outputs.headphone, /VMID off/);
    assert.equal(m.analogState().power, 'off');
  });

  it('the microphone (FACTS capture path): R25 0x03E, R47 0x030, R32/R33 bit 3, R0/R1 bit 7 clear → PGA and ADC gains; each missing step silences it', () => {
    // PGA 0x17 = -17.25 + 23 × 0.75 = 0 dB; ADC 0xC3 = 0 dB (reset); R0/R1 latched by bit 8 on the right.
    const MIC: Step[] = [
      { name: 'inputs', reg: 25, value: 0x0c0 | 0x03e },
      { name: 'pgas', reg: 47, value: 0x030 },
      { name: 'boost L', reg: 32, value: 0x100 | 0x008 },
      { name: 'boost R', reg: 33, value: 0x100 | 0x008 },
      { name: 'pga L', reg: 0, value: 0x017 },
      { name: 'pga R', reg: 1, value: 0x117 },
    ];
    const mic = (opts: { drop?: string[]; set?: Record<string, number> } = {}) => {
      const { m, w, env } = wm8960();
      run(MIC, w, env, opts);
      return m.analogState().inputs!.microphone;
    };
    assertGains(mic(), [1, 1], 'microphone at 0 dB');
    assertGains(mic({ set: { 'pga L': 0x03f, 'pga R': 0x13f } }), [db(30), db(30)], 'PGA 0x3F = +30 dB');
    assertGains(mic({ set: { 'pga L': 0x000, 'pga R': 0x100 } }), [db(-17.25), db(-17.25)], 'PGA 0x00 = -17.25 dB');
    // The PGA resets muted (R0/R1 0x0A7: bit 7), and the bring-up's headphone path alone leaves the input off.
    assertSilent(wm8960().m.analogState().inputs!.microphone, /input PGA not powered/);
    assertSilent(mic({ drop: ['pga L', 'pga R'] }), /input PGA muted \(R0 bit 7; resets muted\)/);
    assertSilent(mic({ set: { 'pga R': 0x017 } }), /input PGA muted/); // no latch: neither side takes effect
    assertSilent(mic({ set: { inputs: 0x0c0 | 0x00c } }), /input PGA not powered \(R25 0x020\)/);
    assertSilent(mic({ set: { inputs: 0x0c0 | 0x030 } }), /ADC not powered \(R25 0x008\)/);
    assertSilent(mic({ drop: ['pgas'] }), /LMIC\/RMIC off/);
    assertSilent(mic({ set: { pgas: 0x020 } }), /not among the facts/);
    assertSilent(mic({ drop: ['boost L', 'boost R'] }), /input boost off \(R32 bit 3\)/);
    assertSilent(mic({ set: { 'boost L': 0x108 | 0x010, 'boost R': 0x108 | 0x010 } }), /mic boost \[5:4\] = 1: its coding is not among the facts/);
    assertSilent(mic({ set: { inputs: 0x040 | 0x03e } }), /VMID off/);
    // The ADC volume (R21/R22): 0x00 = mute, 0xB9 = -5 dB.
    const { m, w, env } = wm8960();
    run(MIC, w, env);
    w(21, 0x0b9);
    w(22, 0x1b9);
    assertGains(m.analogState().inputs!.microphone, [db(-5), db(-5)], 'ADC 0xB9 = -5 dB');
    w(21, 0x000);
    w(22, 0x100);
    assertSilent(m.analogState().inputs!.microphone, /ADC volume code 0x00/);
  });

  it('works bare (no environment): silent, and no master clock', () => {
    const m = new Wm8960Model();
    const s = m.analogState();
    assertSilent(s.outputs.headphone, /VMID off/);
    assert.equal(s.muted, true, 'R5 resets 0x008: soft mute');
    assert.ok(s.clockCheck({ rate: 48000, channels: 2, bits: 24 }));
  });
});

// ---------------------------------------------------------------------------------------------
// TLV320AIC3104: [reg, value]; codecs/tlv320aic3104/FACTS.md, bring-up on the ReSpeaker 2-Mic v2.

const aicWrite = (m: Tlv320aic3104Model) => (reg: number, value: number) => m.write(Uint8Array.of(reg, value));

const AIC_BRINGUP: Step[] = [
  { name: 'page', reg: 0, value: 0x00 },
  { name: 'reset', reg: 1, value: 0x80 },
  { name: 'clock input', reg: 102, value: 0x02 }, // reset 0x02 with [7:6] = [5:4] = 0: MCLK
  { name: 'pll', reg: 3, value: 0x20 }, // PLL off, Q = 4
  { name: 'codec clk', reg: 101, value: 0x01 },
  { name: 'datapath', reg: 7, value: 0x0a },
  { name: 'rate div', reg: 2, value: 0x00 },
  { name: 'master', reg: 8, value: 0xc0 },
  { name: 'iface', reg: 9, value: 0x00 }, // I2S, 16-bit
  { name: 'offset', reg: 10, value: 0x00 },
  { name: 'dac power', reg: 37, value: 0xc0 },
  { name: 'route L', reg: 47, value: 0x80 },
  { name: 'route R', reg: 64, value: 0x80 },
  { name: 'hpl', reg: 51, value: 0x09 },
  { name: 'hpr', reg: 65, value: 0x09 },
  { name: 'settle', waitMs: 50 }, // the facts: wait 50 ms after power-up
  { name: 'dac L', reg: 43, value: 0x00 },
  { name: 'dac R', reg: 44, value: 0x00 },
  { name: 'line1l', reg: 19, value: 0x04 },
  { name: 'line1r', reg: 22, value: 0x04 },
  { name: 'pga L', reg: 15, value: 0x20 },
  { name: 'pga R', reg: 16, value: 0x20 },
];

function aic3104(opts: { drop?: string[]; set?: Record<string, number>; link?: I2sFormat | null; mclk?: number | null; consumer?: boolean } = {}) {
  const env = new FakeEnv({ link: opts.link === null ? undefined : opts.link ?? LINK16, mclk: opts.mclk === null ? undefined : opts.mclk ?? 24_576_000, consumer: opts.consumer });
  const m = attach(new Tlv320aic3104Model(), env);
  const w = aicWrite(m);
  run(AIC_BRINGUP, w, env, opts);
  return { m, env, w };
}

describe('chip analog truth: TLV320AIC3104 (ReSpeaker 2-Mic v2 bring-up, codec master, 24.576 MHz)', () => {
  it('plays at 0 dB on the headphone (DAC 0x00, route 0x80, HP 0x09) and hears LINE1 through the PGA at 0x20 = 16 dB', () => {
    const { m, env } = aic3104();
    const s = m.analogState();
    assertGains(s.outputs.headphone, [1, 1], 'headphone');
    assertGains(s.inputs!.mic, [db(16), db(16)], 'mic');
    assert.equal(s.clockCheck(env.link()), undefined);
    assert.equal(s.clockCheck(undefined), undefined, 'as master the codec runs its own clocks');
    assert.equal(s.muted, false);
    assert.deepEqual(m.takeTransients(), []);
  });

  it('DAC 0x0C = -6 dB (0.5 dB steps), HP level [7:4] = 9 → +9 dB, route 0xAF = -23.5 dB (derived); other HP levels unknown', () => {
    const { m, w } = aic3104();
    w(43, 0x0c);
    w(65, 0x99);
    assertGains(m.analogState().outputs.headphone, [db(-6), db(9)]);
    w(47, 0xaf);
    assertGains(m.analogState().outputs.headphone, [db(-6 - 23.5), db(9)]);
    w(51, 0x59);
    w(65, 0x59);
    assertSilent(m.analogState().outputs.headphone, /only 0 \(0 dB\) and 9 \(9 dB\)/);
  });

  it('negative controls: HPLOUT not powered, muted, DAC muted or off, not routed, data path off', () => {
    assertGains(aic3104({ set: { hpl: 0x08 } }).m.analogState().outputs.headphone, [0, 1], 'HPLOUT off');
    assertSilent(aic3104({ set: { hpl: 0x08, hpr: 0x08 } }).m.analogState().outputs.headphone, /not powered \(reg (51|65) bit 0\)/);
    assertSilent(aic3104({ set: { hpl: 0x01, hpr: 0x01 } }).m.analogState().outputs.headphone, /muted \(reg (51|65) bit 3\)/);
    assertSilent(aic3104({ drop: ['dac L', 'dac R'] }).m.analogState().outputs.headphone, /DAC muted/);
    assertSilent(aic3104({ drop: ['dac power'] }).m.analogState().outputs.headphone, /DAC not powered/);
    assertSilent(aic3104({ drop: ['route L', 'route R'] }).m.analogState().outputs.headphone, /not routed/);
    assertSilent(aic3104({ drop: ['datapath'] }).m.analogState().outputs.headphone, /data path/);
    assertSilent(aic3104({ drop: ['line1l', 'line1r'] }).m.analogState().inputs!.mic, /ADC not powered/);
    assertSilent(aic3104({ drop: ['pga L', 'pga R'] }).m.analogState().inputs!.mic, /PGA muted/);
  });

  it('clock errors: word length, no MCLK, Q left at reset, 44.1 kHz family, wrong link rate, slave without a bit clock', () => {
    assert.match(aic3104({ set: { iface: 0x20 } }).m.analogState().clockCheck(LINK16)!, /24-bit.*16-bit/);
    assert.match(aic3104({ mclk: null }).m.analogState().clockCheck(LINK16)!, /MCLK/);
    assert.match(aic3104({ drop: ['pll'] }).m.analogState().clockCheck(LINK16)!, /96000 Hz/);
    assert.match(aic3104({ set: { datapath: 0x8a } }).m.analogState().clockCheck(LINK16)!, /fsref 44100/);
    assert.match(aic3104().m.analogState().clockCheck({ rate: 44100, channels: 2, bits: 16 })!, /48000/);
    const slave = aic3104({ set: { master: 0x00 }, link: null });
    assert.match(slave.m.analogState().clockCheck(undefined)!, /slave/);
    slave.env.l = LINK16;
    assert.equal(slave.m.analogState().clockCheck(LINK16), undefined);
  });

  it('pops: the headphone drivers powered with no clock running', () => {
    const noMclk = aic3104({ mclk: null });
    const t = noMclk.m.takeTransients();
    assert.deepEqual(t.map((x) => x.output), ['headphone', 'headphone']);
    assert.match(t[0]!.why, /HPLOUT powered with no clock running/);
    const slave = aic3104({ set: { master: 0x00 }, link: null });
    assert.equal(slave.m.takeTransients().length, 2, 'slave with no bit clock');
  });

  it('the host a clock consumer (the ReSpeaker\'s overlay): as master (reg 8 = 0xC0) the codec plays; as slave nobody drives BCLK/WCLK: a clock error', () => {
    const master = aic3104({ consumer: true });
    assert.equal(master.m.analogState().clockCheck(LINK16), undefined);
    assertGains(master.m.analogState().outputs.headphone, [1, 1]);
    const slave = aic3104({ consumer: true, drop: ['master'] });
    assert.match(slave.m.analogState().clockCheck(LINK16)!, /no clocks: the codec is a slave \(reg 8 = 0x00, not 0xC0\) and the host is a clock consumer/);
    assert.match(slave.m.analogState().clockCheck(undefined)!, /no clocks/);
    assert.equal(slave.m.takeTransients().length, 2, 'the headphone drivers powered with no clock: pops');
    // Negative control: the same registers with a host that drives the clocks play.
    assert.equal(aic3104({ drop: ['master'] }).m.analogState().clockCheck(LINK16), undefined);
  });

  it('pops: signal onto the headphone less than 50 ms after its driver was powered (the facts: wait 50 ms after power-up); none after 50 ms', () => {
    const early = aic3104({ set: {}, drop: ['settle'] });
    const t = early.m.takeTransients();
    assert.equal(t.length, 2, JSON.stringify(t));
    assert.match(t[0]!.why, /signal reached HPLOUT 0\.0 ms after it was powered \(the facts: wait 50 ms after power-up\)/);
    const env = new FakeEnv({ link: LINK16, mclk: 24_576_000 });
    const m = attach(new Tlv320aic3104Model(), env);
    run(AIC_BRINGUP.filter((s) => s.name !== 'settle'), aicWrite(m), env, { drop: ['dac L', 'dac R'] });
    env.wait(49);
    aicWrite(m)(43, 0x00);
    assert.match(m.takeTransients()[0]!.why, /HPLOUT 49\.0 ms after/);
    env.wait(1);
    aicWrite(m)(44, 0x00);
    assert.deepEqual(m.takeTransients(), [], '50 ms after: no pop');
  });

  it('the soft reset (reg 1 0x80) brings back the defaults: DAC muted (0x80) again', () => {
    const { m, w } = aic3104();
    w(1, 0x80);
    assertSilent(m.analogState().outputs.headphone, /DAC not powered|muted/);
    assert.equal(m.peek(0, 43), 0x80);
  });

  it('works bare: reset defaults from the facts, silent, no master clock', () => {
    const m = new Tlv320aic3104Model();
    assert.equal(m.peek(0, 43), 0x80);
    assert.equal(m.peek(0, 102), 0x02);
    assert.equal(m.peek(0, 19), 0x78);
    const s = m.analogState();
    assertSilent(s.outputs.headphone, /DAC not powered/);
    assert.match(s.clockCheck(LINK16)!, /MCLK/);
  });
});

// ---------------------------------------------------------------------------------------------
// SGTL5000: [addr hi, addr lo, value hi, value lo]; facts "SGTL5000 bring-up" 4–8.

const sgWrite = (m: Sgtl5000Model) => (reg: number, value: number) => m.write(Uint8Array.of(reg >> 8, reg & 0xff, value >> 8, value & 0xff));

const SG_BRINGUP: Step[] = [
  { name: 'ana power', reg: 0x0030, value: 0x7060 },
  { name: 'ana power refs', reg: 0x0030, value: 0x7060 | 0x4000 | 0x0040 | 0x0020 },
  { name: 'short ctrl', reg: 0x003c, value: 0x0000 },
  { name: 'dig power', reg: 0x0002, value: 0x0060 },
  { name: 'adcdac', reg: 0x000e, value: 0x020c },
  { name: 'adcdac 2', reg: 0x000e, value: 0x0200 },
  { name: 'clk ctrl', reg: 0x0004, value: 0x0008 },
  { name: 'i2s ctrl', reg: 0x0006, value: 0x0130 },
  { name: 'i2s in', reg: 0x0002, value: 0x0060 | 0x0001 },
  { name: 'paths', reg: 0x0030, value: 0x7060 | 0x0008 | 0x0010 | 0x0080 },
  { name: 'hp unmute', reg: 0x0024, value: 0x0111 & ~0x0010 },
  { name: 'dac vol', reg: 0x0010, value: 0x3c3c },
  { name: 'hp vol', reg: 0x0022, value: 0x1818 },
];

function sgtl5000(opts: { drop?: string[]; set?: Record<string, number>; link?: I2sFormat | null; mclk?: number | null } = {}) {
  const env = new FakeEnv({ link: opts.link === null ? undefined : opts.link ?? LINK16, mclk: opts.mclk === null ? undefined : opts.mclk ?? 12_288_000 });
  const m = attach(new Sgtl5000Model({ mclkRunning: true }), env);
  const w = sgWrite(m);
  run(SG_BRINGUP, w, env, opts);
  return { m, env, w };
}

describe('chip analog truth: SGTL5000 (48 kHz, 12.288 MHz MCLK, 16-bit)', () => {
  it('plays at 0 dB on the headphone (DAC 0x3C, HP 0x18), no clock error', () => {
    const { m, env } = sgtl5000();
    const s = m.analogState();
    assertGains(s.outputs.headphone, [1, 1], 'headphone');
    assert.equal(s.clockCheck(env.link()), undefined);
    assert.equal(s.power, 'playing');
    assertSilent(s.outputs['line-out'], /not among the facts/);
    assert.deepEqual(m.takeTransients(), []);
  });

  it('DAC 0x48 = -6 dB, 0xF0 = -90 dB; HP 0x00 = +12 dB, 0x7F = -51.5 dB; DAC >= 0xFC mute, <= 0x3B reserved', () => {
    const { m, w } = sgtl5000();
    w(0x0010, 0xf048);
    assertGains(m.analogState().outputs.headphone, [db(-6), db(-90)]);
    w(0x0010, 0x3c3c);
    w(0x0022, 0x7f00);
    assertGains(m.analogState().outputs.headphone, [db(12), db(-51.5)]);
    w(0x0010, 0xfcfc);
    assertSilent(m.analogState().outputs.headphone, /mute/);
    w(0x0010, 0x3b3b);
    assertSilent(m.analogState().outputs.headphone, /reserved/);
  });

  it('negative controls: HP muted (ANA_CTRL reset 0x0111), HP from another source, VAG/DAC/HP off, I2S in off, the bring-up bits', () => {
    assertSilent(sgtl5000({ drop: ['hp unmute'] }).m.analogState().outputs.headphone, /headphone muted/);
    assertSilent(sgtl5000({ set: { 'hp unmute': 0x0141 } }).m.analogState().outputs.headphone, /not fed from the DAC/);
    assertSilent(sgtl5000({ set: { paths: 0x7060 | 0x0008 | 0x0010 } }).m.analogState().outputs.headphone, /VAG off/);
    assertSilent(sgtl5000({ set: { paths: 0x7060 | 0x0010 | 0x0080 } }).m.analogState().outputs.headphone, /DAC not powered/);
    assertSilent(sgtl5000({ set: { paths: 0x7060 | 0x0008 | 0x0080 } }).m.analogState().outputs.headphone, /headphone driver not powered/);
    assertSilent(sgtl5000({ drop: ['i2s in'] }).m.analogState().outputs.headphone, /I2S input not powered/);
    assertSilent(sgtl5000({ drop: ['adcdac', 'adcdac 2'] }).m.analogState().outputs.headphone, /ADCDAC_CTRL/);
    assertSilent(sgtl5000({ drop: ['dig power'], set: { 'i2s in': 0x0001 } }).m.analogState().outputs.headphone, /DIG_POWER/);
  });

  it('clock errors: 16-bit I2S_CTRL with a 24-bit link, no MCLK, another MCLK, I2S_CTRL left at reset', () => {
    assert.match(sgtl5000().m.analogState().clockCheck({ rate: 48000, channels: 2, bits: 24 })!, /16-bit.*24-bit/);
    assert.match(sgtl5000({ mclk: null }).m.analogState().clockCheck(LINK16)!, /MCLK/);
    assert.match(sgtl5000({ mclk: 11_289_600 }).m.analogState().clockCheck(LINK16)!, /cannot tell the rate/);
    assert.match(sgtl5000({ drop: ['i2s ctrl'] }).m.analogState().clockCheck(LINK16)!, /I2S_CTRL 0x0010/);
    assert.match(sgtl5000({ link: null }).m.analogState().clockCheck(undefined)!, /no bit clock/);
  });

  it('pops: VAG turned back on 100 ms after it was cleared (the facts: clear it, wait 500 ms); none after 500 ms', () => {
    const { m, w, env } = sgtl5000();
    w(0x0030, 0x7060 | 0x0008 | 0x0010);
    env.wait(100);
    w(0x0030, 0x7060 | 0x0008 | 0x0010 | 0x0080);
    const t = m.takeTransients();
    assert.equal(t.length, 1);
    assert.equal(t[0]!.output, 'headphone');
    assert.match(t[0]!.why, /VAG turned on 100\.0 ms after/);
    w(0x0030, 0x7060 | 0x0008 | 0x0010);
    env.wait(500);
    w(0x0030, 0x7060 | 0x0008 | 0x0010 | 0x0080);
    assert.deepEqual(m.takeTransients(), []);
  });

  it('works bare: reset defaults from the facts, ANA_POWER unknown until written, no master clock', () => {
    const m = new Sgtl5000Model({ mclkRunning: true });
    assert.equal(m.peek(0x0024), 0x0111);
    assert.equal(m.peek(0x0022), 0x1818);
    assert.deepEqual(m.dac(), { left: 0, right: 0 }, '0x3C3C');
    m.write(Uint8Array.of(0x00, 0x00));
    assert.equal(m.read(2)[0], 0xa0, 'CHIP_ID [15:8]');
    const s = m.analogState();
    assertSilent(s.outputs.headphone, /ANA_POWER.*not written/);
    assert.match(s.clockCheck(LINK16)!, /MCLK/);
  });

  it('acknowledges its address when the board supplies MCLK', () => {
    const env = new FakeEnv({ mclk: 12_288_000 });
    const m = new Sgtl5000Model();
    assert.equal(m.acknowledges(), false);
    m.attachEnvironment(env);
    assert.equal(m.acknowledges(), true);
    env.mclk = undefined;
    assert.equal(m.acknowledges(), false);
  });
});

// ---------------------------------------------------------------------------------------------
// CS4271: [reg, value]; facts "CS4271 bring-up".

const csWrite = (m: Cs4271Model) => (reg: number, value: number) => m.write(Uint8Array.of(reg, value));

const CS_BRINGUP: Step[] = [
  { name: 'cpen+pdn', reg: 0x07, value: 0x03 },
  { name: 'power up', reg: 0x07, value: 0x02 },
  { name: 'settle', waitMs: 0.085 },
  { name: 'mode1', reg: 0x01, value: 0x01 }, // single speed, slave, MCLK 256/384/512fs, I2S
  { name: 'adcctl', reg: 0x06, value: 0x10 },
  { name: 'vola', reg: 0x04, value: 0x00 },
  { name: 'volb', reg: 0x05, value: 0x00 },
];
const LINK24 = { rate: 48000, channels: 2, bits: 24 };

function cs4271(opts: { drop?: string[]; set?: Record<string, number>; link?: I2sFormat | null; mclk?: number | null } = {}) {
  const env = new FakeEnv({ link: opts.link === null ? undefined : opts.link ?? LINK24, mclk: opts.mclk === null ? undefined : opts.mclk ?? 12_288_000 });
  const m = attach(new Cs4271Model(), env);
  const w = csWrite(m);
  run(CS_BRINGUP, w, env, opts);
  return { m, env, w };
}

describe('chip analog truth: CS4271 (slave, I2S, MCLK 256fs)', () => {
  it('plays at 0 dB on the line output (VOLA/VOLB 0x00)', () => {
    const { m, env } = cs4271();
    const s = m.analogState();
    assertGains(s.outputs['line-out'], [1, 1], 'line-out');
    assert.equal(s.clockCheck(env.link()), undefined);
    assert.equal(s.power, 'powered');
    assert.deepEqual(m.takeTransients(), []);
  });

  it('VOLA 0x06 = -6 dB (1 dB steps), 0x7F = -127 dB; bit 7 mutes a channel', () => {
    const { m, w } = cs4271();
    w(0x04, 0x06);
    w(0x05, 0x7f);
    assertGains(m.analogState().outputs['line-out'], [db(-6), db(-127)]);
    w(0x05, 0x80);
    assertGains(m.analogState().outputs['line-out'], [db(-6), 0]);
    w(0x04, 0x86);
    assertSilent(m.analogState().outputs['line-out'], /muted/);
    assert.equal(m.analogState().muted, true);
  });

  it('negative controls: left in power down (MODE2 0x03), control port never enabled (MODE2 0)', () => {
    assertSilent(cs4271({ drop: ['power up'] }).m.analogState().outputs['line-out'], /PDN/);
    assertSilent(cs4271({ drop: ['cpen+pdn', 'power up'] }).m.analogState().outputs['line-out'], /CPEN/);
  });

  it('clock errors: MODE1 left at 0, no MCLK, MCLK not 256/384/512fs, no bit clock; 16/24/32-bit words accepted', () => {
    assert.match(cs4271({ drop: ['mode1'] }).m.analogState().clockCheck(LINK24)!, /MODE1 = 0x00/);
    assert.match(cs4271({ mclk: null }).m.analogState().clockCheck(LINK24)!, /MCLK/);
    assert.match(cs4271({ mclk: 11_289_600 }).m.analogState().clockCheck(LINK24)!, /256, 384 or 512/);
    assert.match(cs4271({ link: null }).m.analogState().clockCheck(undefined)!, /no bit clock/);
    for (const mclk of [12_288_000, 18_432_000, 24_576_000]) assert.equal(cs4271({ mclk }).m.analogState().clockCheck(LINK24), undefined, `${mclk}`);
    for (const bits of [16, 24, 32]) assert.equal(cs4271().m.analogState().clockCheck({ rate: 48000, channels: 2, bits }), undefined);
  });

  it('works bare: reset MODE2 0 → control port not enabled, silent, no master clock', () => {
    const m = new Cs4271Model();
    const s = m.analogState();
    assertSilent(s.outputs['line-out'], /CPEN/);
    assert.ok(s.clockCheck(LINK24));
  });
});
