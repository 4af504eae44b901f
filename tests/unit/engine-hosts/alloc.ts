/** Control host of the allocation test: the pass-through, plus 64 bytes of garbage every period. */
import type { Host, HostBuffer, HostContext, NegotiatedConfig, TimeInfo } from '../../../src/engine/types.ts';
import { createHost as passthrough } from '../../../examples/passthrough.ts';

/** Where the garbage goes, so that V8 cannot prove it unused and skip the allocation. */
export const sink: { last: Float64Array | undefined } = { last: undefined };

export function createHost(ctx: HostContext): Host {
  const inner = passthrough(ctx);
  return {
    process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number, time: TimeInfo, config: NegotiatedConfig): boolean {
      sink.last = new Float64Array(8); // 64 bytes of samples (plus the array's own header)
      return inner.process(inputs, outputs, frames, time, config);
    },
  };
}
