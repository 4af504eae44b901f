/**
 * GPIO on Linux through the GPIO character device (/dev/gpiochipN), uAPI v2, with ioctls made
 * through koffi.
 *
 * The first half is the uAPI as bytes: ioctl numbers, flags and the packing of the structs the
 * backend exchanges with the kernel (pure functions, unit-tested without a kernel). Facts
 * (numbers, flags, struct layouts) are from the kernel's include/uapi/linux/gpio.h. All v2
 * structs use fixed-width, explicitly padded fields, so their layout does not depend on the
 * pointer size (the same on 32-bit Arm, arm64 and x86-64).
 *
 * The second half is the backend: a chip, its line requests, and one event thread per process
 * that waits for edges so the event loop never blocks.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import {
  GpioError,
  type GpioChip,
  type GpioChipInfo,
  type GpioEdgeEvent,
  type GpioLineConfig,
  type GpioLineInfo,
  type GpioLineRequest,
  type GpioValue,
} from '../gpio.ts';
import { ERRNO } from '../../util/errno.ts';
import { EFD_CLOEXEC, EFD_NONBLOCK, IOR, IOWR, O_CLOEXEC, O_RDWR, libc, linuxIo } from './libc.ts';

export const GPIO_MAX_NAME_SIZE = 32;
export const GPIO_V2_LINES_MAX = 64;
export const GPIO_V2_LINE_NUM_ATTRS_MAX = 10;

// struct sizes (gpio.h)
export const GPIOCHIP_INFO_SIZE = 68; // name[32] label[32] lines
export const GPIO_V2_LINE_ATTRIBUTE_SIZE = 16; // id, padding, union{u64}
export const GPIO_V2_LINE_CONFIG_ATTRIBUTE_SIZE = 24; // attr, mask
export const GPIO_V2_LINE_CONFIG_SIZE = 8 + 4 + 5 * 4 + GPIO_V2_LINE_NUM_ATTRS_MAX * GPIO_V2_LINE_CONFIG_ATTRIBUTE_SIZE; // 272
export const GPIO_V2_LINE_REQUEST_SIZE = GPIO_V2_LINES_MAX * 4 + GPIO_MAX_NAME_SIZE + GPIO_V2_LINE_CONFIG_SIZE + 4 + 4 + 5 * 4 + 4; // 592
export const GPIO_V2_LINE_INFO_SIZE = 2 * GPIO_MAX_NAME_SIZE + 4 + 4 + 8 + GPIO_V2_LINE_NUM_ATTRS_MAX * GPIO_V2_LINE_ATTRIBUTE_SIZE + 4 * 4; // 256
export const GPIO_V2_LINE_VALUES_SIZE = 16;
export const GPIO_V2_LINE_EVENT_SIZE = 8 + 4 * 4 + 6 * 4; // 48

// field offsets
export const REQ_CONSUMER_OFFSET = GPIO_V2_LINES_MAX * 4; // 256
export const REQ_CONFIG_OFFSET = REQ_CONSUMER_OFFSET + GPIO_MAX_NAME_SIZE; // 288
export const REQ_NUM_LINES_OFFSET = REQ_CONFIG_OFFSET + GPIO_V2_LINE_CONFIG_SIZE; // 560
export const REQ_EVENT_BUFFER_SIZE_OFFSET = REQ_NUM_LINES_OFFSET + 4; // 564
export const REQ_FD_OFFSET = REQ_EVENT_BUFFER_SIZE_OFFSET + 4 + 5 * 4; // 588
export const CONFIG_NUM_ATTRS_OFFSET = 8;
export const CONFIG_ATTRS_OFFSET = 32;
export const INFO_OFFSET_OFFSET = 64;
export const INFO_NUM_ATTRS_OFFSET = 68;
export const INFO_FLAGS_OFFSET = 72;
export const INFO_ATTRS_OFFSET = 80;

// ioctls (gpio.h): type 0xB4
export const GPIO_GET_CHIPINFO_IOCTL = IOR(0xb4, 0x01, GPIOCHIP_INFO_SIZE);
export const GPIO_V2_GET_LINEINFO_IOCTL = IOWR(0xb4, 0x05, GPIO_V2_LINE_INFO_SIZE);
export const GPIO_V2_GET_LINE_IOCTL = IOWR(0xb4, 0x07, GPIO_V2_LINE_REQUEST_SIZE);
export const GPIO_V2_LINE_SET_CONFIG_IOCTL = IOWR(0xb4, 0x0d, GPIO_V2_LINE_CONFIG_SIZE);
export const GPIO_V2_LINE_GET_VALUES_IOCTL = IOWR(0xb4, 0x0e, GPIO_V2_LINE_VALUES_SIZE);
export const GPIO_V2_LINE_SET_VALUES_IOCTL = IOWR(0xb4, 0x0f, GPIO_V2_LINE_VALUES_SIZE);

// enum gpio_v2_line_flag (bits of a u64; all below bit 32)
export const GPIO_V2_LINE_FLAG_USED = 1 << 0;
export const GPIO_V2_LINE_FLAG_ACTIVE_LOW = 1 << 1;
export const GPIO_V2_LINE_FLAG_INPUT = 1 << 2;
export const GPIO_V2_LINE_FLAG_OUTPUT = 1 << 3;
export const GPIO_V2_LINE_FLAG_EDGE_RISING = 1 << 4;
export const GPIO_V2_LINE_FLAG_EDGE_FALLING = 1 << 5;
export const GPIO_V2_LINE_FLAG_OPEN_DRAIN = 1 << 6;
export const GPIO_V2_LINE_FLAG_OPEN_SOURCE = 1 << 7;
export const GPIO_V2_LINE_FLAG_BIAS_PULL_UP = 1 << 8;
export const GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN = 1 << 9;
export const GPIO_V2_LINE_FLAG_BIAS_DISABLED = 1 << 10;

// enum gpio_v2_line_attr_id
export const GPIO_V2_LINE_ATTR_ID_FLAGS = 1;
export const GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES = 2;
export const GPIO_V2_LINE_ATTR_ID_DEBOUNCE = 3;

// enum gpio_v2_line_event_id
export const GPIO_V2_LINE_EVENT_RISING_EDGE = 1;
export const GPIO_V2_LINE_EVENT_FALLING_EDGE = 2;

/** The line flags a HAL line configuration asks for. */
export function configFlags(config: GpioLineConfig): number {
  let flags = config.activeLow ? GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0;
  if (config.direction === 'input') {
    flags |= GPIO_V2_LINE_FLAG_INPUT;
    const edge = config.edge ?? 'none';
    if (edge === 'rising' || edge === 'both') flags |= GPIO_V2_LINE_FLAG_EDGE_RISING;
    if (edge === 'falling' || edge === 'both') flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
    switch (config.bias ?? 'as-is') {
      case 'pull-up': flags |= GPIO_V2_LINE_FLAG_BIAS_PULL_UP; break;
      case 'pull-down': flags |= GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN; break;
      case 'disabled': flags |= GPIO_V2_LINE_FLAG_BIAS_DISABLED; break;
      case 'as-is': break;
    }
  } else {
    flags |= GPIO_V2_LINE_FLAG_OUTPUT;
    switch (config.drive ?? 'push-pull') {
      case 'open-drain': flags |= GPIO_V2_LINE_FLAG_OPEN_DRAIN; break;
      case 'open-source': flags |= GPIO_V2_LINE_FLAG_OPEN_SOURCE; break;
      case 'push-pull': break;
    }
  }
  return flags;
}

/** Writes a u64 made of a number below 2^53 (little-endian host). */
function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 0x1_0000_0000;
}

/** Bitmap of the first `n` request indexes, as a u64 written in two halves. */
function setLowBits(view: DataView, offset: number, n: number): void {
  const lowWord = (bits: number) => (bits >= 32 ? 0xffffffff : 2 ** Math.max(0, bits) - 1);
  view.setUint32(offset, lowWord(n), true);
  view.setUint32(offset + 4, lowWord(n - 32), true);
}

function writeName(bytes: Uint8Array, offset: number, text: string): void {
  const encoded = new TextEncoder().encode(text).subarray(0, GPIO_MAX_NAME_SIZE - 1);
  bytes.fill(0, offset, offset + GPIO_MAX_NAME_SIZE);
  bytes.set(encoded, offset);
}

function readName(bytes: Uint8Array, offset: number): string {
  const field = bytes.subarray(offset, offset + GPIO_MAX_NAME_SIZE);
  const end = field.indexOf(0);
  return new TextDecoder().decode(field.subarray(0, end < 0 ? field.length : end));
}

/** Packs struct gpio_v2_line_request for GPIO_V2_GET_LINE_IOCTL. */
export function encodeLineRequest(offsets: readonly number[], config: GpioLineConfig, consumer: string): Uint8Array {
  if (offsets.length < 1 || offsets.length > GPIO_V2_LINES_MAX) {
    throw new RangeError(`a request holds 1..${GPIO_V2_LINES_MAX} lines, got ${offsets.length}`);
  }
  const bytes = new Uint8Array(GPIO_V2_LINE_REQUEST_SIZE);
  const view = new DataView(bytes.buffer);
  offsets.forEach((o, i) => view.setUint32(i * 4, o, true));
  writeName(bytes, REQ_CONSUMER_OFFSET, consumer);
  const cfg = REQ_CONFIG_OFFSET;
  setU64(view, cfg, configFlags(config));
  let numAttrs = 0;
  const addAttr = (id: number, value: (v: DataView, at: number) => void) => {
    const at = cfg + CONFIG_ATTRS_OFFSET + numAttrs * GPIO_V2_LINE_CONFIG_ATTRIBUTE_SIZE;
    view.setUint32(at, id, true);
    value(view, at + 8);
    setLowBits(view, at + GPIO_V2_LINE_ATTRIBUTE_SIZE, offsets.length); // applies to every line
    numAttrs++;
  };
  if (config.direction === 'input' && config.debounceUs !== undefined && config.debounceUs > 0) {
    const us = config.debounceUs;
    addAttr(GPIO_V2_LINE_ATTR_ID_DEBOUNCE, (v, at) => v.setUint32(at, us, true));
  }
  if (config.direction === 'output' && config.initial !== undefined) {
    const on = config.initial === 1;
    addAttr(GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES, (v, at) => (on ? setLowBits(v, at, offsets.length) : setU64(v, at, 0)));
  }
  view.setUint32(cfg + CONFIG_NUM_ATTRS_OFFSET, numAttrs, true);
  view.setUint32(REQ_NUM_LINES_OFFSET, offsets.length, true);
  view.setUint32(REQ_EVENT_BUFFER_SIZE_OFFSET, 0, true); // 0: the kernel's default (16 per line)
  view.setInt32(REQ_FD_OFFSET, -1, true);
  return bytes;
}

/** The request fd the kernel wrote into a struct gpio_v2_line_request. */
export function requestFd(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getInt32(REQ_FD_OFFSET, true);
}

export function decodeChipInfo(bytes: Uint8Array): GpioChipInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { name: readName(bytes, 0), label: readName(bytes, GPIO_MAX_NAME_SIZE), lines: view.getUint32(2 * GPIO_MAX_NAME_SIZE, true) };
}

/** Packs the query for GPIO_V2_GET_LINEINFO_IOCTL (offset set, everything else zero). */
export function encodeLineInfoQuery(offset: number, into = new Uint8Array(GPIO_V2_LINE_INFO_SIZE)): Uint8Array {
  into.fill(0);
  new DataView(into.buffer, into.byteOffset, into.byteLength).setUint32(INFO_OFFSET_OFFSET, offset, true);
  return into;
}

export interface DecodedLineInfo extends GpioLineInfo {
  /** Raw gpio_v2_line_flag bits. */
  flags: number;
  /** Debounce period in µs, 0 when none (from the DEBOUNCE attribute). */
  debounceUs: number;
}

export function decodeLineInfo(bytes: Uint8Array): DecodedLineInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = getU64(view, INFO_FLAGS_OFFSET);
  const numAttrs = Math.min(view.getUint32(INFO_NUM_ATTRS_OFFSET, true), GPIO_V2_LINE_NUM_ATTRS_MAX);
  let debounceUs = 0;
  for (let i = 0; i < numAttrs; i++) {
    const at = INFO_ATTRS_OFFSET + i * GPIO_V2_LINE_ATTRIBUTE_SIZE;
    if (view.getUint32(at, true) === GPIO_V2_LINE_ATTR_ID_DEBOUNCE) debounceUs = view.getUint32(at + 8, true);
  }
  return {
    offset: view.getUint32(INFO_OFFSET_OFFSET, true),
    name: readName(bytes, 0),
    consumer: readName(bytes, GPIO_MAX_NAME_SIZE),
    used: (flags & GPIO_V2_LINE_FLAG_USED) !== 0,
    direction: (flags & GPIO_V2_LINE_FLAG_OUTPUT) !== 0 ? 'output' : 'input',
    activeLow: (flags & GPIO_V2_LINE_FLAG_ACTIVE_LOW) !== 0,
    flags,
    debounceUs,
  };
}

/** Decodes whole struct gpio_v2_line_event records from what a read() of the request fd returned. */
export function decodeLineEvents(bytes: Uint8Array): GpioEdgeEvent[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: GpioEdgeEvent[] = [];
  for (let at = 0; at + GPIO_V2_LINE_EVENT_SIZE <= bytes.byteLength; at += GPIO_V2_LINE_EVENT_SIZE) {
    const id = view.getUint32(at + 8, true);
    events.push({
      timestampNs: getU64(view, at),
      edge: id === GPIO_V2_LINE_EVENT_RISING_EDGE ? 'rising' : 'falling',
      offset: view.getUint32(at + 12, true),
      seqno: view.getUint32(at + 16, true),
      lineSeqno: view.getUint32(at + 20, true),
    });
  }
  return events;
}

/** struct gpio_v2_line_values with one bit (request index) in the mask, and in bits when `value` is 1. */
export function encodeLineValues(index: number, value: 0 | 1, into = new Uint8Array(GPIO_V2_LINE_VALUES_SIZE)): Uint8Array {
  into.fill(0);
  const word = index >= 32 ? 4 : 0;
  const bit = (1 << (index % 32)) >>> 0;
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength);
  view.setUint32(8 + word, bit, true);
  if (value) view.setUint32(word, bit, true);
  return into;
}

/** The bit of request index `index` in a struct gpio_v2_line_values the kernel filled. */
export function lineValueBit(bytes: Uint8Array, index: number): 0 | 1 {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = view.getUint32(index >= 32 ? 4 : 0, true);
  return ((word >>> (index % 32)) & 1) as 0 | 1;
}

// ---------------------------------------------------------------------------------------------
// The backend: chips, line requests, and one event thread per process.
// ---------------------------------------------------------------------------------------------

/**
 * The event thread: a worker that blocks in poll() on every request fd with edge detection (plus
 * an eventfd used to wake it when the set changes) and posts what read() returned to the main
 * thread. Edges therefore reach listeners without the event loop ever blocking, without polling
 * on a timer, and without holding a libuv thread-pool thread.
 *
 * The worker is plain JavaScript evaluated from a string so that it runs whatever loader (tsx or
 * none) the main program uses; it loads koffi from the path the main thread resolved.
 *
 * Node cannot end a thread that sits in a native call, so the process could not exit while the
 * worker waits in poll(). Two things prevent that: an 'exit' hook wakes the worker and tells it to
 * stop, and poll() returns at least once a second so a terminated worker notices.
 */
const EVENT_THREAD_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const poll = lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
const read = lib.func('long read(int fd, _Out_ uint8_t *buf, size_t n)');
const POLLIN = 1, POLLERR = 8, POLLHUP = 16, POLLNVAL = 32;
const control = workerData.control;
const wakeFd = workerData.wakeFd;
const watched = [];
const buf = new Uint8Array(workerData.eventSize * 64);
const counter = new Uint8Array(8);
let running = true;
function takeControl() {
  for (let m = receiveMessageOnPort(control); m; m = receiveMessageOnPort(control)) {
    const msg = m.message;
    if (msg.op === 'add') {
      if (!watched.includes(msg.fd)) watched.push(msg.fd);
      parentPort.postMessage({ type: 'added', fd: msg.fd });
    } else if (msg.op === 'remove') {
      const i = watched.indexOf(msg.fd);
      if (i >= 0) watched.splice(i, 1);
      parentPort.postMessage({ type: 'removed', fd: msg.fd });
    } else if (msg.op === 'stop') { running = false; }
  }
}
takeControl();
while (running) {
  const fds = new Uint8Array(8 * (watched.length + 1));
  const view = new DataView(fds.buffer);
  view.setInt32(0, wakeFd, true); view.setInt16(4, POLLIN, true);
  watched.forEach((fd, i) => { view.setInt32(8 * (i + 1), fd, true); view.setInt16(8 * (i + 1) + 4, POLLIN, true); });
  const n = poll(fds, watched.length + 1, 1000);
  if (n < 0) { if (koffi.errno() === ${ERRNO.EINTR}) continue; parentPort.postMessage({ type: 'fatal', errno: koffi.errno() }); break; }
  if (n === 0) continue;
  const order = watched.slice();
  for (let i = 0; i < order.length; i++) {
    const revents = view.getInt16(8 * (i + 1) + 6, true);
    if (revents & POLLIN) {
      const got = Number(read(order[i], buf, buf.length));
      if (got > 0) parentPort.postMessage({ type: 'events', fd: order[i], bytes: buf.slice(0, got) });
    } else if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
      const j = watched.indexOf(order[i]);
      if (j >= 0) watched.splice(j, 1);
      parentPort.postMessage({ type: 'lost', fd: order[i], revents });
    }
  }
  if (view.getInt16(6, true) & POLLIN) { read(wakeFd, counter, 8); takeControl(); }
}
`;

type EventThreadMessage =
  | { type: 'events'; fd: number; bytes: Uint8Array }
  | { type: 'added'; fd: number }
  | { type: 'removed'; fd: number }
  | { type: 'lost'; fd: number; revents: number }
  | { type: 'fatal'; errno: number };

interface Watch {
  sink: (bytes: Uint8Array | null) => void;
  /** Whether someone listens; only then does the thread keep the process alive. */
  interested: boolean;
}

class GpioEventThread {
  private readonly worker: Worker;
  private readonly control: MessagePort;
  private readonly wakeFd: number;
  private readonly watches = new Map<number, Watch>();
  private readonly acks = new Map<string, () => void>();
  private readonly wakeBytes = new Uint8Array(8);
  private stopped = false;

  constructor() {
    this.wakeFd = linuxIo().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.wakeFd < 0) throw new Error(`eventfd: ${libc().strerror(libc().errno())}`);
    new DataView(this.wakeBytes.buffer).setUint32(0, 1, true);
    const channel = new MessageChannel();
    this.control = channel.port1;
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    this.worker = new Worker(EVENT_THREAD_SOURCE, {
      eval: true,
      workerData: { koffiPath, control: channel.port2, wakeFd: this.wakeFd, eventSize: GPIO_V2_LINE_EVENT_SIZE },
      transferList: [channel.port2],
    });
    this.worker.on('message', (m: EventThreadMessage) => this.onMessage(m));
    this.worker.on('error', (e) => {
      for (const w of this.watches.values()) w.sink(null);
      this.watches.clear();
      process.emitWarning(`GPIO event thread failed: ${e.message}`);
    });
    this.worker.unref();
    process.once('exit', () => this.stopSync());
  }

  private onMessage(m: EventThreadMessage): void {
    switch (m.type) {
      case 'events': this.watches.get(m.fd)?.sink(m.bytes); break;
      case 'added': case 'removed': {
        const key = `${m.type}:${m.fd}`;
        this.acks.get(key)?.();
        this.acks.delete(key);
        break;
      }
      case 'lost': this.watches.get(m.fd)?.sink(null); this.watches.delete(m.fd); this.refresh(); break;
      case 'fatal': process.emitWarning(`GPIO event thread: poll failed (errno ${m.errno})`); break;
    }
  }

  private wake(): void {
    libc().write(this.wakeFd, this.wakeBytes, 8);
  }

  /** The thread keeps the process alive while someone listens, as any pending I/O does. */
  private refresh(): void {
    if (this.acks.size > 0 || [...this.watches.values()].some((w) => w.interested)) this.worker.ref();
    else this.worker.unref();
  }

  private request(op: 'add' | 'remove', fd: number): Promise<void> {
    const done = new Promise<void>((resolve) => this.acks.set(`${op === 'add' ? 'added' : 'removed'}:${fd}`, resolve));
    this.refresh(); // waiting for the answer keeps the process alive
    this.control.postMessage({ op, fd });
    this.wake();
    return done.then(() => this.refresh());
  }

  /** Resolves once the thread polls `fd`: from then on no edge is missed. */
  add(fd: number, sink: (bytes: Uint8Array | null) => void): Promise<void> {
    this.watches.set(fd, { sink, interested: false });
    return this.request('add', fd);
  }

  setInterested(fd: number, interested: boolean): void {
    const w = this.watches.get(fd);
    if (w) w.interested = interested;
    this.refresh();
  }

  /** Resolves once the thread no longer polls `fd` (so the caller may close it). */
  remove(fd: number): Promise<void> {
    if (!this.watches.delete(fd)) return Promise.resolve();
    return this.request('remove', fd);
  }

  private stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.control.postMessage({ op: 'stop' });
    this.wake();
  }
}

let eventThread: GpioEventThread | undefined;

function theEventThread(): GpioEventThread {
  return (eventThread ??= new GpioEventThread());
}

/** Reads a u32 errno-carrying result; throws GpioError when negative. */
function gpioCheck(rc: number, chip: string, offset: number | undefined, what: string): number {
  if (rc >= 0) return rc;
  const e = libc().errno();
  throw new GpioError(chip, offset, `${what}: ${libc().strerror(e)} (errno ${e})`, e);
}

/** Events kept for a request with edge detection while nobody listens (the kernel keeps 16 per line). */
const MAX_QUEUED_EVENTS = 1024;

export class LinuxGpioLineRequest implements GpioLineRequest {
  readonly offsets: readonly number[];
  private fd: number;
  private readonly listeners = new Set<(ev: GpioEdgeEvent) => void>();
  /** Edges that arrived before anyone listened, delivered to the first listener. */
  private queued: GpioEdgeEvent[] = [];
  private watched = false;
  private readonly values = new Uint8Array(GPIO_V2_LINE_VALUES_SIZE);

  constructor(readonly chipName: string, offsets: readonly number[], readonly config: GpioLineConfig, fd: number) {
    this.offsets = [...offsets];
    this.fd = fd;
  }

  /** Starts watching for edges (requests with edge detection); resolves once none can be missed. */
  async startWatching(): Promise<void> {
    this.watched = true;
    await theEventThread().add(this.fd, (bytes) => {
      if (bytes === null) return; // the device went away; release() still closes the fd
      const events = decodeLineEvents(bytes);
      if (this.listeners.size === 0) {
        this.queued.push(...events);
        if (this.queued.length > MAX_QUEUED_EVENTS) this.queued.splice(0, this.queued.length - MAX_QUEUED_EVENTS);
        return;
      }
      for (const ev of events) for (const l of [...this.listeners]) l(ev);
    });
  }

  private index(offset: number): number {
    const i = this.offsets.indexOf(offset);
    if (i < 0) throw new GpioError(this.chipName, offset, `line is not part of this request (${this.offsets.join(', ')})`);
    return i;
  }

  private ensureOpen(offset?: number): void {
    if (this.fd < 0) throw new GpioError(this.chipName, offset, 'request was released');
  }

  getValue(offset: number): GpioValue {
    this.ensureOpen(offset);
    const i = this.index(offset);
    encodeLineValues(i, 0, this.values);
    gpioCheck(libc().ioctlPtr(this.fd, GPIO_V2_LINE_GET_VALUES_IOCTL, this.values), this.chipName, offset, 'get value');
    return lineValueBit(this.values, i);
  }

  setValue(offset: number, value: GpioValue): void {
    this.ensureOpen(offset);
    const i = this.index(offset);
    if (this.config.direction !== 'output') throw new GpioError(this.chipName, offset, 'cannot set the value of an input line');
    encodeLineValues(i, value, this.values);
    gpioCheck(libc().ioctlPtr(this.fd, GPIO_V2_LINE_SET_VALUES_IOCTL, this.values), this.chipName, offset, 'set value');
  }

  onEdge(listener: (ev: GpioEdgeEvent) => void): () => void {
    this.ensureOpen();
    this.listeners.add(listener);
    if (this.listeners.size === 1 && this.watched) {
      theEventThread().setInterested(this.fd, true);
      const backlog = this.queued;
      this.queued = [];
      if (backlog.length) queueMicrotask(() => { for (const ev of backlog) listener(ev); });
    }
    return () => {
      if (this.listeners.delete(listener) && this.listeners.size === 0 && this.watched && this.fd >= 0) {
        theEventThread().setInterested(this.fd, false);
      }
    };
  }

  async release(): Promise<void> {
    this.ensureOpen();
    this.listeners.clear();
    const fd = this.fd;
    this.fd = -1;
    if (this.watched) await theEventThread().remove(fd);
    libc().close(fd);
  }
}

export class LinuxGpioChip implements GpioChip {
  private fd: number;
  private readonly chipInfo: GpioChipInfo;
  private readonly infoBytes = new Uint8Array(GPIO_V2_LINE_INFO_SIZE);

  constructor(readonly path: string) {
    const c = libc();
    const fd = c.open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
      const e = c.errno();
      throw new GpioError(path, undefined, `cannot open: ${c.strerror(e)}`, e);
    }
    this.fd = fd;
    const bytes = new Uint8Array(GPIOCHIP_INFO_SIZE);
    if (c.ioctlPtr(fd, GPIO_GET_CHIPINFO_IOCTL, bytes) < 0) {
      const e = c.errno();
      c.close(fd);
      throw new GpioError(path, undefined, `GPIO_GET_CHIPINFO_IOCTL: ${c.strerror(e)} (is this a GPIO character device?)`, e);
    }
    this.chipInfo = decodeChipInfo(bytes);
  }

  private ensureOpen(offset?: number): void {
    if (this.fd < 0) throw new GpioError(this.chipInfo.name, offset, 'chip is closed');
  }

  info(): GpioChipInfo {
    return { ...this.chipInfo };
  }

  /** Line info including raw flags and the debounce period the kernel reports. */
  lineInfoDetailed(offset: number): DecodedLineInfo {
    this.ensureOpen(offset);
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.chipInfo.lines) {
      throw new GpioError(this.chipInfo.name, offset, `no such line (chip has ${this.chipInfo.lines})`);
    }
    encodeLineInfoQuery(offset, this.infoBytes);
    gpioCheck(libc().ioctlPtr(this.fd, GPIO_V2_GET_LINEINFO_IOCTL, this.infoBytes), this.chipInfo.name, offset, 'line info');
    return decodeLineInfo(this.infoBytes);
  }

  lineInfo(offset: number): GpioLineInfo {
    const { flags: _flags, debounceUs: _debounce, ...info } = this.lineInfoDetailed(offset);
    return info;
  }

  findLine(name: string): number | undefined {
    for (let o = 0; o < this.chipInfo.lines; o++) if (this.lineInfoDetailed(o).name === name) return o;
    return undefined;
  }

  async requestLines(offsets: readonly number[], config: GpioLineConfig, consumer: string): Promise<GpioLineRequest> {
    this.ensureOpen();
    for (const o of offsets) {
      if (!Number.isInteger(o) || o < 0 || o >= this.chipInfo.lines) {
        throw new GpioError(this.chipInfo.name, o, `no such line (chip has ${this.chipInfo.lines})`);
      }
    }
    if (new Set(offsets).size !== offsets.length) throw new GpioError(this.chipInfo.name, undefined, 'a line is requested twice');
    if (config.direction === 'input' && config.debounceUs !== undefined && (!Number.isInteger(config.debounceUs) || config.debounceUs < 0)) {
      throw new GpioError(this.chipInfo.name, offsets[0], `debounce must be a whole number of µs, got ${config.debounceUs}`);
    }
    const bytes = encodeLineRequest(offsets, config, consumer);
    if (libc().ioctlPtr(this.fd, GPIO_V2_GET_LINE_IOCTL, bytes) < 0) {
      const e = libc().errno();
      let why = `${libc().strerror(e)} (errno ${e})`;
      if (e === ERRNO.EBUSY) {
        const held = offsets.map((o) => this.lineInfoDetailed(o)).filter((i) => i.used);
        why = `line busy${held.length ? ` (held by ${held.map((i) => `${i.offset}: '${i.consumer || 'kernel'}'`).join(', ')})` : ''}`;
      }
      throw new GpioError(this.chipInfo.name, offsets.length === 1 ? offsets[0] : undefined, `request failed: ${why}`, e);
    }
    const request = new LinuxGpioLineRequest(this.chipInfo.name, offsets, config, requestFd(bytes));
    if (config.direction === 'input' && (config.edge ?? 'none') !== 'none') await request.startWatching();
    return request;
  }

  async close(): Promise<void> {
    // Requests hold their own fds and stay valid after the chip fd closes, as in the kernel.
    if (this.fd >= 0) libc().close(this.fd);
    this.fd = -1;
  }
}

/**
 * Opens a chip by device name ('gpiochip0'), path ('/dev/gpiochip0') or label
 * ('pinctrl-bcm2711', 'gpio-sim.0-node0').
 */
export function openLinuxGpioChip(spec: string): LinuxGpioChip {
  if (spec.startsWith('/')) return new LinuxGpioChip(spec);
  if (/^gpiochip\d+$/.test(spec)) return new LinuxGpioChip(`/dev/${spec}`);
  const devices = readdirSync('/dev').filter((n) => /^gpiochip\d+$/.test(n)).sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
  for (const d of devices) {
    let chip: LinuxGpioChip | undefined;
    try {
      chip = new LinuxGpioChip(`/dev/${d}`);
    } catch {
      continue;
    }
    if (chip.info().label === spec) return chip;
    void chip.close();
  }
  throw new GpioError(spec, undefined, `no GPIO chip with that name or label (have: ${devices.join(', ') || 'none'})`);
}
