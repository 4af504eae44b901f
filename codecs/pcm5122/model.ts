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
 *  - clocks, as clock slave (FACTS.md, "Bring-up as clock slave"; `clockCheck`): BCK/LRCK are
 *    inputs (reg 9 bits 4, 0 clear); reg 19 bit 0 halts the clocks; a bit clock must run; the PLL
 *    reference reg 13 [6:4] must be BCK (1): these boards give the chip no SCK, so SCK (0) is "SCK
 *    missing", and GPIO (3) is not modelled; reg 37 bit 3 must be set (ignore missing SCK) and
 *    bit 1 clear (automatic dividers; manual dividers as slave are not modelled); reg 40 [5:4] must
 *    be 0 (I2S: the simulated link is I2S) and reg 40 [1:0] (0/1/2/3 = 16/20/24/32-bit; reset 2)
 *    must equal the link's word length; the rate must be within 8-384 kHz ("Formats and rates");
 *  - clocks, as clock master (FACTS.md, "Clock master (HiFiBerry DAC+ Pro)"): reg 9 bits 4 and 0
 *    both set (one without the other is not among the facts). The chip then drives BCK and LRCK
 *    itself from SCK, which is the oscillator it selects through its own GPIOs: GPIO3 (reg 86
 *    bit 2) the 24.576 MHz one, GPIO6 (reg 86 bit 5) the 22.5792 MHz one. A GPIO drives its line
 *    only as an output (reg 8 bit 2 / bit 5) driven from the register (reg 82 / 85 [3:0] = 0x2);
 *    any other setting is taken as not selecting (the other output sources are not among the
 *    facts). The selected oscillator must be fitted (ChipEnvironment.oscillatorsHz: the board
 *    file's sim.oscillatorsHz), and only one selected. The master dividers must run (reg 12
 *    [1:0] = 3), reg 37 [6:0] = 0x7B (ignore clock errors, manual dividers), the PLL off (reg 4
 *    bit 0 = 0), the DAC clock from SCK (reg 14 = 0x30), and the dividers the facts' (derived) set
 *    for SCK = 512 fs: reg 27 = 0, 28 = 3, 29 = 3, 30 = 7, 35/36 = 0x02/0x00, 34 = 0; other
 *    divider sets are not among the facts. The chip's own clocks give LRCK = SCK ÷ (reg 32 + 1)
 *    ÷ (reg 33 + 1) (the divider is the register value + 1: derived from the facts' pairs) with
 *    reg 33 + 1 BCK per frame; the link must carry that rate and that many bits per frame
 *    (channels × word length), and the word-length and format checks of the slave apply. The
 *    oscillator's settling time (the facts: wait 3-4 ms) is not modelled: it runs at once;
 *  - SCK detect: page 0 reg 94 bit 6 reads 1 (SCK missing) unless a fitted oscillator is selected,
 *    then 0 (FACTS.md, the DAC+ Pro detection); its other bits are stand-ins (0). Reg 94 and the
 *    other volatile registers of the facts (4, 90-95, 119, 120) keep what was written otherwise;
 *  - the LED (GPIO4: reg 8 bit 3, reg 83 = 0x02, reg 86 bit 3): `led` tells whether it is lit;
 *  - pop: leaving standby (reg 2 RQST 1 -> 0, RQPD 0) while no bit clock runs: the facts say to
 *    leave standby once BCK runs. As clock slave BCK is the link's (the host's PCM running); as
 *    clock master it is the chip's own, running while the oscillator is selected and fitted, the
 *    master dividers run and the clocks are not halted. The size of that pop is not among the
 *    facts: full scale (1.0) stands in, so that no test can miss it.
 * Every write is logged in `writes` with its time and whether a bit clock ran (for ordering tests).
 * Not modelled (not among the facts, or not the output's level): the filters (reg 43), auto mute,
 * the DAC routing, de-emphasis, the other GPIOs, the volume ramp.
 */
import { DETACHED_ENVIRONMENT, dbToLinear, silent } from '../../src/hal/sim/chip.ts';
import type { AnalogPath, ChipAnalogState, ChipEnvironment, I2sFormat, SimChip, Transient } from '../../src/hal/sim/chip.ts';
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const PAGE_SELECT = 0;
const PAGES = [0, 1, 44];
const REG_RESET = 1, REG_POWER = 2, REG_MUTE = 3, REG_ANALOG_MUTE_DET = 108;
const RQST = 1 << 4, RQPD = 1 << 0, RQML = 1 << 4, RQMR = 1 << 0;
const RESET_REGISTERS = 1 << 0;
const REG_PLL = 4, PLLE = 1 << 0;
const REG_GPIO_EN = 8, REG_BCK_LRCK_DIR = 9, BCKO = 1 << 4, LRKO = 1 << 0;
const REG_MASTER_MODE = 12, MASTER_DIVIDERS_RUN = 0x03;
const REG_PLL_REF = 13, REG_DAC_CLK_SRC = 14, DAC_CLK_FROM_SCK = 0x30, REG_CLOCK_HALT = 19, HALT = 1 << 0;
const REG_ERROR_DETECT = 37, IGNORE_MISSING_SCK = 1 << 3, MANUAL_DIVIDERS = 1 << 1, MASTER_ERROR_DETECT = 0x7b;
const REG_FORMAT = 40;
const REG_BCK_DIV = 32, REG_LRCK_DIV = 33;
/** The master-mode divider set of the facts for SCK = 512 fs (derived): [register, value]. */
const MASTER_DIVIDERS: readonly [number, number][] = [[27, 0], [28, 3], [29, 3], [30, 7], [34, 0], [35, 0x02], [36, 0x00]];
/** GPIO3, GPIO4, GPIO6: bits 2, 3, 5 of reg 8 (output) and reg 86 (level); regs 82, 83, 85 [3:0] their output source (FACTS.md, "Clock master (HiFiBerry DAC+ Pro)"). */
const REG_GPIO_OUT = 86, GPIO_SOURCE_REGISTER = 0x02;
const GPIO3 = { bit: 1 << 2, source: 82 }, GPIO4 = { bit: 1 << 3, source: 83 }, GPIO6 = { bit: 1 << 5, source: 85 };
/** The DAC+ Pro's oscillators and the GPIO that selects each (FACTS.md, "Clock master (HiFiBerry DAC+ Pro)"). */
const OSCILLATORS = [{ gpio: GPIO3, name: 'GPIO3', hz: 24_576_000 }, { gpio: GPIO6, name: 'GPIO6', hz: 22_579_200 }] as const;
const REG_CLOCK_STATUS = 94, SCK_MISSING = 1 << 6;
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
  /**
   * Every write the model accepted, as (page, reg, value), with its time and whether a bit clock
   * ran then (the host's link, or the chip's own as clock master): for tests.
   */
  readonly writes: { page: number; reg: number; value: number; atNs: number; bitClock: boolean }[] = [];
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
    if (page === 0 && reg === REG_CLOCK_STATUS) return this.clockStatus();
    return this.pages.get(page)?.[reg] ?? 0;
  }

  /** Whether a GPIO drives its line high: an output, driven from reg 86, its bit set. */
  private gpioHigh(g: { bit: number; source: number }): boolean {
    const p0 = this.pages.get(0)!;
    return (p0[REG_GPIO_EN]! & g.bit) !== 0 && (p0[g.source]! & 0x0f) === GPIO_SOURCE_REGISTER && (p0[REG_GPIO_OUT]! & g.bit) !== 0;
  }

  /** The LED on GPIO4 is lit. */
  get led(): boolean {
    return this.gpioHigh(GPIO4);
  }

  /** The SCK the selected oscillator gives, or why there is none. */
  private sck(): { hz: number } | { missing: string } {
    const selected = OSCILLATORS.filter((o) => this.gpioHigh(o.gpio));
    if (selected.length === 0) return { missing: 'no oscillator selected (page 0 reg 86 bits 2 and 5, GPIO3/GPIO6, with reg 8 and regs 82/85 = 0x2)' };
    if (selected.length > 1) return { missing: 'both oscillators selected (GPIO3 and GPIO6): not among the facts' };
    const o = selected[0]!;
    const fitted = this.env.oscillatorsHz?.() ?? [];
    if (!fitted.includes(o.hz)) return { missing: `the ${o.hz / 1e6} MHz oscillator ${o.name} selects is not fitted on this board` };
    return { hz: o.hz };
  }

  /** Page 0 reg 94: bit 6 = SCK missing; the other bits stand-ins (as written). */
  private clockStatus(): number {
    const v = this.pages.get(0)![REG_CLOCK_STATUS]! & ~SCK_MISSING;
    return 'hz' in this.sck() ? v : v | SCK_MISSING;
  }

  private isMaster(p0: Uint8Array): boolean {
    return (p0[REG_BCK_LRCK_DIR]! & (BCKO | LRKO)) !== 0;
  }

  /** A bit clock runs: the chip's own as clock master, else the host's link. */
  private bitClockRuns(): boolean {
    const p0 = this.pages.get(0)!;
    if (!this.isMaster(p0)) return this.env.link() !== undefined;
    return (p0[REG_BCK_LRCK_DIR]! & (BCKO | LRKO)) === (BCKO | LRKO) && 'hz' in this.sck() &&
      (p0[REG_MASTER_MODE]! & MASTER_DIVIDERS_RUN) === MASTER_DIVIDERS_RUN && !(p0[REG_CLOCK_HALT]! & HALT);
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
      this.log(reg, value);
      return;
    }
    if (this.page === 0 && reg === REG_ANALOG_MUTE_DET) return; // read-only
    if (this.page === 0 && reg === REG_POWER) this.checkLeavingStandby(value);
    if (this.page === 0 && reg === REG_RESET && value & RESET_REGISTERS) this.resetRegisters();
    this.pages.get(this.page)![reg] = value;
    this.log(reg, value);
    this.afterWrite();
  }

  private log(reg: number, value: number): void {
    this.writes.push({ page: this.page, reg, value, atNs: this.env.nowNs(), bitClock: this.bitClockRuns() });
  }

  /** Leaving standby while no bit clock runs pops (FACTS.md: leave standby once BCK runs). */
  private checkLeavingStandby(value: number): void {
    const before = this.pages.get(0)![REG_POWER]!;
    if (!(before & RQST) || value & (RQST | RQPD) || this.bitClockRuns()) return;
    this.transients.push({
      atNs: this.env.nowNs(), output: 'line-out', amplitude: 1,
      why: 'left standby (reg 2 RQST 1 -> 0) while no bit clock ran: leave standby once BCK runs (pop size not among the facts: full scale stands in)',
    });
  }

  protected load(reg: number): number {
    if (reg === PAGE_SELECT) return this.page;
    if (this.page === 0 && reg === REG_CLOCK_STATUS) return this.clockStatus();
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
    const halt = p0[REG_CLOCK_HALT]!, ref = (p0[REG_PLL_REF]! >> 4) & 0x07;
    const detect = p0[REG_ERROR_DETECT]!, format = p0[REG_FORMAT]!;
    const fmt = (format >> 4) & 0x03, bits = WORD_LENGTH[format & 0x03]!;
    const master = this.isMaster(p0) ? this.masterClocks(p0) : undefined;
    const common = (link: I2sFormat): string | undefined => {
      if (fmt !== 0) return `audio format: page 0 reg 40 [5:4] = ${fmt} (${AUDIO_FORMAT[fmt]}) but the link is I2S`;
      if (link.bits !== bits) return `word length: page 0 reg 40 [1:0] = ${format & 0x03} (${bits}-bit) but the link carries ${link.bits}-bit words`;
      if (link.rate < MIN_RATE || link.rate > MAX_RATE) return `sample rate ${link.rate} Hz outside 8-384 kHz`;
      return undefined;
    };
    if (master) {
      return (link) => {
        if ('error' in master) return master.error;
        if (!link) return 'no I2S data: the host\'s PCM is not running';
        if (link.channels * link.bits !== master.bckPerFrame) {
          return `BCK per frame: the chip's LRCK divider (page 0 reg 33 = ${master.bckPerFrame - 1}) gives ${master.bckPerFrame} BCK per frame, ` +
            `but the link carries ${link.channels} × ${link.bits}-bit words`;
        }
        if (Math.abs(master.fs - link.rate) > 0.5) {
          return `rate: the chip's clocks give ${master.fs.toFixed(1)} Hz (SCK ${master.sckHz / 1e6} MHz ÷ (reg 32 + 1) ÷ (reg 33 + 1)) but the stream is ${link.rate} Hz`;
        }
        return common(link);
      };
    }
    return (link) => {
      if (halt & HALT) return 'clocks halted (page 0 reg 19 bit 0 = 1)';
      if (!link) return 'no bit clock: BCK is not running';
      if (ref === 0) return 'SCK missing (PLL reference is SCK: page 0 reg 13 [6:4] = 0; this board gives the PCM5122 no SCK: set the reference to BCK)';
      if (ref !== 1) {
        return PLL_REFERENCE[ref]
          ? `PLL reference ${PLL_REFERENCE[ref]} (page 0 reg 13 [6:4] = ${ref}) not modelled`
          : `PLL reference code ${ref} (page 0 reg 13 [6:4]) not among the facts`;
      }
      if (!(detect & IGNORE_MISSING_SCK)) return 'SCK missing (page 0 reg 37 bit 3 = 0: the chip does not ignore the missing SCK, and this board gives it none)';
      if (detect & MANUAL_DIVIDERS) return 'manual clock dividers (page 0 reg 37 bit 1 = 1) as clock slave not modelled';
      return common(link);
    };
  }

  /** As clock master: the chip's own LRCK and BCK per frame, or why it has none. */
  private masterClocks(p0: Uint8Array): { sckHz: number; fs: number; bckPerFrame: number } | { error: string } {
    const dir = p0[REG_BCK_LRCK_DIR]!;
    if ((dir & (BCKO | LRKO)) !== (BCKO | LRKO)) return { error: `only one of BCK and LRCK is an output (page 0 reg 9 = ${hex(dir)}): not among the facts` };
    if (p0[REG_CLOCK_HALT]! & HALT) return { error: 'clocks halted (page 0 reg 19 bit 0 = 1)' };
    const sck = this.sck();
    if ('missing' in sck) return { error: `SCK missing as clock master: ${sck.missing}` };
    if ((p0[REG_MASTER_MODE]! & MASTER_DIVIDERS_RUN) !== MASTER_DIVIDERS_RUN) {
      return { error: `master-mode dividers held in reset (page 0 reg 12 [1:0] = ${p0[REG_MASTER_MODE]! & 0x03}; 3 runs them): no BCK/LRCK out` };
    }
    if ((p0[REG_ERROR_DETECT]! & 0x7f) !== MASTER_ERROR_DETECT) {
      return { error: `clock error detection page 0 reg 37 [6:0] = ${hex(p0[REG_ERROR_DETECT]! & 0x7f)}: as clock master only 0x7B (ignore clock errors, manual dividers) is among the facts` };
    }
    if (p0[REG_PLL]! & PLLE) return { error: 'the PLL is on (page 0 reg 4 bit 0 = 1): clock master with the PLL is not among the facts (PLL off, DAC clock from SCK)' };
    if (p0[REG_DAC_CLK_SRC]! !== DAC_CLK_FROM_SCK) return { error: `DAC clock source page 0 reg 14 = ${hex(p0[REG_DAC_CLK_SRC]!)}: as clock master only 0x30 (from SCK) is among the facts` };
    const off = MASTER_DIVIDERS.filter(([r, v]) => p0[r] !== v);
    if (off.length) {
      return { error: `clock dividers ${off.map(([r, v]) => `reg ${r} = ${hex(p0[r]!)} (not ${hex(v)})`).join(', ')}: not the facts' divider set for SCK = 512 fs` };
    }
    const bckPerFrame = p0[REG_LRCK_DIV]! + 1;
    return { sckHz: sck.hz, fs: sck.hz / (p0[REG_BCK_DIV]! + 1) / bckPerFrame, bckPerFrame };
  }
}
