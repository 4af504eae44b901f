/**
 * The pure parts of the i2c-dev backend: ioctl numbers, functionality decoding, struct packing.
 * Expected values are literals from include/uapi/linux/i2c-dev.h and i2c.h (sizes and offsets as
 * a C compiler lays those structs out: checked with gcc on x86-64; the 32-bit column follows the
 * same rules with 4-byte pointers, as on armhf).
 */
import assert from 'node:assert/strict';
import {
  I2C_FUNCS, I2C_RDWR, I2C_SLAVE, I2C_SMBUS, I2C_M_RD, I2C_SMBUS_I2C_BLOCK_DATA, I2C_SMBUS_WORD_DATA,
  decodeFunctionality, errnoToFault, i2cStructLayout, packI2cMsg, packRdwrIoctlData, packSmbusIoctlData,
} from '../../src/hal/linux/i2c.ts';

describe('Linux i2c-dev uAPI facts', () => {
  it('uses the ioctl numbers of i2c-dev.h', () => {
    assert.equal(I2C_SLAVE, 0x0703);
    assert.equal(I2C_FUNCS, 0x0705);
    assert.equal(I2C_RDWR, 0x0707);
    assert.equal(I2C_SMBUS, 0x0720);
    assert.equal(I2C_M_RD, 0x0001);
    assert.equal(I2C_SMBUS_WORD_DATA, 3);
    assert.equal(I2C_SMBUS_I2C_BLOCK_DATA, 8);
  });

  it('lays out the pointer-holding structs as the compiler does on 64-bit and 32-bit', () => {
    assert.deepEqual(i2cStructLayout(8), {
      ptrSize: 8, msgSize: 16, msgBufOffset: 8, rdwrSize: 16, rdwrNmsgsOffset: 8, smbusSize: 16, smbusSizeOffset: 4, smbusDataOffset: 8,
    });
    assert.deepEqual(i2cStructLayout(4), {
      ptrSize: 4, msgSize: 12, msgBufOffset: 8, rdwrSize: 8, rdwrNmsgsOffset: 4, smbusSize: 12, smbusSizeOffset: 4, smbusDataOffset: 8,
    });
  });

  it('packs struct i2c_msg, i2c_rdwr_ioctl_data and i2c_smbus_ioctl_data byte for byte', () => {
    const L = i2cStructLayout(8);
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    packI2cMsg(view, 0, L, 0x4c, I2C_M_RD, 2, 0x1122334455667788n);
    assert.deepEqual([...bytes], [0x4c, 0, 0x01, 0, 0x02, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);

    bytes.fill(0);
    packRdwrIoctlData(view, 0, L, 0xaabbn, 3);
    assert.deepEqual([...bytes], [0xbb, 0xaa, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);

    bytes.fill(0);
    packSmbusIoctlData(view, 0, L, 1, 0x21, I2C_SMBUS_WORD_DATA, 0x1000n);
    assert.deepEqual([...bytes], [1, 0x21, 0, 0, 3, 0, 0, 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0]);

    const L32 = i2cStructLayout(4);
    const b32 = new Uint8Array(12);
    packI2cMsg(new DataView(b32.buffer), 0, L32, 0x18, 0, 1, 0x01020304n);
    assert.deepEqual([...b32], [0x18, 0, 0, 0, 1, 0, 0, 0, 4, 3, 2, 1]);
  });

  it('decodes an I2C_FUNCS mask: i2c-stub\'s default set and a full I2C adapter', () => {
    // i2c-stub default (drivers/i2c/i2c-stub.c STUB_FUNC_DEFAULT): quick | byte | byte data | word data | I2C block
    const stub = 0x00010000 | 0x00060000 | 0x00180000 | 0x00600000 | 0x0c000000;
    assert.deepEqual(decodeFunctionality(stub), {
      i2c: false, tenBitAddress: false, smbusQuick: true, smbusByte: true, smbusByteData: true,
      smbusWordData: true, smbusBlockData: false, smbusI2cBlock: true,
    });
    // I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL (i2c.h), as i2c-bcm2835 reports
    const emul = 0x00000001 | 0x00010000 | 0x00060000 | 0x00180000 | 0x00600000 | 0x00800000 | 0x02000000 | 0x0c000000 | 0x00000008;
    const f = decodeFunctionality(emul);
    assert.equal(f.i2c, true);
    assert.equal(f.smbusBlockData, false, 'block write alone is not block read and write');
    assert.equal(f.smbusI2cBlock, true);
  });

  it('maps errno values to the HAL faults', () => {
    assert.equal(errnoToFault(6), 'nack'); // ENXIO
    assert.equal(errnoToFault(121), 'nack'); // EREMOTEIO
    assert.equal(errnoToFault(19), 'nack'); // ENODEV (i2c-stub, no chip there)
    assert.equal(errnoToFault(95), 'unsupported'); // EOPNOTSUPP
    assert.equal(errnoToFault(110), 'timeout'); // ETIMEDOUT
    assert.equal(errnoToFault(11), 'arbitration-lost'); // EAGAIN
    assert.equal(errnoToFault(5), 'bus-error'); // EIO
    assert.equal(errnoToFault(22), 'invalid'); // EINVAL
  });
});
