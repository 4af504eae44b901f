/**
 * TLV320AIC3104 driver: the description (./description.ts) plus a probe. Everything else (paged
 * volumes with their mute bits, the power sequences, the group delays) is data.
 */
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Tlv320aic3104Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }

  /** The chip must answer on its address, through the page select (page 0 reg 43). */
  override async probe(): Promise<void> {
    try {
      await this.map.readFromChip('LEFT_DAC_VOL');
    } catch (e) {
      throw new CodecError(this.part, `no TLV320AIC3104 answering at 0x${this.ctx.addr!.toString(16)} on ${this.ctx.bus!.name}: ${(e as Error).message}`);
    }
  }
}
