/**
 * The ALSA way in (issue 27, docs/alsa-in.md): players that write to an ALSA PCM (aplay, mpd,
 * snapclient, squeezelite, …) play through a board stream. They write to the `sbc-audio` PCM alias
 * (alsa/50-sbc-audio.conf: plug over the loopback card's playback device 0, a free subdevice each);
 * the bridge captures each busy cable from device 1 and plays it through the board's output stream
 * as a client of the stream protocol — so the stream's gain, ramps, meters, monitor and latency
 * reporting apply as for any client, and a protocol client that takes the stream takes it from the
 * bridge as from anyone (R-OWN).
 *
 * Decisions (the research: docs/plans/issue-27-alsa-way-in.md):
 * - The player chooses. The capture opens only once a player runs (PCM Notify on, Slave Active
 *   read), with the player's rate, format and channels, as alsaloop's slave mode does; the board
 *   stream is set to that rate (SET_FORMAT): no resampling, the samples reach the stream unchanged
 *   (S24 and S16 widened into the stream's 32-bit container when it has no 16-bit format). A rate
 *   the board refuses is said in the log and not played. What the player wrote before the capture
 *   opened (a few ms: its first jiffies) is lost, as with alsaloop.
 * - Two clocks: the loopback runs on the kernel's timer, the DAC on its crystal. The fill (frames in
 *   the ring ahead of the DAC) is held at `latencyMs` above the FIFO by slowing or speeding the
 *   players' cable through its "PCM Rate Shift 100000" control (src/stream/rate-follow.ts): bit-exact
 *   at every moment. The players' clock against the DAC's, in ppm, is what `status()` reports.
 * - Several players at once: each has its own cable (subdevice); cables of the same rate, format and
 *   channels are summed (clipped); one at another rate waits (said in the log) until the first stops.
 * - A fill that falls to the FIFO (the player stalled) is padded with silence; one that grows
 *   100 ms past the target (the service stalled) is cut back to the target; both are counted.
 * Nothing here allocates per tick while a session runs (scratch buffers are made at its start).
 */
import { SAMPLE_FORMAT } from '../audio/formats.ts';
import type { LoopbackCard, UserVolume } from '../hal/loopback.ts';
import { RATE_SHIFT_NEUTRAL } from '../hal/loopback.ts';
import { type PcmBackend, type PcmStream, PcmXrunError, type SampleFormat } from '../hal/pcm.ts';
import type { ControlInfo } from '../control/types.ts';
import { roundDbToStep } from '../codec/controls.ts';
import { MappedRingBuffer, type RingBufferClient, StreamClient } from './client.ts';
import { RateFollower, type RateFollowerOptions } from './rate-follow.ts';
import { STATUS, statusName } from './wire.ts';

/** Bytes in the stream's carried format per sample of each player format, and how it is widened. */
interface Carry {
  sampleFormat: number;
  /** Bytes per sample in the ring. */
  bytes: 2 | 4;
}

/**
 * The ring's format for a player's format, given what the stream takes (a bitfield of
 * SAMPLE_FORMAT): the one that loses nothing where the stream has it (S16 → 16-bit, S24/S32 →
 * 32-bit, float → float); else S16 widened to 32-bit, or S24/S32 cut to 16 bits (`truncates`:
 * said in the log, as `sbc-audio play` does for a 24-bit file on a 16-bit stream).
 */
export function carriedFormat(format: SampleFormat, offered: number): (Carry & { truncates: boolean }) | undefined {
  const b16 = (offered & SAMPLE_FORMAT.BIT16) !== 0;
  const b32 = (offered & SAMPLE_FORMAT.BIT32) !== 0;
  switch (format) {
    case 'S16_LE':
      return b16 ? { sampleFormat: SAMPLE_FORMAT.BIT16, bytes: 2, truncates: false } : b32 ? { sampleFormat: SAMPLE_FORMAT.BIT32, bytes: 4, truncates: false } : undefined;
    case 'S24_LE': case 'S24_3LE': case 'S32_LE':
      return b32 ? { sampleFormat: SAMPLE_FORMAT.BIT32, bytes: 4, truncates: false } : b16 ? { sampleFormat: SAMPLE_FORMAT.BIT16, bytes: 2, truncates: true } : undefined;
    case 'FLOAT_LE':
      return offered & SAMPLE_FORMAT.BIT32_FLOAT ? { sampleFormat: SAMPLE_FORMAT.BIT32_FLOAT, bytes: 4, truncates: false } : undefined;
  }
}

/**
 * Adds `samples` samples of `src` (player format; `dv` a view of it) into `acc`: integers at 32-bit
 * full scale (S16 << 16, S24 << 8, S32 as it is), float as it is; `first` sets instead of adding.
 * Allocates nothing.
 */
export function accumulate(acc: Float64Array, src: Uint8Array, dv: DataView, format: SampleFormat, samples: number, first: boolean): void {
  for (let i = 0; i < samples; i++) {
    let v: number;
    switch (format) {
      case 'S16_LE': v = dv.getInt16(i * 2, true) * 65536; break;
      case 'S24_LE': v = (dv.getInt32(i * 4, true) << 8) | 0; break;
      case 'S24_3LE': v = (src[i * 3]! << 8) | (src[i * 3 + 1]! << 16) | (src[i * 3 + 2]! << 24); break;
      case 'S32_LE': v = dv.getInt32(i * 4, true); break;
      case 'FLOAT_LE': v = dv.getFloat32(i * 4, true); break;
    }
    acc[i] = first ? v : acc[i]! + v;
  }
}

/**
 * Writes accumulated samples into `dv` in the ring's format: a sum past full scale is clipped;
 * 16-bit takes the upper 16 bits (exact for S16 players). Allocates nothing.
 */
export function emit(dv: DataView, acc: Float64Array, samples: number, sampleFormat: number): void {
  for (let i = 0; i < samples; i++) {
    let v = acc[i]!;
    if (sampleFormat === SAMPLE_FORMAT.BIT32_FLOAT) {
      dv.setFloat32(i * 4, v, true);
      continue;
    }
    v = v > 2147483647 ? 2147483647 : v < -2147483648 ? -2147483648 : v;
    if (sampleFormat === SAMPLE_FORMAT.BIT16) dv.setInt16(i * 2, Math.floor(v / 65536), true);
    else dv.setInt32(i * 4, v, true);
  }
}

export interface AlsaBridgeStatus {
  state: 'idle' | 'starting' | 'playing';
  /** Cables (subdevices) being played. */
  cables: number[];
  rate?: number;
  format?: SampleFormat;
  channels?: number;
  /** The players' clock against the DAC's, ppm (mean correction over the last minute); undefined before the first second. */
  ppm?: number;
  /** Seconds the ppm is the mean of. */
  ppmWindowS?: number;
  /** The rate shift written now. */
  rateShift: number;
  /** Frames in the ring ahead of the DAC above the engine's FIFO, as ms; and the level held (on the same basis). */
  fillMs?: number;
  targetMs: number;
  /** The bridge's part of a player's delay: a capture period + the fill (the stream's own external delay comes on top). */
  bridgeDelayMs?: number;
  /** Silence padded in (player late), frames cut (service late), capture overruns: since start of the service. */
  underruns: number;
  cutFrames: number;
  overruns: number;
  sessions: number;
  /** Underruns of the stream's engine (EXT_RB_ERROR) while the bridge played: the DAC's, not the bridge's. */
  dacUnderruns: number;
}

export interface AlsaBridgeOptions {
  card: LoopbackCard;
  /** Opens the capture side of a cable (the HAL's PCM backend). */
  capture: PcmBackend;
  /** The board output stream's endpoint socket. */
  endpointPath: string;
  /** The endpoint's name, for the log. */
  stream: string;
  log?: (line: string) => void;
  /** Fill held above the FIFO, ms (default 40). */
  latencyMs?: number;
  /** How often the bridge moves audio, ms (default 10). */
  tickMs?: number;
  /** Drift compensation through the rate shift (default true). */
  follow?: boolean;
  rateFollower?: Partial<Omit<RateFollowerOptions, 'rate' | 'targetFrames'>>;
  /** A progress line while playing every this many s (default 60; 0: none). */
  reportEveryS?: number;
  nowNs?: () => number;
  /** How often the stream's external delay is asked again for `outputLatency()`, ms (default 1000). */
  latencyRefreshMs?: number;
}

/**
 * The appliance's output latency as a player of the ALSA way in sees it (issue 28): from a frame
 * entering the loopback cable (what the player's snd_pcm_delay stops counting) to its leaving the
 * board's analog output. Counted, at `rate`:
 * - `bridgeMs`: a capture period (a frame waits at most that long in the cable's capture buffer
 *   before the bridge can read it) + the fill the bridge holds *above* the stream's FIFO
 *   (`--alsa-in-latency`: the target, not the momentary fill, which the PI loop keeps there);
 * - `fifoMs`: the stream's FIFO (GET_FIFO_DEPTH). docs/PROTOCOL.md section 6 (R-RB-8: start_time is
 *   when frame 0 leaves the PCM): the position is the frame the PCM plays now, and the engine has
 *   already read `fifo` frames beyond it (it plays them later), so a frame written
 *   at ring index `written` leaves the PCM `written − position` frames later; the bridge holds
 *   that fill at FIFO + the hold above, so FIFO and hold together are the ring part, each once;
 * - `externalMs`: the stream's external delay at `rate` (EXT_GET_DELAY_INFO, R-EXT-7: the codec's
 *   filter group delay in its current mode + the board file's output analogDelays), its known part.
 * `ms` is their sum. Whatever has no figure is named in `unknown` and left out of `ms` (never
 * taken as 0 silently): an item of the external delay without a published figure, or the FIFO
 * before any player has played (the FIFO is known only to a ring-buffer channel, i.e. a session).
 */
export interface OutputLatency {
  ms: number;
  rate: number;
  bridgeMs: number;
  /** Undefined while unknown (then named in `unknown`). */
  fifoMs?: number;
  externalMs: number;
  unknown: string[];
}

interface Leg {
  sub: number;
  pcm: PcmStream;
  buf: Uint8Array;
  view: DataView;
}

function leg(sub: number, pcm: PcmStream, frames: number): Leg {
  const buf = new Uint8Array(frames * pcm.config.frameBytes);
  return { sub, pcm, buf, view: new DataView(buf.buffer) };
}

interface Session {
  sub: number;
  rate: number;
  format: SampleFormat;
  channels: number;
  carry: Carry;
  legs: Leg[];
  stream: StreamClient;
  rb: RingBufferClient;
  ring: MappedRingBuffer;
  frames: number;
  fifoFrames: number;
  targetFrames: number;
  notifsPerRing: number;
  written: number;
  started: boolean;
  startAsked: boolean;
  startNs: number;
  notifs: number;
  notifNs: number;
  notifPos: number;
  acc: Float64Array;
  out: Uint8Array;
  outView: DataView;
  silence: Uint8Array;
  maxChunk: number;
  follower: RateFollower;
  lastReportNs: number;
  closing: boolean;
  draining: boolean;
  settled: boolean;
  startDropped: number;
  startCut: number;
  fill: number;
}

const monotonicNs = () => Number(process.hrtime.bigint());
/** The ring: room for the capture's whole backlog (CAPTURE_S) above the target. */
const RING_S = 3;
const CAPTURE_S = 2;
const FORMAT_BYTES: Record<SampleFormat, number> = { S16_LE: 2, S24_LE: 4, S24_3LE: 3, S32_LE: 4, FLOAT_LE: 4 };
/** The capture's period at a rate: ≈ 10 ms in whole 16-frame blocks. */
const capturePeriodFrames = (rate: number): number => Math.max(16, Math.round(rate / 100 / 16) * 16);

export class AlsaBridge {
  private timer: NodeJS.Timeout | undefined;
  private session: Session | undefined;
  private starting = false;
  private closed = false;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly tickMs: number;
  private readonly latencyMs: number;
  /** Cables a player runs on, as last read. */
  private readonly active = new Set<number>();
  /** Cables said in the log as not played (a format or rate the stream refuses), until they stop. */
  private readonly refused = new Set<number>();
  /** Cables whose player runs at other parameters than the session's: they play when it ends. */
  private readonly waiting = new Set<number>();
  private learnedPpm = 0;
  private lastError: string | undefined;
  private counters = { underruns: 0, cutFrames: 0, overruns: 0, sessions: 0, dacUnderruns: 0 };
  private offered: number | undefined;
  /** For outputLatency(): the last session's rate and FIFO, the external delay as last asked. */
  private lastRate: number | undefined;
  private lastFifoFrames: number | undefined;
  private delayInfo: { rate: number; knownNs: number; unknown: string[] } | undefined;
  private defaultRate: number | undefined;
  private delayChannel: StreamClient | undefined;
  private delayTimer: NodeJS.Timeout | undefined;
  private delayAsking = false;
  private delayError: string | undefined;

  constructor(private readonly o: AlsaBridgeOptions) {
    this.log = o.log ?? (() => {});
    this.now = o.nowNs ?? monotonicNs;
    this.tickMs = o.tickMs ?? 10;
    this.latencyMs = o.latencyMs ?? 40;
  }

  /** Turns PCM Notify on for every cable and starts watching. */
  start(): void {
    for (let n = 0; n < this.o.card.subdevices; n++) {
      this.o.card.setNotify(n, true);
      if (this.o.card.cable(n).active) this.active.add(n);
    }
    this.o.card.changed(); // what happened before start is read above
    // One interval, not a timeout per tick: a tick allocates nothing while a player plays.
    this.timer = setInterval(this.tick, this.tickMs);
  }

  private readonly tick = (): void => {
    try {
      this.step();
      this.lastError = undefined;
    } catch (e) {
      // Said once while it lasts (a card that went away fails every tick).
      const m = (e as Error).message;
      if (m !== this.lastError) this.log(`alsa-in: ${m}`);
      this.lastError = m;
      void this.endSession('error');
    }
  };

  private step(): void {
    const changed = this.o.card.changed();
    for (const n of changed) {
      const c = this.o.card.cable(n);
      if (c.active) this.active.add(n);
      else {
        this.active.delete(n);
        this.refused.delete(n);
        this.waiting.delete(n);
      }
    }
    const s = this.session;
    if (s && !s.closing) {
      if (s.draining) {
        // The last player stopped: what is in the ring plays out, then the stream stops.
        if (!s.started || this.dacPosition(s, this.now()) >= s.written + s.fifoFrames) void this.endSession('the player stopped');
        return;
      }
      let playing = 0;
      for (const leg of s.legs) if (this.active.has(leg.sub)) playing++;
      if (playing === 0) {
        this.pump(s); // what the cables still hold
        s.draining = true;
        return;
      }
      // A leg whose player stopped is closed (the others go on).
      for (let i = s.legs.length - 1; i >= 0; i--) {
        const leg = s.legs[i]!;
        if (!this.active.has(leg.sub)) {
          leg.pcm.close();
          s.legs.splice(i, 1);
          this.o.card.setRateShift(leg.sub, RATE_SHIFT_NEUTRAL);
        }
      }
      if (this.active.size > s.legs.length) this.joinLegs(s);
      this.pump(s);
      return;
    }
    if (!s && !this.starting) {
      for (const n of this.active) {
        if (this.refused.has(n)) continue;
        void this.startSession(n);
        break;
      }
    }
  }

  /** Other players of the same parameters join the running session (summed). */
  private joinLegs(s: Session): void {
    for (const n of this.active) {
      if (this.refused.has(n) || this.waiting.has(n)) continue;
      let playing = false;
      for (const l of s.legs) if (l.sub === n) playing = true;
      if (playing) continue;
      const c = this.o.card.cable(n);
      if (c.rate !== s.rate || c.format !== s.format || c.channels !== s.channels) {
        this.waiting.add(n); // played once the session ends (step: a free bridge takes the next active cable)
        this.log(`alsa-in: cable ${n}: a player at ${c.rate} Hz ${c.format ?? `format ${c.formatCode}`} ${c.channels} ch waits: cable ${s.sub} plays ${s.rate} Hz ${s.format} ${s.channels} ch (players are summed only at the same rate and format)`);
        continue;
      }
      this.refused.add(n); // until its capture is open (or failed)
      void this.openCapture(n, s.rate, s.format, s.channels).then((pcm) => {
        this.refused.delete(n);
        if (this.session !== s || s.closing || !this.active.has(n)) { pcm.close(); return; }
        s.legs.push(leg(n, pcm, s.maxChunk));
        this.o.card.setRateShift(n, this.o.card.rateShift(s.sub));
        this.log(`alsa-in: cable ${n} joins cable ${s.sub} (${s.legs.length} players summed)`);
      }, (e: Error) => this.log(`alsa-in: cable ${n}: ${e.message}`));
    }
  }

  private async openCapture(n: number, rate: number, format: SampleFormat, channels: number): Promise<PcmStream> {
    const period = capturePeriodFrames(rate);
    const pcm = await this.o.capture.open(this.o.card.capturePcm(n), { direction: 'capture', rate, channels, format, periodFrames: period, bufferFrames: Math.ceil((rate * CAPTURE_S) / period) * period, startThreshold: 1 });
    // Started now: the bridge asks avail before it reads, and a capture that waits for its first
    // read to start would never have any.
    try {
      pcm.start();
    } catch (e) {
      pcm.close();
      throw e;
    }
    return pcm;
  }

  private async startSession(n: number): Promise<void> {
    this.starting = true;
    const c = this.o.card.cable(n);
    let stream: StreamClient | undefined;
    let rb: RingBufferClient | undefined;
    let pcm: PcmStream | undefined;
    const refuse = (why: string) => {
      this.refused.add(n);
      this.log(`alsa-in: cable ${n}: ${why}; not played`);
    };
    try {
      if (!c.active) return;
      if (!c.format) return refuse(`the player's sample format (snd_pcm_format_t ${c.formatCode}) is not one the bridge carries (S16_LE, S24_LE, S24_3LE, S32_LE, FLOAT_LE)`);
      // The capture opens first: a cable has no memory, what the player writes before the capture
      // runs is gone (aloop.c copies only to a running capture). What comes while the stream is set
      // up waits in its 2 s buffer; all but the target's worth of it is dropped before START (said
      // in the log): the player's first few ms on a fast machine.
      pcm = await this.openCapture(n, c.rate, c.format, c.channels);
      stream = await StreamClient.connect(this.o.endpointPath);
      if (this.offered === undefined) this.offered = (await stream.getFormats()).reduce((a, r) => (a | r.sampleFormats) >>> 0, 0);
      const carry = carriedFormat(c.format, this.offered);
      if (!carry) return refuse(`${this.o.stream} takes no sample format that carries ${c.format}`);
      if (carry.truncates) this.log(`alsa-in: cable ${n}: ${this.o.stream} takes 16-bit samples only: the player's ${c.format} is cut to its upper 16 bits`);
      const f = await stream.setFormat({ fps: c.rate, sampleFormat: carry.sampleFormat, channels: c.channels });
      if (f.result !== STATUS.OK) return refuse(`${this.o.stream} refuses ${c.rate} Hz, ${c.channels} ch (SET_FORMAT: ${statusName(f.result)})`);
      rb = await stream.openRingBuffer(f.token!);
      await rb.extNotifications(true);
      const fifo = await rb.getFifoDepth();
      if (fifo.result !== STATUS.OK) throw new Error(`${this.o.stream}: GET_FIFO_DEPTH: ${statusName(fifo.result)}`);
      const fb = carry.bytes * c.channels;
      const notifsPerRing = 20;
      const b = await rb.getBuffer(Math.round(c.rate * RING_S), notifsPerRing);
      if (b.result !== STATUS.OK) throw new Error(`${this.o.stream}: GET_BUFFER: ${statusName(b.result)}`);
      const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, fb);
      const fifoFrames = fifo.fifoDepth / fb;
      const targetFrames = fifoFrames + Math.round((c.rate * this.latencyMs) / 1000);
      const maxChunk = pcm.config.bufferFrames;
      const out = new Uint8Array(maxChunk * fb);
      const s: Session = {
        sub: n, rate: c.rate, format: c.format, channels: c.channels, carry, legs: [leg(n, pcm, maxChunk)],
        stream, rb, ring, frames: b.frames, fifoFrames, targetFrames, notifsPerRing, written: 0, started: false, startAsked: false, startNs: 0, notifs: 0, notifNs: 0, notifPos: 0,
        acc: new Float64Array(maxChunk * c.channels), out, outView: new DataView(out.buffer), silence: new Uint8Array(Math.max(maxChunk, targetFrames) * fb),
        maxChunk, follower: new RateFollower({ rate: c.rate, targetFrames, initialPpm: this.learnedPpm, ...this.o.rateFollower }), lastReportNs: this.now(), closing: false, draining: false, settled: false, startDropped: 0, startCut: 0, fill: 0,
      };
      rb.on('position', (p: { monotonicTimeNs: number; ringBufferPos: number }) => {
        // The absolute position is the one ≡ ring_buffer_pos (mod F) nearest to the prediction: a
        // notification skipped (after an xrun) does not shift the count.
        // The first one may come in the same read as START's answer, before start_time is known
        // here: it is the first notification point, ⌊F/N⌋ (R-RB-10).
        const predicted = s.notifs === 0 ? Math.floor(s.frames / s.notifsPerRing) : this.dacPosition(s, p.monotonicTimeNs);
        const inRing = p.ringBufferPos / fb;
        s.notifPos = inRing + s.frames * Math.round((predicted - inRing) / s.frames);
        s.notifs++;
        s.notifNs = p.monotonicTimeNs;
      });
      rb.on('rb-error', (e: { kind: number; count: number }) => {
        if (e.kind === 1) this.counters.dacUnderruns += e.count;
        if (e.kind === 3) void this.endSession(`${this.o.stream}: the device failed`);
      });
      void rb.closed.then(() => { if (this.session === s && !s.closing) void this.endSession(`${this.o.stream}: the service closed the channel (a client took the stream)`); });
      if (!this.active.has(n) || this.closed) {
        this.session = s;
        await this.endSession('the player stopped');
        return;
      }
      this.session = s;
      this.counters.sessions++;
      this.lastRate = c.rate;
      this.lastFifoFrames = fifoFrames;
      // A new rate: its external delay asked now, not at the next refresh (outputLatency() waits for it).
      if (this.delayTimer && this.delayInfo?.rate !== c.rate) void this.refreshDelay();
      stream = undefined; rb = undefined; pcm = undefined; // the session owns them now
      this.log(`alsa-in: cable ${n}: ${c.rate} Hz ${c.format} ${c.channels} ch → ${this.o.stream} (fill held at ${this.latencyMs} ms above the ${(fifoFrames / c.rate * 1000).toFixed(1)} ms FIFO)`);
    } catch (e) {
      this.log(`alsa-in: cable ${n}: ${(e as Error).message}`);
      this.refused.add(n);
    } finally {
      pcm?.close();
      rb?.destroy();
      stream?.destroy();
      this.starting = false;
    }
  }

  /** The DAC's position now (frames since START), from the last POSITION_NOTIFY. */
  private dacPosition(s: Session, now: number): number {
    if (s.notifs === 0) return Math.max(0, ((now - s.startNs) * s.rate) / 1e9);
    return s.notifPos + Math.max(0, ((now - s.notifNs) * s.rate) / 1e9);
  }

  private availOf(leg: Leg): number {
    try {
      return leg.pcm.avail();
    } catch (e) {
      if (!(e instanceof PcmXrunError)) throw e;
      this.overrun(leg);
      return 0;
    }
  }

  private overrun(leg: Leg): void {
    this.counters.overruns++;
    leg.pcm.recover();
    this.log(`alsa-in: cable ${leg.sub}: capture overrun (the service was late by more than the capture buffer); going on`);
  }

  /** Moves what the cables captured into the ring; before START, until the target is there. */
  private pump(s: Session): void {
    const samplesPer = s.channels;
    if (!s.startAsked) {
      // The backlog of the set-up: only the newest target's worth goes into the ring.
      let a = s.maxChunk;
      for (const leg of s.legs) a = Math.min(a, this.availOf(leg));
      const drop = a - (s.targetFrames - s.written);
      if (drop > 0) {
        for (const leg of s.legs) {
          try {
            leg.pcm.read(leg.buf, drop);
          } catch (e) {
            if (!(e instanceof PcmXrunError)) throw e;
            this.overrun(leg);
          }
        }
        s.startDropped += drop;
      }
    }
    // As many frames as every cable has: the cables' timers tick apart (each its own jiffies
    // timer), so the one ahead keeps the difference in its capture buffer, never a gap.
    let n = s.maxChunk;
    for (const leg of s.legs) {
      const a = this.availOf(leg);
      if (a < n) n = a;
    }
    for (let i = 0; i < s.legs.length && n > 0; i++) {
      const leg = s.legs[i]!;
      let got = 0;
      try {
        got = leg.pcm.read(leg.buf, n);
      } catch (e) {
        if (!(e instanceof PcmXrunError)) throw e;
        this.overrun(leg);
      }
      if (got < n) leg.buf.fill(0, got * FORMAT_BYTES[s.format] * samplesPer, n * FORMAT_BYTES[s.format] * samplesPer);
      accumulate(s.acc, leg.buf, leg.view, s.format, n * samplesPer, i === 0);
    }
    const fb = s.carry.bytes * s.channels;
    if (n > 0) {
      emit(s.outView, s.acc, n * samplesPer, s.carry.sampleFormat);
      s.ring.write(s.written, s.out, 0, n * fb);
      s.written += n;
    }
    if (!s.started) {
      if (s.written >= s.targetFrames && !s.startAsked) void this.startRing(s);
      return;
    }
    const now = this.now();
    const pos = this.dacPosition(s, now);
    let fill = s.written - pos;
    if (fill < s.fifoFrames + s.rate * this.tickMs / 1000) {
      // The player is late: silence up to the target, so the DAC never reads an old ring.
      const pad = Math.ceil(s.targetFrames - fill);
      s.ring.write(s.written, s.silence, 0, Math.min(pad, s.silence.length / fb) * fb);
      s.written += Math.min(pad, s.silence.length / fb);
      this.counters.underruns++;
      fill = s.written - pos;
    } else if (fill > s.targetFrames + s.rate * (s.settled ? 0.1 : 0.005)) {
      // The service was late and the cable ran on: back to the target (the frames past it, not yet read, are dropped).
      const cut = Math.floor(fill - s.targetFrames);
      s.written -= cut;
      if (s.settled) this.counters.cutFrames += cut;
      else s.startCut += cut;
      fill = s.written - pos;
    }
    if (!s.settled) {
      // What came while START was answered is cut at once (above): the fill starts at the target.
      s.settled = true;
      if (s.startDropped + s.startCut > 0) this.log(`alsa-in: cable ${s.sub}: ${(((s.startDropped + s.startCut) / s.rate) * 1000).toFixed(0)} ms the player wrote while the stream was being set up were dropped`);
    }
    s.fill = fill;
    if (s.follower.update(now, fill) && (this.o.follow ?? true)) {
      const v = s.follower.shift;
      for (const leg of s.legs) if (this.o.card.rateShift(leg.sub) !== v) this.o.card.setRateShift(leg.sub, v);
    }
    const every = (this.o.reportEveryS ?? 60) * 1e9;
    if (every > 0 && now - s.lastReportNs >= every) {
      s.lastReportNs = now;
      this.log(`alsa-in: ${this.describe()}`);
    }
  }

  private async startRing(s: Session): Promise<void> {
    s.startAsked = true;
    const st = await s.rb.start();
    if (st.result !== STATUS.OK) {
      void this.endSession(`${this.o.stream}: START: ${statusName(st.result)}`);
      return;
    }
    // Positions count from start_time: only now can the fill be measured.
    s.startNs = st.startTimeNs;
    s.started = true;
  }

  private async endSession(why: string): Promise<void> {
    const s = this.session;
    if (!s || s.closing) return;
    if (s.follower.windowBlocks > 0) this.learnedPpm = s.follower.drift;
    this.log(`alsa-in: cable ${s.sub}: ${why}; ${this.describe()}`);
    s.closing = true;
    for (const leg of s.legs) {
      leg.pcm.close();
      try {
        this.o.card.setRateShift(leg.sub, RATE_SHIFT_NEUTRAL);
      } catch { /* the card is gone */ }
    }
    s.legs.length = 0;
    s.ring.close();
    if (!s.rb.isClosed) await s.rb.stop().catch(() => undefined);
    await Promise.all([s.rb.close(), s.stream.close()]).catch(() => undefined);
    if (this.session === s) this.session = undefined;
    this.waiting.clear(); // the next tick starts a session for one of them
  }

  private describe(): string {
    const st = this.status();
    if (st.state === 'idle') return `idle; ${st.underruns} underruns, ${st.overruns} overruns, ${st.cutFrames} frames cut, ${st.dacUnderruns} DAC underruns`;
    const ppm = st.ppm === undefined ? 'not measured yet' : `${st.ppm >= 0 ? '+' : ''}${st.ppm.toFixed(1)} ppm against the DAC over ${st.ppmWindowS} s`;
    return `${st.rate} Hz ${st.format} ${st.channels} ch from cable${st.cables.length > 1 ? 's' : ''} ${st.cables.join('+')}: players' clock ${ppm} (rate shift ${st.rateShift}), fill ${st.fillMs?.toFixed(1)} ms (target ${st.targetMs}), ${st.underruns} underruns, ${st.overruns} overruns, ${st.cutFrames} frames cut, ${st.dacUnderruns} DAC underruns`;
  }

  /**
   * The output latency (OutputLatency) for the running session's rate; idle, for the last
   * session's rate, else 48 kHz where the stream takes it (snapserver's default sample format),
   * else the stream's highest rate. Cheap: the external delay is asked off the audio path about
   * once a second (the first call starts that), so a rate, filter-mode or board change shows up
   * within a second or two. Undefined until the external delay at that rate has been answered.
   */
  outputLatency(): OutputLatency | undefined {
    if (!this.delayTimer && !this.closed) {
      this.delayTimer = setInterval(() => void this.refreshDelay(), this.o.latencyRefreshMs ?? 1000);
      void this.refreshDelay();
    }
    const s = this.session;
    const rate = this.latencyRate();
    const ext = this.delayInfo;
    if (rate === undefined || !ext || ext.rate !== rate) return undefined;
    const capture = s && s.legs[0] ? s.legs[0].pcm.config.periodFrames : capturePeriodFrames(rate);
    const hold = s ? s.targetFrames - s.fifoFrames : Math.round((rate * this.latencyMs) / 1000);
    const fifoFrames = s ? s.fifoFrames : this.lastRate === rate ? this.lastFifoFrames : undefined;
    const bridgeMs = ((capture + hold) / rate) * 1000;
    const fifoMs = fifoFrames === undefined ? undefined : (fifoFrames / rate) * 1000;
    const externalMs = ext.knownNs / 1e6;
    const unknown = [...(fifoMs === undefined ? [`${this.o.stream}'s FIFO (known once a player has played)`] : []), ...ext.unknown];
    return { ms: bridgeMs + (fifoMs ?? 0) + externalMs, rate, bridgeMs, ...(fifoMs !== undefined ? { fifoMs } : {}), externalMs, unknown };
  }

  private latencyRate(): number | undefined {
    return this.session?.rate ?? this.lastRate ?? this.defaultRate;
  }

  /** Asks the stream's external delay at the latency's rate, on an observer channel (it never takes the stream). */
  private async refreshDelay(): Promise<void> {
    if (this.delayAsking || this.closed) return;
    this.delayAsking = true;
    try {
      if (!this.delayChannel || this.delayChannel.isClosed) {
        this.delayChannel?.destroy();
        this.delayChannel = undefined;
        const ch = await StreamClient.connect(this.o.endpointPath);
        // close() ran while it connected: it could not destroy a channel it did not see yet.
        if (this.closed) {
          ch.destroy();
          return;
        }
        this.delayChannel = ch;
        // EXT_OBSERVE as the first request (R-EXT-3): this channel is never the stream's owner, so a
        // player's or a client's SET_FORMAT is never refused because of it.
        const r = await ch.observe();
        if (this.closedWhileAsking(ch)) return;
        if (r !== STATUS.OK) throw new Error(`EXT_OBSERVE: ${statusName(r)}`);
      }
      const ch = this.delayChannel;
      if (this.latencyRate() === undefined) {
        const ranges = await ch.getFormats();
        if (this.closedWhileAsking(ch)) return;
        const takes = (hz: number) => ranges.some((r) => r.minFps <= hz && hz <= r.maxFps);
        this.defaultRate = takes(48000) ? 48000 : Math.max(...ranges.map((r) => r.maxFps));
      }
      const rate = this.latencyRate()!;
      const d = await ch.getDelayInfo(rate);
      if (this.closedWhileAsking(ch)) return;
      if (d.result !== STATUS.OK) throw new Error(`EXT_GET_DELAY_INFO at ${rate} Hz: ${statusName(d.result)}`);
      this.delayInfo = { rate, knownNs: d.knownDelayNs, unknown: d.unknownCount > 0 ? d.unknown.split('; ').filter((x) => x !== '') : [] };
      // R-EXT-7: the names may be cut to fit; a count above the names is still that many unknowns.
      while (this.delayInfo.unknown.length < d.unknownCount) this.delayInfo.unknown.push('(an item whose name did not fit)');
      this.delayError = undefined;
    } catch (e) {
      // A request cut by close() is no failure to report.
      if (this.closed) {
        this.delayChannel?.destroy();
        this.delayChannel = undefined;
        return;
      }
      const m = `alsa-in: ${this.o.stream}: the external delay for the output latency: ${(e as Error).message}`;
      if (m !== this.delayError) this.log(m); // once while it lasts
      this.delayError = m;
      this.delayChannel?.destroy();
      this.delayChannel = undefined;
    } finally {
      this.delayAsking = false;
    }
  }

  /** After an await in refreshDelay(): true (the channel destroyed) when close() ran meanwhile. */
  private closedWhileAsking(ch: StreamClient): boolean {
    if (!this.closed) return false;
    ch.destroy();
    if (this.delayChannel === ch) this.delayChannel = undefined;
    return true;
  }

  status(): AlsaBridgeStatus {
    const s = this.session;
    const base = { rateShift: s ? this.o.card.rateShift(s.sub) : RATE_SHIFT_NEUTRAL, targetMs: this.latencyMs, ...this.counters };
    if (!s) return { state: this.starting ? 'starting' : 'idle', cables: [], ...base };
    const ppm = s.follower.ppm;
    // A captured frame waits at most a capture period (then a tick) before it reaches the ring.
    const capture = s.legs[0] ? s.legs[0].pcm.config.periodFrames : 0;
    return {
      state: s.started ? 'playing' : 'starting', cables: s.legs.map((l) => l.sub), rate: s.rate, format: s.format, channels: s.channels,
      ...(ppm !== undefined ? { ppm, ppmWindowS: s.follower.windowBlocks * ((this.o.rateFollower?.blockMs ?? 1000) / 1000) } : {}),
      fillMs: ((s.fill - s.fifoFrames) / s.rate) * 1000, bridgeDelayMs: ((s.fill + capture) / s.rate) * 1000, ...base,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.delayTimer) clearInterval(this.delayTimer);
    this.delayChannel?.destroy();
    this.delayChannel = undefined;
    await this.endSession('the service stops');
    for (let n = 0; n < this.o.card.subdevices; n++) {
      try {
        this.o.card.setNotify(n, false);
      } catch { /* gone */ }
    }
    this.o.card.close();
  }
}

/**
 * Mirrors a user volume element on the loopback card (what mpd's hardware mixer and amixer move)
 * and the stream's gain control, both ways. The element's range is the gain control's: min..max in
 * its steps (0.5 dB where the control has none).
 */
export class GainMirror {
  private readonly off: () => void;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly volume: UserVolume, private readonly gain: { get(): Promise<ControlInfo>; set(dB: number): Promise<unknown>; onChange(fn: (dB: number) => void): () => void }, private readonly log: (line: string) => void = () => {}, pollMs = 50) {
    this.off = gain.onChange((dB) => this.writeElement(dB));
    void gain.get().then((c) => { if (typeof c.value === 'number') this.writeElement(c.value); }, () => undefined);
    this.timer = setInterval(() => this.poll(), pollMs);
  }

  /** dB of an element value. */
  dbOf(v: number): number {
    return (this.volume.minCdb + (v - this.volume.min) * this.volume.stepCdb) / 100;
  }

  valueOf(dB: number): number {
    const v = this.volume;
    const range = { minDb: v.minCdb / 100, maxDb: (v.minCdb + (v.max - v.min) * v.stepCdb) / 100, stepDb: v.stepCdb / 100 };
    // The one rounding of a gain to a step (src/codec/controls.ts): never louder than asked on a tie.
    // Rounded to a step there, so in whole centi-dB the offset is a whole number of steps.
    const offset = Math.round(roundDbToStep(dB, range) * 100) - v.minCdb;
    return v.min + (offset - (offset % v.stepCdb)) / v.stepCdb;
  }

  private writeElement(dB: number): void {
    const v = this.valueOf(dB);
    const now = this.volume.read();
    if (now.every((x) => x === v)) return;
    this.volume.write(now.map(() => v));
  }

  private poll(): void {
    try {
      if (!this.volume.changed()) return;
      const vals = this.volume.read();
      // A stereo element moved as one (mpd, amixer sset): the mean, which is every channel's value.
      const v = Math.round(vals.reduce((a, b) => a + b, 0) / vals.length);
      void this.gain.set(this.dbOf(v)).catch((e: Error) => this.log(`alsa-in: mixer → gain: ${e.message}`));
    } catch (e) {
      this.log(`alsa-in: mixer: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.off();
    if (this.timer) clearInterval(this.timer);
    this.volume.close();
  }
}
