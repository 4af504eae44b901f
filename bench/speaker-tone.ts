/**
 * The benches' client (bench/control-storm.ts, bench/encoder-turn.ts): a tone on the sim board's
 * speaker through the stream service for the whole run (a 2 s ring buffer: the client's own timer,
 * on a busy main thread, is never what runs short), the engine the service started for it, and a
 * mark of its counters with the board clock and the hypervisor's steal.
 */
import path from 'node:path';
import type { EngineDevice } from '../src/engine/driver.ts';
import type { Clock } from '../src/hal/clock.ts';
import { playSamples, toneSamples } from '../src/stream/player.ts';
import { stealTicks } from './proc-stat.ts';

/** The engine's counters at a moment, the board clock then, and the hypervisor's steal so far. */
export interface Mark { periods: number; underruns: number; overruns: number; ns: number; stealTicks?: number }

export interface SpeakerTone {
  /** The engine playing the tone. */
  engine: EngineDevice;
  mark(): Mark;
  /** Whether the client still plays (it has neither ended nor failed). */
  playing(): boolean;
  error(): Error | undefined;
  /** Stops the client. */
  stop(): Promise<void>;
}

/** Starts the tone (440 Hz, −12 dBFS, `seconds` long) and resolves once the service's engine for it runs. */
export async function playSpeakerTone(runtimeDir: string, seconds: number, devices: readonly EngineDevice[], clock: Clock): Promise<SpeakerTone> {
  let started!: () => void;
  const opened = new Promise<void>((r) => { started = r; });
  const abort = new AbortController();
  const play = playSamples({
    endpoint: path.join(runtimeDir, 'audio-output', 'sim.speaker'), rate: 48000, channels: 2, bufferMs: 2000, signal: abort.signal,
    onOpen: () => started(),
  }, toneSamples(440, seconds, 48000, 2, -12));
  let error: Error | undefined;
  let ended = false;
  play.then(() => { ended = true; }, (e: Error) => { error = e; ended = true; started(); });
  await opened;
  const engine = devices.find((d) => d.info.name === 'speaker');
  if (!engine) throw new Error(error ? `the client failed: ${error.message}` : 'no engine started for sim.speaker');
  return {
    engine,
    mark() {
      const steal = stealTicks();
      return { ...engine.stats(), ns: clock.nowNs(), ...(steal !== undefined ? { stealTicks: steal } : {}) };
    },
    playing: () => !ended,
    error: () => error,
    async stop() {
      abort.abort();
      await play.catch(() => undefined);
    },
  };
}

/** The hypervisor's steal between two marks, as the benches print it ("n/a" where /proc/stat has none). */
export function stealText(a: Mark, b: Mark): string {
  return a.stealTicks !== undefined && b.stealTicks !== undefined ? `${(b.stealTicks - a.stealTicks) * 10} ms` : 'n/a';
}
