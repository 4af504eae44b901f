/**
 * Playing into and recording from a stream endpoint as a protocol client (docs/PROTOCOL.md): own
 * the stream, SET_FORMAT, open the ring-buffer channel, GET_BUFFER, map it, and keep writing ahead
 * of (output) or reading behind (input) the position that start_time and CLOCK_MONOTONIC give.
 * Used by `sbc-audio play` / `record` and the demo.
 */
import { type FormatRange, SAMPLE_FORMAT, bytesPerSample } from '../audio/formats.ts';
import { MappedRingBuffer, type RingBufferClient, StreamClient, StreamClientError } from './client.ts';
import { RB_ERROR_KIND, STATUS, statusName } from './wire.ts';

/**
 * A session that was stopped through its AbortSignal (SIGINT / SIGTERM in the CLI) before its
 * work was done: what was done comes with it, the command decides the exit code.
 */
export class SessionAborted extends Error {
  constructor(readonly endpoint: string, readonly frames: number, readonly reason: unknown) {
    super(`${endpoint}: stopped${typeof reason === 'string' ? ` by ${reason}` : ''} after ${frames} frames`);
    this.name = 'SessionAborted';
  }
}

export interface Progress {
  /** Frames played (output) or recorded (input) so far. */
  frames: number;
  /** Peak of the last block per channel, dBFS (−Infinity for silence). */
  peakDb: number[];
  /** The ring buffer position, bytes. */
  positionBytes: number;
}

export interface SessionOptions {
  endpoint: string;
  rate: number;
  channels: number;
  /**
   * The SET_FORMAT sample format (SAMPLE_FORMAT.BIT16, BIT32 or BIT32_FLOAT: what the engine
   * carries; default BIT16), or a function that picks it from the stream's GET_FORMATS ranges
   * (asked on the session's own channel; what it throws ends the session).
   */
  sampleFormat?: number | ((ranges: FormatRange[]) => number);
  /** Ring buffer length (default 0.5 s). */
  bufferMs?: number;
  onProgress?: (p: Progress) => void;
  /**
   * Called once the session owns the stream and its ring buffer is ready, before START (e.g. to
   * set the stream's gain as its owner); a rejection ends the session.
   */
  beforeStart?: (stream: StreamClient) => Promise<void>;
  /** Called with the open channels (e.g. to listen to notifications). */
  onOpen?: (c: { stream: StreamClient; ringBuffer: RingBufferClient; fifoBytes: number; startTimeNs: number; frames: number; sampleFormat: number }) => void;
  /**
   * Stop early: while connecting or negotiating the session rejects with SessionAborted; once
   * the ring buffer runs, play / record resolve with what was done (`aborted` set).
   */
  signal?: AbortSignal;
  /** Clock for positions (default CLOCK_MONOTONIC via hrtime). */
  nowNs?: () => number;
}

const monotonicNs = () => Number(process.hrtime.bigint());

/** Peak per channel, dBFS, of interleaved little-endian samples in a carried sample format. */
function peaks(bytes: Uint8Array, sampleFormat: number, channels: number): number[] {
  const peak = new Array<number>(channels).fill(0);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bps = bytesPerSample(sampleFormat);
  const n = Math.floor(bytes.length / bps);
  for (let i = 0; i < n; i++) {
    const c = i % channels;
    const v = sampleFormat === SAMPLE_FORMAT.BIT32_FLOAT ? Math.abs(dv.getFloat32(i * 4, true))
      : sampleFormat === SAMPLE_FORMAT.BIT32 ? Math.abs(dv.getInt32(i * 4, true)) / 2147483648
        : Math.abs(dv.getInt16(i * 2, true)) / 32768;
    if (v > peak[c]!) peak[c] = v;
  }
  return peak.map((p) => (p === 0 ? -Infinity : 20 * Math.log10(p)));
}

const FORMAT_NAME: Record<number, string> = { [SAMPLE_FORMAT.BIT16]: '16-bit', [SAMPLE_FORMAT.BIT32]: '32-bit', [SAMPLE_FORMAT.BIT32_FLOAT]: 'float' };

/**
 * Connects, negotiates and maps the buffer. Whatever fails (a refused request, the service gone,
 * the signal) closes what was opened so far: no socket or mapping is left to keep the process alive.
 */
async function open(o: SessionOptions) {
  let stream: StreamClient | undefined;
  let ringBuffer: RingBufferClient | undefined;
  const onAbort = () => { stream?.destroy(); ringBuffer?.destroy(); };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const aborted = () => new SessionAborted(o.endpoint, 0, o.signal?.reason);
  try {
    if (o.signal?.aborted) throw aborted();
    stream = await StreamClient.connect(o.endpoint);
    if (o.signal?.aborted) throw aborted();
    const sampleFormat = typeof o.sampleFormat === 'function' ? o.sampleFormat(await stream.getFormats()) : o.sampleFormat ?? SAMPLE_FORMAT.BIT16;
    if (o.signal?.aborted) throw aborted();
    const f = await stream.setFormat({ fps: o.rate, sampleFormat, channels: o.channels });
    if (f.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: SET_FORMAT ${o.rate} Hz, ${FORMAT_NAME[sampleFormat] ?? `sample format 0x${sampleFormat.toString(16)}`}, ${o.channels} ch: ${statusName(f.result)}`);
    ringBuffer = await stream.openRingBuffer(f.token!);
    if (o.signal?.aborted) throw aborted();
    // Error notifications (R-EXT-5): a device that fails while the buffer runs ends the session.
    await ringBuffer.extNotifications(true);
    const fifo = await ringBuffer.getFifoDepth();
    if (fifo.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: GET_FIFO_DEPTH: ${statusName(fifo.result)} (the service's device is not available)`);
    const b = await ringBuffer.getBuffer(Math.round((o.rate * (o.bufferMs ?? 500)) / 1000), 4);
    if (b.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: GET_BUFFER: ${statusName(b.result)}`);
    const fb = o.channels * bytesPerSample(sampleFormat);
    const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, fb);
    return { stream, ringBuffer, fifoBytes: fifo.fifoDepth, frames: b.frames, ring, fb, sampleFormat };
  } catch (e) {
    const s = stream;
    const r = ringBuffer;
    await Promise.all([r?.close(), s?.close()]);
    throw o.signal?.aborted && !(e instanceof SessionAborted) ? aborted() : e;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Watches a running session for what ends it early: the device failing (EXT_RB_ERROR with kind
 * bus failure: the service's reason), or the service closing either channel. `error` is set then.
 */
function watchSession(o: SessionOptions, stream: StreamClient, ringBuffer: RingBufferClient) {
  const w: { error: StreamClientError | undefined; stopping: boolean } = { error: undefined, stopping: false };
  ringBuffer.on('rb-error', (e: { kind: number; status: number }) => {
    if (e.kind === RB_ERROR_KIND.BUS_FAILURE) w.error ??= new StreamClientError(`${o.endpoint}: the service's device failed (EXT_RB_ERROR: bus failure, ${statusName(e.status)})`);
  });
  const closed = (which: string) => () => {
    if (!w.stopping) w.error ??= new StreamClientError(`${o.endpoint}: the service closed the ${which} channel (the service stopped, or the stream was taken over)`);
  };
  void ringBuffer.closed.then(closed('ring-buffer'));
  void stream.closed.then(closed('stream'));
  return w;
}

/** Sends STOP unless the channel is gone or the device failed; bounded by the client's request timeout. */
async function stopQuietly(ringBuffer: RingBufferClient): Promise<void> {
  if (ringBuffer.isClosed) return;
  await ringBuffer.stop().catch(() => undefined);
}

/** Closes both channels (bounded: a service that does not answer the close is cut off). */
async function closeSession(s: { ring: MappedRingBuffer; stream: StreamClient; ringBuffer: RingBufferClient }): Promise<void> {
  s.ring.close();
  await Promise.all([s.ringBuffer.close(), s.stream.close()]);
}

/**
 * Frames to play, in the session's sample format: all of them at once (a file read whole) or
 * growing while the session runs (a pipe). `bytes` holds frames [0, frames); it may be replaced
 * by a longer array as the source grows.
 */
export interface PcmSource {
  readonly bytes: Uint8Array;
  readonly frames: number;
  /** No more frames will come: `frames` is the total. */
  readonly ended: boolean;
}

/** A source that is complete from the start. */
export function completeSource(bytes: Uint8Array, frameBytes: number): PcmSource {
  return { bytes, frames: Math.floor(bytes.length / frameBytes), ended: true };
}

/** A source that grows as whole frames are pushed (a pipe), until end(). */
export class GrowingSource implements PcmSource {
  bytes = new Uint8Array(1 << 16);
  frames = 0;
  ended = false;
  private length = 0;
  constructor(readonly frameBytes: number) {}

  /** Appends bytes of whole frames (the caller keeps a partial frame until it is complete). */
  push(b: Uint8Array): void {
    if (this.length + b.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + b.length));
      grown.set(this.bytes); // the whole old buffer: what lies past `length` is overwritten next
      this.bytes = grown;
    }
    this.bytes.set(b, this.length);
    this.length += b.length;
    this.frames = Math.floor(this.length / this.frameBytes);
  }

  end(): void {
    this.ended = true;
  }
}

export interface PlayResult {
  /** Frames of the source played. */
  frames: number;
  aborted: boolean;
  /** The sample format the session ran with. */
  sampleFormat: number;
  /** Frames of silence played because a growing source was late (its data then played that much later). */
  lateFrames: number;
}

/**
 * Plays a source; resolves when its last frame has left the ring buffer (plus the FIFO), or when
 * the signal stopped it (`aborted`). Rejects when the device fails or the service closes the
 * session (StreamClientError with the service's reason). `source` may be a function of the
 * negotiated sample format (to convert a file to what the stream took). A growing source is
 * awaited before START until it holds half a ring (or ends); when it is late later on, silence
 * is played in its place (counted in `lateFrames`) and its frames follow when they come.
 */
export async function playPcm(o: SessionOptions, source: PcmSource | ((sampleFormat: number) => PcmSource)): Promise<PlayResult> {
  const now = o.nowNs ?? monotonicNs;
  const s = await open(o);
  let src: PcmSource;
  try {
    src = typeof source === 'function' ? source(s.sampleFormat) : source;
  } catch (e) {
    await closeSession(s);
    throw e;
  }
  const silence = new Uint8Array(s.frames * s.fb);
  const fifoFrames = s.fifoBytes / s.fb;
  // Ring frame r carries source frame r − late.
  let late = 0;
  let written = 0;
  // Up to `frame` with the source's frames where it has them; where a growing source has not got
  // them yet, silence only up to `silenceUpTo` (just ahead of what the engine reads next).
  const writeUpTo = (frame: number, silenceUpTo: number) => {
    while (written < frame) {
      const at = written - late;
      if (at < src.frames) {
        const m = Math.min(frame - written, src.frames - at, s.frames);
        s.ring.write(written, src.bytes, at * s.fb, m * s.fb);
        written += m;
        continue;
      }
      const to = src.ended ? frame : Math.min(frame, silenceUpTo);
      if (written >= to) return;
      const n = Math.min(to - written, s.frames);
      s.ring.write(written, silence, 0, n * s.fb); // after the end (or while late): silence, never the old ring
      if (!src.ended) late += n;
      written += n;
    }
  };
  const ahead = Math.floor(s.frames / 2);
  const first = Math.max(ahead, fifoFrames + 1);
  const w = watchSession(o, s.stream, s.ringBuffer);
  try {
    while (!src.ended && src.frames < first && !o.signal?.aborted && !w.error) await new Promise((r) => setTimeout(r, 10));
    if (w.error) throw w.error;
    writeUpTo(first, first);
    await o.beforeStart?.(s.stream);
    const st = await s.ringBuffer.start();
    if (st.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: START: ${statusName(st.result)}`);
    o.onOpen?.({ stream: s.stream, ringBuffer: s.ringBuffer, fifoBytes: s.fifoBytes, startTimeNs: st.startTimeNs, frames: s.frames, sampleFormat: s.sampleFormat });
    // Silence for a late source only this far past the position: the engine reads a FIFO ahead,
    // and the loop wakes every 10 ms (so 30 ms more).
    const guard = fifoFrames + Math.ceil(o.rate * 0.03);
    let pos = 0;
    while (!(src.ended && pos >= src.frames + late + fifoFrames) && !o.signal?.aborted && !w.error) {
      await new Promise((r) => setTimeout(r, 10));
      pos = Math.floor(((now() - st.startTimeNs) * o.rate) / 1e9);
      writeUpTo(Math.max(written, pos + ahead), pos + guard);
      if (o.onProgress && pos > 0) {
        const at = Math.max(0, Math.min(pos - late, src.frames));
        const from = Math.max(0, at - Math.round(o.rate / 20));
        o.onProgress({ frames: at, peakDb: peaks(src.bytes.subarray(from * s.fb, at * s.fb), s.sampleFormat, o.channels), positionBytes: (pos % s.frames) * s.fb });
      }
    }
    if (w.error) throw w.error;
    w.stopping = true;
    await stopQuietly(s.ringBuffer);
    const done = src.ended && pos >= src.frames + late + fifoFrames;
    return { frames: Math.min(Math.max(0, pos - late), src.frames), aborted: !done, sampleFormat: s.sampleFormat, lateFrames: late };
  } finally {
    w.stopping = true;
    await closeSession(s);
  }
}

/**
 * Plays interleaved S16 samples (a 16-bit session); resolves when the last frame has left the
 * ring buffer (plus the FIFO), or when the signal stopped it (`aborted`). Rejects as playPcm does.
 */
export async function playSamples(o: SessionOptions, samples: Int16Array): Promise<{ frames: number; aborted: boolean }> {
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const r = await playPcm({ ...o, sampleFormat: SAMPLE_FORMAT.BIT16 }, completeSource(bytes, o.channels * 2));
  return { frames: r.frames, aborted: r.aborted };
}

/**
 * Records `frames` frames in the session's sample format (or until aborted: `aborted` set);
 * `onData` gets each block as it is read (e.g. to stream it to stdout). Rejects when the device
 * fails or the service closes the session.
 */
export async function recordPcm(o: SessionOptions, frames: number, onData?: (bytes: Uint8Array) => void): Promise<{ bytes: Uint8Array; frames: number; aborted: boolean; sampleFormat: number }> {
  const now = o.nowNs ?? monotonicNs;
  const s = await open(o);
  const out = new Uint8Array(frames * s.fb);
  const readBehind = s.fifoBytes / s.fb + 1 + Math.round(o.rate * 0.05);
  let read = 0;
  const w = watchSession(o, s.stream, s.ringBuffer);
  try {
    const st = await s.ringBuffer.start();
    if (st.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: START: ${statusName(st.result)}`);
    o.onOpen?.({ stream: s.stream, ringBuffer: s.ringBuffer, fifoBytes: s.fifoBytes, startTimeNs: st.startTimeNs, frames: s.frames, sampleFormat: s.sampleFormat });
    while (read < frames && !o.signal?.aborted && !w.error) {
      await new Promise((r) => setTimeout(r, 10));
      const pos = Math.floor(((now() - st.startTimeNs) * o.rate) / 1e9);
      // Frame k is in the buffer from start_time + (k + 1) / rate + one period (the FIFO) on
      // (docs/PROTOCOL.md section 6, "Input"), when the engine runs on time: read only that far,
      // and 50 ms less (an engine thread late on a busy machine writes its periods late without
      // an overrun; a recorder loses nothing by reading a little later, a too-early read gets zeros).
      const upTo = Math.min(frames, pos - readBehind);
      if (upTo <= read) continue;
      const chunk = s.ring.read(read, upTo - read);
      out.set(chunk, read * s.fb);
      read = upTo;
      onData?.(chunk);
      o.onProgress?.({ frames: read, peakDb: peaks(chunk, s.sampleFormat, o.channels), positionBytes: (pos % s.frames) * s.fb });
    }
    if (w.error) throw w.error;
    w.stopping = true;
    await stopQuietly(s.ringBuffer);
    return { bytes: out.subarray(0, read * s.fb), frames: read, aborted: read < frames, sampleFormat: s.sampleFormat };
  } finally {
    w.stopping = true;
    await closeSession(s);
  }
}

/**
 * Records `frames` frames of 16-bit (or until aborted: `aborted` is set on the array then);
 * resolves with interleaved S16 samples. Rejects as recordPcm does.
 */
export async function recordSamples(o: SessionOptions, frames: number): Promise<Int16Array & { aborted?: boolean }> {
  const r = await recordPcm({ ...o, sampleFormat: SAMPLE_FORMAT.BIT16 }, frames);
  const samples = new Int16Array(r.bytes.length / 2);
  const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
  for (let i = 0; i < samples.length; i++) samples[i] = dv.getInt16(i * 2, true);
  return Object.assign(samples, { aborted: r.aborted });
}

/** A sine tone, interleaved S16. */
export function toneSamples(freq: number, seconds: number, rate: number, channels: number, levelDb = -12): Int16Array {
  const n = Math.round(seconds * rate);
  const amp = 32767 * 10 ** (levelDb / 20);
  const out = new Int16Array(n * channels);
  for (let i = 0; i < n; i++) {
    const v = Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate));
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

/** A one-line meter: position, time, and a bar per channel. */
export function meterLine(p: Progress, rate: number): string {
  const bar = (db: number) => {
    const n = Number.isFinite(db) ? Math.max(0, Math.min(20, Math.round((db + 60) / 3))) : 0;
    return `${'#'.repeat(n)}${'.'.repeat(20 - n)} ${Number.isFinite(db) ? db.toFixed(1).padStart(6) : '  -inf'} dB`;
  };
  // The ring-buffer position is in bytes (POSITION_NOTIFY's unit): named so beside the seconds played.
  return `${(p.frames / rate).toFixed(2).padStart(7)} s  ring position ${String(p.positionBytes).padStart(7)} bytes  ${p.peakDb.map(bar).join('  ')}`;
}
