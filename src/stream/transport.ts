/**
 * The Linux transport (docs/PROTOCOL.md "Transport"): one Unix stream socket per stream
 * endpoint, every message framed as a u32 little-endian length and then exactly that many
 * bytes. Connections are handed to the protocol core as whole frames; the core never sees a
 * socket.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { openClientWatch } from './client-watch.ts';
import type { Connection, StreamCore } from './core.ts';
import { socketPeerPid } from '../hal/linux/libc.ts';
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
 *
 * `frames`: 'copy' (the default) hands each frame over as its own array, which the receiver may
 * keep; 'view' hands over a view into the chunk, valid only until onFrame returns (the bytes are
 * the socket's and a later chunk may reuse them). A receiver that is done with a frame when it
 * returns (the core decodes it at once) takes views and saves a copy per frame.
 */
export class FrameReader {
  /** The start of a frame whose bytes have not all come yet, if any. */
  private rest: Buffer | undefined;
  private readonly copy: boolean;

  constructor(private readonly minBytes = HEADER_BYTES, private readonly maxBytes = MAX_FRAME_BYTES, frames: 'copy' | 'view' = 'copy') {
    this.copy = frames === 'copy';
  }

  /**
   * Walks the chunk by offset: every frame costs one allocation (its copy, or its view) and
   * nothing else, as a control round trip is mostly such small costs (bench/control-rtt.ts).
   */
  push(chunk: Buffer, onFrame: (frame: Uint8Array) => void): string | undefined {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    const end = buf.length;
    let at = 0;
    while (end - at >= 4) {
      const len = (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0; // u32 LE
      if (len < this.minBytes || len > this.maxBytes) {
        this.rest = buf.subarray(at); // a further push reports the same length again
        return `frame length ${len}: expected ${this.minBytes}..${this.maxBytes} bytes`;
      }
      if (end - at - 4 < len) break;
      onFrame(this.copy ? copyOut(buf, at + 4, len) : buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    if (at < end) this.rest = buf.subarray(at);
    return undefined;
  }
}

/** `len` bytes of `buf` from `from`, copied into a new array. */
function copyOut(buf: Buffer, from: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(new Uint8Array(buf.buffer, buf.byteOffset + from, len));
  return out;
}

/** Length prefix and payload in one buffer, so that frames are written whole (one write, one syscall). */
export function frameBytes(payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const out = Buffer.allocUnsafe(4 + n);
  out[0] = n & 0xff; // u32 LE length
  out[1] = (n >>> 8) & 0xff;
  out[2] = (n >>> 16) & 0xff;
  out[3] = n >>> 24;
  out.set(payload, 4);
  return out;
}

export interface EndpointServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Connects to a socket path: undefined when something accepts the connection (a live service),
 * else the connect() error's code (ECONNREFUSED: nobody listens; EACCES, ...: unknown).
 */
function probeSocket(p: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => { s.destroy(); resolve(undefined); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'EIO'));
  });
}

/**
 * What an existing socket entry is, from the outcome of a connect() to it (undefined: it
 * connected). Only ECONNREFUSED proves nobody listens (a stale entry, safe to remove); any other
 * error (EACCES: this process may not reach it, yet it may be live) leaves it alone.
 */
export function socketEntryVerdict(connectError: string | undefined): 'live' | 'stale' | 'gone' | 'unknown' {
  if (connectError === undefined) return 'live';
  if (connectError === 'ECONNREFUSED') return 'stale';
  if (connectError === 'ENOENT') return 'gone';
  return 'unknown';
}

/** The default mode of a directory the service makes: its user and its group only. */
export const RUNTIME_DIR_MODE = 0o750;

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Makes (or checks) a directory the service publishes in. Every existing component of the path,
 * from / down, must be a real directory (not a symbolic link), owned by root or this user, and not
 * writable by everyone unless its sticky bit is set (as /tmp): otherwise another user could swap
 * or plant entries in it. Missing components are made one by one with mode 0750 (and the group
 * `gid`, where given, so that its members can reach the sockets); the directory itself, where it
 * is this user's, loses any permission for others. Throws an Error naming the directory and why.
 */
export function ensureRuntimeDir(dir: string, opts: { gid?: number; what?: string } = {}): void {
  const what = opts.what ?? 'runtime directory';
  const target = path.resolve(dir);
  const uid = process.geteuid?.() ?? 0;
  const parts = target.split(path.sep).filter(Boolean);
  let p: string = path.sep;
  for (let i = 0; i <= parts.length; i++) {
    if (i > 0) p = path.join(p, parts[i - 1]!);
    const mine = p === target;
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${what} ${target}: ${p}: ${(e as Error).message}; not using it`);
      try {
        mkdirSync(p, { mode: RUNTIME_DIR_MODE });
      } catch (m) {
        if ((m as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${what} ${target}: cannot create ${p}: ${(m as Error).message}`);
      }
      if (opts.gid !== undefined) chownSync(p, -1, opts.gid);
      chmodSync(p, RUNTIME_DIR_MODE); // whatever the umask
      st = lstatSync(p);
    }
    const where = p === target ? '' : ` (its parent ${p})`;
    if (st.isSymbolicLink()) throw new Error(`${what} ${target}${where} is a symbolic link; refusing to follow it (another user could point it anywhere)`);
    if (!st.isDirectory()) throw new Error(`${what} ${target}${where} is not a directory; not using it`);
    if (st.uid !== 0 && st.uid !== uid) throw new Error(`${what} ${target}${where} belongs to uid ${st.uid}, neither root nor this user (uid ${uid}); not using it`);
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
      throw new Error(`${what} ${target}${where} is writable by everyone without the sticky bit (mode ${octal(st.mode)}); not using it`);
    }
    // Ours: others out, the group may not write (a directory of an older version was 0755).
    if (mine && st.uid === uid && (st.mode & 0o027) !== 0) chmodSync(p, st.mode & 0o1750);
  }
}

/** The process that connected (SO_PEERCRED) as the log's rate limit names it, or undefined. */
function peerClient(socket: net.Socket): string | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    const pid = socketPeerPid(fd);
    return pid === undefined ? undefined : `client pid ${pid}`;
  } catch {
    return undefined;
  }
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
          if (core.logAllowed(conn, 'not reading')) log(`${conn.label}: client is not reading (${socket.writableLength} bytes queued); closing this channel`);
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
    const conn: Connection = core.connect(sink, undefined, peerClient(socket));
    // Views, not copies: the core is done with a frame when receive() returns (Connection.receive).
    const reader = new FrameReader(HEADER_BYTES, MAX_FRAME_BYTES, 'view');
    const onFrame = (f: Uint8Array): void => conn.receive(f);
    socket.on('data', (chunk: Buffer) => {
      if (!conn.open) return;
      const err = reader.push(chunk, onFrame);
      if (err) {
        if (core.logAllowed(conn, 'protocol violation')) log(`${conn.label}: protocol violation: frame: length: ${err}; closing this channel`);
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
    const code = await probeSocket(socketPath);
    switch (socketEntryVerdict(code)) {
      case 'live':
        throw new Error(`${socketPath} is already served by another process`);
      case 'unknown':
        throw new Error(`${socketPath}: connecting to the existing socket failed with ${code}, not ECONNREFUSED: it may be a live endpoint; not removing it (remove it by hand if no service uses it)`);
      case 'stale':
        unlinkSync(socketPath); // left behind by a service that did not shut down cleanly
        break;
      case 'gone':
        break;
    }
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
