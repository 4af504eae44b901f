/**
 * The engine's driver API, modelled on OpenASIO: list a board's devices, open one by name, get
 * its default configuration, negotiate one, start it with a host and stop it, query latency and
 * capabilities. Errors are EngineErrors with OpenASIO-like codes.
 *
 *   const driver = EngineDriver.forBoard(await openBoard(loadBoard('sim')));
 *   const dev = await driver.open('speaker');
 *   const config = await dev.negotiate({ ...dev.defaultConfig(), bufferFrames: 64 });
 *   await dev.start(config, { path: 'examples/tone.ts' });
 *   ...
 *   const report = await dev.stop();
 *
 * The audio thread is a worker the device owns (src/engine/worker.ts); this side only starts it,
 * flips the stop flag in the shared control block, and waits for the thread to be gone.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { PcmError, type PcmStream, type SampleFormat } from '../hal/pcm.ts';
import { ERRNO } from '../util/errno.ts';
import { siblingModule } from '../util/package-files.ts';
import { tsWorker } from '../util/worker.ts';
import { type EngineBoard, type ResolvedDevice, alsaDevice, alsaDevices, boardDevices, buildBackend } from './devices.ts';
import { EngineError, asEngineError } from './errors.ts';
import { PCM_FORMAT_PREFERENCE } from './format.ts';
import { CTRL, STATE_RUNNING, STATE_STOPPED } from './loop.ts';
import type { SimCaptureSpec } from './sim-signals.ts';
import type {
  Capabilities, DeviceInfo, EngineConfig, EngineReport, HostModuleRef, HostSampleFormat, LatencyInfo, NegotiatedConfig, RealtimeOutcome,
} from './types.ts';
import type { WorkerInit, WorkerMessage, WorkerStandby, WorkerStart } from './worker.ts';

export interface RunOptions {
  /** Stop by itself after this much audio (seconds of frames at the config's rate). */
  seconds?: number;
  /** Stop by itself after this many frames (overrides `seconds`). */
  stopAfterFrames?: number;
  /**
   * Periods run before the measurement window (CPU, GC, lateness) opens, so that V8 has
   * optimised the loop (default: one second of audio, at least 1000 periods). Audio plays all
   * along: the warm-up only delays the window. Followed by a settling quarter as long.
   */
  warmupPeriods?: number;
  /** Stop by itself after this many periods past the warm-up (the measurement window's length). */
  measurePeriods?: number;
  /** Minimum wall time of the warm-up in ms (default 0; a virtual clock needs some, see worker.ts). */
  warmupMs?: number;
  /** Keep the lateness of up to this many periods (for benchmarks). */
  latenessTrace?: number;
  /**
   * Real-time scheduling: true (default) asks for SCHED_FIFO and for mlockall where the memlock
   * limit is unlimited; false asks for neither. Never applied on a sim device's virtual clock.
   */
  realtime?: boolean | { fifo?: boolean; mlock?: boolean; priority?: number };
  /** Sim devices: the capture signal and how many played frames to keep (returned in the report). */
  sim?: { capture?: SimCaptureSpec; recordFrames?: number };
  /** The worker's young generation limit in MB (the allocation test runs with a small one). */
  youngGenerationMb?: number;
  /** Milliseconds to wait for the worker to set up (default ENGINE_START_GUARD_MS). */
  startTimeoutMs?: number;
  /**
   * Where a thread started ahead of use may be taken from (issue 26). Not with youngGenerationMb:
   * a standby thread was started without that resource limit.
   */
  pool?: EngineWorkerPool;
}

/** How long an engine thread may take to start before it is given up (a hang guard). */
export const ENGINE_START_GUARD_MS = 60_000;
const ENGINE_WORKER = siblingModule('./worker.ts', import.meta.url);
const CHANNEL_LIMIT = 8;
const MIN_PERIOD = 16;
const MAX_PERIOD = 8192;
const SIM_RATES = [8000, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000, 384000];
const ALSA_RATES = [44100, 48000, 88200, 96000, 192000];

export class EngineDriver {
  private constructor(readonly source: string, private readonly devices: ResolvedDevice[], private readonly board?: EngineBoard) {}

  /**
   * The devices of an open board (the process opened it once: src/board/runtime.ts). `simClock`
   * overrides the clock a sim board's PCM runs on in the worker (default: the board file's
   * sim.virtualClock).
   */
  static forBoard(board: EngineBoard, opts: { simClock?: 'virtual' | 'monotonic' } = {}): EngineDriver {
    return new EngineDriver(`board ${board.board.name}`, boardDevices(board.board).map((d) => {
      const link = d.playback ? board.i2sLink?.(d.playback) : undefined;
      const gate = d.capture ? board.adcGate?.(d.capture) : undefined;
      return {
        ...d, ...(d.backend === 'sim' && opts.simClock ? { simClock: opts.simClock } : {}),
        ...(link ? { i2sLink: link } : {}), ...(gate ? { adcGate: gate } : {}),
      };
    }), board);
  }

  /** ALSA PCM devices the kernel lists (/proc/asound/pcm); others can be opened by spec. */
  static forAlsa(): EngineDriver {
    return new EngineDriver('alsa', alsaDevices());
  }

  listDevices(): DeviceInfo[] {
    return this.devices.map(({ name, backend, playback, capture, description }) => {
      const d: DeviceInfo = { name, backend, description };
      if (playback) d.playback = playback;
      if (capture) d.capture = capture;
      return d;
    });
  }

  /**
   * Opens a device by name, or (ALSA drivers) by PCM names: `{ playback: 'hw:Loopback,0,1',
   * capture: 'hw:Loopback,1,0' }`, or a name the kernel does not list ('hw:Dummy', 'default').
   */
  async open(device: string | { name?: string; playback?: string; capture?: string }): Promise<EngineDevice> {
    if (typeof device !== 'string') {
      if (this.source !== 'alsa') throw new EngineError('invalid-argument', `${this.source}: devices are opened by name (${this.devices.map((d) => d.name).join(', ')})`);
      return new EngineDevice(alsaDevice(device));
    }
    const found = this.devices.find((d) => d.name === device);
    if (found) return new EngineDevice(found, this.board);
    if (this.source === 'alsa') return new EngineDevice(alsaDevice({ name: device, playback: device, capture: device }));
    throw new EngineError('invalid-argument', `${this.source} has no device "${device}" (devices: ${this.devices.map((d) => d.name).join(', ')})`);
  }
}

/**
 * Engine threads started ahead of use (issue 26, "Workers that start at once"). Most of an
 * engine's start is its thread loading modules — in a checkout each one runs through tsx: about
 * 150 ms for tsx in the thread plus 90 ms for the engine's, the sim backend's and the host's
 * modules, on the 2-core development machine, against a few ms of negotiation and stream
 * opening (bench/worker-start.ts measures it). A pool keeps `spares` threads that have loaded
 * them (src/engine/worker.ts, WorkerStandby) and are waiting for a start; start() takes one
 * (`run.pool`) and posts it the start, and the pool starts the next once that start has settled
 * (not while it runs: the two would share the cores). An idle spare is unref'd (it never keeps
 * the process alive) and close() terminates it.
 */
export class EngineWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly loaded = new WeakSet<Worker>();
  /** Removes the pool's own listeners of a spare (only those: Worker keeps internal ones on itself). */
  private readonly detach = new WeakMap<Worker, () => void>();
  private closed = false;
  private readonly waiters = new Set<() => void>();
  /** Threads started ahead, and how many of them a start took (tests and the bench read these). */
  readonly counts = { started: 0, taken: 0 };

  constructor(private readonly standby: WorkerStandby['standby'], private readonly spares = 1) {
    this.fill();
  }

  /** A spare for a start (referenced again: it is the start's now), or undefined when none is left. */
  take(): Worker | undefined {
    const w = this.idle.shift();
    if (!w) return undefined;
    this.detach.get(w)?.();
    w.ref();
    this.counts.taken++;
    return w;
  }

  /** Starts spares up to the count (after a start took one and has settled). */
  fill(): void {
    while (!this.closed && this.idle.length < this.spares) this.spawn();
  }

  /** Resolves once every spare has loaded its modules (or the pool closed). */
  warm(): Promise<void> {
    if (this.closed || this.idle.every((w) => this.loaded.has(w))) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.closed || this.idle.every((w) => this.loaded.has(w))) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
    });
  }

  /** The spares waiting (loaded or still loading). */
  get size(): number {
    return this.idle.length;
  }

  /** Terminates the idle spares; no more are started. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle.splice(0);
    for (const w of idle) {
      this.detach.get(w)?.();
      w.on('error', () => {}); // ending anyway
    }
    for (const check of [...this.waiters]) check();
    await Promise.all(idle.map((w) => w.terminate().catch(() => undefined)));
  }

  private spawn(): void {
    let w: Worker;
    try {
      w = tsWorker(ENGINE_WORKER, { workerData: { standby: this.standby } satisfies WorkerStandby });
    } catch {
      this.closed = true; // cannot start threads here: every start makes its own (and reports why)
      return;
    }
    w.unref();
    this.counts.started++;
    this.idle.push(w);
    const onMessage = (m: WorkerMessage) => {
      if (m.type !== 'loaded') return;
      this.loaded.add(w);
      for (const check of [...this.waiters]) check();
    };
    // A spare that died (or failed to load) is dropped; the next start makes its own thread.
    const drop = () => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      this.detach.get(w)?.();
      for (const check of [...this.waiters]) check();
    };
    w.on('message', onMessage);
    w.on('error', drop);
    w.on('exit', drop);
    this.detach.set(w, () => {
      w.off('message', onMessage);
      w.off('error', drop);
      w.off('exit', drop);
    });
  }
}

export interface EngineStats {
  periods: number;
  underruns: number;
  overruns: number;
  resets: number;
  timeouts: number;
  /** The host's process() is running right now. */
  inProcess: boolean;
  running: boolean;
}

/**
 * One open device. Events: 'warning' (string: real-time scheduling or memory locking refused),
 * 'latency' (LatencyInfo: measured latency changed), 'message' (what the host posted).
 */
export class EngineDevice extends EventEmitter {
  private negotiated: NegotiatedConfig | undefined;
  private nominal: LatencyInfo | undefined;
  private measured: LatencyInfo | undefined;
  private worker: Worker | undefined;
  private control: Int32Array | undefined;
  private finishedPromise: Promise<EngineReport> | undefined;
  private closed = false;
  /** The real-time outcome of the last start. */
  realtime: RealtimeOutcome | undefined;
  /** Where the last start's thread came from: a pool's spare (started ahead) or started for it. */
  threadSource: 'spare' | 'new' | undefined;

  /** `board`: where the device's external delay comes from (absent: ALSA PCMs named directly, no external delay). */
  constructor(readonly info: ResolvedDevice, private readonly board?: Pick<EngineBoard, 'externalDelayNs'>) {
    super();
  }

  get name(): string {
    return this.info.name;
  }

  capabilities(): Capabilities {
    const sim = this.info.backend === 'sim';
    return {
      formats: ['f32', 'i16', 'i32'],
      interleaved: true,
      nonInterleaved: true,
      fullDuplex: Boolean(this.info.playback && this.info.capture),
      rates: sim ? SIM_RATES : ALSA_RATES,
      minBufferFrames: MIN_PERIOD,
      maxBufferFrames: MAX_PERIOD,
      maxInputChannels: this.info.capture ? CHANNEL_LIMIT : 0,
      maxOutputChannels: this.info.playback ? CHANNEL_LIMIT : 0,
      realtimeScheduling: !(sim && this.info.simClock === 'virtual'),
    };
  }

  /** 48 kHz, 128-frame periods (64 on sim devices), stereo where the device has the direction, f32 planar, 2 periods. */
  defaultConfig(): EngineConfig {
    return {
      rate: 48000,
      bufferFrames: this.info.backend === 'sim' ? 64 : 128,
      inputChannels: this.info.capture ? 2 : 0,
      outputChannels: this.info.playback ? 2 : 0,
      format: 'f32',
      interleaved: false,
      periods: 2,
    };
  }

  /**
   * Checks a configuration against the device by opening its streams (and closing them again):
   * picks the PCM format (the host's own where the device takes it, else the nearest the engine
   * converts from) and the period the device grants. Throws 'unsupported' when the device
   * cannot run it as asked (another rate, another period in one direction than the other).
   */
  async negotiate(req: Partial<EngineConfig> = {}): Promise<NegotiatedConfig> {
    this.checkNotClosed();
    if (this.running) throw new EngineError('state', `${this.name}: cannot negotiate while running`);
    const c = { ...this.defaultConfig(), ...req } as Required<EngineConfig>;
    validate(c, this.info);
    const probe = await buildBackend({ ...this.info, simClock: 'virtual', clockLink: undefined });
    let period = c.bufferFrames;
    const pcmFormat: { input?: string; output?: string } = {};
    const tryOpen = async (direction: 'playback' | 'capture', device: string, channels: number): Promise<SampleFormat> => {
      let lastError: unknown;
      for (const format of PCM_FORMAT_PREFERENCE[c.format]) {
        let s: PcmStream | undefined;
        try {
          s = await probe.backend.open(device, {
            direction, rate: c.rate, channels, format, periodFrames: period, bufferFrames: period * c.periods, startThreshold: Infinity,
          });
        } catch (e) {
          lastError = e;
          if (e instanceof PcmError && (e.errno === -ERRNO.EBUSY || e.errno === -ERRNO.ENOENT || e.errno === -ERRNO.ENODEV)) break; // busy / no such device: no format will do
          continue;
        }
        try {
          const got = s.config;
          if (got.rate !== c.rate) throw new EngineError('unsupported', `${device}: rate ${c.rate} not available (the device offers ${got.rate})`);
          if (got.channels !== channels) throw new EngineError('unsupported', `${device}: ${channels} ${direction} channels not available (the device offers ${got.channels})`);
          if (direction === 'capture' && c.outputChannels > 0 && got.periodFrames !== period) {
            throw new EngineError('unsupported', `${device}: capture period ${got.periodFrames} differs from playback period ${period}`);
          }
          period = got.periodFrames;
          return format;
        } finally {
          s.close();
        }
      }
      throw asEngineError(lastError, 'device', `${device}: cannot open for ${direction} at ${c.rate} Hz, ${channels} ch, ${c.bufferFrames}-frame periods`);
    };
    if (c.outputChannels > 0) pcmFormat.output = await tryOpen('playback', this.info.playback!, c.outputChannels);
    if (c.inputChannels > 0) pcmFormat.input = await tryOpen('capture', this.info.capture!, c.inputChannels);
    const negotiated: NegotiatedConfig = { ...c, bufferFrames: period, pcmFormat };
    const ext = this.board
      ? { input: this.board.externalDelayNs('input', c.rate), output: this.board.externalDelayNs('output', c.rate) }
      : { input: 0, output: 0 };
    const extIn = Math.round((ext.input * c.rate) / 1e9);
    const extOut = Math.round((ext.output * c.rate) / 1e9);
    this.negotiated = negotiated;
    this.nominal = {
      inputFrames: c.inputChannels > 0 ? period + extIn : 0,
      outputFrames: c.outputChannels > 0 ? (c.periods - 1) * period + extOut : 0,
      externalInputFrames: extIn,
      externalOutputFrames: extOut,
    };
    this.measured = undefined;
    return negotiated;
  }

  /**
   * Input and output latency in frames, including the board's external delay: the nominal
   * figures of the negotiated configuration, or (while running) those measured at the last
   * (re)start.
   */
  latency(): LatencyInfo {
    if (!this.nominal) throw new EngineError('state', `${this.name}: negotiate a configuration first`);
    return { ...(this.measured ?? this.nominal) };
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Counters from the control block (cheap: no message to the worker). */
  stats(): EngineStats {
    const c = this.control;
    if (!c) return { periods: 0, underruns: 0, overruns: 0, resets: 0, timeouts: 0, inProcess: false, running: false };
    return {
      periods: Atomics.load(c, CTRL.PERIODS), underruns: Atomics.load(c, CTRL.UNDERRUNS), overruns: Atomics.load(c, CTRL.OVERRUNS),
      resets: Atomics.load(c, CTRL.RESETS), timeouts: Atomics.load(c, CTRL.TIMEOUTS), inProcess: Atomics.load(c, CTRL.IN_PROCESS) === 1,
      running: Atomics.load(c, CTRL.STATE) === STATE_RUNNING,
    };
  }

  /**
   * Starts the engine's audio thread with a host module. Resolves when the streams run (the
   * host's factory has returned); `finished` then resolves when the engine stops by itself or
   * through stop().
   */
  async start(config: EngineConfig | NegotiatedConfig, host: HostModuleRef, run: RunOptions = {}): Promise<void> {
    this.checkNotClosed();
    if (this.running) throw new EngineError('state', `${this.name}: already running`);
    if (!host || typeof host.path !== 'string') throw new EngineError('invalid-argument', 'start needs a host module { path, exportName? }');
    const negotiated = 'pcmFormat' in config && this.negotiated === config ? config : await this.negotiate(config);
    const control = new SharedArrayBuffer(CTRL.SIZE * 4);
    const frames = run.stopAfterFrames ?? (run.seconds !== undefined ? Math.round(run.seconds * negotiated.rate) : undefined);
    const rt = run.realtime ?? true;
    const realtime = typeof rt === 'boolean' ? { fifo: rt, mlock: rt } : { fifo: rt.fifo ?? true, mlock: rt.mlock ?? true, priority: rt.priority };
    const init: WorkerInit = {
      device: this.info,
      config: negotiated,
      latency: this.latency(),
      host: { ...host, path: host.path.startsWith('file:') ? host.path : path.resolve(host.path) },
      control,
      run: {
        stopAfterFrames: frames,
        warmupPeriods: run.warmupPeriods ?? Math.max(1000, Math.ceil(negotiated.rate / negotiated.bufferFrames)),
        warmupMs: run.warmupMs ?? (this.info.backend === 'sim' && this.info.simClock === 'virtual' ? 300 : 0),
        latenessTrace: run.latenessTrace,
        measurePeriods: run.measurePeriods,
        youngGenerationMb: run.youngGenerationMb,
        realtime,
        sim: run.sim,
      },
    };
    let worker: Worker;
    const spare = run.pool && !run.youngGenerationMb ? run.pool.take() : undefined;
    if (spare) {
      worker = spare;
      worker.postMessage({ type: 'init', init } satisfies WorkerStart);
    } else {
      try {
        worker = tsWorker(ENGINE_WORKER, {
          workerData: init,
          resourceLimits: run.youngGenerationMb ? { maxYoungGenerationSizeMb: run.youngGenerationMb } : undefined,
        });
      } catch (e) {
        throw asEngineError(e, 'generic', 'cannot start the engine thread');
      }
    }
    this.threadSource = spare ? 'spare' : 'new';
    this.worker = worker;
    this.control = new Int32Array(control);

    let settleStart!: (e?: EngineError) => void;
    const started = new Promise<void>((resolve, reject) => {
      settleStart = (e) => (e ? reject(e) : resolve());
    });
    let report: EngineReport | undefined;
    let failure: EngineError | undefined;
    this.finishedPromise = new Promise<EngineReport>((resolve, reject) => {
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'ready':
            this.realtime = m.realtime;
            if (m.realtime.warning) this.emit('warning', m.realtime.warning);
            settleStart();
            break;
          case 'latency':
            this.measured = m.latency;
            this.emit('latency', m.latency);
            break;
          case 'host-message':
            this.emit('message', m.data);
            break;
          case 'done':
            report = m.report;
            break;
          case 'failed':
            failure = EngineError.fromWire(m.error);
            settleStart(failure);
            break;
        }
      });
      worker.on('error', (e) => {
        failure ??= asEngineError(e, 'generic', 'engine thread');
        settleStart(failure);
      });
      worker.on('exit', () => {
        this.worker = undefined;
        Atomics.store(this.control!, CTRL.STATE, STATE_STOPPED);
        if (report) resolve(report);
        else if (this.terminated) resolve(this.terminatedReport());
        else {
          const e = failure ?? new EngineError('generic', 'the engine thread ended without a report');
          settleStart(e);
          reject(e);
        }
      });
    });
    // A failure before start resolves is reported by start(); don't also leave `finished` unhandled.
    this.finishedPromise.catch(() => {});
    // A hang guard, not a bound of the protocol: a thread's start (loading its modules) takes
    // seconds under emulation and longer on a loaded machine.
    const limitMs = run.startTimeoutMs ?? ENGINE_START_GUARD_MS;
    const timeout = setTimeout(() => {
      settleStart(new EngineError('generic', `the engine thread did not start within ${limitMs} ms`));
      void worker.terminate();
    }, limitMs);
    try {
      await started;
    } catch (e) {
      // The thread's end, if it comes: a thread stuck in a native call may never answer terminate(),
      // and the caller must get its error (and the stream its state) all the same.
      let guard: NodeJS.Timeout | undefined;
      await Promise.race([this.finishedPromise.catch(() => {}), new Promise<void>((r) => { guard = setTimeout(r, 10_000); })]);
      clearTimeout(guard);
      throw e;
    } finally {
      clearTimeout(timeout);
      // The next spare loads once this engine has stopped: loading a thread's modules costs about
      // 0.3 s of CPU here and seconds under emulation (bench/stack-guest.bench.ts), and next to a
      // stream that just started it would take the cores the audio needs.
      const pool = run.pool;
      if (pool) void this.finishedPromise.then(() => pool.fill(), () => pool.fill());
    }
  }

  /** Resolves with the report when the engine stops (by itself or through stop()); rejects if it failed. */
  get finished(): Promise<EngineReport> {
    if (!this.finishedPromise) return Promise.reject(new EngineError('state', `${this.name}: not started`));
    return this.finishedPromise;
  }

  private terminated = false;

  private terminatedReport(): EngineReport {
    const s = this.stats();
    return {
      reason: 'terminated', periods: s.periods, frames: s.periods * (this.negotiated?.bufferFrames ?? 0), underruns: s.underruns, overruns: s.overruns,
      resets: s.resets, timeouts: s.timeouts, realtime: this.realtime ?? { fifo: 'not-requested', mlock: 'not-requested' },
      scavenges: Number.NaN, otherGcs: Number.NaN, youngBytes: Number.NaN, measuredPeriods: 0, windowXruns: Number.NaN, cpuMicros: Number.NaN, threadCpuNs: Number.NaN, wallNs: Number.NaN,
      latency: this.latency(),
    };
  }

  /**
   * Asks the audio thread to stop after its current period, and waits until the thread has
   * exited. A host stuck inside process() longer than `timeoutMs` gets the thread terminated
   * (report reason 'terminated'). Either way no thread is left behind when this resolves.
   */
  async stop(timeoutMs = 5000): Promise<EngineReport> {
    if (!this.finishedPromise) throw new EngineError('state', `${this.name}: not started`);
    const worker = this.worker;
    if (worker) {
      Atomics.store(this.control!, CTRL.STOP, 1);
      const timer = setTimeout(() => {
        this.terminated = true;
        void worker.terminate();
      }, timeoutMs);
      try {
        return await this.finishedPromise;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.finishedPromise;
  }

  /** Stops (if running) and forgets the negotiated configuration. */
  async close(): Promise<void> {
    if (this.worker) await this.stop().catch(() => {});
    this.closed = true;
  }

  private checkNotClosed(): void {
    if (this.closed) throw new EngineError('state', `${this.name}: device is closed`);
  }
}

function validate(c: Required<EngineConfig>, d: ResolvedDevice): void {
  const bad = (what: string) => {
    throw new EngineError('invalid-argument', `${d.name}: ${what}`);
  };
  if (!Number.isInteger(c.rate) || c.rate < 8000 || c.rate > 384000) bad(`rate must be an integer from 8000 to 384000, got ${c.rate}`);
  if (!Number.isInteger(c.bufferFrames) || c.bufferFrames < MIN_PERIOD || c.bufferFrames > MAX_PERIOD) bad(`bufferFrames must be an integer from ${MIN_PERIOD} to ${MAX_PERIOD}, got ${c.bufferFrames}`);
  if (!Number.isInteger(c.periods) || c.periods < 2 || c.periods > 16) bad(`periods must be an integer from 2 to 16, got ${c.periods}`);
  for (const k of ['inputChannels', 'outputChannels'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] > CHANNEL_LIMIT) bad(`${k} must be an integer from 0 to ${CHANNEL_LIMIT}, got ${c[k]}`);
  }
  if (c.inputChannels === 0 && c.outputChannels === 0) bad('at least one of inputChannels and outputChannels must be > 0');
  if (!(['f32', 'i16', 'i32'] as HostSampleFormat[]).includes(c.format)) bad(`format must be f32, i16 or i32, got ${String(c.format)}`);
  if (typeof c.interleaved !== 'boolean') bad('interleaved must be true or false');
  if (c.inputChannels > 0 && !d.capture) throw new EngineError('unsupported', `${d.name} has no capture stream (inputChannels must be 0)`);
  if (c.outputChannels > 0 && !d.playback) throw new EngineError('unsupported', `${d.name} has no playback stream (outputChannels must be 0)`);
}
