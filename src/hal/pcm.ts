/**
 * PCM devices: the HAL contract every PCM backend (libasound, simulated) meets.
 *
 * Opening is a negotiation, as in ALSA's hw_params: the caller asks for a rate, channels,
 * format, period and buffer size; the device may choose other period and buffer sizes (and
 * refuses what it cannot do at all); the chosen configuration comes back on the stream.
 *
 * I/O never blocks the event loop: `write`/`read` move what fits now and return the frame
 * count. `wait` resolves when at least `availMin` frames can move. `waitSync` blocks the calling
 * thread and is for the engine's own worker thread only.
 */
import { ERRNO } from '../util/errno.ts';

export type SampleFormat = 'S16_LE' | 'S24_LE' | 'S24_3LE' | 'S32_LE' | 'FLOAT_LE';
export type PcmDirection = 'playback' | 'capture';
export type PcmAccess = 'rw' | 'mmap';

/** Bytes per sample of each format (S24_LE is 24 bits in a 32-bit container). */
export const SAMPLE_BYTES: Readonly<Record<SampleFormat, number>> = {
  S16_LE: 2,
  S24_LE: 4,
  S24_3LE: 3,
  S32_LE: 4,
  FLOAT_LE: 4,
};

export interface PcmRequest {
  direction: PcmDirection;
  rate: number;
  channels: number;
  format: SampleFormat;
  /** Preferred period in frames; the device picks the nearest it supports. */
  periodFrames: number;
  /** Preferred buffer in frames; the device picks the nearest it supports. */
  bufferFrames: number;
  access?: PcmAccess;
  /** Frames of avail that make `wait` return (default: one period). */
  availMin?: number;
  /** Frames queued before playback starts by itself (default: buffer size; Infinity: only start()). */
  startThreshold?: number;
}

export interface PcmConfig {
  readonly direction: PcmDirection;
  readonly rate: number;
  readonly channels: number;
  readonly format: SampleFormat;
  readonly periodFrames: number;
  readonly bufferFrames: number;
  readonly access: PcmAccess;
  readonly frameBytes: number;
  readonly availMin: number;
  readonly startThreshold: number;
}

export type PcmState = 'open' | 'setup' | 'prepared' | 'running' | 'xrun' | 'draining' | 'paused' | 'suspended' | 'disconnected';

/** A status snapshot; pass one to `status()` to have it filled without allocating. */
export interface PcmStatus {
  state: PcmState;
  /** Frames that can be written (playback) or read (capture) now. */
  avail: number;
  /** Frames between the application pointer and the sound leaving (entering) the device. */
  delay: number;
  /** CLOCK_MONOTONIC ns of the last start/stop trigger (0 if none). */
  triggerNs: number;
  /** CLOCK_MONOTONIC ns when this snapshot was taken. */
  hostNs: number;
  /** Device (audio) time in ns since the trigger, from the hardware pointer; NaN where unknown. */
  audioNs: number;
  /** Underruns (playback) or overruns (capture) since open. */
  xruns: number;
}

export function emptyPcmStatus(): PcmStatus {
  return { state: 'open', avail: 0, delay: 0, triggerNs: 0, hostNs: 0, audioNs: Number.NaN, xruns: 0 };
}

export class PcmError extends Error {
  constructor(readonly device: string, readonly op: string, message: string, readonly errno?: number) {
    super(`PCM ${device} ${op}: ${message}`);
    this.name = 'PcmError';
  }
}

/** Thrown by read/write when the stream is in xrun; call `recover()` and go on. */
export class PcmXrunError extends PcmError {
  constructor(device: string, op: string, readonly direction: PcmDirection) {
    super(device, op, direction === 'playback' ? 'underrun' : 'overrun', -ERRNO.EPIPE);
    this.name = 'PcmXrunError';
  }
}

export interface PcmStream {
  readonly device: string;
  readonly config: PcmConfig;
  /** Copies up to `frames` frames from `data` (interleaved bytes) into the device; returns frames taken. */
  write(data: Uint8Array, frames: number): number;
  /** Copies up to `frames` frames from the device into `data`; returns frames given. */
  read(data: Uint8Array, frames: number): number;
  avail(): number;
  delay(): number;
  status(into?: PcmStatus): PcmStatus;
  prepare(): void;
  start(): void;
  /** Stops at once, dropping what is queued. */
  drop(): void;
  /** Plays out what is queued, then stops. */
  drain(): Promise<void>;
  /** Recovers from an xrun (re-prepares; capture restarts). */
  recover(): void;
  /** Resolves true when avail ≥ availMin, false on timeout. */
  wait(timeoutMs: number): Promise<boolean>;
  /** Blocking wait for the engine's worker thread. */
  waitSync(timeoutMs: number): boolean;
  close(): void;
}

export interface PcmBackend {
  /** 'alsa' or 'sim'. */
  readonly kind: string;
  open(device: string, request: PcmRequest): Promise<PcmStream>;
}

export function frameBytes(format: SampleFormat, channels: number): number {
  return SAMPLE_BYTES[format] * channels;
}
