/**
 * The PCM HAL backend on libasound: `AlsaPcmBackend.open(device, request)` negotiates hw and sw
 * params on an `AlsaPcm` and hands back a `PcmStream` that meets src/hal/pcm.ts.
 *
 * Decisions:
 * - Streams are opened non-blocking (SND_PCM_NONBLOCK), so write/read move what fits now and never
 *   block the event loop; `waitSync` is the one blocking call (snd_pcm_wait, for a worker thread).
 * - `wait()` runs on the event loop without a thread: it checks avail (which synchronises with the
 *   hardware pointer), and if short, sleeps until the time the missing frames take at the nominal
 *   rate (at least 1 ms), then checks again. A running stream so wakes about once per period.
 *   A worker or koffi's `.async` snd_pcm_wait on libuv's pool was rejected: it would use the
 *   handle from a second thread while the main thread writes (alsa-lib plugins are not all
 *   thread-safe) and could not be cancelled on close. Latency of `wait()` is that of a timer
 *   (~1 ms), fine for the event-loop consumers; the engine's real-time loop uses `waitSync`.
 * - State semantics follow ALSA (and the simulated backend): drop and drain leave the stream in
 *   'setup' and `prepare()` makes it usable again; an xrun makes write/read throw `PcmXrunError`,
 *   while avail/delay/status/wait report without throwing (wait resolves true so the caller's
 *   next write meets the error); `recover()` re-prepares and restarts capture.
 * - Capture's default start threshold is 1 frame (the first read starts it), as a capture device
 *   has nothing queued to wait for; playback's is the buffer size.
 * - The audio path (write, read, avail, delay, status, waitSync) allocates nothing: preallocated
 *   cells for every out-parameter, a preallocated status, word copies for mmap.
 */
import {
  type PcmBackend,
  type PcmConfig,
  PcmError,
  type PcmRequest,
  type PcmState,
  type PcmStatus,
  type PcmStream,
  PcmXrunError,
  SAMPLE_BYTES,
  type SampleFormat,
  emptyPcmStatus,
  frameBytes,
} from '../../pcm.ts';
import { monotonicClock } from '../clock.ts';
import { ERRNO } from '../../../util/errno.ts';
import { captureAlsaMessages } from './lib-messages.ts';
import { FrameCopier } from './frame-copy.ts';
import {
  AlsaError,
  SND_PCM_FORMAT_FLOAT_LE,
  SND_PCM_FORMAT_S16_LE,
  SND_PCM_FORMAT_S24_3LE,
  SND_PCM_FORMAT_S24_LE,
  SND_PCM_FORMAT_S32_LE,
  SND_PCM_STATE_DRAINING,
  SND_PCM_STATE_PAUSED,
  SND_PCM_STATE_PREPARED,
  SND_PCM_STATE_RUNNING,
  SND_PCM_STATE_SUSPENDED,
  SND_PCM_STATE_XRUN,
  asound,
} from './libasound.ts';
import { AlsaPcm, emptyAlsaStatus } from './pcm.ts';

export const ALSA_FORMATS: Readonly<Record<SampleFormat, number>> = {
  S16_LE: SND_PCM_FORMAT_S16_LE,
  S24_LE: SND_PCM_FORMAT_S24_LE,
  S24_3LE: SND_PCM_FORMAT_S24_3LE,
  S32_LE: SND_PCM_FORMAT_S32_LE,
  FLOAT_LE: SND_PCM_FORMAT_FLOAT_LE,
};

/** SND_PCM_STATE_* (alsa/pcm.h order) → HAL state names. */
const STATE_NAMES: readonly PcmState[] = ['open', 'setup', 'prepared', 'running', 'xrun', 'draining', 'paused', 'suspended', 'disconnected'];

export class AlsaPcmBackend implements PcmBackend {
  readonly kind = 'alsa';

  async open(device: string, request: PcmRequest): Promise<PcmStream> {
    return AlsaPcmStream.open(device, request);
  }
}

export class AlsaPcmStream implements PcmStream {
  readonly config: PcmConfig;
  /** The alsa-lib handle underneath, for callers that need more than the HAL (poll descriptors, raw status). */
  readonly pcm: AlsaPcm;
  private readonly playback: boolean;
  private readonly mmap: boolean;
  private readonly fb: number;
  private readonly raw = emptyAlsaStatus();
  private readonly scratch = emptyPcmStatus();
  private readonly copier = new FrameCopier();
  private readonly clock = monotonicClock();
  private xruns = 0;
  /**
   * Our own record of the last trigger, for alsa-lib plugins that report none (`null`): taken at
   * explicit start/drop, or when a status first sees the stream running. Kernel devices report theirs.
   */
  private ownTriggerNs = 0;
  private ownStartSeen = false;
  /** False once an mmap playback stream is seen running; set again by prepare/recover/drop. */
  private mayBePrepared = true;
  /** True between detecting an xrun and the next prepare/recover, so one xrun counts once. */
  private inXrun = false;
  private closed = false;
  private waiter: { resolve: (ready: boolean) => void; deadlineNs: number } | undefined;
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly onWaitTimer = () => this.checkWaiter();

  private constructor(pcm: AlsaPcm, config: PcmConfig) {
    this.pcm = pcm;
    this.config = config;
    this.playback = config.direction === 'playback';
    this.mmap = config.access === 'mmap';
    this.fb = config.frameBytes;
  }

  get device(): string {
    return this.pcm.device;
  }

  static open(device: string, req: PcmRequest): AlsaPcmStream {
    // Opened and negotiated with alsa-lib's messages caught: a refusal's account is in the error.
    return captureAlsaMessages(() => AlsaPcmStream.openAndNegotiate(device, req));
  }

  private static openAndNegotiate(device: string, req: PcmRequest): AlsaPcmStream {
    if (!(req.format in ALSA_FORMATS)) throw new PcmError(device, 'open', `unsupported sample format ${req.format}`, -ERRNO.EINVAL);
    if (!(req.periodFrames > 0) || !(req.bufferFrames > 0)) throw new PcmError(device, 'open', 'period and buffer sizes must be positive', -ERRNO.EINVAL);
    let pcm: AlsaPcm;
    try {
      pcm = AlsaPcm.open(device, req.direction, true);
    } catch (e) {
      throw toPcmError(device, 'open', e, req.direction);
    }
    try {
      const access = req.access ?? 'rw';
      const hw = pcm.setHwParams({
        access,
        format: ALSA_FORMATS[req.format],
        channels: req.channels,
        rate: req.rate,
        periodFrames: req.periodFrames,
        bufferFrames: req.bufferFrames,
      });
      const wantStart = req.startThreshold ?? (req.direction === 'playback' ? hw.bufferFrames : 1);
      const sw = pcm.setSwParams({
        // Above the buffer size a threshold is never reached: only start() starts (ALSA allows it).
        startThreshold: Number.isFinite(wantStart) ? Math.max(1, wantStart) : Infinity,
        availMin: Math.min(hw.bufferFrames, Math.max(1, req.availMin ?? hw.periodFrames)),
        timestamps: true,
      });
      const config: PcmConfig = {
        direction: req.direction,
        rate: hw.rate,
        channels: hw.channels,
        format: req.format,
        periodFrames: hw.periodFrames,
        bufferFrames: hw.bufferFrames,
        access,
        frameBytes: frameBytes(req.format, hw.channels),
        availMin: sw.availMin,
        startThreshold: Number.isFinite(wantStart) ? sw.startThreshold : Infinity,
      };
      if (config.frameBytes !== SAMPLE_BYTES[req.format] * req.channels) throw new PcmError(device, 'open', 'frame size mismatch', -ERRNO.EINVAL);
      return new AlsaPcmStream(pcm, config);
    } catch (e) {
      pcm.close();
      throw toPcmError(device, 'open', e, req.direction);
    }
  }

  private checkOpen(op: string): void {
    if (this.closed) throw new PcmError(this.device, op, 'stream is closed', -ERRNO.EBADFD);
  }

  /** Turns a negative alsa-lib result of an I/O call into the HAL's error (EAGAIN is not an error). */
  private ioError(op: string, rc: number): PcmError {
    if (rc === -ERRNO.EPIPE) {
      this.noteXrun();
      return new PcmXrunError(this.device, op, this.config.direction);
    }
    if (rc === -ERRNO.ESTRPIPE) return new PcmError(this.device, op, 'stream suspended (call recover)', rc);
    return new PcmError(this.device, op, asound().strerror(rc), rc);
  }

  private noteXrun(): void {
    if (!this.inXrun) {
      this.inXrun = true;
      this.xruns++;
    }
  }

  write(data: Uint8Array, frames: number): number {
    this.checkOpen('write');
    if (!this.playback) throw new PcmError(this.device, 'write', 'not a playback stream', -ERRNO.EINVAL);
    const n = Math.min(frames, Math.floor(data.length / this.fb));
    if (n <= 0) return 0;
    if (!this.mmap) {
      const rc = this.pcm.writei(data, n);
      if (rc >= 0) return rc;
      if (rc === -ERRNO.EAGAIN) return 0;
      throw this.ioError('write', rc);
    }
    return this.mmapTransfer(data, n, 'write');
  }

  read(data: Uint8Array, frames: number): number {
    this.checkOpen('read');
    if (this.playback) throw new PcmError(this.device, 'read', 'not a capture stream', -ERRNO.EINVAL);
    const n = Math.min(frames, Math.floor(data.length / this.fb));
    if (n <= 0) return 0;
    if (!this.mmap) {
      const rc = this.pcm.readi(data, n);
      if (rc >= 0) return rc;
      if (rc === -ERRNO.EAGAIN) return 0;
      throw this.ioError('read', rc);
    }
    if (this.pcm.state() === SND_PCM_STATE_PREPARED && this.config.startThreshold <= n) {
      const rc = asound().start(this.pcm.pcm);
      if (rc < 0) throw this.ioError('read', rc);
    }
    return this.mmapTransfer(data, n, 'read');
  }

  /** mmap_begin / copy / mmap_commit until `frames` moved or the ring has no room (no data). */
  private mmapTransfer(data: Uint8Array, frames: number, op: 'write' | 'read'): number {
    const pcm = this.pcm;
    const fb = this.fb;
    const avail = pcm.availUpdate();
    if (avail < 0) throw this.ioError(op, avail);
    const want = Math.min(frames, avail);
    let done = 0;
    while (done < want) {
      const got = pcm.mmapBegin(want - done);
      if (got < 0) throw this.ioError(op, got);
      if (got === 0) break;
      // From the start of the caller's buffer libc's memcpy does the copy in one call; past it
      // (the second part of a transfer that wraps the ring) the allocation-free word copier.
      if (done === 0) {
        if (op === 'write') pcm.copyToRing(data, got * fb);
        else pcm.copyFromRing(data, got * fb);
      } else {
        const ring = pcm.mmapRing;
        if (op === 'write') this.copier.copy(data, done * fb, ring, pcm.mmapByteOffset, got * fb);
        else this.copier.copy(ring, pcm.mmapByteOffset, data, done * fb, got * fb);
      }
      const rc = pcm.mmapCommit(pcm.mmapOffset, got);
      if (rc < 0) throw this.ioError(op, rc);
      done += rc;
      if (rc < got) break;
    }
    // With mmap access nothing starts playback by itself: start once the threshold is queued,
    // as snd_pcm_writei does for RW access.
    // `mayBePrepared` spares the state query once the stream is known to run.
    if (op === 'write' && done > 0 && this.mayBePrepared && Number.isFinite(this.config.startThreshold)) {
      const state = pcm.state();
      if (state !== SND_PCM_STATE_PREPARED) this.mayBePrepared = false;
      else if (this.config.bufferFrames - pcm.availUpdate() >= this.config.startThreshold) {
        const rc = asound().start(pcm.pcm);
        if (rc < 0) throw this.ioError(op, rc);
        this.mayBePrepared = false;
      }
    }
    return done;
  }

  avail(): number {
    this.checkOpen('avail');
    const rc = this.pcm.avail();
    if (rc >= 0) return rc;
    if (rc === -ERRNO.EPIPE) this.noteXrun();
    return this.status(this.scratch).avail;
  }

  delay(): number {
    this.checkOpen('delay');
    const rc = this.pcm.delay();
    if (rc >= 0) return this.pcm.delayFrames;
    if (rc === -ERRNO.EPIPE) this.noteXrun();
    return this.status(this.scratch).delay;
  }

  status(into: PcmStatus = this.scratch): PcmStatus {
    this.checkOpen('status');
    const raw = this.raw;
    const rc = this.pcm.statusInto(raw);
    if (rc < 0) throw this.ioError('status', rc);
    const state = raw.state;
    if (state === SND_PCM_STATE_XRUN) this.noteXrun();
    into.state = STATE_NAMES[state] ?? 'open';
    into.avail = raw.avail;
    into.delay = raw.delay;
    into.hostNs = raw.hostNs > 0 ? raw.hostNs : this.clock.nowNs();
    if (raw.triggerNs > 0) into.triggerNs = raw.triggerNs;
    else {
      if (!this.ownStartSeen && state === SND_PCM_STATE_RUNNING) {
        this.ownStartSeen = true;
        this.ownTriggerNs = into.hostNs;
      }
      into.triggerNs = this.ownTriggerNs;
    }
    // Audio time exists only while the hardware pointer moves; alsa-lib plugins that do not
    // model it (such as `null`) report 0, which is not a time since the trigger.
    const moving = state === SND_PCM_STATE_RUNNING || state === SND_PCM_STATE_DRAINING || state === SND_PCM_STATE_PAUSED;
    into.audioNs = moving && (raw.audioNs > 0 || this.pcm.isKernelDevice) ? raw.audioNs : Number.NaN;
    into.xruns = this.xruns;
    return into;
  }

  prepare(): void {
    this.checkOpen('prepare');
    this.call('prepare', () => this.pcm.prepare());
    this.mayBePrepared = true;
    this.inXrun = false;
    this.ownStartSeen = false;
  }

  start(): void {
    this.checkOpen('start');
    this.call('start', () => this.pcm.start());
    this.ownTriggerNs = this.clock.nowNs();
    this.ownStartSeen = true;
  }

  drop(): void {
    this.checkOpen('drop');
    this.call('drop', () => this.pcm.drop());
    this.mayBePrepared = true;
    this.ownTriggerNs = this.clock.nowNs();
  }

  async drain(): Promise<void> {
    this.checkOpen('drain');
    if (!this.playback) return this.drop();
    const rc = this.pcm.drain();
    if (rc === 0) return;
    if (rc === -ERRNO.EPIPE) {
      // Underrun before or while draining: nothing is left to play out.
      this.noteXrun();
      this.pcm.drop();
      return;
    }
    if (rc !== -ERRNO.EAGAIN) throw this.ioError('drain', rc);
    // Non-blocking drain: the kernel plays out what is queued; watch the state leave DRAINING.
    const stepMs = Math.max(1, Math.min(20, (this.config.periodFrames * 1000) / this.config.rate));
    for (;;) {
      await new Promise((r) => setTimeout(r, stepMs));
      if (this.closed) return;
      const state = this.pcm.state();
      if (state !== SND_PCM_STATE_DRAINING) {
        if (state === SND_PCM_STATE_XRUN) this.pcm.drop();
        return;
      }
    }
  }

  recover(): void {
    this.checkOpen('recover');
    const state = this.pcm.state();
    const err = state === SND_PCM_STATE_SUSPENDED ? -ERRNO.ESTRPIPE : -ERRNO.EPIPE;
    this.call('recover', () => (state === SND_PCM_STATE_XRUN || state === SND_PCM_STATE_SUSPENDED ? this.pcm.recover(err) : this.pcm.prepare()));
    this.inXrun = false;
    this.ownStartSeen = false;
    this.mayBePrepared = true;
    if (!this.playback) this.call('recover', () => this.pcm.start());
  }

  /** True when avail ≥ availMin or the stream is in xrun (so the next I/O reports it). */
  private ready(): boolean {
    const rc = this.pcm.avail();
    if (rc < 0) {
      if (rc === -ERRNO.EPIPE) this.noteXrun();
      return true;
    }
    return rc >= this.config.availMin;
  }

  wait(timeoutMs: number): Promise<boolean> {
    this.checkOpen('wait');
    if (this.waiter) return Promise.reject(new PcmError(this.device, 'wait', 'a wait is already pending on this stream', -ERRNO.EBUSY));
    if (this.ready()) return Promise.resolve(true);
    const deadlineNs = this.clock.nowNs() + timeoutMs * 1e6;
    return new Promise<boolean>((resolve) => {
      this.waiter = { resolve, deadlineNs };
      this.armWaitTimer();
    });
  }

  private armWaitTimer(): void {
    const w = this.waiter!;
    const left = this.playback ? this.config.availMin - Math.max(0, this.pcm.availUpdate()) : this.config.availMin - Math.max(0, this.pcm.availUpdate());
    const dueMs = Math.max(1, (Math.max(1, left) * 1000) / this.config.rate);
    const untilDeadlineMs = (w.deadlineNs - this.clock.nowNs()) / 1e6;
    this.waitTimer = setTimeout(this.onWaitTimer, Math.max(0, Math.min(dueMs, untilDeadlineMs)));
  }

  private checkWaiter(): void {
    const w = this.waiter;
    if (!w) return;
    this.waitTimer = undefined;
    if (this.closed) return this.settleWaiter(false);
    if (this.ready()) return this.settleWaiter(true);
    if (this.clock.nowNs() >= w.deadlineNs) return this.settleWaiter(false);
    this.armWaitTimer();
  }

  private settleWaiter(ready: boolean): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    w?.resolve(ready);
  }

  /**
   * snd_pcm_wait alone: it returns at once when avail ≥ avail_min already, polls the descriptors
   * otherwise, and reports an xrun as -EPIPE, so no avail call is needed around it.
   */
  waitSync(timeoutMs: number): boolean {
    this.checkOpen('waitSync');
    const rc = this.pcm.waitBlocking(Math.max(0, Math.round(timeoutMs)));
    if (rc > 0) return true;
    if (rc === 0) return false;
    if (rc === -ERRNO.EPIPE || rc === -ERRNO.ESTRPIPE) {
      if (rc === -ERRNO.EPIPE) this.noteXrun();
      return true;
    }
    if (rc === -ERRNO.EINTR) return this.ready();
    throw this.ioError('waitSync', rc);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.settleWaiter(false);
    this.pcm.close();
  }

  private call(op: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      throw toPcmError(this.device, op, e, this.config.direction);
    }
  }
}

function toPcmError(device: string, op: string, e: unknown, direction: PcmRequest['direction'] = 'playback'): PcmError {
  if (e instanceof PcmError) return e;
  if (e instanceof AlsaError) {
    if (e.code === -ERRNO.EPIPE) return new PcmXrunError(device, op, direction);
    return new PcmError(device, op, e.message, e.code);
  }
  return new PcmError(device, op, e instanceof Error ? e.message : String(e));
}
