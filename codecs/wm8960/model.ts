/**
 * Behavioural model of the WM8960 on the simulated I2C bus, written from the chip's facts
 * (`codecs/wm8960/FACTS.md`, copied from the collected codec facts, parts 1 and 2: WM8960 and "WM8960
 * bring-up: Waveshare HAT"), independently of the driver: it imports neither the driver nor its
 * description.
 *
 * What it models:
 *  - the control interface: each write is two bytes, [A6..A0 D8] [D7..D0] (7-bit register
 *    address, 9-bit value); the chip cannot be read (a read fails loudly, and is counted);
 *  - the reset defaults (FACTS: "Reset defaults (WS 56–108)"), and R15 (any value) as the software
 *    reset that restores them;
 *  - the update latch (bit 8) of the volume pairs: a write stores that channel's new value, and
 *    both channels of the pair take their stored values together when a write carries bit 8.
 *    Pairs: R0/R1 input PGA, R2/R3 headphone, R10/R11 DAC, R21/R22 ADC, R40/R41 speaker;
 *  - the DAC volume coding (datasheet Table 15): 0x00 = digital mute, 0x01 = -127 dB, 0.5 dB steps
 *    up to 0xFF = 0 dB, which is also the reset value of [7:0];
 *  - the analog truth (`SimChip`): what the headphone (LOUT1/ROUT1) and speaker (SPK L/R) outputs
 *    carry from the registers, the I2S link and the master clock; the pops the facts warn about;
 *  - the capture side (FACTS "Capture" and "Capture path"): what the microphone input passes to
 *    the ADCs, from R25 (input PGAs, ADCs), R47 (LMIC/RMIC), R32/R33 bit 3 (input boost), the
 *    input PGA (R0/R1: bit 7 mute, [5:0] -17.25 dB + 0.75 dB a step) and the ADC volume (R21/R22);
 *  - a timeline of the volumes in effect (with the time when a clock is given), for order checks,
 *    and the time of every write (`writes[].atNs`, the board's clock once attached).
 * What it does not know (not among the facts): the headphone/speaker coding below 0x30, which of
 * R49 bits 7:6 enables which class-D channel, the class-D boost (R51), the SYSCLK/DAC divider
 * codings of R4 other than 0, the PLL other than the facts' one 24 MHz → 48 kHz setting, master
 * mode (R7 bit 6 = 1), which of R47 bits 5:4 is which microphone input, the mic boost coding
 * (R32/R33 [5:4]: a stand-in below), whether the microphones need MICB, the pop amplitude.
 * `peek` gives what was written (undefined if never written), `reg` what the chip holds.
 */
import type { Clock } from '../../src/hal/clock.ts';
import {
  type AnalogPath, type ChipAnalogState, type ChipEnvironment, DETACHED_ENVIRONMENT, type I2sFormat,
  type SimChip, type Transient, dbToLinear, silent,
} from '../../src/hal/sim/chip.ts';
import type { SimI2cDevice } from '../../src/hal/sim/i2c-device.ts';

/** Volume pairs: left register → right register. */
const PAIRS: readonly (readonly [number, number])[] = [[0, 1], [2, 3], [10, 11], [21, 22], [40, 41]];
const LATCH = 1 << 8;
const DAC_L = 10, DAC_R = 11;
const DAC_RESET = 0xff; // [7:0] after reset: 0 dB (Table 15, default)

/** FACTS "Reset defaults (WS 56–108)": registers not listed (R12–R14, R30, R31, R35, R36, R50) are left unknown (undefined). */
const RESET: ReadonlyMap<number, number> = new Map<number, number>([
  [0, 0x0a7], [1, 0x0a7], [2, 0], [3, 0], [4, 0], [5, 0x008], [6, 0], [7, 0x00a], [8, 0x1c0], [9, 0],
  [10, 0x0ff], [11, 0x0ff], [16, 0], [17, 0x07b], [18, 0x100], [19, 0x032], [20, 0], [21, 0x0c3], [22, 0x0c3],
  [23, 0x1c0], [24, 0], [25, 0], [26, 0], [27, 0], [28, 0], [29, 0], [32, 0x100], [33, 0x100], [34, 0x050],
  [37, 0x050], [38, 0], [39, 0], [40, 0], [41, 0], [42, 0x040], [43, 0], [44, 0], [45, 0x050], [46, 0x050],
  [47, 0], [48, 0x002], [49, 0x037], [51, 0x080], [52, 0x008], [53, 0x031], [54, 0x026], [55, 0x0e9],
]);
/** R15: software reset (FACTS bring-up step 1: "R15 any"). */
const R_RESET = 15;

// Bring-up table bits (FACTS "WM8960 bring-up: Waveshare HAT").
const R_HP_L = 2, R_HP_R = 3, R_SPK_L = 40, R_SPK_R = 41;
const R_DAC_CTRL = 5, SOFT_MUTE = 0x008; // step 13: R5 bit 3, resets muted
const R_IFACE = 7; // step 7: [3:2] word length 16/20/24/32, bit 6 = 0 slave, [1:0] = 2 (0x002) I2S
const R_CLOCK = 4; // step 8 / "R4 layout": bit 0 clock from the PLL, [2:1] SYSCLK div, [5:3] DAC div, [8:6] ADC div
const R_POWER1 = 25, VMID_FIELD = 0x180, VREF = 0x040; // steps 4, 5, 9
const R_POWER2 = 26, DACL = 0x100, DACR = 0x080, LOUT1 = 0x040, ROUT1 = 0x020, SPKL = 0x010, SPKR = 0x008, PLL_ON = 0x001;
const R_POWER3 = 47, LOMIX = 0x008, ROMIX = 0x004; // step 11
const R_LMIX = 34, R_RMIX = 37, DAC_TO_MIX = 0x100; // step 12
const R_CLASSD = 49, CLASSD_EN = 0x0c0; // "Speaker: … R49 bits 7:6 (class-D outputs enable)"
// Capture (FACTS "Capture path"): R25 AINL 0x020, AINR 0x010, ADCL 0x008, ADCR 0x004; R47 LMIC/RMIC 0x030;
// R32/R33 bit 3 input boost, [5:4] mic boost; R0/R1 bit 7 PGA mute, [5:0] gain; ADC volume R21/R22.
const AINL = 0x020, AINR = 0x010, ADCL = 0x008, ADCR = 0x004, MIC_PGAS = 0x030;
const R_PGA_L = 0, R_PGA_R = 1, PGA_MUTE = 0x080, R_BOOST_L = 32, R_BOOST_R = 33, INPUT_BOOST = 0x008, MIC_BOOST = 0x030;
const R_ADC_L = 21, R_ADC_R = 22;
/** The PLL setting the facts give (derived, "24 MHz clock via PLL … for 48 kHz"): R52–R55 and R4. */
const PLL_48K_FROM_24M = { mclkHz: 24_000_000, r52: 0x036, r53: 0x24, r54: 0xdd, r55: 0x2f, r4: 0x049, rate: 48_000 };

/** FACTS: "VMID 100 ms + VREF 100 ms" (pop). The driver waits 100 ms after VMID before VREF (step 4). */
const VMID_SETTLE_NS = 100e6;
/**
 * Not a chip fact: the facts warn of a pop, not its size. A stand-in loud enough for a listening
 * test to hear (a quarter of full scale).
 */
const POP_AMPLITUDE = 0.25;

const WORD_BITS = [16, 20, 24, 32]; // R7 [3:2] (FACTS step 7 / "Formats S16, S20_3, S24, S32")

export interface Wm8960ModelEvent {
  atNs: number | undefined;
  /** Left register of the pair whose volumes took effect. */
  pair: number;
  left: number;
  right: number;
}

const hex = (v: number, w = 3) => `0x${v.toString(16).toUpperCase().padStart(w, '0')}`;

export class Wm8960Model implements SimI2cDevice, SimChip {
  /** Last value written to each register (9 bits). */
  readonly written = new Map<number, number>();
  /** Volumes in effect per register (after the latch), bits [7:0]. */
  private readonly active = new Map<number, number>();
  /** Every write as (register, 9-bit value) with its time (the board's clock once attached, else `clock`): for tests. */
  readonly writes: { reg: number; value: number; atNs: number }[] = [];
  /** Volume changes that took effect, in order. */
  readonly timeline: Wm8960ModelEvent[] = [];
  /** Read attempts (the chip cannot be read) and writes that were not two bytes long. */
  readAttempts = 0;
  badWrites = 0;

  /** Stamps the timeline (optional: tests give the bus's clock). */
  clock: Pick<Clock, 'nowNs'> | undefined;

  private env: ChipEnvironment = DETACHED_ENVIRONMENT;
  /** When VMID (R25 [8:7]) last went from off to on; undefined while it is off. */
  private vmidOnAtNs: number | undefined;
  private pending: Transient[] = [];

  constructor(clock?: Pick<Clock, 'nowNs'>) {
    this.clock = clock;
    this.active.set(DAC_L, DAC_RESET);
    this.active.set(DAC_R, DAC_RESET);
  }

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  write(data: Uint8Array): void {
    if (data.length !== 2) {
      this.badWrites++;
      return;
    }
    const reg = data[0]! >> 1;
    const value = ((data[0]! & 1) << 8) | data[1]!;
    const before = this.reg(reg);
    this.writes.push({ reg, value, atNs: this.clock?.nowNs() ?? this.env.nowNs() });
    if (reg === R_RESET) {
      this.reset();
      this.written.set(reg, value);
      return;
    }
    this.written.set(reg, value);
    const pair = PAIRS.find(([l, r]) => reg === l || reg === r);
    if (pair && value & LATCH) {
      const [l, r] = pair;
      for (const x of pair) if (this.written.has(x)) this.active.set(x, this.written.get(x)! & 0xff);
      this.timeline.push({ atNs: this.clock?.nowNs(), pair: l, left: this.active.get(l) ?? -1, right: this.active.get(r) ?? -1 });
    }
    this.checkPops(reg, before ?? 0, value);
  }

  read(_length: number): Uint8Array {
    this.readAttempts++;
    throw new Error('WM8960 model: the WM8960 cannot be read over I2C (codecs/wm8960/FACTS.md)');
  }

  /** The last value written to a register (9 bits), or undefined. */
  peek(reg: number): number | undefined {
    return this.written.get(reg);
  }

  /** What the chip holds in a register: the last value written, else the reset default (undefined where the facts give none). */
  reg(reg: number): number | undefined {
    return this.written.get(reg) ?? RESET.get(reg);
  }

  /** The volume code in effect for a register of a pair (bits [7:0]), or undefined when never latched. */
  effective(reg: number): number | undefined {
    return this.active.get(reg);
  }

  /** The DAC's state now per the datasheet's coding: dB per channel, or 'mute'. */
  dac(): { left: number | 'mute'; right: number | 'mute' } {
    const db = (code: number): number | 'mute' => (code === 0 ? 'mute' : -127 + (code - 1) * 0.5);
    return { left: db(this.active.get(DAC_L)!), right: db(this.active.get(DAC_R)!) };
  }

  // ---- the analog truth ------------------------------------------------------------------------

  takeTransients(): Transient[] {
    const t = this.pending;
    this.pending = [];
    return t;
  }

  /** A volume code in effect: latched, else the reset default (FACTS: R2–R4 = 0, R10/R11 = 0x0FF, R40/R41 = 0). */
  private volume(reg: number): number {
    return this.active.get(reg) ?? (RESET.get(reg)! & 0xff);
  }

  private r(reg: number): number {
    return this.reg(reg) ?? 0;
  }

  analogState(): ChipAnalogState {
    const p1 = this.r(R_POWER1), p2 = this.r(R_POWER2);
    const softMute = (this.r(R_DAC_CTRL) & SOFT_MUTE) !== 0;
    const dacL = this.volume(DAC_L), dacR = this.volume(DAC_R);
    return {
      power: this.powerText(p1, p2),
      muted: softMute || (dacL === 0 && dacR === 0),
      gainCodes: {
        R10: dacL, R11: dacR, R2: this.volume(R_HP_L) & 0x7f, R3: this.volume(R_HP_R) & 0x7f,
        R40: this.volume(R_SPK_L) & 0x7f, R41: this.volume(R_SPK_R) & 0x7f,
      },
      outputs: { headphone: this.headphone(), speaker: this.speaker() },
      inputs: { microphone: this.microphone() },
      clockCheck: (link) => this.clockCheck(link),
    };
  }

  private powerText(p1: number, p2: number): string {
    const vmid = p1 & VMID_FIELD;
    if (vmid === 0) return p2 & (DACL | DACR | LOUT1 | ROUT1 | SPKL | SPKR) ? 'off (VMID off, blocks enabled without bias)' : 'off';
    const divider = vmid === 0x080 ? ' 2×50 kΩ' : vmid === 0x100 ? ' 2×250 kΩ' : ` [8:7] = ${vmid >> 7} (divider not among the facts)`;
    if (!(p1 & VREF)) return `vmid only (VMID${divider})`;
    const dac = p2 & (DACL | DACR), out = p2 & (LOUT1 | ROUT1 | SPKL | SPKR);
    if (!dac && !out) return `standby (VMID${divider}, VREF)`;
    if (dac && out) return 'playing';
    return dac ? 'DAC on, output drivers off' : 'output drivers on, DAC off';
  }

  /** The DAC side of one channel (left = 0): powered, unmuted, volume, routed into the output mixer. */
  private dacChannel(ch: 0 | 1): { gain: number } | { why: string } {
    const p1 = this.r(R_POWER1), p2 = this.r(R_POWER2), p3 = this.r(R_POWER3);
    const side = ch === 0 ? 'left' : 'right';
    if ((p1 & VMID_FIELD) === 0) return { why: 'VMID off (R25 [8:7] = 0)' };
    if (!(p1 & VREF)) return { why: 'VREF off (R25 bit 6)' };
    if (!(p2 & (ch === 0 ? DACL : DACR))) return { why: `${side} DAC not powered (R26 ${hex(ch === 0 ? DACL : DACR)})` };
    if (this.r(R_DAC_CTRL) & SOFT_MUTE) return { why: 'DAC soft mute (R5 bit 3; resets muted)' };
    const code = this.volume(ch === 0 ? DAC_L : DAC_R);
    if (code === 0) return { why: `${side} DAC volume code 0x00 (digital mute, R${ch === 0 ? 10 : 11})` };
    if (!(this.r(ch === 0 ? R_LMIX : R_RMIX) & DAC_TO_MIX)) return { why: `${side} DAC not routed into the output mixer (R${ch === 0 ? 34 : 37} bit 8)` };
    if (!(p3 & (ch === 0 ? LOMIX : ROMIX))) return { why: `${side} output mixer off (R47 ${hex(ch === 0 ? LOMIX : ROMIX)})` };
    // FACTS: 0x01 = -127 dB, 0.5 dB steps, 0xFF = 0 dB.
    return { gain: dbToLinear(-127 + (code - 1) * 0.5) };
  }

  /**
   * Headphone / speaker volume [6:0] (FACTS: 1 dB steps, 0x79 = 0 dB, 0x7F = +6 dB). The WM8960's
   * coding below 0x30 is unverified (FACTS): unknown, not silence by fact.
   */
  private outputLevel(code: number, reg: number): { db: number } | { why: string } {
    const c = code & 0x7f;
    if (c < 0x30) return { why: `R${reg} volume code ${hex(c, 2)} is below 0x30, where the WM8960's coding is unverified (codecs/wm8960/FACTS.md): level unknown` };
    return { db: c - 0x79 };
  }

  private path(channels: [AnalogPathPart, AnalogPathPart]): AnalogPath {
    const gains = channels.map((c) => ('gain' in c ? c.gain : 0));
    // One channel passing is a path that carries signal (silentBecause stays undefined); the other has gain 0.
    if (gains.some((g) => g > 0)) return { gains };
    const whys = channels.map((c) => ('why' in c ? c.why : ''));
    return silent(2, whys[0] === whys[1] ? whys[0]! : `left: ${whys[0]}; right: ${whys[1]}`);
  }

  private headphone(): AnalogPath {
    const p2 = this.r(R_POWER2);
    const ch = (c: 0 | 1): AnalogPathPart => {
      const dac = this.dacChannel(c);
      if ('why' in dac) return dac;
      if (!(p2 & (c === 0 ? LOUT1 : ROUT1))) return { why: `${c === 0 ? 'LOUT1' : 'ROUT1'} not powered (R26 ${hex(c === 0 ? LOUT1 : ROUT1)})` };
      const lvl = this.outputLevel(this.volume(c === 0 ? R_HP_L : R_HP_R), c === 0 ? R_HP_L : R_HP_R);
      if ('why' in lvl) return lvl;
      return { gain: dac.gain * dbToLinear(lvl.db) };
    };
    return this.path([ch(0), ch(1)]);
  }

  /**
   * The speaker: SPKL/SPKR powered (R26 0x010/0x008) and the class-D outputs enabled (R49 bits
   * 7:6). Which of bits 7:6 enables which channel is not among the facts: both set = both enabled,
   * neither = disabled, one = unknown. The speaker is taken from the output mixers as the
   * headphone is (the facts name the mixers as the DAC's way to "the output"; the speaker's own
   * source is not among them). The class-D boost (R51, reset 0x080) is not among the facts: the
   * gain here is the DAC and R40/R41 only.
   */
  private speaker(): AnalogPath {
    const p2 = this.r(R_POWER2);
    const en = this.r(R_CLASSD) & CLASSD_EN;
    const ch = (c: 0 | 1): AnalogPathPart => {
      const dac = this.dacChannel(c);
      if ('why' in dac) return dac;
      if (!(p2 & (c === 0 ? SPKL : SPKR))) return { why: `${c === 0 ? 'SPKL' : 'SPKR'} not powered (R26 ${hex(c === 0 ? SPKL : SPKR)})` };
      if (en === 0) return { why: 'class-D outputs disabled (R49 bits 7:6 = 0)' };
      if (en !== CLASSD_EN) return { why: `only one of R49 bits 7:6 is set (R49 = ${hex(this.r(R_CLASSD))}): which channel each enables is not among the facts` };
      const lvl = this.outputLevel(this.volume(c === 0 ? R_SPK_L : R_SPK_R), c === 0 ? R_SPK_L : R_SPK_R);
      if ('why' in lvl) return lvl;
      return { gain: dac.gain * dbToLinear(lvl.db) };
    };
    return this.path([ch(0), ch(1)]);
  }

  /**
   * The microphone input into the ADCs, per channel (left = 0): VMID and VREF, the input PGA and
   * the ADC powered (R25), LMIC/RMIC (R47 0x030: which bit is which is not among the facts, so
   * both set = both on, neither = off, one = unknown), the input boost (R32/R33 bit 3), the PGA
   * unmuted (R0/R1 bit 7, as latched), its gain (-17.25 dB + 0.75 dB a step) and the ADC volume
   * (0x00 = mute, 0xC3 = 0 dB, 0.5 dB steps). Not a chip fact: the mic boost [5:4] at 0 (its reset
   * value) is taken as 0 dB, a stand-in; other codes leave the level unknown (silent, with why).
   */
  private micChannel(ch: 0 | 1): AnalogPathPart {
    const p1 = this.r(R_POWER1), p3 = this.r(R_POWER3);
    const side = ch === 0 ? 'left' : 'right';
    if ((p1 & VMID_FIELD) === 0) return { why: 'VMID off (R25 [8:7] = 0)' };
    if (!(p1 & VREF)) return { why: 'VREF off (R25 bit 6)' };
    const ain = ch === 0 ? AINL : AINR, adc = ch === 0 ? ADCL : ADCR;
    if (!(p1 & ain)) return { why: `${side} input PGA not powered (R25 ${hex(ain)})` };
    if (!(p1 & adc)) return { why: `${side} ADC not powered (R25 ${hex(adc)})` };
    const mics = p3 & MIC_PGAS;
    if (mics === 0) return { why: 'LMIC/RMIC off (R47 0x030)' };
    if (mics !== MIC_PGAS) return { why: `only one of R47 bits 5:4 is set (R47 = ${hex(p3)}): which input each enables is not among the facts` };
    const boostReg = ch === 0 ? R_BOOST_L : R_BOOST_R;
    const boost = this.r(boostReg);
    if (!(boost & INPUT_BOOST)) return { why: `${side} input boost off (R${boostReg} bit 3)` };
    if (boost & MIC_BOOST) return { why: `R${boostReg} mic boost [5:4] = ${(boost & MIC_BOOST) >> 4}: its coding is not among the facts: level unknown` };
    const pgaReg = ch === 0 ? R_PGA_L : R_PGA_R;
    const pga = this.volume(pgaReg);
    if (pga & PGA_MUTE) return { why: `${side} input PGA muted (R${pgaReg} bit 7; resets muted)` };
    const adcReg = ch === 0 ? R_ADC_L : R_ADC_R;
    const adcCode = this.volume(adcReg);
    if (adcCode === 0) return { why: `${side} ADC volume code 0x00 (mute, R${adcReg})` };
    return { gain: dbToLinear(-17.25 + 0.75 * (pga & 0x3f) + (adcCode - 0xc3) * 0.5) };
  }

  private microphone(): AnalogPath {
    return this.path([this.micChannel(0), this.micChannel(1)]);
  }

  /** What the chip needs of the link and its clocks (FACTS steps 7, 8 and the PLL lines). */
  clockCheck(link: I2sFormat | undefined): string | undefined {
    const iface = this.r(R_IFACE);
    if (iface & 0x040) return `WM8960: R7 bit 6 = 1 (master mode): not among the facts (the Waveshare bring-up is slave, bit 6 = 0); cannot tell what it plays`;
    if ((iface & 0x003) !== 0x002) return `WM8960: R7 [1:0] = ${iface & 3}: only 2 (I2S, R7 = 0x002/0x00A/0x00E) is among the facts`;
    if (!link) return 'WM8960: no bit clock: the codec is an I2S slave (R7 bit 6 = 0) and needs the host\'s BCLK/LRCLK';
    const bits = WORD_BITS[(iface >> 2) & 3]!;
    if (bits !== link.bits) return `WM8960: word length ${bits}-bit (R7 [3:2] = ${(iface >> 2) & 3}) but the link carries ${link.bits}-bit words`;
    const mclk = this.env.mclkHz?.();
    const r4 = this.r(R_CLOCK);
    if (!(r4 & 1)) {
      // SYSCLK from MCLK.
      if (mclk === undefined) return 'WM8960: no master clock: R4 bit 0 = 0 takes SYSCLK from MCLK, and no MCLK runs';
      if ((r4 & 0x03e) !== 0) return `WM8960: R4 = ${hex(r4)}: its SYSCLK/DAC divider codings ([2:1], [5:3]) are not among the facts: cannot tell the rate`;
      // FACTS step 8: R4 = 0x000 = MCLK direct, 256fs.
      if (mclk !== 256 * link.rate) return `WM8960: MCLK ${mclk} Hz with R4 = 0x000 (MCLK direct, 256fs) plays ${mclk / 256} Hz, but the link runs at ${link.rate} Hz`;
      return undefined;
    }
    if (!(this.r(R_POWER2) & PLL_ON)) return 'WM8960: R4 bit 0 = 1 takes SYSCLK from the PLL, but the PLL is off (R26 bit 0)';
    if (mclk === undefined) return 'WM8960: the PLL has no reference: no MCLK runs';
    const p = PLL_48K_FROM_24M;
    if (mclk !== p.mclkHz || this.r(52) !== p.r52 || this.r(53) !== p.r53 || this.r(54) !== p.r54 || this.r(55) !== p.r55 || r4 !== p.r4) {
      return `WM8960: PLL from a ${mclk} Hz MCLK with R52–R55 = ${[52, 53, 54, 55].map((x) => hex(this.r(x))).join('/')}, R4 = ${hex(r4)}: only the facts' 24 MHz → 48 kHz setting is known: cannot tell the rate`;
    }
    if (link.rate !== p.rate) return `WM8960: the PLL setting plays ${p.rate} Hz but the link runs at ${link.rate} Hz`;
    return undefined;
  }

  // ---- pops ------------------------------------------------------------------------------------

  private pop(output: string, why: string): void {
    this.pending.push({ atNs: this.env.nowNs(), output, amplitude: POP_AMPLITUDE, why });
  }

  /** Enabled outputs (by R26) → their names. */
  private static outputsOn(p2: number): string[] {
    const out: string[] = [];
    if (p2 & (LOUT1 | ROUT1)) out.push('headphone');
    if (p2 & (SPKL | SPKR)) out.push('speaker');
    return out;
  }

  /**
   * FACTS pop line: "VMID 100 ms + VREF 100 ms": outputs enabled, or the soft mute released, less
   * than 100 ms after VMID came on pop; VMID turned off under enabled outputs pops. (The VREF
   * 100 ms is not a rule here: the vendor's bring-up enables the outputs right after VREF.)
   */
  private checkPops(reg: number, before: number, value: number): void {
    const now = this.env.nowNs();
    const unsettled = this.vmidOnAtNs !== undefined && now - this.vmidOnAtNs < VMID_SETTLE_NS;
    const since = () => `${((now - this.vmidOnAtNs!) / 1e6).toFixed(1)} ms after VMID came on (it needs 100 ms)`;
    if (reg === R_POWER1) {
      const was = before & VMID_FIELD, is = value & VMID_FIELD;
      if (!was && is) this.vmidOnAtNs = now;
      if (was && !is) {
        this.vmidOnAtNs = undefined;
        for (const o of Wm8960Model.outputsOn(this.r(R_POWER2))) this.pop(o, 'VMID turned off with the output drivers still enabled (R25 [8:7] = 0, R26 outputs on)');
      }
    } else if (reg === R_POWER2 && unsettled) {
      const newly = value & ~before;
      if (newly & (LOUT1 | ROUT1)) this.pop('headphone', `LOUT1/ROUT1 enabled ${since()}`);
      if (newly & (SPKL | SPKR)) this.pop('speaker', `speaker outputs enabled ${since()}`);
    } else if (reg === R_DAC_CTRL && unsettled && before & SOFT_MUTE && !(value & SOFT_MUTE)) {
      for (const o of Wm8960Model.outputsOn(this.r(R_POWER2))) this.pop(o, `DAC soft mute released ${since()}`);
    }
  }

  /** R15: every register back to its reset default, the volume latches too. */
  private reset(): void {
    this.written.clear();
    this.active.clear();
    this.active.set(DAC_L, DAC_RESET);
    this.active.set(DAC_R, DAC_RESET);
    this.vmidOnAtNs = undefined;
  }
}

type AnalogPathPart = { gain: number } | { why: string };
