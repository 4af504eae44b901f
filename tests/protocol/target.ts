/**
 * What the protocol suite needs to know about the service it talks to. The suite is a client:
 * it reaches the service only through the endpoints; the target adds what a client cannot do
 * (move the jack, restart the service) and the facts the suite checks against, written as
 * literals from the board file and the codec's datasheet (never computed by the service's code).
 */

export interface ExpectedGain {
  minGain: number;
  maxGain: number;
  gainStep: number;
  canMute: boolean;
}

export interface ProtocolTarget {
  /** A name for test titles ('sim board, in-process', 'guest: i2c-stub PCM5122 + gpio-sim'). */
  name: string;
  runtimeDir: string;
  /** Endpoint names of every stream the target serves, by direction. */
  endpoints: { output: string[]; input: string[] };
  /** An output stream that follows a jack-detect line. */
  jackStream: string;
  /** A hardwired stream, if the board has one. */
  hardwiredStream?: string;
  /** A stream sharing `jackStream`'s gain control (same direction, same codec), if any. */
  sharedGainStream?: string;
  /** A stream without a main volume (fixed gain), if any. */
  fixedGainStream?: string;
  /** A stream with more than 15 format ranges, and how many, if the target has one. */
  manyFormats?: { stream: string; count: number };
  /** A stream part of whose external delay has no figure (EXT_GET_DELAY_INFO), if the target serves one. */
  unknownDelay?: { stream: string; fps: number; knownNs: number; unknownCount: number; unknownMatches: RegExp };
  /**
   * Whether every corner of jackStream's ranges is expected to work end to end (R-FMT-6). The sim
   * boards: yes. The guest: no — its PCMs (snd-aloop, snd-dummy) do not take every rate the
   * PCM5122 offers (384 kHz), a limit of the test devices, not of the part.
   */
  formatWalk?: boolean;
  /** jackStream's gain capabilities. */
  gain: ExpectedGain;
  /** jackStream's number of format ranges. */
  formatCount: number;
  /** A rate and format jackStream accepts, and the external delay (ns) SET_FORMAT reports for it. */
  format: { fps: number; sampleFormat: number; channels: number; externalDelayNs: number };
  /** A rate no range of jackStream allows. */
  rateNotOffered: number;
  manufacturer: string;
  /** PRODUCT string per endpoint name. */
  products: Record<string, string>;
  /** Unique id (hex) per endpoint name. */
  uniqueIds: Record<string, string>;
  clockDomain: number;
  /** The jack line's debounce period, ns. */
  jackDebounceNs: number;
  /** Whether plug times are exact (a virtual clock: event = drive + debounce) or bounded (a real kernel). */
  exactPlugTimes: boolean;
  /** CLOCK_MONOTONIC now, on the service's timeline. */
  nowNs(): number;
  /** Moves the jack (electrically) and returns the time it was moved. */
  setJack(plugged: boolean): Promise<{ drivenAtNs: number }>;
  /** Ring-buffer channel facts, literals from the target's engine settings. */
  rb: {
    /** An output stream whose output `captureOutput` can record (guest: hw:Loopback). */
    stream: string;
    /** An output stream for position timing (guest: hw:Dummy, hrtimer-paced). */
    timingStream: string;
    /** GET_FIFO_DEPTH for `format` (48 kHz, S16, stereo) on `stream`, in bytes. */
    fifoBytes: number;
    /** The engine's period at 48 kHz, frames. */
    periodFrames: number;
    /** How far EXT_RB_CLOCK's rate may be from nominal, ppb (0: the sim's device clock is the system clock). */
    clockPpbTolerance: number;
    /** How the SIGKILL client writes: all before START (virtual clock) or ahead of the position in real time. */
    killMode: 'prefill' | 'ahead';
  };
  /**
   * Print the timing tests' margins (one line per case) whatever the environment says: the guest
   * sets it, since SBC_TIMING does not reach it. Elsewhere they print when SBC_TIMING is set.
   */
  printTimings?: boolean;
  /** Lets `ns` pass on the service's timeline. */
  sleepNs(ns: number): Promise<void>;
  /** Starts recording what `stream` plays (S16 stereo 48 kHz); stop() returns the samples. */
  captureOutput(stream: string): Promise<{ stop(): Promise<Int16Array> }>;
  /** Holds the service's timeline still (virtual clocks only; a no-op on real time). */
  holdClock(): void;
  releaseClock(): void;
  /** Open ring-buffer channels of a stream (to see that the service noticed a close). */
  ringBufferChannels(stream: string): number;
  /** Simulates an audio thread scheduled `ns` late (virtual clocks only). */
  stallEngine?(stream: string, ns: number): Promise<void>;
  /** Simulates a failure of the stream's audio device (the engine thread dies). */
  failEngine(stream: string): Promise<void>;
  /** Stops the service (its endpoints disappear) and starts it again (they reappear). */
  restart(): Promise<void>;
  close(): Promise<void>;
}
