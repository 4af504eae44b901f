/** Driver of the stand-in "sim-codec": its description (./description.ts) plus its format hook. */
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext, StreamFormat } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class SimCodecDriver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }

  protected override async applyFormat(fmt: StreamFormat): Promise<void> {
    await this.map.writeBatch([
      { reg: 'FORMAT', value: this.map.compose('FORMAT', { WLEN: String(fmt.bits) }) },
      { reg: 'RATE', value: Math.round(fmt.rate / 1000) },
    ]);
  }
}
