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

/** A plain register file: 256 8-bit registers with an auto-incrementing pointer (like i2c-stub). */
export class RegisterFileDevice implements SimI2cDevice {
  readonly regs = new Uint8Array(256);
  private pointer = 0;

  write(data: Uint8Array): void {
    if (data.length === 0) return;
    this.pointer = data[0]!;
    for (let i = 1; i < data.length; i++) {
      this.regs[this.pointer] = data[i]!;
      this.pointer = (this.pointer + 1) & 0xff;
    }
  }

  read(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.regs[this.pointer]!;
      this.pointer = (this.pointer + 1) & 0xff;
    }
    return out;
  }
}
