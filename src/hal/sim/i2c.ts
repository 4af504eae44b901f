/**
 * A simulated I2C bus hosting device models at addresses. An empty address fails as on a real
 * bus (no acknowledge). Fault injection: fail the next N transfers with a chosen fault, add delay.
 * It can also pretend to be an SMBus-only adapter (like Linux's i2c-stub), refusing plain I2C.
 */
import { ERRNO } from '../../util/errno.ts';
import type { Clock } from '../clock.ts';
import {
  checkAddress, I2cError, type I2cFault, type I2cFunctionality, type I2cMessage, type I2cOps, LockedI2cBus,
} from '../i2c.ts';
import type { SimI2cDevice } from './i2c-device.ts';

export interface SimI2cFaultRule {
  fault: I2cFault;
  /** Fail each operation with this probability (0..1). */
  probability?: number;
  /** Fail the next `count` operations on this register address (default 1). */
  reg?: number;
  count?: number;
  /** Only operations on this device address. */
  addr?: number;
  /**
   * Fail the operations this picks (its first message's address and bytes, `nth` counting the
   * operations it was asked about from 0), instead of `reg`/`probability`: e.g. every write of
   * one register of a 16-bit-address or 7+9-bit chip, or all but the first.
   */
  when?: (op: { addr: number; kind: 'write' | 'read'; data: Uint8Array | undefined; nth: number }) => boolean;
}

export interface SimI2cBusOptions {
  /** Behave like an SMBus-only adapter: transfer() fails with 'unsupported'. */
  smbusOnly?: boolean;
}

/** A record of one bus operation, for tests that check order (e.g. pop-free sequences). */
export interface SimI2cLogEntry {
  atNs: number;
  addr: number;
  kind: 'write' | 'read';
  data: Uint8Array;
}

export class SimI2cBus extends LockedI2cBus {
  readonly name: string;
  private readonly devices = new Map<number, SimI2cDevice>();
  private failNext = 0;
  private failFault: I2cFault = 'nack';
  private delayNs = 0;
  private closed = false;
  readonly log: SimI2cLogEntry[] = [];
  /** Called after each operation that wrote to a device, with its address (a board's simulation listens). */
  readonly afterWrite = new Set<(addr: number) => void>();
  private faultRule: SimI2cFaultRule | undefined;
  private faultRandom: () => number = Math.random;
  private whenCount = 0;
  /** Keep at most this many log entries (oldest dropped). */
  logLimit = 1000;
  protected readonly raw: I2cOps;

  constructor(readonly busNumber: number, private readonly clock: Clock, private readonly opts: SimI2cBusOptions = {}) {
    super();
    this.name = `sim-i2c-${busNumber}`;
    this.raw = new SimOps(this);
  }

  attach(addr: number, device: SimI2cDevice): void {
    checkAddress(this.name, addr, 'attach');
    this.devices.set(addr, device);
  }

  detach(addr: number): void {
    this.devices.delete(addr);
  }

  device(addr: number): SimI2cDevice | undefined {
    return this.devices.get(addr);
  }

  /** Fault injection: the next `n` operations fail with `fault`. */
  failNextTransfers(n: number, fault: I2cFault = 'nack'): void {
    this.failNext = n;
    this.failFault = fault;
  }

  /** Fault injection: every operation takes this long on the bus's clock. */
  setDelayNs(ns: number): void {
    this.delayNs = ns;
  }

  functionality(): I2cFunctionality {
    return {
      i2c: !this.opts.smbusOnly, tenBitAddress: false, smbusQuick: true, smbusByte: true, smbusByteData: true,
      smbusWordData: true, smbusBlockData: true, smbusI2cBlock: true,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Runs one bus operation made of messages: faults, delay, address acknowledge, then the model. */
  async run(op: string, msgs: readonly I2cMessage[], reg?: number): Promise<Uint8Array[]> {
    if (this.closed) throw new I2cError({ bus: this.name, addr: msgs[0]?.addr ?? 0, reg, fault: 'closed', op });
    for (const m of msgs) checkAddress(this.name, m.addr, op);
    if (this.delayNs > 0) await this.clock.sleepUntilNs(this.clock.nowNs() + this.delayNs);
    if (this.failNext > 0) {
      this.failNext--;
      throw new I2cError({ bus: this.name, addr: msgs[0]!.addr, reg, fault: this.failFault, op, detail: 'injected fault' });
    }
    const ruleFault = this.matchFaultRule(msgs, reg);
    if (ruleFault) throw new I2cError({ bus: this.name, addr: msgs[0]!.addr, reg, fault: ruleFault, op, detail: 'injected fault' });
    const out: Uint8Array[] = [];
    let last: SimI2cDevice | undefined;
    for (const m of msgs) {
      const dev = this.devices.get(m.addr);
      if (!dev || (dev.acknowledges && !dev.acknowledges())) {
        throw new I2cError({ bus: this.name, addr: m.addr, reg, fault: 'nack', op, errno: ERRNO.ENXIO });
      }
      last = dev;
      if (m.kind === 'write') {
        dev.write(m.data);
        this.record(m.addr, 'write', m.data);
      } else {
        const data = dev.read(m.length);
        if (data.length !== m.length) throw new Error(`sim I2C model at 0x${m.addr.toString(16)} returned ${data.length} bytes for a ${m.length}-byte read`);
        this.record(m.addr, 'read', data);
        out.push(data);
      }
    }
    last?.stop?.();
    const wrote = msgs.find((m) => m.kind === 'write');
    if (wrote) for (const fn of this.afterWrite) fn(wrote.addr);
    return out;
  }

  /**
   * Fault injection by rule: operations fail with `fault` at random (`probability`), or the next
   * `count` operations naming register `reg` (its address byte: the SMBus register, or the first
   * byte written) at `addr`. Replaces any earlier rule; `clearFaults` removes it.
   */
  injectFaults(rule: SimI2cFaultRule, random: () => number = Math.random): void {
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) throw new RangeError(`probability must be 0..1, got ${rule.probability}`);
    this.faultRule = { ...rule };
    this.faultRandom = random;
    this.whenCount = 0;
  }

  clearFaults(): void {
    this.faultRule = undefined;
    this.failNext = 0;
  }

  /** The rule in force (what is left of its count). */
  get faults(): Readonly<SimI2cFaultRule> | undefined {
    return this.faultRule;
  }

  private matchFaultRule(msgs: readonly I2cMessage[], reg: number | undefined): I2cFault | undefined {
    const r = this.faultRule;
    if (!r) return undefined;
    if (r.addr !== undefined && msgs[0]!.addr !== r.addr) return undefined;
    if (r.when) {
      const m = msgs[0]!;
      return r.when({ addr: m.addr, kind: m.kind, data: m.kind === 'write' ? m.data : undefined, nth: this.whenCount++ }) ? r.fault : undefined;
    }
    if (r.reg !== undefined) {
      const first = msgs[0]!.kind === 'write' ? msgs[0]!.data[0] : undefined;
      if ((reg ?? first) !== r.reg) return undefined;
      if ((r.count ?? 1) <= 0) return undefined;
      r.count = (r.count ?? 1) - 1;
      if (r.count <= 0) this.faultRule = undefined;
      return r.fault;
    }
    if (r.probability !== undefined) return this.faultRandom() < r.probability ? r.fault : undefined;
    return undefined;
  }

  private record(addr: number, kind: 'write' | 'read', data: Uint8Array): void {
    this.log.push({ atNs: this.clock.nowNs(), addr, kind, data: Uint8Array.from(data) });
    if (this.log.length > this.logLimit) this.log.splice(0, this.log.length - this.logLimit);
  }

  assertI2c(op: string, addr: number): void {
    if (this.opts.smbusOnly) {
      throw new I2cError({ bus: this.name, addr, fault: 'unsupported', op, errno: ERRNO.EOPNOTSUPP,
        detail: 'this adapter only does SMBus; plain I2C transfers are refused' });
    }
  }
}

/** The bus's unlocked operations; SMBus operations become the messages the SMBus spec defines. */
class SimOps implements I2cOps {
  constructor(private readonly bus: SimI2cBus) {}

  async transfer(msgs: readonly I2cMessage[]): Promise<Uint8Array[]> {
    if (msgs.length === 0) return [];
    this.bus.assertI2c('transfer', msgs[0]!.addr);
    return this.bus.run('transfer', msgs);
  }

  async readByte(addr: number): Promise<number> {
    const [d] = await this.bus.run('readByte', [{ kind: 'read', addr, length: 1 }]);
    return d![0]!;
  }

  async writeByte(addr: number, value: number): Promise<void> {
    await this.bus.run('writeByte', [{ kind: 'write', addr, data: Uint8Array.of(value & 0xff) }]);
  }

  async readByteData(addr: number, reg: number): Promise<number> {
    const [d] = await this.bus.run('readByteData', [w(addr, [reg]), { kind: 'read', addr, length: 1 }], reg);
    return d![0]!;
  }

  async writeByteData(addr: number, reg: number, value: number): Promise<void> {
    await this.bus.run('writeByteData', [w(addr, [reg, value])], reg);
  }

  async readWordData(addr: number, reg: number): Promise<number> {
    const [d] = await this.bus.run('readWordData', [w(addr, [reg]), { kind: 'read', addr, length: 2 }], reg);
    return d![0]! | (d![1]! << 8);
  }

  async writeWordData(addr: number, reg: number, value: number): Promise<void> {
    await this.bus.run('writeWordData', [w(addr, [reg, value & 0xff, (value >> 8) & 0xff])], reg);
  }

  async readBlockData(addr: number, reg: number): Promise<Uint8Array> {
    // The device sends the count first; a model sees a read of 1 + up to 32 bytes.
    const [d] = await this.bus.run('readBlockData', [w(addr, [reg]), { kind: 'read', addr, length: 33 }], reg);
    const n = Math.min(d![0]!, 32);
    return d!.slice(1, 1 + n);
  }

  async writeBlockData(addr: number, reg: number, data: Uint8Array): Promise<void> {
    checkBlock(this.bus.name, addr, reg, data.length, 'writeBlockData');
    await this.bus.run('writeBlockData', [w(addr, [reg, data.length, ...data])], reg);
  }

  async readI2cBlockData(addr: number, reg: number, length: number): Promise<Uint8Array> {
    checkBlock(this.bus.name, addr, reg, length, 'readI2cBlockData');
    const [d] = await this.bus.run('readI2cBlockData', [w(addr, [reg]), { kind: 'read', addr, length }], reg);
    return d!;
  }

  async writeI2cBlockData(addr: number, reg: number, data: Uint8Array): Promise<void> {
    checkBlock(this.bus.name, addr, reg, data.length, 'writeI2cBlockData');
    await this.bus.run('writeI2cBlockData', [w(addr, [reg, ...data])], reg);
  }
}

function w(addr: number, bytes: number[]): I2cMessage {
  return { kind: 'write', addr, data: Uint8Array.from(bytes) };
}

function checkBlock(bus: string, addr: number, reg: number, n: number, op: string): void {
  if (n < 1 || n > 32) throw new I2cError({ bus, addr, reg, fault: 'invalid', op, detail: `SMBus blocks are 1..32 bytes, got ${n}` });
}
