/**
 * Test host: from the period named in options.at on, process() sets flag[0] = 1 and then blocks
 * (options.mode 'wait': for options.ms; 'spin': forever) — to stop the engine while it is inside.
 */
import type { Host, HostContext } from '../../../src/engine/types.ts';

export function createHost(ctx: HostContext): Host {
  const o = ctx.options as { flag: SharedArrayBuffer; at: number; ms: number; mode: 'wait' | 'spin' };
  const flag = new Int32Array(o.flag);
  const state = { calls: 0, completed: 0 };
  return {
    process(): boolean {
      state.calls++;
      if (state.calls === o.at) {
        Atomics.store(flag, 0, 1);
        if (o.mode === 'spin') for (;;) Atomics.add(flag, 1, 1);
        Atomics.wait(flag, 2, 0, o.ms);
        Atomics.store(flag, 0, 2);
      }
      state.completed++;
      return true;
    },
    dispose() {
      ctx.post({ calls: state.calls, completed: state.completed });
    },
  };
}
