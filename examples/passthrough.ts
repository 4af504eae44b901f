/**
 * Example host: capture to playback, unchanged (bit-exact when the host format is the PCM's).
 *
 *   sbc-audio run --board sim --host examples/passthrough.ts --seconds 2
 *
 * Channels beyond the input's are left silent; inputs beyond the output's are dropped.
 * Allocation-free: TypedArray.set between arrays of one type copies without a view.
 */
import type { Host, HostBuffer, HostContext } from '../src/engine/types.ts';

/** It reads no options (`sbc-audio run --option KEY=VALUE` refuses any). */
export const hostOptions = {};

export function createHost(ctx: HostContext): Host {
  const { inputChannels: inCh, outputChannels: outCh, interleaved } = ctx.config;
  const common = Math.min(inCh, outCh);
  return {
    process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number): boolean {
      if (interleaved) {
        const src = inputs[0];
        const dst = outputs[0];
        if (!src || !dst) return true;
        if (inCh === outCh) (dst as Float32Array).set(src as Float32Array);
        else {
          for (let f = 0; f < frames; f++) {
            for (let c = 0; c < common; c++) dst[f * outCh + c] = src[f * inCh + c]!;
          }
        }
      } else {
        for (let c = 0; c < common; c++) (outputs[c] as Float32Array).set(inputs[c] as Float32Array);
      }
      return true;
    },
  };
}
