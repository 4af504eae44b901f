/**
 * The stream protocol, implemented once and knowing nothing of sockets: a transport hands it
 * whole frames per connection and gives it a sink to send frames to and close the connection;
 * everything the protocol says (docs/PROTOCOL.md; rule ids in comments) happens here.
 *
 * Ordering: each channel's requests are handled one after another, in arrival order (R-TXN-3);
 * different channels proceed independently, and a device serialises its own hardware access.
 */
import { randomBytes } from 'node:crypto';
import { rangeAccepts } from '../audio/formats.ts';
import { roundDbToStep } from '../codec/controls.ts';
import { nsToBigInt } from '../hal/clock.ts';
import type { ClientWatchFds } from './client-watch.ts';
import {
  type DeviceGainState, type GainCaps, NotSupportedRingBuffer, type RequestedFormat, type RingBufferEngine, type StreamDevice,
  statusForError,
} from './device.ts';
import { ClientLogLimiter, LINES_PER_WINDOW } from './log-limit.ts';
import {
  CMD, FORMATS_PER_RESPONSE, type GainStateWire, PLUG_REQ_FLAG, PLUG_STATE_FLAG, PURPOSE, RB_TOKEN_BYTES, type RingBufferRequest, SET_GAIN_FLAG, STATUS,
  STRING_ID, type StreamRequest, type Violation, decodeRingBufferRequest, decodeStreamRequest, describeViolation,
  encodeDelayInfoResponse, encodeGainState, encodeGetFormatsResponse, encodeGetStringResponse, encodeI32Response, encodePlugState, encodePositionNotify,
  encodePurposeResponse, encodeRbClock, encodeRbError, encodeResultU32Response, encodeResultU64Response, encodeSetFormatResponse, encodeSetGainResponse, encodeUniqueIdResponse,
} from './wire.ts';

/** Where the core's frames go: one per connection, provided by the transport. */
export interface ChannelSink {
  /** Sends one frame (the transport adds the length prefix). */
  send(frame: Uint8Array): void;
  /** Closes the connection after what was sent so far. */
  close(): void;
  /** See RingBufferChannel.openClientWatch (a socket transport offers it; the core only passes it on). */
  openClientWatch?(): ClientWatchFds | undefined;
}

export interface StreamCoreOptions {
  /** One line per noteworthy event (violations, closes); default: none. */
  log?: (line: string) => void;
  /** Token source (tests pass a deterministic one). Must return 16 bytes; the first four are forced to 0. */
  randomToken?: () => Uint8Array;
  /** Builds the ring-buffer engine; default: the device's. */
  createRingBuffer?: StreamDevice['createRingBuffer'];
  /** The rate limiter of client-caused log lines, shared by every endpoint of a service (default: one of this core's own). */
  logLimiter?: ClientLogLimiter;
}

type Kind = 'new' | 'stream' | 'ring-buffer' | 'closed';

/**
 * R-VAL-7: refused requests one connection may make. The answer to the last one still goes out;
 * then the connection is closed as a violation (R-VAL-5).
 */
export const REFUSED_REQUEST_BUDGET = 1000;

/** Log lines of one kind logged per client and minute; the rest are counted and summed up (./log-limit.ts). */
export const LOG_LINES_PER_KIND = LINES_PER_WINDOW;

/** What the core logs because of a client, each kind rate-limited per client (./log-limit.ts). */
export type LogKind = 'SET_FORMAT refused' | 'SET_GAIN refused' | 'SET_FORMAT device error' | 'SET_GAIN device error' | 'protocol violation' | 'not reading';

/**
 * R-GAIN-3 in the protocol's terms: the nearest step counted from min_gain, a request halfway
 * between two steps taking the lower. The rounding itself is the codec control layer's
 * (src/codec/controls.ts), the one place that turns a requested dB into a control's step.
 */
export function roundGainToStep(gain: number, caps: Pick<GainCaps, 'minGain' | 'maxGain' | 'gainStep'>): number {
  return roundDbToStep(gain, { minDb: caps.minGain, maxDb: caps.maxGain, stepDb: caps.gainStep });
}

/**
 * What the flags of a notification request (PLUG_DETECT, EXT_GAIN_NOTIFY, EXT_RB_NOTIFY) ask:
 * true to turn notifications on, false to turn them off (DISABLE wins when both are set), undefined
 * to leave them as they are (R-PLUG-3, R-EXT-2, R-EXT-5).
 */
function notifyRequest(flags: number): boolean | undefined {
  if (flags & PLUG_REQ_FLAG.DISABLE_NOTIFICATIONS) return false;
  if (flags & PLUG_REQ_FLAG.ENABLE_NOTIFICATIONS) return true;
  return undefined;
}

export class Connection {
  kind: Kind = 'new';
  /** Order of the first message (stream channels); the owner is the lowest non-observer. */
  order = 0;
  observer = false;
  plugNotify = false;
  gainNotify = false;
  /** Ring-buffer channel: EXT_RB_NOTIFY is on (error and clock notifications). */
  rbNotify = false;
  /** Stream channel: the ring-buffer channel it opened. Ring-buffer channel: its stream channel. */
  peer: Connection | undefined;
  engine: RingBufferEngine | undefined;
  /** Ring-buffer channel: the format's frame rate. */
  fps = 0;
  /** Requests refused so far (R-VAL-7). */
  refused = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Requests queued or being handled on this channel; 0: the next one may start at once. */
  private inFlight = 0;
  private readonly settled = (): void => { this.inFlight--; };
  private readonly failed = (e: unknown): void => {
    this.inFlight--;
    this.core.log(`${this.label}: internal error: ${(e as Error).stack ?? e}`);
  };

  /** `client`: who caused it, for the log's rate limit (the connecting process where known, else the connection). */
  constructor(readonly core: StreamCore, readonly sink: ChannelSink, readonly label: string, readonly client: string = label) {}

  /**
   * A whole frame from the peer. Borrowed: the core has decoded it and keeps none of its bytes
   * when this returns, so a transport may pass a view into its read buffer (./transport.ts).
   */
  receive(frame: Uint8Array): void {
    this.core.receive(this, frame);
  }

  /** The peer went away (or the transport gave up on it). */
  peerClosed(): void {
    this.core.closeConnection(this, undefined);
  }

  get open(): boolean {
    return this.kind !== 'closed';
  }

  send(frame: Uint8Array): void {
    if (this.open) this.sink.send(frame);
  }

  /**
   * Queues `work(this, arg)` so this channel's requests complete in order (R-TXN-3). On an idle
   * channel (the usual case: a client waits for each answer) the work starts now, not a microtask
   * later behind an already settled chain: the same order, as nothing is ahead of it, with two
   * promises per request fewer; and work that answers at once (returns no promise) leaves no
   * promise at all. The work and its argument are passed apart, so the idle path makes no closure
   * per request (bench/control-rtt.ts measures the round trip this is on).
   */
  enqueue<A>(work: (c: Connection, arg: A) => Promise<void> | void, arg: A): void {
    this.inFlight++;
    if (this.inFlight === 1) {
      let done: Promise<void> | void;
      try {
        done = work(this, arg);
      } catch (e) {
        this.failed(e);
        return;
      }
      if (done) this.chain = done.then(this.settled, this.failed);
      else this.inFlight--;
      return;
    }
    this.chain = this.chain.then(async () => {
      if (this.open) await work(this, arg);
    }).then(this.settled, this.failed);
  }

  /** Resolves when everything queued so far has been handled (tests). */
  idle(): Promise<void> {
    return this.chain;
  }
}

export class StreamCore {
  private readonly connections = new Set<Connection>();
  private nextOrder = 1;
  private nextLabel = 1;
  private pendingToken: { token: Uint8Array; fmt: RequestedFormat; owner: Connection } | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  readonly log: (line: string) => void;
  private readonly limiter: ClientLogLimiter;
  /** The handlers as Connection.enqueue takes them, made once (not a closure per request). */
  private readonly streamWork = (c: Connection, r: StreamRequest): Promise<void> | void => this.handleStream(c, r);
  private readonly ringBufferWork = (c: Connection, r: RingBufferRequest): Promise<void> => this.handleRingBuffer(c, r);

  constructor(readonly device: StreamDevice, private readonly opts: StreamCoreOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.limiter = opts.logLimiter ?? new ClientLogLimiter(this.log);
    this.unsubscribe.push(device.onPlugChange((s) => {
      const frame = encodePlugState(0, CMD.PLUG_DETECT_NOTIFY, this.plugFlags(s), nsToBigInt(s.timeNs));
      // R-PLUG-3: only to channels that enabled notifications on a stream that can notify.
      if (!s.canNotify || s.hardwired) return;
      for (const c of this.streamChannels()) if (c.plugNotify) c.send(frame);
    }));
    this.unsubscribe.push(device.onGainChange((s) => {
      const frame = encodeGainState(0, CMD.EXT_GAIN_CHANGED, this.gainWire(s));
      for (const c of this.streamChannels()) if (c.gainNotify) c.send(frame);
    }));
  }

  get name(): string {
    return this.device.info.endpointName;
  }

  /**
   * A new connection from the transport. `client`: the process that connected (`pid N`, from
   * SO_PEERCRED), where the transport knows it — the unit of the log's rate limit.
   */
  connect(sink: ChannelSink, label?: string, client?: string): Connection {
    const full = `${this.name} ${label ?? `connection ${this.nextLabel++}`}`;
    const c = new Connection(this, sink, full, client ?? full);
    if (this.closed) {
      c.kind = 'closed';
      sink.close();
      return c;
    }
    this.limiter.opened(c.client);
    this.connections.add(c);
    return c;
  }

  /** The stream channel that may SET_FORMAT and SET_GAIN (R-OWN-1), if any. */
  owner(): Connection | undefined {
    let best: Connection | undefined;
    for (const c of this.connections) {
      if (c.kind === 'stream' && !c.observer && (!best || c.order < best.order)) best = c;
    }
    return best;
  }

  streamChannels(): Connection[] {
    return [...this.connections].filter((c) => c.kind === 'stream');
  }

  ringBufferChannel(): Connection | undefined {
    return [...this.connections].find((c) => c.kind === 'ring-buffer');
  }

  receive(c: Connection, frame: Uint8Array): void {
    if (!c.open) return; // quiesced: nothing more is read from a closed channel (R-VAL-5)
    if (c.kind === 'new') {
      if (this.isToken(frame)) {
        this.attachRingBuffer(c);
        return;
      }
      c.kind = 'stream';
      c.order = this.nextOrder++;
    }
    if (c.kind === 'ring-buffer') {
      const d = decodeRingBufferRequest(frame);
      if (!d.ok) return this.violation(c, d.violation);
      c.enqueue(this.ringBufferWork, d.value);
      return;
    }
    const d = decodeStreamRequest(frame);
    if (!d.ok) return this.violation(c, d.violation);
    c.enqueue(this.streamWork, d.value);
  }

  /** R-VAL-5: quiesce and close that channel only. */
  private violation(c: Connection, v: Violation): void {
    if (this.logAllowed(c, 'protocol violation')) this.log(`${c.label}: protocol violation: ${describeViolation(v)}; closing this channel`);
    this.closeConnection(c, v);
  }

  /**
   * Whether a line of `kind` caused by `c` is logged: the first LOG_LINES_PER_KIND of each kind
   * per client and minute are; the rest are counted and summed up (./log-limit.ts). Callers build
   * the line only when this says yes.
   */
  logAllowed(c: Connection, kind: LogKind): boolean {
    return this.limiter.allow(c.client, kind);
  }

  /** One more refused request on `c`; the last of its budget closes it as a violation (R-VAL-7). */
  private refusedRequest(c: Connection): void {
    if (++c.refused < REFUSED_REQUEST_BUDGET || !c.open) return;
    if (this.logAllowed(c, 'protocol violation')) this.log(`${c.label}: protocol violation: ${REFUSED_REQUEST_BUDGET} refused requests on one connection (R-VAL-7); closing this channel`);
    this.closeConnection(c, undefined);
  }

  closeConnection(c: Connection, _why: Violation | undefined): void {
    if (!c.open) return;
    const was = c.kind;
    c.kind = 'closed';
    this.connections.delete(c);
    c.sink.close();
    this.limiter.closed(c.client);
    if (was === 'stream') {
      if (this.pendingToken?.owner === c) this.pendingToken = undefined;
      if (c.peer) this.closeConnection(c.peer, undefined); // R-RB-3
    } else if (was === 'ring-buffer') {
      const engine = c.engine;
      c.engine = undefined;
      if (c.peer?.peer === c) c.peer.peer = undefined;
      engine?.close().catch((e) => this.log(`${c.label}: ring buffer close failed: ${(e as Error).message}`));
    }
  }

  /** Closes every channel (the service is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    for (const u of this.unsubscribe) u();
    for (const c of [...this.connections]) this.closeConnection(c, undefined);
  }

  // ---- ring-buffer channel hand-over (R-RB-1) ----

  private isToken(frame: Uint8Array): boolean {
    const p = this.pendingToken;
    if (!p || frame.byteLength !== RB_TOKEN_BYTES || !p.owner.open) return false;
    for (let i = 0; i < RB_TOKEN_BYTES; i++) if (frame[i] !== p.token[i]) return false;
    return true;
  }

  private attachRingBuffer(c: Connection): void {
    const p = this.pendingToken!;
    this.pendingToken = undefined; // one use only
    c.kind = 'ring-buffer';
    c.peer = p.owner;
    p.owner.peer = c;
    const create = this.opts.createRingBuffer ?? this.device.createRingBuffer.bind(this.device);
    const nominal = p.fmt.fps;
    c.fps = nominal;
    const channel = { openClientWatch: () => c.sink.openClientWatch?.() };
    c.engine = create(p.fmt, {
      positionNotify: (t, pos) => c.send(encodePositionNotify(nsToBigInt(t), pos)),
      error: (t, kind, status, count, total) => {
        // R-EXT-5: only on a channel that enabled them (R-EXT-8): an extension is never sent unasked.
        if (c.rbNotify) c.send(encodeRbError(nsToBigInt(t), status, kind, count >>> 0, total >>> 0));
      },
      clock: (t, fps, window) => {
        if (c.rbNotify) c.send(encodeRbClock(nsToBigInt(t), ratePpb(fps, nominal), window >>> 0, fps));
      },
      // R-RB-12: a channel whose process exits is closed, even if another process still holds the socket.
      clientGone: () => this.closeConnection(c, undefined),
    }, channel);
  }

  private newToken(): Uint8Array {
    const t = new Uint8Array(RB_TOKEN_BYTES);
    t.set((this.opts.randomToken ?? (() => randomBytes(RB_TOKEN_BYTES)))().subarray(0, RB_TOKEN_BYTES));
    t.fill(0, 0, 4); // a request never has transaction_id 0, so a token can never be taken for one
    return t;
  }

  // ---- stream channel ----

  /** R-TXN-4: NO_ACK means no response at all. A method, not a closure made per request. */
  private reply(c: Connection, r: { noAck: boolean }, frame: Uint8Array): void {
    if (!r.noAck) c.send(frame);
  }

  /**
   * Not an async function: the requests that wait for the device return its promise, the rest
   * answer at once. GET_GAIN answers at once too when the device can tell its gain without
   * waiting (peekGain), so a control round trip has no promise on the service's side at all
   * (bench/control-rtt.ts).
   */
  private handleStream(c: Connection, r: StreamRequest): Promise<void> | void {
    switch (r.cmd) {
      case CMD.GET_FORMATS: {
        const all = this.device.formats();
        const total = all.length;
        // R-FMT-1: pages of 15, ascending, no gaps, the same total in each; one (empty) page when there are none.
        for (let first = 0; first === 0 || first < total; first += FORMATS_PER_RESPONSE) {
          this.reply(c, r, encodeGetFormatsResponse(r.txid, total, first, all.slice(first, first + FORMATS_PER_RESPONSE)));
        }
        return;
      }
      case CMD.SET_FORMAT:
        return this.setFormat(c, r);
      case CMD.GET_GAIN: {
        const now = this.device.peekGain?.();
        if (now) return this.replyGain(c, r, now);
        return this.device.getGain().then((s) => this.replyGain(c, r, s));
      }
      case CMD.SET_GAIN:
        return this.setGain(c, r);
      case CMD.PLUG_DETECT: {
        const s = this.device.plugState();
        const on = notifyRequest(r.flags);
        // R-PLUG-3: enabling only takes on a stream that can notify.
        if (on !== undefined) c.plugNotify = on && s.canNotify && !s.hardwired;
        this.reply(c, r, encodePlugState(r.txid, CMD.PLUG_DETECT, this.plugFlags(s), nsToBigInt(s.timeNs)));
        return;
      }
      case CMD.GET_UNIQUE_ID:
        this.reply(c, r, encodeUniqueIdResponse(r.txid, this.device.info.uniqueId));
        return;
      case CMD.GET_STRING: {
        const text = r.id === STRING_ID.MANUFACTURER ? this.device.info.manufacturer : r.id === STRING_ID.PRODUCT ? this.device.info.product : undefined;
        this.reply(c, r, encodeGetStringResponse(r.txid, text === undefined ? STATUS.NOT_FOUND : STATUS.OK, r.id, text ?? ''));
        if (text === undefined) this.refusedRequest(c);
        return;
      }
      case CMD.GET_CLOCK_DOMAIN:
        this.reply(c, r, encodeI32Response(r.txid, CMD.GET_CLOCK_DOMAIN, this.device.info.clockDomain));
        return;
      case CMD.EXT_GET_EXTERNAL_DELAY: {
        const ok = this.device.formats().some((f) => rangeAccepts(f, r.fps, firstFormatOf(f.sampleFormats), f.minChannels));
        const delay = ok ? Math.max(0, Math.round(this.device.externalDelayNs(r.fps))) : 0;
        this.reply(c, r, encodeResultU64Response(r.txid, CMD.EXT_GET_EXTERNAL_DELAY, ok ? STATUS.OK : STATUS.INVALID_ARGS, BigInt(delay)));
        if (!ok) this.refusedRequest(c);
        return;
      }
      case CMD.EXT_GET_DELAY_INFO: {
        // R-EXT-7: the known part (as external_delay_nsec) and what has no figure.
        const ok = this.device.formats().some((f) => rangeAccepts(f, r.fps, firstFormatOf(f.sampleFormats), f.minChannels));
        const known = ok ? Math.max(0, Math.round(this.device.externalDelayNs(r.fps))) : 0;
        const unknown = ok ? this.device.unknownDelay?.(r.fps) ?? [] : [];
        this.reply(c, r, encodeDelayInfoResponse(r.txid, ok ? STATUS.OK : STATUS.INVALID_ARGS, unknown.length, BigInt(known), unknown.join('; ')));
        if (!ok) this.refusedRequest(c);
        return;
      }
      case CMD.EXT_GAIN_NOTIFY:
        c.gainNotify = notifyRequest(r.flags) ?? c.gainNotify;
        return this.device.getGain().then((s) => this.reply(c, r, encodeGainState(r.txid, CMD.EXT_GAIN_NOTIFY, this.gainWire(s))));
      case CMD.EXT_GET_PURPOSE: {
        const name = this.device.info.purpose;
        const code = name !== undefined ? (PURPOSE as Record<string, number>)[name] : undefined;
        this.reply(c, r, encodePurposeResponse(r.txid, code === undefined ? STATUS.NOT_SUPPORTED : STATUS.OK, code ?? 0, code === undefined ? '' : name!));
        return;
      }
      case CMD.EXT_OBSERVE:
        c.observer = true; // R-EXT-3: ownership passes on at once (owner() skips observers)
        this.reply(c, r, encodeI32Response(r.txid, CMD.EXT_OBSERVE, STATUS.OK));
        return;
    }
  }

  private async setFormat(c: Connection, r: Extract<StreamRequest, { cmd: typeof CMD.SET_FORMAT }>): Promise<void> {
    const fail = (status: number, why: string, kind: LogKind = 'SET_FORMAT refused') => {
      if (this.logAllowed(c, kind)) this.log(`${c.label}: SET_FORMAT ${r.fps} Hz, format 0x${r.sampleFormat.toString(16)}, ${r.channels} ch: ${why}`);
      this.reply(c, r, encodeSetFormatResponse(r.txid, status, 0n)); // R-FMT-3: the stream channel stays open
      if (kind === 'SET_FORMAT refused') this.refusedRequest(c);
    };
    if (this.owner() !== c) return fail(STATUS.ACCESS_DENIED, 'not the owner of the stream'); // R-OWN-2
    if (!this.device.formats().some((f) => rangeAccepts(f, r.fps, r.sampleFormat, r.channels))) {
      return fail(STATUS.INVALID_ARGS, 'no format range contains it');
    }
    if (r.channelsToUse !== 0n && (r.channels >= 64 ? false : r.channelsToUse >> BigInt(r.channels) !== 0n)) {
      return fail(STATUS.INVALID_ARGS, `channels_to_use_bitmask 0x${r.channelsToUse.toString(16)} names channels beyond ${r.channels}`); // R-FMT-5
    }
    const fmt: RequestedFormat = { fps: r.fps, sampleFormat: r.sampleFormat, channels: r.channels, channelsToUse: r.channelsToUse };
    let delayNs: number;
    try {
      delayNs = (await this.device.changeFormat(fmt)).externalDelayNs;
    } catch (e) {
      return fail(statusForError(e), `the device failed: ${(e as Error).message}`, 'SET_FORMAT device error');
    }
    if (!c.open) return;
    // R-RB-2: success closes any previous ring-buffer channel and any unused token.
    const previous = this.ringBufferChannel();
    if (previous) this.closeConnection(previous, undefined);
    const token = this.newToken();
    this.pendingToken = { token, fmt, owner: c };
    this.reply(c, r, encodeSetFormatResponse(r.txid, STATUS.OK, BigInt(Math.max(0, Math.round(delayNs))), token));
  }

  private async setGain(c: Connection, r: Extract<StreamRequest, { cmd: typeof CMD.SET_GAIN }>): Promise<void> {
    const answer = async (status: number, why?: string, kind: LogKind = 'SET_GAIN refused') => {
      if (why && this.logAllowed(c, kind)) this.log(`${c.label}: SET_GAIN flags 0x${r.flags.toString(16)} gain ${r.gain}: ${why}`);
      const s = await this.device.getGain();
      this.reply(c, r, encodeSetGainResponse(r.txid, status, { curMute: s.muted, curAgc: s.agc, curGain: s.gainDb }));
      if (kind === 'SET_GAIN refused') this.refusedRequest(c);
    };
    if (this.owner() !== c) return answer(STATUS.ACCESS_DENIED, 'not the owner of the stream'); // R-OWN-2
    const caps = this.device.gainCaps();
    const muteValid = (r.flags & SET_GAIN_FLAG.MUTE_VALID) !== 0;
    const agcValid = (r.flags & SET_GAIN_FLAG.AGC_VALID) !== 0;
    const gainValid = (r.flags & SET_GAIN_FLAG.GAIN_VALID) !== 0;
    const mute = (r.flags & SET_GAIN_FLAG.MUTE) !== 0;
    const agc = (r.flags & SET_GAIN_FLAG.AGC) !== 0;
    // R-GAIN-4
    if (muteValid && mute && !caps.canMute) return answer(STATUS.INVALID_ARGS, 'MUTE on a stream without can_mute');
    if (agcValid && agc && !caps.canAgc) return answer(STATUS.INVALID_ARGS, 'AGC on a stream without can_agc');
    // R-GAIN-2: limits compared as the f32 values GET_GAIN reports.
    if (gainValid && !(r.gain >= Math.fround(caps.minGain) && r.gain <= Math.fround(caps.maxGain))) {
      return answer(STATUS.INVALID_ARGS, `gain outside ${caps.minGain}..${caps.maxGain} dB`);
    }
    const change: { muted?: boolean; gainDb?: number } = {};
    if (muteValid) change.muted = mute;
    if (gainValid) change.gainDb = roundGainToStep(r.gain, caps);
    let s: DeviceGainState;
    try {
      s = change.muted === undefined && change.gainDb === undefined ? await this.device.getGain() : await this.device.setGain(change);
    } catch (e) {
      return answer(statusForError(e), `the device failed: ${(e as Error).message}`, 'SET_GAIN device error');
    }
    this.reply(c, r, encodeSetGainResponse(r.txid, STATUS.OK, { curMute: s.muted, curAgc: s.agc, curGain: s.gainDb })); // R-GAIN-5
  }

  // ---- ring-buffer channel: validated here, then answered by the engine seam ----

  /** A ring-buffer answer the client's request caused to be refused (R-VAL-7 counts it). */
  private rbRefused(c: Connection, result: number): void {
    if (result === STATUS.INVALID_ARGS || result === STATUS.BAD_STATE) this.refusedRequest(c);
  }

  private async handleRingBuffer(c: Connection, r: RingBufferRequest): Promise<void> {
    const engine: RingBufferEngine = c.engine ?? new NotSupportedRingBuffer();
    switch (r.cmd) {
      case CMD.RB_GET_FIFO_DEPTH: {
        const a = await engine.getFifoDepth();
        c.send(encodeResultU32Response(r.txid, CMD.RB_GET_FIFO_DEPTH, a.result, a.value.fifoDepth));
        return;
      }
      case CMD.RB_GET_BUFFER: {
        const a = await engine.getBuffer(r.minFrames, r.notificationsPerRing);
        const path = a.result === STATUS.OK && a.value.bufferPath ? new TextEncoder().encode(a.value.bufferPath) : undefined;
        c.send(encodeResultU32Response(r.txid, CMD.RB_GET_BUFFER, a.result, a.value.frames, path));
        this.rbRefused(c, a.result);
        return;
      }
      case CMD.RB_START: {
        const a = await engine.start();
        c.send(encodeResultU64Response(r.txid, CMD.RB_START, a.result, nsToBigInt(Math.max(0, a.value.startTimeNs))));
        this.rbRefused(c, a.result);
        return;
      }
      case CMD.RB_STOP: {
        const a = await engine.stop();
        c.send(encodeI32Response(r.txid, CMD.RB_STOP, a.result));
        this.rbRefused(c, a.result);
        return;
      }
      case CMD.EXT_RB_NOTIFY: {
        c.rbNotify = notifyRequest(r.flags) ?? c.rbNotify;
        if (!r.noAck) c.send(encodeI32Response(r.txid, CMD.EXT_RB_NOTIFY, STATUS.OK));
        // R-EXT-6: the last clock measurement right away, so a client need not wait a second.
        const last = c.rbNotify ? engine.lastClock?.() : undefined;
        if (last) c.send(encodeRbClock(nsToBigInt(last.monotonicTimeNs), ratePpb(last.measuredFps, this.formatOf(c)), last.windowFrames >>> 0, last.measuredFps));
        return;
      }
    }
  }

  // ---- helpers ----

  /** The nominal rate of a ring-buffer channel's format. */
  private formatOf(c: Connection): number {
    return c.fps;
  }

  private plugFlags(s: { hardwired: boolean; canNotify: boolean; plugged: boolean }): number {
    // R-PLUG-1: hardwired streams are plugged and never CAN_NOTIFY.
    if (s.hardwired) return (PLUG_STATE_FLAG.HARDWIRED | PLUG_STATE_FLAG.PLUGGED) >>> 0;
    return ((s.canNotify ? PLUG_STATE_FLAG.CAN_NOTIFY : 0) | (s.plugged ? PLUG_STATE_FLAG.PLUGGED : 0)) >>> 0;
  }

  /** GET_GAIN's answer: the device's state with the stream's capabilities. */
  private replyGain(c: Connection, r: { txid: number; noAck: boolean }, s: DeviceGainState): void {
    this.reply(c, r, encodeGainState(r.txid, CMD.GET_GAIN, this.gainWire(s)));
  }

  /** A literal, not a spread of the caps: a spread copies by walking the object, on every GET_GAIN. */
  private gainWire(s: DeviceGainState): GainStateWire {
    const caps = this.device.gainCaps();
    return {
      curMute: s.muted, curAgc: s.agc, curGain: s.gainDb,
      canMute: caps.canMute, canAgc: caps.canAgc, minGain: caps.minGain, maxGain: caps.maxGain, gainStep: caps.gainStep,
    };
  }
}

/** (measured − nominal) / nominal in parts per billion, clamped to i32. */
function ratePpb(measured: number, nominal: number): number {
  const ppb = Math.round(((measured - nominal) / nominal) * 1e9);
  return Math.max(-0x80000000, Math.min(0x7fffffff, Number.isFinite(ppb) ? ppb : 0));
}

/** The lowest sample-format bit of a range (to ask "is this rate in any range" regardless of format). */
function firstFormatOf(sampleFormats: number): number {
  const base = sampleFormats & 0x3ff;
  return base & -base;
}
