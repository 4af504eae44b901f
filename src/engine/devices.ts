/**
 * What the engine can open: the devices of a board (its output streams, each paired with the
 * board's first input for full duplex, and its inputs alone) or ALSA PCMs named directly (no
 * board: no external delay). And how a thread builds the PCM backend for one: the engine's
 * worker builds its own, because HAL objects cannot cross threads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadCodecPart } from '../../codecs/index.ts';
import { latencyBreakdown } from '../board/latency.ts';
import { loadBoard } from '../board/load.ts';
import type { Board } from '../board/schema.ts';
import type { Clock } from '../hal/clock.ts';
import type { I2cBus } from '../hal/i2c.ts';
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

/** An I2C bus that refuses every transfer: latency figures come from the codec's data, never its chip. */
const NO_BUS = new Proxy({}, {
  get: (_t, prop) => (prop === 'then' ? undefined : () => {
    throw new EngineError('generic', 'the engine reads codec latency figures only and never touches the codec bus');
  }),
}) as unknown as I2cBus;

/** The board's external delay (codec + analog path) of each direction in ns; 0 without a board. */
export async function externalDelayNs(boardName: string | undefined, rate: number): Promise<{ input: number; output: number }> {
  if (!boardName) return { input: 0, output: 0 };
  const board = loadBoard(boardName);
  const part = await loadCodecPart(board.codec.part);
  const clock: Clock = { kind: 'virtual', nowNs: () => 0, sleepUntilNs: async () => {}, setTimerNs: () => ({ cancel() {} }), sleepUntilNsSync: () => {} };
  const codec = part.createDriver({
    clock, bus: board.codec.bus !== undefined ? NO_BUS : undefined, addr: board.codec.address, gpio: new Map(),
    options: board.codec.options, sleepMs: async () => {},
  });
  return {
    input: latencyBreakdown(board, codec, 'input', rate).totalNs,
    output: latencyBreakdown(board, codec, 'output', rate).totalNs,
  };
}

export interface BackendBuild {
  backend: PcmBackend;
  clock: Clock;
}

/**
 * Builds the PCM backend for a device in the calling thread. Sim: a SimPcmBackend on the
 * device's clock (a VirtualClock the blocking waits advance, or the real monotonic clock);
 * recording is capped at `recordFrames` (0 keeps nothing, so the record never grows).
 * ALSA: libasound through koffi (alsa/pcm-backend.ts), on the monotonic clock.
 */
export async function buildBackend(device: ResolvedDevice, recordFrames = 0): Promise<BackendBuild> {
  if (device.backend === 'sim') {
    const { SimPcmBackend, VirtualClock } = await import('../hal/sim/index.ts');
    const clock: Clock = device.clockLink
      ? new (await import('./linked-clock.ts')).LinkedClock(device.clockLink)
      : device.simClock === 'virtual'
      ? new VirtualClock(1e9, true)
      : new (await import('../hal/linux/clock.ts')).MonotonicClock();
    return { backend: new SimPcmBackend(clock, { maxRecordFrames: recordFrames }), clock };
  }
  const [{ AlsaPcmBackend }, { MonotonicClock }] = await Promise.all([import('../../alsa/pcm-backend.ts'), import('../hal/linux/clock.ts')]);
  return { backend: new AlsaPcmBackend(), clock: new MonotonicClock() };
}
