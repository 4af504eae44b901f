/**
 * Bench host (bench/plugin-chain.ts): a stream's plugin chain (src/dsp/chain.ts) on the engine's
 * thread, as the stream bridge runs it, over a test signal written into the period buffer each
 * period (a few tones, a different loop per channel). With no stages it only writes the signal:
 * the baseline the chain's own CPU is measured against.
 */
import { type ChainStageSpec, PluginChain, chainStatsBytes } from '../src/dsp/chain.ts';
import type { Host, HostBuffer, HostContext } from '../src/engine/types.ts';

export function createHost(ctx: HostContext): Host {
  const { outputChannels: ch, bufferFrames: period, rate, format } = ctx.config;
  const stages = (ctx.options as { stages: ChainStageSpec[] }).stages;
  const chain = stages.length ? new PluginChain({ stages, stats: new SharedArrayBuffer(chainStatsBytes()) }, rate, ch, period) : undefined;
  const loop = new Float32Array(rate * ch);
  for (let i = 0; i < rate; i++) {
    for (let c = 0; c < ch; c++) loop[i * ch + c] = 0.2 * Math.sin((2 * Math.PI * (220 + 110 * c) * i) / rate) + 0.1 * Math.sin((2 * Math.PI * 5000 * i) / rate);
  }
  const scale = format === 'i16' ? 32767 : format === 'i32' ? 2147483647 : 1;
  let at = 0;
  return {
    process(_inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number): boolean {
      const out = outputs[0]!;
      for (let i = 0; i < frames * ch; i++) {
        out[i] = scale === 1 ? loop[at]! : Math.round(loop[at]! * scale);
        at = at + 1 === loop.length ? 0 : at + 1;
      }
      if (chain) {
        chain.process(out, format, ch, 0, frames);
        chain.endPeriod();
      }
      return true;
    },
    dispose() {
      chain?.dispose();
    },
  };
}
