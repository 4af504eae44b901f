/**
 * Guest-only I2C checks against i2c-stub (an SMBus-only adapter simulating register files), with
 * i2c-tools as the peer the project did not write. Expected values are written by one side and
 * read by the other; i2c-stub's functionality comes from drivers/i2c/i2c-stub.c
 * (STUB_FUNC_DEFAULT: quick, byte, byte data, word data, I2C block; no plain I2C).
 */
import assert from 'node:assert/strict';
import { I2cError, I2cRegisterDevice } from '../../../src/hal/i2c.ts';
import { LinuxI2cBus } from '../../../src/hal/linux/i2c.ts';
import { hilEnv } from '../env.ts';
import { parseI2cget, run } from '../peers.ts';

const env = hilEnv();
const i2c = env.i2c;
const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

describe('i2c-stub through our i2c-dev backend, checked with i2c-tools', function () {
  let bus: LinuxI2cBus;
  let busArg: string;
  let regFile: number;
  before(function () {
    if (env.tier !== 'guest' || !i2c || i2c.regFileAddr === undefined) this.skip(); // reason: guest only (i2c-stub)
    busArg = String(i2c.bus);
    regFile = i2c.regFileAddr;
  });
  beforeEach(() => { bus = new LinuxI2cBus(i2c!.bus); });
  afterEach(() => bus.close());

  it('reads the stub adapter functionality with I2C_FUNCS: SMBus only', () => {
    const f = bus.functionality();
    assert.deepEqual(
      { i2c: f.i2c, smbusQuick: f.smbusQuick, smbusByte: f.smbusByte, smbusByteData: f.smbusByteData, smbusWordData: f.smbusWordData, smbusI2cBlock: f.smbusI2cBlock, smbusBlockData: f.smbusBlockData },
      { i2c: false, smbusQuick: true, smbusByte: true, smbusByteData: true, smbusWordData: true, smbusI2cBlock: true, smbusBlockData: false },
    );
  });

  it('writes bytes and a word through our SMBus path that i2cget reads back', async () => {
    await bus.writeByteData(regFile, 0x10, 0x5a);
    await bus.writeByteData(regFile, 0x11, 0xc3);
    await bus.writeWordData(regFile, 0x12, 0xbeef);
    assert.deepEqual(parseI2cget(await run('i2cget', ['-y', busArg, hex(regFile), '0x10', 'b'])), [0x5a]);
    assert.deepEqual(parseI2cget(await run('i2cget', ['-y', busArg, hex(regFile), '0x11', 'b'])), [0xc3]);
    assert.deepEqual(parseI2cget(await run('i2cget', ['-y', busArg, hex(regFile), '0x12', 'w'])), [0xbeef]);
  });

  it('reads back what i2cset wrote: bytes, a word, an I2C block', async () => {
    await run('i2cset', ['-y', busArg, hex(regFile), '0x20', '0xa7', 'b']);
    await run('i2cset', ['-y', busArg, hex(regFile), '0x21', '0x1234', 'w']);
    await run('i2cset', ['-y', busArg, hex(regFile), '0x30', '0x01', '0x02', '0x03', '0xfe', 'i']);
    assert.equal(await bus.readByteData(regFile, 0x20), 0xa7);
    assert.equal(await bus.readWordData(regFile, 0x21), 0x1234);
    assert.deepEqual([...await bus.readI2cBlockData(regFile, 0x30, 4)], [0x01, 0x02, 0x03, 0xfe]);
  });

  it('SMBus receive/send byte (no register) uses the stub pointer as i2cget does', async () => {
    await run('i2cset', ['-y', busArg, hex(regFile), '0x40', '0x99', 'b']);
    await bus.writeByte(regFile, 0x40); // sets the stub's register pointer
    assert.equal(await bus.readByte(regFile), 0x99);
  });

  it('keeps the pages of a paged PCM5122 apart through our page-select writes, and apart from its twin', async function () {
    const [a, b] = i2c!.pcm5122Addrs;
    if (a === undefined || b === undefined) this.skip(); // reason: the guest stubs no paged chip pair
    const writes: Array<[number, number]> = [[0, 0x11], [1, 0x22], [44, 0x33], [253, 0x44]];
    await bus.exclusive(async (ops) => {
      for (const [page, value] of writes) {
        await ops.writeByteData(a!, 0x00, page); // PCM512x: register 0 selects the page
        await ops.writeByteData(a!, 0x05, value);
      }
      await ops.writeByteData(b!, 0x00, 0);
      await ops.writeByteData(b!, 0x05, 0x5b);
    });
    for (const [page, value] of writes) {
      await bus.writeByteData(a!, 0x00, page);
      assert.equal(await bus.readByteData(a!, 0x05), value, `our read of page ${page}`);
      // and i2c-tools, selecting the page itself, sees the same
      await run('i2cset', ['-y', busArg, hex(a!), '0x00', String(page), 'b']);
      assert.deepEqual(parseI2cget(await run('i2cget', ['-y', busArg, hex(a!), '0x05', 'b'])), [value], `i2cget of page ${page}`);
    }
    assert.equal(await bus.readByteData(b!, 0x05), 0x5b, 'the second PCM5122 keeps its own registers');
  });

  it('keeps the two pages of a TLV320AIC3104 apart through the register helper', async function () {
    const addr = i2c!.tlv320aic3104Addr;
    if (addr === undefined) this.skip(); // reason: the guest stubs no paged chip
    const dev = new I2cRegisterDevice(bus, addr!, { addrBits: 8, valueBits: 8 });
    await bus.exclusive(async (ops) => {
      await dev.write(0x00, 0, ops);
      await dev.write(0x07, 0x0a, ops);
      await dev.write(0x00, 1, ops);
      await dev.write(0x07, 0x0b, ops);
    });
    await dev.write(0x00, 0);
    assert.equal(await dev.read(0x07), 0x0a);
    await dev.write(0x00, 1);
    assert.equal(await dev.read(0x07), 0x0b);
  });

  it('refuses I2C_RDWR on the stub with our clear "not supported by this adapter" error', async () => {
    await assert.rejects(
      bus.transfer([{ kind: 'write', addr: regFile, data: Uint8Array.of(0x10) }, { kind: 'read', addr: regFile, length: 1 }]),
      (e: unknown) => {
        assert.ok(e instanceof I2cError, String(e));
        assert.equal(e.fault, 'unsupported');
        assert.equal(e.errno, 95, 'the kernel itself refused (EOPNOTSUPP), not a guess of ours');
        assert.equal(e.op, 'transfer');
        assert.match(e.message, /not supported by this adapter/);
        assert.match(e.message, /SMBus-only/);
        return true;
      },
    );
  });

  it('refuses SMBus block data, which the stub does not advertise, before touching the bus', async () => {
    await assert.rejects(bus.readBlockData(regFile, 0), (e: unknown) => e instanceof I2cError && e.fault === 'unsupported' && e.errno === undefined);
  });

  it('reports no acknowledge where no stub chip sits', async function () {
    if (i2c!.emptyAddr === undefined) this.skip(); // reason: no empty address is known
    await assert.rejects(bus.writeByteData(i2c!.emptyAddr!, 1, 1), (e: unknown) => e instanceof I2cError && e.fault === 'nack' && e.reg === 1);
  });
});
