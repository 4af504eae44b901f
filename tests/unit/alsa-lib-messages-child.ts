/**
 * Child process of alsa-lib-messages.test.ts: alsa-lib prints with C stdio to file descriptor 2, which
 * only a separate process can observe. argv[2] names a case; prints one JSON line on stdout.
 * - captured PCM: opens PCM argv[3] through AlsaPcm.open (messages caught) and reports the error.
 * - worker PCM: the same inside a worker thread (the engine opens its PCMs on its own thread).
 * - raw PCM: snd_pcm_open called directly, no capture (the control: alsa-lib prints to stderr).
 * - captured then raw: a capture, then a raw open: the handler must be gone after the capture.
 * - sequencer / mixer / control: the other opens that capture.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { AlsaError, asound, SND_PCM_STREAM_PLAYBACK } from '../../src/hal/linux/alsa/libasound.ts';
import { AlsaPcm } from '../../src/hal/linux/alsa/pcm.ts';
import { AlsaControl, AlsaMixer } from '../../src/hal/linux/alsa/control.ts';
import { AlsaPcmBackend } from '../../src/hal/linux/alsa/pcm-backend.ts';
import { tsWorker } from '../../src/util/worker.ts';

interface Outcome {
  message?: string;
  alsaMessages?: readonly { text: string; function: string }[];
  rc?: number;
  opened?: boolean;
}

function attempt(fn: () => unknown): Outcome {
  try {
    const h = fn() as { close?: () => unknown } | undefined;
    h?.close?.();
    return { opened: true };
  } catch (e) {
    if (e instanceof AlsaError) return { message: e.message, alsaMessages: e.alsaMessages };
    return { message: (e as Error).message };
  }
}

function rawOpen(name: string): Outcome {
  const out: [unknown] = [null];
  const rc = asound().pcmOpen(out, name, SND_PCM_STREAM_PLAYBACK, 0);
  if (rc >= 0) asound().pcmClose(out[0]);
  return { rc };
}

async function run(kind: string, name: string): Promise<unknown> {
  switch (kind) {
    case 'captured': return attempt(() => AlsaPcm.open(name, 'playback'));
    case 'backend': {
      try {
        const s = await new AlsaPcmBackend().open(name, { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 256, bufferFrames: 1024 });
        await s.close();
        return { opened: true };
      } catch (e) {
        return { message: (e as Error).message };
      }
    }
    case 'raw': return rawOpen(name);
    case 'captured-then-raw': return { captured: attempt(() => AlsaPcm.open(name, 'playback')), raw: rawOpen(name) };
    case 'control': return attempt(() => AlsaControl.open(name));
    case 'mixer': return attempt(() => AlsaMixer.open(name));
    case 'worker': {
      const w = tsWorker(new URL(import.meta.url), { workerData: { kind: 'captured', name } });
      const result = await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      await w.terminate();
      return result;
    }
    default: throw new Error(`unknown case ${kind}`);
  }
}

if (isMainThread) {
  const result = await run(process.argv[2]!, process.argv[3]!);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const { kind, name } = workerData as { kind: string; name: string };
  parentPort!.postMessage(await run(kind, name));
}
