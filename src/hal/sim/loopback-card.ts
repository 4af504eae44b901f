/**
 * A simulated snd-aloop card (src/hal/loopback.ts), for the ALSA way in's host tests and the
 * drift bench without a kernel: `play()` stands in for a player writing to playback 0,N; the
 * bridge captures 1,N through this object's PCM backend. Named as a simulation ('sim-aloop').
 *
 * What it keeps of the real driver (Linux sound/drivers/aloop.c): a cable runs at
 * rate × 100000 / rate_shift, measured on a timer of HZ = 250 (positions move in 4 ms steps,
 * jiffies); a capture opened after the player started gets what is played from then on (what
 * played before is gone); Slave Active/Rate/Format/Channels describe the player; a capture that
 * falls a buffer behind overruns. Besides, the player's own clock can be set off by `clockPpm`
 * (a second crystal), which is how the drift bench offsets one side without a kernel.
 */
import { type LoopbackBackend, type LoopbackCable, type LoopbackCard, LoopbackError, RATE_SHIFT_MAX, RATE_SHIFT_MIN, RATE_SHIFT_NEUTRAL, type UserVolume, type UserVolumeSpec } from '../loopback.ts';
import { ERRNO } from '../../util/errno.ts';
import {
  type PcmBackend, type PcmConfig, PcmError, type PcmRequest, type PcmStatus, type PcmStream, PcmXrunError,
  type SampleFormat, emptyPcmStatus, frameBytes,
} from '../pcm.ts';

/** snd_pcm_format_t numbers (alsa-lib include/pcm.h). */
const FORMAT_CODE: Record<SampleFormat, number> = { S16_LE: 2, S24_LE: 6, S32_LE: 10, FLOAT_LE: 14, S24_3LE: 32 };
/** aloop's timer step: one jiffy at HZ = 250 (Debian's and Raspberry Pi OS's kernels). */
export const SIM_ALOOP_JIFFY_NS = 4_000_000;

export interface SimPlayer {
  rate: number;
  channels: number;
  format: SampleFormat;
  /** Interleaved frames the player writes; after the last one it stops (as aplay does). */
  bytes: Uint8Array;
  /** The player's clock against CLOCK_MONOTONIC, ppm (default 0). */
  clockPpm?: number;
}

interface Cable {
  player: SimPlayer | undefined;
  active: boolean;
  notify: boolean;
  shift: number;
  /** Cable position (frames since the player started), at `atNs`; advanced when the shift changes. */
  pos: number;
  atNs: number;
  startNs: number;
  capture: SimAloopCapture | undefined;
}

export class SimLoopbackCard implements LoopbackCard, PcmBackend {
  readonly kind = 'sim';
  private readonly cables: Cable[] = [];
  private pending = new Set<number>();
  closed = false;

  constructor(readonly id = 'SimLoop', readonly subdevices = 8, readonly nowNs: () => number = () => Number(process.hrtime.bigint())) {
    for (let i = 0; i < subdevices; i++) this.cables.push({ player: undefined, active: false, notify: false, shift: RATE_SHIFT_NEUTRAL, pos: 0, atNs: 0, startNs: 0, capture: undefined });
  }

  playbackPcm(n: number): string {
    return `sim-aloop:${this.id},0,${n}`;
  }

  capturePcm(n: number): string {
    return `sim-aloop:${this.id},1,${n}`;
  }

  private at(n: number): Cable {
    const c = this.cables[n];
    if (!c) throw new LoopbackError(this.id, `no subdevice ${n} (the card has ${this.subdevices})`);
    return c;
  }

  /** A player starts on cable N (as aplay's start trigger: Slave Active goes to 1). */
  play(n: number, player: SimPlayer): void {
    const c = this.at(n);
    const now = this.nowNs();
    Object.assign(c, { player, active: true, pos: 0, atNs: now, startNs: now });
    // aloop.c loopback_check_format: with PCM Notify, other parameters stop a running capture.
    if (c.capture && c.notify && (c.capture.config.rate !== player.rate || c.capture.config.format !== player.format || c.capture.config.channels !== player.channels)) c.capture.stopped = true;
    this.pending.add(n);
  }

  /** The player stops (closes) early. */
  stop(n: number): void {
    const c = this.at(n);
    if (!c.active) return;
    this.advance(c);
    c.active = false;
    this.pending.add(n);
  }

  /** Frames the cable has moved since the player started, now (in jiffy steps). */
  position(n: number): number {
    const c = this.at(n);
    this.advance(c);
    return c.pos;
  }

  private advance(c: Cable): void {
    if (!c.player || !c.active) return;
    const now = this.nowNs();
    const t = Math.floor((now - c.startNs) / SIM_ALOOP_JIFFY_NS) * SIM_ALOOP_JIFFY_NS + c.startNs;
    if (t <= c.atNs) return;
    const speed = (c.player.rate * (1 + (c.player.clockPpm ?? 0) * 1e-6) * RATE_SHIFT_NEUTRAL) / c.shift;
    c.pos += ((t - c.atNs) * speed) / 1e9;
    c.atNs = t;
    const frames = c.player.bytes.length / frameBytes(c.player.format, c.player.channels);
    if (c.pos >= frames) {
      c.pos = frames;
      c.active = false;
      this.pending.add(this.cables.indexOf(c));
    }
  }

  cable(n: number): LoopbackCable {
    const c = this.at(n);
    this.advance(c);
    const p = c.player;
    return { subdevice: n, active: c.active, rate: p?.rate ?? 0, channels: p?.channels ?? 0, format: p?.format, formatCode: p ? FORMAT_CODE[p.format] : 0 };
  }

  setNotify(n: number, on: boolean): void {
    this.at(n).notify = on;
  }

  rateShift(n: number): number {
    return this.at(n).shift;
  }

  /** Every value written, per cable (the drift bench's record). */
  readonly shiftWrites: number[][] = [];

  setRateShift(n: number, value: number): void {
    const c = this.at(n);
    if (!Number.isInteger(value) || value < RATE_SHIFT_MIN || value > RATE_SHIFT_MAX) throw new LoopbackError(this.id, `PCM Rate Shift 100000 ${value} is outside ${RATE_SHIFT_MIN}..${RATE_SHIFT_MAX}`);
    this.advance(c);
    c.shift = value;
    (this.shiftWrites[n] ??= []).push(value);
  }

  changed(): number[] {
    for (const c of this.cables) this.advance(c);
    if (this.pending.size === 0) return NO_CHANGE;
    const out = [...this.pending];
    this.pending.clear();
    return out;
  }

  close(): void {
    this.closed = true;
  }

  /** Opens `sim-aloop:<id>,1,N` for capture (the bridge's side of cable N). */
  async open(device: string, request: PcmRequest): Promise<PcmStream> {
    const m = /^sim-aloop:([^,]+),1,(\d+)$/.exec(device);
    if (!m || m[1] !== this.id) throw new PcmError(device, 'open', 'no such simulated loopback capture device', -ERRNO.ENOENT);
    const n = Number(m[2]);
    const c = this.at(n);
    if (request.direction !== 'capture') throw new PcmError(device, 'open', 'the simulated card only captures on device 1', -ERRNO.EINVAL);
    if (c.capture && !c.capture.closed) throw new PcmError(device, 'open', 'the cable is being captured already', -ERRNO.EBUSY);
    const p = c.player;
    // The first end fixes the cable's parameters (aloop.c cable->hw): a capture must follow the player.
    if (p && (p.rate !== request.rate || p.format !== request.format || p.channels !== request.channels)) throw new PcmError(device, 'hw_params', `the player runs ${p.rate} Hz ${p.format} ${p.channels} ch`, -ERRNO.EINVAL);
    this.advance(c);
    const period = Math.max(16, request.periodFrames);
    const config: PcmConfig = {
      direction: 'capture', rate: request.rate, channels: request.channels, format: request.format, periodFrames: period,
      bufferFrames: Math.max(2 * period, Math.ceil(request.bufferFrames / period) * period), access: 'rw',
      frameBytes: frameBytes(request.format, request.channels), availMin: period, startThreshold: 1,
    };
    const cap = new SimAloopCapture(device, config, this, n, c.pos);
    c.capture = cap;
    return cap;
  }

  /** Internal: the cable's player bytes and position, for its capture. */
  feed(n: number): { bytes: Uint8Array | undefined; pos: number; active: boolean } {
    const c = this.at(n);
    this.advance(c);
    return { bytes: c.player?.bytes, pos: c.pos, active: c.active };
  }
}

const NO_CHANGE: number[] = [];

class SimAloopCapture implements PcmStream {
  closed = false;
  /** Stopped by a player with other parameters (PCM Notify). */
  stopped = false;
  private consumed: number;
  private xruns = 0;

  constructor(readonly device: string, readonly config: PcmConfig, private readonly card: SimLoopbackCard, private readonly n: number, startPos: number) {
    this.consumed = Math.floor(startPos);
  }

  avail(): number {
    return Math.floor(this.card.feed(this.n).pos) - this.consumed;
  }

  read(data: Uint8Array, frames: number): number {
    if (this.closed) throw new PcmError(this.device, 'read', 'closed', -ERRNO.EBADFD);
    if (this.stopped) throw new PcmError(this.device, 'read', 'the capture was stopped: the player changed its parameters', -ERRNO.EBADFD);
    const f = this.card.feed(this.n);
    const avail = Math.floor(f.pos) - this.consumed;
    if (avail > this.config.bufferFrames) {
      this.xruns++;
      this.consumed = Math.floor(f.pos);
      throw new PcmXrunError(this.device, 'read', 'capture');
    }
    const n = Math.min(frames, avail);
    const fb = this.config.frameBytes;
    const src = f.bytes;
    const from = this.consumed * fb;
    const have = src ? Math.max(0, Math.min(n * fb, src.length - from)) : 0;
    if (have > 0) data.set(src!.subarray(from, from + have), 0);
    if (have < n * fb) data.fill(0, have, n * fb);
    this.consumed += n;
    return n;
  }

  write(): number {
    throw new PcmError(this.device, 'write', 'a capture stream', -ERRNO.EINVAL);
  }

  delay(): number {
    return this.avail();
  }

  status(into: PcmStatus = emptyPcmStatus()): PcmStatus {
    into.state = this.stopped ? 'setup' : 'running';
    into.avail = this.avail();
    into.delay = into.avail;
    into.xruns = this.xruns;
    return into;
  }

  prepare(): void {}
  start(): void {}
  drop(): void {}
  async drain(): Promise<void> {}
  recover(): void {}
  async wait(): Promise<boolean> {
    return true;
  }

  waitSync(): boolean {
    return true;
  }

  close(): void {
    this.closed = true;
  }
}

/** A simulated user volume element (what the kernel keeps for a user element). */
export class SimUserVolume implements UserVolume {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly minCdb: number;
  readonly stepCdb: number;
  private values: number[];
  private external = false;
  removed = false;

  constructor(spec: UserVolumeSpec) {
    this.name = spec.name ?? 'PCM Playback Volume';
    this.min = spec.min;
    this.max = spec.max;
    this.minCdb = spec.minCdb;
    this.stepCdb = spec.stepCdb;
    this.values = new Array<number>(spec.channels).fill(spec.max);
  }

  read(): number[] {
    return [...this.values];
  }

  write(values: number[]): void {
    this.values = [...values];
  }

  /** Another process (amixer, mpd) writes the element. */
  writeFromOutside(values: number[]): void {
    this.values = [...values];
    this.external = true;
  }

  changed(): boolean {
    const c = this.external;
    this.external = false;
    return c;
  }

  remove(): void {
    this.removed = true;
  }

  close(): void {}
}

/** A LoopbackBackend over simulated cards (by id). */
export class SimLoopbackBackend implements LoopbackBackend {
  readonly volumes = new Map<string, SimUserVolume>();
  constructor(readonly cards: ReadonlyMap<string, SimLoopbackCard>) {}

  open(card: string): LoopbackCard {
    const c = this.cards.get(card);
    if (!c) throw new LoopbackError(card, 'no such simulated loopback card');
    return c;
  }

  userVolume(card: string, spec: UserVolumeSpec): UserVolume {
    const v = new SimUserVolume(spec);
    this.volumes.set(card, v);
    return v;
  }
}

