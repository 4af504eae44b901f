/** PCM5102A driver: pins only (./description.ts); the one hook drives FLT where a board wires it. */
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

export class Pcm5102aDriver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
    this.hooks.set('filter', async () => {
      const line = ctx.gpio.get('filter-select');
      const filter = this.option('filter', ['normal', 'low-latency'] as const, 'normal');
      line?.request.setValue(line.offset, filter === 'low-latency' ? 1 : 0);
    });
  }
}
