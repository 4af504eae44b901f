/**
 * PCM5122 driver: the description (./description.ts) plus the hooks the chip needs.
 */
import { DescribedCodec } from '../../src/codec/driver.ts';
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

  protected override async applyFormat(_fmt: StreamFormat): Promise<void> {
    // The word-length and format registers are not among the collected facts (codecs/pcm5122/FACTS.md), so the
    // chip's own setting is left as it is; the format was checked against the part's ranges.
  }
}
