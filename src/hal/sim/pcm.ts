/**
 * Simulated PCM devices, paced by a clock (real CLOCK_MONOTONIC or a virtual clock): a running
 * playback stream consumes frames at exactly the nominal rate from the moment it starts, and a
 * capture stream produces them at that rate. What playback consumed is recorded, so a test can
 * check samples bit-exact and that silence follows a stop.
 *
 * The hardware pointer is computed from the clock when anyone looks (write, read, avail,
 * status, wait), so no timer runs per period and a virtual clock can jump freely.
 *
 * Negotiation, like a real device's: rates 8000..384000, 1..8 channels, every format; the period
 * is rounded up to a multiple of 16 frames (minimum 16) and the buffer to a whole number of
 * periods (at least 2).
 */
import { AdcGateReader, I2sLinkWriter } from './i2s-link.ts';
import { ERRNO } from '../../util/errno.ts';
import { FrameCopier, RingCopier } from '../../util/ring-copy.ts';
import type { Clock } from '../clock.ts';
import {
  type PcmBackend, type PcmConfig, PcmError, type PcmRequest, type PcmState, type PcmStatus, type PcmStream,
  PcmXrunError, SAMPLE_BYTES, emptyPcmStatus, frameBytes,
} from '../pcm.ts';

/** Fills `frames` frames at `out` (bytes, interleaved); `firstFrame` counts frames since open. */
export type SimCaptureSource = (out: Uint8Array, firstFrame: number, frames: number, config: PcmConfig) => void;

/**
 * A capture source that writes straight into the device's ring at `byteOffset`: no view is made
 * per call, so a capture stream fed by it allocates nothing per period (the engine's
 * no-allocation loop runs on it).
 */
export type SimCaptureSourceInPlace = (ring: Uint8Array, byteOffset: number, firstFrame: number, frames: number, config: PcmConfig) => void;

export const SIM_PERIOD_STEP = 16;

/** What a simulated playback device put out, in order, with start/stop/xrun marks. */
export class SimPcmRecord {
  private buf: Uint8Array;
  private used = 0;
  private readonly copier = new FrameCopier();
  /** Frames that did not fit under `maxFrames` and were not kept. */
  dropped = 0;
  readonly marks: { frame: number; atNs: number; what: 'start' | 'stop' | 'xrun' | 'drain' }[] = [];

  constructor(readonly frameBytes: number, readonly maxFrames: number) {
    this.buf = new Uint8Array(Math.min(maxFrames, 4096) * frameBytes);
  }

  get frames(): number {
    return this.used / this.frameBytes;
  }

  append(src: Uint8Array, offset: number, length: number): void {
    const room = this.maxFrames * this.frameBytes - this.used;
    const n = Math.min(room, length);
    if (n < length) this.dropped += (length - n) / this.frameBytes;
    if (n <= 0) return;
    if (this.used + n > this.buf.length) {
      const grown = new Uint8Array(Math.min(this.maxFrames * this.frameBytes, Math.max(this.buf.length * 2, this.used + n)));
      grown.set(this.buf); // grown is at least as long: no view needed
      this.buf = grown;
    }
    this.copier.copy(src, offset, this.buf, this.used, n);
    this.used += n;
  }

  /** The recorded bytes (a view; copy it if you keep it across more playback). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.used);
  }

  mark(what: 'start' | 'stop' | 'xrun' | 'drain', atNs: number): void {
    this.marks.push({ frame: this.frames, atNs, what });
  }
}

export interface SimPcmBackendOptions {
  /** Upper bound of a playback record, in frames (default: 10 minutes at 48 kHz). */
  maxRecordFrames?: number;
  /** The I2S link of a playback device, where a simulated chip listens (./i2s-link.ts). */
  i2sLink?: (device: string) => SharedArrayBuffer | undefined;
  /** The ADC gate of a capture device: what a simulated chip's input path passes (./i2s-link.ts). */
  adcGate?: (device: string) => SharedArrayBuffer | undefined;
}

export class SimPcmBackend implements PcmBackend {
  readonly kind = 'sim';
  /** The latest record of each playback device. */
  readonly records = new Map<string, SimPcmRecord>();
  private readonly sources = new Map<string, SimCaptureSource>();
  private readonly inPlaceSources = new Map<string, SimCaptureSourceInPlace>();
  /** Streams currently open, by device (a device opens once per direction, as hw: devices do). */
  private readonly open_ = new Map<string, SimPcmStream>();

  constructor(readonly clock: Clock, private readonly opts: SimPcmBackendOptions = {}) {}

  setCaptureSource(device: string, source: SimCaptureSource): void {
    this.sources.set(device, source);
    this.inPlaceSources.delete(device);
  }

  /** Like setCaptureSource, for a source that writes into the ring itself (allocation-free). */
  setCaptureSourceInPlace(device: string, source: SimCaptureSourceInPlace): void {
    this.inPlaceSources.set(device, source);
    this.sources.delete(device);
  }

  async open(device: string, req: PcmRequest): Promise<PcmStream> {
    const key = `${device}/${req.direction}`;
    if (this.open_.has(key)) throw new PcmError(device, 'open', `device busy (already open for ${req.direction})`, -ERRNO.EBUSY);
    const config = negotiate(device, req);
    const record = req.direction === 'playback' ? new SimPcmRecord(config.frameBytes, this.opts.maxRecordFrames ?? 48000 * 600) : undefined;
    if (record) this.records.set(device, record);
    const link = req.direction === 'playback' ? this.opts.i2sLink?.(device) : this.opts.adcGate?.(device);
    const s = new SimPcmStream(device, config, this.clock, record, this.sources.get(device), () => this.open_.delete(key), this.inPlaceSources.get(device), link);
    this.open_.set(key, s);
    return s;
  }
}

function negotiate(device: string, req: PcmRequest): PcmConfig {
  if (!(req.format in SAMPLE_BYTES)) throw new PcmError(device, 'open', `unsupported sample format ${req.format}`, -ERRNO.EINVAL);
  if (!Number.isInteger(req.rate) || req.rate < 8000 || req.rate > 384000) throw new PcmError(device, 'open', `rate ${req.rate} outside 8000..384000`, -ERRNO.EINVAL);
  if (!Number.isInteger(req.channels) || req.channels < 1 || req.channels > 8) throw new PcmError(device, 'open', `channels ${req.channels} outside 1..8`, -ERRNO.EINVAL);
  if (!(req.periodFrames > 0) || !(req.bufferFrames > 0)) throw new PcmError(device, 'open', 'period and buffer sizes must be positive', -ERRNO.EINVAL);
  const periodFrames = Math.max(SIM_PERIOD_STEP, Math.ceil(req.periodFrames / SIM_PERIOD_STEP) * SIM_PERIOD_STEP);
  const bufferFrames = Math.max(2, Math.round(req.bufferFrames / periodFrames)) * periodFrames;
  const availMin = Math.min(bufferFrames, Math.max(1, req.availMin ?? periodFrames));
  const startThreshold = req.startThreshold === undefined ? bufferFrames : req.startThreshold;
  return {
    direction: req.direction, rate: req.rate, channels: req.channels, format: req.format, periodFrames, bufferFrames,
    access: req.access ?? 'rw', frameBytes: frameBytes(req.format, req.channels), availMin, startThreshold,
  };
}

class SimPcmStream implements PcmStream {
  private state: PcmState = 'prepared';
  private readonly ring: Uint8Array;
  /** Frames the application has written (playback) or read (capture) since prepare. */
  private appl = 0;
  /** Frames the "hardware" has consumed (playback) or produced (capture) since prepare. */
  private hw = 0;
  private hwAtTrigger = 0;
  private triggerNs = 0;
  private xruns = 0;
  /** Frames produced by the capture source since open. */
  private sourceFrames = 0;
  private readonly scratch = emptyPcmStatus();
  private closed = false;
  /** Copies between the application's buffers and the ring (no view per call). */
  private readonly copier = new RingCopier();
  /** Where the frames go out to a simulated chip (the bit clock runs while the stream does). */
  private readonly link: I2sLinkWriter | undefined;
  /** Where a simulated chip's ADC side scales (or silences) what the capture source produced. */
  private readonly adc: AdcGateReader | undefined;

  constructor(
    readonly device: string,
    readonly config: PcmConfig,
    private readonly clock: Clock,
    private readonly record: SimPcmRecord | undefined,
    private readonly source: SimCaptureSource | undefined,
    private readonly onClose: () => void,
    private readonly inPlaceSource?: SimCaptureSourceInPlace,
    /** Playback: the I2S link; capture: the ADC gate. */
    link?: SharedArrayBuffer,
  ) {
    this.ring = new Uint8Array(config.bufferFrames * config.frameBytes);
    if (link && config.direction === 'playback') this.link = new I2sLinkWriter(link, this.ring, config.format, config.channels, config.rate);
    if (link && config.direction === 'capture') this.adc = new AdcGateReader(link, this.ring, config.format, config.channels);
  }

  private get playback(): boolean {
    return this.config.direction === 'playback';
  }

  /** Brings the hardware pointer up to the clock. */
  private update(): void {
    if (this.state !== 'running' && this.state !== 'draining') return;
    const now = this.clock.nowNs();
    // The epsilon absorbs float rounding of times computed from frame counts (frameTimeNs).
    const target = this.hwAtTrigger + Math.floor(((now - this.triggerNs) * this.config.rate) / 1e9 + 1e-6);
    if (target <= this.hw) return;
    if (this.playback) {
      const end = Math.min(target, this.appl);
      this.consume(end - this.hw);
      if (this.state === 'draining' && this.hw >= this.appl) {
        this.state = 'setup';
        this.link?.setRunning(false);
        this.record?.mark('drain', this.frameTimeNs(this.hw));
      } else if (target > this.appl) {
        this.state = 'xrun';
        this.xruns++;
        this.record?.mark('xrun', this.frameTimeNs(this.hw));
      }
    } else {
      this.produce(target - this.hw);
      if (this.hw - this.appl > this.config.bufferFrames) {
        this.state = 'xrun';
        this.xruns++;
      }
    }
  }

  private frameTimeNs(frame: number): number {
    return this.triggerNs + ((frame - this.hwAtTrigger) * 1e9) / this.config.rate;
  }

  private consume(frames: number): void {
    const fb = this.config.frameBytes;
    let left = frames;
    while (left > 0) {
      const pos = this.hw % this.config.bufferFrames;
      const n = Math.min(left, this.config.bufferFrames - pos);
      this.record?.append(this.ring, pos * fb, n * fb);
      if (this.link) {
        this.link.startNs = this.triggerNs + ((this.hw - this.hwAtTrigger) * 1e9) / this.config.rate;
        this.link.push(pos * fb, n);
      }
      this.hw += n;
      left -= n;
    }
  }

  private produce(frames: number): void {
    const fb = this.config.frameBytes;
    let left = frames;
    while (left > 0) {
      const pos = this.hw % this.config.bufferFrames;
      const n = Math.min(left, this.config.bufferFrames - pos);
      if (this.inPlaceSource) this.inPlaceSource(this.ring, pos * fb, this.sourceFrames, n, this.config);
      else if (this.source) this.source(this.ring.subarray(pos * fb, (pos + n) * fb), this.sourceFrames, n, this.config);
      else this.ring.fill(0, pos * fb, (pos + n) * fb);
      this.adc?.apply(pos * fb, n);
      this.sourceFrames += n;
      this.hw += n;
      left -= n;
    }
  }

  private checkOpen(op: string): void {
    if (this.closed) throw new PcmError(this.device, op, 'stream is closed', -ERRNO.EBADFD);
  }

  write(data: Uint8Array, frames: number): number {
    this.checkOpen('write');
    if (!this.playback) throw new PcmError(this.device, 'write', 'not a playback stream', -ERRNO.EINVAL);
    this.update();
    if (this.state === 'xrun') throw new PcmXrunError(this.device, 'write', 'playback');
    if (this.state === 'setup' || this.state === 'open') throw new PcmError(this.device, 'write', `stream is not prepared (state ${this.state})`, -ERRNO.EBADFD);
    const fb = this.config.frameBytes;
    const n = Math.min(frames, this.availInternal(), Math.floor(data.length / fb));
    if (n > 0) {
      this.copier.toRing(this.ring, (this.appl % this.config.bufferFrames) * fb, data, 0, n * fb);
      this.appl += n;
    }
    if (this.state === 'prepared' && this.appl - this.hw >= this.config.startThreshold) this.start();
    return n;
  }

  read(data: Uint8Array, frames: number): number {
    this.checkOpen('read');
    if (this.playback) throw new PcmError(this.device, 'read', 'not a capture stream', -ERRNO.EINVAL);
    if (this.state === 'prepared' && this.config.startThreshold <= frames) this.start();
    this.update();
    if (this.state === 'xrun') throw new PcmXrunError(this.device, 'read', 'capture');
    const fb = this.config.frameBytes;
    const n = Math.min(frames, this.availInternal(), Math.floor(data.length / fb));
    if (n > 0) {
      this.copier.fromRing(this.ring, (this.appl % this.config.bufferFrames) * fb, data, 0, n * fb);
      this.appl += n;
    }
    return n;
  }

  private availInternal(): number {
    return this.playback ? this.config.bufferFrames - (this.appl - this.hw) : this.hw - this.appl;
  }

  avail(): number {
    this.update();
    return Math.max(0, this.availInternal());
  }

  delay(): number {
    this.update();
    return this.playback ? this.appl - this.hw : this.hw - this.appl;
  }

  status(into: PcmStatus = this.scratch): PcmStatus {
    this.update();
    into.state = this.state;
    into.avail = Math.max(0, this.availInternal());
    into.delay = this.playback ? this.appl - this.hw : this.hw - this.appl;
    into.triggerNs = this.triggerNs;
    into.hostNs = this.clock.nowNs();
    into.audioNs = this.state === 'running' || this.state === 'draining'
      ? ((this.hw - this.hwAtTrigger) * 1e9) / this.config.rate : Number.NaN;
    into.xruns = this.xruns;
    return into;
  }

  prepare(): void {
    this.checkOpen('prepare');
    this.state = 'prepared';
    this.appl = 0;
    this.hw = 0;
    this.link?.setRunning(false);
  }

  start(): void {
    this.checkOpen('start');
    if (this.state !== 'prepared') throw new PcmError(this.device, 'start', `cannot start in state ${this.state}`, -ERRNO.EBADFD);
    this.state = 'running';
    this.triggerNs = this.clock.nowNs();
    this.hwAtTrigger = this.hw;
    this.record?.mark('start', this.triggerNs);
    this.link?.setRunning(true);
  }

  drop(): void {
    this.checkOpen('drop');
    this.update();
    if (this.state === 'running' || this.state === 'draining') this.record?.mark('stop', this.clock.nowNs());
    this.state = 'setup';
    this.link?.setRunning(false);
    this.triggerNs = this.clock.nowNs();
    this.appl = this.hw;
  }

  async drain(): Promise<void> {
    this.checkOpen('drain');
    if (!this.playback) return this.drop();
    this.update();
    if (this.state === 'prepared') {
      if (this.appl === this.hw) { this.state = 'setup'; return; }
      this.start();
    }
    if (this.state !== 'running') { this.state = 'setup'; return; }
    this.state = 'draining';
    const endNs = this.frameTimeNs(this.appl);
    await this.clock.sleepUntilNs(endNs);
    this.update();
  }

  recover(): void {
    this.checkOpen('recover');
    this.prepare();
    if (!this.playback) this.start();
  }

  /**
   * When avail will reach availMin on the current course, in `readyNs` (NaN if it never will).
   * A field rather than a return value: a double returned from a call V8 does not inline is
   * boxed, an allocation per period on the engine's audio path.
   */
  private readyNs = Number.NaN;

  private computeReadyNs(): void {
    this.update();
    if (this.availInternal() >= this.config.availMin || this.state === 'xrun') {
      this.readyNs = this.clock.nowNs();
      return;
    }
    if (this.state !== 'running' && this.state !== 'draining') {
      this.readyNs = Number.NaN;
      return;
    }
    const need = this.playback
      ? this.appl - this.config.bufferFrames + this.config.availMin // hw must reach this
      : this.appl + this.config.availMin;
    this.readyNs = this.triggerNs + ((need - this.hwAtTrigger) * 1e9) / this.config.rate;
  }

  async wait(timeoutMs: number): Promise<boolean> {
    this.checkOpen('wait');
    const deadline = this.clock.nowNs() + timeoutMs * 1e6;
    this.computeReadyNs();
    const ready = this.readyNs;
    if (ready <= this.clock.nowNs()) return true;
    await this.clock.sleepUntilNs(Number.isNaN(ready) ? deadline : Math.min(ready, deadline));
    this.update();
    return this.availInternal() >= this.config.availMin || this.state === 'xrun';
  }

  waitSync(timeoutMs: number): boolean {
    this.checkOpen('waitSync');
    const deadline = this.clock.nowNs() + timeoutMs * 1e6;
    this.computeReadyNs();
    const ready = this.readyNs;
    if (ready <= this.clock.nowNs()) return true;
    this.clock.sleepUntilNsSync(Number.isNaN(ready) ? deadline : Math.min(ready, deadline));
    this.update();
    return this.availInternal() >= this.config.availMin || this.state === 'xrun';
  }

  close(): void {
    if (this.closed) return;
    if (this.state === 'running' || this.state === 'draining') this.drop();
    this.closed = true;
    this.onClose();
  }
}
