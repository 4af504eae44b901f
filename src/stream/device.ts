/**
 * What the protocol core needs from one stream of a board: the SimpleAudioStream idea. The core
 * (core.ts) implements the protocol once — validation, ownership, paging, asking the codec control layer to round gains,
 * notifications — and a device only answers plain questions and applies already-checked
 * requests. `board-device.ts` builds devices from a BoardRuntime; unit tests use fakes.
 */
import type { FormatRange } from '../codec/types.ts';
import { I2cError } from '../hal/i2c.ts';
import type { ClientWatchFds } from './client-watch.ts';
import { STATUS } from './wire.ts';

export interface StreamDeviceInfo {
  direction: 'output' | 'input';
  /** The board file's purpose of the stream (EXT_GET_PURPOSE). */
  purpose?: string;
  /** The endpoint's name in its discovery directory, e.g. 'sim.headphone'. */
  endpointName: string;
  /** 16 bytes, the same every time the service starts for this board and stream. */
  uniqueId: Uint8Array;
  manufacturer: string;
  product: string;
  clockDomain: number;
}

/** Gain capabilities in the protocol's terms. A fixed-gain stream has min = max = step = 0. */
export interface GainCaps {
  canMute: boolean;
  canAgc: boolean;
  minGain: number;
  maxGain: number;
  gainStep: number;
}

export interface DeviceGainState {
  muted: boolean;
  agc: boolean;
  gainDb: number;
}

export interface PlugState {
  hardwired: boolean;
  canNotify: boolean;
  plugged: boolean;
  /** CLOCK_MONOTONIC ns of the last plug change (the GPIO event's kernel timestamp), or of service start. */
  timeNs: number;
}

/** A format a client asked for, already checked against the device's ranges. */
export interface RequestedFormat {
  fps: number;
  sampleFormat: number;
  channels: number;
  /** 0n = all channels. */
  channelsToUse: bigint;
}

export interface RingBufferResult<T> {
  /** A Zircon status (STATUS.*). */
  result: number;
  value: T;
}

/**
 * The ring-buffer seam (the real-time engine implements it). The core has already validated each
 * request's wire form; the engine applies the ring-buffer rules (GET_BUFFER only while stopped,
 * START needs a buffer, ...) and answers with a status.
 */
export interface RingBufferEngine {
  getFifoDepth(): Promise<RingBufferResult<{ fifoDepth: number }>>;
  /** On success `bufferPath` names the shared buffer file the client maps. */
  getBuffer(minFrames: number, notificationsPerRing: number): Promise<RingBufferResult<{ frames: number; bufferPath?: string }>>;
  start(): Promise<RingBufferResult<{ startTimeNs: number }>>;
  stop(): Promise<RingBufferResult<Record<string, never>>>;
  /** The channel closed: stop (output goes silent), free the buffer. Called once. */
  close(): Promise<void>;
  /** Whether START could succeed now (a buffer, not started); absent: unknown. The service powers the codec up only then. */
  canStart?(): boolean;
  /** Output: after a STOP, the board-clock time from which the output has played out what was read (the fade's end). */
  outputSilentFromNs?(): number | undefined;
  /** The last clock measurement, if any (EXT_RB_NOTIFY answers with it at once). */
  lastClock?(): { monotonicTimeNs: number; measuredFps: number; windowFrames: number } | undefined;
}

export interface RingBufferEvents {
  /** Sends POSITION_NOTIFY on the ring-buffer channel. */
  positionNotify(monotonicTimeNs: number, ringBufferPos: number): void;
  /** EXT_RB_ERROR (sent only if the client asked with EXT_RB_NOTIFY): kind RB_ERROR_KIND.*, a status, counts. */
  error?(monotonicTimeNs: number, kind: number, status: number, count: number, total: number): void;
  /** EXT_RB_CLOCK (same condition): the device's frame rate as measured against CLOCK_MONOTONIC. */
  clock?(monotonicTimeNs: number, measuredFps: number, windowFrames: number): void;
  /** The engine found the client gone (exiting, or its socket hung up) before the transport said so: close the channel. */
  clientGone?(): void;
}

/** What the transport offers about the ring-buffer channel's connection, beyond frames. */
export interface RingBufferChannel {
  /**
   * Descriptors through which an engine notices the client going (client-watch.ts), owned by
   * the caller (closeClientWatch), or undefined where the transport has none (in-process
   * connections, another OS). Only when called synchronously from createRingBuffer: later the
   * socket may be closed and its number reused.
   */
  openClientWatch?(): ClientWatchFds | undefined;
}

export interface StreamDevice {
  readonly info: StreamDeviceInfo;
  /** The ranges GET_FORMATS reports, in order. Constant for the device's life. */
  formats(): readonly FormatRange[];
  /** Configures the hardware for a checked format; resolves to the external delay (ns). */
  changeFormat(fmt: RequestedFormat): Promise<{ externalDelayNs: number }>;
  /** External delay at a rate, without changing anything (EXT_GET_EXTERNAL_DELAY): the sum of its known items. */
  externalDelayNs(fps: number): number;
  /** The items of the external delay at a rate that have no figure (EXT_GET_DELAY_INFO); none: complete. */
  unknownDelay?(fps: number): string[];
  gainCaps(): GainCaps;
  getGain(): Promise<DeviceGainState>;
  /**
   * The state getGain would answer, when the device can tell it now without waiting (no bus
   * access, no lock to queue for); undefined when it cannot, and then the caller asks getGain.
   * Optional: the core answers GET_GAIN from it in the same turn as the request, with no promise
   * in between (issue 26, bench/control-rtt.ts).
   */
  peekGain?(): DeviceGainState | undefined;
  /** Applies a checked, already step-rounded change; absent fields stay as they are. */
  setGain(change: { muted?: boolean; gainDb?: number }): Promise<DeviceGainState>;
  /** Gain changes made through any stream sharing this gain control. Returns the unsubscribe function. */
  onGainChange(listener: (s: DeviceGainState) => void): () => void;
  plugState(): PlugState;
  onPlugChange(listener: (s: PlugState) => void): () => void;
  /** A ring-buffer engine for a channel opened by a successful SET_FORMAT. */
  createRingBuffer(fmt: RequestedFormat, events: RingBufferEvents, channel?: RingBufferChannel): RingBufferEngine;
}

/**
 * A ring buffer for a service without audio: every command is validated on the wire by the core
 * and then answered NOT_SUPPORTED.
 */
export class NotSupportedRingBuffer implements RingBufferEngine {
  async getFifoDepth() {
    return { result: STATUS.NOT_SUPPORTED, value: { fifoDepth: 0 } };
  }
  async getBuffer() {
    return { result: STATUS.NOT_SUPPORTED, value: { frames: 0 } };
  }
  async start() {
    return { result: STATUS.NOT_SUPPORTED, value: { startTimeNs: 0 } };
  }
  async stop() {
    return { result: STATUS.NOT_SUPPORTED, value: {} };
  }
  async close() {}
}

/** A Zircon status for an error a device operation threw (an I2C NAK is IO_REFUSED, as the spec lists). */
export function statusForError(e: unknown): number {
  if (e instanceof I2cError) {
    if (e.fault === 'nack') return STATUS.IO_REFUSED;
    if (e.fault === 'timeout') return STATUS.TIMED_OUT;
    return STATUS.IO;
  }
  const s = (e as { status?: unknown } | null)?.status;
  if (typeof s === 'number' && Number.isInteger(s) && s < 0) return s;
  return STATUS.INTERNAL;
}
