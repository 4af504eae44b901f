import { strict as assert } from 'node:assert';
import { checkRegmap, Regmap, type RegmapDef } from '../../src/codec/regmap.ts';
import { I2cError } from '../../src/hal/i2c.ts';
import { VirtualClock } from '../../src/hal/sim/clock.ts';
import { RegisterFileDevice, type SimI2cDevice } from '../../src/hal/sim/i2c-device.ts';
import { SimI2cBus } from '../../src/hal/sim/i2c.ts';

const SRC = 'test description';

/** 16-bit register address, 16-bit value, big-endian (as SGTL5000-style chips). */
class Word16Device implements SimI2cDevice {
  readonly regs = new Map<number, number>();
  private ptr = 0;
  write(d: Uint8Array): void {
    this.ptr = (d[0]! << 8) | d[1]!;
    if (d.length >= 4) this.regs.set(this.ptr, (d[2]! << 8) | d[3]!);
  }
  read(n: number): Uint8Array {
    const v = this.regs.get(this.ptr) ?? 0;
    return Uint8Array.from([(v >> 8) & 0xff, v & 0xff].slice(0, n));
  }
}

/** 7-bit address + 9-bit value in two bytes (Wolfson style); write-only. */
class Packed79Device implements SimI2cDevice {
  readonly regs = new Map<number, number>();
  write(d: Uint8Array): void {
    this.regs.set(d[0]! >> 1, ((d[0]! & 1) << 8) | d[1]!);
  }
  read(n: number): Uint8Array {
    return new Uint8Array(n);
  }
}

function setup(def: RegmapDef, dev: SimI2cDevice, smbusOnly = false) {
  const clock = new VirtualClock(1e9, true);
  const bus = new SimI2cBus(1, clock, { smbusOnly });
  bus.attach(0x20, dev);
  const sleeps: number[] = [];
  const map = new Regmap(def, bus, 0x20, {
    sleepMs: async (ms) => {
      sleeps.push(ms);
      await clock.sleepUntilNs(clock.nowNs() + ms * 1e6);
    },
  });
  return { clock, bus, map, sleeps };
}

const PLAIN: RegmapDef = {
  addrBits: 8, valueBits: 8, source: SRC,
  registers: [
    { name: 'ID', addr: 0x00, reset: 0x5a, access: 'ro', source: SRC },
    { name: 'VOL', addr: 0x01, reset: 0xff, source: SRC },
    { name: 'CTRL', addr: 0x02, reset: 'unknown', source: SRC, fields: [{ name: 'EN', bits: 0 }, { name: 'MODE', bits: [3, 1], values: { a: 1, b: 5 } }] },
    { name: 'STATUS', addr: 0x03, reset: 0x00, access: 'ro', volatile: true, source: SRC },
  ],
};

const PAGED: RegmapDef = {
  addrBits: 8, valueBits: 8, source: SRC,
  paging: { selectReg: 0, pageSize: 0x100, pages: [0, 1], source: SRC },
  registers: [
    { name: 'A', addr: 0x002, reset: 0, source: SRC },
    { name: 'B', addr: 0x003, reset: 0, source: SRC },
    { name: 'C', addr: 0x102, reset: 0, source: SRC },
    { name: 'D', addr: 0x107, reset: 0, source: SRC },
  ],
};

describe('regmap: register access', () => {
  it('serves a known reset default from the cache without touching the bus', async () => {
    const dev = new RegisterFileDevice();
    const { map, bus } = setup(PLAIN, dev);
    assert.equal(await map.read('VOL'), 0xff);
    assert.equal(bus.log.length, 0);
  });

  it('reads an unknown-default register from the chip once, then from the cache', async () => {
    const dev = new RegisterFileDevice();
    dev.regs[0x02] = 0x0b;
    const { map, bus } = setup(PLAIN, dev);
    assert.equal(await map.read('CTRL'), 0x0b);
    const n = bus.log.length;
    assert.equal(await map.read('CTRL'), 0x0b);
    assert.equal(bus.log.length, n);
  });

  it('reads a volatile register from the chip every time', async () => {
    const dev = new RegisterFileDevice();
    const { map } = setup(PLAIN, dev);
    dev.regs[0x03] = 0x01;
    assert.equal(await map.read('STATUS'), 0x01);
    dev.regs[0x03] = 0x02;
    assert.equal(await map.read('STATUS'), 0x02);
    assert.equal(map.cached('STATUS'), undefined);
  });

  it('updates fields by name and by named value, skipping unchanged writes', async () => {
    const dev = new RegisterFileDevice();
    const { map, bus } = setup(PLAIN, dev);
    await map.update('CTRL', { EN: 1, MODE: 'b' });
    assert.equal(dev.regs[0x02], 0x0b); // 1 | 5 << 1
    const n = bus.log.length;
    await map.update('CTRL', { MODE: 5 });
    assert.equal(bus.log.length, n);
    assert.deepEqual(map.decode('CTRL', 0x0b), { EN: 1, MODE: 5 });
  });

  it('refuses writes to read-only registers, unknown names and values that do not fit', async () => {
    const { map } = setup(PLAIN, new RegisterFileDevice());
    await assert.rejects(map.write('ID', 1), /register ID is read-only/);
    await assert.rejects(map.write('NOPE', 1), /no register named "NOPE" in the register map of the chip at 0x20 on sim-i2c-1/);
    await assert.rejects(map.write('VOL', 0x100), /value 256 does not fit register VOL \(8 bits, 0\.\.0xff\)/);
    await assert.rejects(map.update('CTRL', { MODE: 'c' }), /field CTRL\.MODE has no value "c" \(values: a, b\)/);
    await assert.rejects(map.update('CTRL', { NOPE: 1 }), /register CTRL has no field "NOPE" \(fields: EN, MODE\)/);
  });
});

describe('regmap: pages', () => {
  it('selects the page before a paged register, and only when it changes', async () => {
    const dev = new RegisterFileDevice();
    const { map, bus } = setup(PAGED, dev);
    await map.writeBatch([{ reg: 'C', value: 0x11 }, { reg: 'D', value: 0x22 }, { reg: 'A', value: 0x33 }, { reg: 'B', value: 0x44 }]);
    const writes = bus.log.filter((e) => e.kind === 'write').map((e) => [...e.data]);
    assert.deepEqual(writes, [[0x00, 0x01], [0x02, 0x11], [0x07, 0x22], [0x00, 0x00], [0x02, 0x33], [0x03, 0x44]]);
    assert.equal(map.stats.pageSelects, 2);
  });

  it('keeps pages apart on a banked register file over SMBus only (like i2c-stub)', async () => {
    // A two-bank register file: register 0 selects the bank.
    const banks = [new Uint8Array(256), new Uint8Array(256)];
    let bank = 0, ptr = 0;
    const dev: SimI2cDevice = {
      write(d) {
        ptr = d[0]!;
        if (d.length > 1) {
          if (ptr === 0) bank = d[1]! & 1;
          else banks[bank]![ptr] = d[1]!;
        }
      },
      read(n) {
        return Uint8Array.from({ length: n }, () => (ptr === 0 ? bank : banks[bank]![ptr]!));
      },
    };
    const { map } = setup(PAGED, dev, true);
    await map.write('A', 0xaa);
    await map.write('C', 0xcc);
    assert.equal(banks[0]![2], 0xaa);
    assert.equal(banks[1]![2], 0xcc);
    assert.equal(await map.readFromChip('A'), 0xaa);
    assert.equal(await map.readFromChip('C'), 0xcc);
  });
});

describe('regmap: wire formats', () => {
  it('writes 16-bit addresses and values big-endian, at a stride of 2', async () => {
    const def: RegmapDef = { addrBits: 16, valueBits: 16, stride: 2, source: SRC, registers: [{ name: 'DAC_VOL', addr: 0x0010, reset: 0x3c3c, source: SRC }] };
    const dev = new Word16Device();
    const { map, bus } = setup(def, dev);
    await map.write('DAC_VOL', 0x3cf0);
    assert.deepEqual([...bus.log[0]!.data], [0x00, 0x10, 0x3c, 0xf0]);
    assert.equal(await map.readFromChip('DAC_VOL'), 0x3cf0);
    const bad: RegmapDef = { ...def, registers: [{ name: 'ODD', addr: 0x0011, reset: 0, source: SRC }] };
    assert.match(checkRegmap(bad).map((p) => p.message).join('\n'), /address 0x11 is not a multiple of the stride 2/);
  });

  it('packs a 7-bit address and a 9-bit value into two bytes; reads come from the cache', async () => {
    const def: RegmapDef = {
      addrBits: 7, valueBits: 9, readable: false, source: SRC,
      registers: [
        { name: 'LDAC', addr: 0x0a, reset: 0x0ff, source: SRC, fields: [{ name: 'DACVU', bits: 8 }, { name: 'LDACVOL', bits: [7, 0] }] },
        { name: 'MYSTERY', addr: 0x0b, reset: 'unknown', source: SRC },
      ],
    };
    const dev = new Packed79Device();
    const { map, bus } = setup(def, dev);
    await map.write('LDAC', 0x1c3);
    assert.deepEqual([...bus.log[0]!.data], [0x15, 0xc3]); // 0x0a << 1 | bit 8, then bits 7..0
    assert.equal(dev.regs.get(0x0a), 0x1c3);
    const n = bus.log.length;
    assert.equal(await map.read('LDAC'), 0x1c3);
    assert.equal(bus.log.length, n);
    await assert.rejects(map.read('MYSTERY'), /MYSTERY cannot be read from the chip and its value is not known yet/);
  });
});

describe('regmap: cache sync', () => {
  it('after a chip reset, writes back exactly the registers that differ from their defaults', async () => {
    const dev = new RegisterFileDevice();
    const { map, bus } = setup(PAGED, dev);
    await map.write('A', 0x00); // equals the default
    await map.write('C', 0x42);
    map.chipWasReset();
    assert.deepEqual(map.dirtyRegisters(), ['C']);
    bus.log.length = 0;
    dev.regs.fill(0);
    await map.sync();
    assert.deepEqual(bus.log.map((e) => [...e.data]), [[0x00, 0x01], [0x02, 0x42]]);
    assert.deepEqual(map.dirtyRegisters(), []);
  });

  it('in cache-only mode keeps writes off the bus until sync', async () => {
    const dev = new RegisterFileDevice();
    const { map, bus } = setup(PLAIN, dev);
    map.setCacheOnly(true);
    await map.write('VOL', 0x20);
    assert.equal(bus.log.length, 0);
    assert.equal(await map.read('VOL'), 0x20);
    await assert.rejects(map.sync(), /cache-only/);
    map.setCacheOnly(false);
    await map.sync();
    assert.equal(dev.regs[1], 0x20);
  });
});

describe('regmap: bus errors', () => {
  it('retries a transient fault with growing, bounded backoff', async () => {
    const dev = new RegisterFileDevice();
    const { map, bus, sleeps } = setup(PLAIN, dev);
    bus.failNextTransfers(2, 'arbitration-lost');
    await map.write('VOL', 0x10);
    assert.equal(dev.regs[1], 0x10);
    assert.deepEqual(sleeps, [1, 2]);
    assert.equal(map.stats.retries, 2);
  });

  it('gives up after the retries and names the register', async () => {
    const { map, bus, sleeps, clock } = setup(PAGED, new RegisterFileDevice());
    const t0 = clock.nowNs();
    bus.failNextTransfers(100, 'nack');
    await assert.rejects(map.write('D', 1), (e: unknown) => {
      assert.ok(e instanceof I2cError);
      assert.equal(e.regName, 'D, page 1 reg 0x07');
      assert.equal(e.fault, 'nack');
      assert.match(e.message, /I2C write D failed on sim-i2c-1 addr 0x20 reg 0x07 \(D, page 1 reg 0x07\): no acknowledge from the device \(4 attempts with backoff\)/);
      return true;
    });
    assert.deepEqual(sleeps, [1, 2, 4]);
    assert.equal(clock.nowNs() - t0, 7e6);
  });

  it('does not retry faults that cannot get better', async () => {
    const def: RegmapDef = { addrBits: 16, valueBits: 16, source: SRC, registers: [{ name: 'R', addr: 0x0002, reset: 0, source: SRC }] };
    const { map, sleeps } = setup(def, new Word16Device(), true);
    await assert.rejects(map.write('R', 1), /not supported by this adapter/);
    assert.deepEqual(sleeps, []);
  });
});

describe('regmap: description checks', () => {
  const base = (registers: RegmapDef['registers']): RegmapDef => ({ addrBits: 8, valueBits: 8, source: SRC, registers });
  const messages = (d: RegmapDef) => checkRegmap(d).map((p) => `${p.where}: ${p.message}`);

  it('accepts a sound map', () => {
    assert.deepEqual(messages(PLAIN), []);
    assert.deepEqual(messages(PAGED), []);
  });

  it('finds overlapping fields, wide fields, bad defaults, duplicate addresses, missing sources', () => {
    assert.deepEqual(messages(base([{ name: 'X', addr: 1, reset: 0, source: SRC, fields: [{ name: 'F', bits: [3, 0] }, { name: 'G', bits: [4, 3] }] }])),
      ['regmap.registers[0] (X).fields[1] (G): bits [4:3] overlap field F']);
    assert.deepEqual(messages(base([{ name: 'X', addr: 1, reset: 0, source: SRC, fields: [{ name: 'F', bits: [8, 6] }] }])),
      ['regmap.registers[0] (X).fields[0] (F): bits [8:6] are wider than the 8-bit register']);
    assert.deepEqual(messages(base([{ name: 'X', addr: 1, reset: 0x1ff, source: SRC }])),
      ['regmap.registers[0] (X): reset default 511 is out of range for a 8-bit register (0..0xff)']);
    assert.deepEqual(messages(base([{ name: 'X', addr: 1, reset: 0, source: SRC }, { name: 'Y', addr: 1, reset: 0, source: SRC }])),
      ['regmap.registers[1] (Y): address 0x01 is also register X']);
    assert.deepEqual(messages(base([{ name: 'X', addr: 1, reset: 0, source: '' }])),
      ['regmap.registers[0] (X): the register names no source for its layout and default']);
  });

  it('refuses to build a Regmap from a broken map, saying what is wrong', () => {
    const bus = new SimI2cBus(1, new VirtualClock());
    assert.throws(() => new Regmap(base([{ name: 'X', addr: 0x300, reset: 0, source: SRC }]), bus, 0x20),
      /broken register map: regmap.registers\[0\] \(X\): address 0x300 does not fit a 8-bit register address/);
  });
});
