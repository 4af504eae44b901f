/**
 * A bare client connection of the stream protocol (docs/PROTOCOL.md): writes bytes, reads frames,
 * notices the close. It builds requests with its own little-endian helpers, so that rule checks
 * do not lean on the encoder under test. `sbc-audio conformance` (src/stream/conformance/) and the
 * protocol suite (tests/protocol/, which imports it from here) use it.
 */
import net from 'node:net';

export function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** A request payload: header (txid, cmd) and body bytes. */
export function req(txid: number, cmd: number, body: number[] = []): Uint8Array {
  return new Uint8Array([...le32(txid), ...le32(cmd), ...body]);
}

/** One frame: u32 LE length, then the payload. */
export function frame(payload: Uint8Array): Uint8Array {
  return new Uint8Array([...le32(payload.byteLength), ...payload]);
}

export function u32At(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
export function i32At(b: Uint8Array, o: number): number {
  return u32At(b, o) | 0;
}
export function f32At(b: Uint8Array, o: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat32(o, true);
}
export function i64At(b: Uint8Array, o: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(o, true);
}
export function f32Bytes(x: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...b];
}

export class RawConn {
  readonly frames: Uint8Array[] = [];
  /** Frame length prefixes as received (to check R-FRAME-1 on the bytes themselves). */
  readonly lengths: number[] = [];
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  isClosed = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => { this.isClosed = true; this.wake(); resolve(); }));
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 4) {
        const len = this.buf.readUInt32LE(0);
        if (this.buf.length < 4 + len) break;
        this.lengths.push(len);
        this.frames.push(new Uint8Array(this.buf.subarray(4, 4 + len)));
        this.buf = this.buf.subarray(4 + len);
      }
      this.wake();
    });
  }

  static connect(p: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(p);
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(payload: Uint8Array): void {
    this.write(frame(payload));
  }

  /** Waits for the n-th frame (0-based) to have arrived; fails if the connection closes first or after `ms`. */
  async frameAt(n: number, ms = 5000): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    while (this.frames.length <= n) {
      if (this.isClosed) throw new Error(`connection closed after ${this.frames.length} frames, waiting for frame ${n + 1}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame ${n + 1} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.frames[n]!;
  }

  /**
   * Waits for the frame answering `txid` with `cmd` (R-TXN-1) that arrives after frame `from`,
   * passing over notifications (transaction id 0) and anything else; `ms` is a hang guard.
   */
  async answer(txid: number, cmd: number, from = 0, ms = 5000): Promise<Uint8Array> {
    for (let i = from; ; i++) {
      const f = await this.frameAt(i, ms);
      if (u32At(f, 0) === txid && u32At(f, 4) === cmd) return f;
    }
  }

  /** Sends a request and returns its answer (see answer()), notifications in between passed over. */
  async ask(payload: Uint8Array, ms = 5000): Promise<Uint8Array> {
    const n = this.frames.length;
    this.send(payload);
    return this.answer(u32At(payload, 0), u32At(payload, 4) & 0x7fffffff, n, ms);
  }

  /** Sends a request and returns the next frame after those already received. */
  async call(payload: Uint8Array, ms = 5000): Promise<Uint8Array> {
    const n = this.frames.length;
    this.send(payload);
    return this.frameAt(n, ms);
  }

  /** Resolves true when the service closes the connection within `ms` (a guard against hanging, not a timing check). */
  async closesWithin(ms = 5000): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closed.then(() => true), new Promise<boolean>((resolve) => { t = setTimeout(() => resolve(false), ms); })]);
    clearTimeout(t);
    return r;
  }

  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }

  /** Closes at once (no half-close first). */
  destroy(): void {
    this.socket.destroy();
  }
}
