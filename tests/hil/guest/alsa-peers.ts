/**
 * Helpers of the ALSA guest checks: running the alsa-utils peers (aplay, arecord, amixer) and
 * moving a whole signal through one of our PCM streams. Test code: it allocates freely.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { PcmStream } from '../../../src/hal/pcm.ts';

export const RATE = 48000;
export const CHANNELS = 2;
export const FRAME_BYTES = 4;

export interface Peer {
  child: ChildProcess;
  /** Resolves with the exit code; rejects if it cannot start. */
  done: Promise<number>;
  stderr(): string;
}

/** Starts an alsa-utils tool; `done` resolves with its exit code (killed after `timeoutMs`). */
export function runPeer(cmd: string, args: string[], timeoutMs = 30000): Peer {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const done = new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  return { child, done, stderr: () => err };
}

/**
 * Waits until the kernel reports a substream of a card RUNNING (/proc/asound/CARD/pcmNp|c/subS/status),
 * so that a peer's capture is live before the signal is played.
 */
export async function waitForRunning(card: string, device: number, direction: 'p' | 'c', sub = 0, timeoutMs = 10000): Promise<void> {
  const file = `/proc/asound/${card}/pcm${device}${direction}/sub${sub}/status`;
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (existsSync(file) && /state: RUNNING/.test(readFileSync(file, 'utf8'))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${file} did not show RUNNING within ${timeoutMs} ms`);
}

/** Plays all of `bytes` through a playback stream (non-blocking writes + wait), then drains. */
export async function playAll(stream: PcmStream, bytes: Uint8Array): Promise<void> {
  const fb = stream.config.frameBytes;
  const total = bytes.length / fb;
  let done = 0;
  while (done < total) {
    let n: number;
    try {
      n = stream.write(bytes.subarray(done * fb), total - done);
    } catch (e) {
      const st = stream.status();
      throw new Error(`${(e as Error).message} at frame ${done} of ${total} (state ${st.state}, avail ${st.avail}, delay ${st.delay}, ` +
        `${((st.hostNs - st.triggerNs) / 1e6).toFixed(1)} ms after the trigger)`, { cause: e });
    }
    done += n;
    if (done < total && !(await stream.wait(2000))) throw new Error(`playback stalled at frame ${done} of ${total}`);
  }
  await stream.drain();
}

/** Reads `frames` frames from a capture stream into one buffer (non-blocking reads + wait). */
export async function captureFrames(stream: PcmStream, frames: number): Promise<Uint8Array> {
  const fb = stream.config.frameBytes;
  const out = new Uint8Array(frames * fb);
  let done = 0;
  while (done < frames) {
    let n: number;
    try {
      n = stream.read(out.subarray(done * fb), frames - done);
    } catch (e) {
      const st = stream.status();
      throw new Error(`${(e as Error).message} at frame ${done} of ${frames} (state ${st.state}, avail ${st.avail}, ` +
        `${((st.hostNs - st.triggerNs) / 1e6).toFixed(1)} ms after the trigger)`, { cause: e });
    }
    done += n;
    if (done < frames && n === 0 && !(await stream.wait(2000))) throw new Error(`capture stalled at frame ${done} of ${frames}`);
  }
  return out;
}
