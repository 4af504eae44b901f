/**
 * CS4271 driver: the description (./description.ts) plus a probe. The volumes with their mute
 * bits and the sequences are data.
 */
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Cs4271Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }

  /** The chip must answer on its address (a read of VOLA). */
  override async probe(): Promise<void> {
    try {
      await this.map.readFromChip('VOLA');
    } catch (e) {
      throw new CodecError(this.part, `no CS4271 answering at 0x${this.ctx.addr!.toString(16)} on ${this.ctx.bus!.name}: ${(e as Error).message}`);
    }
  }
}
