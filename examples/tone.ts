/**
 * Example host: a sine tone on every output channel.
 *
 *   sbc-audio run --board sim --host examples/tone.ts --seconds 2
 *
 * Options (RunOptions host.options / `--option key=value`): freq (Hz, default 440), level (dBFS,
 * default -12). Allocation-free per period: the phase is a number, the buffers are the engine's.
 */
import type { Host, HostContext, HostBuffer } from '../src/engine/types.ts';

/** The options createHost reads (`sbc-audio run --option KEY=VALUE` refuses any other). */
export const hostOptions = { freq: 'Hz, default 440', level: 'dBFS, default -12' };

export function createHost(ctx: HostContext): Host {
  const opts = (ctx.options ?? {}) as { freq?: number; level?: number };
  const freq = Number(opts.freq ?? 440);
  const amplitude = 10 ** (Number(opts.level ?? -12) / 20);
  const { rate, outputChannels: channels, interleaved, format } = ctx.config;
  // Scale to the host format's full scale; float hosts get -1..1.
  const scale = format === 'i16' ? 32767 : format === 'i32' ? 2147483647 : 1;
  const step = (2 * Math.PI * freq) / rate;
  const state = { phase: 0 };
  return {
    process(_inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number): boolean {
      let phase = state.phase;
      for (let f = 0; f < frames; f++) {
        const v = amplitude * Math.sin(phase) * scale;
        const s = scale === 1 ? v : Math.round(v);
        if (interleaved) {
          const out = outputs[0]!;
          for (let c = 0; c < channels; c++) out[f * channels + c] = s;
        } else {
          for (let c = 0; c < channels; c++) outputs[c]![f] = s;
        }
        phase += step;
        if (phase >= 2 * Math.PI) phase -= 2 * Math.PI;
      }
      state.phase = phase;
      return true;
    },
  };
}
