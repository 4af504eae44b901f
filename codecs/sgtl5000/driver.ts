/**
 * SGTL5000 driver: the description (./description.ts) plus nothing: the probe is data. The rule "no I2C access
 * before MCLK runs" is the register-map layer's bus gate (description.clocks.mclkBeforeBus):
 * until the host calls setMclkRunning(true), or the board says codec.options.mclk =
 * "free-running", every register access fails at once, naming the rule, and nothing is sent.
 */
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Sgtl5000Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }
}
