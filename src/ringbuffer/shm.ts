/**
 * Shared memory between processes: a file under /dev/shm (POSIX shm_open) mapped with mmap
 * through koffi. Any process, in any language, that maps the same file sees the same bytes.
 */
import koffi from 'koffi';
import {
  MAP_SHARED, O_CLOEXEC, O_CREAT, O_EXCL, O_RDWR, PROT_READ, PROT_WRITE, check, libc,
} from '../hal/linux/libc.ts';
import { FrameRing, ringBytes } from './ring.ts';
import { fstatSync, openSync, closeSync } from 'node:fs';

export class SharedMapping {
  private closed = false;

  private constructor(
    /** The shm name ('/sbc-audio-…'); the file is /dev/shm + name. */
    readonly name: string,
    readonly length: number,
    private readonly ptr: unknown,
    /** An ArrayBuffer over the mapping (not a SharedArrayBuffer: Atomics.wait does not work on it). */
    readonly buffer: ArrayBuffer,
  ) {}

  get path(): string {
    return `/dev/shm${this.name}`;
  }

  /** Creates a new shm file of `length` bytes (fails if it exists) and maps it. */
  static create(name: string, length: number, mode = 0o600): SharedMapping {
    checkName(name);
    const c = libc();
    const fd = check(c.shmOpen(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode), `shm_open ${name}`);
    try {
      c.fchmod(fd, mode); // shm_open's mode is filtered by the umask; the caller's mode is meant
      check(c.ftruncate(fd, length), `ftruncate ${name}`);
      return SharedMapping.map(name, fd, length);
    } finally {
      c.close(fd);
    }
  }

  /** Maps an existing shm file (its whole length). */
  static open(name: string): SharedMapping {
    checkName(name);
    const c = libc();
    const fd = check(c.shmOpen(name, O_RDWR | O_CLOEXEC, 0), `shm_open ${name}`);
    try {
      // The file's size, through node (shm files are ordinary files under /dev/shm).
      const nfd = openSync(`/dev/shm${name}`, 'r');
      const length = fstatSync(nfd).size;
      closeSync(nfd);
      return SharedMapping.map(name, fd, length);
    } finally {
      c.close(fd);
    }
  }

  private static map(name: string, fd: number, length: number): SharedMapping {
    const c = libc();
    const ptr = c.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    // MAP_FAILED is (void *) -1.
    if (ptr === null || koffi.address(ptr) === 0xffffffffffffffffn) check(-1, `mmap ${name}`);
    return new SharedMapping(name, length, ptr, koffi.view(ptr, length) as ArrayBuffer);
  }

  /** Unmaps. The ArrayBuffer must not be touched afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().munmap(this.ptr, this.length);
  }

  /** Removes the file (mappings stay valid until closed). */
  unlink(): void {
    libc().shmUnlink(this.name);
  }
}

function checkName(name: string): void {
  if (!/^\/[A-Za-z0-9._-]{1,200}$/.test(name)) throw new Error(`shm name must be "/" followed by letters, digits, ".", "_" or "-", got "${name}"`);
}

/** A FrameRing in a shm file: create it in one process, open it by name in another. */
export class ShmFrameRing {
  private constructor(readonly mapping: SharedMapping, readonly ring: FrameRing) {}

  static create(name: string, capacityFrames: number, frameBytes: number, mode = 0o600): ShmFrameRing {
    const m = SharedMapping.create(name, ringBytes(capacityFrames, frameBytes), mode);
    return new ShmFrameRing(m, FrameRing.init(m.buffer, capacityFrames, frameBytes));
  }

  static open(name: string): ShmFrameRing {
    const m = SharedMapping.open(name);
    return new ShmFrameRing(m, new FrameRing(m.buffer));
  }

  close(): void {
    this.mapping.close();
  }

  unlink(): void {
    this.mapping.unlink();
  }
}
