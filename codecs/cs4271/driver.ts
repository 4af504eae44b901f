/**
 * CS4271 driver: the description (./description.ts) plus nothing: the probe, the volumes with their mute
 * bits and the sequences are data.
 */
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Cs4271Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }
}
