/**
 * A readiness thread: tells the main thread when a file descriptor becomes readable, so that a
 * library which owns the descriptor (libasound's sequencer, which buffers what it reads) can do the
 * reading itself, on the main thread, without the event loop ever blocking and without polling on
 * a timer.
 *
 * How: a worker blocks in poll() on every armed descriptor plus an eventfd that wakes it when the
 * set changes. When a descriptor is readable the worker disarms it (stops polling it: poll is
 * level-triggered, and the data stays there until the owner reads it) and posts "ready". The main
 * thread calls the owner, which drains the descriptor until it would block, then re-arms it. Data
 * that arrives between the drain and the re-arm is seen by the next poll, so nothing is missed.
 *
 * This follows the GPIO event thread (./gpio.ts), which reads the descriptors itself; that one is
 * left as it is because GPIO edge records are plain reads any thread can make, while a sequencer
 * handle must stay on one thread.
 *
 * Lifetime: the thread starts with the first watch and stops when the last watch is removed, so a
 * program that closed every watched descriptor has no thread left. While it watches something it
 * keeps the process alive, as an open socket does. An 'exit' hook wakes it and tells it to stop,
 * since Node cannot end a thread that sits in poll().
 */
import { createRequire } from 'node:module';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { ERRNO } from '../../util/errno.ts';
import { EFD_CLOEXEC, EFD_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLNVAL, libc, linuxIo } from './libc.ts';

/**
 * The worker, plain JavaScript evaluated from a string (it runs under whatever loader the main
 * program uses) that loads koffi from the path the main thread resolved. `watched` maps each fd to
 * whether it is armed.
 */
const READY_THREAD_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const poll = lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
const read = lib.func('long read(int fd, _Out_ uint8_t *buf, size_t n)');
const POLLIN = ${POLLIN};
const control = workerData.control;
const wakeFd = workerData.wakeFd;
const watched = new Map();
const counter = new Uint8Array(8);
let fds = new Uint8Array(8 * 16);
let running = true;
function takeControl() {
  for (let m = receiveMessageOnPort(control); m; m = receiveMessageOnPort(control)) {
    const msg = m.message;
    if (msg.op === 'add') { watched.set(msg.fd, true); parentPort.postMessage({ type: 'added', fd: msg.fd }); }
    else if (msg.op === 'arm') { if (watched.has(msg.fd)) watched.set(msg.fd, true); }
    else if (msg.op === 'remove') { watched.delete(msg.fd); parentPort.postMessage({ type: 'removed', fd: msg.fd }); }
    else if (msg.op === 'stop') { running = false; }
  }
}
takeControl();
while (running) {
  const order = [];
  for (const [fd, armed] of watched) if (armed) order.push(fd);
  if (fds.length < 8 * (order.length + 1)) fds = new Uint8Array(16 * (order.length + 1));
  const view = new DataView(fds.buffer);
  view.setInt32(0, wakeFd, true); view.setInt16(4, POLLIN, true); view.setInt16(6, 0, true);
  order.forEach((fd, i) => { view.setInt32(8 * (i + 1), fd, true); view.setInt16(8 * (i + 1) + 4, POLLIN, true); view.setInt16(8 * (i + 1) + 6, 0, true); });
  const n = poll(fds, order.length + 1, -1);
  if (n < 0) { if (koffi.errno() === ${ERRNO.EINTR}) continue; parentPort.postMessage({ type: 'fatal', errno: koffi.errno() }); break; }
  for (let i = 0; i < order.length; i++) {
    const revents = view.getInt16(8 * (i + 1) + 6, true);
    if (revents !== 0 && watched.has(order[i])) {
      watched.set(order[i], false);
      parentPort.postMessage({ type: 'ready', fd: order[i], revents });
    }
  }
  if (view.getInt16(6, true) & POLLIN) { read(wakeFd, counter, 8); takeControl(); }
}
`;

type ReadyThreadMessage =
  | { type: 'ready'; fd: number; revents: number }
  | { type: 'added'; fd: number }
  | { type: 'removed'; fd: number }
  | { type: 'fatal'; errno: number };

/** A descriptor being watched. */
export interface FdReadyWatch {
  readonly fd: number;
  /** Resolves once the thread no longer polls the descriptor (the owner may then close it). */
  remove(): Promise<void>;
}

interface Watch {
  onReady: (revents: number) => void;
  onFailure: (why: string) => void;
}

class FdReadyThread {
  private readonly worker: Worker;
  private readonly control: MessagePort;
  private readonly wakeFd: number;
  private readonly wakeBytes = new Uint8Array(8);
  private readonly watches = new Map<number, Watch>();
  private readonly acks = new Map<string, () => void>();
  private stopped = false;
  private readonly onExit = () => this.stop();

  constructor(private readonly onStopped: (t: FdReadyThread) => void) {
    this.wakeFd = linuxIo().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.wakeFd < 0) throw new Error(`eventfd: ${libc().strerror(libc().errno())}`);
    new DataView(this.wakeBytes.buffer).setUint32(0, 1, true);
    const channel = new MessageChannel();
    this.control = channel.port1;
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    this.worker = new Worker(READY_THREAD_SOURCE, {
      eval: true,
      workerData: { koffiPath, control: channel.port2, wakeFd: this.wakeFd },
      transferList: [channel.port2],
    });
    this.worker.on('message', (m: ReadyThreadMessage) => this.onMessage(m));
    this.worker.on('error', (e) => this.fail(`readiness thread failed: ${e.message}`));
    this.worker.on('exit', () => {
      this.stopped = true;
      libc().close(this.wakeFd);
      this.control.close();
      process.removeListener('exit', this.onExit);
      this.onStopped(this);
    });
    process.once('exit', this.onExit);
  }

  private fail(why: string): void {
    const watches = [...this.watches.values()];
    this.watches.clear();
    for (const a of this.acks.values()) a();
    this.acks.clear();
    for (const w of watches) w.onFailure(why);
    this.stop();
  }

  private onMessage(m: ReadyThreadMessage): void {
    switch (m.type) {
      case 'ready': {
        const w = this.watches.get(m.fd);
        if (!w) return;
        w.onReady(m.revents);
        // The owner has drained the descriptor; poll it again unless it was removed meanwhile or
        // is broken (an error or hang-up without data would wake the thread in a loop).
        if (this.watches.get(m.fd) !== w) return;
        if ((m.revents & POLLIN) === 0 && (m.revents & (POLLERR | POLLHUP | POLLNVAL)) !== 0) {
          this.watches.delete(m.fd);
          this.refresh();
          w.onFailure(`poll reported ${m.revents & POLLNVAL ? 'an invalid descriptor' : m.revents & POLLHUP ? 'a hang-up' : 'an error'} (revents 0x${m.revents.toString(16)})`);
          return;
        }
        this.send({ op: 'arm', fd: m.fd });
        break;
      }
      case 'added': case 'removed': {
        const key = `${m.type}:${m.fd}`;
        this.acks.get(key)?.();
        this.acks.delete(key);
        this.refresh();
        break;
      }
      case 'fatal': this.fail(`poll failed: ${libc().strerror(m.errno)} (errno ${m.errno})`); break;
    }
  }

  private send(msg: { op: 'add' | 'arm' | 'remove' | 'stop'; fd?: number }): void {
    if (this.stopped) return;
    this.control.postMessage(msg);
    libc().write(this.wakeFd, this.wakeBytes, 8);
  }

  /** Alive while it watches something or owes an answer; stopped once it watches nothing. */
  private refresh(): void {
    if (this.stopped) return;
    if (this.watches.size > 0 || this.acks.size > 0) this.worker.ref();
    else this.stop();
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.control.postMessage({ op: 'stop' });
    libc().write(this.wakeFd, this.wakeBytes, 8);
    this.worker.unref();
  }

  get running(): boolean {
    return !this.stopped;
  }

  add(fd: number, watch: Watch): Promise<void> {
    if (this.watches.has(fd)) return Promise.reject(new Error(`fd ${fd} is already watched`));
    this.watches.set(fd, watch);
    const done = new Promise<void>((resolve) => this.acks.set(`added:${fd}`, resolve));
    this.refresh();
    this.send({ op: 'add', fd });
    return done;
  }

  remove(fd: number): Promise<void> {
    if (!this.watches.delete(fd) || this.stopped) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.acks.set(`removed:${fd}`, resolve));
    this.refresh();
    this.send({ op: 'remove', fd });
    return done;
  }
}

let thread: FdReadyThread | undefined;

/**
 * Watches `fd` for readability. `onReady(revents)` runs on the main thread each time the fd is
 * readable (or reports an error) and must drain it until it would block; it is re-armed when
 * `onReady` returns. `onFailure` says why watching stopped (the fd hung up, or the thread failed).
 * Resolves once the thread polls the fd: from then on nothing that arrives is missed.
 */
export async function watchFdReadable(
  fd: number,
  onReady: (revents: number) => void,
  onFailure: (why: string) => void,
): Promise<FdReadyWatch> {
  if (!thread || !thread.running) {
    thread = new FdReadyThread((t) => {
      if (thread === t) thread = undefined;
    });
  }
  const t = thread;
  await t.add(fd, { onReady, onFailure });
  return { fd, remove: () => t.remove(fd) };
}

/** Whether a readiness thread runs now (tests check that closing everything leaves none). */
export function fdReadyThreadRunning(): boolean {
  return thread?.running ?? false;
}
