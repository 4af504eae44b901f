/**
 * Linux errno values: name, number and the C library's text, in one table.
 *
 * The numbers are asm-generic/errno-base.h and asm-generic/errno.h, which arm, arm64 and x86 (every
 * board this project runs on, and the CI hosts) share; the texts are glibc's strerror(3). The HAL
 * backends (src/hal/linux, src/hal/linux/alsa, src/hal/sim) and the engine take errno numbers from
 * here: a second errno table anywhere in src/, codecs/ or alsa/ fails
 * tests/unit/single-home/errno.test.ts.
 *
 * Where a live message is wanted, libc's strerror() on the real errno still applies; errnoText()
 * is for the simulated backends and for numbers that come back without a libc at hand.
 */

const TABLE = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ESRCH: [3, 'No such process'],
  EINTR: [4, 'Interrupted system call'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  EBADF: [9, 'Bad file descriptor'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EBUSY: [16, 'Device or resource busy'],
  ENODEV: [19, 'No such device'],
  EINVAL: [22, 'Invalid argument'],
  EPIPE: [32, 'Broken pipe'],
  EPROTO: [71, 'Protocol error'],
  EBADFD: [77, 'File descriptor in bad state'],
  ESTRPIPE: [86, 'Streams pipe error'],
  EOPNOTSUPP: [95, 'Operation not supported'],
  ETIMEDOUT: [110, 'Connection timed out'],
  EREMOTEIO: [121, 'Remote I/O error'],
} as const;

export type ErrnoName = keyof typeof TABLE;

/** Name → number (positive; alsa-lib and the PCM HAL report failures as the negative). */
export const ERRNO = Object.freeze(Object.fromEntries(Object.entries(TABLE).map(([name, [n]]) => [name, n]))) as
  { readonly [K in ErrnoName]: (typeof TABLE)[K][0] };

const BY_NUMBER: ReadonlyMap<number, { name: ErrnoName; text: string }> = new Map(
  (Object.entries(TABLE) as [ErrnoName, readonly [number, string]][]).map(([name, [n, text]]) => [n, { name, text }]),
);

/** The name of an errno number ('EBUSY' for 16 or -16), or undefined for one not in the table. */
export function errnoName(errno: number): ErrnoName | undefined {
  return BY_NUMBER.get(Math.abs(errno))?.name;
}

/** glibc's text for an errno number (16 or -16: 'Device or resource busy'); 'Unknown error N' otherwise. */
export function errnoText(errno: number): string {
  return BY_NUMBER.get(Math.abs(errno))?.text ?? `Unknown error ${Math.abs(errno)}`;
}
