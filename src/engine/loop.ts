/**
 * The period loop: what the engine's audio thread does between start and stop. It is a plain
 * class over already-open PCM streams, so the worker runs it (src/engine/worker.ts) and unit
 * tests can run it in-process on a virtual clock.
 *
 * Each period:
 *   1. block in `waitSync` on the capture stream (the playback stream when there is no capture)
 *      until a period is ready; the avail beyond one period says how late the thread woke;
 *   2. read a period of capture; in full duplex make sure the playback has a period of room;
 *   3. convert to the host's buffers, call `host.process(...)`, convert back;
 *   4. write a period of playback.
 * The device buffer holds `periods` periods; playback is prefilled with silence to the full
 * buffer before both streams start, so at each call the queue holds (periods − 1) periods: the
 * output latency. The input latency is one period (the first captured frame's age at the call).
 *
 * An xrun on either side is counted (underrun or overrun) and both streams are restarted together
 * (drop, prepare, prefill, start), so capture and playback stay one buffer apart: a pass-through's
 * latency is the same after a recovery as before.
 *
 * Steady state allocates nothing: every buffer, the status snapshot and the time-info object are
 * made in the constructor; no closures, no strings, no doubles passed to calls V8 may not inline.
 * The allocation test (tests/unit/engine-alloc.test.ts) holds the loop to that.
 */
import type { Clock } from '../hal/clock.ts';
import { type PcmStatus, type PcmStream, PcmXrunError, emptyPcmStatus } from '../hal/pcm.ts';
import { RingCopier } from '../util/ring-copy.ts';
import { EngineError } from './errors.ts';
import { PeriodBuffers } from './format.ts';
import type { Host, HostBuffer, LatencyInfo, NegotiatedConfig, StopReason, TimeInfo } from './types.ts';

/** Layout of the control block (an Int32Array over a SharedArrayBuffer both threads hold). */
export const CTRL = {
  /** Main → worker: non-zero asks the loop to stop at the next period. */
  STOP: 0,
  /** Worker: 0 setting up, 1 running, 2 stopping, 3 stopped. */
  STATE: 1,
  PERIODS: 2,
  UNDERRUNS: 3,
  OVERRUNS: 4,
  RESETS: 5,
  /** 1 while host.process() runs. */
  IN_PROCESS: 6,
  TIMEOUTS: 7,
  /** Number of Int32 slots. */
  SIZE: 16,
} as const;

/** The largest Smi on every platform V8 runs on: "no phase end". */
const NO_PHASE_END = 0x3fffffff;

export const STATE_SETUP = 0;
export const STATE_RUNNING = 1;
export const STATE_STOPPING = 2;
export const STATE_STOPPED = 3;

export interface LoopStreams {
  capture?: PcmStream;
  playback?: PcmStream;
}

export interface LoopOptions {
  /** Stop by itself (gracefully) once this many frames were processed. */
  stopAfterFrames?: number;
  /** Called when the measured latency differs from the last one reported (outside the steady state). */
  onLatency?: (latency: LatencyInfo) => void;
  /** Per-period lateness as a fraction of the period, written in order (wraps when full). */
  latenessTrace?: Float64Array;
  /** Consecutive waits without a ready period after which the device counts as stalled (default 20). */
  maxTimeouts?: number;
}

export class PeriodLoop {
  readonly input: PeriodBuffers | undefined;
  readonly output: PeriodBuffers | undefined;
  private readonly capture: PcmStream | undefined;
  private readonly playback: PcmStream | undefined;
  private readonly primary: PcmStream;
  private readonly period: number;
  private readonly rate: number;
  private readonly nsPerFrame: number;
  private readonly periodNs: number;
  private readonly timeoutMs: number;
  private readonly maxTimeouts: number;
  private readonly silence: Uint8Array | undefined;
  private readonly status: PcmStatus = emptyPcmStatus();
  private readonly time: TimeInfo;
  private readonly noBuffers: HostBuffer[] = [];
  private readonly stopAfterFrames: number;
  /** run() returns 'phase' when `periods` reaches this (a Smi: an Infinity here would be a boxed double). */
  private phaseEnd = NO_PHASE_END;
  private readonly trace: Float64Array | undefined;
  private readonly latency: LatencyInfo;
  private traceIndex = 0;
  private resetRequested = false;
  private measureLatency = true;
  private pendingUnderruns = 0;
  private pendingOverruns = 0;
  /** Totals (also published in the control block). */
  periods = 0;
  frames = 0;
  underruns = 0;
  overruns = 0;
  resets = 0;
  timeouts = 0;

  constructor(
    streams: LoopStreams,
    readonly config: NegotiatedConfig,
    private readonly host: Host,
    private readonly ctrl: Int32Array,
    private readonly clock: Clock,
    nominalLatency: LatencyInfo,
    private readonly opts: LoopOptions = {},
  ) {
    this.capture = streams.capture;
    this.playback = streams.playback;
    const primary = this.capture ?? this.playback;
    if (!primary) throw new EngineError('invalid-argument', 'the engine needs at least one of capture and playback');
    this.primary = primary;
    this.period = config.bufferFrames;
    this.rate = config.rate;
    this.nsPerFrame = 1e9 / config.rate;
    this.periodNs = this.period * this.nsPerFrame;
    // Generous: a wait that long without a period means the device stopped moving.
    this.timeoutMs = Math.max(50, (8 * this.periodNs) / 1e6);
    this.maxTimeouts = opts.maxTimeouts ?? 20;
    if (this.capture) this.input = new PeriodBuffers(this.capture.config.format, config.format, config.inputChannels, this.period, config.interleaved);
    if (this.playback) {
      this.output = new PeriodBuffers(this.playback.config.format, config.format, config.outputChannels, this.period, config.interleaved);
      this.silence = new Uint8Array(this.output.pcmBytes.length);
    }
    this.stopAfterFrames = opts.stopAfterFrames ?? Infinity;
    this.trace = opts.latenessTrace;
    this.latency = { ...nominalLatency };
    // Fields that hold doubles start as doubles (NaN), so their representation never changes later.
    this.time = { hostNs: Number.NaN, deviceNs: Number.NaN, latenessNs: Number.NaN, samplePosition: 0, underruns: 0, overruns: 0 };
  }

  /** The host's buffers (the same arrays every period). */
  get inputs(): readonly HostBuffer[] {
    return this.input?.host ?? this.noBuffers;
  }

  get outputs(): readonly HostBuffer[] {
    return this.output?.host ?? this.noBuffers;
  }

  /** Asks for a restart of both streams at the end of the current period (HostContext.requestReset). */
  requestReset(): void {
    this.resetRequested = true;
  }

  /** Prefills playback and starts the streams (the first start; restarts go through restart()). */
  start(): void {
    this.startStreams();
    Atomics.store(this.ctrl, CTRL.STATE, STATE_RUNNING);
  }

  /**
   * Runs periods until a stop request, the host's false, the frame limit, or an error (thrown);
   * with `untilPeriods`, also returns 'phase' once that many periods ran in all, and a later
   * call goes on where it left. The worker runs its warm-up as a phase, so that what it does
   * between phases (reading the heap and the clocks) is no call site inside the loop: a call
   * that runs for the first time makes V8 drop the loop's optimised code, and until it is
   * optimised again every double the loop computes is a heap allocation.
   */
  run(untilPeriods = NO_PHASE_END): StopReason | 'phase' {
    this.phaseEnd = untilPeriods;
    const ctrl = this.ctrl;
    const capture = this.capture;
    const playback = this.playback;
    const primary = this.primary;
    const period = this.period;
    const st = this.status;
    const time = this.time;
    const input = this.input;
    const output = this.output;
    const inputs = this.inputs;
    const outputs = this.outputs;
    let consecutiveTimeouts = 0;
    for (;;) {
      if (Atomics.load(ctrl, CTRL.STOP) !== 0) return 'stop';
      if (this.resetRequested) {
        this.resetRequested = false;
        this.restart();
        continue;
      }

      // 1. Wait for the period.
      if (!primary.waitSync(this.timeoutMs)) {
        this.timeouts++;
        Atomics.store(ctrl, CTRL.TIMEOUTS, this.timeouts);
        if (++consecutiveTimeouts >= this.maxTimeouts) {
          throw new EngineError('device', `${primary.device}: no period in ${consecutiveTimeouts} waits of ${this.timeoutMs.toFixed(0)} ms: the device stopped moving`);
        }
        continue;
      }
      consecutiveTimeouts = 0;
      primary.status(st);
      if (st.state === 'xrun') {
        this.xrun(primary === capture);
        continue;
      }
      const extra = st.avail > period ? st.avail - period : 0;
      const latenessNs = extra * this.nsPerFrame;

      // 2. Capture, and room for playback.
      if (capture) {
        let got: number;
        try {
          got = capture.read(input!.pcmBytes, period);
        } catch (e) {
          if (e instanceof PcmXrunError) {
            this.xrun(true);
            continue;
          }
          throw e;
        }
        if (got < period) {
          // waitSync promised a period: a short read means the stream lost its footing.
          this.xrun(true);
          continue;
        }
        if (playback && playback.avail() < period && !playback.waitSync(this.timeoutMs)) {
          this.xrun(false);
          continue;
        }
      }
      if (this.measureLatency && playback) this.noteLatency(playback.delay());

      // 3. The host.
      time.hostNs = st.hostNs - latenessNs;
      time.deviceNs = st.audioNs;
      time.latenessNs = latenessNs;
      time.samplePosition = this.frames;
      time.underruns = this.pendingUnderruns;
      time.overruns = this.pendingOverruns;
      this.pendingUnderruns = 0;
      this.pendingOverruns = 0;
      if (input) input.pcmToHost();
      if (output && !output.zeroCopy) output.clearHost();
      Atomics.store(ctrl, CTRL.IN_PROCESS, 1);
      const more = this.host.process(inputs, outputs, period, time, this.config);
      Atomics.store(ctrl, CTRL.IN_PROCESS, 0);

      // 4. Playback.
      if (playback) {
        output!.hostToPcm();
        let put: number;
        try {
          put = playback.write(output!.pcmBytes, period);
        } catch (e) {
          if (e instanceof PcmXrunError) {
            this.xrun(false);
            continue;
          }
          throw e;
        }
        if (put < period) {
          this.xrun(false);
          continue;
        }
        if (output!.zeroCopy) output!.clearPcm();
      }

      this.periods++;
      this.frames += period;
      Atomics.store(ctrl, CTRL.PERIODS, this.periods);
      const trace = this.trace;
      if (trace !== undefined) {
        trace[this.traceIndex % trace.length] = latenessNs / this.periodNs;
        this.traceIndex++;
      }
      if (more === false) return 'host';
      if (this.frames >= this.stopAfterFrames) return 'frames';
      if (this.periods >= this.phaseEnd) return 'phase';
    }
  }

  /** Forgets the lateness samples so far (the warm-up's). */
  clearTrace(): void {
    this.traceIndex = 0;
  }

  /** The lateness samples written so far, oldest first (allocates: after the run only). */
  latenessSamples(): Float64Array | undefined {
    const t = this.trace;
    if (!t) return undefined;
    if (this.traceIndex <= t.length) return t.slice(0, this.traceIndex);
    // The trace is a ring: unroll it from the oldest sample (the next one to be overwritten).
    const out = new Float64Array(t.length);
    const ring = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    new RingCopier().fromRing(ring, (this.traceIndex % t.length) * 8, new Uint8Array(out.buffer), 0, t.byteLength);
    return out;
  }

  /** The latency as last measured (or nominal before the first period). */
  currentLatency(): LatencyInfo {
    return { ...this.latency };
  }

  /** Plays out what playback holds (after a graceful end), then leaves the streams stopped. */
  async drain(): Promise<void> {
    if (this.playback) await this.playback.drain();
    if (this.capture) this.capture.drop();
  }

  /** Stops both streams at once, dropping what is queued. */
  dropAll(): void {
    for (const s of [this.capture, this.playback]) {
      if (!s) continue;
      try {
        s.drop();
      } catch {
        // A stream that cannot be dropped is closed next anyway.
      }
    }
  }

  private xrun(captureSide: boolean): void {
    if (captureSide) {
      this.overruns++;
      this.pendingOverruns++;
      Atomics.store(this.ctrl, CTRL.OVERRUNS, this.overruns);
    } else {
      this.underruns++;
      this.pendingUnderruns++;
      Atomics.store(this.ctrl, CTRL.UNDERRUNS, this.underruns);
    }
    this.restart();
  }

  /** Both streams stop and start again together, one buffer apart as at the first start. */
  private restart(): void {
    this.dropAll();
    this.startStreams();
    this.resets++;
    Atomics.store(this.ctrl, CTRL.RESETS, this.resets);
    if (this.host.reset) this.host.reset();
  }

  private startStreams(): void {
    const { capture, playback } = this;
    if (capture && capture.status(this.status).state !== 'prepared') capture.prepare();
    if (playback) {
      if (playback.status(this.status).state !== 'prepared') playback.prepare();
      const silence = this.silence!;
      // At most the device buffer: a device that still has room after that takes every write at
      // once (ALSA's "null" PCM) and nothing would pace the periods; the loop would spin (or this
      // prefill never end).
      const buffer = playback.config.bufferFrames;
      let written = 0;
      while (written < buffer && playback.avail() >= this.period) {
        if (playback.write(silence, this.period) < this.period) break;
        written += this.period;
      }
      if (written >= buffer && playback.avail() >= this.period) {
        throw new EngineError('unsupported', `${playback.device}: the device took ${written} frames of silence, a whole buffer, and still has room: ` +
          'it discards what is written at once, so no clock paces the periods (ALSA\'s "null" PCM does that); use a device with a clock (hw:Dummy, hw:Loopback, a sim board)');
      }
    }
    // Back to back, capture first: its first period is complete when the playback has played one.
    if (capture) capture.start();
    if (playback) playback.start();
    this.measureLatency = true;
  }

  private noteLatency(queuedFrames: number): void {
    this.measureLatency = false;
    const l = this.latency;
    const output = queuedFrames + l.externalOutputFrames;
    const input = this.period + l.externalInputFrames;
    if (output === l.outputFrames && input === l.inputFrames) return;
    l.outputFrames = output;
    l.inputFrames = input;
    if (this.host.latencyChanged) this.host.latencyChanged({ ...l });
    if (this.opts.onLatency) this.opts.onLatency({ ...l });
  }

  /** How many frames one period is, at the config's rate, in ns (for reports). */
  get periodDurationNs(): number {
    return this.periodNs;
  }

  get clockNow(): number {
    return this.clock.nowNs();
  }

  /** Sample rate (for reports). */
  get sampleRate(): number {
    return this.rate;
  }
}
