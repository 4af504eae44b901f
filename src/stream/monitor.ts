/**
 * Monitor endpoints of a simulated board: what each simulated analog output carries, published
 * as an input stream (`audio-input/<board>.<stream>.monitor`) that any client can record from
 * with the same protocol (`sbc-audio record --endpoint …`).
 *
 * The ring buffer is written on this thread from the board's analog simulation
 * (src/hal/sim/analog.ts) on a timer of the board's clock. The analog output is rendered
 * MONITOR_DELAY_NS behind real time, because the simulated PCMs put their frames on the I2S
 * links once per engine period, a little after they were clocked out. So:
 *   - frame k of the ring buffer is what the output carried at start_time − delay + k / rate,
 *     on the board's clock (CLOCK_MONOTONIC, or the virtual clock of a virtual-clock board);
 *   - the delay is the stream's external delay (SET_FORMAT, EXT_GET_EXTERNAL_DELAY);
 *   - frames up to (now − start_time) × rate are in the buffer, as with any input stream.
 * Gain is fixed (0 dB) and the plug hardwired: a monitor is a probe, not a control.
 */
import { closeSync, fchmodSync, fchownSync, ftruncateSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { type FormatRange, RANGE_FLAG, SAMPLE_FORMAT, bytesPerSample, sampleFormatBase } from '../audio/formats.ts';
import type { BoardRuntime } from '../board/runtime.ts';
import type { TimerHandle } from '../hal/clock.ts';
import type { AnalogSimulation } from '../hal/sim/analog.ts';
import { endpointName, streamUniqueId } from './board-device.ts';
import type { RequestedFormat, RingBufferEngine, RingBufferEvents, RingBufferResult, StreamDevice } from './device.ts';
import { STATUS } from './wire.ts';

/** How far behind real time the monitor renders the analog output (ns). */
export const MONITOR_DELAY_NS = 50e6;
/** How often the monitor writes its ring buffer (ns). */
const TICK_NS = 10e6;
const MAX_BUFFER_BYTES = 64 << 20;

const MONITOR_FORMATS: FormatRange[] = [
  { sampleFormats: SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT32 | SAMPLE_FORMAT.BIT32_FLOAT, minFps: 8000, maxFps: 192000, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY },
  { sampleFormats: SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT32 | SAMPLE_FORMAT.BIT32_FLOAT, minFps: 11025, maxFps: 176400, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY },
];

/** The monitor endpoint's name for a board stream. */
export function monitorName(boardName: string, streamId: string): string {
  return `${endpointName(boardName, streamId)}.monitor`;
}

/**
 * One monitor input device per monitored output of a simulated board (none on other boards).
 * `bufferGid`: the group of the shared buffers (`serve --group`), as for the board's own streams.
 */
export function monitorDevices(rt: BoardRuntime, log: (line: string) => void = () => {}, bufferGid?: number): StreamDevice[] {
  const analog = rt.analog;
  if (!analog) return [];
  const startNs = rt.hal.clock.nowNs();
  return analog.outputs.map((o): StreamDevice => ({
    info: {
      direction: 'input', purpose: 'line-in', endpointName: monitorName(rt.board.name, o.stream),
      uniqueId: streamUniqueId(rt.board.name, `${o.stream}.monitor`), manufacturer: rt.board.manufacturer,
      product: `${rt.board.name} ${o.stream} monitor (simulated analog output "${o.chipOutput}" of ${rt.codec.name})`,
      clockDomain: 0,
    },
    formats: () => MONITOR_FORMATS,
    changeFormat: async () => ({ externalDelayNs: MONITOR_DELAY_NS }),
    externalDelayNs: () => MONITOR_DELAY_NS,
    unknownDelay: () => [],
    gainCaps: () => ({ canMute: false, canAgc: false, minGain: 0, maxGain: 0, gainStep: 0 }),
    getGain: async () => ({ muted: false, agc: false, gainDb: 0 }),
    setGain: async () => ({ muted: false, agc: false, gainDb: 0 }),
    onGainChange: () => () => {},
    plugState: () => ({ hardwired: true, canNotify: false, plugged: true, timeNs: startNs }),
    onPlugChange: () => () => {},
    createRingBuffer: (fmt, events) => new MonitorRingBuffer(rt, analog, o.stream, fmt, events, log, bufferGid),
  }));
}

let counter = 0;

class MonitorRingBuffer implements RingBufferEngine {
  private file: { path: string; fd: number; frames: number; notify: number } | undefined;
  private timer: TimerHandle | undefined;
  private started = false;
  private startNs = 0;
  private written = 0;
  /** POSITION_NOTIFYs sent since START (j of R-RB-10). */
  private notified = 0;
  /** Seconds of audio for which EXT_RB_CLOCK has been sent. */
  private clockSeconds = 0;
  private clock_: { monotonicTimeNs: number; measuredFps: number; windowFrames: number } | undefined;
  private readonly frameBytes: number;
  private readonly bytes: number;
  private scratch = new Float32Array(0);

  constructor(
    private readonly rt: BoardRuntime, private readonly analog: AnalogSimulation, private readonly stream: string,
    private readonly fmt: RequestedFormat, private readonly events: RingBufferEvents, private readonly log: (line: string) => void,
    private readonly bufferGid: number | undefined,
  ) {
    this.bytes = bytesPerSample(fmt.sampleFormat);
    this.frameBytes = this.bytes * fmt.channels;
  }

  private get clock() {
    return this.rt.hal.clock;
  }

  async getFifoDepth(): Promise<RingBufferResult<{ fifoDepth: number }>> {
    return { result: STATUS.OK, value: { fifoDepth: Math.ceil((2 * TICK_NS * this.fmt.fps) / 1e9) * this.frameBytes } };
  }

  async getBuffer(minFrames: number, notificationsPerRing: number): Promise<RingBufferResult<{ frames: number; bufferPath?: string }>> {
    if (this.started) return { result: STATUS.BAD_STATE, value: { frames: 0 } };
    const frames = Math.max(minFrames, Math.ceil((4 * TICK_NS * this.fmt.fps) / 1e9));
    if (frames * this.frameBytes > MAX_BUFFER_BYTES) return { result: STATUS.NO_MEMORY, value: { frames: 0 } };
    if (notificationsPerRing > frames) return { result: STATUS.INVALID_ARGS, value: { frames: 0 } };
    this.release();
    const path = `/dev/shm/sbc-audio-${monitorName(this.rt.board.name, this.stream)}-${process.pid}-${++counter}-${randomBytes(4).toString('hex')}`;
    try {
      const fd = openSync(path, 'wx', 0o600);
      if (this.bufferGid !== undefined) {
        // The group's members map it too (0660 with the group), as the board's own streams' buffers.
        fchownSync(fd, -1, this.bufferGid);
        fchmodSync(fd, 0o660);
      }
      ftruncateSync(fd, frames * this.frameBytes);
      this.file = { path, fd, frames, notify: notificationsPerRing };
    } catch (e) {
      this.log(`${this.stream} monitor: cannot create the shared buffer: ${(e as Error).message}`);
      return { result: STATUS.NO_MEMORY, value: { frames: 0 } };
    }
    return { result: STATUS.OK, value: { frames, bufferPath: path } };
  }

  async start(): Promise<RingBufferResult<{ startTimeNs: number }>> {
    if (this.started || !this.file) return { result: STATUS.BAD_STATE, value: { startTimeNs: 0 } };
    this.started = true;
    this.startNs = this.clock.nowNs() + MONITOR_DELAY_NS;
    this.written = 0;
    this.notified = 0;
    this.clockSeconds = 0;
    this.clock_ = undefined;
    this.schedule(this.clock.nowNs());
    return { result: STATUS.OK, value: { startTimeNs: this.startNs } };
  }

  private schedule(fromNs: number): void {
    this.timer = this.clock.setTimerNs(fromNs + TICK_NS, () => {
      if (!this.started) return;
      try {
        this.tick();
      } catch (e) {
        this.log(`${this.stream} monitor: ${(e as Error).message}`);
      }
      this.schedule(this.clock.nowNs());
    });
  }

  /** Writes the frames due by the next tick (rendered MONITOR_DELAY_NS behind). */
  private tick(): void {
    const f = this.file!;
    const now = this.clock.nowNs();
    const due = Math.floor(((now + 2 * TICK_NS - this.startNs) * this.fmt.fps) / 1e9);
    const n = due - this.written;
    if (n <= 0) {
      this.notify(now);
      return;
    }
    const ch = this.fmt.channels;
    if (this.scratch.length < n * ch) this.scratch = new Float32Array(n * ch);
    const analogStart = this.startNs - MONITOR_DELAY_NS + (this.written * 1e9) / this.fmt.fps;
    this.analog.render(this.stream, analogStart, n, this.fmt.fps, ch, this.scratch);
    const out = Buffer.alloc(n * this.frameBytes);
    const base = sampleFormatBase(this.fmt.sampleFormat);
    for (let i = 0; i < n * ch; i++) {
      const v = Math.max(-1, Math.min(1, this.scratch[i]!));
      if (base === SAMPLE_FORMAT.BIT16) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32768))), i * 2);
      else if (base === SAMPLE_FORMAT.BIT32) out.writeInt32LE(Math.max(-2147483648, Math.min(2147483647, Math.round(v * 2147483648))), i * 4);
      else out.writeFloatLE(v, i * 4);
    }
    // Into the ring, wrapping at its end.
    let done = 0;
    while (done < n) {
      const pos = (this.written + done) % f.frames;
      const k = Math.min(n - done, f.frames - pos);
      writeSync(f.fd, out, done * this.frameBytes, k * this.frameBytes, pos * this.frameBytes);
      done += k;
    }
    this.written = due;
    this.notify(now);
  }

  /**
   * POSITION_NOTIFY for each notification point the stream has passed by `now` (R-RB-10): the
   * j-th at frame ⌊j·F/N⌋, stamped with the time that frame passed — never a frame only written
   * ahead. And about once per second of audio, EXT_RB_CLOCK (R-EXT-6): the monitor's frames are
   * timed by the board's clock itself, so the measured rate is the nominal one.
   */
  private notify(now: number): void {
    const f = this.file!;
    const fps = this.fmt.fps;
    const passed = Math.min(this.written, Math.floor(((now - this.startNs) * fps) / 1e9));
    if (f.notify > 0) {
      for (;;) {
        const frame = Math.floor(((this.notified + 1) * f.frames) / f.notify);
        if (frame > passed) break;
        this.notified++;
        this.events.positionNotify(this.startNs + (frame * 1e9) / fps, (frame % f.frames) * this.frameBytes);
      }
    }
    while ((this.clockSeconds + 1) * fps <= passed) {
      this.clockSeconds++;
      const windowFrames = this.clockSeconds * fps;
      this.clock_ = { monotonicTimeNs: this.startNs + this.clockSeconds * 1e9, measuredFps: fps, windowFrames };
      this.events.clock?.(this.clock_.monotonicTimeNs, fps, windowFrames);
    }
  }

  lastClock() {
    return this.clock_;
  }

  async stop(): Promise<RingBufferResult<Record<string, never>>> {
    if (!this.file) return { result: STATUS.BAD_STATE, value: {} }; // R-RB-9: no buffer yet
    this.halt();
    return { result: STATUS.OK, value: {} };
  }

  private halt(): void {
    this.started = false;
    this.timer?.cancel();
  }

  private release(): void {
    if (!this.file) return;
    closeSync(this.file.fd);
    rmSync(this.file.path, { force: true });
    this.file = undefined;
  }

  async close(): Promise<void> {
    this.halt();
    this.release();
  }
}
