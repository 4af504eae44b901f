/** Test host: requests a reset at period options.at; reports reset() calls and latency notices. */
import type { Host, HostContext } from '../../../src/engine/types.ts';

export function createHost(ctx: HostContext): Host {
  const at = (ctx.options as { at: number }).at;
  const state = { calls: 0, resets: 0, latencyNotices: 0, callsAtReset: -1 };
  return {
    process(): boolean {
      state.calls++;
      if (state.calls === at) ctx.requestReset();
      return true;
    },
    reset() {
      state.resets++;
      state.callsAtReset = state.calls;
    },
    latencyChanged() {
      state.latencyNotices++;
    },
    dispose() {
      ctx.post({ ...state });
    },
  };
}
