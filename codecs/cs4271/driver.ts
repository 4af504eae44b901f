/**
 * CS4271 driver: the description (./description.ts) plus nothing: the probe, the bring-up (MODE2,
 * MODE1, ADCCTL with the 85 µs wait), the volumes with their mute bits and the power sequences are
 * data.
 */
import type { CodecDescription } from '../../src/codec/description.ts';
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Cs4271Driver extends DescribedCodec {
  /** `desc`: the part's description; tests pass deliberately broken copies of it. */
  constructor(ctx: CodecContext, desc: CodecDescription = description) {
    super(desc, ctx);
  }
}
