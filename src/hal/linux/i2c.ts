/**
 * I2C on Linux through the i2c-dev character device (/dev/i2c-N), with ioctls made through koffi.
 *
 * Two paths, chosen by what the adapter says it can do (I2C_FUNCS):
 *  - `transfer` uses I2C_RDWR: all messages in one combined transaction (repeated starts).
 *  - the SMBus operations use I2C_SMBUS after selecting the device with I2C_SLAVE, which is
 *    what SMBus-only adapters (i2c-stub, some SoC controllers) accept.
 * An adapter that refuses a kind of transfer (EOPNOTSUPP) yields an I2cError with fault
 * 'unsupported' that names what the adapter lacks.
 *
 * The ioctls are synchronous: a register access at 100 kHz takes well under a millisecond, and
 * the audio path never touches I2C from its own thread. Structs are packed by hand into native
 * memory (allocNative) because I2C_RDWR's structs hold pointers to other buffers.
 *
 * Facts used here (numbers, flags, struct layouts) are from the kernel's uAPI headers
 * include/uapi/linux/i2c-dev.h and include/uapi/linux/i2c.h.
 */
import {
  I2cError,
  LockedI2cBus,
  checkAddress,
  type I2cFault,
  type I2cFunctionality,
  type I2cMessage,
  type I2cOps,
} from '../i2c.ts';
import { ERRNO } from '../../util/errno.ts';
import { O_CLOEXEC, O_RDWR, allocNative, libc, linuxIo, pointerSize, type NativeBuffer } from './libc.ts';

// ioctl request numbers (i2c-dev.h): plain numbers, not _IOC-encoded.
export const I2C_SLAVE = 0x0703;
export const I2C_FUNCS = 0x0705;
export const I2C_RDWR = 0x0707;
export const I2C_SMBUS = 0x0720;
export const I2C_RDWR_IOCTL_MAX_MSGS = 42;

// i2c_msg.flags (i2c.h)
export const I2C_M_RD = 0x0001;

// Functionality bits (i2c.h)
export const I2C_FUNC_I2C = 0x00000001;
export const I2C_FUNC_10BIT_ADDR = 0x00000002;
export const I2C_FUNC_SMBUS_QUICK = 0x00010000;
export const I2C_FUNC_SMBUS_READ_BYTE = 0x00020000;
export const I2C_FUNC_SMBUS_WRITE_BYTE = 0x00040000;
export const I2C_FUNC_SMBUS_READ_BYTE_DATA = 0x00080000;
export const I2C_FUNC_SMBUS_WRITE_BYTE_DATA = 0x00100000;
export const I2C_FUNC_SMBUS_READ_WORD_DATA = 0x00200000;
export const I2C_FUNC_SMBUS_WRITE_WORD_DATA = 0x00400000;
export const I2C_FUNC_SMBUS_READ_BLOCK_DATA = 0x01000000;
export const I2C_FUNC_SMBUS_WRITE_BLOCK_DATA = 0x02000000;
export const I2C_FUNC_SMBUS_READ_I2C_BLOCK = 0x04000000;
export const I2C_FUNC_SMBUS_WRITE_I2C_BLOCK = 0x08000000;

// SMBus read_write markers and transaction sizes (i2c.h)
export const I2C_SMBUS_READ = 1;
export const I2C_SMBUS_WRITE = 0;
export const I2C_SMBUS_BYTE = 1;
export const I2C_SMBUS_BYTE_DATA = 2;
export const I2C_SMBUS_WORD_DATA = 3;
export const I2C_SMBUS_BLOCK_DATA = 5;
export const I2C_SMBUS_I2C_BLOCK_DATA = 8;
export const I2C_SMBUS_BLOCK_MAX = 32;
/** union i2c_smbus_data: block[I2C_SMBUS_BLOCK_MAX + 2] is its largest member. */
export const I2C_SMBUS_DATA_SIZE = I2C_SMBUS_BLOCK_MAX + 2;

/** Both read and write bits of a pair must be set for the HAL to call the operation supported. */
function both(mask: number, bits: number): boolean {
  return (mask & bits) === bits;
}

/** Reduces an I2C_FUNCS mask to the HAL's functionality record. */
export function decodeFunctionality(mask: number): I2cFunctionality {
  return {
    i2c: (mask & I2C_FUNC_I2C) !== 0,
    tenBitAddress: (mask & I2C_FUNC_10BIT_ADDR) !== 0,
    smbusQuick: (mask & I2C_FUNC_SMBUS_QUICK) !== 0,
    smbusByte: both(mask, I2C_FUNC_SMBUS_READ_BYTE | I2C_FUNC_SMBUS_WRITE_BYTE),
    smbusByteData: both(mask, I2C_FUNC_SMBUS_READ_BYTE_DATA | I2C_FUNC_SMBUS_WRITE_BYTE_DATA),
    smbusWordData: both(mask, I2C_FUNC_SMBUS_READ_WORD_DATA | I2C_FUNC_SMBUS_WRITE_WORD_DATA),
    smbusBlockData: both(mask, I2C_FUNC_SMBUS_READ_BLOCK_DATA | I2C_FUNC_SMBUS_WRITE_BLOCK_DATA),
    smbusI2cBlock: both(mask, I2C_FUNC_SMBUS_READ_I2C_BLOCK | I2C_FUNC_SMBUS_WRITE_I2C_BLOCK),
  };
}

/**
 * Layouts of the structs that hold pointers; they depend on the pointer size.
 *   struct i2c_msg { __u16 addr; __u16 flags; __u16 len; __u8 *buf; }
 *   struct i2c_rdwr_ioctl_data { struct i2c_msg *msgs; __u32 nmsgs; }
 *   struct i2c_smbus_ioctl_data { __u8 read_write; __u8 command; __u32 size; union i2c_smbus_data *data; }
 */
export interface I2cStructLayout {
  ptrSize: 4 | 8;
  msgSize: number;
  msgBufOffset: number;
  rdwrSize: number;
  rdwrNmsgsOffset: number;
  smbusSize: number;
  smbusSizeOffset: number;
  smbusDataOffset: number;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export function i2cStructLayout(ptrSize: 4 | 8): I2cStructLayout {
  const msgBufOffset = alignUp(6, ptrSize);
  const rdwrNmsgsOffset = ptrSize;
  const smbusDataOffset = alignUp(8, ptrSize);
  return {
    ptrSize,
    msgSize: alignUp(msgBufOffset + ptrSize, ptrSize),
    msgBufOffset,
    rdwrSize: alignUp(rdwrNmsgsOffset + 4, ptrSize),
    rdwrNmsgsOffset,
    smbusSize: alignUp(smbusDataOffset + ptrSize, ptrSize),
    smbusSizeOffset: 4,
    smbusDataOffset,
  };
}

function writePointer(view: DataView, offset: number, address: bigint, ptrSize: 4 | 8): void {
  if (ptrSize === 8) view.setBigUint64(offset, address, true);
  else view.setUint32(offset, Number(address), true);
}

/** Packs one struct i2c_msg at `offset` (little-endian host, as on every board this targets). */
export function packI2cMsg(
  view: DataView, offset: number, layout: I2cStructLayout,
  addr: number, flags: number, len: number, bufAddress: bigint,
): void {
  view.setUint16(offset, addr, true);
  view.setUint16(offset + 2, flags, true);
  view.setUint16(offset + 4, len, true);
  writePointer(view, offset + layout.msgBufOffset, bufAddress, layout.ptrSize);
}

export function packRdwrIoctlData(view: DataView, offset: number, layout: I2cStructLayout, msgsAddress: bigint, nmsgs: number): void {
  writePointer(view, offset, msgsAddress, layout.ptrSize);
  view.setUint32(offset + layout.rdwrNmsgsOffset, nmsgs, true);
}

export function packSmbusIoctlData(
  view: DataView, offset: number, layout: I2cStructLayout,
  readWrite: number, command: number, size: number, dataAddress: bigint,
): void {
  view.setUint8(offset, readWrite);
  view.setUint8(offset + 1, command);
  view.setUint32(offset + layout.smbusSizeOffset, size, true);
  writePointer(view, offset + layout.smbusDataOffset, dataAddress, layout.ptrSize);
}

/** Maps a kernel errno from an i2c-dev ioctl to the HAL's fault. */
export function errnoToFault(errno: number): I2cFault {
  switch (errno) {
    case ERRNO.ENXIO:
    case ERRNO.EREMOTEIO:
    case ERRNO.ENODEV: // i2c-stub answers ENODEV for an address it does not simulate
      return 'nack';
    case ERRNO.ETIMEDOUT: return 'timeout';
    case ERRNO.EAGAIN: return 'arbitration-lost';
    case ERRNO.EOPNOTSUPP: return 'unsupported';
    case ERRNO.EINVAL: return 'invalid';
    case ERRNO.EBADF: return 'closed';
    case ERRNO.EIO:
    case ERRNO.EPROTO:
    case ERRNO.EBUSY:
    default:
      return 'bus-error';
  }
}

/** What the adapter lacks, for the 'unsupported' error's text. */
function lacking(op: string): string {
  switch (op) {
    case 'transfer': return 'plain I2C messages / combined transfers (I2C_FUNC_I2C); this adapter is SMBus-only';
    case 'readByte': case 'writeByte': return 'SMBus byte transfers';
    case 'readByteData': case 'writeByteData': return 'SMBus byte-data transfers';
    case 'readWordData': case 'writeWordData': return 'SMBus word-data transfers';
    case 'readBlockData': case 'writeBlockData': return 'SMBus block transfers';
    default: return 'SMBus I2C-block transfers';
  }
}

/** Per-operation functionality bit, so an unsupported SMBus call fails before touching the bus. */
const SMBUS_OP_FUNC: Record<string, number> = {
  readByte: I2C_FUNC_SMBUS_READ_BYTE,
  writeByte: I2C_FUNC_SMBUS_WRITE_BYTE,
  readByteData: I2C_FUNC_SMBUS_READ_BYTE_DATA,
  writeByteData: I2C_FUNC_SMBUS_WRITE_BYTE_DATA,
  readWordData: I2C_FUNC_SMBUS_READ_WORD_DATA,
  writeWordData: I2C_FUNC_SMBUS_WRITE_WORD_DATA,
  readBlockData: I2C_FUNC_SMBUS_READ_BLOCK_DATA,
  writeBlockData: I2C_FUNC_SMBUS_WRITE_BLOCK_DATA,
  readI2cBlockData: I2C_FUNC_SMBUS_READ_I2C_BLOCK,
  writeI2cBlockData: I2C_FUNC_SMBUS_WRITE_I2C_BLOCK,
};

export class LinuxI2cBus extends LockedI2cBus {
  readonly name: string;
  readonly path: string;
  private fd: number;
  private readonly funcsMask: number;
  private readonly funcs: I2cFunctionality;
  private readonly layout: I2cStructLayout;
  /** i2c_smbus_ioctl_data followed by the i2c_smbus_data union, reused by every SMBus call. */
  private readonly smbusMem: NativeBuffer;
  private readonly smbusView: DataView;
  /** The address last selected with I2C_SLAVE (i2c-dev keeps one per open file). */
  private selectedAddr = -1;
  protected readonly raw: I2cOps;

  constructor(readonly busNumber: number, path = `/dev/i2c-${busNumber}`) {
    super();
    this.name = `i2c-${busNumber}`;
    this.path = path;
    const c = libc();
    const fd = c.open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
      const e = c.errno();
      throw new I2cError({ bus: this.name, addr: 0, fault: 'invalid', op: 'open', errno: e,
        detail: `cannot open ${path}: ${c.strerror(e)}${e === 2 ? ' (is the i2c-dev module loaded and the bus enabled?)' : ''}` });
    }
    this.fd = fd;
    this.layout = i2cStructLayout(pointerSize() as 4 | 8);
    // I2C_FUNCS writes an unsigned long.
    const funcsMem = allocNative(8);
    try {
      if (linuxIo().ioctlNative(fd, I2C_FUNCS, funcsMem.ptr) < 0) {
        const e = c.errno();
        c.close(fd);
        throw new I2cError({ bus: this.name, addr: 0, fault: errnoToFault(e), op: 'functionality', errno: e, detail: c.strerror(e) });
      }
      this.funcsMask = new DataView(funcsMem.bytes.buffer, funcsMem.bytes.byteOffset, 8).getUint32(0, true);
    } finally {
      funcsMem.free();
    }
    this.funcs = decodeFunctionality(this.funcsMask);
    this.smbusMem = allocNative(this.layout.smbusSize + I2C_SMBUS_DATA_SIZE);
    this.smbusView = new DataView(this.smbusMem.bytes.buffer, this.smbusMem.bytes.byteOffset, this.smbusMem.bytes.byteLength);
    packSmbusIoctlData(this.smbusView, 0, this.layout, 0, 0, 0, this.smbusMem.address + BigInt(this.layout.smbusSize));
    this.raw = this.makeOps();
  }

  /** The raw I2C_FUNCS mask, for diagnostics. */
  functionalityMask(): number {
    return this.funcsMask;
  }

  functionality(): I2cFunctionality {
    return this.funcs;
  }

  async close(): Promise<void> {
    // Waits for any operation in progress, so no ioctl runs on a closed descriptor.
    await this.exclusive(async () => {
      if (this.fd >= 0) {
        libc().close(this.fd);
        this.fd = -1;
        this.smbusMem.free();
      }
    });
  }

  private fail(op: string, addr: number, errno: number, reg?: number, detail?: string): never {
    const fault = errnoToFault(errno);
    const text = fault === 'unsupported'
      ? `adapter lacks ${lacking(op)}`
      : detail ?? `${libc().strerror(errno)} (errno ${errno})`;
    throw new I2cError({ bus: this.name, addr, reg, fault, op, errno, detail: text });
  }

  private ensureOpen(op: string, addr: number): void {
    if (this.fd < 0) throw new I2cError({ bus: this.name, addr, fault: 'closed', op });
  }

  private select(op: string, addr: number): void {
    if (addr === this.selectedAddr) return;
    if (libc().ioctlInt(this.fd, I2C_SLAVE, addr) < 0) {
      const e = libc().errno();
      this.fail(op, addr, e, undefined, e === ERRNO.EBUSY
        ? `address 0x${addr.toString(16)} is claimed by a kernel driver (EBUSY)`
        : `I2C_SLAVE: ${libc().strerror(e)} (errno ${e})`);
    }
    this.selectedAddr = addr;
  }

  /** One I2C_SMBUS ioctl; the union's bytes are at smbusData afterwards. */
  private smbus(op: string, addr: number, readWrite: number, command: number, size: number, reg?: number): Uint8Array {
    checkAddress(this.name, addr, op);
    this.ensureOpen(op, addr);
    const need = SMBUS_OP_FUNC[op];
    if (need !== undefined && (this.funcsMask & need) === 0) {
      throw new I2cError({ bus: this.name, addr, reg, fault: 'unsupported', op, detail: `adapter lacks ${lacking(op)}` });
    }
    this.select(op, addr);
    this.smbusView.setUint8(0, readWrite);
    this.smbusView.setUint8(1, command);
    this.smbusView.setUint32(this.layout.smbusSizeOffset, size, true);
    if (linuxIo().ioctlNative(this.fd, I2C_SMBUS, this.smbusMem.ptr) < 0) this.fail(op, addr, libc().errno(), reg);
    return this.smbusData();
  }

  private smbusData(): Uint8Array {
    return this.smbusMem.bytes.subarray(this.layout.smbusSize, this.layout.smbusSize + I2C_SMBUS_DATA_SIZE);
  }

  private checkReg(op: string, addr: number, reg: number): void {
    if (!Number.isInteger(reg) || reg < 0 || reg > 0xff) {
      throw new I2cError({ bus: this.name, addr, fault: 'invalid', op, detail: `register must be 0x00..0xff, got ${reg}` });
    }
  }

  private checkBlock(op: string, addr: number, reg: number, length: number): void {
    if (!Number.isInteger(length) || length < 1 || length > I2C_SMBUS_BLOCK_MAX) {
      throw new I2cError({ bus: this.name, addr, reg, fault: 'invalid', op, detail: `block length must be 1..32, got ${length}` });
    }
  }

  private doTransfer(msgs: readonly I2cMessage[]): Uint8Array[] {
    const op = 'transfer';
    const firstAddr = msgs[0]?.addr ?? 0;
    if (msgs.length === 0 || msgs.length > I2C_RDWR_IOCTL_MAX_MSGS) {
      throw new I2cError({ bus: this.name, addr: firstAddr, fault: 'invalid', op, detail: `1..${I2C_RDWR_IOCTL_MAX_MSGS} messages per transfer, got ${msgs.length}` });
    }
    for (const m of msgs) {
      checkAddress(this.name, m.addr, op);
      const len = m.kind === 'write' ? m.data.length : m.length;
      if (!Number.isInteger(len) || len < 0 || len > 0xffff) {
        throw new I2cError({ bus: this.name, addr: m.addr, fault: 'invalid', op, detail: `message length must be 0..65535, got ${len}` });
      }
    }
    this.ensureOpen(op, firstAddr);
    const L = this.layout;
    const headerBytes = L.rdwrSize + L.msgSize * msgs.length;
    const dataBytes = msgs.reduce((n, m) => n + (m.kind === 'write' ? m.data.length : m.length), 0);
    const mem = allocNative(headerBytes + Math.max(1, dataBytes));
    try {
      const view = new DataView(mem.bytes.buffer, mem.bytes.byteOffset, mem.bytes.byteLength);
      const msgsAddress = mem.address + BigInt(L.rdwrSize);
      packRdwrIoctlData(view, 0, L, msgsAddress, msgs.length);
      let dataOffset = headerBytes;
      const readSlices: Array<[number, number]> = [];
      msgs.forEach((m, i) => {
        const len = m.kind === 'write' ? m.data.length : m.length;
        const flags = m.kind === 'read' ? I2C_M_RD : 0;
        packI2cMsg(view, L.rdwrSize + i * L.msgSize, L, m.addr, flags, len, mem.address + BigInt(dataOffset));
        if (m.kind === 'write') mem.bytes.set(m.data, dataOffset);
        else readSlices.push([dataOffset, len]);
        dataOffset += len;
      });
      if (linuxIo().ioctlNative(this.fd, I2C_RDWR, mem.ptr) < 0) this.fail(op, firstAddr, libc().errno());
      return readSlices.map(([o, n]) => mem.bytes.slice(o, o + n));
    } finally {
      mem.free();
    }
  }

  private makeOps(): I2cOps {
    return {
      transfer: async (msgs) => this.doTransfer(msgs),
      readByte: async (addr) => this.smbus('readByte', addr, I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE)[0]!,
      writeByte: async (addr, value) => {
        // SMBus "send byte": the value travels in the command field, no data union.
        this.smbus('writeByte', addr, I2C_SMBUS_WRITE, value & 0xff, I2C_SMBUS_BYTE);
      },
      readByteData: async (addr, reg) => {
        this.checkReg('readByteData', addr, reg);
        return this.smbus('readByteData', addr, I2C_SMBUS_READ, reg, I2C_SMBUS_BYTE_DATA, reg)[0]!;
      },
      writeByteData: async (addr, reg, value) => {
        this.checkReg('writeByteData', addr, reg);
        this.smbusData()[0] = value & 0xff;
        this.smbus('writeByteData', addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_BYTE_DATA, reg);
      },
      readWordData: async (addr, reg) => {
        this.checkReg('readWordData', addr, reg);
        const d = this.smbus('readWordData', addr, I2C_SMBUS_READ, reg, I2C_SMBUS_WORD_DATA, reg);
        return d[0]! | (d[1]! << 8); // __u16 in host order (little-endian), low byte first on the wire
      },
      writeWordData: async (addr, reg, value) => {
        this.checkReg('writeWordData', addr, reg);
        const d = this.smbusData();
        d[0] = value & 0xff;
        d[1] = (value >> 8) & 0xff;
        this.smbus('writeWordData', addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_WORD_DATA, reg);
      },
      readBlockData: async (addr, reg) => {
        this.checkReg('readBlockData', addr, reg);
        const d = this.smbus('readBlockData', addr, I2C_SMBUS_READ, reg, I2C_SMBUS_BLOCK_DATA, reg);
        const n = Math.min(d[0]!, I2C_SMBUS_BLOCK_MAX);
        return d.slice(1, 1 + n);
      },
      writeBlockData: async (addr, reg, data) => {
        this.checkReg('writeBlockData', addr, reg);
        this.checkBlock('writeBlockData', addr, reg, data.length);
        const d = this.smbusData();
        d[0] = data.length;
        d.set(data, 1);
        this.smbus('writeBlockData', addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_BLOCK_DATA, reg);
      },
      readI2cBlockData: async (addr, reg, length) => {
        this.checkReg('readI2cBlockData', addr, reg);
        this.checkBlock('readI2cBlockData', addr, reg, length);
        // i2c-dev takes the wanted length from block[0] for this transaction type.
        this.smbusData()[0] = length;
        const d = this.smbus('readI2cBlockData', addr, I2C_SMBUS_READ, reg, I2C_SMBUS_I2C_BLOCK_DATA, reg);
        return d.slice(1, 1 + Math.min(d[0]!, length));
      },
      writeI2cBlockData: async (addr, reg, data) => {
        this.checkReg('writeI2cBlockData', addr, reg);
        this.checkBlock('writeI2cBlockData', addr, reg, data.length);
        const d = this.smbusData();
        d[0] = data.length;
        d.set(data, 1);
        this.smbus('writeI2cBlockData', addr, I2C_SMBUS_WRITE, reg, I2C_SMBUS_I2C_BLOCK_DATA, reg);
      },
    };
  }
}

/** Opens /dev/i2c-N. */
export function openLinuxI2cBus(busNumber: number): LinuxI2cBus {
  return new LinuxI2cBus(busNumber);
}
