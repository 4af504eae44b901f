/**
 * Example host: capture to playback with a gain in dB (clipped at full scale).
 *
 *   sbc-audio run --board sim --host examples/gain.ts --option db=-6 --seconds 2
 *
 * Options: db (default -6). Integer formats are rounded to the nearest step.
 */
import type { Host, HostBuffer, HostContext } from '../src/engine/types.ts';

/** The options createHost reads (`sbc-audio run --option KEY=VALUE` refuses any other). */
export const hostOptions = { db: 'dB, default -6' };

export function createHost(ctx: HostContext): Host {
  const opts = (ctx.options ?? {}) as { db?: number };
  const gain = 10 ** (Number(opts.db ?? -6) / 20);
  const { inputChannels: inCh, outputChannels: outCh, interleaved, format } = ctx.config;
  const common = Math.min(inCh, outCh);
  const min = format === 'i16' ? -32768 : format === 'i32' ? -2147483648 : -1;
  const max = format === 'i16' ? 32767 : format === 'i32' ? 2147483647 : 1;
  const round = format !== 'f32';
  const settings = { gain, min, max };
  return {
    process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number): boolean {
      const g = settings.gain;
      const lo = settings.min;
      const hi = settings.max;
      for (let c = 0; c < common; c++) {
        const src = interleaved ? inputs[0]! : inputs[c]!;
        const dst = interleaved ? outputs[0]! : outputs[c]!;
        const srcStep = interleaved ? inCh : 1;
        const dstStep = interleaved ? outCh : 1;
        let si = interleaved ? c : 0;
        let di = interleaved ? c : 0;
        for (let f = 0; f < frames; f++) {
          let v = src[si]! * g;
          if (round) v = Math.round(v);
          dst[di] = v < lo ? lo : v > hi ? hi : v;
          si += srcStep;
          di += dstStep;
        }
      }
      return true;
    },
  };
}
