/**
 * The ring-buffer channel on the real-time engine (docs/PROTOCOL.md section 6, rules R-RB-5…).
 *
 * One engine worker per ring-buffer channel (src/engine/driver.ts), running the stream-bridge host
 * (src/engine/hosts/stream-bridge.ts) on the stream's PCM, from the channel's creation until it
 * closes (plus a short linger of silence). While the ring buffer is stopped the engine plays
 * silence (or discards capture), so START takes effect at the next period boundary.
 *
 *   main thread (this file)                          engine worker
 *   ───────────────────────                          ─────────────
 *   GET_BUFFER: create /dev/shm file (frames only)
 *               post SET_BUFFER(name) ─────────────▶ maps the same file
 *   START:      post START ────────────────────────▶ at a period boundary: start_time, reads begin
 *               ◀──────────────────── ACK(start_time)
 *               ◀──── POSITION(time, pos) per crossing, XRUN, CLOCK (event ring, Atomics.notify)
 *   STOP / close: post STOP / RELEASE ─────────────▶ silence from the next period; unmaps
 *   (client gone)   ◀────────────── PEER_GONE: the worker saw the client exit / hang up itself
 *
 * Commands and events travel through one SharedArrayBuffer (src/engine/stream-control.ts); the
 * main thread waits for events with Atomics.waitAsync. On a sim board with a virtual clock the
 * worker runs on the service's own timeline in lock-step (src/engine/linked-clock.ts), and events
 * are read right after each engine period, at that period's virtual time.
 *
 * A client that goes away (R-RB-12): the worker does not wait for RELEASE. The transport gives
 * the engine descriptors of the channel's socket and of the connecting process's /proc/<pid>/stat
 * (RingBufferChannel.openClientWatch), which the worker reads once per period before touching the
 * buffer (src/engine/client-watch.ts); a process that is exiting, or a socket that hung up,
 * silences the output from that period on, however late the kernel closes the socket and this
 * thread notices. The worker's PEER_GONE then has the core close the channel (clientGone). This
 * thread owns the descriptors and closes them only once the worker cannot read them any more
 * (RELEASE acknowledged, or the engine ended), so their numbers are never reused under the
 * worker. Without them (no socket, no koffi) silence follows RELEASE, at the period after this
 * thread sent it.
 *
 * Ordering: the START response must go out before the first POSITION_NOTIFY, and the STOP
 * response after the last one. Events are handled in order; after an ACK resolves a request, the
 * rest of the events wait for a macrotask, so the core sends the response (a microtask
 * continuation) first.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, rmSync } from 'node:fs';
import type { BoardRuntime } from '../board/runtime.ts';
import type { StreamSpec } from '../board/schema.ts';
import { EngineDevice, EngineWorkerPool } from '../engine/driver.ts';
import type { ResolvedDevice } from '../engine/devices.ts';
import { CLIENT } from '../engine/client-watch.ts';
import { ClockLinkHost, createClockLink } from '../engine/linked-clock.ts';
import type { SimCaptureSpec } from '../engine/sim-signals.ts';
import { createControlQueue, controlQueueViews, pushControl, CONTROL_KIND, PLUGIN_TARGET_STRIDE, WHEN } from '../engine/control-queue.ts';
import { CHAIN_MAILBOX_BYTES, type ChainOptions, type ChainStageSpec, DSSI_FIELD, PROGRAM_PACK, chainStatsBytes, dssiFieldsAt, writeChainMailbox } from '../dsp/chain.ts';
import {
  CMD_CODE, EVENT, LATENESS_BINS, LATENESS_EDGES, type StreamControlViews, WORD, createStreamControl, meterViewsOf, postCommand, streamControlViews, takeEvent, waitAsync,
} from '../engine/stream-control.ts';
import type { LevelReading } from '../web/source.ts';
import { LevelMeter } from './levels.ts';
import type { EngineReport, HostSampleFormat, NegotiatedConfig } from '../engine/types.ts';
import { type ClientWatchFds, closeClientWatch } from './client-watch.ts';
import { SharedMapping } from '../ringbuffer/shm.ts';
import type { RequestedFormat, RingBufferChannel, RingBufferEngine, RingBufferEvents, RingBufferResult } from './device.ts';
import { SAMPLE_FORMAT, SAMPLE_FORMAT_FLAGS, bytesPerSample, sampleFormatBase } from '../audio/formats.ts';
import { RB_ERROR_KIND, STATUS } from './wire.ts';
import { siblingModule } from '../util/package-files.ts';

const HOST_PATH = siblingModule('../engine/hosts/stream-bridge.ts', import.meta.url).href;

/**
 * The default ramp time: 50 ms. Long enough that a change across the whole range, even from
 * silence, is a smooth envelope (a ramp of 40 dB moves 0.017 dB a sample; the spectrum of a
 * 1 kHz tone faded in over 50 ms stays within a few tens of Hz of it: no click), short enough
 * that a knob or a START still feels immediate (well under the ~100 ms a listener takes for "at
 * once"). CamillaDSP's volume ramp defaults to 400 ms, for slow fades; ours is for clicks.
 */
export const DEFAULT_RAMP_MS = 50;

/** Largest shared buffer handed out (bytes). */
export const MAX_BUFFER_BYTES = 64 << 20;

export interface EngineRingBufferOptions {
  /** Target period in µs (default 2667: 128 frames at 48 kHz); rounded to whole frames, multiples of 16. */
  periodUs?: number;
  /** Periods in the device buffer (default 2 on sim boards, 3 on ALSA). */
  periods?: number;
  /** Ask for SCHED_FIFO / mlockall in the engine thread (default true; never on a virtual clock). */
  realtime?: boolean;
  /** Sim boards: frames of playback to keep; the record comes with the report (`onReport`). */
  recordFrames?: number;
  /** Sim boards: what the simulated microphone hears (default a 440 Hz sine at 1/4 of full scale). */
  simCapture?: SimCaptureSpec;
  /**
   * The ramp time (ms) of output streams: the fade in at START, the fade out before STOP is
   * answered, and the ramps across gain changes (src/stream/gain-handoff.ts). Default: the board
   * file's per-stream `rampMs`, else DEFAULT_RAMP_MS. 0 turns them off.
   */
  rampMs?: number;
  /** A stream's ramp time as configure set it (ms), or undefined: the option, the board file, the default. */
  rampOf?: (streamId: string) => number | undefined;
  /** The engine trim of a stream, dB (the `<board>.<stream>.trim` control): each new engine starts at it. */
  trimOf?: (streamId: string) => number;
  /** The plugin chain a new engine of an output stream runs (src/stream/plugin-controls.ts); undefined: none. */
  pluginsOf?: (streamId: string, channels: number) => ChainOptions | undefined;
  /** Told when a DSSI stage's program was selected on the engine (bank, program; its control inputs as the plugin left them, by port index: NaN for a port that is not one). */
  onPluginProgram?: (streamId: string, stage: number, bank: number, program: number, ports: Float64Array) => void;
  /** The DSSI call-class lock shared by every engine and the main thread (src/dsp/chain.ts DSSI_LOCK). */
  dssiLock?: SharedArrayBuffer;
  /** Told when an engine bypassed a plugin stage after overruns (a = stage, its overruns, the period in µs). */
  onPluginBypassed?: (streamId: string, stage: number, overruns: number, periodUs: number) => void;
  /** Silence after the channel closes before the engine lets go of the PCM (ms, default 300). */
  lingerMs?: number;
  /**
   * The group of the shared buffers (`serve --group`): each file is made mode 0660 with this group,
   * so that the group's members can map it (default: mode 0600, the service's user only).
   */
  bufferGid?: number;
  /**
   * An engine thread started ahead of use (issue 26): from the service's start, a spare thread
   * loads the engine's and the stream-bridge host's modules, so that a channel's engine starts
   * without waiting for them; the next spare loads when the engine that took one has stopped (so
   * that loading never competes with a stream that just started). Default false: each engine's
   * thread starts when its channel opens. `sbc-audio serve` turns it on; a library user or test that
   * starts many short-lived services pays one extra thread's loading per service with it.
   */
  prestart?: boolean;
  /** Called with each engine's final report (tests read the sim record from it). */
  onReport?: (endpoint: string, report: EngineReport) => void;
  /** Told of each xrun the engine reports (n underruns or overruns in one period), whether or not a client listens. */
  onXrun?: (stream: string, direction: 'output' | 'input', n: number) => void;
  log?: (line: string) => void;
}

/** The engine's host format for a protocol sample format, or undefined if it does not carry it byte for byte. */
export function hostFormatOf(sampleFormat: number): HostSampleFormat | undefined {
  if ((sampleFormat & SAMPLE_FORMAT_FLAGS) !== 0) return undefined; // UNSIGNED / INVERT_ENDIAN
  switch (sampleFormatBase(sampleFormat)) {
    case SAMPLE_FORMAT.BIT16: return 'i16';
    case SAMPLE_FORMAT.BIT32: return 'i32';
    case SAMPLE_FORMAT.BIT32_FLOAT: return 'f32';
    default: return undefined;
  }
}

/** The period in frames for a rate: the target duration rounded to a multiple of 16 frames (at least 16). */
export function periodFramesFor(rate: number, periodUs: number): number {
  return Math.max(16, Math.round((rate * periodUs) / 1e6 / 16) * 16);
}

interface Setup {
  device: EngineDevice;
  config: NegotiatedConfig;
  fifoFrames: number;
  frameBytes: number;
  link?: ClockLinkHost;
}

/** Per stream: the engine that holds (or last held) its PCM, so a new one waits for it. */
interface Slot {
  current?: EngineRingBuffer;
}

let shmCounter = 0;

/** A `createRingBuffer` for startStreamService: ring-buffer channels on the engine. */
export function engineRingBuffers(rt: BoardRuntime, opts: EngineRingBufferOptions = {}) {
  const slots = new Map<string, Slot>();
  const all = new Set<EngineRingBuffer>();
  // One spare for all the streams: a thread is the same for any of them until its start says which.
  const pool = opts.prestart !== true || rt.board.streams.length === 0 ? undefined
    : new EngineWorkerPool({ backend: rt.board.hal === 'sim' ? 'sim' : 'alsa', hosts: [HOST_PATH] });
  const create = (stream: StreamSpec, fmt: RequestedFormat, events: RingBufferEvents, channel?: RingBufferChannel): RingBufferEngine => {
    let slot = slots.get(stream.id);
    if (!slot) slots.set(stream.id, (slot = {}));
    const previous = slot.current;
    const e = new EngineRingBuffer(rt, stream, fmt, events, opts, previous, channel, pool);
    slot.current = e;
    all.add(e);
    void e.gone.then(() => all.delete(e));
    return e;
  };
  return Object.assign(create, {
    /** Stops every engine now, and the spare thread (the service is closing). */
    async closeAll(): Promise<void> {
      await Promise.all([...all].map((e) => e.shutdown()));
      await pool?.close();
    },
    /** The spare engine threads (undefined with `prestart: false`; tests and the bench read it). */
    pool,
    /** The live engines (tests). */
    engines: all as ReadonlySet<EngineRingBuffer>,
  });
}

export class EngineRingBuffer implements RingBufferEngine {
  readonly endpoint: string;
  private readonly control = createStreamControl();
  private readonly v: StreamControlViews = streamControlViews(this.control);
  /** Engine control events (src/engine/control-queue.ts): gain ramps, trim, at a frame. */
  private readonly controls = createControlQueue();
  private readonly cv = controlQueueViews(this.controls);
  private controlSeq = 0;
  private readonly applied = new Map<number, (r: { frame: number; timeNs: number }) => void>();
  /** After a STOP: when the last frame the engine read has left the DAC. */
  private silentFromNs: number | undefined;
  /** start_time of the current run (START's answer). */
  private startNs = Number.NaN;
  private timing_: { rate: number; fifoFrames: number; periodFrames: number } | undefined;
  /** The ramp time in effect (ms): configure's `ramp-ms` changes it (setRampMs). */
  rampMs: number;
  /** The plugin chain's stats block (src/dsp/chain.ts, STAT) and swap mailbox: output streams. */
  private readonly chainStats = new SharedArrayBuffer(chainStatsBytes());
  private readonly chainMailbox = new SharedArrayBuffer(CHAIN_MAILBOX_BYTES);
  private chainStages = 0;
  private readonly setup: Promise<Setup | { error: number; why: string }>;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly waiting = new Map<number, (e: { result: number; time: number }) => void>();
  private bufferName: string | undefined;
  private started = false;
  private closed = false;
  private dead: number | undefined;
  private stopRequested = false;
  private pumping = false;
  private deferred = false;
  private clock: { monotonicTimeNs: number; measuredFps: number; windowFrames: number } | undefined;
  private resolveGone!: () => void;
  /** Resolves when the engine has let go of the PCM (or never got it). */
  readonly gone = new Promise<void>((r) => { this.resolveGone = r; });
  private lingerTimer: NodeJS.Timeout | undefined;
  /** The descriptors the worker reads to notice the client going (closed by closeClientFds). */
  private clientFds: ClientWatchFds | undefined;

  constructor(
    private readonly rt: BoardRuntime,
    readonly stream: StreamSpec,
    readonly fmt: RequestedFormat,
    private readonly events: RingBufferEvents,
    private readonly opts: EngineRingBufferOptions,
    previous: EngineRingBuffer | undefined,
    channel?: RingBufferChannel,
    private readonly pool?: EngineWorkerPool,
  ) {
    this.endpoint = `${rt.board.name}.${stream.id}`;
    this.rampMs = stream.direction === 'output' ? opts.rampOf?.(stream.id) ?? opts.rampMs ?? stream.rampMs ?? DEFAULT_RAMP_MS : 0;
    const trimDb = stream.direction === 'output' ? opts.trimOf?.(stream.id) ?? 0 : 0;
    // The trim in force before the first period (nothing plays yet: no ramp).
    if (trimDb !== 0) void this.postControl(CONTROL_KIND.TRIM, WHEN.NOW, 0, 10 ** (trimDb / 20), 0);
    this.clientFds = channel?.openClientWatch?.(); // now: later the socket may be gone
    this.setup = this.init(previous);
    this.setup.then((s) => {
      if ('error' in s) {
        this.opts.log?.(`${this.endpoint}: ring buffer engine unavailable: ${s.why}`);
        this.closeClientFds();
        this.resolveGone();
      }
    }, () => {
      this.closeClientFds();
      this.resolveGone();
    });
  }

  private async init(previous: EngineRingBuffer | undefined): Promise<Setup | { error: number; why: string }> {
    if (previous) await previous.shutdown(); // the PCM is the new engine's now
    const format = hostFormatOf(this.fmt.sampleFormat);
    if (!format) return { error: STATUS.NOT_SUPPORTED, why: `sample format 0x${this.fmt.sampleFormat.toString(16)} is not carried by the engine (16-bit, 32-bit and float only)` };
    if (this.closed) return { error: STATUS.BAD_STATE, why: 'closed before it started' };
    const { board } = this.rt;
    const sim = board.hal === 'sim';
    const virtual = sim && this.rt.hal.clock.kind === 'virtual';
    const output = this.stream.direction === 'output';
    const i2sLink = output ? this.rt.i2sLink(this.stream.pcm) : undefined;
    const adcGate = output ? undefined : this.rt.adcGate(this.stream.pcm);
    const info: ResolvedDevice = {
      name: this.stream.id, backend: sim ? 'sim' : 'alsa', board: board.name, description: `${this.stream.purpose} (${this.stream.pcm})`,
      ...(output ? { playback: this.stream.pcm } : { capture: this.stream.pcm }),
      ...(sim ? { simClock: virtual ? 'virtual' as const : 'monotonic' as const } : {}),
      ...(i2sLink ? { i2sLink } : {}),
      ...(adcGate ? { adcGate } : {}),
    };
    let link: ClockLinkHost | undefined;
    if (virtual) {
      info.clockLink = createClockLink();
      link = new ClockLinkHost(this.rt.hal.clock, info.clockLink, () => this.pump(true));
    }
    const device = new EngineDevice(info, this.rt); // the external delay comes from the open board
    try {
      const periods = this.opts.periods ?? (sim ? 2 : 3);
      const config = await device.negotiate({
        rate: this.fmt.fps, bufferFrames: periodFramesFor(this.fmt.fps, this.opts.periodUs ?? 2667), periods, format, interleaved: true,
        inputChannels: output ? 0 : this.fmt.channels, outputChannels: output ? this.fmt.channels : 0,
      });
      const fifoFrames = output ? config.periods * config.bufferFrames : config.bufferFrames;
      device.on('warning', (w: string) => this.opts.log?.(`${this.endpoint}: ${w}`));
      let plugins: ChainOptions | undefined;
      try {
        plugins = output ? this.opts.pluginsOf?.(this.stream.id, this.fmt.channels) : undefined;
      } catch (e) {
        return { error: STATUS.NOT_SUPPORTED, why: `its plugin chain cannot run on this format: ${(e as Error).message}` };
      }
      if (plugins) this.chainStages = plugins.stages.length;
      await device.start(config, {
        path: HOST_PATH,
        options: {
          control: this.control, direction: this.stream.direction, fifoFrames, clockLink: info.clockLink,
          controls: this.controls, rampFrames: Math.round((this.rampMs * config.rate) / 1000),
          ...(output ? { chainStats: this.chainStats, chainMailbox: this.chainMailbox, ...(this.opts.dssiLock ? { dssiLock: this.opts.dssiLock } : {}) } : {}),
          ...(plugins ? { plugins: { ...plugins, stats: this.chainStats, ...(this.opts.dssiLock ? { dssiLock: this.opts.dssiLock } : {}) } } : {}),
          clientSocketFd: this.clientFds?.socketFd, clientStatFd: this.clientFds?.statFd,
        },
      }, {
        warmupPeriods: 0, warmupMs: 0, realtime: this.opts.realtime ?? true, ...(this.pool ? { pool: this.pool } : {}),
        sim: sim ? { recordFrames: output ? this.opts.recordFrames ?? 0 : 0, capture: output ? undefined : this.opts.simCapture ?? { kind: 'sine', freq: 440, amplitude: 0.25 } } : undefined,
      });
      this.timing_ = { rate: config.rate, fifoFrames, periodFrames: config.bufferFrames };
      device.finished.then((report) => this.finished(report), (e: Error) => this.finished(undefined, e));
      this.listen();
      return { device, config, fifoFrames, frameBytes: this.fmt.channels * bytesPerSample(this.fmt.sampleFormat), link };
    } catch (e) {
      link?.detach();
      return { error: STATUS.IO, why: (e as Error).message };
    }
  }

  // ---- events from the worker ----

  private listen(): void {
    if (this.dead !== undefined) return;
    const seen = Atomics.load(this.v.words, WORD.EVT_WRITE);
    if (seen !== Atomics.load(this.v.words, WORD.EVT_READ)) this.pump(false);
    void waitAsync(this.v.words, WORD.EVT_WRITE, seen, 1000).then(() => this.listen());
  }

  /** Handles events in order; stops after one that answered a request (see the file comment). */
  private pump(_step: boolean): void {
    if (this.pumping || this.deferred) return;
    this.pumping = true;
    try {
      for (;;) {
        const e = takeEvent(this.v);
        if (!e) break;
        if (e.type === EVENT.ACK) {
          const w = this.waiting.get(e.a);
          this.waiting.delete(e.a);
          if (w) {
            w({ result: e.b, time: e.time });
            this.deferred = true;
            setImmediate(() => {
              this.deferred = false;
              this.pump(false);
            });
            break;
          }
        } else if (e.type === EVENT.POSITION) {
          if (this.started) this.events.positionNotify(e.time, e.a);
        } else if (e.type === EVENT.XRUN) {
          this.opts.onXrun?.(this.stream.id, this.stream.direction, e.a);
          const kind = this.stream.direction === 'output' ? RB_ERROR_KIND.UNDERRUN : RB_ERROR_KIND.OVERRUN;
          this.events.error?.(e.time, kind, STATUS.IO_DATA_INTEGRITY, e.a, e.b);
        } else if (e.type === EVENT.CLOCK) {
          this.clock = { monotonicTimeNs: e.time, measuredFps: e.a / 1000, windowFrames: e.b };
          this.events.clock?.(e.time, e.a / 1000, e.b);
        } else if (e.type === EVENT.CONTROL_APPLIED) {
          const w = this.applied.get(e.a);
          this.applied.delete(e.a);
          w?.({ frame: e.b, timeNs: e.time });
        } else if (e.type === EVENT.PLUGIN_PROGRAM) {
          const at = dssiFieldsAt(e.a);
          const stats = new Float64Array(this.chainStats);
          const bank = Math.floor(e.b / PROGRAM_PACK);
          this.opts.onPluginProgram?.(this.stream.id, e.a, bank, e.b - bank * PROGRAM_PACK, stats.slice(at + DSSI_FIELD.PORTS, at + DSSI_FIELD.SIZE));
        } else if (e.type === EVENT.PLUGIN_BYPASSED) {
          const t = this.timing_;
          this.opts.onPluginBypassed?.(this.stream.id, e.a, e.b, t ? (t.periodFrames * 1e6) / t.rate : Number.NaN);
        } else if (e.type === EVENT.PEER_GONE) {
          this.started = false; // no notification for a client that is gone
          const why = e.a === CLIENT.EXITING ? `process ${this.clientFds?.pid} is exiting` : 'socket hung up';
          this.opts.log?.(`${this.endpoint}: the client is gone (${why}); silence from the period at ${e.time} ns`);
          this.events.clientGone?.();
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private finished(report: EngineReport | undefined, error?: Error): void {
    this.setup.then((s) => { if (!('error' in s)) s.link?.detach(); }, () => {});
    if (report) this.opts.onReport?.(this.endpoint, report);
    if (!this.stopRequested) {
      // The engine stopped without being asked: the device failed (R-EXT-5).
      this.dead = STATUS.IO;
      this.opts.log?.(`${this.endpoint}: the engine stopped: ${error?.message ?? report?.error ?? report?.reason}`);
      this.events.error?.(this.rt.hal.clock.nowNs(), RB_ERROR_KIND.BUS_FAILURE, STATUS.IO, 1, 1);
      this.started = false;
    }
    this.dead ??= STATUS.BAD_STATE;
    for (const [, w] of this.waiting) w({ result: this.dead, time: 0 });
    this.waiting.clear();
    // Control events nobody will apply: answered as not applied (frame −1), now.
    for (const [, w] of this.applied) w({ frame: -1, timeNs: this.rt.hal.clock.nowNs() });
    this.applied.clear();
    this.unlinkBuffer();
    this.closeClientFds(); // the worker has ended: nobody reads them
    this.resolveGone();
  }

  /** Sends one command and waits for its ACK (commands go one at a time). */
  private command(cmd: number, args: { frames?: number; notify?: number; path?: string; stallUs?: number; notBeforeNs?: number } = {}): Promise<{ result: number; time: number }> {
    const run = async (): Promise<{ result: number; time: number }> => {
      if (this.dead !== undefined) return { result: this.dead, time: 0 };
      return new Promise((resolve) => {
        const seq = postCommand(this.v, cmd, args);
        this.waiting.set(seq, resolve);
      });
    };
    const p = this.chain.then(run, run);
    this.chain = p;
    return p;
  }

  private async ready(): Promise<Setup | number> {
    const s = await this.setup;
    if ('error' in s) return s.error;
    if (this.dead !== undefined) return this.dead;
    return s;
  }

  // ---- RingBufferEngine ----

  async getFifoDepth(): Promise<RingBufferResult<{ fifoDepth: number }>> {
    const s = await this.ready();
    if (typeof s === 'number') return { result: s, value: { fifoDepth: 0 } };
    return { result: STATUS.OK, value: { fifoDepth: s.fifoFrames * s.frameBytes } };
  }

  async getBuffer(minFrames: number, notificationsPerRing: number): Promise<RingBufferResult<{ frames: number; bufferPath?: string }>> {
    const s = await this.ready();
    if (typeof s === 'number') return { result: s, value: { frames: 0 } };
    if (this.started) return { result: STATUS.BAD_STATE, value: { frames: 0 } }; // R-RB-6
    // R-RB-6: at least the request, and at least the FIFO depth plus one period (room to write ahead).
    const frames = Math.max(minFrames, s.fifoFrames + s.config.bufferFrames);
    if (frames * s.frameBytes > MAX_BUFFER_BYTES) return { result: STATUS.NO_MEMORY, value: { frames: 0 } };
    if (notificationsPerRing > frames) return { result: STATUS.INVALID_ARGS, value: { frames: 0 } };
    const name = `/sbc-audio-${this.endpoint}-${process.pid}-${++shmCounter}-${randomBytes(4).toString('hex')}`;
    try {
      const gid = this.opts.bufferGid;
      SharedMapping.create(name, frames * s.frameBytes, gid === undefined ? 0o600 : 0o660).close(); // zero-filled: silence
      if (gid !== undefined) chownSync(`/dev/shm${name}`, -1, gid);
    } catch (e) {
      rmSync(`/dev/shm${name}`, { force: true });
      this.opts.log?.(`${this.endpoint}: cannot create the shared buffer: ${(e as Error).message}`);
      return { result: STATUS.NO_MEMORY, value: { frames: 0 } };
    }
    const a = await this.command(CMD_CODE.SET_BUFFER, { path: name, frames, notify: notificationsPerRing });
    this.unlinkBuffer(); // the worker let go of the old one before mapping the new one (R-RB-7)
    if (a.result !== STATUS.OK) {
      rmSync(`/dev/shm${name}`, { force: true });
      return { result: a.result, value: { frames: 0 } };
    }
    this.bufferName = name;
    return { result: STATUS.OK, value: { frames, bufferPath: `/dev/shm${name}` } };
  }

  async start(): Promise<RingBufferResult<{ startTimeNs: number }>> {
    const s = await this.ready();
    if (typeof s === 'number') return { result: s, value: { startTimeNs: 0 } };
    if (this.started || this.bufferName === undefined) return { result: STATUS.BAD_STATE, value: { startTimeNs: 0 } }; // R-RB-8
    // R-RB-8: an input's start_time is never before the service had the request (the engine
    // starts capturing into the buffer at the first period boundary at or after this time).
    const a = await this.command(CMD_CODE.START, { notBeforeNs: this.rt.hal.clock.nowNs() });
    if (a.result !== STATUS.OK) return { result: a.result, value: { startTimeNs: 0 } };
    this.started = true;
    this.startNs = a.time;
    return { result: STATUS.OK, value: { startTimeNs: a.time } };
  }

  async stop(): Promise<RingBufferResult<Record<string, never>>> {
    const s = await this.ready();
    if (typeof s === 'number') return { result: s, value: {} };
    if (this.bufferName === undefined) return { result: STATUS.BAD_STATE, value: {} }; // R-RB-9: no buffer yet
    if (!this.started) return { result: STATUS.OK, value: {} }; // R-RB-9
    const a = await this.command(CMD_CODE.STOP);
    this.started = false;
    // The engine answered after its last (faded) period; that period leaves the DAC one FIFO later.
    if (a.result === STATUS.OK) this.silentFromNs = a.time + (s.fifoFrames * 1e9) / s.config.rate;
    return { result: a.result, value: {} };
  }

  /**
   * The ramp time from now on (configure's `ramp-ms`): the trim's and the gain handoffs' ramps.
   * The start/stop fade changes through a RAMP_FRAMES event, which the caller posts.
   */
  setRampMs(ms: number): void {
    if (this.stream.direction === 'output') this.rampMs = ms;
  }

  /** Frame timing while the engine plays the client's buffer (src/stream/gain-handoff.ts). */
  timing(): { startNs: number; rate: number; fifoFrames: number; periodFrames: number } | undefined {
    if (!this.isRunning || !this.timing_ || !Number.isFinite(this.startNs) || this.stream.direction !== 'output') return undefined;
    return { startNs: this.startNs, ...this.timing_ };
  }

  /**
   * Posts an engine control event (src/engine/control-queue.ts); resolves with the stream frame
   * it took effect at and that frame's time (frame −1: applied while not playing, or never).
   */
  postControl(kind: number, whenKind: number, at: number, value: number, rampFrames: number, target = 0): Promise<{ frame: number; timeNs: number }> {
    if (this.dead !== undefined || this.closed) return Promise.resolve({ frame: -1, timeNs: this.rt.hal.clock.nowNs() });
    const id = ++this.controlSeq;
    return new Promise((resolve) => {
      if (!pushControl(this.cv, kind, whenKind, at, value, rampFrames, id, target)) {
        resolve({ frame: -1, timeNs: this.rt.hal.clock.nowNs() }); // full: the engine is stuck
        return;
      }
      this.applied.set(id, resolve);
    });
  }

  /** postControl at `when`: a frame, a CLOCK_MONOTONIC time, or (neither) the next period. */
  private postAt(kind: number, when: { frame?: number; ns?: number }, value: number, rampFrames: number, target = 0): Promise<{ frame: number; timeNs: number }> {
    if (when.frame !== undefined) return this.postControl(kind, WHEN.FRAME, when.frame, value, rampFrames, target);
    if (when.ns !== undefined) return this.postControl(kind, WHEN.MONOTONIC_NS, when.ns, value, rampFrames, target);
    return this.postControl(kind, WHEN.NOW, 0, value, rampFrames, target);
  }

  /** The engine's trim stage (an engine-side control): to `linear` at `when`, over `rampFrames`. */
  setTrim(linear: number, when: { frame?: number; ns?: number } = {}, rampFrames?: number): Promise<{ frame: number; timeNs: number }> {
    const ramp = rampFrames ?? Math.round((this.rampMs * (this.timing_?.rate ?? this.fmt.fps)) / 1000);
    return this.postAt(CONTROL_KIND.TRIM, when, linear, ramp);
  }

  /** A control input of plugin stage `stage` to `value` at `when` (a frame, a time, or the next period). */
  setPluginPort(stage: number, port: number, value: number, when: { frame?: number; ns?: number } = {}): Promise<{ frame: number; timeNs: number }> {
    const target = stage * PLUGIN_TARGET_STRIDE + port;
    return this.postAt(CONTROL_KIND.PLUGIN_PORT, when, value, 0, target);
  }

  /** Plugin stage `stage` bypassed (on) or running (off) from `when`. */
  setPluginBypass(stage: number, on: boolean, when: { frame?: number; ns?: number } = {}): Promise<{ frame: number; timeNs: number }> {
    const v = on ? 1 : 0;
    return this.postAt(CONTROL_KIND.PLUGIN_BYPASS, when, v, 0, stage);
  }

  /** A DSSI stage's select_program at `when` (audio class: the engine calls it between two pieces of a period). */
  setPluginProgram(stage: number, bank: number, program: number, when: { frame?: number; ns?: number } = {}): Promise<{ frame: number; timeNs: number }> {
    const v = bank * PROGRAM_PACK + program;
    return this.postAt(CONTROL_KIND.PLUGIN_PROGRAM, when, v, 0, stage);
  }

  /** A MIDI channel message (status << 16 | data1 << 8 | data2) for DSSI stage `stage`'s run_synth at `when`. */
  sendPluginMidi(stage: number, packed: number, when: { frame?: number; ns?: number } = {}): Promise<{ frame: number; timeNs: number }> {
    return this.postAt(CONTROL_KIND.PLUGIN_MIDI, when, packed, 0, stage);
  }

  /**
   * How far ahead of now an event must be placed to land on its frame (ns): the FIFO plus one
   * period (what the engine may already have rendered); undefined before the device runs.
   */
  eventLeadNs(): number | undefined {
    const t = this.timing_;
    return t ? ((t.fifoFrames + t.periodFrames) * 1e9) / t.rate : undefined;
  }

  /** The LADSPA_Handle addresses of DSSI stage `stage`'s instances in the running engine (none: []). Read them under the DSSI lock. */
  pluginHandles(stage: number): number[] {
    if (this.chainStages === 0 || this.isClosed) return [];
    const stats = new Float64Array(this.chainStats);
    const at = dssiFieldsAt(stage);
    return Array.from({ length: stats[at + DSSI_FIELD.HANDLE_COUNT] ?? 0 }, (_, j) => stats[at + DSSI_FIELD.HANDLES + j]!);
  }

  /** The running chain's stats (per stage, STAT fields), or undefined without a chain. */
  pluginStats(): Float64Array | undefined {
    return this.chainStages > 0 ? new Float64Array(this.chainStats) : undefined;
  }

  /**
   * Replaces the plugin chain (an instantiation-class change: src/control/dispatch.ts): the engine
   * fades the output out over the ramp time, makes the new chain at silence and fades in; resolves
   * once the fade in is over (at once while nothing plays), with the engine's result.
   */
  async swapChain(stages: readonly ChainStageSpec[]): Promise<number> {
    const s = await this.ready();
    if (typeof s === 'number') return s;
    if (this.stream.direction !== 'output') return STATUS.NOT_SUPPORTED;
    writeChainMailbox(this.chainMailbox, stages);
    const a = await this.command(CMD_CODE.SET_CHAIN);
    if (a.result === STATUS.OK) this.chainStages = stages.length;
    return a.result;
  }

  /**
   * When the output has played out what the engine read before its last STOP (the fade's end):
   * the board's power mutes and turns the amplifier off only then (src/stream/service.ts).
   */
  outputSilentFromNs(): number | undefined {
    return this.stream.direction === 'output' ? this.silentFromNs : undefined;
  }

  canStart(): boolean {
    return !this.started && this.bufferName !== undefined && this.dead === undefined;
  }

  /** The channel closed (or the engine is shutting down). */
  get isClosed(): boolean {
    return this.closed;
  }

  lastClock() {
    return this.clock;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.started = false; // no notification after the channel is gone
    const s = await this.setup.catch(() => undefined);
    if (!s || 'error' in s) return;
    if (this.dead === undefined) await this.command(CMD_CODE.RELEASE); // silence from the next period (R-RB-12)
    this.closeClientFds(); // acknowledged (or the engine ended): the worker reads them no more
    this.unlinkBuffer();
    // Keep the PCM playing silence a little (a capture of the output sees zeros, not an abrupt end),
    // unless another channel of the stream wants it first (shutdown()).
    this.lingerTimer = setTimeout(() => void this.shutdown(), this.opts.lingerMs ?? 300);
  }

  /** Stops the engine now and waits until it has let go of the PCM. */
  async shutdown(): Promise<void> {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.closed = true;
    this.started = false;
    const s = await this.setup.catch(() => undefined);
    if (s && !('error' in s) && !this.stopRequested) {
      this.stopRequested = true;
      s.link?.detach();
      await s.device.stop().catch(() => {});
    }
    await this.gone;
  }

  /** Started (START answered OK, no STOP since) and not closed: the engine reads or writes the client's buffer. */
  get isRunning(): boolean {
    return this.started && !this.closed && this.dead === undefined;
  }

  /** The engine's period, ns (NaN where the engine did not start). */
  async periodNs(): Promise<number> {
    const s = await this.setup.catch(() => undefined);
    return !s || 'error' in s ? Number.NaN : (s.config.bufferFrames * 1e9) / s.config.rate;
  }

  /**
   * Simulated stall of the engine thread (sim boards). On a linked virtual clock its next
   * wake-up comes `ns` late; on a real-time clock the thread blocks for `ns` in its next period
   * (CMD_CODE.STALL), and this resolves when it is back. Either way a stall longer than what the
   * device buffer holds is an xrun.
   */
  async simulateStall(ns: number): Promise<void> {
    const s = await this.setup;
    if ('error' in s) throw new Error(`${this.endpoint}: the engine did not start: ${s.why}`);
    if (this.rt.board.hal !== 'sim') throw new Error(`${this.endpoint}: stalls are simulated on sim boards only`);
    if (s.link) {
      s.link.stall(ns);
      return;
    }
    const us = Math.round(ns / 1000);
    if (!(us >= 0 && us <= 0x7fffffff)) throw new RangeError(`stall of ${ns} ns: expected 0 to ${0x7fffffff} µs`);
    const a = await this.command(CMD_CODE.STALL, { stallUs: us });
    if (a.result !== STATUS.OK) throw new Error(`${this.endpoint}: the engine did not stall (status ${a.result})`);
  }

  /** The reader of this engine's level meters (made at the first levels()). */
  private meter: LevelMeter | undefined;

  /**
   * The stream's levels over the frames since the previous call (src/stream/levels.ts: peak and
   * RMS dBFS per channel of what goes to the DAC after the engine's gain stage, or of what was
   * captured; frames 0 and −Infinity while stopped), rate-capped at LevelMeter's default (calls
   * closer together than that repeat the last reading). Undefined while no engine runs: not set
   * up yet, failed, closed or ended.
   */
  levels(): LevelReading | undefined {
    if (this.closed || this.dead !== undefined || this.timing_ === undefined) return undefined;
    this.meter ??= new LevelMeter(this.stream.id, this.fmt.channels, meterViewsOf(this.v), this.rt.hal.clock);
    return this.meter.read();
  }

  /**
   * The engine's period-lateness histogram since it started (src/engine/stream-control.ts,
   * LATENESS_EDGES: lower edges as fractions of the period; the counts per bin). Undefined while
   * no engine runs, as levels().
   */
  lateness(): { edges: number[]; counts: number[] } | undefined {
    if (this.closed || this.dead !== undefined || this.timing_ === undefined) return undefined;
    const counts: number[] = [];
    for (let i = 0; i < LATENESS_BINS; i++) counts.push(Atomics.load(this.v.lateness, i));
    return { edges: [...LATENESS_EDGES], counts };
  }

  /** Simulated device failure: the engine's period fails as if the PCM had (the worker closes its streams and ends). */
  async simulateFailure(): Promise<void> {
    const s = await this.setup;
    if ('error' in s) return;
    postCommand(this.v, CMD_CODE.FAIL);
    await this.gone;
  }

  private closeClientFds(): void {
    if (this.clientFds === undefined) return;
    closeClientWatch(this.clientFds);
    this.clientFds = undefined;
  }

  private unlinkBuffer(): void {
    if (this.bufferName) rmSync(`/dev/shm${this.bufferName}`, { force: true });
    this.bufferName = undefined;
  }
}
