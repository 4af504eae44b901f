/**
 * The driver-owned real-time engine's public types, modelled on OpenASIO: the driver owns the
 * audio thread and calls the host's `process()` once per period; the host never pushes.
 *
 * A "host" is any code that wants audio every period: an application, a DAW-like graph, or the
 * stream service moving audio between its shared ring buffers and the PCM (see
 * src/engine/hosts/ring-bridge.ts). Host code runs inside the engine's worker thread, loaded as a
 * module (a path and an exported factory), because the HAL's PCM objects cannot cross threads.
 */

/** Sample formats a host can ask for (what its buffers hold). */
export type HostSampleFormat = 'f32' | 'i16' | 'i32';

/** A host's buffer of one format: Float32Array for f32, Int16Array for i16, Int32Array for i32. */
export type HostBuffer = Float32Array | Int16Array | Int32Array;

export interface EngineConfig {
  /** Frames per second. */
  rate: number;
  /** Frames per period: what each process() call moves (OpenASIO's buffer frames). */
  bufferFrames: number;
  /** 0 opens no capture stream. */
  inputChannels: number;
  /** 0 opens no playback stream. */
  outputChannels: number;
  format: HostSampleFormat;
  /**
   * true: one buffer per direction, frames × channels samples, channel-interleaved.
   * false: one buffer per channel (planar).
   */
  interleaved: boolean;
  /**
   * Periods in the device buffer (default 2). More periods tolerate more scheduling jitter at
   * the price of output latency.
   */
  periods?: number;
}

/** A config after negotiation: every field decided. */
export interface NegotiatedConfig extends Required<EngineConfig> {
  /** The PCM sample formats the device streams run in (the engine converts where they differ). */
  readonly pcmFormat: { readonly input?: string; readonly output?: string };
}

/** Latency in frames at the config's rate, including the board's external (codec + analog) delay. */
export interface LatencyInfo {
  inputFrames: number;
  outputFrames: number;
  /** The external part of each, in frames (codec filter group delay, analog path). */
  externalInputFrames: number;
  externalOutputFrames: number;
}

/**
 * Passed to every process() call: one object, refilled in place each period (do not keep it).
 * All times are CLOCK_MONOTONIC ns as float64 numbers (see src/hal/clock.ts for why not BigInt).
 */
export interface TimeInfo {
  /** Host monotonic ns at which this period became due (wake-up time minus measured lateness). */
  hostNs: number;
  /**
   * Device time in ns since the streams were (re)started, from the ALSA status timestamps
   * (the hardware pointer); NaN where the device reports none.
   */
  deviceNs: number;
  /** How late the engine woke for this period, ns (from the device's avail beyond one period). */
  latenessNs: number;
  /** Frames processed since start (the first frame of this period's buffers). */
  samplePosition: number;
  /** Playback underruns since the previous process() call. */
  underruns: number;
  /** Capture overruns since the previous process() call. */
  overruns: number;
}

export interface Host {
  /**
   * Called once per period on the engine's audio thread. `inputs` and `outputs` are the same
   * arrays every period until the next reset: interleaved, one buffer each; planar, one per
   * channel. Return false to stop the engine gracefully (the period's output is still played).
   * Must not allocate, log or block: anything it allocates adds garbage-collector pauses to the
   * audio thread.
   */
  process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number, time: TimeInfo, config: NegotiatedConfig): boolean;
  /** The measured latency changed (after a start, a reset or an xrun recovery). */
  latencyChanged?(latency: LatencyInfo): void;
  /** The engine restarted its streams (after requestReset() or an xrun); buffers are unchanged. */
  reset?(): void;
  /** The engine stopped; release what the host holds. */
  dispose?(): void;
}

/** What the engine gives a host's factory. */
export interface HostContext {
  readonly config: NegotiatedConfig;
  /** The latency as negotiated (before the streams run). */
  readonly latency: LatencyInfo;
  /** The `options` the starter passed with the host (structured-cloned; SharedArrayBuffers are shared). */
  readonly options: unknown;
  /** Asks the engine to restart its streams at the end of the current period (e.g. after a host-side change). */
  requestReset(): void;
  /** Sends a message to the starter's `message` event (not for the audio path: it allocates). */
  post(message: unknown): void;
}

export type HostFactory = (ctx: HostContext) => Host | Promise<Host>;

/** Where the engine finds the host: a module path (or file URL) and the name of its exported factory. */
export interface HostModuleRef {
  path: string;
  /** Default 'createHost'; 'default' for a default export. */
  exportName?: string;
  options?: unknown;
}

export interface DeviceInfo {
  /** Name to open it by. */
  name: string;
  /** 'sim' (simulated PCM on the engine's own clock) or 'alsa'. */
  backend: 'sim' | 'alsa';
  /** PCM device names of each direction, where the device has one. */
  playback?: string;
  capture?: string;
  description: string;
}

export interface Capabilities {
  formats: HostSampleFormat[];
  interleaved: boolean;
  nonInterleaved: boolean;
  fullDuplex: boolean;
  rates: number[];
  minBufferFrames: number;
  maxBufferFrames: number;
  maxInputChannels: number;
  maxOutputChannels: number;
  /** The engine can be asked for SCHED_FIFO (whether the system grants it is known only at start). */
  realtimeScheduling: boolean;
}

/** Why the engine stopped. */
export type StopReason = 'stop' | 'host' | 'frames' | 'error' | 'terminated';

export interface EngineReport {
  reason: StopReason;
  /** process() calls made. */
  periods: number;
  frames: number;
  underruns: number;
  overruns: number;
  resets: number;
  /** Times waitSync returned without a period ready (device stalled). */
  timeouts: number;
  /** Scheduling and memory-locking outcome in the worker. */
  realtime: RealtimeOutcome;
  /** Minor GCs (scavenges) counted in the worker while the period loop ran past its warm-up. */
  scavenges: number;
  /** Other collections (mark-compact, incremental marking, weak callbacks) started in that window. */
  otherGcs: number;
  /** Bytes the young generation grew by over that window (meaningful when scavenges is 0). */
  youngBytes: number;
  /** Periods counted in that window. */
  measuredPeriods: number;
  /** Underruns + overruns inside the measurement window (after the warm-up; the totals count the whole run). */
  windowXruns: number;
  error?: string;
  /** Sim devices with `returnRecord`: what playback played (interleaved PCM bytes). */
  record?: Uint8Array;
  /** With `latenessTrace`: per-period lateness as a fraction of the period, in order. */
  lateness?: Float64Array;
  /** CPU µs (user + system, whole process) from the end of the warm-up to the last period. */
  cpuMicros: number;
  /** CPU ns of the audio thread alone (CLOCK_THREAD_CPUTIME_ID) over the same window; NaN on sim virtual clocks. */
  threadCpuNs: number;
  /** Wall ns over the same window (CLOCK_MONOTONIC, not the device's clock). */
  wallNs: number;
  latency: LatencyInfo;
}

export interface RealtimeOutcome {
  fifo: 'granted' | 'refused' | 'not-requested';
  mlock: 'locked' | 'skipped' | 'failed' | 'not-requested';
  /** The one warning, if either was refused. */
  warning?: string;
}
