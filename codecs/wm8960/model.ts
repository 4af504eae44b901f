/**
 * Behavioural model of the WM8960 on the simulated I2C bus, written from the chip's facts
 * (shared/spec/codecs.md, WM8960), independently of the driver: it imports neither the driver
 * nor its description.
 *
 * What it models:
 *  - the control interface: each write is two bytes, [A6..A0 D8] [D7..D0] (7-bit register
 *    address, 9-bit value); the chip cannot be read (a read fails loudly, and is counted);
 *  - the update latch (bit 8) of the volume pairs: a write stores that channel's new value, and
 *    both channels of the pair take their stored values together when a write carries bit 8.
 *    Pairs: R0/R1 input PGA, R2/R3 headphone, R10/R11 DAC, R21/R22 ADC, R40/R41 speaker;
 *  - the DAC volume coding (datasheet Table 15): 0x00 = digital mute, 0x01 = -127 dB, 0.5 dB steps
 *    up to 0xFF = 0 dB, which is also the reset value of [7:0];
 *  - a timeline of the volumes in effect (with the time when a clock is given), for order checks.
 * What it does not know (not among the facts): the reset value of any other register, the power,
 * anti-pop, PLL and jack-detect bits. Registers other than the volume pairs are stored as written
 * and do nothing; unwritten registers read back (through `peek`) as undefined.
 */
import type { Clock } from '../../src/hal/clock.ts';
import type { SimI2cDevice } from '../../src/hal/sim/i2c-device.ts';

/** Volume pairs: left register → right register. */
const PAIRS: readonly (readonly [number, number])[] = [[0, 1], [2, 3], [10, 11], [21, 22], [40, 41]];
const LATCH = 1 << 8;
const DAC_L = 10, DAC_R = 11;
const DAC_RESET = 0xff; // [7:0] after reset: 0 dB (Table 15, default)

export interface Wm8960ModelEvent {
  atNs: number | undefined;
  /** Left register of the pair whose volumes took effect. */
  pair: number;
  left: number;
  right: number;
}

export class Wm8960Model implements SimI2cDevice {
  /** Last value written to each register (9 bits). */
  readonly written = new Map<number, number>();
  /** Volumes in effect per register (after the latch), bits [7:0]. */
  private readonly active = new Map<number, number>();
  /** Every write as (register, 9-bit value): for tests. */
  readonly writes: { reg: number; value: number }[] = [];
  /** Volume changes that took effect, in order. */
  readonly timeline: Wm8960ModelEvent[] = [];
  /** Read attempts (the chip cannot be read) and writes that were not two bytes long. */
  readAttempts = 0;
  badWrites = 0;

  /** Stamps the timeline (optional: tests give the bus's clock). */
  clock: Pick<Clock, 'nowNs'> | undefined;

  constructor(clock?: Pick<Clock, 'nowNs'>) {
    this.clock = clock;
    this.active.set(DAC_L, DAC_RESET);
    this.active.set(DAC_R, DAC_RESET);
  }

  write(data: Uint8Array): void {
    if (data.length !== 2) {
      this.badWrites++;
      return;
    }
    const reg = data[0]! >> 1;
    const value = ((data[0]! & 1) << 8) | data[1]!;
    this.written.set(reg, value);
    this.writes.push({ reg, value });
    const pair = PAIRS.find(([l, r]) => reg === l || reg === r);
    if (pair && value & LATCH) {
      const [l, r] = pair;
      for (const x of pair) if (this.written.has(x)) this.active.set(x, this.written.get(x)! & 0xff);
      this.timeline.push({ atNs: this.clock?.nowNs(), pair: l, left: this.active.get(l) ?? -1, right: this.active.get(r) ?? -1 });
    }
  }

  read(_length: number): Uint8Array {
    this.readAttempts++;
    throw new Error('WM8960 model: the WM8960 cannot be read over I2C (shared/spec/codecs.md)');
  }

  /** The last value written to a register (9 bits), or undefined. */
  peek(reg: number): number | undefined {
    return this.written.get(reg);
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
}
