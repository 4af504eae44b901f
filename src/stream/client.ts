/**
 * A TypeScript client of the stream protocol (docs/PROTOCOL.md): connect to an endpoint, ask,
 * get answers matched by transaction id, and hear notifications as events. `sbc-audio ls` and
 * the protocol suite use it; the suite also sends raw bytes through `sendRaw` to break rules on
 * purpose.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { SharedMapping } from '../ringbuffer/shm.ts';
import { permissionDeniedMessage } from '../util/groups.ts';
import { RingCopier } from '../util/ring-copy.ts';
import { FrameReader, frameBytes } from './transport.ts';
import {
  CMD, type FormatRangeWire, type GainStateWire, PLUG_REQ_FLAG, PLUG_STATE_FLAG, SET_GAIN_FLAG, STATUS, STRING_ID,
  type ServiceMessage, cmdName, decodeServiceMessage, describeViolation, encodeEmptyRequest, encodeGetBufferRequest,
  encodeSetFormatRequest, encodeSetGainRequest, encodeU32Request, statusName,
} from './wire.ts';

export class StreamClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamClientError';
  }
}

export interface ClientOptions {
  /** How long a request may wait for its answer (default 5000 ms). */
  timeoutMs?: number;
}

/** How long a client of this repository waits for a stream request's answer (docs/PROTOCOL.md, "Transactions and validation": response times). */
export const STREAM_REQUEST_TIMEOUT_MS = 5000;
/** … and for a ring-buffer request's, which may wait for an engine thread to start. */
export const RB_REQUEST_TIMEOUT_MS = 20000;

interface Pending {
  cmd: number;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** performance.now() after which it has waited too long. */
  deadline: number;
  /** GET_FORMATS: the pages so far (it resolves with all of them); other requests resolve with `finish` of their one answer. */
  pages: ServiceMessage[] | undefined;
  finish: ((m: ServiceMessage) => unknown) | undefined;
}

/** What a request that resolves with its answer's pages keeps them in. */
const AS_PAGES = (m: ServiceMessage): ServiceMessage[] => [m];

/** One connection (stream or ring-buffer channel): framing, transaction ids, pending requests. */
class Channel extends EventEmitter {
  private nextTxid = 1;
  private readonly pending = new Map<number, Pending>();
  /** Views: a frame is decoded before the next chunk comes; 'frame' listeners get a copy of their own. */
  private readonly reader = new FrameReader(8, 4096, 'view');
  private readonly onFrameBound = (f: Uint8Array): void => this.onFrame(f);
  /**
   * The promise executor of every request, made once: it hands resolve and reject out through
   * these two fields, read right after `new Promise` returns (the executor runs synchronously),
   * so a request makes no closure of its own (bench/control-rtt.ts).
   */
  private nextResolve: ((v: unknown) => void) | undefined;
  private nextReject: ((e: Error) => void) | undefined;
  private readonly executor = (resolve: (v: unknown) => void, reject: (e: Error) => void): void => {
    this.nextResolve = resolve;
    this.nextReject = reject;
  };
  private closedFlag = false;
  /** Resolves when the connection is over (the service closed it, or we did). */
  readonly closed: Promise<void>;
  /** Frames that answered no pending request (a NO_ACK request that got an answer would show up here). */
  readonly unexpected: ServiceMessage[] = [];
  /**
   * One timer for every pending request's deadline, not one per request: a timer set and cleared
   * per request was a tenth of a GET_GAIN round trip (bench/control-rtt.ts). It is left running
   * when an answer comes and, when it fires, fails what is past its deadline and is set again
   * for the earliest deadline left. Unreferenced: while a request waits, the connected socket
   * keeps the process alive; once none waits, it must not.
   */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly checkDeadlines = (): void => {
    this.deadlineTimer = undefined;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [txid, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(txid);
        p.reject(new StreamClientError(`${this.endpoint}: no answer to ${cmdName(p.cmd)} within ${this.timeoutMs} ms`));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.armDeadlines(next - now);
  };

  constructor(readonly socket: net.Socket, readonly endpoint: string, protected readonly timeoutMs: number) {
    super();
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      const err = this.reader.push(chunk, this.onFrameBound);
      if (err) this.fail(new StreamClientError(`${endpoint}: bad frame from the service: ${err}`));
    });
    socket.on('error', () => { /* reported through 'close' */ });
    socket.on('close', () => {
      this.closedFlag = true;
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
      for (const [, p] of this.pending) {
        p.reject(new StreamClientError(`${endpoint}: the service closed the channel before answering ${cmdName(p.cmd)}`));
      }
      this.pending.clear();
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  private fail(e: Error): void {
    this.emit('protocol-error', e);
    this.socket.destroy();
  }

  private onFrame(frame: Uint8Array): void {
    // A copy for whoever listens: `frame` is a view the next chunk may overwrite (nextFrame() keeps it).
    if (this.listenerCount('frame') > 0) this.emit('frame', new Uint8Array(frame));
    const d = decodeServiceMessage(frame);
    if (!d.ok) return this.fail(new StreamClientError(`${this.endpoint}: ${describeViolation(d.violation)}`));
    const m = d.value;
    if (m.txid === 0) {
      this.emit('notification', m);
      return;
    }
    const p = this.pending.get(m.txid);
    if (!p || p.cmd !== m.cmd) {
      this.unexpected.push(m);
      this.emit('unexpected', m);
      return;
    }
    if (p.pages) {
      // GET_FORMATS: pages until every range has come (R-FMT-1): same total, contiguous, ascending.
      p.pages.push(m);
      const got = p.pages.reduce((n, x) => n + (x as Extract<ServiceMessage, { cmd: typeof CMD.GET_FORMATS }>).ranges.length, 0);
      const first = p.pages[0] as Extract<ServiceMessage, { cmd: typeof CMD.GET_FORMATS }>;
      if (got < first.total) return;
      this.pending.delete(m.txid);
      p.resolve(p.pages);
      return;
    }
    this.pending.delete(m.txid);
    p.resolve(p.finish!(m));
  }

  private txid(): number {
    const t = this.nextTxid;
    this.nextTxid = this.nextTxid >= 0xffffffff ? 1 : this.nextTxid + 1; // 0 is never sent
    return t;
  }

  /** Sends a request built with a fresh transaction id and waits for all of its answer (not async: one promise, not two). */
  protected call(cmd: number, build: (txid: number) => Uint8Array): Promise<ServiceMessage[]> {
    return this.request(cmd, build, AS_PAGES);
  }

  /**
   * Sends a request built with a fresh transaction id; resolves with `finish` of its answer (a
   * function made once, not per request: it runs when the answer comes, so the caller needs no
   * `.then` and no second promise). GET_FORMATS resolves with all of its pages instead.
   */
  protected request<T>(cmd: number, build: (txid: number) => Uint8Array, finish: (m: ServiceMessage) => T): Promise<T> {
    if (this.closedFlag) return Promise.reject(new StreamClientError(`${this.endpoint}: the channel is closed`));
    const txid = this.txid();
    let frame: Uint8Array;
    try {
      frame = build(txid);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const promise = new Promise<T>(this.executor as (resolve: (v: T) => void, reject: (e: Error) => void) => void);
    const paged = cmd === CMD.GET_FORMATS;
    this.pending.set(txid, {
      cmd, resolve: this.nextResolve!, reject: this.nextReject!, deadline: performance.now() + this.timeoutMs,
      pages: paged ? [] : undefined, finish: paged ? undefined : finish,
    });
    this.nextResolve = undefined;
    this.nextReject = undefined;
    if (!this.deadlineTimer) this.armDeadlines(this.timeoutMs);
    this.socket.write(frameBytes(frame));
    return promise;
  }

  private armDeadlines(ms: number): void {
    // +1: a timer may fire up to a millisecond before performance.now() reaches its deadline.
    this.deadlineTimer = setTimeout(this.checkDeadlines, Math.max(0, Math.ceil(ms)) + 1);
    this.deadlineTimer.unref();
  }

  /** Sends a request that expects no answer (NO_ACK). */
  protected send(build: (txid: number) => Uint8Array): void {
    if (this.closedFlag) throw new StreamClientError(`${this.endpoint}: the channel is closed`);
    this.socket.write(frameBytes(build(this.txid())));
  }

  /** Sends exact payload bytes in one frame (the length prefix is added). For tests that break rules. */
  sendRaw(payload: Uint8Array): void {
    this.socket.write(frameBytes(payload));
  }

  /** Sends bytes as they are, with no framing at all. */
  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame the service sends (raw bytes). */
  nextFrame(timeoutMs = this.timeoutMs): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.off('frame', on); reject(new StreamClientError(`${this.endpoint}: no frame within ${timeoutMs} ms`)); }, timeoutMs);
      const on = (f: Uint8Array) => { clearTimeout(t); resolve(f); };
      this.once('frame', on);
    });
  }

  /**
   * Ends the connection and waits until it is closed. A service that does not close its side
   * within the request timeout is cut off (the socket destroyed), so close() always ends.
   */
  async close(): Promise<void> {
    if (!this.socket.destroyed) this.socket.end();
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(() => { this.socket.destroy(); resolve(); }, this.timeoutMs);
      timer.unref();
    });
    await Promise.race([this.closed, cut]);
    clearTimeout(timer);
  }

  /** Drops the connection at once: pending requests reject ("closed before answering"). */
  destroy(): void {
    this.socket.destroy();
  }
}

/** EACCES on an endpoint: the socket's group (or its runtime directory's) is the one to join (`serve --group`). */
function permissionDenied(p: string): string {
  return permissionDeniedMessage(p);
}

function connectSocket(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', (e: NodeJS.ErrnoException) => reject(new StreamClientError(
      e.code === 'EACCES' ? permissionDenied(p)
        // A listed entry nothing accepts on: left by a service that was killed (docs/PROTOCOL.md section 1).
        : e.code === 'ECONNREFUSED' ? `cannot connect to ${p}: stale entry: nothing serves it (left by a service that stopped without removing it; the next 'sbc-audio serve' replaces it)`
          : `cannot connect to ${p}: ${e.message}`)));
  });
}

export interface PlugInfo {
  hardwired: boolean;
  canNotify: boolean;
  plugged: boolean;
  flags: number;
  /** CLOCK_MONOTONIC ns, as a number (float64 ns, the project's convention off the wire). */
  plugStateTimeNs: number;
}

export function plugInfo(flags: number, timeNs: bigint): PlugInfo {
  return {
    hardwired: (flags & PLUG_STATE_FLAG.HARDWIRED) !== 0, canNotify: (flags & PLUG_STATE_FLAG.CAN_NOTIFY) !== 0,
    plugged: (flags & PLUG_STATE_FLAG.PLUGGED) !== 0, flags, plugStateTimeNs: Number(timeNs),
  };
}

export interface SetFormatResult {
  result: number;
  externalDelayNs: number;
  /** The one-time token (success only); `openRingBuffer()` uses it. */
  token: Uint8Array | undefined;
}

/** The message type that can carry command C (some layouts are shared by several commands). */
type Msg<C extends ServiceMessage['cmd']> = ServiceMessage extends infer M ? (M extends { cmd: infer K } ? (C extends K ? M : never) : never) : never;

/**
 * A stream channel. Events: 'plug' (PlugInfo) for PLUG_DETECT_NOTIFY, 'gain' (GainStateWire)
 * for EXT_GAIN_CHANGED, 'frame' (raw bytes of everything received), 'unexpected'.
 */
export class StreamClient extends Channel {
  static async connect(endpointPath: string, opts: ClientOptions = {}): Promise<StreamClient> {
    return new StreamClient(await connectSocket(endpointPath), endpointPath, opts.timeoutMs ?? STREAM_REQUEST_TIMEOUT_MS);
  }

  constructor(socket: net.Socket, endpoint: string, timeoutMs: number) {
    super(socket, endpoint, timeoutMs);
    this.on('notification', (m: ServiceMessage) => {
      if (m.cmd === CMD.PLUG_DETECT_NOTIFY) this.emit('plug', plugInfo(m.flags, m.plugStateTimeNs));
      else if (m.cmd === CMD.EXT_GAIN_CHANGED) this.emit('gain', m as GainStateWire);
    });
  }

  async getFormats(): Promise<FormatRangeWire[]> {
    const pages = (await this.call(CMD.GET_FORMATS, (t) => encodeEmptyRequest(t, CMD.GET_FORMATS))) as Msg<typeof CMD.GET_FORMATS>[];
    let next = 0;
    for (const p of pages) {
      if (p.total !== pages[0]!.total) throw new StreamClientError(`${this.endpoint}: GET_FORMATS pages disagree on format_range_count (${pages[0]!.total} then ${p.total})`);
      if (p.first !== next) throw new StreamClientError(`${this.endpoint}: GET_FORMATS page starts at ${p.first}, expected ${next}`);
      next += p.ranges.length;
    }
    return pages.flatMap((p) => p.ranges);
  }

  /** The raw pages of one GET_FORMATS (the suite checks paging on them). */
  async getFormatPages(): Promise<Msg<typeof CMD.GET_FORMATS>[]> {
    return (await this.call(CMD.GET_FORMATS, (t) => encodeEmptyRequest(t, CMD.GET_FORMATS))) as Msg<typeof CMD.GET_FORMATS>[];
  }

  async setFormat(fmt: { fps: number; sampleFormat: number; channels: number; channelsToUse?: bigint }): Promise<SetFormatResult> {
    const [m] = (await this.call(CMD.SET_FORMAT, (t) => encodeSetFormatRequest(t, fmt))) as Msg<typeof CMD.SET_FORMAT>[];
    return { result: m!.result, externalDelayNs: Number(m!.externalDelayNs), token: m!.token };
  }

  /** Opens the ring-buffer channel with a SET_FORMAT's token (R-RB-1). */
  async openRingBuffer(token: Uint8Array): Promise<RingBufferClient> {
    const s = await connectSocket(this.endpoint);
    s.write(frameBytes(token));
    // A ring-buffer request may wait for the channel's engine thread to start (docs/PROTOCOL.md,
    // "Transactions and validation": response times; seconds under emulation): 20 s, or longer if this client was given longer.
    return new RingBufferClient(s, this.endpoint, Math.max(this.timeoutMs, RB_REQUEST_TIMEOUT_MS));
  }

  getGain(): Promise<GainStateWire> {
    return this.request(CMD.GET_GAIN, buildGetGain, gainStateOf);
  }

  /** SET_GAIN from what to change: each given field sets its VALID flag. */
  static gainFlags(change: { gain?: number; mute?: boolean; agc?: boolean }): number {
    let f = 0;
    if (change.gain !== undefined) f |= SET_GAIN_FLAG.GAIN_VALID;
    if (change.mute !== undefined) f |= SET_GAIN_FLAG.MUTE_VALID | (change.mute ? SET_GAIN_FLAG.MUTE : 0);
    if (change.agc !== undefined) f |= SET_GAIN_FLAG.AGC_VALID | (change.agc ? SET_GAIN_FLAG.AGC : 0);
    return f >>> 0;
  }

  async setGain(change: { gain?: number; mute?: boolean; agc?: boolean }): Promise<{ result: number; curMute: boolean; curAgc: boolean; curGain: number }> {
    const flags = StreamClient.gainFlags(change);
    const [m] = (await this.call(CMD.SET_GAIN, (t) => encodeSetGainRequest(t, { flags, gain: change.gain ?? 0 }))) as Msg<typeof CMD.SET_GAIN>[];
    return { result: m!.result, curMute: m!.curMute, curAgc: m!.curAgc, curGain: m!.curGain };
  }

  /** SET_GAIN with NO_ACK: no answer comes, success or failure. */
  setGainNoAck(change: { gain?: number; mute?: boolean; agc?: boolean }): void {
    const flags = StreamClient.gainFlags(change);
    this.send((t) => encodeSetGainRequest(t, { flags, gain: change.gain ?? 0 }, true));
  }

  async plugDetect(notifications: 'enable' | 'disable' | 'none' | number = 'none'): Promise<PlugInfo> {
    const flags = typeof notifications === 'number' ? notifications
      : notifications === 'enable' ? PLUG_REQ_FLAG.ENABLE_NOTIFICATIONS : notifications === 'disable' ? PLUG_REQ_FLAG.DISABLE_NOTIFICATIONS : 0;
    const [m] = (await this.call(CMD.PLUG_DETECT, (t) => encodeU32Request(t, CMD.PLUG_DETECT, flags))) as Msg<typeof CMD.PLUG_DETECT>[];
    return plugInfo(m!.flags, m!.plugStateTimeNs);
  }

  plugDetectNoAck(flags: number): void {
    this.send((t) => encodeU32Request(t, CMD.PLUG_DETECT, flags, true));
  }

  async getUniqueId(): Promise<Uint8Array> {
    const [m] = (await this.call(CMD.GET_UNIQUE_ID, (t) => encodeEmptyRequest(t, CMD.GET_UNIQUE_ID))) as Msg<typeof CMD.GET_UNIQUE_ID>[];
    return m!.id;
  }

  async getString(id: number): Promise<{ result: number; id: number; text: string }> {
    const [m] = (await this.call(CMD.GET_STRING, (t) => encodeU32Request(t, CMD.GET_STRING, id))) as Msg<typeof CMD.GET_STRING>[];
    return { result: m!.result, id: m!.id, text: m!.text };
  }

  async manufacturer(): Promise<string> {
    return okText(await this.getString(STRING_ID.MANUFACTURER), 'MANUFACTURER');
  }

  async product(): Promise<string> {
    return okText(await this.getString(STRING_ID.PRODUCT), 'PRODUCT');
  }

  async getClockDomain(): Promise<number> {
    const [m] = (await this.call(CMD.GET_CLOCK_DOMAIN, (t) => encodeEmptyRequest(t, CMD.GET_CLOCK_DOMAIN))) as Msg<typeof CMD.GET_CLOCK_DOMAIN>[];
    return m!.clockDomain;
  }

  /** Extension: the external delay at a rate, without SET_FORMAT (R-EXT-1). */
  async getExternalDelay(fps: number): Promise<{ result: number; externalDelayNs: number }> {
    const [m] = (await this.call(CMD.EXT_GET_EXTERNAL_DELAY, (t) => encodeU32Request(t, CMD.EXT_GET_EXTERNAL_DELAY, fps))) as Msg<typeof CMD.EXT_GET_EXTERNAL_DELAY>[];
    return { result: m!.result, externalDelayNs: Number(m!.externalDelayNs) };
  }

  /**
   * Extension: the external delay at a rate split into its known part and what has no figure
   * (R-EXT-7). `unknownCount` 0: the delay is complete (and equals `knownDelayNs`).
   */
  async getDelayInfo(fps: number): Promise<{ result: number; knownDelayNs: number; unknownCount: number; unknown: string }> {
    const [m] = (await this.call(CMD.EXT_GET_DELAY_INFO, (t) => encodeU32Request(t, CMD.EXT_GET_DELAY_INFO, fps))) as Msg<typeof CMD.EXT_GET_DELAY_INFO>[];
    return { result: m!.result, knownDelayNs: Number(m!.knownDelayNs), unknownCount: m!.unknownCount, unknown: m!.unknown };
  }

  /** Extension: gain change notifications (R-EXT-2); answers with the current gain. */
  async gainNotify(enable: boolean): Promise<GainStateWire> {
    const flags = enable ? PLUG_REQ_FLAG.ENABLE_NOTIFICATIONS : PLUG_REQ_FLAG.DISABLE_NOTIFICATIONS;
    const [m] = (await this.call(CMD.EXT_GAIN_NOTIFY, (t) => encodeU32Request(t, CMD.EXT_GAIN_NOTIFY, flags))) as Msg<typeof CMD.EXT_GAIN_NOTIFY>[];
    return gainState(m!);
  }

  /** Extension: the stream's purpose from the board file (R-EXT-4). */
  async getPurpose(): Promise<{ result: number; purpose: number; name: string }> {
    const [m] = (await this.call(CMD.EXT_GET_PURPOSE, (t) => encodeEmptyRequest(t, CMD.EXT_GET_PURPOSE))) as Msg<typeof CMD.EXT_GET_PURPOSE>[];
    return { result: m!.result, purpose: m!.purpose, name: m!.name };
  }

  /** Extension: this channel never owns the stream (R-EXT-3). */
  async observe(): Promise<number> {
    const [m] = (await this.call(CMD.EXT_OBSERVE, (t) => encodeEmptyRequest(t, CMD.EXT_OBSERVE))) as Msg<typeof CMD.EXT_OBSERVE>[];
    return m!.result;
  }
}

const buildGetGain = (txid: number): Uint8Array => encodeEmptyRequest(txid, CMD.GET_GAIN);
const gainStateOf = (m: ServiceMessage): GainStateWire => gainState(m as Msg<typeof CMD.GET_GAIN>);

/** The gain state of a GET_GAIN or EXT_GAIN_NOTIFY answer, without its header (a literal: an object rest copy costs more). */
function gainState(m: GainStateWire): GainStateWire {
  return {
    curMute: m.curMute, curAgc: m.curAgc, curGain: m.curGain, canMute: m.canMute, canAgc: m.canAgc,
    minGain: m.minGain, maxGain: m.maxGain, gainStep: m.gainStep,
  };
}

function okText(r: { result: number; text: string }, what: string): string {
  if (r.result !== STATUS.OK) throw new StreamClientError(`GET_STRING ${what}: ${statusName(r.result)}`);
  return r.text;
}

export interface PositionInfo {
  monotonicTimeNs: number;
  ringBufferPos: number;
}

export interface RbErrorInfo {
  monotonicTimeNs: number;
  status: number;
  /** RB_ERROR_KIND: 1 underrun, 2 overrun, 3 bus failure. */
  kind: number;
  count: number;
  total: number;
}

export interface RbClockInfo {
  monotonicTimeNs: number;
  ratePpb: number;
  windowFrames: number;
  measuredFps: number;
}

/**
 * A ring-buffer channel. Events: 'position' (PositionInfo), and with `enableExtNotifications()`
 * 'rb-error' (RbErrorInfo) and 'clock' (RbClockInfo).
 */
export class RingBufferClient extends Channel {
  constructor(socket: net.Socket, endpoint: string, timeoutMs: number) {
    super(socket, endpoint, timeoutMs);
    this.on('notification', (m: ServiceMessage) => {
      if (m.cmd === CMD.RB_POSITION_NOTIFY) this.emit('position', { monotonicTimeNs: Number(m.monotonicTimeNs), ringBufferPos: m.ringBufferPos } satisfies PositionInfo);
      else if (m.cmd === CMD.EXT_RB_ERROR) {
        this.emit('rb-error', { monotonicTimeNs: Number(m.monotonicTimeNs), status: m.status, kind: m.kind, count: m.count, total: m.total } satisfies RbErrorInfo);
      } else if (m.cmd === CMD.EXT_RB_CLOCK) {
        this.emit('clock', { monotonicTimeNs: Number(m.monotonicTimeNs), ratePpb: m.ratePpb, windowFrames: m.windowFrames, measuredFps: m.measuredFps } satisfies RbClockInfo);
      }
    });
  }

  /** Extension: error and clock-recovery notifications on this channel (R-EXT-5, R-EXT-6). */
  async extNotifications(enable: boolean): Promise<number> {
    const flags = enable ? PLUG_REQ_FLAG.ENABLE_NOTIFICATIONS : PLUG_REQ_FLAG.DISABLE_NOTIFICATIONS;
    const [m] = (await this.call(CMD.EXT_RB_NOTIFY, (t) => encodeU32Request(t, CMD.EXT_RB_NOTIFY, flags))) as Msg<typeof CMD.EXT_RB_NOTIFY>[];
    return m!.result;
  }

  async getFifoDepth(): Promise<{ result: number; fifoDepth: number }> {
    const [m] = (await this.call(CMD.RB_GET_FIFO_DEPTH, (t) => encodeEmptyRequest(t, CMD.RB_GET_FIFO_DEPTH))) as Msg<typeof CMD.RB_GET_FIFO_DEPTH>[];
    return { result: m!.result, fifoDepth: m!.fifoDepth };
  }

  async getBuffer(minFrames: number, notificationsPerRing: number): Promise<{ result: number; frames: number; bufferPath: string | undefined }> {
    const [m] = (await this.call(CMD.RB_GET_BUFFER, (t) => encodeGetBufferRequest(t, { minFrames, notificationsPerRing }))) as Msg<typeof CMD.RB_GET_BUFFER>[];
    return { result: m!.result, frames: m!.frames, bufferPath: m!.bufferPath };
  }

  async start(): Promise<{ result: number; startTimeNs: number }> {
    const [m] = (await this.call(CMD.RB_START, (t) => encodeEmptyRequest(t, CMD.RB_START))) as Msg<typeof CMD.RB_START>[];
    return { result: m!.result, startTimeNs: Number(m!.startTimeNs) };
  }

  async stop(): Promise<{ result: number }> {
    const [m] = (await this.call(CMD.RB_STOP, (t) => encodeEmptyRequest(t, CMD.RB_STOP))) as Msg<typeof CMD.RB_STOP>[];
    return { result: m!.result };
  }
}

/**
 * A client's mapping of the shared buffer a GET_BUFFER answered with: audio frames only, byte 0
 * is frame 0 (R-RB-7). `bytes` is a Uint8Array over the mapping; close() unmaps it.
 */
export class MappedRingBuffer {
  private readonly copier = new RingCopier();

  private constructor(private readonly mapping: SharedMapping, readonly bytes: Uint8Array, readonly frames: number, readonly frameBytes: number) {}

  static open(bufferPath: string, frames: number, frameBytes: number): MappedRingBuffer {
    if (!bufferPath.startsWith('/dev/shm/')) throw new StreamClientError(`shared buffer ${bufferPath} is not under /dev/shm`);
    const m = SharedMapping.open(bufferPath.slice('/dev/shm'.length));
    if (m.length !== frames * frameBytes) {
      m.close();
      throw new StreamClientError(`shared buffer ${bufferPath} is ${m.length} bytes, expected ${frames} frames × ${frameBytes} bytes`);
    }
    return new MappedRingBuffer(m, new Uint8Array(m.buffer), frames, frameBytes);
  }

  /**
   * Copies frames into the ring at frame position `at` (wrapping): `bytes` bytes of `src` from
   * `srcStart` (default: all of it). Pass the same `src` with an offset rather than a subarray per
   * call: nothing is allocated then.
   */
  write(at: number, src: Uint8Array, srcStart = 0, bytes = src.length - srcStart): void {
    this.copier.toRing(this.bytes, (at % this.frames) * this.frameBytes, src, srcStart, bytes);
  }

  /** Copies `frames` frames out of the ring from frame position `at` (wrapping) into a new array. */
  read(at: number, frames: number): Uint8Array {
    const out = new Uint8Array(frames * this.frameBytes);
    this.copier.fromRing(this.bytes, (at % this.frames) * this.frameBytes, out, 0, out.length);
    return out;
  }

  close(): void {
    this.mapping.close();
  }
}
