/**
 * I2C register access: the HAL contract every I2C backend (Linux i2c-dev, simulated bus) meets.
 *
 * Two families of operation, because real adapters differ:
 *  - `transfer`: one or more messages in a single combined transaction (repeated start between
 *    them), as Linux's I2C_RDWR does. Needed for 16-bit register addresses and for reading a
 *    register without releasing the bus.
 *  - SMBus operations (byte / word data, block) for adapters that only speak SMBus, such as
 *    Linux's i2c-stub and some SoC controllers.
 * `functionality()` says which an adapter supports; an unsupported call fails with fault
 * 'unsupported', never silently.
 */

export type I2cWriteMessage = { readonly kind: 'write'; readonly addr: number; readonly data: Uint8Array };
export type I2cReadMessage = { readonly kind: 'read'; readonly addr: number; readonly length: number };
export type I2cMessage = I2cWriteMessage | I2cReadMessage;

/** What an adapter can do (Linux I2C_FUNCS, reduced to what drivers choose between). */
export interface I2cFunctionality {
  /** Plain I2C messages and combined transfers (I2C_FUNC_I2C). */
  readonly i2c: boolean;
  readonly tenBitAddress: boolean;
  readonly smbusQuick: boolean;
  readonly smbusByte: boolean;
  readonly smbusByteData: boolean;
  readonly smbusWordData: boolean;
  readonly smbusBlockData: boolean;
  /** SMBus "I2C block" read/write (block without a length byte). */
  readonly smbusI2cBlock: boolean;
}

/** Why a bus operation failed. */
export type I2cFault =
  | 'nack' // no device acknowledged the address or a data byte (ENXIO / EREMOTEIO)
  | 'timeout' // the adapter gave up waiting (ETIMEDOUT)
  | 'arbitration-lost' // another master won the bus (EAGAIN on most adapters)
  | 'unsupported' // the adapter cannot do this kind of transfer (EOPNOTSUPP)
  | 'bus-error' // a protocol error on the wire (EPROTO, EIO)
  | 'invalid' // a bad argument (address out of range, oversized block)
  | 'closed'; // the bus handle was closed

export interface I2cErrorInfo {
  bus: string;
  addr: number;
  /** The register, when the operation addressed one. */
  reg?: number;
  /** A name for the register when a caller (a codec's register map) knows it. */
  regName?: string;
  fault: I2cFault;
  /** The operation that failed, e.g. 'transfer', 'readByteData'. */
  op: string;
  /** Kernel errno where there is one. */
  errno?: number;
  detail?: string;
}

export class I2cError extends Error {
  readonly bus: string;
  readonly addr: number;
  readonly reg: number | undefined;
  readonly regName: string | undefined;
  readonly fault: I2cFault;
  readonly op: string;
  readonly errno: number | undefined;

  constructor(info: I2cErrorInfo) {
    const where =
      `${info.bus} addr 0x${hex2(info.addr)}` +
      (info.reg !== undefined ? ` reg 0x${info.reg.toString(16).padStart(2, '0')}` : '') +
      (info.regName ? ` (${info.regName})` : '');
    super(`I2C ${info.op} failed on ${where}: ${describeFault(info.fault)}${info.detail ? ` (${info.detail})` : ''}`);
    this.name = 'I2cError';
    this.bus = info.bus;
    this.addr = info.addr;
    this.reg = info.reg;
    this.regName = info.regName;
    this.fault = info.fault;
    this.op = info.op;
    this.errno = info.errno;
  }

  /** The same error with the register (and its name) filled in by a caller that knows them. */
  withRegister(reg: number, regName?: string): I2cError {
    return new I2cError({
      bus: this.bus, addr: this.addr, reg, regName: regName ?? this.regName, fault: this.fault,
      op: this.op, errno: this.errno, detail: undefined,
    });
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export function describeFault(f: I2cFault): string {
  switch (f) {
    case 'nack': return 'no acknowledge from the device';
    case 'timeout': return 'timed out';
    case 'arbitration-lost': return 'arbitration lost';
    case 'unsupported': return 'not supported by this adapter';
    case 'bus-error': return 'bus error';
    case 'invalid': return 'invalid argument';
    case 'closed': return 'bus is closed';
  }
}

/** The operations of a bus. `I2cBus` takes the bus lock around each; an `exclusive` session holds it. */
export interface I2cOps {
  /** Runs the messages as one combined transaction; returns the data of each read message, in order. */
  transfer(msgs: readonly I2cMessage[]): Promise<Uint8Array[]>;
  readByte(addr: number): Promise<number>;
  writeByte(addr: number, value: number): Promise<void>;
  readByteData(addr: number, reg: number): Promise<number>;
  writeByteData(addr: number, reg: number, value: number): Promise<void>;
  /** SMBus word: little-endian on the wire (low byte first), as SMBus defines. */
  readWordData(addr: number, reg: number): Promise<number>;
  writeWordData(addr: number, reg: number, value: number): Promise<void>;
  /** SMBus block read (the device sends the count first), up to 32 bytes. */
  readBlockData(addr: number, reg: number): Promise<Uint8Array>;
  writeBlockData(addr: number, reg: number, data: Uint8Array): Promise<void>;
  /** SMBus I2C-block read of `length` bytes (no count byte), up to 32. */
  readI2cBlockData(addr: number, reg: number, length: number): Promise<Uint8Array>;
  writeI2cBlockData(addr: number, reg: number, data: Uint8Array): Promise<void>;
}

export interface I2cBus extends I2cOps {
  /** e.g. 'i2c-1' for /dev/i2c-1, 'sim-i2c-1' for a simulated bus. */
  readonly name: string;
  functionality(): I2cFunctionality;
  /**
   * Holds the bus lock for the whole of `fn` (e.g. a page select followed by writes into that
   * page). Operations on `ops` inside do not take the lock again; the plain methods of the bus
   * wait until `fn` settles. One lock per bus, shared by every device on it.
   */
  exclusive<T>(fn: (ops: I2cOps) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Serialises async work: one lock per bus. */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  /** Operations queued or running. */
  private active = 0;

  run<T>(fn: () => Promise<T>): Promise<T> {
    this.active++;
    const result = this.tail.then(fn, fn);
    // The next waiter runs after this one settles, whatever the outcome.
    this.tail = result.then(() => { this.active--; }, () => { this.active--; });
    return result;
  }

  /** True when no operation is queued or running: state the operations keep is settled now. */
  get idle(): boolean {
    return this.active === 0;
  }
}

/**
 * Wraps raw (unlocked) ops as a bus whose every operation takes the bus lock.
 * Backends implement `I2cOps` plus functionality/close and get locking from here.
 */
export abstract class LockedI2cBus implements I2cBus {
  abstract readonly name: string;
  private readonly mutex = new AsyncMutex();
  protected abstract readonly raw: I2cOps;
  abstract functionality(): I2cFunctionality;
  abstract close(): Promise<void>;

  exclusive<T>(fn: (ops: I2cOps) => Promise<T>): Promise<T> {
    return this.mutex.run(() => fn(this.raw));
  }
  transfer(msgs: readonly I2cMessage[]) { return this.exclusive((o) => o.transfer(msgs)); }
  readByte(addr: number) { return this.exclusive((o) => o.readByte(addr)); }
  writeByte(addr: number, v: number) { return this.exclusive((o) => o.writeByte(addr, v)); }
  readByteData(addr: number, reg: number) { return this.exclusive((o) => o.readByteData(addr, reg)); }
  writeByteData(addr: number, reg: number, v: number) { return this.exclusive((o) => o.writeByteData(addr, reg, v)); }
  readWordData(addr: number, reg: number) { return this.exclusive((o) => o.readWordData(addr, reg)); }
  writeWordData(addr: number, reg: number, v: number) { return this.exclusive((o) => o.writeWordData(addr, reg, v)); }
  readBlockData(addr: number, reg: number) { return this.exclusive((o) => o.readBlockData(addr, reg)); }
  writeBlockData(addr: number, reg: number, d: Uint8Array) { return this.exclusive((o) => o.writeBlockData(addr, reg, d)); }
  readI2cBlockData(addr: number, reg: number, n: number) { return this.exclusive((o) => o.readI2cBlockData(addr, reg, n)); }
  writeI2cBlockData(addr: number, reg: number, d: Uint8Array) { return this.exclusive((o) => o.writeI2cBlockData(addr, reg, d)); }
}

export interface RegisterAccessOptions {
  /** Register address width on the wire. */
  addrBits: 8 | 16;
  /** Register value width on the wire. */
  valueBits: 8 | 16;
  /** Byte order of 16-bit addresses and values on the wire (I2C register chips are mostly big-endian). */
  byteOrder?: 'big' | 'little';
}

/**
 * Register reads and writes for one device: 8- or 16-bit register addresses and values.
 * Uses a combined transfer (write address, repeated start, read) where the adapter can do
 * plain I2C, and SMBus byte/word data where it can only do SMBus (8-bit addresses only).
 */
export class I2cRegisterDevice {
  readonly byteOrder: 'big' | 'little';
  constructor(
    readonly bus: I2cBus,
    readonly addr: number,
    readonly opts: RegisterAccessOptions,
  ) {
    this.byteOrder = opts.byteOrder ?? 'big';
  }

  private useSmbus(): boolean {
    const f = this.bus.functionality();
    if (f.i2c) return false;
    if (this.opts.addrBits === 16) {
      throw new I2cError({ bus: this.bus.name, addr: this.addr, fault: 'unsupported', op: 'register access',
        detail: '16-bit register addresses need plain I2C transfers, which this adapter lacks' });
    }
    return true;
  }

  private encodeAddr(reg: number): number[] {
    return this.opts.addrBits === 8
      ? [reg & 0xff]
      : this.byteOrder === 'big' ? [(reg >> 8) & 0xff, reg & 0xff] : [reg & 0xff, (reg >> 8) & 0xff];
  }

  private encodeValue(v: number): number[] {
    return this.opts.valueBits === 8
      ? [v & 0xff]
      : this.byteOrder === 'big' ? [(v >> 8) & 0xff, v & 0xff] : [v & 0xff, (v >> 8) & 0xff];
  }

  async read(reg: number, ops: I2cOps = this.bus): Promise<number> {
    try {
      if (this.useSmbus()) {
        if (this.opts.valueBits === 8) return await ops.readByteData(this.addr, reg);
        const w = await ops.readWordData(this.addr, reg); // SMBus words are little-endian
        return this.byteOrder === 'little' ? w : ((w & 0xff) << 8) | (w >> 8);
      }
      const n = this.opts.valueBits / 8;
      const [data] = await ops.transfer([
        { kind: 'write', addr: this.addr, data: Uint8Array.from(this.encodeAddr(reg)) },
        { kind: 'read', addr: this.addr, length: n },
      ]);
      if (n === 1) return data![0]!;
      return this.byteOrder === 'big' ? (data![0]! << 8) | data![1]! : data![0]! | (data![1]! << 8);
    } catch (e) {
      throw e instanceof I2cError && e.reg === undefined ? e.withRegister(reg) : e;
    }
  }

  async write(reg: number, value: number, ops: I2cOps = this.bus): Promise<void> {
    try {
      if (this.useSmbus()) {
        if (this.opts.valueBits === 8) return await ops.writeByteData(this.addr, reg, value);
        const w = this.byteOrder === 'little' ? value : ((value & 0xff) << 8) | ((value >> 8) & 0xff);
        return await ops.writeWordData(this.addr, reg, w);
      }
      await ops.transfer([
        { kind: 'write', addr: this.addr, data: Uint8Array.from([...this.encodeAddr(reg), ...this.encodeValue(value)]) },
      ]);
    } catch (e) {
      throw e instanceof I2cError && e.reg === undefined ? e.withRegister(reg) : e;
    }
  }
}

/** Validates a 7-bit address; throws an 'invalid' I2cError naming the bus. */
export function checkAddress(bus: string, addr: number, op: string): void {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0x7f) {
    throw new I2cError({ bus, addr: addr | 0, fault: 'invalid', op, detail: `address must be 0x00..0x7f, got ${addr}` });
  }
}
