/**
 * Behavioural model of the TI PCM5122 on the simulated I2C bus, written from the chip's facts
 * (shared/spec/codecs.md, PCM512x), independently of the driver: it does not import the driver's
 * register map, so a wrong address in one is caught by the other.
 *
 * What it models:
 *  - 8-bit register pointer, 8-bit data; register 0 of every page is the page select
 *    (pages 0, 1 and 44 exist; a write of another page number is ignored);
 *  - page 0 reg 2 (RQST bit 4 standby, RQPD bit 0 powerdown) and reg 3 (RQML bit 4, RQMR bit 0);
 *  - page 0 reg 108, the analog mute detect: read-only and volatile; bits [1:0] are set while the
 *    outputs play and read 0 once both channels are in analog mute. The soft-mute ramp is modelled
 *    as a number of reads (`settleReads`) before the bits follow a mute or unmute request: the real
 *    ramp time is not among the facts, and the driver's only contract is to poll until it settles.
 * What it does not know: the reset value of any register (not among the facts). Every register
 * starts at 0x00 here, a stand-in; tests never depend on it. Multi-byte accesses auto-increment
 * the pointer (a stand-in too: the chip's auto-increment rule is not among the facts).
 */
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const PAGE_SELECT = 0;
const PAGES = [0, 1, 44];
const REG_POWER = 2, REG_MUTE = 3, REG_ANALOG_MUTE_DET = 108;
const RQST = 1 << 4, RQPD = 1 << 0, RQML = 1 << 4, RQMR = 1 << 0;
const STANDIN_RESET = 0x00;

export interface Pcm5122ModelOptions {
  /** Reg 108 follows a mute/unmute request on this read after the request (default 3). */
  settleReads?: number;
  /** Fault: the analog mute detect never changes (the driver's poll must time out, bounded). */
  stuckAnalogMute?: boolean;
}

export class Pcm5122Model extends PointerRegisterDevice {
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

  constructor(opts: Pcm5122ModelOptions = {}) {
    super();
    this.settleReads = opts.settleReads ?? 3;
    this.stuck = opts.stuckAnalogMute ?? false;
    this.reset();
  }

  reset(): void {
    for (const p of PAGES) this.pages.set(p, new Uint8Array(256).fill(STANDIN_RESET));
    this.page = 0;
    this.pointer = 0;
    this.analogActive = 0;
    this.ramp = undefined;
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
    this.pages.get(this.page)![reg] = value;
    this.writes.push({ page: this.page, reg, value });
    this.afterWrite();
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
}
