/**
 * The I2C HAL contract: every backend (simulated bus, Linux i2c-dev) must pass it.
 * The fixture provides a device that behaves as a plain register file (like Linux's i2c-stub)
 * and an address where nothing answers.
 */
import assert from 'node:assert/strict';
import { I2cError, I2cRegisterDevice } from '../../src/hal/i2c.ts';
import type { I2cFixture } from './fixtures.ts';

export function i2cContract(name: string, make: () => Promise<I2cFixture>): void {
  describe(`I2C contract: ${name}`, function () {
    let fx: I2cFixture;
    beforeEach(async () => { fx = await make(); });
    afterEach(async () => { await fx.close(); });

    it('reports its functionality as booleans, SMBus byte data at least', () => {
      const f = fx.bus.functionality();
      for (const k of ['i2c', 'smbusByteData', 'smbusWordData', 'smbusI2cBlock'] as const) assert.equal(typeof f[k], 'boolean', k);
      assert.equal(f.smbusByteData, true);
    });

    it('reads back a byte written with SMBus byte data', async () => {
      await fx.bus.writeByteData(fx.deviceAddr, 0x21, 0x5a);
      await fx.bus.writeByteData(fx.deviceAddr, 0x22, 0xa5);
      assert.equal(await fx.bus.readByteData(fx.deviceAddr, 0x21), 0x5a);
      assert.equal(await fx.bus.readByteData(fx.deviceAddr, 0x22), 0xa5);
    });

    it('reads back a word written with SMBus word data', async () => {
      await fx.bus.writeWordData(fx.deviceAddr, 0x30, 0xbeef);
      assert.equal(await fx.bus.readWordData(fx.deviceAddr, 0x30), 0xbeef);
    });

    it('writes an SMBus I2C block into consecutive registers', async () => {
      await fx.bus.writeI2cBlockData(fx.deviceAddr, 0x40, Uint8Array.of(1, 2, 3, 4));
      assert.equal(await fx.bus.readByteData(fx.deviceAddr, 0x42), 3);
      assert.deepEqual([...await fx.bus.readI2cBlockData(fx.deviceAddr, 0x40, 4)], [1, 2, 3, 4]);
    });

    it('fails with a no-acknowledge error naming bus, address and register where nothing answers', async () => {
      await assert.rejects(fx.bus.readByteData(fx.emptyAddr, 0x07), (e: unknown) => {
        assert.ok(e instanceof I2cError, String(e));
        assert.equal(e.fault, 'nack');
        assert.equal(e.addr, fx.emptyAddr);
        assert.equal(e.reg, 0x07);
        assert.equal(e.bus, fx.bus.name);
        assert.match(e.message, new RegExp(`addr 0x${fx.emptyAddr.toString(16).padStart(2, '0')}`));
        assert.match(e.message, /no acknowledge/);
        return true;
      });
    });

    it('rejects an address outside 7 bits with an invalid-argument error', async () => {
      await assert.rejects(fx.bus.readByteData(0x80, 0), (e: unknown) => e instanceof I2cError && e.fault === 'invalid');
    });

    it('does a combined write-then-read transfer, or refuses it clearly on an SMBus-only adapter', async () => {
      await fx.bus.writeByteData(fx.deviceAddr, 0x50, 0x77);
      const msgs = [
        { kind: 'write', addr: fx.deviceAddr, data: Uint8Array.of(0x50) },
        { kind: 'read', addr: fx.deviceAddr, length: 1 },
      ] as const;
      if (fx.bus.functionality().i2c) {
        const [data] = await fx.bus.transfer(msgs);
        assert.deepEqual([...data!], [0x77]);
      } else {
        await assert.rejects(fx.bus.transfer(msgs), (e: unknown) => {
          assert.ok(e instanceof I2cError);
          assert.equal(e.fault, 'unsupported');
          assert.match(e.message, /not supported by this adapter/);
          return true;
        });
      }
    });

    it('reads and writes 8-bit registers through the register helper, whichever path the adapter offers', async () => {
      const dev = new I2cRegisterDevice(fx.bus, fx.deviceAddr, { addrBits: 8, valueBits: 8 });
      await dev.write(0x60, 0x3c);
      assert.equal(await dev.read(0x60), 0x3c);
    });

    it('holds the bus for a whole exclusive section; other operations wait for it', async () => {
      await fx.bus.writeByteData(fx.deviceAddr, 0x70, 0);
      const order: string[] = [];
      const section = fx.bus.exclusive(async (ops) => {
        await ops.writeByteData(fx.deviceAddr, 0x70, 1);
        order.push('section-write-1');
        await new Promise((r) => setImmediate(r));
        await ops.writeByteData(fx.deviceAddr, 0x70, 2);
        order.push('section-write-2');
      });
      const outside = fx.bus.readByteData(fx.deviceAddr, 0x70).then((v) => { order.push(`outside-read-${v}`); });
      await Promise.all([section, outside]);
      assert.deepEqual(order, ['section-write-1', 'section-write-2', 'outside-read-2']);
    });

    it('releases the lock when an exclusive section fails', async () => {
      await assert.rejects(fx.bus.exclusive(async () => { throw new Error('boom'); }), /boom/);
      await fx.bus.writeByteData(fx.deviceAddr, 0x71, 9);
      assert.equal(await fx.bus.readByteData(fx.deviceAddr, 0x71), 9);
    });
  });
}
