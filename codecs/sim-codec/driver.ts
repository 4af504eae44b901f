/** Driver of the stand-in "sim-codec": its description (./description.ts) plus two hooks. */
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext, StreamFormat } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class SimCodecDriver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
  }

  override async probe(): Promise<void> {
    const id = await this.map.readFromChip('CHIP_ID');
    if (id !== 0x5a) throw new CodecError(this.part, `chip id 0x${id.toString(16)} at 0x${this.ctx.addr!.toString(16)}, expected 0x5a`);
  }

  protected override async applyFormat(fmt: StreamFormat): Promise<void> {
    await this.map.writeBatch([
      { reg: 'FORMAT', value: this.map.compose('FORMAT', { WLEN: String(fmt.bits) }) },
      { reg: 'RATE', value: Math.round(fmt.rate / 1000) },
    ]);
  }
}
