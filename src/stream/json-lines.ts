/**
 * A Unix-socket server of one JSON object per line each way: the simulation control socket
 * (./sim-control.ts) and the control channel (src/control/channel.ts) both speak it.
 *
 * Requests on one connection are answered in order; a handler may also push lines of its own at
 * any time (change events), each a whole line. A line longer than MAX_LINE_BYTES gets an error
 * answer and the connection is closed; nothing a client sends reaches another connection.
 *
 * The socket is published as the stream endpoints are (./transport.ts): its folder checked as
 * the runtime directory is, bound under a hidden name, given its mode and group, renamed into
 * place, so it appears only once it accepts connections.
 */
import net from 'node:net';
import path from 'node:path';
import { ensureRuntimeDir, prepareSocketPath, publishSocket } from './transport.ts';

/** A request line longer than this (bytes, without its newline) is refused and the connection closed. */
export const MAX_LINE_BYTES = 64 * 1024;

export interface JsonLinesConnection {
  /** e.g. "control sim #3", for log lines. */
  readonly label: string;
  /** Sends one object as a line (dropped once the connection is closing). */
  send(obj: object): void;
  /** Called once when the connection closes. */
  onClose(fn: () => void): void;
}

export interface JsonLinesServerOptions {
  /** What the socket is, for its folder's check and log lines (e.g. "control channel"). */
  what: string;
  /** Socket file mode (default 0660: owner and group). */
  mode?: number;
  /** The group of the socket (`serve --group`). */
  gid?: number;
  log?: (line: string) => void;
}

export interface JsonLinesServer {
  readonly path: string;
  close(): Promise<void>;
}

/** `answer` turns one request line into its answer object; it must not throw. */
export async function serveJsonLines(
  socketPath: string, answer: (line: string, conn: JsonLinesConnection) => Promise<object>, opts: JsonLinesServerOptions,
): Promise<JsonLinesServer> {
  const log = opts.log ?? (() => {});
  ensureRuntimeDir(path.dirname(socketPath), { what: `${opts.what} directory`, gid: opts.gid });
  const tmp = await prepareSocketPath(socketPath);

  const sockets = new Set<net.Socket>();
  let nextLabel = 1;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    const closers: (() => void)[] = [];
    const conn: JsonLinesConnection = {
      label: `${opts.what} #${nextLabel++}`,
      send(obj) {
        if (!socket.destroyed && !socket.writableEnded) socket.write(`${JSON.stringify(obj)}\n`);
      },
      onClose(fn) {
        closers.push(fn);
      },
    };
    socket.setEncoding('utf8');
    let buf = '';
    let refused = false;
    let chain: Promise<void> = Promise.resolve();
    const submit = (line: string) => {
      chain = chain.then(async () => conn.send(await answer(line, conn)));
    };
    socket.on('data', (chunk: string) => {
      if (refused) return;
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) submit(line);
      }
      if (Buffer.byteLength(buf) > MAX_LINE_BYTES) {
        refused = true;
        buf = '';
        log(`${conn.label}: request line longer than ${MAX_LINE_BYTES} bytes; closing this connection`);
        chain = chain.then(() => {
          conn.send({ id: null, ok: false, error: `request: line longer than ${MAX_LINE_BYTES} bytes; closing this connection` });
          socket.end();
        });
      }
    });
    socket.on('end', () => {
      // The client sent all it will: answer what is left (a last line without its newline too), then close.
      if (!refused && buf.trim()) submit(buf);
      buf = '';
      chain = chain.then(() => { if (!socket.destroyed) socket.end(); });
    });
    socket.on('error', () => { /* reported through 'close' */ });
    socket.on('close', () => {
      sockets.delete(socket);
      for (const fn of closers.splice(0)) fn();
    });
  });

  const unpublish = await publishSocket(server, tmp, socketPath, opts.mode ?? 0o660, opts.gid);

  let closed: Promise<void> | undefined;
  return {
    path: socketPath,
    close() {
      closed ??= (async () => {
        unpublish(); // the name goes first: a client that finds the socket can connect to it
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
}
