/**
 * What a conformance check works with: the endpoint, connections opened through the socket only
 * (closed after each check), and small protocol helpers built on the raw connection and the
 * literals of ./facts.ts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RawConn, f32At, i32At, i64At, le32, req, u32At } from './raw.ts';
import {
  ACCESS_DENIED, FAMILY_44100, FAMILY_48000, FPS_44100_FAMILY, FPS_48000_FAMILY, FPS_CONTINUOUS, GET_FORMATS, GET_GAIN,
  GAIN_VALID, MUTE, MUTE_VALID, OK, RB_GET_BUFFER, RB_GET_FIFO_DEPTH, RB_START, RB_STOP, SET_FORMAT, SET_GAIN, sampleBytes,
} from './facts.ts';

/** A check found the rule broken. */
export class CheckFailed extends Error {}
/** The rule cannot be checked on this endpoint; the message says why. */
export class NotApplicable extends Error {}

export function ensure(cond: unknown, message: string): asserts cond {
  if (!cond) throw new CheckFailed(message);
}

export function equal<T>(got: T, want: T, what: string): void {
  if (got !== want && !(Number.isNaN(got as number) && Number.isNaN(want as number))) throw new CheckFailed(`${what}: got ${show(got)}, expected ${show(want)}`);
}

function show(v: unknown): string {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0xffff) return `0x${v.toString(16)}`;
  return typeof v === 'bigint' ? `${v}` : JSON.stringify(v) ?? String(v);
}

export interface Range { sampleFormats: number; minFps: number; maxFps: number; minChannels: number; maxChannels: number; flags: number }
export interface Fmt { fps: number; sampleFormat: number; channels: number }
export interface Gain { curMute: boolean; curAgc: boolean; curGain: number; canMute: boolean; canAgc: boolean; minGain: number; maxGain: number; gainStep: number }

export interface ConformanceOptions {
  /** Hang guard for a stream request (default 5000 ms). */
  timeoutMs?: number;
  /** Hang guard for a ring-buffer request: the first waits for the engine to start (default 20000 ms). */
  rbTimeoutMs?: number;
  /** The monitor endpoint of this (output) stream; default: audio-input/<name>.monitor beside it, when it exists. */
  monitor?: string | null;
  /** Only these rule ids (default: all). */
  only?: string[];
}

let txSeq = 1;
/** A fresh transaction id (never 0). */
export function tx(): number {
  txSeq = (txSeq % 0x7ffffff0) + 1;
  return txSeq;
}

export function rangeHas(r: Range, fps: number, fmt: number, ch: number): boolean {
  const bit = fmt & 0x3ff;
  const flags = (fmt & 0xc0000000) >>> 0;
  if (bit === 0 || (bit & (bit - 1)) !== 0 || (fmt & 0x3ffffc00) !== 0) return false;
  if ((r.sampleFormats & bit) === 0 || ((r.sampleFormats & flags) >>> 0) !== flags) return false;
  if (ch < r.minChannels || ch > r.maxChannels || fps < r.minFps || fps > r.maxFps) return false;
  if (r.flags & FPS_CONTINUOUS) return true;
  return Boolean(((r.flags & FPS_48000_FAMILY) && FAMILY_48000.includes(fps)) || ((r.flags & FPS_44100_FAMILY) && FAMILY_44100.includes(fps)));
}

/** Lowest and highest allowed rate of a range. */
export function rangeRates(r: Range): number[] {
  if (r.flags & FPS_CONTINUOUS) return [r.minFps, r.maxFps];
  const fam = [...((r.flags & FPS_48000_FAMILY) ? FAMILY_48000 : []), ...((r.flags & FPS_44100_FAMILY) ? FAMILY_44100 : [])].filter((x) => x >= r.minFps && x <= r.maxFps).sort((a, b) => a - b);
  return fam.length ? [fam[0]!, fam[fam.length - 1]!] : [];
}

export function setFormatBody(f: Fmt, mask = 0n): number[] {
  const m = [Number(mask & 0xffffffffn), Number(mask >> 32n)];
  return [...le32(f.fps), ...le32(f.sampleFormat), f.channels & 0xff, (f.channels >> 8) & 0xff, 0, 0, 0, 0, 0, 0, ...le32(m[0]!), ...le32(m[1]!)];
}

export function parseGain(f: Uint8Array): Gain {
  return { curMute: f[8] !== 0, curAgc: f[9] !== 0, curGain: f32At(f, 12), canMute: f[16] !== 0, canAgc: f[17] !== 0, minGain: f32At(f, 20), maxGain: f32At(f, 24), gainStep: f32At(f, 28) };
}

export class Ctx {
  readonly name: string;
  readonly direction: 'output' | 'input' | undefined;
  readonly board: string;
  readonly streamId: string;
  readonly runtimeDir: string;
  readonly timeoutMs: number;
  readonly rbTimeoutMs: number;
  readonly monitor: string | undefined;
  private conns: RawConn[] = [];
  private rangesCache: Range[] | undefined;
  private fmtCache: Fmt | undefined;

  constructor(readonly endpoint: string, opts: ConformanceOptions = {}) {
    this.name = path.basename(endpoint);
    const dir = path.basename(path.dirname(endpoint));
    this.direction = dir === 'audio-output' ? 'output' : dir === 'audio-input' ? 'input' : undefined;
    const dot = this.name.indexOf('.');
    this.board = dot > 0 ? this.name.slice(0, dot) : this.name;
    this.streamId = dot > 0 ? this.name.slice(dot + 1) : '';
    this.runtimeDir = path.dirname(path.dirname(endpoint));
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.rbTimeoutMs = opts.rbTimeoutMs ?? 20000;
    const mon = path.join(this.runtimeDir, 'audio-input', `${this.name}.monitor`);
    this.monitor = opts.monitor === null ? undefined : opts.monitor ?? (this.direction === 'output' && existsSync(mon) ? mon : undefined);
  }

  /** Opens a connection to the endpoint (closed when the check ends). */
  async connect(p = this.endpoint): Promise<RawConn> {
    const c = await RawConn.connect(p);
    this.conns.push(c);
    return c;
  }

  /** Closes every connection the check opened. */
  async closeAll(): Promise<void> {
    for (const c of this.conns.splice(0)) {
      c.destroy();
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 1000))]);
    }
  }

  /** Sends a request and waits for its answer (stream hang guard). */
  ask(c: RawConn, cmd: number, body: number[] = []): Promise<Uint8Array> {
    return c.ask(req(tx(), cmd, body), this.timeoutMs);
  }

  /** A ring-buffer request (ring-buffer hang guard). */
  rbAsk(c: RawConn, cmd: number, body: number[] = []): Promise<Uint8Array> {
    return c.ask(req(tx(), cmd, body), this.rbTimeoutMs);
  }

  /**
   * A stream channel that owns the stream: connects and asks SET_GAIN with no flag (changes
   * nothing) until it is not ACCESS_DENIED — an earlier check's channel may still be closing
   * (R-OWN-3). Still refused after that: another client owns the stream.
   */
  async owner(p = this.endpoint): Promise<RawConn> {
    const c = await this.connect(p);
    for (let i = 0; i < 100; i++) {
      const r = await this.ask(c, SET_GAIN, [...le32(0), ...le32(0)]);
      if (i32At(r, 8) !== ACCESS_DENIED) return c;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new NotApplicable('another client owns the stream (SET_GAIN answers ACCESS_DENIED): the checks that need ownership cannot run');
  }

  /** Every format range, from GET_FORMATS (cached). */
  async ranges(): Promise<Range[]> {
    if (this.rangesCache) return this.rangesCache;
    const c = await this.connect();
    const id = tx();
    const from = c.frames.length;
    c.send(req(id, GET_FORMATS));
    const out: Range[] = [];
    let total = -1;
    for (let i = from; total < 0 || out.length < total; i++) {
      const f = await c.frameAt(i, this.timeoutMs);
      if (u32At(f, 0) !== id) continue;
      total = f[12]! | (f[13]! << 8);
      for (let o = 16; o + 16 <= f.byteLength && out.length < total; o += 16) {
        out.push({ sampleFormats: u32At(f, o), minFps: u32At(f, o + 4), maxFps: u32At(f, o + 8), minChannels: f[o + 12]!, maxChannels: f[o + 13]!, flags: f[o + 14]! | (f[o + 15]! << 8) });
      }
      if (total === 0) break;
    }
    // Closed at once: a channel that has spoken takes part in ownership (R-OWN-1).
    c.destroy();
    this.rangesCache = out;
    return out;
  }

  /** A format the stream offers: 48 kHz 16-bit stereo when some range has it, else the first range's lowest corner. */
  async fmt(): Promise<Fmt & { frameBytes: number }> {
    if (!this.fmtCache) {
      const rs = await this.ranges();
      if (rs.length === 0) throw new NotApplicable('the stream offers no format range');
      const tries: Fmt[] = [];
      for (const fps of [48000, 44100]) for (const ch of [2, 1]) tries.push({ fps, sampleFormat: (1 << 2), channels: ch });
      this.fmtCache = tries.find((f) => rs.some((r) => rangeHas(r, f.fps, f.sampleFormat, f.channels)));
      if (!this.fmtCache) {
        const r = rs[0]!;
        const bit = r.sampleFormats & -r.sampleFormats & 0x3ff;
        this.fmtCache = { fps: rangeRates(r)[0] ?? r.minFps, sampleFormat: bit, channels: r.minChannels };
      }
    }
    return { ...this.fmtCache, frameBytes: this.fmtCache.channels * sampleBytes(this.fmtCache.sampleFormat) };
  }

  /** A rate no range allows (for the INVALID_ARGS checks). */
  async rateNotOffered(): Promise<number> {
    const rs = await this.ranges();
    const f = await this.fmt();
    for (const fps of [47999, 1, 7, 1000003, 3999999]) if (!rs.some((r) => rangeHas(r, fps, f.sampleFormat, f.channels))) return fps;
    throw new NotApplicable('every rate tried is offered');
  }

  async setFormat(c: RawConn, f: Fmt, mask = 0n): Promise<{ frame: Uint8Array; result: number; delayNs: number; token?: Uint8Array; length: number }> {
    const idx = c.frames.length;
    const frame = await this.ask(c, SET_FORMAT, setFormatBody(f, mask));
    const k = c.frames.indexOf(frame, idx);
    return { frame, result: i32At(frame, 8), delayNs: Number(i64At(frame, 16)), token: frame.byteLength >= 40 ? frame.slice(24, 40) : undefined, length: c.lengths[k] ?? frame.byteLength };
  }

  /** Opens the ring-buffer channel with a token (R-RB-1). */
  async openRb(token: Uint8Array, p = this.endpoint): Promise<RawConn> {
    const rb = await this.connect(p);
    rb.send(token);
    return rb;
  }

  /** Owner + SET_FORMAT at fmt() + its ring-buffer channel. */
  async ringBuffer(): Promise<{ a: RawConn; rb: RawConn; f: Fmt & { frameBytes: number } }> {
    const a = await this.owner();
    const f = await this.fmt();
    const s = await this.setFormat(a, f);
    ensure(s.result === OK && s.token, `SET_FORMAT ${f.fps} Hz fmt 0x${f.sampleFormat.toString(16)} ${f.channels} ch answered ${s.result} (offered by GET_FORMATS)`);
    return { a, rb: await this.openRb(s.token), f };
  }

  async fifo(rb: RawConn): Promise<{ result: number; bytes: number; length: number }> {
    const r = await this.rbAsk(rb, RB_GET_FIFO_DEPTH);
    return { result: i32At(r, 8), bytes: u32At(r, 12), length: r.byteLength };
  }

  async getBuffer(rb: RawConn, frames: number, perRing: number): Promise<{ result: number; frames: number; path?: string; length: number }> {
    const r = await this.rbAsk(rb, RB_GET_BUFFER, [...le32(frames), ...le32(perRing)]);
    return { result: i32At(r, 8), frames: u32At(r, 12), path: r.byteLength > 16 ? Buffer.from(r.subarray(16)).toString('utf8') : undefined, length: r.byteLength };
  }

  async start(rb: RawConn): Promise<{ result: number; startNs: bigint; index: number }> {
    const n = rb.frames.length;
    const r = await this.rbAsk(rb, RB_START);
    return { result: i32At(r, 8), startNs: r.byteLength >= 24 ? i64At(r, 16) : 0n, index: rb.frames.indexOf(r, n) };
  }

  async stop(rb: RawConn): Promise<{ result: number; index: number }> {
    const n = rb.frames.length;
    const r = await this.rbAsk(rb, RB_STOP);
    return { result: i32At(r, 8), index: rb.frames.indexOf(r, n) };
  }

  async gain(c: RawConn): Promise<Gain> {
    return parseGain(await this.ask(c, GET_GAIN));
  }

  /** SET_GAIN; returns result and the reported state. */
  async setGain(c: RawConn, flags: number, gain: number): Promise<{ result: number; curMute: boolean; curGain: number }> {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, gain, true);
    const r = await this.ask(c, SET_GAIN, [...le32(flags), ...b]);
    return { result: i32At(r, 8), curMute: r[12] !== 0, curGain: f32At(r, 16) };
  }

  /** Puts gain and mute back as they were (best effort: the check's result does not depend on it). */
  async restoreGain(c: RawConn, g: Gain): Promise<void> {
    if (c.isClosed) return;
    await this.setGain(c, GAIN_VALID | (g.canMute ? MUTE_VALID | (g.curMute ? MUTE : 0) : 0), g.curGain).catch(() => {});
  }

  /** Proves nothing is queued on a channel before a fresh GET_GAIN's answer. */
  async nothingPending(c: RawConn, what: string): Promise<void> {
    const n = c.frames.length;
    const id = tx();
    c.send(req(id, GET_GAIN));
    const f = await c.frameAt(n, this.timeoutMs);
    ensure(u32At(f, 0) === id && u32At(f, 4) === GET_GAIN, `${what}: expected nothing before the GET_GAIN answer (txid ${id}), got txid ${u32At(f, 0)} cmd 0x${u32At(f, 4).toString(16)}`);
  }

  /** Other endpoints of the same board in the runtime directory (for cross-stream checks). */
  siblings(all: string[]): string[] {
    return all.filter((p) => p !== this.endpoint && path.basename(p).startsWith(`${this.board}.`));
  }
}

export const STATUS_TEXT: Record<number, string> = { 0: 'OK', [-1]: 'INTERNAL', [-2]: 'NOT_SUPPORTED', [-4]: 'NO_MEMORY', [-10]: 'INVALID_ARGS', [-20]: 'BAD_STATE', [-21]: 'TIMED_OUT', [-25]: 'NOT_FOUND', [-30]: 'ACCESS_DENIED', [-40]: 'IO', [-41]: 'IO_REFUSED', [-42]: 'IO_DATA_INTEGRITY' };
export function st(s: number): string {
  return `${STATUS_TEXT[s] ?? 'status'} (${s})`;
}

/** Monotonic now in ns (CLOCK_MONOTONIC on Linux: the service's timeline, R-RB-8). */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
