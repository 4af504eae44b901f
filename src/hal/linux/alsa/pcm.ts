/**
 * One alsa-lib PCM handle: the full negotiation (hw and sw params), the I/O calls, mmap access,
 * status with timestamps, and poll descriptors.
 *
 * Two kinds of methods:
 * - Setup and state changes (open, setHwParams, setSwParams, prepare, ...) throw `AlsaError`.
 * - Audio-path calls (writei, readi, avail, mmapBegin/mmapCommit, statusInto, pollRevents) return
 *   alsa-lib's result as a number (negative errno on failure) and allocate nothing: every
 *   out-parameter is a preallocated cell, so a caller can run them once per period forever.
 */
import koffi from 'koffi';
import { ERRNO } from '../../../util/errno.ts';
import { captureAlsaMessages } from './lib-messages.ts';
import { libc, POLLERR, POLLIN, POLLOUT } from '../libc.ts';
import {
  AlsaError,
  asound,
  CHANNEL_AREA_BYTES,
  check,
  NativeCell,
  POINTER_BYTES,
  POLLFD_BYTES,
  SND_PCM_ACCESS_MMAP_INTERLEAVED,
  SND_PCM_ACCESS_RW_INTERLEAVED,
  SND_PCM_NONBLOCK,
  SND_PCM_STREAM_CAPTURE,
  SND_PCM_STREAM_PLAYBACK,
  SND_PCM_TSTAMP_ENABLE,
  SND_PCM_TSTAMP_TYPE_MONOTONIC,
  type Asound,
  type Handle,
} from './libasound.ts';

export type AlsaStreamDirection = 'playback' | 'capture';
export type AlsaAccess = 'rw' | 'mmap';

export interface HwParamsRequest {
  access: AlsaAccess;
  /** SND_PCM_FORMAT_* value. */
  format: number;
  channels: number;
  /** Exact rate: a device that cannot run at it refuses. */
  rate: number;
  /** Preferred sizes: the device picks the nearest it supports. */
  periodFrames: number;
  bufferFrames: number;
}

/** What the device chose, read back from the installed hw params. */
export interface HwParamsChosen {
  access: AlsaAccess;
  format: number;
  channels: number;
  rate: number;
  periodFrames: number;
  bufferFrames: number;
}

export interface SwParamsRequest {
  /** Frames queued before the stream starts by itself; Infinity: only an explicit start(). */
  startThreshold: number;
  /** Frames of avail that wake poll / snd_pcm_wait. */
  availMin: number;
  /** Avail at which the stream stops with an xrun (default: buffer size, the normal underrun rule). */
  stopThreshold?: number;
  /** Status timestamps on CLOCK_MONOTONIC (default true). */
  timestamps?: boolean;
}

export interface SwParamsChosen {
  startThreshold: number;
  availMin: number;
  /** The ring pointer wrap (snd_pcm_sw_params_get_boundary). */
  boundary: number;
}

/** A status snapshot in numbers (fill one with `statusInto`). */
export interface AlsaStatus {
  /** SND_PCM_STATE_* value. */
  state: number;
  avail: number;
  availMax: number;
  delay: number;
  /** CLOCK_MONOTONIC ns of the last trigger (when sw params enabled timestamps). */
  triggerNs: number;
  /** CLOCK_MONOTONIC ns of this snapshot. */
  hostNs: number;
  /** Audio time (ns) the driver reports, from the hardware pointer since start. */
  audioNs: number;
}

export function emptyAlsaStatus(): AlsaStatus {
  return { state: 0, avail: 0, availMax: 0, delay: 0, triggerNs: 0, hostNs: 0, audioNs: 0 };
}

export class AlsaPcm {
  private readonly a: Asound;
  private handle: Handle;
  private readonly hw: Handle;
  private readonly sw: Handle;
  private readonly st: Handle;
  readonly name: string;
  /** True for a kernel device (`hw:`), false for an alsa-lib plugin such as `null` or `plughw`. */
  readonly isKernelDevice: boolean;
  private hwChosen: HwParamsChosen | undefined;
  private frameBytes = 0;

  // Preallocated cells for the audio path.
  private readonly cellA = new NativeCell();
  private readonly cellB = new NativeCell();
  private readonly cellC = new NativeCell();
  private readonly delayCell = new NativeCell();
  private readonly reventsCell = new NativeCell();
  private readonly tsCell = new NativeCell(16);
  private readonly areaBytes = new Uint8Array(CHANNEL_AREA_BYTES);
  private readonly areaView = new DataView(this.areaBytes.buffer);
  private pollFds = new Uint8Array(0);
  private pollCount = 0;

  // mmap: a view over the device's ring buffer, made once per mapping (see mmapBegin).
  private ringAddress = -1;
  private areasAddress = -1;
  private areaFirstBits = 0;
  private areaStepBits = 0;
  private ring = new Uint8Array(0);
  /** After a successful mmapBegin: byte offset in `mmapRing` where the granted frames start. */
  mmapByteOffset = 0;
  /** After a successful mmapBegin: the frame offset to pass back to mmapCommit. */
  mmapOffset = 0;

  private constructor(
    handle: Handle,
    readonly device: string,
    readonly direction: AlsaStreamDirection,
    readonly nonblocking: boolean,
  ) {
    this.a = asound();
    this.handle = handle;
    const hw: [Handle] = [null];
    const sw: [Handle] = [null];
    const st: [Handle] = [null];
    check(this.a.hwParamsMalloc(hw), 'snd_pcm_hw_params_malloc', device);
    check(this.a.swParamsMalloc(sw), 'snd_pcm_sw_params_malloc', device);
    check(this.a.statusMalloc(st), 'snd_pcm_status_malloc', device);
    this.hw = hw[0];
    this.sw = sw[0];
    this.st = st[0];
    this.name = this.a.pcmName(handle);
    this.isKernelDevice = this.a.pcmType(handle) === 0;
  }

  /** snd_pcm_open. `nonblocking` (default true) makes I/O return -EAGAIN instead of sleeping. */
  static open(device: string, direction: AlsaStreamDirection, nonblocking = true): AlsaPcm {
    const a = asound();
    const out: [Handle] = [null];
    const stream = direction === 'playback' ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE;
    // alsa-lib's account of a refused name (unknown PCM, no card) goes into the error, not to stderr.
    captureAlsaMessages(() => check(a.pcmOpen(out, device, stream, nonblocking ? SND_PCM_NONBLOCK : 0), 'snd_pcm_open', device));
    return new AlsaPcm(out[0], device, direction, nonblocking);
  }

  get pcm(): Handle {
    if (this.handle === null) throw new AlsaError('use', -ERRNO.EBADFD, this.device);
    return this.handle;
  }

  get hwParams(): HwParamsChosen | undefined {
    return this.hwChosen;
  }

  /**
   * hw_params as a negotiation: access, format, channels and rate are required exactly; period
   * and buffer sizes are preferences (set_*_near). Installs the result and reads back what the
   * device chose. A refusal names the step that failed and what the device offers.
   */
  setHwParams(req: HwParamsRequest): HwParamsChosen {
    const { a, hw } = this;
    const pcm = this.pcm;
    const dev = this.device;
    check(a.hwParamsAny(pcm, hw), 'snd_pcm_hw_params_any', dev);
    const access = req.access === 'mmap' ? SND_PCM_ACCESS_MMAP_INTERLEAVED : SND_PCM_ACCESS_RW_INTERLEAVED;
    check(a.hwParamsSetAccess(pcm, hw, access), `snd_pcm_hw_params_set_access ${req.access}`, dev);
    check(a.hwParamsSetFormat(pcm, hw, req.format), `snd_pcm_hw_params_set_format ${req.format}`, dev);
    const ch = a.hwParamsSetChannels(pcm, hw, req.channels);
    if (ch < 0) {
      a.hwParamsGetChannelsMin(hw, this.cellA.bytes);
      a.hwParamsGetChannelsMax(hw, this.cellB.bytes);
      throw new AlsaError(`snd_pcm_hw_params_set_channels ${req.channels} (device offers ${this.cellA.uint()}..${this.cellB.uint()})`, ch, dev);
    }
    const rr = a.hwParamsSetRate(pcm, hw, req.rate, 0);
    if (rr < 0) {
      a.hwParamsGetRateMin(hw, this.cellA.bytes, null);
      a.hwParamsGetRateMax(hw, this.cellB.bytes, null);
      throw new AlsaError(`snd_pcm_hw_params_set_rate ${req.rate} (device offers ${this.cellA.uint()}..${this.cellB.uint()})`, rr, dev);
    }
    // Buffer before period: the buffer is what bounds latency; the period then fits inside it.
    this.cellA.setUlong(req.bufferFrames);
    check(a.hwParamsSetBufferSizeNear(pcm, hw, this.cellA.bytes), `snd_pcm_hw_params_set_buffer_size_near ${req.bufferFrames}`, dev);
    this.cellA.setUlong(req.periodFrames);
    this.cellB.setInt(0);
    check(a.hwParamsSetPeriodSizeNear(pcm, hw, this.cellA.bytes, this.cellB.bytes), `snd_pcm_hw_params_set_period_size_near ${req.periodFrames}`, dev);
    check(a.hwParams(pcm, hw), 'snd_pcm_hw_params', dev);
    this.hwChosen = this.readHwParams();
    this.frameBytes = (check(a.formatPhysicalWidth(this.hwChosen.format), 'snd_pcm_format_physical_width', dev) / 8) * this.hwChosen.channels;
    this.ringAddress = -1;
    this.areasAddress = -1;
    this.ring = new Uint8Array(0);
    this.refreshPollDescriptors();
    return this.hwChosen;
  }

  /** Reads the installed hw params (snd_pcm_hw_params_current). */
  readHwParams(): HwParamsChosen {
    const { a, hw } = this;
    check(a.hwParamsCurrent(this.pcm, hw), 'snd_pcm_hw_params_current', this.device);
    a.hwParamsGetAccess(hw, this.cellA.bytes);
    const access: AlsaAccess = this.cellA.int() === SND_PCM_ACCESS_MMAP_INTERLEAVED ? 'mmap' : 'rw';
    a.hwParamsGetFormat(hw, this.cellA.bytes);
    const format = this.cellA.int();
    a.hwParamsGetChannels(hw, this.cellA.bytes);
    const channels = this.cellA.uint();
    a.hwParamsGetRate(hw, this.cellA.bytes, null);
    const rate = this.cellA.uint();
    a.hwParamsGetPeriodSize(hw, this.cellA.bytes, null);
    const periodFrames = this.cellA.ulong();
    a.hwParamsGetBufferSize(hw, this.cellA.bytes);
    const bufferFrames = this.cellA.ulong();
    return { access, format, channels, rate, periodFrames, bufferFrames };
  }

  /** sw_params: thresholds and CLOCK_MONOTONIC timestamps. */
  setSwParams(req: SwParamsRequest): SwParamsChosen {
    const { a, sw } = this;
    const pcm = this.pcm;
    const dev = this.device;
    check(a.swParamsCurrent(pcm, sw), 'snd_pcm_sw_params_current', dev);
    a.swParamsGetBoundary(sw, this.cellA.bytes);
    const boundary = this.cellA.ulong();
    const start = Number.isFinite(req.startThreshold) ? Math.min(req.startThreshold, boundary) : boundary;
    check(a.swParamsSetStartThreshold(pcm, sw, start), `snd_pcm_sw_params_set_start_threshold ${start}`, dev);
    check(a.swParamsSetAvailMin(pcm, sw, req.availMin), `snd_pcm_sw_params_set_avail_min ${req.availMin}`, dev);
    if (req.stopThreshold !== undefined) {
      const stop = Number.isFinite(req.stopThreshold) ? req.stopThreshold : boundary;
      check(a.swParamsSetStopThreshold(pcm, sw, stop), `snd_pcm_sw_params_set_stop_threshold ${stop}`, dev);
    }
    if (req.timestamps !== false) {
      check(a.swParamsSetTstampMode(pcm, sw, SND_PCM_TSTAMP_ENABLE), 'snd_pcm_sw_params_set_tstamp_mode', dev);
      check(a.swParamsSetTstampType(pcm, sw, SND_PCM_TSTAMP_TYPE_MONOTONIC), 'snd_pcm_sw_params_set_tstamp_type', dev);
    }
    check(a.swParams(pcm, sw), 'snd_pcm_sw_params', dev);
    check(a.swParamsCurrent(pcm, sw), 'snd_pcm_sw_params_current', dev);
    a.swParamsGetStartThreshold(sw, this.cellA.bytes);
    const startThreshold = this.cellA.ulong();
    a.swParamsGetAvailMin(sw, this.cellA.bytes);
    const availMin = this.cellA.ulong();
    return { startThreshold, availMin, boundary };
  }

  // --- state changes (throw on failure)
  prepare(): void {
    check(this.a.prepare(this.pcm), 'snd_pcm_prepare', this.device);
  }
  start(): void {
    check(this.a.start(this.pcm), 'snd_pcm_start', this.device);
  }
  drop(): void {
    check(this.a.drop(this.pcm), 'snd_pcm_drop', this.device);
  }
  /** snd_pcm_drain: in non-blocking mode returns -EAGAIN while draining goes on (poll the state). */
  drain(): number {
    return this.a.drain(this.pcm);
  }
  /** snd_pcm_recover for an error an I/O call returned (-EPIPE, -ESTRPIPE, -EINTR); silent. */
  recover(err: number): void {
    check(this.a.recover(this.pcm, err, 1), 'snd_pcm_recover', this.device);
  }

  // --- audio path: numbers only, no allocation
  /** snd_pcm_writei: frames taken, or a negative errno (-EAGAIN when full in non-blocking mode, -EPIPE on underrun). */
  writei(buf: Uint8Array, frames: number): number {
    return this.a.writei(this.handle, buf, frames);
  }
  readi(buf: Uint8Array, frames: number): number {
    return this.a.readi(this.handle, buf, frames);
  }
  /** snd_pcm_avail (synchronises with the hardware pointer first). */
  avail(): number {
    return this.a.avail(this.handle);
  }
  /** snd_pcm_avail_update (the pointer as of the last interrupt; cheaper). */
  availUpdate(): number {
    return this.a.availUpdate(this.handle);
  }
  /** snd_pcm_delay into `delayFrames`; returns 0 or a negative errno. */
  delay(): number {
    return this.a.delay(this.handle, this.delayCell.bytes);
  }
  get delayFrames(): number {
    return this.delayCell.long();
  }
  state(): number {
    return this.a.state(this.handle);
  }
  /** snd_pcm_wait: 1 ready, 0 timeout, negative errno (-EPIPE on xrun). Blocks the calling thread. */
  waitBlocking(timeoutMs: number): number {
    return this.a.wait(this.handle, timeoutMs);
  }

  /**
   * snd_pcm_mmap_begin for up to `frames` frames. Returns the contiguous frames granted (or a
   * negative errno); they start at `mmapRing[mmapByteOffset]` and are handed back with
   * `mmapCommit(mmapOffset, n)`.
   *
   * Why the copy of snd_pcm_channel_area_t through memcpy: koffi would build a JS object per call
   * for the returned struct pointer; reading it into a preallocated cell does not. The ring view
   * is made once per mapping address (the buffer stays mapped while hw params hold).
   */
  mmapBegin(frames: number): number {
    const a = this.a;
    this.cellC.setUlong(frames);
    const rc = a.mmapBegin(this.handle, this.cellA.bytes, this.cellB.bytes, this.cellC.bytes);
    if (rc < 0) return rc;
    // The areas pointer alsa-lib hands out is stable while hw params hold: read the struct only
    // when it changes.
    const areas = this.cellA.pointer();
    if (areas !== this.areasAddress) {
      a.memcpyFromAddress(this.areaBytes, areas, CHANNEL_AREA_BYTES);
      const v = this.areaView;
      const addr = POINTER_BYTES === 8 ? v.getUint32(0, true) + v.getUint32(4, true) * 0x1_0000_0000 : v.getUint32(0, true);
      this.areaFirstBits = v.getUint32(POINTER_BYTES, true);
      this.areaStepBits = v.getUint32(POINTER_BYTES + 4, true);
      if (addr !== this.ringAddress) this.mapRing(addr, this.areaFirstBits, this.areaStepBits);
      this.areasAddress = areas;
    }
    const offset = this.cellB.ulong();
    this.mmapOffset = offset;
    this.mmapByteOffset = this.areaFirstBits / 8 + (offset * this.areaStepBits) / 8;
    return this.cellC.ulong();
  }

  /** Copies `bytes` bytes from the start of `src` into the ring at `mmapByteOffset` (libc memcpy). */
  copyToRing(src: Uint8Array, bytes: number): void {
    this.a.memcpyToAddress(this.ringAddress + this.mmapByteOffset, src, bytes);
  }

  /** Copies `bytes` bytes from the ring at `mmapByteOffset` to the start of `dst` (libc memcpy). */
  copyFromRing(dst: Uint8Array, bytes: number): void {
    this.a.memcpyFromAddress(dst, this.ringAddress + this.mmapByteOffset, bytes);
  }

  /** snd_pcm_mmap_commit: frames committed or a negative errno. */
  mmapCommit(offset: number, frames: number): number {
    return this.a.mmapCommit(this.handle, offset, frames);
  }

  /** The device's ring buffer as bytes (valid after the first mmapBegin). */
  get mmapRing(): Uint8Array {
    return this.ring;
  }

  private mapRing(addr: number, firstBits: number, stepBits: number): void {
    const chosen = this.hwChosen;
    if (!chosen) throw new AlsaError('snd_pcm_mmap_begin before hw params', -ERRNO.EBADFD, this.device);
    if (stepBits !== this.frameBytes * 8 || firstBits % 8 !== 0) {
      throw new AlsaError(`snd_pcm_mmap_begin: area is not interleaved (first ${firstBits} step ${stepBits} bits)`, -ERRNO.EINVAL, this.device);
    }
    const bytes = firstBits / 8 + chosen.bufferFrames * this.frameBytes;
    this.ring = new Uint8Array(koffi.view(BigInt(addr), bytes));
    this.ringAddress = addr;
  }

  /** snd_pcm_status into `into`; returns 0 or a negative errno. */
  statusInto(into: AlsaStatus): number {
    const { a, st } = this;
    const rc = a.status(this.handle, st);
    if (rc < 0) return rc;
    into.state = a.statusGetState(st);
    into.avail = a.statusGetAvail(st);
    into.availMax = a.statusGetAvailMax(st);
    into.delay = a.statusGetDelay(st);
    a.statusGetTriggerHtstamp(st, this.tsCell.bytes);
    into.triggerNs = this.tsCell.timespecNs();
    a.statusGetHtstamp(st, this.tsCell.bytes);
    into.hostNs = this.tsCell.timespecNs();
    a.statusGetAudioHtstamp(st, this.tsCell.bytes);
    into.audioNs = this.tsCell.timespecNs();
    return 0;
  }

  // --- poll descriptors
  /** The struct pollfd array alsa-lib wants polled (refreshed at hw params). */
  get pollDescriptors(): { fds: Uint8Array; count: number } {
    return { fds: this.pollFds, count: this.pollCount };
  }

  private refreshPollDescriptors(): void {
    const n = this.a.pollDescriptorsCount(this.pcm);
    check(n, 'snd_pcm_poll_descriptors_count', this.device);
    this.pollFds = new Uint8Array(Math.max(1, n) * POLLFD_BYTES);
    this.pollCount = check(this.a.pollDescriptors(this.pcm, this.pollFds, n), 'snd_pcm_poll_descriptors', this.device);
  }

  /**
   * poll(2) on the descriptors for up to `timeoutMs` (0: just look), then
   * snd_pcm_poll_descriptors_revents, which translates plugin descriptors into the stream's
   * POLLIN/POLLOUT/POLLERR. Returns the revents bits, 0 on timeout, or a negative errno.
   */
  pollRevents(timeoutMs: number): number {
    if (this.pollCount === 0) return this.direction === 'playback' ? POLLOUT : POLLIN;
    const n = libc().poll(this.pollFds, this.pollCount, timeoutMs);
    if (n < 0) return -libc().errno();
    if (n === 0) return 0;
    const rc = this.a.pollDescriptorsRevents(this.handle, this.pollFds, this.pollCount, this.reventsCell.bytes);
    if (rc < 0) return rc;
    return this.reventsCell.ushort();
  }

  static readonly POLLERR = POLLERR;

  close(): void {
    if (this.handle === null) return;
    const h = this.handle;
    this.handle = null;
    this.ring = new Uint8Array(0);
    this.a.pcmClose(h);
    this.a.hwParamsFree(this.hw);
    this.a.swParamsFree(this.sw);
    this.a.statusFree(this.st);
  }
}
