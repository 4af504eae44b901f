/**
 * SGTL5000 driver: the description (./description.ts) plus a probe. The rule "no I2C access
 * before MCLK runs" is the register-map layer's bus gate (description.clocks.mclkBeforeBus):
 * until the host calls setMclkRunning(true), or the board says codec.options.mclk =
 * "free-running", every register access fails at once, naming the rule, and nothing is sent.
 */
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Sgtl5000Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }

  /** The chip must answer on its address (a 16-bit read of the DAC volume register). */
  override async probe(): Promise<void> {
    try {
      await this.map.readFromChip('DAC_VOL');
    } catch (e) {
      throw new CodecError(this.part, `no SGTL5000 answering at 0x${this.ctx.addr!.toString(16)} on ${this.ctx.bus!.name}: ${(e as Error).message}`);
    }
  }
}
