/**
 * What the engine can open: the devices of a board (its output streams, each paired with the
 * board's first input for full duplex, and its inputs alone) or ALSA PCMs named directly (no
 * board: no external delay). And how a thread builds the PCM backend for one: the engine's
 * worker builds its own, because HAL objects cannot cross threads.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Board } from '../board/schema.ts';
import type { Clock } from '../hal/clock.ts';
import type { PcmBackend } from '../hal/pcm.ts';
import { EngineError } from './errors.ts';
import type { DeviceInfo } from './types.ts';

/** A device with everything a worker needs to open it (plain data: it is posted to the worker). */
export interface ResolvedDevice extends DeviceInfo {
  /** The board it belongs to (absent for ALSA PCMs named directly). */
  board?: string;
  /** Sim devices: the clock the worker's simulated PCM runs on (see docs/engine.md). */
  simClock?: 'virtual' | 'monotonic';
  /**
   * Sim devices on a virtual clock: run on the starter's timeline in lock-step
   * (src/engine/linked-clock.ts) instead of a virtual clock of the worker's own.
   */
  clockLink?: SharedArrayBuffer;
  /** Sim devices: the I2S link the playback PCM writes, where the board's simulated chip listens. */
  i2sLink?: SharedArrayBuffer;
  /** Sim devices: the ADC gate the capture PCM applies (the simulated chip's input path). */
  adcGate?: SharedArrayBuffer;
}

/**
 * What the engine needs of an open board (src/board/runtime.ts's BoardRuntime is one): its file
 * and, as data, the external delay of each direction and the simulated I2S links. The engine
 * never opens a board itself: the process that did hands it over.
 */
export interface EngineBoard {
  readonly board: Board;
  externalDelayNs(direction: 'input' | 'output', rate: number): number;
  i2sLink?(pcm: string): SharedArrayBuffer | undefined;
  adcGate?(pcm: string): SharedArrayBuffer | undefined;
}

/** The devices of a board, in the order its streams are listed. */
export function boardDevices(board: Board): ResolvedDevice[] {
  const backend: 'sim' | 'alsa' = board.hal === 'sim' ? 'sim' : 'alsa';
  const simClock = backend === 'sim' ? (board.sim.virtualClock ? 'virtual' : 'monotonic') : undefined;
  const firstInput = board.streams.find((s) => s.direction === 'input');
  const out: ResolvedDevice[] = [];
  for (const s of board.streams) {
    if (s.direction === 'output') {
      out.push({
        name: s.id, backend, board: board.name, simClock, playback: s.pcm, capture: firstInput?.pcm,
        description: firstInput ? `${s.purpose} out (${s.pcm}) with ${firstInput.purpose} in (${firstInput.pcm})` : `${s.purpose} out (${s.pcm})`,
      });
    } else {
      out.push({ name: s.id, backend, board: board.name, simClock, capture: s.pcm, description: `${s.purpose} in (${s.pcm})` });
    }
  }
  for (const d of out) if (simClock === undefined) delete d.simClock;
  return out;
}

/**
 * The ALSA PCM devices the kernel lists in /proc/asound/pcm, as hw:CARD,DEV (both directions
 * where the device has both). Empty where there is no ALSA.
 */
export function alsaDevices(): ResolvedDevice[] {
  if (!existsSync('/proc/asound/pcm')) return [];
  const cardIds = new Map<number, string>();
  if (existsSync('/proc/asound/cards')) {
    for (const line of readFileSync('/proc/asound/cards', 'utf8').split('\n')) {
      const m = /^\s*(\d+)\s+\[(\S+)\s*\]/.exec(line);
      if (m) cardIds.set(Number(m[1]), m[2]!);
    }
  }
  const out: ResolvedDevice[] = [];
  for (const line of readFileSync('/proc/asound/pcm', 'utf8').split('\n')) {
    const m = /^(\d+)-(\d+): ([^:]*):/.exec(line);
    if (!m) continue;
    const card = Number(m[1]);
    const dev = Number(m[2]);
    const name = `hw:${cardIds.get(card) ?? card},${dev}`;
    out.push({
      name, backend: 'alsa',
      playback: /playback \d+/.test(line) ? name : undefined,
      capture: /capture \d+/.test(line) ? name : undefined,
      description: m[3]!.trim(),
    });
  }
  for (const d of out) for (const k of ['playback', 'capture'] as const) if (d[k] === undefined) delete d[k];
  return out;
}

/** An ALSA device named directly: one PCM for both directions, or one per direction. */
export function alsaDevice(spec: { name?: string; playback?: string; capture?: string }): ResolvedDevice {
  if (!spec.playback && !spec.capture) throw new EngineError('invalid-argument', 'an ALSA device needs a playback or a capture PCM name');
  const d: ResolvedDevice = {
    name: spec.name ?? [spec.playback, spec.capture].filter(Boolean).join('|'),
    backend: 'alsa', description: `ALSA ${[spec.playback && `out ${spec.playback}`, spec.capture && `in ${spec.capture}`].filter(Boolean).join(', ')}`,
  };
  if (spec.playback) d.playback = spec.playback;
  if (spec.capture) d.capture = spec.capture;
  return d;
}

export interface BackendBuild {
  backend: PcmBackend;
  clock: Clock;
}

/**
 * Builds the PCM backend for a device in the calling thread. Sim: a SimPcmBackend on the
 * device's clock (a VirtualClock the blocking waits advance, or the real monotonic clock);
 * recording is capped at `recordFrames` (0 keeps nothing, so the record never grows).
 * ALSA: libasound through the Linux HAL's PCM backend (src/hal/linux), on the monotonic clock.
 */
export async function buildBackend(device: ResolvedDevice, recordFrames = 0): Promise<BackendBuild> {
  if (device.backend === 'sim') {
    const { SimPcmBackend, VirtualClock } = await import('../hal/sim/index.ts');
    const clock: Clock = device.clockLink
      ? new (await import('./linked-clock.ts')).LinkedClock(device.clockLink)
      : device.simClock === 'virtual'
      ? new VirtualClock(1e9, true)
      : new (await import('../hal/linux/clock.ts')).MonotonicClock();
    const { i2sLink, adcGate } = device;
    return {
      backend: new SimPcmBackend(clock, {
        maxRecordFrames: recordFrames,
        i2sLink: (d) => (d === device.playback ? i2sLink : undefined),
        adcGate: (d) => (d === device.capture ? adcGate : undefined),
      }),
      clock,
    };
  }
  const { createLinuxPcmBackend, MonotonicClock } = await import('../hal/linux/index.ts');
  return { backend: createLinuxPcmBackend(), clock: new MonotonicClock() };
}
