/**
 * The stream service's engine host: serves one ring-buffer channel (docs/PROTOCOL.md section 6).
 *
 * The client's shared buffer holds audio frames only (byte 0 = frame 0), so it is not a
 * FrameRing: nobody publishes a write position. The engine is a *position-driven* reader: the
 * buffer's nominal position follows from start_time and the device clock, the client writes
 * ahead of it, and the engine reads (output) or writes (input) exactly one period per period at
 * the place that position says. This worker maps the same /dev/shm file itself (a view posted
 * from another thread would be a copy).
 *
 * Output. START is applied at a period boundary t0 (the period's due time). From then on the
 * period due at t0 + k·T reads ring frames [k·p, (k+1)·p) (mod the ring). What it writes reaches
 * the device's output (periods − 1) periods later, so the DAC plays frame 0 at
 * start_time = t0 + (periods − 1)·T, and at any period boundary the engine has read exactly
 * fifo = periods · p frames ahead of the position (t − start_time)·rate: GET_FIFO_DEPTH.
 *
 * Input. The period due at t holds the frames captured during the period before it. START is
 * applied at a period boundary t0 at or after the time the service had the request (the START
 * command carries it: ARG_NOT_BEFORE_NS; where t0 is earlier, start_time moves on by whole periods
 * until it is not), so start_time = t0 + s·T ≥ that time: frame 0 is the first frame captured
 * from start_time on. The periods due up to and including start_time hold older capture and are
 * not written; the period due at start_time + k·T (k ≥ 1) is written at ring frames
 * [(k−1)·p, k·p). The position (valid data up to it) at a boundary is (t − start_time)·rate;
 * fifo = one period.
 *
 * After an xrun the device restarts and loses time; the next period puts the reader back where
 * start_time and the clock say (frames lost are skipped, never replayed).
 *
 * Notifications: the j-th (j = 1, 2, …) is due when the position passes floor(j·F/N) frames; it
 * carries that position and the time the position was reached (the period's due time minus the
 * frames since), strictly increasing. Several may fall in one period.
 *
 * Commands come through the control block (src/engine/stream-control.ts), looked at once per
 * period. Nothing here allocates per period; a command (mapping a new buffer) allocates once.
 *
 * The client going away (R-RB-12). Given descriptors of the channel's socket and of the client
 * process's /proc/<pid>/stat (`clientSocketFd`, `clientStatFd`), the host asks at every period
 * while started, before it touches the client's buffer, whether the client is exiting or has hung
 * up (src/engine/client-watch.ts: a pread and a poll with timeout 0). If so, it stops reading
 * (writing) the buffer from that period on, for good, and reports PEER_GONE: silence waits neither
 * for the kernel to finish tearing the process down nor for the main thread to notice the close
 * and send RELEASE. RELEASE still comes (it unmaps the buffer, and it is the only path where no
 * descriptor was given); after it the host no longer reads them, so the main thread may close the
 * descriptors once RELEASE is acknowledged.
 */
import { SharedMapping } from '../../ringbuffer/shm.ts';
import { RingCopier } from '../../util/ring-copy.ts';
import { EngineError } from '../errors.ts';
import { LinkedClock } from '../linked-clock.ts';
import { CLIENT, ClientWatch } from '../client-watch.ts';
import { CMD_CODE, EVENT, type StreamControlViews, TIME, WORD, pushEvent, readPath, streamControlViews } from '../stream-control.ts';
import type { Host, HostBuffer, HostContext, TimeInfo } from '../types.ts';

export interface StreamBridgeOptions {
  control: SharedArrayBuffer;
  direction: 'output' | 'input';
  /** Output: periods × period frames. Input: one period. */
  fifoFrames: number;
  /** The linked virtual clock, when the engine runs on the service's virtual timeline. */
  clockLink?: SharedArrayBuffer;
  /** How often a CLOCK event reports the measured rate, in frames (default: one second). */
  clockReportFrames?: number;
  /**
   * A descriptor of the ring-buffer channel's socket, and (optionally) one of the connecting
   * process's /proc/<pid>/stat: this process's, kept open by the service until RELEASE is
   * acknowledged or the engine has ended. Without the socket the client's going away is known
   * only through RELEASE.
   */
  clientSocketFd?: number;
  clientStatFd?: number;
}

const STATUS_INTERNAL = -1;

export function createHost(ctx: HostContext): Host {
  const o = ctx.options as StreamBridgeOptions;
  const c = ctx.config;
  if (!c.interleaved) throw new EngineError('invalid-argument', 'stream-bridge needs an interleaved config');
  const output = o.direction === 'output';
  const channels = output ? c.outputChannels : c.inputChannels;
  const frameBytes = channels * (c.format === 'i16' ? 2 : 4);
  const v: StreamControlViews = streamControlViews(o.control);
  const words = v.words;
  const rate = c.rate;
  const nsPerFrame = 1e9 / rate;
  const period = c.bufferFrames;
  const fifo = o.fifoFrames;
  const clockReport = o.clockReportFrames ?? rate;

  // State (numbers initialised as what they hold, so V8 keeps their representation).
  const s = {
    lastSeq: 0,
    running: false,
    resync: false,
    ringFrames: 0,
    notifyPerRing: 0,
    /** Frames read (output) or written (input) since START. */
    r: 0,
    startNs: Number.NaN,
    nextNotify: 1,
    lastNotifyNs: Number.NaN,
    clockFirstNs: Number.NaN,
    clockFirstFrame: 0,
    clockNextFrame: 0,
    xruns: 0,
    /** The client is gone (exiting, or its socket hung up): its buffer is not touched again. */
    peerGone: false,
    /** Input: periods still to pass (captured before start_time) before the first is written. */
    skip: 0,
  };
  let peer = o.clientSocketFd !== undefined && o.clientSocketFd >= 0 ? new ClientWatch(o.clientSocketFd, o.clientStatFd ?? -1) : undefined;
  let mapping: SharedMapping | undefined;
  let ring: Uint8Array | undefined;
  let view: Uint8Array | undefined;
  let viewOf: HostBuffer | undefined;
  const copier = new RingCopier();
  /** Nobody notifies it: Atomics.wait on it is a sleep of the engine thread (STALL), allocation-free. */
  const stallCell = new Int32Array(new SharedArrayBuffer(4));

  const release = () => {
    ring = undefined;
    if (mapping) {
      try {
        mapping.close();
      } catch {
        // unmapping a mapping we made cannot fail in a way we could act on
      }
      mapping = undefined;
    }
  };

  const ack = (seq: number, result: number, time: number) => {
    pushEvent(v, EVENT.ACK, time, seq, result);
  };

  const applyCommand = (seq: number, t: number) => {
    const cmd = Atomics.load(words, WORD.CMD);
    if (cmd === CMD_CODE.SET_BUFFER) {
      release();
      try {
        const m = SharedMapping.open(readPath(v));
        const frames = Atomics.load(words, WORD.ARG_FRAMES);
        if (m.length !== frames * frameBytes) throw new Error(`buffer is ${m.length} bytes, expected ${frames * frameBytes}`);
        mapping = m;
        ring = new Uint8Array(m.buffer);
        s.ringFrames = frames;
        s.notifyPerRing = Atomics.load(words, WORD.ARG_NOTIFY);
        ack(seq, 0, t);
      } catch {
        release();
        ack(seq, STATUS_INTERNAL, t);
      }
    } else if (cmd === CMD_CODE.START) {
      if (!ring || s.peerGone) {
        ack(seq, STATUS_INTERNAL, t);
        return;
      }
      s.running = true;
      Atomics.store(words, WORD.RUNNING, 1);
      s.r = 0;
      s.resync = false;
      s.nextNotify = 1;
      if (output) {
        s.startNs = t + (fifo - period) * nsPerFrame;
        s.skip = 0;
      } else {
        // Capture begins at a boundary not before the request: skip the periods due until then.
        const notBefore = v.times[TIME.ARG_NOT_BEFORE_NS]!;
        const periodNs = period * nsPerFrame;
        const late = notBefore > t ? Math.ceil((notBefore - t) / periodNs - 1e-9) : 0;
        s.startNs = t + late * periodNs;
        s.skip = late + 1;
      }
      s.lastNotifyNs = s.startNs;
      ack(seq, 0, s.startNs);
    } else if (cmd === CMD_CODE.STOP) {
      s.running = false;
      Atomics.store(words, WORD.RUNNING, 0);
      ack(seq, 0, t);
    } else if (cmd === CMD_CODE.FAIL) {
      throw new EngineError('device', 'simulated failure of the audio device');
    } else if (cmd === CMD_CODE.STALL) {
      // A simulated stall on a real-time clock: the thread is away for that long, as if descheduled.
      Atomics.wait(stallCell, 0, 0, Atomics.load(words, WORD.ARG_STALL_US) / 1000);
      ack(seq, 0, t);
    } else if (cmd === CMD_CODE.RELEASE) {
      s.running = false;
      Atomics.store(words, WORD.RUNNING, 0);
      peer = undefined; // the main thread closes the descriptor after this ACK
      release();
      ack(seq, 0, t);
    }
  };

  if (o.clockLink) LinkedClock.sync(o.clockLink);
  Atomics.store(words, WORD.HOST_READY, 1);

  return {
    process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number, time: TimeInfo): boolean {
      const t = time.hostNs;
      const xr = output ? time.underruns : time.overruns;
      if (xr > 0) {
        s.xruns += xr;
        pushEvent(v, EVENT.XRUN, t, xr, s.xruns);
        s.resync = true;
        s.clockFirstNs = Number.NaN;
      }
      const seq = Atomics.load(words, WORD.CMD_SEQ);
      if (seq !== s.lastSeq) {
        s.lastSeq = seq;
        applyCommand(seq, t);
      }

      // Clock recovery: device frames against CLOCK_MONOTONIC since the last (re)start.
      if (Number.isNaN(s.clockFirstNs)) {
        s.clockFirstNs = t;
        s.clockFirstFrame = time.samplePosition;
        s.clockNextFrame = time.samplePosition + clockReport;
      } else if (time.samplePosition >= s.clockNextFrame) {
        const n = time.samplePosition - s.clockFirstFrame;
        pushEvent(v, EVENT.CLOCK, t, Math.round((n * 1e12) / (t - s.clockFirstNs)), n);
        s.clockNextFrame += clockReport;
      }

      if (s.running && peer !== undefined) {
        const why = peer.check();
        if (why !== CLIENT.PRESENT) {
          // The client is gone or going (R-RB-12): not one more period of its buffer.
          s.running = false;
          s.peerGone = true;
          peer = undefined;
          Atomics.store(words, WORD.RUNNING, 0);
          pushEvent(v, EVENT.PEER_GONE, t, why, 0);
        }
      }

      const buf = ring;
      if (!s.running || buf === undefined) return true;
      const io = output ? outputs[0] : inputs[0];
      if (io === undefined) return true;
      if (viewOf !== io) {
        view = new Uint8Array(io.buffer, io.byteOffset, io.byteLength);
        viewOf = io;
      }
      const bytes = view!;
      const F = s.ringFrames;

      if (s.skip > 0) {
        s.skip--;
        return true;
      }

      if (s.resync) {
        s.resync = false;
        // Where the position says this period belongs (frames lost in the xrun are skipped).
        const due = Math.round((t - s.startNs) / nsPerFrame) + (output ? fifo - period : -period);
        if (due > s.r) s.r = due;
      }

      // One period at ring frame r mod F, in at most two pieces.
      const at = (s.r % F) * frameBytes;
      if (output) copier.fromRing(buf, at, bytes, 0, frames * frameBytes);
      else copier.toRing(buf, at, bytes, 0, frames * frameBytes);
      s.r += frames;

      // Position (frames since start_time) valid at t, and the notifications it passed.
      const pos = output ? s.r - fifo : s.r;
      const per = s.notifyPerRing;
      if (per > 0) {
        for (;;) {
          const h = Math.floor((s.nextNotify * F) / per);
          if (h > pos) break;
          let when = t - (pos - h) * nsPerFrame;
          if (when <= s.lastNotifyNs) when = s.lastNotifyNs + 1;
          s.lastNotifyNs = when;
          pushEvent(v, EVENT.POSITION, when, (h % F) * frameBytes, s.nextNotify);
          s.nextNotify++;
        }
      }
      return true;
    },
    reset() {
      if (s.running) s.resync = true;
    },
    dispose() {
      release();
      if (o.clockLink) LinkedClock.done(o.clockLink);
    },
  };
}
