/**
 * Whether a stream client is gone, asked from the audio thread once per period without blocking
 * and without allocating (R-RB-12). Two descriptors, both made by the service's main thread:
 *
 * - a duplicate of the ring-buffer channel's socket: poll(2) with timeout 0. A hang-up (POLLHUP,
 *   POLLRDHUP, POLLERR, POLLNVAL) means the channel is closed, however it happened: the client
 *   closed it, shut down its sending side, or died and the kernel closed its descriptors.
 * - `/proc/<pid>/stat` of the process that connected the socket (SO_PEERCRED), read again with
 *   pread at offset 0: the process is exiting once its main thread has PF_EXITING (or is a zombie,
 *   or has been reaped: the read fails with ESRCH).
 *
 * Why both. A killed process's sockets are closed late in its exit: the kernel first tears down
 * its address space, which for a Node client in the QEMU guest took 19–48 ms after kill(), and
 * a pidfd turns readable later still (when the process is a zombie: 19–57 ms). PF_EXITING is set
 * at the start of the exit, before any of that (seen 2–5 ms after kill() in the guest), and from
 * then on the process runs no more of its own code: the ring's contents are final. The socket
 * stays the authority for every other way a channel ends.
 *
 * A /proc/<pid>/stat descriptor names the process it was opened for, not the number: once that
 * process is reaped the read fails (ESRCH), so a pid reused by another process is never read.
 *
 * Descriptors are per process, so this worker thread polls numbers the main thread made; the main
 * thread keeps them open until the worker no longer reads them (src/stream/engine-ring-buffer.ts),
 * so a number cannot be reused meanwhile.
 */
import { POLLERR, POLLHUP, POLLNVAL, POLLRDHUP, libc, peerIo } from '../hal/linux/libc.ts';
import { ERRNO } from '../util/errno.ts';

/** What check() found. */
export const CLIENT = { PRESENT: 0, HUNG_UP: 1, EXITING: 2 } as const;

const HANG_UP = POLLHUP | POLLRDHUP | POLLERR | POLLNVAL;
/** include/linux/sched.h: "getting shut down". */
const PF_EXITING = 0x4;
const CLOSE_PAREN = 0x29;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const STATE_ZOMBIE = 0x5a; // 'Z'
const STATE_DEAD = 0x58; // 'X'

export class ClientWatch {
  // struct pollfd { int fd; short events; short revents; }: 8 bytes, native byte order.
  private readonly pollfd = new Uint8Array(8);
  private readonly fdWord = new Int32Array(this.pollfd.buffer, 0, 1);
  /** [events, revents]. */
  private readonly eventWords = new Int16Array(this.pollfd.buffer, 4, 2);
  /** /proc/<pid>/stat is about 300 bytes; the command name in it is at most 16. */
  private readonly stat = new Uint8Array(1024);
  private readonly poll = libc().poll;
  private readonly io = peerIo();

  /** `statFd` −1: no process to watch (the socket only). */
  constructor(readonly socketFd: number, readonly statFd: number) {
    this.fdWord[0] = socketFd;
    this.eventWords[0] = POLLRDHUP;
  }

  /** CLIENT.PRESENT, or why the client is gone. A call that fails in another way says nothing. */
  check(): number {
    if (this.statFd >= 0 && this.exiting()) return CLIENT.EXITING;
    this.eventWords[1] = 0;
    const ready = this.poll(this.pollfd, 1, 0);
    if (ready > 0 && (this.eventWords[1]! & HANG_UP) !== 0) return CLIENT.HUNG_UP;
    return CLIENT.PRESENT;
  }

  private exiting(): boolean {
    const b = this.stat;
    const n = this.io.pread(this.statFd, b, b.length, 0);
    if (n < 0) return this.io.errno() === ERRNO.ESRCH;
    // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold anything, so
    // fields are counted from the last ')'.
    let i = n - 1;
    while (i >= 0 && b[i] !== CLOSE_PAREN) i--;
    if (i < 0) return false;
    i += 2;
    const state = b[i];
    if (state === STATE_ZOMBIE || state === STATE_DEAD) return true;
    for (let spaces = 0; spaces < 6 && i < n; i++) if (b[i] === SPACE) spaces++;
    // flags, in decimal; only its low three bits are kept ((10a + d) mod 8 needs only a mod 8),
    // so the number stays a small integer.
    let low = 0;
    for (; i < n; i++) {
      const c = b[i]!;
      if (c < DIGIT_0 || c > DIGIT_9) break;
      low = (low * 10 + (c - DIGIT_0)) & 7;
    }
    return (low & PF_EXITING) !== 0;
  }
}
