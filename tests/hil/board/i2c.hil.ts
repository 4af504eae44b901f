/**
 * Board-agnostic I2C checks: the HAL contract on the real i2c-dev backend (where the environment
 * names a plain register-file device: i2c-stub in the guest), and our reads agreeing with
 * i2c-tools' on a device that answers.
 */
import assert from 'node:assert/strict';
import { i2cContract } from '../../contract/i2c.contract.ts';
import { LinuxI2cBus } from '../../../src/hal/linux/i2c.ts';
import { hilEnv } from '../env.ts';
import { parseI2cget, run } from '../peers.ts';

const env = hilEnv();
const i2c = env.i2c;

if (i2c?.regFileAddr !== undefined && i2c.emptyAddr !== undefined) {
  const deviceAddr = i2c.regFileAddr;
  const emptyAddr = i2c.emptyAddr;
  i2cContract(`Linux i2c-dev /dev/i2c-${i2c.bus}`, async () => {
    const bus = new LinuxI2cBus(i2c.bus);
    return { bus, deviceAddr, emptyAddr, close: () => bus.close() };
  });
}

describe('I2C on /dev/i2c-N agrees with i2c-tools', function () {
  let bus: LinuxI2cBus;
  before(function () {
    if (!i2c || (i2c.probeAddr ?? i2c.regFileAddr) === undefined) this.skip(); // reason: the environment names no I2C device to probe
  });
  beforeEach(() => { bus = new LinuxI2cBus(i2c!.bus); });
  afterEach(() => bus.close());

  it('reports the adapter functionality i2cdetect -F reports', async () => {
    const out = await run('i2cdetect', ['-F', String(i2c!.bus)]);
    const yes = (label: string) => new RegExp(`^${label}\\s+yes$`, 'm').test(out);
    const f = bus.functionality();
    // i2cdetect's labels for the I2C_FUNC_* bits (i2c-tools tools/i2cdetect.c)
    assert.deepEqual(
      { ...f },
      {
        i2c: yes('I2C'),
        tenBitAddress: f.tenBitAddress, // i2cdetect -F does not list it
        smbusQuick: yes('SMBus Quick Command'),
        smbusByte: yes('SMBus Send Byte') && yes('SMBus Receive Byte'),
        smbusByteData: yes('SMBus Write Byte') && yes('SMBus Read Byte'),
        smbusWordData: yes('SMBus Write Word') && yes('SMBus Read Word'),
        smbusBlockData: yes('SMBus Block Write') && yes('SMBus Block Read'),
        smbusI2cBlock: yes('I2C Block Write') && yes('I2C Block Read'),
      },
      out,
    );
  });

  it('reads register 0 of a device that answers as i2cget does', async () => {
    const addr = i2c!.probeAddr ?? i2c!.regFileAddr!;
    const [peer] = parseI2cget(await run('i2cget', ['-y', String(i2c!.bus), `0x${addr.toString(16)}`, '0x00', 'b']));
    assert.equal(await bus.readByteData(addr, 0), peer);
    if (bus.functionality().i2c) {
      // Plain I2C adapters (a real board): the combined write-then-read sees the same byte.
      const [data] = await bus.transfer([{ kind: 'write', addr, data: Uint8Array.of(0) }, { kind: 'read', addr, length: 1 }]);
      assert.deepEqual([...data!], [peer]);
    }
  });
});
