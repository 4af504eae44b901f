/**
 * A host that moves audio between shared frame rings and the engine's PCM streams: the shape the
 * stream service takes as an engine host. Its clients write playback into one ring and read
 * capture from another; the engine pulls a period from the playback ring into the device and
 * pushes a period of capture into the capture ring, every period.
 *
 * Options: { playback?: SharedArrayBuffer, capture?: SharedArrayBuffer } holding FrameRings
 * (src/ringbuffer) whose frame size is the config's frame in the host format; the config must be
 * interleaved (the ring holds interleaved frames). A playback ring that runs dry yields silence
 * for the missing frames (counted: posted at dispose); a full capture ring drops the period's
 * frames that do not fit (counted too).
 *
 * Note: FrameRing.read/write copy through subarray views, which allocate a little per call;
 * until src/ringbuffer copies without views, this host is not allocation-free.
 */
import { FrameRing } from '../../ringbuffer/index.ts';
import { EngineError } from '../errors.ts';
import type { Host, HostBuffer, HostContext } from '../types.ts';

export interface RingBridgeOptions {
  playback?: SharedArrayBuffer;
  capture?: SharedArrayBuffer;
}

export function createHost(ctx: HostContext): Host {
  const o = (ctx.options ?? {}) as RingBridgeOptions;
  const c = ctx.config;
  if (!c.interleaved) throw new EngineError('invalid-argument', 'ring-bridge needs an interleaved config (the rings hold interleaved frames)');
  const bytesPerSample = c.format === 'i16' ? 2 : 4;
  const playRing = o.playback ? new FrameRing(o.playback) : undefined;
  const capRing = o.capture ? new FrameRing(o.capture) : undefined;
  if (playRing && playRing.frameBytes !== c.outputChannels * bytesPerSample) {
    throw new EngineError('invalid-argument', `playback ring frames are ${playRing.frameBytes} bytes, the config's are ${c.outputChannels * bytesPerSample}`);
  }
  if (capRing && capRing.frameBytes !== c.inputChannels * bytesPerSample) {
    throw new EngineError('invalid-argument', `capture ring frames are ${capRing.frameBytes} bytes, the config's are ${c.inputChannels * bytesPerSample}`);
  }
  // Byte views over the engine's buffers, made once: the engine hands the same arrays every period.
  const views: { out?: Uint8Array; outOf?: HostBuffer; inp?: Uint8Array; inpOf?: HostBuffer } = {};
  const counts = { silentFrames: 0, droppedFrames: 0 };
  return {
    process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number): boolean {
      if (playRing && outputs[0]) {
        const out = outputs[0];
        if (views.outOf !== out) {
          views.out = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
          views.outOf = out;
        }
        const got = playRing.read(views.out!, frames);
        if (got < frames) {
          views.out!.fill(0, got * playRing.frameBytes, frames * playRing.frameBytes);
          counts.silentFrames += frames - got;
        }
      }
      if (capRing && inputs[0]) {
        const inp = inputs[0];
        if (views.inpOf !== inp) {
          views.inp = new Uint8Array(inp.buffer, inp.byteOffset, inp.byteLength);
          views.inpOf = inp;
        }
        const put = capRing.write(views.inp!, frames);
        counts.droppedFrames += frames - put;
      }
      return true;
    },
    dispose() {
      ctx.post({ ringBridge: { ...counts } });
    },
  };
}
