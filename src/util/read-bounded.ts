/**
 * Reading a file that anyone could have made huge (a board file, the control state file): never
 * more than a stated limit is read, and a file that grew since it was stat'ed is still caught.
 */
import { readSync } from 'node:fs';

/**
 * The bytes of an open file, read to its end: undefined when it holds more than `limit` bytes (at
 * most `limit` + 1 are read to find that out). `sizeHint` (the fstat size) sizes the first buffer.
 */
export function readAtMost(fd: number, limit: number, sizeHint = 0): Buffer | undefined {
  let buf = Buffer.alloc(Math.min(Math.max(0, sizeHint), limit) + 1);
  let got = 0;
  for (;;) {
    const n = readSync(fd, buf, got, buf.length - got, null);
    if (n === 0) return buf.subarray(0, got);
    got += n;
    if (got === buf.length) {
      if (got > limit) return undefined;
      // Grown since the stat: a bigger buffer, still at most one byte past the limit.
      const bigger = Buffer.alloc(Math.min(buf.length * 2, limit + 1));
      buf.copy(bigger);
      buf = bigger;
    }
  }
}
