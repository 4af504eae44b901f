/**
 * Behavioural model of the stand-in "sim-codec" (a made-up part for the sim board, not a real
 * chip). Register map, as its one-page "datasheet" (this comment) defines it:
 *   0x00 CHIP_ID   read-only, reads 0x5A
 *   0x01 VOL_L     0x00 = 0 dB ... 0.5 dB steps ... 0xFE = -127 dB, 0xFF = mute (reset 0xFF)
 *   0x02 VOL_R     as VOL_L
 *   0x03 POWER     bit0 = DAC on, bit1 = ADC on (reset 0)
 *   0x04 FORMAT    bits[1:0] word length: 0 = 16, 1 = 20, 2 = 24, 3 = 32 bits (reset 0)
 *   0x05 RATE      sample rate / 1000, rounded (reset 48)
 * Register pointer auto-increments.
 */
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

export class SimCodecModel extends PointerRegisterDevice {
  readonly regs = new Uint8Array(8);

  constructor() {
    super(0x07);
    this.reset();
  }

  reset(): void {
    this.regs.set([0x5a, 0xff, 0xff, 0x00, 0x00, 48, 0, 0]);
  }

  protected store(reg: number, value: number): void {
    if (reg !== 0x00) this.regs[reg] = value; // CHIP_ID is read-only
  }

  protected load(reg: number): number {
    return this.regs[reg]!;
  }
}
