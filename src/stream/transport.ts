/**
 * The Linux transport (docs/PROTOCOL.md "Transport"): one Unix stream socket per stream
 * endpoint, every message framed as a u32 little-endian length and then exactly that many
 * bytes. Connections are handed to the protocol core as whole frames; the core never sees a
 * socket.
 */
import { chmodSync, chownSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { openClientWatch } from './client-watch.ts';
import type { Connection, StreamCore } from './core.ts';
import { HEADER_BYTES, MAX_FRAME_BYTES } from './wire.ts';

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface EndpointServerOptions {
  /** A client whose unread output exceeds this many bytes is disconnected (R-FLOW-1). */
  maxQueuedBytes?: number;
  /** Socket file mode (R-DISC-2). */
  mode?: number;
  /** The socket's group (`serve --group`): its members may connect (mode 0660). */
  gid?: number;
  log?: (line: string) => void;
}

export const DEFAULT_MAX_QUEUED_BYTES = 1 << 20;

/**
 * Splits a byte stream into frames. Returns an error string for a length that no message of the
 * protocol can have (the connection is then closed as a violation, R-FRAME-2).
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly minBytes = HEADER_BYTES, private readonly maxBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer, onFrame: (frame: Uint8Array) => void): string | undefined {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32LE(0);
      if (len < this.minBytes || len > this.maxBytes) return `frame length ${len}: expected ${this.minBytes}..${this.maxBytes} bytes`;
      if (this.buf.length < 4 + len) break;
      const frame = new Uint8Array(this.buf.subarray(4, 4 + len)); // a copy: the core may keep it
      this.buf = this.buf.subarray(4 + len);
      onFrame(frame);
    }
    return undefined;
  }
}

/** Length prefix and payload in one buffer, so that frames are written whole. */
export function frameBytes(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.byteLength);
  out.writeUInt32LE(payload.byteLength, 0);
  out.set(payload, 4);
  return out;
}

export interface EndpointServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Whether something accepts connections at a socket path (a live service, not a stale file). */
function probeSocket(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Publishes a core at `socketPath`. The socket is bound under a hidden name, given its mode and
 * then renamed into place, so the endpoint appears only once it accepts connections (R-DISC-3).
 */
export async function serveEndpoint(core: StreamCore, socketPath: string, opts: EndpointServerOptions = {}): Promise<EndpointServer> {
  const log = opts.log ?? (() => {});
  const maxQueued = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
  const tmp = await prepareSocketPath(socketPath);

  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: false }, (socket) => {
    sockets.add(socket);
    let closing: NodeJS.Timeout | undefined;
    const sink = {
      send(frame: Uint8Array) {
        if (socket.destroyed || socket.writableEnded) return;
        socket.write(frameBytes(frame));
        if (socket.writableLength > maxQueued) {
          log(`${conn.label}: client is not reading (${socket.writableLength} bytes queued); closing this channel`);
          socket.destroy();
        }
      },
      close() {
        if (socket.destroyed || socket.writableEnded) return;
        socket.end(); // what was sent before the close still goes out
        // The peer may never close its side; the connection is over either way.
        closing = setTimeout(() => socket.destroy(), 2000);
        closing.unref();
      },
      openClientWatch: () => openClientWatch(socket, log),
    };
    // The sink only refers to `conn` when sending, which never happens during connect().
    const conn: Connection = core.connect(sink);
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      if (!conn.open) return;
      const err = reader.push(chunk, (f) => conn.receive(f));
      if (err) {
        log(`${conn.label}: protocol violation: frame: length: ${err}; closing this channel`);
        conn.peerClosed();
      }
    });
    socket.on('error', () => { /* reported through 'close' */ });
    // The peer finished sending: the channel is over (no half-open channels). Handled before our
    // side closes, so by the time the client sees the connection end, the core has let go of it.
    socket.on('end', () => conn.peerClosed());
    socket.on('close', () => {
      sockets.delete(socket);
      if (closing) clearTimeout(closing);
      conn.peerClosed();
    });
  });

  const unpublish = await publishSocket(server, tmp, socketPath, opts.mode ?? 0o660, opts.gid);

  return {
    path: socketPath,
    async close() {
      unpublish(); // the name first, so that watchers see the endpoint go before its connections do
      await core.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function existsNonSocket(p: string): boolean {
  try {
    return !lstatSync(p).isSocket();
  } catch {
    return false;
  }
}

function existsSocket(p: string): boolean {
  try {
    return lstatSync(p).isSocket();
  } catch {
    return false;
  }
}

/**
 * Checks a socket path before it is served: short enough for a Unix socket, not a file of
 * another kind, not served by a live process (a stale socket left behind is removed). Returns
 * the hidden name to bind under.
 */
export async function prepareSocketPath(socketPath: string): Promise<string> {
  const dir = path.dirname(socketPath);
  const tmp = path.join(dir, `.${path.basename(socketPath)}.${process.pid}.tmp`);
  if (Buffer.byteLength(tmp) > MAX_SOCKET_PATH) {
    throw new Error(`socket path ${tmp} is ${Buffer.byteLength(tmp)} bytes; Unix sockets allow ${MAX_SOCKET_PATH} (choose a shorter --runtime-dir)`);
  }
  if (existsNonSocket(socketPath)) throw new Error(`${socketPath} exists and is not a socket; not replacing it`);
  if (existsSocket(socketPath)) {
    if (await probeSocket(socketPath)) throw new Error(`${socketPath} is already served by another process`);
    unlinkSync(socketPath); // left behind by a service that did not shut down cleanly
  }
  try { unlinkSync(tmp); } catch { /* not there */ }
  return tmp;
}

/**
 * Binds `server` under the hidden name `tmp`, gives it `mode` (owner and group only by default) and
 * the group `gid` where given
 * and renames it into place, so the socket appears only once it accepts connections and never
 * with a wider mode. Returns the function that removes the name again (only if it is still ours).
 */
export async function publishSocket(server: net.Server, tmp: string, socketPath: string, mode: number, gid?: number): Promise<() => void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmp, () => { server.off('error', reject); resolve(); });
  });
  if (gid !== undefined) chownSync(tmp, -1, gid);
  chmodSync(tmp, mode);
  renameSync(tmp, socketPath);
  const ino = lstatSync(socketPath).ino;
  return () => {
    try {
      if (lstatSync(socketPath).ino === ino) unlinkSync(socketPath);
    } catch { /* already gone */ }
  };
}
