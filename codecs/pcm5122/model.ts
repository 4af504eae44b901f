/**
 * Behavioural model of the TI PCM5122 on the simulated I2C bus, written from the chip's facts
 * (codecs/pcm5122/FACTS.md), independently of the driver: it does not import the driver's
 * register map, so a wrong address in one is caught by the other.
 *
 * The bus side:
 *  - 8-bit register pointer, 8-bit data; register 0 of every page is the page select
 *    (pages 0, 1 and 44 exist; a write of another page number is ignored) (FACTS.md, "Bus and pages");
 *  - reset values from FACTS.md, "Reset defaults" (page 0 and page 1 lists). A register those lists
 *    do not name starts at 0x00 here, a stand-in: its reset value is not among the facts, and no
 *    test may depend on it. Page 44 has no listed defaults: all stand-ins;
 *  - page 0 reg 1 bit 0 (reset registers) restores those values on pages 0, 1 and 44 (FACTS.md,
 *    "Bring-up as clock slave": 0x11 then 0x00). Whether the bit clears itself is not among the
 *    facts: reg 1 keeps the byte written until the release write. Bit 4 (reset modules) has no
 *    register effect here;
 *  - page 0 reg 108, the analog mute detect: read-only and volatile; bits [1:0] are set while the
 *    outputs play and read 0 once both channels are in analog mute (FACTS.md, "Pop"). The soft-mute
 *    ramp is modelled as a number of reads (`settleReads`) before the bits follow a mute or unmute
 *    request: the real ramp time is not among the facts, and the driver's only contract is to poll
 *    until it settles. It follows reg 2 and reg 3 only, not the clocks.
 *  - Multi-byte accesses auto-increment the pointer (a stand-in: the chip's auto-increment rule is
 *    not among the facts).
 *
 * The analog side (`SimChip`), output 'line-out' (stereo), from the registers and the I2S link:
 *  - power: page 0 reg 2, RQPD bit 0 → 'powerdown', else RQST bit 4 → 'standby', else 'active'
 *    (FACTS.md, "Mute and standby"); silent unless active;
 *  - soft mute: page 0 reg 3, RQML bit 4 (left), RQMR bit 0 (right), per channel;
 *  - digital volume: page 0 reg 61 (left) / 62 (right): 0x00 = +24 dB, 0x30 = 0 dB, 0.5 dB steps,
 *    0xFE = -103 dB, 0xFF = mute (FACTS.md, "Volume"). Reg 60 [1:0] links left and right, but the
 *    facts do not say which code does what: at its reset value 0 each register acts on its own
 *    channel (as the bring-up writes both); any other value makes the output unknown → silent;
 *  - analog gain page 1 reg 2 (0 / -6 dB) and boost page 1 reg 7 (0 / +0.8 dB) (FACTS.md, "Analog
 *    gain"): their bit layouts are not among the facts. The reset value 0x00 is taken as the 0 dB
 *    setting; any other value is unknown → silent, 'analog gain setting not among the facts';
 *  - clocks (FACTS.md, "Bring-up as clock slave"; `clockCheck`): BCK/LRCK must be inputs (reg 9
 *    bits 4, 0 clear; master mode, the DAC+ Pro's, is not modelled); reg 19 bit 0 halts the
 *    clocks; a bit clock must run; the PLL reference reg 13 [6:4] must be BCK (1): the boards
 *    modelled here (DAC+ standard, IQaudio DAC+, Pro in slave mode) give the chip no SCK, so SCK
 *    (0) is "SCK missing", and GPIO (3) is not modelled; reg 37 bit 3 must be set (ignore missing
 *    SCK) and bit 1 clear (automatic dividers; manual dividers are not modelled); reg 40 [5:4] must
 *    be 0 (I2S: the simulated link is I2S) and reg 40 [1:0] (0/1/2/3 = 16/20/24/32-bit; reset 2)
 *    must equal the link's word length; the rate must be within 8-384 kHz ("Formats and rates");
 *  - pop: leaving standby (reg 2 RQST 1 → 0, RQPD 0) while no bit clock runs: the facts say to
 *    leave standby once BCK runs. The size of that pop is not among the facts: full scale (1.0)
 *    stands in, so that no test can miss it.
 * Not modelled (not among the facts, or not the output's level): the filters (reg 43), auto mute,
 * the DAC routing, de-emphasis, the GPIOs and the Pro's oscillators, the volume ramp.
 */
import { DETACHED_ENVIRONMENT, dbToLinear, silent } from '../../src/hal/sim/chip.ts';
import type { AnalogPath, ChipAnalogState, ChipEnvironment, I2sFormat, SimChip, Transient } from '../../src/hal/sim/chip.ts';
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const PAGE_SELECT = 0;
const PAGES = [0, 1, 44];
const REG_RESET = 1, REG_POWER = 2, REG_MUTE = 3, REG_ANALOG_MUTE_DET = 108;
const RQST = 1 << 4, RQPD = 1 << 0, RQML = 1 << 4, RQMR = 1 << 0;
const RESET_REGISTERS = 1 << 0;
const REG_BCK_LRCK_DIR = 9, BCKO = 1 << 4, LRKO = 1 << 0;
const REG_PLL_REF = 13, REG_CLOCK_HALT = 19, HALT = 1 << 0;
const REG_ERROR_DETECT = 37, IGNORE_MISSING_SCK = 1 << 3, MANUAL_DIVIDERS = 1 << 1;
const REG_FORMAT = 40;
const REG_VOLUME_LINK = 60, REG_VOL_L = 61, REG_VOL_R = 62, VOL_MUTE = 0xff;
const P1_ANALOG_GAIN = 2, P1_ANALOG_BOOST = 7;
/** Reg 40 [1:0] → word length. */
const WORD_LENGTH = [16, 20, 24, 32] as const;
const AUDIO_FORMAT = ['I2S', 'DSP', 'right-justified', 'left-justified'] as const;
const PLL_REFERENCE: Record<number, string> = { 0: 'SCK', 1: 'BCK', 3: 'GPIO' };
const MIN_RATE = 8000, MAX_RATE = 384000;
/** A register whose reset value is not among the facts. */
const STANDIN_RESET = 0x00;

/** FACTS.md, "Reset defaults" (K pcm512x_reg_defaults): [register(s), value]. */
const RESET_DEFAULTS: Record<number, [number | [number, number], number][]> = {
  0: [
    [1, 0x00], [2, 0x00], [3, 0x00], [7, 0x00], [9, 0x00], [13, 0x00], [14, 0x00], [16, 0x00], [18, 0x00],
    [12, 0x7c], [19, 0x10], [[20, 24], 0x00], [[27, 30], 0x00], [[32, 34], 0x00], [35, 0x01], [36, 0x00],
    [37, 0x00], [40, 0x02], [41, 0x00], [42, 0x11], [43, 0x01], [44, 0x00], [59, 0x00], [60, 0x00],
    [61, 0x30], [62, 0x30], [63, 0x22], [64, 0x00], [65, 0x07],
  ],
  1: [[1, 0x00], [2, 0x00], [5, 0x00], [6, 0x00], [7, 0x00], [8, 0x00], [9, 0x01]],
  44: [],
};

function resetPage(page: number): Uint8Array {
  const regs = new Uint8Array(256).fill(STANDIN_RESET);
  for (const [at, value] of RESET_DEFAULTS[page] ?? []) {
    const [from, to] = typeof at === 'number' ? [at, at] : at;
    regs.fill(value, from, to + 1);
  }
  return regs;
}

/** Linear gain of a digital volume code: 0x00 = +24 dB, 0x30 = 0 dB, -0.5 dB a step, 0xFF = mute. */
function volumeGain(code: number): number {
  return code === VOL_MUTE ? 0 : dbToLinear(24 - 0.5 * code);
}

const hex = (v: number) => `0x${v.toString(16).padStart(2, '0').toUpperCase()}`;

export interface Pcm5122ModelOptions {
  /** Reg 108 follows a mute/unmute request on this read after the request (default 3). */
  settleReads?: number;
  /** Fault: the analog mute detect never changes (the driver's poll must time out, bounded). */
  stuckAnalogMute?: boolean;
}

export class Pcm5122Model extends PointerRegisterDevice implements SimChip {
  readonly pages = new Map<number, Uint8Array>();
  page = 0;
  /** Bits [1:0] of reg 108 as the chip reports them now. */
  private analogActive = 0;
  /** Reads left before reg 108 follows the target; undefined when no ramp is under way. */
  private ramp: number | undefined;
  private readonly settleReads: number;
  private readonly stuck: boolean;
  /** Every write the model accepted, as (page, reg, value): for tests. */
  readonly writes: { page: number; reg: number; value: number }[] = [];
  private env: ChipEnvironment = DETACHED_ENVIRONMENT;
  private transients: Transient[] = [];

  constructor(opts: Pcm5122ModelOptions = {}) {
    super();
    this.settleReads = opts.settleReads ?? 3;
    this.stuck = opts.stuckAnalogMute ?? false;
    this.reset();
  }

  reset(): void {
    this.resetRegisters();
    this.page = 0;
    this.pointer = 0;
    this.analogActive = 0;
    this.ramp = undefined;
  }

  private resetRegisters(): void {
    for (const p of PAGES) this.pages.set(p, resetPage(p));
  }

  /** A register as the chip holds it (page, reg): for tests. */
  peek(page: number, reg: number): number {
    if (page === this.page && reg === PAGE_SELECT) return this.page;
    if (page === 0 && reg === REG_ANALOG_MUTE_DET) return this.analogActive;
    return this.pages.get(page)?.[reg] ?? 0;
  }

  /** What the analog outputs are heading for: both channels playing (3) or muted (0). */
  private target(): number {
    const p0 = this.pages.get(0)!;
    if (p0[REG_POWER]! & (RQST | RQPD)) return 0;
    const m = p0[REG_MUTE]!;
    return (m & RQML ? 0 : 0b10) | (m & RQMR ? 0 : 0b01);
  }

  private afterWrite(): void {
    this.ramp = undefined; // a new request restarts the ramp
  }

  protected store(reg: number, value: number): void {
    if (reg === PAGE_SELECT) {
      if (PAGES.includes(value)) this.page = value;
      this.writes.push({ page: this.page, reg, value });
      return;
    }
    if (this.page === 0 && reg === REG_ANALOG_MUTE_DET) return; // read-only
    if (this.page === 0 && reg === REG_POWER) this.checkLeavingStandby(value);
    if (this.page === 0 && reg === REG_RESET && value & RESET_REGISTERS) this.resetRegisters();
    this.pages.get(this.page)![reg] = value;
    this.writes.push({ page: this.page, reg, value });
    this.afterWrite();
  }

  /** Leaving standby while no bit clock runs pops (FACTS.md: leave standby once BCK runs). */
  private checkLeavingStandby(value: number): void {
    const before = this.pages.get(0)![REG_POWER]!;
    if (!(before & RQST) || value & (RQST | RQPD) || this.env.link() !== undefined) return;
    this.transients.push({
      atNs: this.env.nowNs(), output: 'line-out', amplitude: 1,
      why: 'left standby (reg 2 RQST 1 -> 0) while no bit clock ran: leave standby once BCK runs (pop size not among the facts: full scale stands in)',
    });
  }

  protected load(reg: number): number {
    if (reg === PAGE_SELECT) return this.page;
    if (this.page === 0 && reg === REG_ANALOG_MUTE_DET) {
      if (!this.stuck && this.analogActive !== this.target()) {
        this.ramp ??= this.settleReads;
        if (this.ramp-- <= 1) {
          this.analogActive = this.target();
          this.ramp = undefined;
        }
      }
      return this.analogActive;
    }
    return this.pages.get(this.page)![reg]!;
  }

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  takeTransients(): Transient[] {
    const t = this.transients;
    this.transients = [];
    return t;
  }

  analogState(): ChipAnalogState {
    const p0 = this.pages.get(0)!, p1 = this.pages.get(1)!;
    const pw = p0[REG_POWER]!, mute = p0[REG_MUTE]!;
    const volL = p0[REG_VOL_L]!, volR = p0[REG_VOL_R]!;
    const power = pw & RQPD ? 'powerdown' : pw & RQST ? 'standby' : 'active';
    const muteL = (mute & RQML) !== 0 || volL === VOL_MUTE;
    const muteR = (mute & RQMR) !== 0 || volR === VOL_MUTE;
    return {
      power,
      muted: muteL && muteR,
      gainCodes: { DIGITAL_VOLUME_L: volL, DIGITAL_VOLUME_R: volR },
      outputs: { 'line-out': this.lineOut(power, mute, volL, volR, p0[REG_VOLUME_LINK]!, p1[P1_ANALOG_GAIN]!, p1[P1_ANALOG_BOOST]!) },
      clockCheck: this.clockChecker(p0),
    };
  }

  private lineOut(power: string, mute: number, volL: number, volR: number, link: number, gain: number, boost: number): AnalogPath {
    if (power === 'powerdown') return silent(2, 'powerdown (page 0 reg 2 RQPD = 1)');
    if (power === 'standby') return silent(2, 'standby (page 0 reg 2 RQST = 1)');
    if (gain !== 0x00 || boost !== 0x00) {
      return silent(2, `analog gain setting not among the facts (page 1 reg 2 = ${hex(gain)}, reg 7 = ${hex(boost)}; only the reset value 0x00 is known as 0 dB)`);
    }
    if ((link & 0x03) !== 0) return silent(2, `volume link setting not among the facts (page 0 reg 60 [1:0] = ${link & 0x03})`);
    const gains = [mute & RQML ? 0 : volumeGain(volL), mute & RQMR ? 0 : volumeGain(volR)];
    if (gains.some((g) => g !== 0)) return { gains };
    const why = [
      mute & (RQML | RQMR) ? `soft mute (page 0 reg 3 =${mute & RQML ? ' RQML' : ''}${mute & RQMR ? ' RQMR' : ''})` : '',
      volL === VOL_MUTE || volR === VOL_MUTE ? `volume mute code 0xFF (${volL === VOL_MUTE ? 'reg 61' : ''}${volL === VOL_MUTE && volR === VOL_MUTE ? ', ' : ''}${volR === VOL_MUTE ? 'reg 62' : ''})` : '',
    ].filter(Boolean).join(' and ');
    return silent(2, `muted: ${why}`);
  }

  /** The clock check for the registers as they are now (a snapshot: later writes do not change it). */
  private clockChecker(p0: Uint8Array): (link: I2sFormat | undefined) => string | undefined {
    const dir = p0[REG_BCK_LRCK_DIR]!, halt = p0[REG_CLOCK_HALT]!, ref = (p0[REG_PLL_REF]! >> 4) & 0x07;
    const detect = p0[REG_ERROR_DETECT]!, format = p0[REG_FORMAT]!;
    const fmt = (format >> 4) & 0x03, bits = WORD_LENGTH[format & 0x03]!;
    return (link) => {
      if (dir & (BCKO | LRKO)) return `master mode not modelled (page 0 reg 9 = ${hex(dir)}: BCK/LRCK are outputs)`;
      if (halt & HALT) return 'clocks halted (page 0 reg 19 bit 0 = 1)';
      if (!link) return 'no bit clock: BCK is not running';
      if (ref === 0) return 'SCK missing (PLL reference is SCK: page 0 reg 13 [6:4] = 0; this board gives the PCM5122 no SCK: set the reference to BCK)';
      if (ref !== 1) {
        return PLL_REFERENCE[ref]
          ? `PLL reference ${PLL_REFERENCE[ref]} (page 0 reg 13 [6:4] = ${ref}) not modelled`
          : `PLL reference code ${ref} (page 0 reg 13 [6:4]) not among the facts`;
      }
      if (!(detect & IGNORE_MISSING_SCK)) return 'SCK missing (page 0 reg 37 bit 3 = 0: the chip does not ignore the missing SCK, and this board gives it none)';
      if (detect & MANUAL_DIVIDERS) return 'manual clock dividers (page 0 reg 37 bit 1 = 1) not modelled';
      if (fmt !== 0) return `audio format: page 0 reg 40 [5:4] = ${fmt} (${AUDIO_FORMAT[fmt]}) but the link is I2S`;
      if (link.bits !== bits) return `word length: page 0 reg 40 [1:0] = ${format & 0x03} (${bits}-bit) but the link carries ${link.bits}-bit words`;
      if (link.rate < MIN_RATE || link.rate > MAX_RATE) return `sample rate ${link.rate} Hz outside 8-384 kHz`;
      return undefined;
    };
  }
}
