/**
 * Playing into and recording from a stream endpoint as a protocol client (docs/PROTOCOL.md): own
 * the stream, SET_FORMAT, open the ring-buffer channel, GET_BUFFER, map it, and keep writing ahead
 * of (output) or reading behind (input) the position that start_time and CLOCK_MONOTONIC give.
 * Used by `sbc-audio play` / `record` and the demo.
 */
import { SAMPLE_FORMAT } from '../audio/formats.ts';
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
  /** Ring buffer length (default 0.5 s). */
  bufferMs?: number;
  onProgress?: (p: Progress) => void;
  /**
   * Called once the session owns the stream and its ring buffer is ready, before START (e.g. to
   * set the stream's gain as its owner); a rejection ends the session.
   */
  beforeStart?: (stream: StreamClient) => Promise<void>;
  /** Called with the open channels (e.g. to listen to notifications). */
  onOpen?: (c: { stream: StreamClient; ringBuffer: RingBufferClient; fifoBytes: number; startTimeNs: number; frames: number }) => void;
  /**
   * Stop early: while connecting or negotiating the session rejects with SessionAborted; once
   * the ring buffer runs, play / record resolve with what was done (`aborted` set).
   */
  signal?: AbortSignal;
  /** Clock for positions (default CLOCK_MONOTONIC via hrtime). */
  nowNs?: () => number;
}

const monotonicNs = () => Number(process.hrtime.bigint());

function peaks(samples: Int16Array, channels: number): number[] {
  const peak = new Array<number>(channels).fill(0);
  for (let i = 0; i < samples.length; i++) {
    const c = i % channels;
    const v = Math.abs(samples[i]!);
    if (v > peak[c]!) peak[c] = v;
  }
  return peak.map((p) => (p === 0 ? -Infinity : 20 * Math.log10(p / 32768)));
}

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
    const f = await stream.setFormat({ fps: o.rate, sampleFormat: SAMPLE_FORMAT.BIT16, channels: o.channels });
    if (f.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: SET_FORMAT ${o.rate} Hz, 16-bit, ${o.channels} ch: ${statusName(f.result)}`);
    ringBuffer = await stream.openRingBuffer(f.token!);
    if (o.signal?.aborted) throw aborted();
    // Error notifications (R-EXT-5): a device that fails while the buffer runs ends the session.
    await ringBuffer.extNotifications(true);
    const fifo = await ringBuffer.getFifoDepth();
    if (fifo.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: GET_FIFO_DEPTH: ${statusName(fifo.result)} (the service's device is not available)`);
    const b = await ringBuffer.getBuffer(Math.round((o.rate * (o.bufferMs ?? 500)) / 1000), 4);
    if (b.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: GET_BUFFER: ${statusName(b.result)}`);
    const fb = o.channels * 2;
    const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, fb);
    return { stream, ringBuffer, fifoBytes: fifo.fifoDepth, frames: b.frames, ring, fb };
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
 * Plays interleaved S16 samples; resolves when the last frame has left the ring buffer (plus the
 * FIFO), or when the signal stopped it (`aborted`). Rejects when the device fails or the service
 * closes the session (StreamClientError with the service's reason).
 */
export async function playSamples(o: SessionOptions, samples: Int16Array): Promise<{ frames: number; aborted: boolean }> {
  const now = o.nowNs ?? monotonicNs;
  const s = await open(o);
  const total = Math.floor(samples.length / o.channels);
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, total * s.fb);
  const silence = new Uint8Array(s.frames * s.fb);
  let written = 0;
  const writeUpTo = (frame: number) => {
    while (written < frame) {
      const n = Math.min(frame - written, s.frames);
      if (written < total) {
        const m = Math.min(n, total - written);
        s.ring.write(written, bytes, written * s.fb, m * s.fb);
        written += m;
      } else {
        s.ring.write(written, silence, 0, n * s.fb); // after the end: silence, never the old ring
        written += n;
      }
    }
  };
  const ahead = Math.floor(s.frames / 2);
  writeUpTo(Math.max(ahead, s.fifoBytes / s.fb + 1));
  const w = watchSession(o, s.stream, s.ringBuffer);
  try {
    await o.beforeStart?.(s.stream);
    const st = await s.ringBuffer.start();
    if (st.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: START: ${statusName(st.result)}`);
    o.onOpen?.({ stream: s.stream, ringBuffer: s.ringBuffer, fifoBytes: s.fifoBytes, startTimeNs: st.startTimeNs, frames: s.frames });
    const endFrame = total + s.fifoBytes / s.fb;
    let pos = 0;
    while (pos < endFrame && !o.signal?.aborted && !w.error) {
      await new Promise((r) => setTimeout(r, 10));
      pos = Math.floor(((now() - st.startTimeNs) * o.rate) / 1e9);
      writeUpTo(Math.max(written, pos + ahead));
      if (o.onProgress && pos > 0) {
        const at = Math.min(pos, total);
        const from = Math.max(0, at - Math.round(o.rate / 20));
        o.onProgress({ frames: at, peakDb: peaks(samples.subarray(from * o.channels, at * o.channels), o.channels), positionBytes: (pos % s.frames) * s.fb });
      }
    }
    if (w.error) throw w.error;
    w.stopping = true;
    await stopQuietly(s.ringBuffer);
    return { frames: Math.min(Math.max(0, pos), total), aborted: pos < endFrame };
  } finally {
    w.stopping = true;
    await closeSession(s);
  }
}

/**
 * Records `frames` frames (or until aborted: `aborted` is set on the array then); resolves with
 * interleaved S16 samples. Rejects when the device fails or the service closes the session.
 */
export async function recordSamples(o: SessionOptions, frames: number): Promise<Int16Array & { aborted?: boolean }> {
  const now = o.nowNs ?? monotonicNs;
  const s = await open(o);
  const out = new Int16Array(frames * o.channels);
  let read = 0;
  const w = watchSession(o, s.stream, s.ringBuffer);
  try {
    const st = await s.ringBuffer.start();
    if (st.result !== STATUS.OK) throw new StreamClientError(`${o.endpoint}: START: ${statusName(st.result)}`);
    o.onOpen?.({ stream: s.stream, ringBuffer: s.ringBuffer, fifoBytes: s.fifoBytes, startTimeNs: st.startTimeNs, frames: s.frames });
    while (read < frames && !o.signal?.aborted && !w.error) {
      await new Promise((r) => setTimeout(r, 10));
      const pos = Math.floor(((now() - st.startTimeNs) * o.rate) / 1e9);
      const upTo = Math.min(frames, pos);
      if (upTo <= read) continue;
      const chunk = s.ring.read(read, upTo - read);
      const samples = new Int16Array(chunk.buffer, 0, chunk.length / 2);
      out.set(samples, read * o.channels);
      read = upTo;
      o.onProgress?.({ frames: read, peakDb: peaks(samples, o.channels), positionBytes: (pos % s.frames) * s.fb });
    }
    if (w.error) throw w.error;
    w.stopping = true;
    await stopQuietly(s.ringBuffer);
    return Object.assign(out.subarray(0, read * o.channels), { aborted: read < frames });
  } finally {
    w.stopping = true;
    await closeSession(s);
  }
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
  return `${(p.frames / rate).toFixed(2).padStart(7)} s  pos ${String(p.positionBytes).padStart(7)}  ${p.peakDb.map(bar).join('  ')}`;
}
