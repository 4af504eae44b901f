/**
 * Behavioural model of the TI TLV320AIC3104 on the simulated I2C bus, written from the chip's
 * facts (`codecs/tlv320aic3104/FACTS.md`, copied from the collected codec facts, parts 1 and 2:
 * TLV320AIC3104 and "TLV320AIC3104 bring-up: ReSpeaker 2-Mic v2"), independently of the driver:
 * it imports neither the driver nor its description.
 *
 * What it models:
 *  - 8-bit register pointer, 8-bit data; register 0 of each page selects the page (0 or 1; a
 *    write of another number is ignored) and reads back the current page;
 *  - the page 0 reset defaults (FACTS: "Reset defaults (old K aic3x_reg[])": 3 = 0x10, 4 = 0x04,
 *    11 = 0x01, 15/16 = 0x80, 17/18 = 0xFF, 19–24 = 0x78, 43/44 = 0x80, 51/58/65/72 = 0x04,
 *    102 = 0x02, others 0), and reg 1 bit 7 as the soft reset (bring-up "1 0x80 soft reset");
 *  - page 0 R43/R44, the DAC volume: bit 7 mutes the channel, [6:0] attenuates in 0.5 dB steps
 *    (0 = 0 dB, 0x7F = -63.5 dB);
 *  - page 0 R51/R65, the headphone level in [7:4] (0 and 9 dB are the only codes the facts name);
 *  - page 0 R15/R16, the PGA gain in [6:0] (0.5 dB steps from 0 dB);
 *  - the analog truth (`SimChip`): the 'headphone' output (HPLOUT/HPROUT) and the 'mic' input
 *    (LINE1L/R → ADC through the PGA) from the registers, the link and the master clock; the pop
 *    of powering the headphone drivers with no clock; as a slave (reg 8 = 0x00) on a board whose
 *    host is a clock consumer (the ReSpeaker's overlay: `ChipEnvironment.hostClockConsumer`), no
 *    clock at all;
 *  - the bring-up's "wait 50 ms after power-up", read modestly: signal reaching a headphone driver
 *    less than 50 ms after it was powered pops (the size is a stand-in, as below);
 *  - a timeline of the DAC state after each change, and every write with its time and whether the
 *    host's link (its PCM) ran then, for order checks.
 * What it does not know (not among the facts): page 1's reset values (0x00 here, a stand-in), the
 * headset detect's layout, the PLL's rate formula, the clock-divider codes of reg 2 other than 0,
 * Q codes 0 and 1, headphone levels 1–8 dB, the LINE1 → ADC gains other than 0 dB, the DAC data
 * path codes of reg 7 other than 0x0A, the pop amplitude. Multi-byte accesses auto-increment the
 * pointer (a stand-in as well).
 */
import {
  type AnalogPath, type ChipAnalogState, type ChipEnvironment, DETACHED_ENVIRONMENT, type I2sFormat,
  type SimChip, type Transient, dbToLinear, silent,
} from '../../src/hal/sim/chip.ts';
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const PAGE_SELECT = 0;
const PAGES = [0, 1];
const R_DAC_L = 43, R_DAC_R = 44, R_HPL = 51, R_HPR = 65, R_PGA_L = 15, R_PGA_R = 16;
/** Page 1 has no reset values among the facts: 0x00 is a stand-in tests never depend on. */
const STANDIN_RESET = 0x00;
/** FACTS "Reset defaults (old K aic3x_reg[])", page 0; "others 0". */
const PAGE0_RESET: ReadonlyMap<number, number> = new Map<number, number>([
  [3, 0x10], [4, 0x04], [11, 0x01], [15, 0x80], [16, 0x80], [17, 0xff], [18, 0xff],
  [19, 0x78], [20, 0x78], [21, 0x78], [22, 0x78], [23, 0x78], [24, 0x78],
  [43, 0x80], [44, 0x80], [51, 0x04], [58, 0x04], [65, 0x04], [72, 0x04], [102, 0x02],
]);

// Bring-up table (FACTS "TLV320AIC3104 bring-up: ReSpeaker 2-Mic v2").
const R_RESET = 1, SOFT_RESET = 0x80;
const R_RATE_DIV = 2; // 0x00 = ADC and DAC at fsref ÷ 1 ([7:4] ADC, [3:0] DAC: the nibble split is this model's reading of "ADC and DAC")
const R_PLL_A = 3, PLL_EN = 0x80; // bit 7 PLL enable, [6:3] Q, [2:0] P
const R_DATAPATH = 7, FS_44K1 = 0x80, STRAIGHT = 0x0a; // 0x0A: fsref 48 kHz, left DAC ← left, right DAC ← right
const R_IFACE_A = 8, BCLK_OUT = 0x80, WCLK_OUT = 0x40;
const R_IFACE_B = 9; // [7:6] 0 = I2S; [5:4] 0/1/2/3 = 16/20/24/32-bit
const R_DAC_POWER = 37, DACL_POWER = 0x80, DACR_POWER = 0x40; // "set 0xC0: left/right DAC power": bit 7 left, bit 6 right in the facts' order
const R_DACL_TO_HPL = 47, R_DACR_TO_HPR = 64, ROUTE = 0x80;
const HP_UNMUTE = 0x08, HP_POWER = 0x01;
const R_LINE1L_ADC = 19, R_LINE1R_ADC = 22, ADC_POWER = 0x04, LINE_DISCONNECTED = 0xf;
const R_CODEC_CLK = 101; // 0x01 = CODEC_CLK from the clock divider
const R_CLK_SRC = 102; // [7:6] clock divider input, [5:4] PLL input: 0 = MCLK

/** FACTS bring-up: "Wait 50 ms after power-up." */
const SETTLE_NS = 50e6;
/** Not a chip fact: the facts name the pop, not its size. A stand-in a listening test can hear. */
const POP_AMPLITUDE = 0.25;
const WORD_BITS = [16, 20, 24, 32];

export type DacChannelState = { muted: boolean; db: number };

type Part = { gain: number } | { why: string };
const hex = (v: number) => `0x${v.toString(16).toUpperCase().padStart(2, '0')}`;

export class Tlv320aic3104Model extends PointerRegisterDevice implements SimChip {
  readonly pages = new Map<number, Uint8Array>();
  page = 0;
  /** Every accepted write as (page, reg, value), with its time and whether the host's link (its PCM) ran then: for tests. */
  readonly writes: { page: number; reg: number; value: number; atNs: number; link: boolean }[] = [];
  /** The DAC state after every write that changed it. */
  readonly timeline: { left: DacChannelState; right: DacChannelState }[] = [];

  private env: ChipEnvironment = DETACHED_ENVIRONMENT;
  private pending: Transient[] = [];
  /** When each headphone driver (HPLOUT, HPROUT) was last powered on; undefined while off. */
  private hpPoweredAtNs: [number | undefined, number | undefined] = [undefined, undefined];

  constructor() {
    super();
    for (const p of PAGES) this.pages.set(p, new Uint8Array(256).fill(STANDIN_RESET));
    this.resetRegisters();
  }

  private resetRegisters(): void {
    const p0 = this.pages.get(0)!;
    p0.fill(0);
    for (const [r, v] of PAGE0_RESET) p0[r] = v;
    this.pages.get(1)!.fill(STANDIN_RESET);
    this.page = 0;
    this.hpPoweredAtNs = [undefined, undefined];
  }

  private log(page: number, reg: number, value: number): void {
    this.writes.push({ page, reg, value, atNs: this.env.nowNs(), link: this.env.link() !== undefined });
  }

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  /** A register as the chip holds it (page, reg). */
  peek(page: number, reg: number): number {
    if (reg === PAGE_SELECT) return this.page;
    return this.pages.get(page)![reg]!;
  }

  private dacChannel(reg: number): DacChannelState {
    const v = this.pages.get(0)![reg]!;
    return { muted: (v & 0x80) !== 0, db: 0 - (v & 0x7f) * 0.5 };
  }

  /** The DAC as the datasheet's coding reads it now. */
  dac(): { left: DacChannelState; right: DacChannelState } {
    return { left: this.dacChannel(R_DAC_L), right: this.dacChannel(R_DAC_R) };
  }

  /** Headphone level per channel in dB, or undefined for a code the facts do not name. */
  headphone(): { left: number | undefined; right: number | undefined } {
    return { left: this.hpLevel(R_HPL), right: this.hpLevel(R_HPR) };
  }

  private hpLevel(reg: number): number | undefined {
    const code = this.pages.get(0)![reg]! >> 4;
    return code === 0 ? 0 : code === 9 ? 9 : undefined;
  }

  /** PGA gain per channel in dB. */
  pga(): { left: number; right: number } {
    const p0 = this.pages.get(0)!;
    return { left: (p0[R_PGA_L]! & 0x7f) * 0.5, right: (p0[R_PGA_R]! & 0x7f) * 0.5 };
  }

  protected store(reg: number, value: number): void {
    if (reg === PAGE_SELECT) {
      if (PAGES.includes(value)) this.page = value;
      this.log(this.page, reg, value);
      return;
    }
    const page = this.page;
    const before = this.pages.get(page)![reg]!;
    this.log(page, reg, value);
    if (page === 0 && reg === R_RESET && value & SOFT_RESET) {
      // Soft reset: every register back to its default; the bit clears itself.
      this.resetRegisters();
      this.timeline.push(this.dac());
      return;
    }
    const passing = page === 0 ? ([0, 1] as const).map((ch) => 'gain' in this.hpChannel(ch)) : [];
    this.pages.get(page)![reg] = value;
    if (page !== 0) return;
    const now = this.env.nowNs();
    if (reg === R_DAC_L || reg === R_DAC_R) this.timeline.push(this.dac());
    if ((reg === R_HPL || reg === R_HPR) && value & HP_POWER && !(before & HP_POWER)) {
      this.hpPoweredAtNs[reg === R_HPL ? 0 : 1] = now;
      const why = this.clockRunning();
      if (why) this.pending.push({ atNs: now, output: 'headphone', amplitude: POP_AMPLITUDE, why: `${reg === R_HPL ? 'HPLOUT' : 'HPROUT'} powered with no clock running (${why})` });
    }
    if ((reg === R_HPL || reg === R_HPR) && !(value & HP_POWER)) this.hpPoweredAtNs[reg === R_HPL ? 0 : 1] = undefined;
    // FACTS: "wait 50 ms after power-up": signal onto a driver powered less than 50 ms ago pops.
    for (const ch of [0, 1] as const) {
      const at = this.hpPoweredAtNs[ch];
      if (passing[ch] || at === undefined || !('gain' in this.hpChannel(ch)) || now - at >= SETTLE_NS) continue;
      this.pending.push({
        atNs: now, output: 'headphone', amplitude: POP_AMPLITUDE,
        why: `signal reached ${ch === 0 ? 'HPLOUT' : 'HPROUT'} ${((now - at) / 1e6).toFixed(1)} ms after it was powered (the facts: wait 50 ms after power-up)`,
      });
    }
  }

  protected load(reg: number): number {
    return reg === PAGE_SELECT ? this.page : this.pages.get(this.page)![reg]!;
  }

  // ---- the analog truth ------------------------------------------------------------------------

  takeTransients(): Transient[] {
    const t = this.pending;
    this.pending = [];
    return t;
  }

  private r(reg: number): number {
    return this.pages.get(0)![reg]!;
  }

  /** Whether the codec drives BCLK and WCLK (reg 8 0xC0), is a slave (0x00), or neither (one of them only: not among the facts). */
  private role(): 'master' | 'slave' | 'mixed' {
    const m = this.r(R_IFACE_A) & (BCLK_OUT | WCLK_OUT);
    return m === (BCLK_OUT | WCLK_OUT) ? 'master' : m === 0 ? 'slave' : 'mixed';
  }

  /**
   * The rate the chip's clocks give, from the master clock (FACTS bring-up: reg 102 clock input =
   * MCLK, reg 3 PLL off with Q, reg 101 = 0x01, reg 7 fsref, reg 2 ÷ 1), or why it cannot run.
   * `side`: 'dac' checks reg 2 [3:0], 'adc' [7:4].
   */
  private codecRate(side: 'dac' | 'adc'): { rate: number } | { error: string } {
    const mclk = this.env.mclkHz?.();
    if (mclk === undefined) return { error: 'no master clock (MCLK) runs' };
    const src = this.r(R_CLK_SRC);
    if (src & 0xf0) return { error: `reg 102 = ${hex(src)}: a clock input other than MCLK ([7:6] and [5:4] = 0) is not among the facts` };
    const pll = this.r(R_PLL_A);
    if (pll & PLL_EN) return { error: `reg 3 = ${hex(pll)}: the PLL is on; its rate formula is not among the facts (only PLL off, fsref = MCLK / (128 × Q))` };
    if ((this.r(R_CODEC_CLK) & 0x01) !== 0x01) return { error: `reg 101 = ${hex(this.r(R_CODEC_CLK))}: CODEC_CLK not from the clock divider (0x01), and the PLL is off` };
    const q = (pll >> 3) & 0xf;
    if (q < 2) return { error: `reg 3 Q code ${q}: its divider is not among the facts` };
    const fsref = mclk / (128 * q);
    const want = this.r(R_DATAPATH) & FS_44K1 ? 44_100 : 48_000;
    if (fsref !== want) return { error: `MCLK ${mclk} Hz / (128 × Q = ${q}) = ${fsref} Hz, but reg 7 says fsref ${want} Hz` };
    const div = side === 'dac' ? this.r(R_RATE_DIV) & 0x0f : this.r(R_RATE_DIV) >> 4;
    if (div !== 0) return { error: `reg 2 = ${hex(this.r(R_RATE_DIV))}: only fsref ÷ 1 (0x00) is among the facts` };
    return { rate: fsref };
  }

  /** The host takes BCLK/WCLK from the codec (the board's overlay): a slave codec then has none. */
  private hostConsumer(): boolean {
    return this.env.hostClockConsumer?.() ?? false;
  }

  /** Why no clock runs now (for the pop rule), or undefined while one does. */
  private clockRunning(): string | undefined {
    const role = this.role();
    if (role === 'mixed') return 'reg 8 drives only one of BCLK/WCLK';
    if (role === 'slave' && this.hostConsumer()) return 'neither the codec (reg 8 = 0x00) nor the host (a clock consumer) drives BCLK/WCLK';
    const c = this.codecRate('dac');
    if ('error' in c) return c.error;
    if (role === 'slave' && !this.env.link()) return 'the codec is a slave and no bit clock runs';
    return undefined;
  }

  clockCheck(link: I2sFormat | undefined): string | undefined {
    const role = this.role();
    if (role === 'mixed') return `TLV320AIC3104: reg 8 = ${hex(this.r(R_IFACE_A))} drives only one of BCLK (0x80) / WCLK (0x40): not among the facts`;
    if (role === 'slave' && this.hostConsumer()) {
      return `TLV320AIC3104: no clocks: the codec is a slave (reg 8 = ${hex(this.r(R_IFACE_A))}, not 0xC0) and the host is a clock consumer on this board: nobody drives BCLK/WCLK`;
    }
    const c = this.codecRate('dac');
    if ('error' in c) return `TLV320AIC3104: ${c.error}`;
    if (!link) {
      // As master the codec drives BCLK/WCLK itself; with no PCM running there is nothing to play, but no clock error.
      return role === 'master' ? undefined : 'TLV320AIC3104: no bit clock: the codec is a slave (reg 8 = 0x00) and needs the host\'s BCLK/WCLK';
    }
    const iface = this.r(R_IFACE_B);
    if (iface & 0xc0) return `TLV320AIC3104: reg 9 [7:6] = ${iface >> 6}: only 0 (I2S) is among the facts`;
    const bits = WORD_BITS[(iface >> 4) & 3]!;
    if (bits !== link.bits) return `TLV320AIC3104: word length ${bits}-bit (reg 9 [5:4] = ${(iface >> 4) & 3}) but the link carries ${link.bits}-bit words`;
    if (c.rate !== link.rate) {
      return role === 'master'
        ? `TLV320AIC3104: the codec is the clock master and runs WCLK at ${c.rate} Hz, but the host expects ${link.rate} Hz`
        : `TLV320AIC3104: the codec's clocks give ${c.rate} Hz, but the link runs at ${link.rate} Hz`;
    }
    return undefined;
  }

  analogState(): ChipAnalogState {
    const d = this.dac();
    return {
      power: this.powerText(),
      muted: d.left.muted && d.right.muted,
      gainCodes: {
        R43: this.r(R_DAC_L), R44: this.r(R_DAC_R), R47: this.r(R_DACL_TO_HPL), R64: this.r(R_DACR_TO_HPR),
        R51: this.r(R_HPL) >> 4, R65: this.r(R_HPR) >> 4, R15: this.r(R_PGA_L), R16: this.r(R_PGA_R),
      },
      outputs: { headphone: this.hpPath() },
      inputs: { mic: this.micPath() },
      clockCheck: (link) => this.clockCheck(link),
    };
  }

  private powerText(): string {
    const dac = this.r(R_DAC_POWER) & (DACL_POWER | DACR_POWER);
    const hp = (this.r(R_HPL) | this.r(R_HPR)) & HP_POWER;
    const adc = (this.r(R_LINE1L_ADC) | this.r(R_LINE1R_ADC)) & ADC_POWER;
    const parts = [dac ? 'DAC on' : '', hp ? 'headphone drivers on' : '', adc ? 'ADC on' : ''].filter(Boolean);
    if (dac && hp) return adc ? 'playing and recording' : 'playing';
    return parts.length ? parts.join(', ') : 'powered down';
  }

  /**
   * DAC_L1 → HPLOUT (reg 47) / DAC_R1 → HPROUT (reg 64). FACTS: 0x80 = routed at 0 dB, and
   * Linux's 0xAF = −23.5 dB. DERIVED from those two: bit 7 routes, [6:0] attenuates 0.5 dB per
   * code (0x2F × 0.5 = 23.5). Codes above 0x2F lie beyond both known points: unknown.
   */
  private route(reg: number): { db: number } | { why: string } {
    const v = this.r(reg);
    if (!(v & ROUTE)) return { why: `DAC not routed to the headphone driver (reg ${reg} bit 7)` };
    const code = v & 0x7f;
    if (code > 0x2f) return { why: `reg ${reg} route gain code ${hex(code)}: beyond 0x2F (−23.5 dB), its level is not among the facts` };
    return { db: -0.5 * code };
  }

  private hpChannel(ch: 0 | 1): Part {
    const side = ch === 0 ? 'left' : 'right';
    if (!(this.r(R_DAC_POWER) & (ch === 0 ? DACL_POWER : DACR_POWER))) return { why: `${side} DAC not powered (reg 37 bit ${ch === 0 ? 7 : 6})` };
    if ((this.r(R_DATAPATH) & 0x7f) !== STRAIGHT) return { why: `reg 7 [6:0] = ${hex(this.r(R_DATAPATH) & 0x7f)}: the DAC data path is not 0x0A (left ← left, right ← right), the only setting among the facts` };
    const dac = this.r(ch === 0 ? R_DAC_L : R_DAC_R);
    if (dac & 0x80) return { why: `${side} DAC muted (reg ${ch === 0 ? 43 : 44} bit 7; resets muted)` };
    const route = this.route(ch === 0 ? R_DACL_TO_HPL : R_DACR_TO_HPR);
    if ('why' in route) return route;
    const name = ch === 0 ? 'HPLOUT' : 'HPROUT', hpReg = ch === 0 ? R_HPL : R_HPR;
    const hp = this.r(hpReg);
    if (!(hp & HP_POWER)) return { why: `${name} not powered (reg ${hpReg} bit 0)` };
    if (!(hp & HP_UNMUTE)) return { why: `${name} muted (reg ${hpReg} bit 3)` };
    const level = this.hpLevel(hpReg);
    if (level === undefined) return { why: `${name} level code ${hp >> 4} (reg ${hpReg} [7:4]): only 0 (0 dB) and 9 (9 dB) are among the facts` };
    return { gain: dbToLinear(-0.5 * (dac & 0x7f) + route.db + level) };
  }

  private hpPath(): AnalogPath {
    return join([this.hpChannel(0), this.hpChannel(1)]);
  }

  /**
   * LINE1L → left ADC (reg 19) / LINE1R → right ADC (reg 22): [6:3] gain (0 = 0 dB; 0xF =
   * disconnected; other codes not among the facts), bit 2 ADC power; then the PGA (reg 15/16:
   * [6:0] 0 .. 59.5 dB in 0.5 dB steps, bit 7 mute; codes above 0x77 not among the facts).
   * MICBIAS (reg 25) is not a condition here: the facts do not say the ReSpeaker's microphones need it.
   */
  private micChannel(ch: 0 | 1): Part {
    const side = ch === 0 ? 'left' : 'right';
    const lineReg = ch === 0 ? R_LINE1L_ADC : R_LINE1R_ADC, pgaReg = ch === 0 ? R_PGA_L : R_PGA_R;
    const line = this.r(lineReg);
    if (!(line & ADC_POWER)) return { why: `${side} ADC not powered (reg ${lineReg} bit 2)` };
    const g = (line >> 3) & 0xf;
    if (g === LINE_DISCONNECTED) return { why: `LINE1 not connected to the ${side} ADC (reg ${lineReg} [6:3] = 0xF)` };
    if (g !== 0) return { why: `reg ${lineReg} LINE1 gain code ${g}: only 0 (0 dB) is among the facts` };
    const pga = this.r(pgaReg);
    if (pga & 0x80) return { why: `${side} PGA muted (reg ${pgaReg} bit 7; resets muted)` };
    if ((pga & 0x7f) > 0x77) return { why: `reg ${pgaReg} PGA code ${hex(pga & 0x7f)}: above 0x77 (59.5 dB) not among the facts` };
    const clk = this.codecRate('adc');
    if ('error' in clk) return { why: `ADC not clocked: ${clk.error}` };
    return { gain: dbToLinear((pga & 0x7f) * 0.5) };
  }

  private micPath(): AnalogPath {
    return join([this.micChannel(0), this.micChannel(1)]);
  }
}

/** Two channels into a path: signal where either passes; silent with the reasons otherwise. */
function join(ch: [Part, Part]): AnalogPath {
  const gains = ch.map((c) => ('gain' in c ? c.gain : 0));
  if (gains.some((g) => g > 0)) return { gains };
  const w = ch.map((c) => ('why' in c ? c.why : ''));
  return silent(2, w[0] === w[1] ? w[0]! : `left: ${w[0]}; right: ${w[1]}`);
}
