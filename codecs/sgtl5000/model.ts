/**
 * Behavioural model of the SGTL5000 on the simulated I2C bus, written from the chip's facts
 * (shared/spec/codecs.md, SGTL5000), independently of the driver: it imports neither the driver
 * nor its description.
 *
 * What it models:
 *  - the master clock: the chip does not acknowledge its address until MCLK runs
 *    (`startMclk()`); every refused address phase is counted in `refusedWhileStopped`;
 *  - 16-bit register addresses and 16-bit values, most significant byte first (the byte order is
 *    not among the facts: a stand-in shared with the driver's assumption, said in both); a write
 *    of two bytes sets the register pointer, four bytes write a register; reads return the
 *    register at the pointer;
 *  - registers at even addresses only (stride 2): accesses to odd addresses are counted;
 *  - the DAC volume 0x0010 (left [7:0], right [15:8]): 0x3C = 0 dB .. 0xF0 = -90 dB in 0.5 dB
 *    steps, >= 0xFC mute; writes of a reserved code (<= 0x3B) are counted in `reservedWrites`;
 *  - the headphone volume 0x0022 (left [6:0], right [14:8]): 0x00 = +12 dB, 0.5 dB steps down;
 *  - a timeline of the DAC state after each write of 0x0010, for order checks.
 * What it does not know (not among the facts): reset values (registers read 0x0000 until written,
 * a stand-in), power and routing registers, the layouts of 0x0020 and 0x002A.
 */
import type { SimI2cDevice } from '../../src/hal/sim/i2c-device.ts';

const DAC_VOL = 0x0010;
const HP_VOL = 0x0022;

export type Sgtl5000Level = number | 'mute' | 'reserved' | 'unknown';

export class Sgtl5000Model implements SimI2cDevice {
  readonly regs = new Map<number, number>();
  private pointer = 0;
  private mclk: boolean;
  refusedWhileStopped = 0;
  reservedWrites = 0;
  oddAddressAccesses = 0;
  /** Every write as (register, value): for tests. */
  readonly writes: { reg: number; value: number }[] = [];
  /** The DAC state after each write of 0x0010. */
  readonly timeline: { left: Sgtl5000Level; right: Sgtl5000Level }[] = [];

  constructor(opts: { mclkRunning?: boolean } = {}) {
    this.mclk = opts.mclkRunning ?? false;
  }

  startMclk(): void {
    this.mclk = true;
  }

  stopMclk(): void {
    this.mclk = false;
  }

  acknowledges(): boolean {
    if (!this.mclk) this.refusedWhileStopped++;
    return this.mclk;
  }

  /** The datasheet's reading of a DAC volume code. */
  static dacLevel(code: number): Sgtl5000Level {
    if (code >= 0xfc) return 'mute';
    if (code <= 0x3b) return 'reserved';
    if (code <= 0xf0) return (0x3c - code) * 0.5;
    return 'unknown';
  }

  dac(): { left: Sgtl5000Level; right: Sgtl5000Level } {
    const v = this.regs.get(DAC_VOL) ?? 0;
    return { left: Sgtl5000Model.dacLevel(v & 0xff), right: Sgtl5000Model.dacLevel(v >> 8) };
  }

  /** Headphone volume per channel in dB. */
  headphone(): { left: number; right: number } {
    const v = this.regs.get(HP_VOL) ?? 0;
    return { left: 12 - (v & 0x7f) * 0.5, right: 12 - ((v >> 8) & 0x7f) * 0.5 };
  }

  peek(reg: number): number {
    return this.regs.get(reg) ?? 0;
  }

  write(data: Uint8Array): void {
    if (data.length < 2) return;
    this.pointer = (data[0]! << 8) | data[1]!;
    if (this.pointer & 1) this.oddAddressAccesses++;
    for (let i = 2; i + 1 < data.length; i += 2) {
      this.store(this.pointer, (data[i]! << 8) | data[i + 1]!);
      this.pointer = (this.pointer + 2) & 0xffff;
    }
  }

  private store(reg: number, value: number): void {
    this.regs.set(reg, value);
    this.writes.push({ reg, value });
    if (reg === DAC_VOL) {
      if ((value & 0xff) <= 0x3b || value >> 8 <= 0x3b) this.reservedWrites++;
      this.timeline.push(this.dac());
    }
  }

  read(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 2) {
      const v = this.regs.get(this.pointer) ?? 0;
      out[i] = v >> 8;
      if (i + 1 < length) out[i + 1] = v & 0xff;
      this.pointer = (this.pointer + 2) & 0xffff;
    }
    return out;
  }
}
