/** Test host: passes input through (interleaved i16) and returns false after options.periods calls. */
import type { Host, HostBuffer, HostContext } from '../../../src/engine/types.ts';

export function createHost(ctx: HostContext): Host {
  const limit = (ctx.options as { periods: number }).periods;
  const state = { calls: 0 };
  return {
    process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[]): boolean {
      if (inputs[0] && outputs[0]) (outputs[0] as Int16Array).set(inputs[0] as Int16Array);
      state.calls++;
      return state.calls < limit;
    },
    dispose() {
      ctx.post({ calls: state.calls });
    },
  };
}
