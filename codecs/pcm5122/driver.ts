/**
 * PCM5122 driver: the description (./description.ts) plus the hooks the chip needs.
 */
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext, StreamFormat } from '../../src/codec/types.ts';
import { description } from './description.ts';

const FILTERS = ['normal', 'low-latency', 'high-attenuation', 'fixed-flow', 'asymmetric'] as const;
const DSP_PROGRAM = { normal: 1, 'low-latency': 2, 'high-attenuation': 3, 'fixed-flow': 5, asymmetric: 7 } as const;

export class Pcm5122Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
    this.hooks.set('filter', async () => {
      await this.map.write('DSP_PROGRAM', DSP_PROGRAM[this.filter()]);
    });
  }

  filter(): (typeof FILTERS)[number] {
    return this.option('filter', FILTERS, 'normal');
  }

  /** The chip must answer on its address, with working page selection (page 0 then page 1). */
  override async probe(): Promise<void> {
    try {
      await this.map.readFromChip('ANALOG_MUTE_DET');
      await this.map.readFromChip('ANALOG_GAIN_CTRL');
    } catch (e) {
      throw new CodecError(this.part, `no PCM5122 answering at 0x${this.ctx.addr!.toString(16)} on ${this.ctx.bus!.name}: ${(e as Error).message}`);
    }
  }

  protected override async applyFormat(_fmt: StreamFormat): Promise<void> {
    // The word-length and format registers are not among the collected facts (codecs.md), so the
    // chip's own setting is left as it is; the format was checked against the part's ranges.
  }
}
