/**
 * A device model on the simulated I2C bus, at the byte level: it sees exactly the bytes a real
 * chip would see after its address, so a model is written from the datasheet's bus protocol
 * (register pointer first, auto-increment, 7+9-bit packing...) and never from a driver's tables.
 *
 * SMBus operations reach a model as the I2C messages the SMBus spec defines: e.g. read byte data
 * = write [reg], repeated start, read 1 byte.
 */
export interface SimI2cDevice {
  /** One write message (the bytes after the address). */
  write(data: Uint8Array): void;
  /** One read message: returns exactly `length` bytes. */
  read(length: number): Uint8Array;
  /** The transaction ended with a STOP (optional). */
  stop?(): void;
  /** Whether the chip acknowledges its address now (e.g. false while its clock is stopped). Default true. */
  acknowledges?(): boolean;
}

/**
 * The usual register protocol of 8-bit-register chips: the first byte of a write message sets
 * the register pointer, each further byte is stored at the pointer, and reads return bytes from
 * the pointer on; the pointer auto-increments (wrapping at `pointerMask`). A model supplies what a
 * register does when stored and loaded.
 */
export abstract class PointerRegisterDevice implements SimI2cDevice {
  protected pointer = 0;

  constructor(protected readonly pointerMask = 0xff) {}

  /** A byte written to register `reg`. */
  protected abstract store(reg: number, value: number): void;
  /** The byte register `reg` reads as. */
  protected abstract load(reg: number): number;

  write(data: Uint8Array): void {
    if (data.length === 0) return;
    this.pointer = data[0]! & this.pointerMask;
    for (let i = 1; i < data.length; i++) {
      this.store(this.pointer, data[i]!);
      this.pointer = (this.pointer + 1) & this.pointerMask;
    }
  }

  read(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.load(this.pointer);
      this.pointer = (this.pointer + 1) & this.pointerMask;
    }
    return out;
  }
}

/** A plain register file: 256 8-bit registers with an auto-incrementing pointer (like i2c-stub). */
export class RegisterFileDevice extends PointerRegisterDevice {
  readonly regs = new Uint8Array(256);

  protected store(reg: number, value: number): void {
    this.regs[reg] = value;
  }

  protected load(reg: number): number {
    return this.regs[reg]!;
  }
}
