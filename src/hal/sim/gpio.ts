/**
 * A simulated GPIO chip. The outside world (a test, the sim board's jack) drives input lines
 * with `drive` or `bounce` and reads output lines with `sense`. Debounce works as the kernel's
 * character device does it: every raw edge restarts the debounce timer, and when the line has
 * been stable for the whole period an event is emitted, stamped at the moment the period ends.
 */
import { ERRNO } from '../../util/errno.ts';
import type { Clock, TimerHandle } from '../clock.ts';
import {
  type GpioChip, type GpioChipInfo, type GpioEdgeEvent, GpioError, type GpioLineConfig, type GpioLineInfo,
  type GpioLineRequest, type GpioValue,
} from '../gpio.ts';

interface SimLine {
  offset: number;
  name: string;
  /** Electrical level the outside world drives (undefined: not driven; the bias decides). */
  external: GpioValue | undefined;
  /** Held by this request, if any. */
  owner: SimLineRequest | undefined;
}

export interface SimGpioChipOptions {
  lines?: number;
  label?: string;
  /** Line names by offset; default 'GPIO<n>' as on a Raspberry Pi's main chip. */
  names?: readonly string[];
}

export class SimGpioChip implements GpioChip {
  private readonly lines: SimLine[];
  readonly label: string;
  private closed = false;

  constructor(readonly name: string, readonly clock: Clock, opts: SimGpioChipOptions = {}) {
    const n = opts.lines ?? 64;
    this.label = opts.label ?? `sim-gpio (${name})`;
    this.lines = Array.from({ length: n }, (_, i) => ({
      offset: i, name: opts.names?.[i] ?? `GPIO${i}`, external: undefined, owner: undefined,
    }));
  }

  info(): GpioChipInfo {
    return { name: this.name, label: this.label, lines: this.lines.length };
  }

  private line(offset: number): SimLine {
    const l = this.lines[offset];
    if (!l) throw new GpioError(this.name, offset, `no such line (the chip has ${this.lines.length})`);
    return l;
  }

  lineInfo(offset: number): GpioLineInfo {
    const l = this.line(offset);
    const cfg = l.owner?.config;
    return {
      offset, name: l.name, consumer: l.owner?.consumer ?? '', used: l.owner !== undefined,
      direction: cfg?.direction ?? 'input', activeLow: cfg?.activeLow ?? false,
    };
  }

  findLine(name: string): number | undefined {
    return this.lines.find((l) => l.name === name)?.offset;
  }

  async requestLines(offsets: readonly number[], config: GpioLineConfig, consumer: string): Promise<GpioLineRequest> {
    if (this.closed) throw new GpioError(this.name, undefined, 'chip is closed');
    if (offsets.length === 0) throw new GpioError(this.name, undefined, 'request names no lines');
    for (const o of offsets) {
      const l = this.line(o);
      if (l.owner) throw new GpioError(this.name, o, `busy (held by "${l.owner.consumer}")`, ERRNO.EBUSY);
    }
    if (config.direction === 'input' && config.debounceUs !== undefined && (config.debounceUs < 0 || !Number.isInteger(config.debounceUs))) {
      throw new GpioError(this.name, offsets[0], `debounce must be a whole number of µs, got ${config.debounceUs}`, ERRNO.EINVAL);
    }
    const req = new SimLineRequest(this, offsets, config, consumer);
    for (const o of offsets) this.line(o).owner = req;
    // The levels the request starts from, now that its bias applies (an undriven pull-up line
    // reads 1 from the request on): taken before, its first real edge would look like no change.
    req.primeLevels();
    return req;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- the outside world ----

  /** Drives an input line's electrical level (a jack switch, a test wire). */
  drive(offset: number, level: GpioValue): void {
    const l = this.line(offset);
    const before = this.electrical(l);
    l.external = level;
    const after = this.electrical(l);
    if (before !== after) l.owner?.rawEdge(offset, after);
  }

  /** Stops driving a line: it floats to its bias (pull-up reads 1, otherwise 0). */
  undrive(offset: number): void {
    const l = this.line(offset);
    const before = this.electrical(l);
    l.external = undefined;
    const after = this.electrical(l);
    if (before !== after) l.owner?.rawEdge(offset, after);
  }

  /**
   * Contact bounce: toggles the line at the given intervals (ns after now, increasing) and
   * ends at `finalLevel`. Uses the chip's clock, so it runs on a virtual clock too.
   */
  bounce(offset: number, finalLevel: GpioValue, toggleAtNs: readonly number[]): void {
    const t0 = this.clock.nowNs();
    let level: GpioValue = finalLevel;
    // Work backwards so the last toggle lands on finalLevel.
    const levels: GpioValue[] = [];
    for (let i = toggleAtNs.length - 1; i >= 0; i--) {
      levels[i] = level;
      level = (level ^ 1) as GpioValue;
    }
    toggleAtNs.forEach((dt, i) => this.clock.setTimerNs(t0 + dt, () => this.drive(offset, levels[i]!)));
  }

  /** Electrical level of a line as the outside world sees it. */
  sense(offset: number): GpioValue {
    return this.electrical(this.line(offset));
  }

  electrical(l: SimLine): GpioValue {
    const cfg = l.owner?.config;
    if (cfg?.direction === 'output') {
      const logical = l.owner!.outputValue(l.offset);
      const level = (logical ^ (cfg.activeLow ? 1 : 0)) as GpioValue;
      // Open drain only pulls low; open source only pulls high. Otherwise the outside (or a pull-up) decides.
      if (cfg.drive === 'open-drain' && level === 1) return l.external ?? 1;
      if (cfg.drive === 'open-source' && level === 0) return l.external ?? 0;
      return level;
    }
    if (l.external !== undefined) return l.external;
    const bias = cfg?.bias;
    return bias === 'pull-up' ? 1 : 0;
  }

  lineOf(offset: number): SimLine {
    return this.line(offset);
  }

  release(req: SimLineRequest): void {
    for (const o of req.offsets) if (this.line(o).owner === req) this.line(o).owner = undefined;
  }
}

class SimLineRequest implements GpioLineRequest {
  private readonly listeners = new Set<(ev: GpioEdgeEvent) => void>();
  private readonly outputs = new Map<number, GpioValue>();
  /** Last level reported through debounce, per line (electrical). */
  private readonly debounced = new Map<number, GpioValue>();
  private readonly timers = new Map<number, TimerHandle>();
  private readonly lineSeq = new Map<number, number>();
  private seq = 0;
  private released = false;

  constructor(
    private readonly chip: SimGpioChip,
    readonly offsets: readonly number[],
    readonly config: GpioLineConfig,
    readonly consumer: string,
  ) {
    for (const o of offsets) {
      if (config.direction === 'output') this.outputs.set(o, config.initial ?? 0);
      this.lineSeq.set(o, 0);
    }
  }

  /** Takes each line's level as the request's starting point (the chip calls it once the lines are owned). */
  primeLevels(): void {
    for (const o of this.offsets) this.debounced.set(o, this.chip.electrical(this.chip.lineOf(o)));
  }

  private check(offset: number): void {
    if (this.released) throw new GpioError(this.chip.name, offset, 'request was released');
    if (!this.offsets.includes(offset)) throw new GpioError(this.chip.name, offset, 'line is not part of this request');
  }

  outputValue(offset: number): GpioValue {
    return this.outputs.get(offset) ?? 0;
  }

  getValue(offset: number): GpioValue {
    this.check(offset);
    if (this.config.direction === 'output') return this.outputValue(offset);
    const level = this.chip.electrical(this.chip.lineOf(offset));
    return (level ^ (this.config.activeLow ? 1 : 0)) as GpioValue;
  }

  setValue(offset: number, value: GpioValue): void {
    this.check(offset);
    if (this.config.direction !== 'output') throw new GpioError(this.chip.name, offset, 'cannot set an input line', ERRNO.EPERM);
    this.outputs.set(offset, value);
  }

  onEdge(listener: (ev: GpioEdgeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const t of this.timers.values()) t.cancel();
    this.chip.release(this);
  }

  /** A raw electrical edge on one of our lines. */
  rawEdge(offset: number, level: GpioValue): void {
    if (this.released || this.config.direction !== 'input') return;
    const debounceUs = this.config.debounceUs ?? 0;
    if (debounceUs === 0) {
      this.debounced.set(offset, level);
      this.emit(offset, level, this.chip.clock.nowNs());
      return;
    }
    // Every raw edge restarts the period; the event, if the level really changed, is stamped at its end.
    this.timers.get(offset)?.cancel();
    const due = this.chip.clock.nowNs() + debounceUs * 1000;
    this.timers.set(offset, this.chip.clock.setTimerNs(due, () => {
      this.timers.delete(offset);
      const now = this.chip.electrical(this.chip.lineOf(offset));
      if (now === this.debounced.get(offset)) return;
      this.debounced.set(offset, now);
      this.emit(offset, now, due);
    }));
  }

  private emit(offset: number, level: GpioValue, timestampNs: number): void {
    const logical = level ^ (this.config.activeLow ? 1 : 0);
    const edge = logical ? 'rising' : 'falling';
    const wanted = this.config.direction === 'input' ? this.config.edge ?? 'none' : 'none';
    if (wanted === 'none' || (wanted !== 'both' && wanted !== edge)) return;
    const lineSeqno = this.lineSeq.get(offset)! + 1;
    this.lineSeq.set(offset, lineSeqno);
    const ev: GpioEdgeEvent = { offset, edge, timestampNs, seqno: ++this.seq, lineSeqno };
    // Delivered from the event loop, as the real backend's are.
    queueMicrotask(() => {
      if (this.released) return;
      for (const l of this.listeners) l(ev);
    });
  }
}
