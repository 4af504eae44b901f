/**
 * The libc calls the real backends need, through koffi (no native build on the Pi).
 * Loaded lazily so that simulated boards never touch it.
 */
import koffi from 'koffi';

export interface Libc {
  open(path: string, flags: number, mode: number): number;
  close(fd: number): number;
  read(fd: number, buf: Uint8Array, n: number): number;
  write(fd: number, buf: Uint8Array, n: number): number;
  /** ioctl with a pointer argument (a Buffer / typed array the kernel reads or fills). */
  ioctlPtr(fd: number, request: number, arg: Uint8Array | null): number;
  /** ioctl with an integer argument. */
  ioctlInt(fd: number, request: number, arg: number): number;
  ftruncate(fd: number, length: number): number;
  mmap(addr: null, length: number, prot: number, flags: number, fd: number, offset: number): unknown;
  munmap(addr: unknown, length: number): number;
  shmOpen(name: string, oflag: number, mode: number): number;
  shmUnlink(name: string): number;
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  clockGettime(clockId: number, ts: Uint8Array): number;
  schedSetscheduler(pid: number, policy: number, param: Uint8Array): number;
  /** prctl with one integer argument (PR_SET_TIMERSLACK). */
  prctlInt(option: number, arg: number): number;
  /** clock_nanosleep (flags TIMER_ABSTIME: `ts` is the deadline); returns 0 or the error number (not -1/errno). */
  clockNanosleep(clockId: number, flags: number, ts: Uint8Array): number;
  mlockall(flags: number): number;
  getrlimit(resource: number, rlim: Uint8Array): number;
  fchmod(fd: number, mode: number): number;
  errno(): number;
  strerror(errnum: number): string;
}

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const CLOCK_MONOTONIC = 1;
export const SCHED_FIFO = 1;
// linux/prctl.h: PR_SET_TIMERSLACK 29 (the calling thread's timer slack, in ns; 0 resets to the default).
export const PR_SET_TIMERSLACK = 29;
// linux/prctl.h: PR_GET_TIMERSLACK 30 (returns the calling thread's timer slack in ns).
export const PR_GET_TIMERSLACK = 30;
// time.h / linux/time.h: TIMER_ABSTIME 1 (clock_nanosleep's deadline is absolute).
export const TIMER_ABSTIME = 1;
export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
export const RLIMIT_MEMLOCK = 8;
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;

let cached: Libc | undefined;

export function libc(): Libc {
  if (cached) return cached;
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags, uint32_t mode)');
  const close = lib.func('int close(int fd)');
  const read = lib.func('long read(int fd, _Out_ uint8_t *buf, size_t n)');
  const write = lib.func('long write(int fd, const uint8_t *buf, size_t n)');
  const ioctlPtr = lib.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)');
  const ioctlInt = lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
  const ftruncate = lib.func('int ftruncate(int fd, int64_t length)');
  const mmap = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const munmap = lib.func('int munmap(void *addr, size_t length)');
  const shmOpen = lib.func('int shm_open(const char *name, int oflag, uint32_t mode)');
  const shmUnlink = lib.func('int shm_unlink(const char *name)');
  const poll = lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
  const clockGettime = lib.func('int clock_gettime(int clk, _Out_ uint8_t *ts)');
  const schedSetscheduler = lib.func('int sched_setscheduler(int pid, int policy, const uint8_t *param)');
  const mlockall = lib.func('int mlockall(int flags)');
  // prctl is variadic in glibc; its integer arguments travel as fixed ones would on x86-64, AArch64
  // and 32-bit Arm Linux, so the five-argument form the kernel takes is declared.
  const prctlInt = lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
  const clockNanosleep = lib.func('int clock_nanosleep(int clk, int flags, const uint8_t *ts, void *rem)');
  const getrlimit = lib.func('int getrlimit(int resource, _Out_ uint8_t *rlim)');
  const fchmod = lib.func('int fchmod(int fd, uint32_t mode)');
  const strerror = lib.func('const char *strerror(int errnum)');
  cached = {
    open: (p, f, m) => open(p, f, m) as number,
    close: (fd) => close(fd) as number,
    read: (fd, b, n) => Number(read(fd, b, n)),
    write: (fd, b, n) => Number(write(fd, b, n)),
    ioctlPtr: (fd, r, a) => ioctlPtr(fd, r, a) as number,
    ioctlInt: (fd, r, a) => ioctlInt(fd, r, a) as number,
    ftruncate: (fd, l) => ftruncate(fd, l) as number,
    mmap: (a, l, p, f, fd, o) => mmap(a, l, p, f, fd, o),
    munmap: (a, l) => munmap(a, l) as number,
    shmOpen: (n, f, m) => shmOpen(n, f, m) as number,
    shmUnlink: (n) => shmUnlink(n) as number,
    poll: (fds, n, t) => poll(fds, n, t) as number,
    clockGettime: (c, ts) => clockGettime(c, ts) as number,
    schedSetscheduler: (pid, pol, par) => schedSetscheduler(pid, pol, par) as number,
    mlockall: (f) => mlockall(f) as number,
    prctlInt: (o, a) => prctlInt(o, a, 0, 0, 0) as number,
    clockNanosleep: (c, f, ts) => clockNanosleep(c, f, ts, null) as number,
    getrlimit: (r, b) => getrlimit(r, b) as number,
    fchmod: (fd, m) => fchmod(fd, m) as number,
    errno: () => koffi.errno(),
    strerror: (e) => strerror(e) as string,
  };
  return cached;
}

/** Throws an Error naming the call and libc's text for errno when `rc` < 0. */
export function check(rc: number, what: string): number {
  if (rc < 0) {
    const e = libc().errno();
    const err = new Error(`${what}: ${libc().strerror(e)} (errno ${e})`) as Error & { errno: number };
    err.errno = e;
    throw err;
  }
  return rc;
}

/** Linux _IOC encoding (asm-generic/ioctl.h layout: nr 8 bits, type 8, size 14, dir 2). */
export function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;
export const IOWR = (type: number, nr: number, size: number) => ioc(IOC_READ | IOC_WRITE, type, nr, size);
export const IOR = (type: number, nr: number, size: number) => ioc(IOC_READ, type, nr, size);
export const IOW = (type: number, nr: number, size: number) => ioc(IOC_WRITE, type, nr, size);

// ---------------------------------------------------------------------------------------------
// Native memory and the extra calls the I2C and GPIO backends need (appended; see linuxIo()).
// ---------------------------------------------------------------------------------------------

/** Native memory at a stable address: for ioctl structs that hold pointers to other buffers. */
export interface NativeBuffer {
  /** koffi's pointer object, passed to calls declared with `void *`. */
  readonly ptr: unknown;
  /** The memory's address, for writing into structs that point at it. */
  readonly address: bigint;
  /** A view over the memory itself (not a copy). */
  readonly bytes: Uint8Array;
  free(): void;
}

/** Allocates zeroed native memory (never moved by the GC, unlike small on-heap typed arrays). */
export function allocNative(length: number): NativeBuffer {
  const ptr = koffi.alloc('uint8_t', length);
  const bytes = new Uint8Array(koffi.view(ptr, length));
  bytes.fill(0);
  let freed = false;
  return {
    ptr,
    address: koffi.address(ptr),
    bytes,
    free: () => {
      if (!freed) koffi.free(ptr);
      freed = true;
    },
  };
}

/** Size of a pointer (and of a C `long`) in this process: 8 on x86-64 and arm64, 4 on 32-bit Arm. */
export function pointerSize(): number {
  return koffi.sizeof('void *');
}

export interface LinuxIo {
  /** ioctl whose argument is native memory from allocNative (passed by address, never copied). */
  ioctlNative(fd: number, request: number, arg: unknown): number;
  eventfd(initval: number, flags: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
}

export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const F_GETFL = 3;
export const F_SETFL = 4;

let cachedIo: LinuxIo | undefined;

export function linuxIo(): LinuxIo {
  if (cachedIo) return cachedIo;
  const lib = koffi.load('libc.so.6');
  const ioctlNative = lib.func('int ioctl(int fd, unsigned long req, void *arg)');
  const eventfd = lib.func('int eventfd(unsigned int initval, int flags)');
  const fcntl = lib.func('fcntl', 'int', ['int', 'int', '...']);
  cachedIo = {
    ioctlNative: (fd, r, a) => ioctlNative(fd, r, a) as number,
    eventfd: (v, f) => eventfd(v, f) as number,
    fcntl: (fd, cmd, arg) => fcntl(fd, cmd, 'int', arg) as number,
  };
  return cachedIo;
}

// ---------------------------------------------------------------------------------------------
// Watching a socket's peer from another thread (appended for the stream service's engine; see
// src/engine/socket-hangup.ts).
// ---------------------------------------------------------------------------------------------

/** fcntl command: duplicate a descriptor onto the lowest free number ≥ arg, with FD_CLOEXEC set. */
export const F_DUPFD_CLOEXEC = 1030;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
/** The peer shut down its writing side or closed the socket (Linux, since 2.6.17). */
export const POLLRDHUP = 0x2000;

/**
 * A new descriptor for the same open file as `fd`, close-on-exec (so a process the caller later
 * spawns does not inherit it and keep a socket open). Throws (errno text) on failure.
 */
export function dupCloexec(fd: number): number {
  return check(linuxIo().fcntl(fd, F_DUPFD_CLOEXEC, 0), `fcntl(${fd}, F_DUPFD_CLOEXEC)`);
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

export interface PeerIo {
  /** pread(2) into `buf` (at most `n` bytes, from `offset`); -1 and errno on failure. */
  pread(fd: number, buf: Uint8Array, n: number, offset: number): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
}

let cachedPeerIo: PeerIo | undefined;

export function peerIo(): PeerIo {
  if (cachedPeerIo) return cachedPeerIo;
  const lib = koffi.load('libc.so.6');
  // ssize_t read as int: the counts asked for here are small, and the result register's low half is the int.
  const pread = lib.func('int pread(int fd, _Out_ uint8_t *buf, size_t n, int64_t offset)');
  cachedPeerIo = {
    pread: (fd, b, n, o) => pread(fd, b, n, o) as number,
    errno: () => koffi.errno(),
  };
  return cachedPeerIo;
}

/**
 * The pid of the process that connected a Unix socket (SO_PEERCRED: recorded by the kernel at
 * connect(2), as seen from this process's pid namespace), or undefined (0: not visible from here).
 */
let getsockoptFn: ReturnType<ReturnType<typeof koffi.load>["func"]> | undefined;

export function socketPeerPid(fd: number): number | undefined {
  const getsockopt = (getsockoptFn ??= koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint8_t *len)'));
  // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, socklen_t length.
  const cred = new Int32Array(3);
  const len = new Uint32Array([cred.byteLength]);
  const rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, new Uint8Array(cred.buffer), new Uint8Array(len.buffer)) as number;
  check(rc, `getsockopt(${fd}, SO_PEERCRED)`);
  return cred[0]! > 0 ? cred[0] : undefined;
}
