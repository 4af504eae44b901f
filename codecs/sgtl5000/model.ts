/**
 * Behavioural model of the SGTL5000 on the simulated I2C bus, written from the chip's facts
 * (`codecs/sgtl5000/FACTS.md`), independently of the driver: it imports neither the driver nor
 * its description.
 *
 * What it models:
 *  - the master clock: the chip does not acknowledge its address until MCLK runs
 *    (`startMclk()`, or a master clock from the simulated board once attached); every refused
 *    address phase is counted in `refusedWhileStopped`;
 *  - 16-bit register addresses and 16-bit values, most significant byte first (the byte order is
 *    not among the facts: a stand-in shared with the driver's assumption, said in both); a write
 *    of two bytes sets the register pointer, four bytes write a register; reads return the
 *    register at the pointer;
 *  - registers at even addresses only (stride 2): accesses to odd addresses are counted;
 *  - the reset defaults the facts list (FACTS "Reset defaults"), and CHIP_ID 0x0000 reading
 *    [15:8] = 0xA0 (FACTS "Bring-up" 2; the revision in [7:0] is unknown: 0x00 here);
 *  - the DAC volume 0x0010 (left [7:0], right [15:8]): 0x3C = 0 dB .. 0xF0 = -90 dB in 0.5 dB
 *    steps, >= 0xFC mute; writes of a reserved code (<= 0x3B) are counted in `reservedWrites`;
 *  - the headphone volume 0x0022 (left [6:0], right [14:8]): 0x00 = +12 dB, 0.5 dB steps down;
 *  - the analog truth (`SimChip`): the 'headphone' output from the power, routing, mute, volume
 *    and clock registers (FACTS "Bring-up" 4–8), the link and the master clock; the VAG pop;
 *  - a timeline of the DAC state after each write of 0x0010, and every register access (read or
 *    write) with its time, for order checks.
 * What it does not know (not among the facts): the reset values of the other registers (0x0000
 * here until written, a stand-in; ANA_POWER's in particular, so the analog state says so until it
 * is written), the layouts of CLK_CTRL, I2S_CTRL (beyond 0x0130 = 16-bit and 0x0080 = master),
 * 0x0020, 0x002A, the line output (power bit, level, routing: the 'line-out' output is unknown),
 * the meaning of the bring-up's other bits (which the analog state requires as the bring-up sets
 * them, saying so), the pop amplitude.
 */
import {
  type AnalogPath, type ChipAnalogState, type ChipEnvironment, DETACHED_ENVIRONMENT, type I2sFormat,
  type SimChip, type Transient, dbToLinear, silent,
} from '../../src/hal/sim/chip.ts';
import type { SimI2cDevice } from '../../src/hal/sim/i2c-device.ts';

const DAC_VOL = 0x0010;
const HP_VOL = 0x0022;
const CHIP_ID = 0x0000;
const DIG_POWER = 0x0002, I2S_IN = 0x0001, DIG_BRINGUP = 0x0060; // FACTS 6: DIG_POWER = 0x0060; 8: bit 0 I2S in
const CLK_CTRL = 0x0004;
const I2S_CTRL = 0x0006, I2S_MASTER = 0x0080;
const ADCDAC_CTRL = 0x000e, ADCDAC_CLEARED = 0x000c; // FACTS 6: 0x020C (its reset value) then 0x0200
const ANA_CTRL = 0x0024, HP_MUTE = 0x0010, HP_SELECT = 0x0040; // FACTS 8: bit 4 = 0 unmute, bit 6 = 0 HP from the DAC
const ANA_POWER = 0x0030, ANA_BRINGUP = 0x7060, DAC_POWER = 0x0008, HP_POWER = 0x0010, VAG_POWER = 0x0080; // FACTS 4, 5, 8

/** FACTS "Reset defaults" (plus CHIP_ID [15:8] = 0xA0, FACTS "Bring-up" 2). */
const RESET: ReadonlyMap<number, number> = new Map<number, number>([
  [CHIP_ID, 0xa000], [0x0002, 0x0000], [0x0006, 0x0010], [0x000a, 0x0010], [0x000e, 0x020c], [0x0010, 0x3c3c],
  [0x0014, 0x015f], [0x0022, 0x1818], [0x0024, 0x0111], [0x002e, 0x0404], [0x0032, 0x5000],
]);

/** FACTS 7: "48 kHz with a 12.288 MHz MCLK: CLK_CTRL 0x0004 = 0x0008". The only clock setting known. */
const CLOCK_48K = { clkCtrl: 0x0008, mclkHz: 12_288_000, rate: 48_000 };
/** FACTS 7: "I2S_CTRL 0x0006 = 0x0130 for 16-bit (| 0x0080 when the codec is master)". */
const I2S_16BIT = 0x0130;

/**
 * FACTS 3: "If VAG is already on: clear it, wait 500 ms." Read modestly as: VAG needs 500 ms off
 * before it is turned on again; turning it back on sooner pops the powered headphone driver.
 */
const VAG_OFF_NS = 500e6;
/** Not a chip fact: the facts imply a pop, not its size. A stand-in a listening test can hear. */
const POP_AMPLITUDE = 0.25;

export type Sgtl5000Level = number | 'mute' | 'reserved' | 'unknown';
type Part = { gain: number } | { why: string };
const hex = (v: number) => `0x${v.toString(16).toUpperCase().padStart(4, '0')}`;

export class Sgtl5000Model implements SimI2cDevice, SimChip {
  readonly regs = new Map<number, number>();
  private pointer = 0;
  private mclk: boolean;
  refusedWhileStopped = 0;
  reservedWrites = 0;
  oddAddressAccesses = 0;
  /** Every write as (register, value): for tests. */
  readonly writes: { reg: number; value: number }[] = [];
  /** Every register access in order (a register written, a register read), with its time: for tests. */
  readonly accesses: { kind: 'read' | 'write'; reg: number; atNs: number }[] = [];
  /** The DAC state after each write of 0x0010. */
  readonly timeline: { left: Sgtl5000Level; right: Sgtl5000Level }[] = [];

  private env: ChipEnvironment = DETACHED_ENVIRONMENT;
  private pending: Transient[] = [];
  /** When VAG was last turned off (undefined: never seen off, e.g. its power-on state is unknown). */
  private vagOffAtNs: number | undefined;

  constructor(opts: { mclkRunning?: boolean } = {}) {
    this.mclk = opts.mclkRunning ?? false;
  }

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  startMclk(): void {
    this.mclk = true;
  }

  stopMclk(): void {
    this.mclk = false;
  }

  /** MCLK runs: started by hand, or supplied by the board the chip sits on. */
  private mclkRunning(): boolean {
    return this.mclk || this.env.mclkHz?.() !== undefined;
  }

  acknowledges(): boolean {
    const ok = this.mclkRunning();
    if (!ok) this.refusedWhileStopped++;
    return ok;
  }

  /** The datasheet's reading of a DAC volume code. */
  static dacLevel(code: number): Sgtl5000Level {
    if (code >= 0xfc) return 'mute';
    if (code <= 0x3b) return 'reserved';
    if (code <= 0xf0) return (0x3c - code) * 0.5;
    return 'unknown';
  }

  dac(): { left: Sgtl5000Level; right: Sgtl5000Level } {
    const v = this.peek(DAC_VOL);
    return { left: Sgtl5000Model.dacLevel(v & 0xff), right: Sgtl5000Model.dacLevel(v >> 8) };
  }

  /** Headphone volume per channel in dB. */
  headphone(): { left: number; right: number } {
    const v = this.peek(HP_VOL);
    return { left: 12 - (v & 0x7f) * 0.5, right: 12 - ((v >> 8) & 0x7f) * 0.5 };
  }

  /** A register as the chip holds it: written, else its reset default, else 0x0000 (a stand-in). */
  peek(reg: number): number {
    return this.regs.get(reg) ?? RESET.get(reg) ?? 0;
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
    const before = this.regs.get(reg);
    this.regs.set(reg, value);
    this.writes.push({ reg, value });
    this.accesses.push({ kind: 'write', reg, atNs: this.env.nowNs() });
    if (reg === DAC_VOL) {
      if ((value & 0xff) <= 0x3b || value >> 8 <= 0x3b) this.reservedWrites++;
      this.timeline.push(this.dac());
    }
    if (reg === ANA_POWER) this.checkVag(before, value);
  }

  read(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 2) {
      this.accesses.push({ kind: 'read', reg: this.pointer, atNs: this.env.nowNs() });
      const v = this.peek(this.pointer);
      out[i] = v >> 8;
      if (i + 1 < length) out[i + 1] = v & 0xff;
      this.pointer = (this.pointer + 2) & 0xffff;
    }
    return out;
  }

  // ---- the analog truth ------------------------------------------------------------------------

  takeTransients(): Transient[] {
    const t = this.pending;
    this.pending = [];
    return t;
  }

  private checkVag(before: number | undefined, value: number): void {
    const now = this.env.nowNs();
    // Before the first write ANA_POWER's state is unknown (its reset value is not among the facts):
    // whether that write turned VAG off is unknown too, so no off period starts there.
    if (before === undefined) return;
    if (before & VAG_POWER && !(value & VAG_POWER)) this.vagOffAtNs = now;
    if (!(before & VAG_POWER) && value & VAG_POWER) {
      const off = this.vagOffAtNs;
      if (off !== undefined && now - off < VAG_OFF_NS && value & HP_POWER) {
        this.pending.push({
          atNs: now, output: 'headphone', amplitude: POP_AMPLITUDE,
          why: `VAG turned on ${((now - off) / 1e6).toFixed(1)} ms after it was turned off (the facts: clear it, wait 500 ms)`,
        });
      }
      this.vagOffAtNs = undefined;
    }
  }

  analogState(): ChipAnalogState {
    const dac = this.peek(DAC_VOL);
    const l = Sgtl5000Model.dacLevel(dac & 0xff), r = Sgtl5000Model.dacLevel(dac >> 8);
    return {
      power: this.powerText(),
      muted: (l === 'mute' && r === 'mute') || (this.peek(ANA_CTRL) & HP_MUTE) !== 0,
      gainCodes: { DAC_VOL_L: dac & 0xff, DAC_VOL_R: dac >> 8, HP_VOL_L: this.peek(HP_VOL) & 0x7f, HP_VOL_R: (this.peek(HP_VOL) >> 8) & 0x7f },
      outputs: {
        headphone: this.hpPath(),
        'line-out': silent(2, 'the line output\'s power bit, level coding and routing are not among the facts (codecs/sgtl5000/FACTS.md): unknown'),
      },
      clockCheck: (link) => this.clockCheck(link),
    };
  }

  private powerText(): string {
    if (!this.regs.has(ANA_POWER)) return 'unknown (ANA_POWER not written since power-on; its reset value is not among the facts)';
    const a = this.peek(ANA_POWER);
    if (!(a & VAG_POWER)) return 'VAG off';
    if ((a & (DAC_POWER | HP_POWER)) === (DAC_POWER | HP_POWER)) return 'playing';
    return 'VAG on';
  }

  /** One channel of the DAC → headphone path (FACTS "Bring-up" 4–8, DAC and headphone volumes). */
  private hpChannel(ch: 0 | 1): Part {
    if (!this.regs.has(ANA_POWER)) return { why: 'ANA_POWER (0x0030) not written since power-on: its reset value is not among the facts' };
    const a = this.peek(ANA_POWER);
    if (!(a & VAG_POWER)) return { why: 'VAG off (ANA_POWER 0x0080)' };
    if ((a & ANA_BRINGUP) !== ANA_BRINGUP) return { why: `ANA_POWER ${hex(a)} lacks bits ${hex(ANA_BRINGUP & ~a)} of the bring-up's 0x7060 (steps 4–5; their meaning is not among the facts)` };
    if (!(a & DAC_POWER)) return { why: 'DAC not powered (ANA_POWER 0x0008)' };
    if (!(a & HP_POWER)) return { why: 'headphone driver not powered (ANA_POWER 0x0010)' };
    const d = this.peek(DIG_POWER);
    if (!(d & I2S_IN)) return { why: 'I2S input not powered (DIG_POWER bit 0)' };
    if ((d & DIG_BRINGUP) !== DIG_BRINGUP) return { why: `DIG_POWER ${hex(d)} lacks bits ${hex(DIG_BRINGUP & ~d)} of the bring-up's 0x0060 (step 6; their meaning is not among the facts)` };
    const ad = this.peek(ADCDAC_CTRL);
    if (ad & ADCDAC_CLEARED) return { why: `ADCDAC_CTRL ${hex(ad)}: bits 0x000C still set (reset 0x020C; the bring-up clears them, step 6; their meaning is not among the facts)` };
    const ctl = this.peek(ANA_CTRL);
    if (ctl & HP_SELECT) return { why: 'headphone not fed from the DAC (ANA_CTRL bit 6 = 1)' };
    if (ctl & HP_MUTE) return { why: 'headphone muted (ANA_CTRL bit 4; resets muted, 0x0111)' };
    const side = ch === 0 ? 'left' : 'right';
    const code = ch === 0 ? this.peek(DAC_VOL) & 0xff : this.peek(DAC_VOL) >> 8;
    const lvl = Sgtl5000Model.dacLevel(code);
    if (lvl === 'mute') return { why: `${side} DAC volume code 0x${code.toString(16).toUpperCase()}: mute (≥ 0xFC)` };
    if (lvl === 'reserved') return { why: `${side} DAC volume code 0x${code.toString(16).toUpperCase()}: reserved (≤ 0x3B)` };
    if (lvl === 'unknown') return { why: `${side} DAC volume code 0x${code.toString(16).toUpperCase()}: between 0xF0 and 0xFC, not among the facts` };
    const hp = ch === 0 ? this.peek(HP_VOL) & 0x7f : (this.peek(HP_VOL) >> 8) & 0x7f;
    return { gain: dbToLinear(lvl + 12 - hp * 0.5) };
  }

  private hpPath(): AnalogPath {
    const c = [this.hpChannel(0), this.hpChannel(1)];
    const gains = c.map((x) => ('gain' in x ? x.gain : 0));
    if (gains.some((g) => g > 0)) return { gains };
    const w = c.map((x) => ('why' in x ? x.why : ''));
    return silent(2, w[0] === w[1] ? w[0]! : `left: ${w[0]}; right: ${w[1]}`);
  }

  clockCheck(link: I2sFormat | undefined): string | undefined {
    const mclk = this.env.mclkHz?.();
    if (mclk === undefined) return 'SGTL5000: no master clock (MCLK) runs';
    const clk = this.peek(CLK_CTRL);
    if (clk !== CLOCK_48K.clkCtrl || mclk !== CLOCK_48K.mclkHz) {
      return `SGTL5000: CLK_CTRL ${hex(clk)} with a ${mclk} Hz MCLK: only 0x0008 with 12.288 MHz (48 kHz) is among the facts: cannot tell the rate`;
    }
    const i2s = this.peek(I2S_CTRL);
    if ((i2s & ~I2S_MASTER) !== I2S_16BIT) return `SGTL5000: I2S_CTRL ${hex(i2s)}: only 0x0130 (16-bit I2S; | 0x0080 master) is among the facts: word length unknown`;
    const master = (i2s & I2S_MASTER) !== 0;
    if (!link) return master ? undefined : 'SGTL5000: no bit clock: the codec is an I2S slave (I2S_CTRL bit 7 = 0) and needs the host\'s clocks';
    if (link.bits !== 16) return `SGTL5000: word length 16-bit (I2S_CTRL 0x0130) but the link carries ${link.bits}-bit words`;
    if (link.rate !== CLOCK_48K.rate) return `SGTL5000: CLK_CTRL 0x0008 with 12.288 MHz plays 48000 Hz, but the link runs at ${link.rate} Hz`;
    return undefined;
  }
}
