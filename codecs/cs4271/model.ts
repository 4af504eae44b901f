/**
 * Behavioural model of the Cirrus Logic CS4271 on the simulated I2C bus, written from the chip's
 * facts (`codecs/cs4271/FACTS.md`), independently of the driver: it imports neither the driver nor
 * its description.
 *
 * What it models:
 *  - registers 0x01..0x08, 8-bit; the first byte of a write is the register number; accesses to
 *    any other number are ignored (reads give 0x00) and counted in `outsideMap`;
 *  - the reset defaults the facts give with an address (FACTS "Reset defaults": MODE1 0x01 = 0,
 *    VOLA/VOLB 0x04/0x05 = 0, ADCCTL 0x06 = 0, MODE2 0x07 = 0);
 *  - VOLA 0x04 / VOLB 0x05: bit 7 mutes the channel, [6:0] attenuates 1 dB per code (0 = 0 dB,
 *    127 = -127 dB);
 *  - the analog truth (`SimChip`): the 'line-out' output from MODE2 (bit 0 PDN power down, bit 1
 *    CPEN control port enable: FACTS "Bring-up" 2), MODE1 (0x01 = single speed, slave, MCLK
 *    256/384/512fs, I2S: "Bring-up" 3), the volumes, the link and the master clock;
 *  - a timeline of the volume state after each write of VOLA/VOLB, and every write with its
 *    time, for order checks.
 * What it does not know (not among the facts): the other registers' meaning, the addresses of
 * DACCTL (reset 0x80) and DACVOL (reset 0x29) — so neither default is applied and 0x02/0x03 start
 * at 0x00, a stand-in —, MODE1 codes other than 0x01 (the left-justified code, speed modes,
 * master mode), the word length (see `clockCheck`), the 85 µs settling after PDN clears (no rule:
 * the facts say wait, not what happens otherwise), what the chip does with the control port not
 * enabled, any pop, the auto-increment rule (multi-byte accesses step the register number here, a
 * stand-in).
 */
import {
  type ChipAnalogState, type ChipEnvironment, DETACHED_ENVIRONMENT, type I2sFormat, type SimChip,
  type Transient, dbToLinear, silent,
} from '../../src/hal/sim/chip.ts';
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const FIRST = 0x01, LAST = 0x08;
const VOLA = 0x04, VOLB = 0x05;
const MODE1 = 0x01, MODE1_SINGLE_SLAVE_I2S = 0x01;
const MODE2 = 0x07, PDN = 0x01, CPEN = 0x02;
/** FACTS "Bring-up" 3: slave, MCLK 256/384/512fs (single speed). */
const MCLK_RATIOS = [256, 384, 512];

export type Cs4271Channel = { muted: boolean; db: number };

const hex = (v: number) => `0x${v.toString(16).toUpperCase().padStart(2, '0')}`;

export class Cs4271Model extends PointerRegisterDevice implements SimChip {
  readonly regs = new Uint8Array(LAST + 1);
  private env: ChipEnvironment = DETACHED_ENVIRONMENT;

  constructor() {
    super();
    this.pointer = FIRST;
  }
  outsideMap = 0;
  /** Every accepted write as (register, value), with its time: for tests (the 85 µs of the bring-up). */
  readonly writes: { reg: number; value: number; atNs: number }[] = [];
  readonly timeline: { a: Cs4271Channel; b: Cs4271Channel }[] = [];

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  peek(reg: number): number {
    return this.regs[reg] ?? 0;
  }

  private channel(reg: number): Cs4271Channel {
    const v = this.regs[reg]!;
    return { muted: (v & 0x80) !== 0, db: 0 - (v & 0x7f) };
  }

  volume(): { a: Cs4271Channel; b: Cs4271Channel } {
    return { a: this.channel(VOLA), b: this.channel(VOLB) };
  }

  private inMap(reg: number): boolean {
    const ok = reg >= FIRST && reg <= LAST;
    if (!ok) this.outsideMap++;
    return ok;
  }

  protected store(reg: number, value: number): void {
    if (!this.inMap(reg)) return;
    this.regs[reg] = value;
    this.writes.push({ reg, value, atNs: this.env.nowNs() });
    if (reg === VOLA || reg === VOLB) this.timeline.push(this.volume());
  }

  protected load(reg: number): number {
    return this.inMap(reg) ? this.regs[reg]! : 0x00;
  }

  // ---- the analog truth ------------------------------------------------------------------------

  /** No pop is among the CS4271's facts: nothing is ever recorded. */
  takeTransients(): Transient[] {
    return [];
  }

  private powerText(): string {
    const m2 = this.regs[MODE2]!;
    if (m2 & PDN) return 'power down (MODE2 PDN)';
    if (!(m2 & CPEN)) return 'control port not enabled (MODE2 CPEN = 0)';
    return 'powered';
  }

  analogState(): ChipAnalogState {
    const v = this.volume();
    return {
      power: this.powerText(),
      muted: v.a.muted && v.b.muted,
      gainCodes: { VOLA: this.regs[VOLA]!, VOLB: this.regs[VOLB]! },
      outputs: { 'line-out': this.lineOut() },
      clockCheck: (link) => this.clockCheck(link),
    };
  }

  private lineOut() {
    const m2 = this.regs[MODE2]!;
    if (m2 & PDN) return silent(2, 'powered down (MODE2 0x07 bit 0, PDN)');
    if (!(m2 & CPEN)) return silent(2, 'control port not enabled (MODE2 0x07 bit 1, CPEN = 0): what the chip does then is not among the facts');
    const v = this.volume();
    if (v.a.muted && v.b.muted) return silent(2, 'both channels muted (VOLA/VOLB bit 7)');
    // FACTS "Volume": [6:0] 0 .. -127 dB in 1 dB steps; bit 7 = mute.
    return { gains: [v.a, v.b].map((c) => (c.muted ? 0 : dbToLinear(c.db))) };
  }

  /**
   * The link and master clock the chip can play: MODE1 0x01 (single speed, slave, I2S), a master
   * clock at 256, 384 or 512 × the link rate, a bit clock from the host. The word length is not
   * among the facts: 16, 24 and 32-bit words are all accepted (the link's containers), unverified.
   */
  clockCheck(link: I2sFormat | undefined): string | undefined {
    const m1 = this.regs[MODE1]!;
    if (m1 !== MODE1_SINGLE_SLAVE_I2S) return `CS4271: MODE1 = ${hex(m1)}: only 0x01 (single speed, slave, I2S) is among the facts`;
    if (!link) return 'CS4271: no bit clock: the codec is a slave (MODE1 0x01) and needs the host\'s clocks';
    const mclk = this.env.mclkHz?.();
    if (mclk === undefined) return 'CS4271: no master clock (MCLK) runs';
    const ratio = mclk / link.rate;
    if (!MCLK_RATIOS.includes(ratio)) return `CS4271: MCLK ${mclk} Hz is ${Number(ratio.toFixed(3))} × the link rate ${link.rate} Hz; single speed needs 256, 384 or 512 fs`;
    if (![16, 24, 32].includes(link.bits)) return `CS4271: ${link.bits}-bit words: the word length is not among the facts (16/24/32 accepted, unverified)`;
    return undefined;
  }
}
