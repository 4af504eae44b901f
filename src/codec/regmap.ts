/**
 * The register-map layer: a chip's registers declared as data (address, reset default, access,
 * volatility, named bit fields, each with its source) and a `Regmap` that reads and writes them
 * over I2C with a cache, page selection, batching and bounded retries.
 *
 * What a description can say:
 *  - wire format: 8- or 16-bit register addresses with 8- or 16-bit values (either byte order),
 *    or the Wolfson-style 7-bit address + 9-bit value packed into two bytes (addrBits 7, valueBits 9);
 *  - an address stride (16-bit-address chips whose registers sit at even addresses);
 *  - paging: a page-select register present in every page, a window size, the pages that exist;
 *    a paged register's `addr` is `page * pageSize + offset`;
 *  - a write-only chip (`readable: false`): every read is served from the cache;
 *  - per register: reset default (or 'unknown'), access 'rw' | 'ro' | 'wo', volatile (status bits
 *    the chip changes by itself: never cached, always read from the chip), bit fields.
 *
 * Cache: non-volatile registers are cached; a known reset default seeds the cache. After the chip
 * is reset or loses power, `chipWasReset()` marks every register whose cached value differs from
 * its reset default as dirty and `sync()` writes them back. In cache-only mode (chip unpowered or
 * clock stopped) writes go to the cache and are marked dirty.
 *
 * Bus gate: a chip that must not see any bus transaction in some state (SGTL5000: before its
 * master clock runs) gets `setBusGate(reason)`; every access that would reach it fails at once,
 * naming the reason, and nothing is sent.
 */
import { I2cError, type I2cBus, type I2cFault, type I2cOps, I2cRegisterDevice } from '../hal/i2c.ts';

export interface FieldDef {
  name: string;
  /** One bit number, or [msb, lsb] inclusive. */
  bits: number | readonly [number, number];
  /** Named values of the field (e.g. { normal: 1, 'low-latency': 2 }). */
  values?: Readonly<Record<string, number>>;
  /** Read-only field inside a writable register. */
  readOnly?: boolean;
  doc?: string;
}

export interface RegisterDef {
  name: string;
  /** Address; for a paged map `page * pageSize + offset`. */
  addr: number;
  /** Value after reset, or 'unknown' where no published figure was found. */
  reset: number | 'unknown';
  /** Default 'rw'. */
  access?: 'rw' | 'ro' | 'wo';
  /** The chip changes it by itself (status): never cached. */
  volatile?: boolean;
  fields?: readonly FieldDef[];
  /** Where this register's layout and default come from. */
  source: string;
  doc?: string;
}

export interface PagingDef {
  /** The page-select register's offset (present in every page). */
  selectReg: number;
  /** Registers per page (0x100 for an 8-bit-address chip). */
  pageSize: number;
  pages: readonly number[];
  source: string;
}

export interface RegmapDef {
  /** 7 only with valueBits 9 (the packed 7+9 format). */
  addrBits: 7 | 8 | 16;
  valueBits: 8 | 9 | 16;
  /** Byte order of 16-bit addresses / values on the wire; default 'big'. */
  byteOrder?: 'big' | 'little';
  /** Address step between registers (default 1; 2 for chips addressed in bytes with 16-bit registers). */
  stride?: number;
  /** false: the chip cannot be read over its bus (every read comes from the cache). Default true. */
  readable?: boolean;
  paging?: PagingDef;
  registers: readonly RegisterDef[];
  source: string;
}

export type RegRef = string | number;

/** A problem in a description: where (a path such as `registers[3].fields[1]`) and what. */
export interface DescriptionProblem {
  where: string;
  message: string;
}

export class RegmapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegmapError';
  }
}

export function fieldRange(f: FieldDef): { msb: number; lsb: number; width: number; mask: number } {
  const [msb, lsb] = typeof f.bits === 'number' ? [f.bits, f.bits] : f.bits;
  const width = msb - lsb + 1;
  return { msb, lsb, width, mask: width >= 1 && width <= 31 ? ((1 << width) - 1) << lsb : 0 };
}

function hex(n: number, digits = 2): string {
  return `0x${n.toString(16).padStart(digits, '0')}`;
}

/** Human name of an address: `0x3d` or `page 1 reg 0x02`. */
export function describeAddr(def: RegmapDef, addr: number): string {
  if (def.paging) {
    const page = Math.floor(addr / def.paging.pageSize);
    return `page ${page} reg ${hex(addr % def.paging.pageSize)}`;
  }
  return hex(addr, def.addrBits === 16 ? 4 : 2);
}

/** Checks a register map description; returns every problem found (empty when sound). */
export function checkRegmap(def: RegmapDef, at = 'regmap'): DescriptionProblem[] {
  const out: DescriptionProblem[] = [];
  const p = (where: string, message: string) => out.push({ where: `${at}.${where}`, message });
  const wire = `${def.addrBits}-bit address / ${def.valueBits}-bit value`;
  const validWire = (def.addrBits === 7 && def.valueBits === 9) || ((def.addrBits === 8 || def.addrBits === 16) && (def.valueBits === 8 || def.valueBits === 16));
  if (!validWire) p('addrBits', `unsupported wire format ${wire} (use 8/8, 8/16, 16/8, 16/16 or the packed 7/9)`);
  if (!def.source?.trim()) p('source', 'the register map names no source (datasheet section)');
  const stride = def.stride ?? 1;
  const maxValue = 2 ** def.valueBits - 1;
  const localMax = 2 ** def.addrBits - 1;
  if (def.paging) {
    const pg = def.paging;
    if (!pg.source?.trim()) p('paging.source', 'paging names no source');
    if (pg.pageSize < 1 || pg.pageSize > localMax + 1) p('paging.pageSize', `page size ${pg.pageSize} does not fit ${def.addrBits}-bit addresses`);
    if (pg.selectReg < 0 || pg.selectReg >= pg.pageSize) p('paging.selectReg', `page-select register ${hex(pg.selectReg)} is outside a page of ${pg.pageSize}`);
    if (def.readable === false) p('paging', 'a write-only chip with pages cannot be supported safely (the page cannot be read back)');
  }
  const names = new Map<string, number>();
  const addrs = new Map<number, string>();
  def.registers.forEach((r, i) => {
    const w = `registers[${i}] (${r.name || 'unnamed'})`;
    if (!r.name || !/^[A-Za-z][A-Za-z0-9_]*$/.test(r.name)) p(w, `register name "${r.name}" must be letters, digits and _`);
    if (names.has(r.name)) p(w, `register name ${r.name} is used twice (also registers[${names.get(r.name)}])`);
    names.set(r.name, i);
    if (!Number.isInteger(r.addr) || r.addr < 0) p(w, `address ${r.addr} is not a non-negative integer`);
    else {
      if (addrs.has(r.addr)) p(w, `address ${describeAddr(def, r.addr)} is also register ${addrs.get(r.addr)}`);
      addrs.set(r.addr, r.name);
      if (def.paging) {
        const page = Math.floor(r.addr / def.paging.pageSize);
        const off = r.addr % def.paging.pageSize;
        if (!def.paging.pages.includes(page)) p(w, `address ${hex(r.addr, 3)} is in page ${page}, which the map does not list (pages ${def.paging.pages.join(', ')})`);
        if (off === def.paging.selectReg) p(w, `offset ${hex(off)} is the page-select register, which the layer manages itself`);
      } else if (r.addr > localMax) {
        p(w, `address ${hex(r.addr)} does not fit a ${def.addrBits}-bit register address`);
      }
      if (r.addr % stride !== 0) p(w, `address ${hex(r.addr)} is not a multiple of the stride ${stride}`);
    }
    if (!r.source?.trim()) p(w, 'the register names no source for its layout and default');
    if (r.reset !== 'unknown' && (!Number.isInteger(r.reset) || r.reset < 0 || r.reset > maxValue)) {
      p(w, `reset default ${r.reset} is out of range for a ${def.valueBits}-bit register (0..${hex(maxValue)})`);
    }
    if (def.readable === false && (r.volatile || r.access === 'ro')) p(w, 'a write-only chip cannot have read-only or volatile registers (they could never be read)');
    if (r.access === 'wo' && r.volatile) p(w, 'a write-only register cannot be volatile');
    const used: { name: string; mask: number }[] = [];
    const fnames = new Set<string>();
    (r.fields ?? []).forEach((f, j) => {
      const fw = `${w}.fields[${j}] (${f.name})`;
      if (fnames.has(f.name)) p(fw, `field name ${f.name} is used twice in ${r.name}`);
      fnames.add(f.name);
      const { msb, lsb, width, mask } = fieldRange(f);
      if (!Number.isInteger(msb) || !Number.isInteger(lsb) || lsb < 0 || msb < lsb) {
        p(fw, `bits [${msb}:${lsb}] are not a valid range`);
        return;
      }
      if (msb >= def.valueBits) p(fw, `bits [${msb}:${lsb}] are wider than the ${def.valueBits}-bit register`);
      for (const u of used) if (u.mask & mask) p(fw, `bits [${msb}:${lsb}] overlap field ${u.name}`);
      used.push({ name: f.name, mask });
      for (const [vn, v] of Object.entries(f.values ?? {})) {
        if (!Number.isInteger(v) || v < 0 || v >= 2 ** width) p(fw, `value ${vn} = ${v} does not fit the ${width}-bit field`);
      }
    });
  });
  return out;
}

/** What the layer does on a bus error. */
export interface RetryPolicy {
  /** Further attempts after the first (default 3). */
  retries: number;
  /** Delay before retry k (k from 0) is min(maxDelayMs, firstDelayMs * 2^k). */
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, firstDelayMs: 1, maxDelayMs: 8 };

/** Faults worth retrying; 'unsupported', 'invalid' and 'closed' never get better. */
const TRANSIENT: readonly I2cFault[] = ['nack', 'timeout', 'arbitration-lost', 'bus-error'];

export interface RegmapOptions {
  retry?: Partial<RetryPolicy>;
  /** Sleeps between retries (the board's clock); default: no wait. */
  sleepMs?: (ms: number) => Promise<void>;
}

/** One write of a batch. */
export interface RegWrite {
  reg: RegRef;
  value: number;
}

/** A register's state for a dump (`sbc-audio regs`). */
export interface RegisterState {
  def: RegisterDef;
  where: string;
  cached: number | undefined;
  /** Read from the chip now (undefined: not readable, or the read failed: see error). */
  read: number | undefined;
  error?: string;
}

/** The wire: raw register access for one page-local address. */
interface Wire {
  read(ops: I2cOps, reg: number): Promise<number>;
  write(ops: I2cOps, reg: number, value: number): Promise<void>;
}

function makeWire(def: RegmapDef, bus: I2cBus, addr: number): Wire {
  if (def.addrBits === 7) {
    // 7-bit register address and 9-bit value: [A6..A0 D8] [D7..D0].
    return {
      async read() {
        throw new RegmapError(`the chip at ${hex(addr)} on ${bus.name} cannot be read (7+9-bit write-only protocol)`);
      },
      async write(ops, reg, value) {
        const b0 = ((reg & 0x7f) << 1) | ((value >> 8) & 1);
        const b1 = value & 0xff;
        if (bus.functionality().i2c) await ops.transfer([{ kind: 'write', addr, data: Uint8Array.of(b0, b1) }]);
        else await ops.writeByteData(addr, b0, b1);
      },
    };
  }
  const dev = new I2cRegisterDevice(bus, addr, { addrBits: def.addrBits, valueBits: def.valueBits as 8 | 16, byteOrder: def.byteOrder });
  return { read: (ops, reg) => dev.read(reg, ops), write: (ops, reg, value) => dev.write(reg, value, ops) };
}

export class Regmap {
  readonly def: RegmapDef;
  readonly bus: I2cBus;
  readonly addr: number;
  private readonly byName = new Map<string, RegisterDef>();
  private readonly byAddr = new Map<number, RegisterDef>();
  private readonly cache = new Map<number, number>();
  private readonly dirty = new Set<number>();
  private readonly wire: Wire;
  private readonly retry: RetryPolicy;
  private readonly sleepMs: (ms: number) => Promise<void>;
  /** The page the chip is on, or undefined when not known (after reset or a failed access). */
  private page: number | undefined;
  private cacheOnly = false;
  /** Why the chip must not be accessed now (e.g. its clock is stopped); undefined: open. */
  private gate: string | undefined;
  /** Statistics for tests and `regs`: bus operations and retries. */
  readonly stats = { reads: 0, writes: 0, retries: 0, pageSelects: 0 };

  constructor(def: RegmapDef, bus: I2cBus, addr: number, opts: RegmapOptions = {}) {
    const problems = checkRegmap(def);
    if (problems.length) {
      throw new RegmapError(`broken register map: ${problems.map((x) => `${x.where}: ${x.message}`).join('; ')}`);
    }
    this.def = def;
    this.bus = bus;
    this.addr = addr;
    for (const r of def.registers) {
      this.byName.set(r.name, r);
      this.byAddr.set(r.addr, r);
    }
    this.wire = makeWire(def, bus, addr);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.sleepMs = opts.sleepMs ?? (async () => undefined);
    this.resetCache();
  }

  /** The register for a name or address; a clear error for one the map does not declare. */
  reg(ref: RegRef): RegisterDef {
    const r = typeof ref === 'string' ? this.byName.get(ref) : this.byAddr.get(ref);
    if (!r) {
      const what = typeof ref === 'string' ? `named "${ref}"` : `at ${describeAddr(this.def, ref)}`;
      throw new RegmapError(`no register ${what} in the register map of the chip at ${hex(this.addr)} on ${this.bus.name}`);
    }
    return r;
  }

  field(ref: RegRef, name: string): FieldDef & { mask: number; lsb: number; width: number } {
    const r = this.reg(ref);
    const f = r.fields?.find((x) => x.name === name);
    if (!f) {
      throw new RegmapError(`register ${r.name} has no field "${name}" (fields: ${(r.fields ?? []).map((x) => x.name).join(', ') || 'none'})`);
    }
    return { ...f, ...fieldRange(f) };
  }

  /** A field value given as a number or as one of the field's named values. */
  fieldValue(ref: RegRef, name: string, value: number | string): number {
    const f = this.field(ref, name);
    let v: number;
    if (typeof value === 'string') {
      const named = f.values?.[value];
      if (named === undefined) {
        throw new RegmapError(`field ${this.reg(ref).name}.${name} has no value "${value}" (values: ${Object.keys(f.values ?? {}).join(', ') || 'none'})`);
      }
      v = named;
    } else v = value;
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** f.width) {
      throw new RegmapError(`value ${v} does not fit field ${this.reg(ref).name}.${name} (${f.width} bits)`);
    }
    return v;
  }

  private regLabel(r: RegisterDef): string {
    return this.def.paging ? `${r.name}, ${describeAddr(this.def, r.addr)}` : r.name;
  }

  private cacheable(r: RegisterDef): boolean {
    return !r.volatile;
  }

  /** The cache as the chip was after reset: known defaults only. */
  resetCache(): void {
    this.cache.clear();
    this.dirty.clear();
    for (const r of this.def.registers) if (r.reset !== 'unknown' && this.cacheable(r)) this.cache.set(r.addr, r.reset);
    this.page = undefined;
  }

  /**
   * The chip has just been reset or powered up (its registers are at their reset defaults): the
   * registers whose wanted value (the cache) differs from the default become dirty for `sync()`.
   */
  chipWasReset(): void {
    this.page = undefined;
    for (const [a, v] of this.cache) {
      const r = this.byAddr.get(a)!;
      if (r.access === 'ro') continue;
      if (r.reset === 'unknown' || r.reset !== v) this.dirty.add(a);
    }
  }

  /** Cache-only mode: writes go to the cache (marked dirty), nothing touches the bus. */
  setCacheOnly(on: boolean): void {
    this.cacheOnly = on;
    if (on) this.page = undefined;
  }

  /**
   * Closes the bus to this chip (`reason`: why, e.g. "its MCLK is not running") or opens it
   * (undefined). While closed, any access that would reach the chip fails at once with a
   * RegmapError naming the reason, and nothing is sent: for chips that must not see a bus
   * transaction in some state (SGTL5000: no I2C access before its clock runs).
   */
  setBusGate(reason: string | undefined): void {
    this.gate = reason;
    if (reason !== undefined) this.page = undefined;
  }

  get busGate(): string | undefined {
    return this.gate;
  }

  private checkGate(what: string): void {
    if (this.gate !== undefined) {
      throw new RegmapError(`no ${what} on the chip at ${hex(this.addr)} on ${this.bus.name}: ${this.gate}`);
    }
  }

  dirtyRegisters(): string[] {
    return [...this.dirty].sort((a, b) => a - b).map((a) => this.byAddr.get(a)!.name);
  }

  /** Writes every dirty register to the chip, in address order, as one batch. */
  async sync(): Promise<void> {
    if (this.cacheOnly) throw new RegmapError('sync() while in cache-only mode: leave it first (setCacheOnly(false))');
    this.checkGate('sync');
    const addrs = [...this.dirty].sort((a, b) => a - b);
    await this.bus.exclusive(async (ops) => {
      for (const a of addrs) {
        await this.wireWrite(ops, this.byAddr.get(a)!, this.cache.get(a)!);
        this.dirty.delete(a);
      }
    });
  }

  /** The cached value, or undefined when the cache does not know it (unknown default, volatile). */
  cached(ref: RegRef): number | undefined {
    return this.cache.get(this.reg(ref).addr);
  }

  /** Reads a register: volatile ones from the chip, others from the cache when it knows them. */
  async read(ref: RegRef): Promise<number> {
    const r = this.reg(ref);
    if (r.access === 'wo' || this.def.readable === false) {
      const v = this.cache.get(r.addr);
      if (v === undefined) {
        throw new RegmapError(`register ${this.regLabel(r)} cannot be read from the chip and its value is not known yet (reset default unknown, never written)`);
      }
      return v;
    }
    if (!r.volatile) {
      const v = this.cache.get(r.addr);
      if (v !== undefined) return v;
    }
    if (this.cacheOnly) throw new RegmapError(`register ${this.regLabel(r)} is not cached and the map is in cache-only mode`);
    this.checkGate(`read of ${this.regLabel(r)}`);
    const v = await this.bus.exclusive((ops) => this.wireRead(ops, r));
    if (this.cacheable(r)) this.cache.set(r.addr, v);
    return v;
  }

  /** Reads the chip whatever the cache says (for `regs` and tests); throws for unreadable registers. */
  async readFromChip(ref: RegRef): Promise<number> {
    const r = this.reg(ref);
    if (r.access === 'wo' || this.def.readable === false) throw new RegmapError(`register ${this.regLabel(r)} cannot be read from the chip`);
    this.checkGate(`read of ${this.regLabel(r)}`);
    return this.bus.exclusive((ops) => this.wireRead(ops, r));
  }

  async readField(ref: RegRef, name: string): Promise<number> {
    const f = this.field(ref, name);
    return ((await this.read(ref)) & f.mask) >>> f.lsb;
  }

  async write(ref: RegRef, value: number): Promise<void> {
    await this.writeBatch([{ reg: ref, value }]);
  }

  /** Writes in order under one hold of the bus lock; the page is selected only when it changes. */
  async writeBatch(writes: readonly RegWrite[]): Promise<void> {
    const resolved = writes.map((w) => {
      const r = this.reg(w.reg);
      if (r.access === 'ro') throw new RegmapError(`register ${this.regLabel(r)} is read-only`);
      this.checkValue(r, w.value);
      return { r, value: w.value };
    });
    if (this.cacheOnly) {
      for (const { r, value } of resolved) {
        if (this.cacheable(r)) {
          this.cache.set(r.addr, value);
          this.dirty.add(r.addr);
        }
      }
      return;
    }
    this.checkGate(`write of ${resolved.map(({ r }) => this.regLabel(r)).join(', ')}`);
    await this.bus.exclusive(async (ops) => {
      for (const { r, value } of resolved) {
        await this.wireWrite(ops, r, value);
        if (this.cacheable(r)) this.cache.set(r.addr, value);
        this.dirty.delete(r.addr);
      }
    });
  }

  /**
   * Sets fields of a register (read-modify-write on the cached value, reading the chip only
   * when the cache does not know it). No bus write when nothing changes, unless `force`.
   */
  async update(ref: RegRef, fields: Readonly<Record<string, number | string>>, force = false): Promise<number> {
    const r = this.reg(ref);
    let mask = 0;
    let bits = 0;
    for (const [name, value] of Object.entries(fields)) {
      const f = this.field(r.name, name);
      if (f.readOnly) throw new RegmapError(`field ${r.name}.${name} is read-only`);
      mask |= f.mask;
      bits |= this.fieldValue(r.name, name, value) << f.lsb;
    }
    const old = await this.read(r.name);
    const next = (old & ~mask) | bits;
    if (next !== old || force || r.volatile) await this.write(r.name, next);
    return next;
  }

  /** Encodes field values into a register value starting from `base`. */
  compose(ref: RegRef, fields: Readonly<Record<string, number | string>>, base = 0): number {
    let v = base;
    for (const [name, value] of Object.entries(fields)) {
      const f = this.field(ref, name);
      v = (v & ~f.mask) | (this.fieldValue(ref, name, value) << f.lsb);
    }
    return v;
  }

  /** Decodes a value into the register's named fields. */
  decode(ref: RegRef, value: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.reg(ref).fields ?? []) {
      const { mask, lsb } = fieldRange(f);
      out[f.name] = (value & mask) >>> lsb;
    }
    return out;
  }

  /** Every register with its cached value and, where the chip can be read, its value now. */
  async dump(readChip = true): Promise<RegisterState[]> {
    const out: RegisterState[] = [];
    for (const r of [...this.def.registers].sort((a, b) => a.addr - b.addr)) {
      const st: RegisterState = { def: r, where: describeAddr(this.def, r.addr), cached: this.cache.get(r.addr), read: undefined };
      if (readChip && r.access !== 'wo' && this.def.readable !== false && !this.cacheOnly) {
        try {
          st.read = await this.readFromChip(r.name);
        } catch (e) {
          st.error = (e as Error).message;
        }
      }
      out.push(st);
    }
    return out;
  }

  private checkValue(r: RegisterDef, value: number): void {
    const max = 2 ** this.def.valueBits - 1;
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new RegmapError(`value ${value} does not fit register ${this.regLabel(r)} (${this.def.valueBits} bits, 0..${hex(max)})`);
    }
  }

  private split(r: RegisterDef): { page: number | undefined; offset: number } {
    if (!this.def.paging) return { page: undefined, offset: r.addr };
    return { page: Math.floor(r.addr / this.def.paging.pageSize), offset: r.addr % this.def.paging.pageSize };
  }

  private async selectPage(ops: I2cOps, page: number | undefined): Promise<void> {
    if (page === undefined || page === this.page) return;
    this.page = undefined;
    await this.wire.write(ops, this.def.paging!.selectReg, page);
    this.stats.pageSelects++;
    this.page = page;
  }

  private wireRead(ops: I2cOps, r: RegisterDef): Promise<number> {
    const { page, offset } = this.split(r);
    return this.withRetry(r, 'read', async () => {
      await this.selectPage(ops, page);
      this.stats.reads++;
      return this.wire.read(ops, offset);
    });
  }

  private wireWrite(ops: I2cOps, r: RegisterDef, value: number): Promise<void> {
    const { page, offset } = this.split(r);
    return this.withRetry(r, 'write', async () => {
      await this.selectPage(ops, page);
      this.stats.writes++;
      await this.wire.write(ops, offset, value);
    });
  }

  private async withRetry<T>(r: RegisterDef, what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof I2cError)) throw e;
        this.page = undefined; // a failed access may have left the page select undone
        if (TRANSIENT.includes(e.fault) && attempt < this.retry.retries) {
          this.stats.retries++;
          await this.sleepMs(Math.min(this.retry.maxDelayMs, this.retry.firstDelayMs * 2 ** attempt));
          continue;
        }
        const { offset } = this.split(r);
        const tries = attempt + 1;
        throw new I2cError({
          bus: e.bus, addr: e.addr, reg: offset, regName: this.regLabel(r), fault: e.fault, op: `${what} ${r.name}`, errno: e.errno,
          detail: `${tries} attempt${tries > 1 ? 's' : ''}${tries > 1 ? ` with backoff` : ''}`,
        });
      }
    }
  }
}
