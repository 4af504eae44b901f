/**
 * Behavioural model of the Cirrus Logic CS4271 on the simulated I2C bus, written from the chip's
 * facts (shared/spec/codecs.md, CS4271), independently of the driver: it imports neither the
 * driver nor its description.
 *
 * What it models:
 *  - registers 0x01..0x08, 8-bit; the first byte of a write is the register number; accesses to
 *    any other number are ignored (reads give 0x00) and counted in `outsideMap`;
 *  - VOLA 0x04 / VOLB 0x05: bit 7 mutes the channel, [6:0] attenuates 1 dB per code (0 = 0 dB,
 *    127 = -127 dB);
 *  - a timeline of the volume state after each write of VOLA/VOLB, for order checks.
 * What it does not know (not among the facts): the other registers' meaning, every reset value
 * (registers start at 0x00, a stand-in), the auto-increment rule (multi-byte accesses step the
 * register number here, a stand-in).
 */
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const FIRST = 0x01, LAST = 0x08;
const VOLA = 0x04, VOLB = 0x05;

export type Cs4271Channel = { muted: boolean; db: number };

export class Cs4271Model extends PointerRegisterDevice {
  readonly regs = new Uint8Array(LAST + 1);

  constructor() {
    super();
    this.pointer = FIRST;
  }
  outsideMap = 0;
  /** Every accepted write as (register, value): for tests. */
  readonly writes: { reg: number; value: number }[] = [];
  readonly timeline: { a: Cs4271Channel; b: Cs4271Channel }[] = [];

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
    this.writes.push({ reg, value });
    if (reg === VOLA || reg === VOLB) this.timeline.push(this.volume());
  }

  protected load(reg: number): number {
    return this.inMap(reg) ? this.regs[reg]! : 0x00;
  }
}
