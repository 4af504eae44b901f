/**
 * TLV320AIC3104 driver: the description (./description.ts) plus nothing: everything (the probe, paged
 * volumes with their mute bits, the power sequences, the group delays) is data.
 */
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Tlv320aic3104Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }
}
