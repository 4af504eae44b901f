/**
 * The main thread's half of watching a ring-buffer client (the worker's half:
 * src/engine/client-watch.ts): the descriptors the engine's worker reads once per period to notice
 * the client going without waiting for this thread (R-RB-12). Made synchronously when the
 * channel is created — later the socket may be closed and its number reused — and closed by the
 * engine once its worker no longer reads them (src/stream/engine-ring-buffer.ts).
 */
import { closeSync, openSync } from 'node:fs';
import type net from 'node:net';
import { POLLERR, POLLHUP, POLLNVAL, POLLRDHUP, dupCloexec, libc, socketPeerPid } from '../hal/linux/libc.ts';

export interface ClientWatchFds {
  /** A close-on-exec duplicate of the channel's socket descriptor. */
  socketFd: number;
  /** /proc/<pid>/stat of the process that connected, opened close-on-exec; −1 where it could not be. */
  statFd: number;
  /** That process (SO_PEERCRED), if known. */
  pid: number | undefined;
}

/**
 * The descriptors for a connected Unix socket, or undefined where there are none to be had (the
 * handle has no descriptor: closed, or not a Linux Pipe; koffi's libc missing). Node does not
 * publish a socket's descriptor; a Pipe handle has `fd` on Linux (−1 once closed).
 */
export function openClientWatch(socket: net.Socket, log: (line: string) => void): ClientWatchFds | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (socket.destroyed || typeof fd !== 'number' || fd < 0) return undefined;
  let socketFd: number;
  try {
    socketFd = dupCloexec(fd);
  } catch (e) {
    log(`cannot duplicate socket descriptor ${fd}: ${(e as Error).message}`);
    return undefined;
  }
  let pid: number | undefined;
  let statFd = -1;
  try {
    pid = socketPeerPid(socketFd);
    // Node opens with O_CLOEXEC. The descriptor stays bound to this process even if its pid is
    // later reused; one opened after the client died could be another's, which the socket tells:
    // a client that died before this line has hung up (checked right below).
    if (pid !== undefined) statFd = openSync(`/proc/${pid}/stat`, 'r');
  } catch (e) {
    log(`the client's process will not be watched (pid ${pid ?? 'unknown'}): ${(e as Error).message}`);
  }
  if (statFd >= 0 && socketHungUp(socketFd)) {
    closeSync(statFd);
    statFd = -1;
  }
  return { socketFd, statFd, pid };
}

export function closeClientWatch(w: ClientWatchFds): void {
  if (w.statFd >= 0) closeSync(w.statFd);
  libc().close(w.socketFd);
}

function socketHungUp(fd: number): boolean {
  // struct pollfd { int fd; short events; short revents; }
  const pollfd = new Uint8Array(8);
  new Int32Array(pollfd.buffer, 0, 1)[0] = fd;
  const events = new Int16Array(pollfd.buffer, 4, 2);
  events[0] = POLLRDHUP;
  return libc().poll(pollfd, 1, 0) > 0 && (events[1]! & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) !== 0;
}
