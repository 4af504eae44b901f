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
 * Control events and ramps (output only; docs/engine.md, "Control events and ramps in the stream
 * bridge"). With `controls` (src/engine/control-queue.ts), each period takes the queued events
 * into a pending table made once (PENDING entries; when it is full the rest wait in the queue),
 * turns each one's time into a stream frame (NOW: this period's first frame; MONOTONIC_NS:
 * round((at − start_time) / ns_per_frame)), and applies those due before the period's end in frame
 * order (ties: arrival order) at offset max(0, frame − r) in the period buffer, the gain stage
 * (src/engine/gain-stage.ts) rendering the segments between them. Each applied event is reported
 * (EVENT.CONTROL_APPLIED). While the stream is not running, events apply at once (frame −1).
 * `rampFrames` is the start/stop fade: START opens the gate from silence over that many frames
 * from frame 0; STOP closes it over as many from the period that applies the STOP, the host
 * reading the buffer meanwhile, and only once the gate is at 0 does it stop reading and answer
 * the STOP (so nothing touches the buffer after the answer). RELEASE, PEER_GONE and an xrun
 * resync do not fade (the buffer is going away, or frames were lost anyway). The trim and fade
 * stages persist across STOP and START. rampFrames 0 and no events: the gain is unity and the
 * copy bit-exact, as before.
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
 *
 * Level meters (issue 24; docs/engine.md, "Level meters"). Every period that plays (output) or
 * captures into the buffer (input) adds its peak |sample| and sum of squares per channel to the
 * control block's meters (src/engine/meters.ts): output after the gain stage, i.e. what goes to
 * the DAC; input as captured. Periods that move nothing of the client's (stopped, skipped, peer
 * gone) add nothing, so a stopped stream's meter reads no frames.
 *
 * Period lateness (issue 24, the status page's histogram): every period the engine runs, moving
 * frames or not, adds one to the bin of LATENESS_EDGES (src/engine/stream-control.ts) its
 * lateness falls in — compares against edges computed once in ns, and one Atomics.add.
 */
import { SharedMapping } from '../../ringbuffer/shm.ts';
import { RingCopier } from '../../util/ring-copy.ts';
import { EngineError } from '../errors.ts';
import { LinkedClock } from '../linked-clock.ts';
import { CLIENT, ClientWatch } from '../client-watch.ts';
import { CMD_CODE, EVENT, LATENESS_BINS, LATENESS_EDGES, type StreamControlViews, TIME, WORD, meterViewsOf, pushEvent, pushEventTimed, readPath, streamControlViews } from '../stream-control.ts';
import { MeterWriter, createMeterViews } from '../meters.ts';
import { CONTROL_FIELD, CONTROL_KIND, CONTROL_KIND_MAX, CONTROL_RECORD, CONTROL_WORD, type ControlQueueViews, PLUGIN_TARGET_STRIDE, WHEN, controlQueueViews, takeControl } from '../control-queue.ts';
import { GainStage } from '../gain-stage.ts';
import { type ChainOptions, type ChainStageSpec, DSSI_FIELD, PROGRAM_PACK, PluginChain, STAT, dssiFieldsAt, readChainMailbox, tryLockForInstantiation, unlockDssi } from '../../dsp/chain.ts';
import type { Host, HostBuffer, HostContext, HostSampleFormat, TimeInfo } from '../types.ts';

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
  /** The control queue (src/engine/control-queue.ts) of timestamped gain events; read for output only. */
  controls?: SharedArrayBuffer;
  /** The start/stop fade, frames (default 0: START and STOP cut, as without it); output only (input: 0). */
  rampFrames?: number;
  /** The stream's LADSPA chain (src/dsp/chain.ts), run before the gain stage; output only. */
  plugins?: ChainOptions;
  /** The chain's stats block and swap mailbox (SET_CHAIN), output only: given, a chain may be set while the stream runs. */
  chainStats?: SharedArrayBuffer;
  chainMailbox?: SharedArrayBuffer;
  /** The DSSI call-class lock (src/dsp/chain.ts DSSI_LOCK) for chains made by a swap. */
  dssiLock?: SharedArrayBuffer;
}

const STATUS_INTERNAL = -1;

/** Control events held between the queue and the frame they are due at. */
const PENDING = 64;
/** A pending entry: kind (0 = free slot), value, ramp frames, id, due frame, arrival number. */
const P_KIND = 0;
const P_VALUE = 1;
const P_RAMP = 2;
const P_ID = 3;
const P_FRAME = 4;
const P_SEQ = 5;
const P_TARGET = 6;
const P_SIZE = 7;

export function createHost(ctx: HostContext): Host {
  const o = ctx.options as StreamBridgeOptions;
  const c = ctx.config;
  if (!c.interleaved) throw new EngineError('invalid-argument', 'stream-bridge needs an interleaved config');
  const output = o.direction === 'output';
  const channels = output ? c.outputChannels : c.inputChannels;
  const frameBytes = channels * (c.format === 'i16' ? 2 : 4);
  const v: StreamControlViews = streamControlViews(o.control);
  const words = v.words;
  const times = v.times;
  const rate = c.rate;
  const nsPerFrame = 1e9 / rate;
  const period = c.bufferFrames;
  const fifo = o.fifoFrames;
  const clockReport = o.clockReportFrames ?? rate;
  const format = c.format;
  const rampOption = o.rampFrames ?? 0;
  if (!(Number.isSafeInteger(rampOption) && rampOption >= 0)) throw new EngineError('invalid-argument', `stream-bridge: option rampFrames is ${rampOption}; it must be an integer ≥ 0`);
  if (!output && rampOption !== 0) throw new EngineError('invalid-argument', `stream-bridge: option rampFrames is ${rampOption}; an input stream has no start/stop fade (0 or absent)`);
  // An input stream has no gain stage: its queue (the service makes one per channel) is not read.
  const cq: ControlQueueViews | undefined = output && o.controls ? controlQueueViews(o.controls) : undefined;
  const gain = new GainStage(period);
  // The plugins are loaded and instantiated here, while the host is made (not on the audio path).
  let chain = output && o.plugins && o.plugins.stages.length > 0 ? new PluginChain(o.plugins, rate, channels, period) : undefined;
  chain?.takeStats();
  /**
   * A chain swap (SET_CHAIN): 1 fading the output out, 2 fading it in; `gain` the swap fade's
   * level (after the gain stage), `step` its change per frame. The new chain is made at silence.
   */
  const swap = { state: 0, seq: 0, gain: 1, step: 0, next: [] as ChainStageSpec[], nextHasDssi: false, ok: true };
  /** What swapChain did: swapped, could not make the new chain (the old one stays), or the DSSI call-class lock was held (try again). */
  const SWAP = { OK: 0, FAILED: 1, BUSY: 2 } as const;
  const dssiLock = o.dssiLock ? new Int32Array(o.dssiLock, 0, 1) : undefined;
  const meter = new MeterWriter(meterViewsOf(v), channels, format);
  /** The histogram's edges in ns for this period length (so each period costs compares, no division). */
  const latenessEdgesNs = new Float64Array(LATENESS_EDGES.map((f) => f * period * nsPerFrame));
  /** One record taken from the queue. */
  const rec = new Float64Array(CONTROL_RECORD);
  const pend = new Float64Array(PENDING * P_SIZE);

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
    /** Start/stop fade, frames (RAMP_FRAMES events change it). */
    rampFrames: rampOption,
    /** A STOP is fading out: the buffer is read until the gate is at 0, then STOP is answered. */
    stopping: false,
    stopSeq: 0,
    /** Entries in use in `pend`, and the arrival number of the next one. */
    pending: 0,
    arrivals: 0,
    /**
     * This period's time, for the helpers below: a double passed to a call V8 does not inline is
     * boxed (docs/engine.md), a double field written in place is not.
     */
    tNs: Number.NaN,
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

  /** The STOP fade is over (or cut short): stop reading and answer the STOP. */
  const finishStop = () => {
    s.stopping = false;
    s.running = false;
    Atomics.store(words, WORD.RUNNING, 0);
    gain.gateStop(0);
    ack(s.stopSeq, 0, s.tNs);
  };

  /** Tells the main thread a DSSI stage's program was selected (its ports are in the stats block). */
  const reportProgram = (c: PluginChain, t: number) => {
    for (let stage = 0; c.programsNow !== 0; stage++) {
      if ((c.programsNow & (1 << stage)) === 0) continue;
      c.programsNow &= ~(1 << stage);
      const at = dssiFieldsAt(stage);
      times[TIME.EVENT_NS] = t;
      pushEventTimed(v, EVENT.PLUGIN_PROGRAM, stage, c.stats[at + DSSI_FIELD.BANK]! * PROGRAM_PACK + c.stats[at + DSSI_FIELD.PROGRAM]!);
    }
  };

  /** Applies pending entry k's effect at stream `frame` (−1: not running, now) and frees it. */
  const applyPending = (k: number, frame: number) => {
    const b = k * P_SIZE;
    const kind = pend[b + P_KIND]!;
    const value = pend[b + P_VALUE]!;
    let ramp = pend[b + P_RAMP]!;
    if (!(ramp >= 0)) ramp = 0;
    // pushControl refuses out-of-range values; a record that has one anyway changes nothing.
    // The gain stage reads the value from `pend` itself (a double argument would be boxed).
    if (kind === CONTROL_KIND.PLUGIN_PORT) {
      const target = pend[b + P_TARGET]!;
      if (chain !== undefined && value > -Infinity && value < Infinity) chain.setPortFrom(Math.floor(target / PLUGIN_TARGET_STRIDE), target % PLUGIN_TARGET_STRIDE, pend, b + P_VALUE);
    } else if (kind === CONTROL_KIND.PLUGIN_BYPASS) {
      chain?.setBypass(pend[b + P_TARGET]!, value === 1);
    } else if (kind === CONTROL_KIND.PLUGIN_MIDI) {
      chain?.queueMidi(pend[b + P_TARGET]!, value);
    } else if (kind === CONTROL_KIND.PLUGIN_PROGRAM) {
      chain?.selectProgram(pend[b + P_TARGET]!, value);
    } else if (value >= 0 && value < Infinity) {
      if (kind === CONTROL_KIND.TRIM) gain.rampTrimFrom(pend, b + P_VALUE, ramp);
      else if (kind === CONTROL_KIND.FADE_RAMP) gain.rampFadeFrom(pend, b + P_VALUE, ramp);
      else if (kind === CONTROL_KIND.FADE_SCALE) gain.scaleFadeFrom(pend, b + P_VALUE);
      else if (kind === CONTROL_KIND.RAMP_FRAMES) s.rampFrames = Math.floor(value);
    }
    pend[b + P_KIND] = 0;
    s.pending--;
    Atomics.add(cq!.header, CONTROL_WORD.APPLIED_COUNT, 1);
    times[TIME.EVENT_NS] = frame < 0 ? s.tNs : s.startNs + frame * nsPerFrame;
    pushEventTimed(v, EVENT.CONTROL_APPLIED, pend[b + P_ID]!, frame);
  };

  /**
   * Moves queued events into free pending entries (until the table is full), each with the stream
   * frame it is due at (while running; not running, the frame is not used).
   */
  const takeEvents = () => {
    const q = cq!;
    let k = 0;
    while (s.pending < PENDING && takeControl(q, rec)) {
      while (pend[k * P_SIZE + P_KIND] !== 0) k++; // a free entry exists: pending < PENDING
      const b = k * P_SIZE;
      const when = rec[CONTROL_FIELD.WHEN]!;
      const at = rec[CONTROL_FIELD.AT]!;
      let frame = s.r;
      if (when === WHEN.FRAME) frame = at;
      else if (when === WHEN.MONOTONIC_NS) frame = Math.round((at - s.startNs) / nsPerFrame);
      // A kind pushControl would have refused (0 would read as a free entry) becomes −1: no effect.
      const kind = rec[CONTROL_FIELD.KIND]!;
      pend[b + P_KIND] = kind >= CONTROL_KIND.TRIM && kind <= CONTROL_KIND_MAX ? kind : -1;
      pend[b + P_VALUE] = rec[CONTROL_FIELD.VALUE]!;
      pend[b + P_RAMP] = rec[CONTROL_FIELD.RAMP_FRAMES]!;
      pend[b + P_ID] = rec[CONTROL_FIELD.ID]!;
      pend[b + P_FRAME] = frame;
      pend[b + P_SEQ] = s.arrivals++;
      pend[b + P_TARGET] = rec[CONTROL_FIELD.TARGET]!;
      s.pending++;
    }
  };

  /** Not running: every event applies at once, in arrival order (frame −1). */
  const applyAllNow = () => {
    for (;;) {
      takeEvents();
      if (s.pending === 0) return;
      while (s.pending > 0) {
        let best = -1;
        for (let k = 0; k < PENDING; k++) {
          if (pend[k * P_SIZE + P_KIND] !== 0 && (best < 0 || pend[k * P_SIZE + P_SEQ]! < pend[best * P_SIZE + P_SEQ]!)) best = k;
        }
        applyPending(best, -1);
      }
    }
  };

  /**
   * Output, running: applies the gain to the period just copied, frames [r0, r0 + frames) of the
   * stream, segment by segment, applying each due event at its offset (a past frame: offset 0).
   */
  const render = (io: HostBuffer, r0: number, frames: number) => {
    const end = r0 + frames;
    let cursor = 0;
    while (s.pending > 0) {
      let best = -1;
      let bestFrame = 0;
      let bestSeq = 0;
      for (let k = 0; k < PENDING; k++) {
        const b = k * P_SIZE;
        if (pend[b + P_KIND] === 0) continue;
        const f = pend[b + P_FRAME]!;
        if (f >= end) continue;
        const q = pend[b + P_SEQ]!;
        if (best < 0 || f < bestFrame || (f === bestFrame && q < bestSeq)) {
          best = k;
          bestFrame = f;
          bestSeq = q;
        }
      }
      if (best < 0) break;
      const off = bestFrame > r0 + cursor ? bestFrame - r0 : cursor;
      if (off > cursor) {
        chain?.process(io, format, channels, cursor, off);
        gain.apply(io, format, channels, cursor, off);
        cursor = off;
      }
      applyPending(best, r0 + off);
    }
    chain?.process(io, format, channels, cursor, frames);
    gain.apply(io, format, channels, cursor, frames);
  };

  const applyCommand = (seq: number, t: number) => {
    const cmd = Atomics.load(words, WORD.CMD);
    // A command while a STOP is fading (the main thread waits for the STOP's answer, so only a
    // misbehaving one sends it): the STOP ends here, answered, before the new command.
    if (s.stopping) finishStop();
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
      // The plugins start from silence (their delay lines and filters hold the last run's audio).
      chain?.reset();
      if (output) gain.gateStart(s.rampFrames);
      ack(seq, 0, s.startNs);
    } else if (cmd === CMD_CODE.STOP) {
      if (s.running && output && s.rampFrames > 0) {
        // Fade out first; the answer comes from the period in which the gate reaches 0.
        s.stopping = true;
        s.stopSeq = seq;
        gain.gateStop(s.rampFrames);
        return;
      }
      s.running = false;
      Atomics.store(words, WORD.RUNNING, 0);
      gain.gateStop(0);
      ack(seq, 0, t);
    } else if (cmd === CMD_CODE.FAIL) {
      throw new EngineError('device', 'simulated failure of the audio device');
    } else if (cmd === CMD_CODE.STALL) {
      // A simulated stall on a real-time clock: the thread is away for that long, as if descheduled.
      Atomics.wait(stallCell, 0, 0, Atomics.load(words, WORD.ARG_STALL_US) / 1000);
      ack(seq, 0, t);
    } else if (cmd === CMD_CODE.SET_CHAIN) {
      if (!output || o.chainMailbox === undefined || o.chainStats === undefined) {
        ack(seq, STATUS_INTERNAL, t);
        return;
      }
      try {
        swap.next = readChainMailbox(o.chainMailbox);
        swap.nextHasDssi = swap.next.some((st) => st.dssi !== undefined);
      } catch {
        ack(seq, STATUS_INTERNAL, t);
        return;
      }
      swap.seq = seq;
      if (!s.running || s.rampFrames === 0) {
        // Nothing plays (or no fade is wanted): the swap is at once — unless a DSSI control call
        // holds the call-class lock: then the output waits at silence and it is tried each period.
        const r = swapChain();
        if (r === SWAP.BUSY) {
          swap.state = 1;
          swap.gain = 0;
          swap.step = 0;
          return;
        }
        ack(seq, r === SWAP.OK ? 0 : STATUS_INTERNAL, t);
        return;
      }
      swap.state = 1;
      swap.step = -1 / s.rampFrames;
    } else if (cmd === CMD_CODE.RELEASE) {
      s.running = false;
      Atomics.store(words, WORD.RUNNING, 0);
      gain.gateStop(0);
      peer = undefined; // the main thread closes the descriptor after this ACK
      release();
      ack(seq, 0, t);
    }
  };

  /**
   * The new chain replaces the old one (at silence, or while nothing plays). It is made first: if
   * it cannot be, the old one stays and false is returned. Plugin events still pending were meant
   * for the old chain's stages and ports: they are dropped (reported as not applied, frame −1).
   */
  const swapChain = (): number => {
    // DSSI stages, old or new: their instantiation calls need the call-class lock, taken without
    // waiting (this is the audio thread): BUSY, and the caller tries again next period.
    const locked = dssiLock !== undefined && (chain?.hasDssi === true || swap.nextHasDssi);
    if (locked && !tryLockForInstantiation(dssiLock)) return SWAP.BUSY;
    try {
      let next: PluginChain | undefined;
      try {
        if (swap.next.length > 0) next = new PluginChain({ stages: swap.next, stats: o.chainStats!, ...(o.dssiLock ? { dssiLock: o.dssiLock } : {}), lockHeld: locked }, rate, channels, period, false);
      } catch {
        return SWAP.FAILED;
      }
      chain?.dispose(locked);
      chain = next;
      if (chain) chain.takeStats(locked);
      else new Float64Array(o.chainStats!).fill(0);
    } finally {
      if (locked) unlockDssi(dssiLock);
    }
    if (cq !== undefined) {
      takeEvents();
      for (let k = 0; k < PENDING; k++) {
        const b = k * P_SIZE;
        const kind = pend[b + P_KIND];
        if (kind === CONTROL_KIND.PLUGIN_PORT || kind === CONTROL_KIND.PLUGIN_BYPASS || kind === CONTROL_KIND.PLUGIN_MIDI || kind === CONTROL_KIND.PLUGIN_PROGRAM) {
          pend[b + P_KIND] = -1; // no effect
          applyPending(k, -1);
        }
      }
    }
    return SWAP.OK;
  };

  /** The swap fade over the period just rendered (frames): out to 0, swap, in to 1, answer. */
  const swapFade = (io: HostBuffer, frames: number) => {
    const max = format === 'i16' ? 32767 : format === 'i32' ? 2147483647 : Infinity;
    for (let f = 0; f < frames; f++) {
      let g = swap.gain + swap.step;
      if (g < 0) g = 0;
      else if (g > 1) g = 1;
      swap.gain = g;
      for (let c = 0, i = f * channels; c < channels; c++, i++) {
        const x = io[i]! * g;
        io[i] = max === Infinity ? x : x > max ? max : x < -max - 1 ? -max - 1 : Math.round(x);
      }
    }
    if (swap.state === 1 && swap.gain === 0) {
      // At silence: the new chain (or, if it cannot be made, the old one again), faded in. A
      // DSSI control call holding the lock: the next period tries again (still at silence).
      const r = swapChain();
      if (r !== SWAP.BUSY) {
        swap.ok = r === SWAP.OK;
        swap.state = 2;
        swap.step = 1 / Math.max(1, s.rampFrames);
      }
    } else if (swap.state === 2 && swap.gain === 1) {
      swap.state = 0;
      ack(swap.seq, swap.ok ? 0 : STATUS_INTERNAL, s.tNs);
    }
  };

  if (o.clockLink) LinkedClock.sync(o.clockLink);
  warmRunningPath(period, channels, format, frameBytes, output);
  Atomics.store(words, WORD.HOST_READY, 1);

  return {
    process(inputs: readonly HostBuffer[], outputs: readonly HostBuffer[], frames: number, time: TimeInfo): boolean {
      const t = time.hostNs;
      s.tNs = t;
      const late = time.latenessNs;
      let bin = LATENESS_BINS - 1;
      while (bin > 0 && late < latenessEdgesNs[bin]!) bin--;
      Atomics.add(v.lateness, bin, 1);
      const xr = output ? time.underruns : time.overruns;
      if (xr > 0) {
        chain?.noteXrun();
        s.xruns += xr;
        times[TIME.EVENT_NS] = t;
        pushEventTimed(v, EVENT.XRUN, xr, s.xruns);
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
        times[TIME.EVENT_NS] = t;
        pushEventTimed(v, EVENT.CLOCK, Math.round((n * 1e12) / (t - s.clockFirstNs)), n);
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
          gain.gateStop(0);
          times[TIME.EVENT_NS] = t;
          pushEventTimed(v, EVENT.PEER_GONE, why, 0);
          if (s.stopping) {
            // The STOP being faded is answered now: nothing reads the buffer any more.
            s.stopping = false;
            ack(s.stopSeq, 0, t);
          }
        }
      }

      const buf = ring;
      if (cq !== undefined && !s.running) {
        applyAllNow();
        if (chain !== undefined && chain.programsNow !== 0) reportProgram(chain, t);
      }
      if (swap.state !== 0 && !s.running) {
        // The stream stopped (or its client went) during a swap: the rest of it is at once (or at
        // the next period, while a DSSI control call holds the call-class lock).
        const r = swap.state === 1 ? swapChain() : swap.ok ? SWAP.OK : SWAP.FAILED;
        if (r !== SWAP.BUSY) {
          swap.state = 0;
          swap.gain = 1;
          ack(swap.seq, r === SWAP.OK ? 0 : STATUS_INTERNAL, t);
        }
      }
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
      const r0 = s.r;
      if (output) {
        if (cq !== undefined) takeEvents();
        copier.fromRing(buf, at, bytes, 0, frames * frameBytes);
        if (s.pending > 0) render(io, r0, frames);
        else {
          chain?.process(io, format, channels, 0, frames);
          gain.apply(io, format, channels, 0, frames);
        }
        if (swap.state !== 0) swapFade(io, frames);
        if (chain !== undefined) {
          chain.endPeriod();
          if (chain.bypassedNow >= 0) {
            times[TIME.EVENT_NS] = t;
            pushEventTimed(v, EVENT.PLUGIN_BYPASSED, chain.bypassedNow, chain.stats[chain.bypassedNow * STAT.SIZE + STAT.OVERRUNS]!);
            chain.bypassedNow = -1;
          }
          if (chain.programsNow !== 0) reportProgram(chain, t);
        }
      } else {
        copier.toRing(buf, at, bytes, 0, frames * frameBytes);
      }
      meter.add(io, frames);
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
          times[TIME.EVENT_NS] = when;
          pushEventTimed(v, EVENT.POSITION, (h % F) * frameBytes, s.nextNotify);
          s.nextNotify++;
        }
      }
      // The STOP's fade ended in this period: the buffer is not read again.
      if (s.stopping && gain.gateDone()) finishStop();
      return true;
    },
    reset() {
      if (s.running) s.resync = true;
    },
    dispose() {
      release();
      chain?.dispose();
      if (o.clockLink) LinkedClock.done(o.clockLink);
    },
  };
}

/** Periods the running path is run on scratch data before the engine starts (warmRunningPath). */
const WARM_PERIODS = 400;

/**
 * The code a START runs first — the ring copy, the gain stage, the level meters — run here, once,
 * on scratch buffers of the stream's shape, while the host is created (not on the audio path):
 * V8 compiles code from what it has run, and until START nothing of that path has run, so its
 * first periods would run in the interpreter. On a slow CPU that was the difference: the guest
 * under QEMU's TCG underran in the first 30–70 ms after START (R-RB-11). The instances are the
 * scratch's own; the code and its type feedback are the classes' (shared with the real ones).
 */
function warmRunningPath(period: number, channels: number, format: HostSampleFormat, frameBytes: number, output: boolean): void {
  const io: HostBuffer = format === 'f32' ? new Float32Array(period * channels) : format === 'i32' ? new Int32Array(period * channels) : new Int16Array(period * channels);
  const bytes = new Uint8Array(io.buffer);
  const ring = new Uint8Array(period * frameBytes * 3);
  const copier = new RingCopier();
  const gain = new GainStage(period);
  const meter = new MeterWriter(createMeterViews(), channels, format);
  for (let i = 0; i < WARM_PERIODS; i++) {
    // A piece that straddles the ring's end every other period (the two-piece copy).
    const at = (i % 2 === 0 ? 0 : 2 * period * frameBytes + frameBytes) % ring.length;
    if (output) {
      copier.fromRing(ring, at, bytes, 0, period * frameBytes);
      gain.apply(io, format, channels, 0, period);
    } else {
      copier.toRing(ring, at, bytes, 0, period * frameBytes);
    }
    meter.add(io, period);
  }
}
