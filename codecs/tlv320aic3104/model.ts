/**
 * Behavioural model of the TI TLV320AIC3104 on the simulated I2C bus, written from the chip's
 * facts (shared/spec/codecs.md, TLV320AIC3104), independently of the driver: it imports neither
 * the driver nor its description.
 *
 * What it models:
 *  - 8-bit register pointer, 8-bit data; register 0 of each page selects the page (0 or 1; a
 *    write of another number is ignored) and reads back the current page;
 *  - page 0 R43/R44, the DAC volume: bit 7 mutes the channel, [6:0] attenuates in 0.5 dB steps
 *    (0 = 0 dB, 0x7F = -63.5 dB);
 *  - page 0 R51/R65, the headphone level in [7:4] (0 and 9 dB are the only codes the facts name);
 *  - page 0 R15/R16, the PGA gain in [6:0] (0.5 dB steps from 0 dB);
 *  - a timeline of the DAC state after each change, for order checks.
 * What it does not know (not among the facts): every reset value (registers start at 0x00 here,
 * a stand-in tests never depend on), the power and reset bits, the headset detect's layout.
 * Multi-byte accesses auto-increment the pointer (a stand-in as well).
 */
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const PAGE_SELECT = 0;
const PAGES = [0, 1];
const R_DAC_L = 43, R_DAC_R = 44, R_HPL = 51, R_HPR = 65, R_PGA_L = 15, R_PGA_R = 16;
const STANDIN_RESET = 0x00;

export type DacChannelState = { muted: boolean; db: number };

export class Tlv320aic3104Model extends PointerRegisterDevice {
  readonly pages = new Map<number, Uint8Array>();
  page = 0;
  /** Every accepted write as (page, reg, value): for tests. */
  readonly writes: { page: number; reg: number; value: number }[] = [];
  /** The DAC state after every write that changed it. */
  readonly timeline: { left: DacChannelState; right: DacChannelState }[] = [];

  constructor() {
    super();
    for (const p of PAGES) this.pages.set(p, new Uint8Array(256).fill(STANDIN_RESET));
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
    const lvl = (reg: number) => {
      const code = this.pages.get(0)![reg]! >> 4;
      return code === 0 ? 0 : code === 9 ? 9 : undefined;
    };
    return { left: lvl(R_HPL), right: lvl(R_HPR) };
  }

  /** PGA gain per channel in dB. */
  pga(): { left: number; right: number } {
    const p0 = this.pages.get(0)!;
    return { left: (p0[R_PGA_L]! & 0x7f) * 0.5, right: (p0[R_PGA_R]! & 0x7f) * 0.5 };
  }

  protected store(reg: number, value: number): void {
    if (reg === PAGE_SELECT) {
      if (PAGES.includes(value)) this.page = value;
      this.writes.push({ page: this.page, reg, value });
      return;
    }
    this.pages.get(this.page)![reg] = value;
    this.writes.push({ page: this.page, reg, value });
    if (this.page === 0 && (reg === R_DAC_L || reg === R_DAC_R)) this.timeline.push(this.dac());
  }

  protected load(reg: number): number {
    return reg === PAGE_SELECT ? this.page : this.pages.get(this.page)![reg]!;
  }
}
