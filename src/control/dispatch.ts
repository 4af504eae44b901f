/**
 * Call classes (docs/CONTROL.md, "Call classes"), as the DSSI seed defines them: *instantiation*
 * (open, close, probe, set format, configure — may block; one at a time), *control* (changes and
 * queries — bounded, never waiting on instantiation work beyond a stated bound) and *audio* (the
 * engine thread — never waits on either; it lives in src/engine and takes nothing from here).
 *
 * - `InstantiationLock`: a FIFO mutex for instantiation work. The codec lock the service already
 *   has (BoardDevices.codecLock, an AsyncMutex of src/hal/i2c.ts) stays the bus's lock: this one
 *   only says "a configure (or an open, a probe) is running", so that control work stands aside.
 * - `ControlDispatcher`: the control class in front of the control model (./model.ts). A change
 *   is checked at once (the model's parser: a bad value is refused without being queued). An
 *   engine control (`realtimeSafe`: the trim) goes to the model at once, which puts it on the
 *   engine's lock-free queue: it never waits behind a register write. A register control waits
 *   in a pending table that holds one value per control, a newer value replacing the older (the
 *   older's caller is answered `coalesced`); one loop applies the pending controls through the
 *   model, in the arrival order of their ids, and stands aside while instantiation work runs. A
 *   caller whose change is not applied within `boundMs` is answered `queued` (with why) and the
 *   change is still applied later.
 *
 * Why coalescing is right for register controls: a register holds one value, and what a knob or
 * an OSC fader means is "this is the value now". Writing every intermediate value of a 10,000-per-
 * second storm over a bus that takes 0.1 ms (healthy, 400 kHz) to 50 ms (slowed) per transfer
 * would put the last value seconds or hours behind; writing only the newest puts it at most one
 * write behind the one in progress.
 */
import type { Clock, TimerHandle } from '../hal/clock.ts';
import { monotonicClock } from '../hal/linux/clock.ts';
import { ControlModelError, type ControlModel, checkChangeTime } from './model.ts';
import type { ChangeTime, ControlDescriptor, ControlInfo, ControlValue } from './types.ts';
import { ControlValueError, isRelativeValue, parseControlValue } from './values.ts';

/**
 * The default bound (ms) within which a control-class call is answered. Why 20 ms: a user calls a
 * change "at once" well under ~100 ms (docs/CONTROL.md, "Ramps"), so a caller learns of a stall
 * (a slow bus, a configure running) long before a person would, and can show it; and on a healthy
 * bus a register write takes about 0.1 ms (400 kHz I2C), so even a hundred pending controls are
 * written within the bound: `queued` then means the bus or instantiation really is busy, not timer
 * noise (a Node timer fires a millisecond or two late). A stream gain set while the stream plays
 * is handed over at a frame after a ramp (src/stream/gain-handoff.ts: FIFO + a period, plus the
 * 50 ms ramp for a change down), so such a set is answered `queued` and lands with its ramp.
 */
export const DEFAULT_BOUND_MS = 20;

/**
 * On a real clock the bound's timer is armed this much early: a Node timer fires up to a
 * millisecond or two late, and the answer must come within the bound, not just after it.
 */
const REAL_CLOCK_TIMER_LEAD_NS = 2e6;

/** Instantiation class: open/close/probe/set format/configure — may block; one at a time, in order of arrival. */
export class InstantiationLock {
  private current: string | undefined;
  private readonly queue: { what: string; go: () => void }[] = [];
  private readonly freeWaiters: (() => void)[] = [];

  run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const go = () => {
        this.current = what;
        let p: Promise<T>;
        try {
          p = fn();
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(resolve, reject).finally(() => this.next());
      };
      if (this.current === undefined) go();
      else this.queue.push({ what, go });
    });
  }

  /** What runs now, or undefined. */
  busy(): string | undefined {
    return this.current;
  }

  /** How many jobs wait behind the one that runs. */
  waiting(): number {
    return this.queue.length;
  }

  /** Resolves once nothing runs and nothing waits (at once if so now). */
  whenFree(): Promise<void> {
    if (this.current === undefined) return Promise.resolve();
    return new Promise((resolve) => this.freeWaiters.push(resolve));
  }

  private next(): void {
    const n = this.queue.shift();
    // Handed over synchronously: between two queued jobs busy() never reads undefined, so the
    // control loop cannot slip a write in between them.
    if (n) {
      n.go();
      return;
    }
    this.current = undefined;
    for (const w of this.freeWaiters.splice(0)) w();
  }
}

export type SetOutcome =
  | { status: 'applied'; control: ControlInfo }
  /** Superseded by a newer value of the same control before it was applied. */
  | { status: 'coalesced' }
  /** Not applied within boundMs (the bus or instantiation is busy, or its time is ahead): it will be. */
  | { status: 'queued'; why: string }
  | { status: 'refused'; error: string };

export interface DispatchStats {
  /** Every set() call. */
  received: number;
  /** Changes the model applied (register writes landed, engine events taken). */
  applied: number;
  /** Register changes replaced by a newer value of the same control before they were written. */
  coalesced: number;
  /** Changes refused: a bad value, id, time or ramp (at once, nothing queued), or a late validation error. */
  refused: number;
  /** Callers answered `queued` (their change was applied, coalesced or dropped later: counted there too). */
  queued: number;
  /** Accepted changes that never took effect, by reason. */
  dropped: Record<string, number>;
}

export interface ControlDispatcherOptions {
  instantiation: InstantiationLock;
  /** The bound (ms) within which every set() is answered (default DEFAULT_BOUND_MS). */
  boundMs?: number;
  /**
   * The board's clock (the virtual clock of a virtual-clock sim board), for the bound and for
   * register changes at a time. Default: CLOCK_MONOTONIC.
   */
  clock?: Clock;
  /**
   * The controls' descriptors (controlDescriptors(rt, engine) of ./model.ts), so that a change is
   * checked without a bus read. Absent: the model's own descriptor(id) where it has one, else one
   * model.list() at construction (it reads every control once; sets wait for it).
   */
  descriptors?: readonly ControlDescriptor[];
  log?: (line: string) => void;
}

/** Drop reasons (the keys of stats().dropped). */
export const DROP = {
  /** The model's write failed (the bus or the chip refused it): the chip holds what the model read back. */
  writeFailed: 'write failed',
  /** Still pending when the dispatcher closed (the service stopping). */
  closed: 'closed before it was applied',
} as const;

interface Waiter {
  resolve: (o: SetOutcome) => void;
  answered: boolean;
  deadlineNs: number;
  /** Why it is not applied yet, when its bound passes. */
  why: () => string;
}

interface Entry {
  /** The pending table's key: the control, or its sameAs group (one control on the chip). */
  key: string;
  id: string;
  value: ControlValue;
  at?: ChangeTime;
  source?: string;
  /** When it may be written (at.ns), or −Infinity: now. */
  dueNs: number;
  waiter: Waiter;
}

/** Control class: bounded, coalescing; never waits on instantiation work beyond `boundMs`. */
export class ControlDispatcher {
  private readonly lock: InstantiationLock;
  private readonly boundNs: number;
  private readonly clock: Clock;
  private readonly timerLeadNs: number;
  private readonly log: (line: string) => void;
  private readonly descriptors = new Map<string, ControlDescriptor>();
  /** The descriptors' listing while it runs (the fallback without `descriptors`); undefined once done. */
  private ready: Promise<void> | undefined;
  /** One entry per control (group), in the arrival order of their ids (a Map keeps insertion order; a replacement keeps its place). */
  private readonly pending = new Map<string, Entry>();
  private inFlight: Entry | undefined;
  private engineInFlight = 0;
  /** The value each control was last seen with (for relative values: "+3dB"). */
  private readonly known = new Map<string, ControlValue | null>();
  /** Callers not yet answered, in deadline order (the bound is the same for all). */
  private waiters: Waiter[] = [];
  private waiterHead = 0;
  private boundTimer: TimerHandle | undefined;
  private boundTimerAt = Number.POSITIVE_INFINITY;
  private wake: (() => void) | undefined;
  private dueTimer: TimerHandle | undefined;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly offChange: () => void;
  private closed = false;
  private readonly counts: DispatchStats = { received: 0, applied: 0, coalesced: 0, refused: 0, queued: 0, dropped: {} };
  private lastFailureLogNs = Number.NEGATIVE_INFINITY;
  private unloggedFailures = 0;

  constructor(private readonly model: ControlModel, opts: ControlDispatcherOptions) {
    this.lock = opts.instantiation;
    const boundMs = opts.boundMs ?? DEFAULT_BOUND_MS;
    if (!(typeof boundMs === 'number' && Number.isFinite(boundMs) && boundMs > 0 && boundMs <= 10_000)) {
      throw new RangeError(`ControlDispatcher: boundMs must be a number of ms from above 0 to 10000, got ${JSON.stringify(boundMs)}`);
    }
    this.boundNs = boundMs * 1e6;
    this.clock = opts.clock ?? monotonicClock();
    this.timerLeadNs = this.clock.kind === 'virtual' ? 0 : Math.min(REAL_CLOCK_TIMER_LEAD_NS, this.boundNs / 2);
    this.log = opts.log ?? (() => {});
    for (const [id, v] of Object.entries(model.persistentValues())) this.known.set(id, v);
    this.offChange = model.onChange((c) => { this.known.set(c.id, c.value); });
    if (opts.descriptors) for (const d of opts.descriptors) this.descriptors.set(d.id, d);
    else if (typeof (model as { descriptor?: unknown }).descriptor !== 'function') {
      this.ready = model.list().then((l) => {
        for (const c of l.controls) {
          const { value, state: _s, error: _e, applied: _a, ...d } = c;
          this.descriptors.set(d.id, d);
          if (!this.known.has(d.id)) this.known.set(d.id, value);
        }
      }, (e: unknown) => this.log(`control dispatcher: cannot list the controls (${(e as Error).message}): every set goes to the model unchecked`))
        .finally(() => { this.ready = undefined; });
    }
    void this.loop();
  }

  /**
   * Sets a control (as ControlModel.set takes it: a value, `at`, `rampMs`). Answered within
   * `boundMs`: applied, coalesced (a newer value of the control replaced it), queued (not applied
   * yet, and it will be) or refused (nothing changed, nothing queued).
   */
  set(id: string, value: unknown, opts: { at?: ChangeTime; rampMs?: number; source?: string } = {}): Promise<SetOutcome> {
    this.counts.received++;
    if (this.closed) return Promise.resolve(this.refuse(`${id}: the control dispatcher is closed (the service is stopping)`));
    if (this.ready) return this.ready.then(() => this.dispatch(id, value, opts));
    return Promise.resolve(this.dispatch(id, value, opts));
  }

  stats(): DispatchStats {
    return { ...this.counts, dropped: { ...this.counts.dropped } };
  }

  /** Resolves when nothing is pending or being applied (tests). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Pending changes are dropped (their callers, if still waiting, are answered refused); later sets are refused. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.offChange();
    for (const e of this.pending.values()) {
      this.drop(DROP.closed);
      this.answer(e.waiter, { status: 'refused', error: `${e.id}: not applied: the control dispatcher closed (the service is stopping)` });
    }
    this.pending.clear();
    this.dueTimer?.cancel();
    this.boundTimer?.cancel();
    this.boundTimer = undefined;
    for (let i = this.waiterHead; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (!w.answered) this.answer(w, { status: 'queued', why: 'the control dispatcher closed while it was being applied' });
    }
    this.waiters = [];
    this.waiterHead = 0;
    this.wake?.();
    this.settleIdle();
  }

  // ---- the call ----

  private descriptor(id: string): ControlDescriptor | undefined {
    const d = this.descriptors.get(id);
    if (d) return d;
    const m = this.model as { descriptor?: (id: string) => ControlDescriptor };
    if (typeof m.descriptor === 'function') {
      try {
        const got = m.descriptor(id);
        this.descriptors.set(id, got);
        return got;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  private dispatch(id: string, input: unknown, opts: { at?: ChangeTime; rampMs?: number; source?: string }): Promise<SetOutcome> | SetOutcome {
    if (this.closed) return this.refuse(`${id}: the control dispatcher is closed (the service is stopping)`);
    const d = this.descriptor(id);
    // Engine controls, and ids this side does not know (the model refuses them with its message,
    // naming near ids, without touching the bus): straight to the model.
    if (!d || d.realtimeSafe) return this.direct(id, input, opts);
    let value: ControlValue;
    let at: ChangeTime | undefined;
    try {
      if (!d.writable) throw new ControlModelError(`${id} cannot be set: ${d.readOnlyWhy ?? 'it is read-only'}`);
      at = checkChangeTime(id, opts.at);
      if (at?.frame !== undefined) {
        throw new ControlValueError(`${id}: a change at a stream frame is for engine controls (realtimeSafe); a register control takes a time (at.ns), written as close to it as the bus allows`);
      }
      if (opts.rampMs !== undefined) throw new ControlValueError(`${id}: rampMs is for engine controls (a register change ramps over its streams' ramp time)`);
      const key = groupKey(d);
      // A step ("+3dB", "toggle") is from the newest value: the one pending, else the one being
      // written now, else the one last seen. So quick steps of a rotary encoder add up even though
      // only one write at a time reaches the bus (a step that came while a write was in flight
      // builds on that write; should the write fail, the steps on it are off by it).
      const inFlight = this.inFlight?.key === key ? this.inFlight.value : undefined;
      const current = isRelativeValue(input) ? this.pending.get(key)?.value ?? inFlight ?? this.known.get(id) ?? null : null;
      value = parseControlValue(d, input, current);
      return this.enqueue(key, d, value, at, opts.source);
    } catch (e) {
      // Only the checks above throw (ControlValueError, ControlModelError); anything else is
      // answered too, never thrown at the caller.
      return this.refuse(e instanceof ControlValueError || e instanceof ControlModelError ? e.message : `${id}: ${(e as Error).message}`);
    }
  }

  private refuse(error: string): SetOutcome {
    this.counts.refused++;
    return { status: 'refused', error };
  }

  /** Engine controls: the model at once (the engine's queue); answered applied, or queued at the bound. */
  private direct(id: string, input: unknown, opts: { at?: ChangeTime; rampMs?: number }): Promise<SetOutcome> {
    const at = opts.at;
    return new Promise<SetOutcome>((resolve) => {
      const w = this.waiter(resolve, () => (at ? `the engine applies it at its ${at.frame !== undefined ? `frame ${at.frame}` : `time ${at.ns} ns`}` : 'the engine has not taken it yet (its next period)'));
      this.engineInFlight++;
      this.model.set(id, input, { ...(at !== undefined ? { at } : {}), ...(opts.rampMs !== undefined ? { rampMs: opts.rampMs } : {}) }).then((c) => {
        this.counts.applied++;
        this.answer(w, { status: 'applied', control: c });
      }, (e: unknown) => {
        if (e instanceof ControlValueError || e instanceof ControlModelError) this.answer(w, this.refuse(e.message));
        else {
          this.drop(DROP.writeFailed);
          this.noteFailure(id, e);
          this.answer(w, { status: 'refused', error: `${id}: not applied: ${(e as Error).message}` });
        }
      }).finally(() => {
        this.engineInFlight--;
        this.settleIdle();
      });
    });
  }

  /** Register controls: into the pending table (replacing an older value of the control). */
  private enqueue(key: string, d: ControlDescriptor, value: ControlValue, at: ChangeTime | undefined, source: string | undefined): Promise<SetOutcome> {
    return new Promise<SetOutcome>((resolve) => {
      const entry: Entry = {
        key, id: d.id, value, dueNs: at?.ns ?? Number.NEGATIVE_INFINITY,
        ...(at ? { at } : {}), ...(source !== undefined ? { source } : {}),
        waiter: undefined as unknown as Waiter,
      };
      entry.waiter = this.waiter(resolve, () => this.whyNotYet(entry));
      const older = this.pending.get(key);
      if (older) {
        this.counts.coalesced++;
        this.answer(older.waiter, { status: 'coalesced' });
      }
      // Map.set on a present key keeps its place: the control keeps its turn (arrival order of ids).
      this.pending.set(key, entry);
      this.wake?.();
    });
  }

  private whyNotYet(e: Entry): string {
    const busy = this.lock.busy();
    if (busy !== undefined) return `waiting for instantiation work to finish (${busy}${this.lock.waiting() ? `, ${this.lock.waiting()} more after it` : ''})`;
    if (this.inFlight === e) return 'its register write is in progress (the bus is slow, or a stream gain waits for its frame)';
    if (e.dueNs > this.clock.nowNs()) return `scheduled for ${e.dueNs} ns on the board's clock`;
    let ahead = 0;
    for (const x of this.pending.values()) {
      if (x === e) break;
      if (x.dueNs <= this.clock.nowNs()) ahead++;
    }
    const now = this.inFlight ? `writing ${this.inFlight.id} now` : 'the bus is busy';
    return `behind ${ahead} other pending control${ahead === 1 ? '' : 's'} on the bus (${now})`;
  }

  // ---- the bound ----

  private waiter(resolve: (o: SetOutcome) => void, why: () => string): Waiter {
    const w: Waiter = { resolve, answered: false, deadlineNs: this.clock.nowNs() + this.boundNs, why };
    this.waiters.push(w);
    this.armBound();
    return w;
  }

  private answer(w: Waiter, o: SetOutcome): void {
    if (w.answered) return;
    w.answered = true;
    if (o.status === 'queued') this.counts.queued++;
    w.resolve(o);
  }

  private armBound(): void {
    // Skip the answered ones at the head; compact now and then (the array is a queue).
    while (this.waiterHead < this.waiters.length && this.waiters[this.waiterHead]!.answered) this.waiterHead++;
    if (this.waiterHead > 1024 && this.waiterHead * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.waiterHead);
      this.waiterHead = 0;
    }
    const head = this.waiters[this.waiterHead];
    if (!head || this.closed) return;
    const at = head.deadlineNs - this.timerLeadNs;
    if (this.boundTimer && this.boundTimerAt <= at) return;
    this.boundTimer?.cancel();
    this.boundTimerAt = at;
    this.boundTimer = this.clock.setTimerNs(at, () => this.onBound());
  }

  private onBound(): void {
    this.boundTimer = undefined;
    this.boundTimerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.nowNs() + this.timerLeadNs;
    while (this.waiterHead < this.waiters.length) {
      const w = this.waiters[this.waiterHead]!;
      if (!w.answered) {
        if (w.deadlineNs > now) break;
        this.answer(w, { status: 'queued', why: w.why() });
      }
      this.waiterHead++;
    }
    this.armBound();
  }

  // ---- the loop ----

  private async loop(): Promise<void> {
    await this.ready;
    while (!this.closed) {
      if (this.lock.busy() !== undefined) {
        // Control work stands aside while instantiation work runs (callers are answered at their bound meanwhile).
        await this.lock.whenFree();
        continue;
      }
      const e = this.nextDue();
      if (!e) {
        await this.sleep();
        continue;
      }
      this.pending.delete(e.key);
      this.inFlight = e;
      try {
        const c = await this.model.set(e.id, e.value, e.at ? { at: e.at } : {});
        this.counts.applied++;
        this.answer(e.waiter, { status: 'applied', control: c });
      } catch (err) {
        if (err instanceof ControlValueError || err instanceof ControlModelError) this.answer(e.waiter, this.refuse(err.message));
        else {
          this.drop(DROP.writeFailed);
          this.noteFailure(e.id, err, e.source);
          this.answer(e.waiter, { status: 'refused', error: `${e.id}: not applied: ${(err as Error).message}` });
        }
      } finally {
        this.inFlight = undefined;
        this.settleIdle();
      }
    }
  }

  /** The first pending entry (arrival order) that is due now. */
  private nextDue(): Entry | undefined {
    const now = this.clock.nowNs();
    for (const e of this.pending.values()) if (e.dueNs <= now) return e;
    return undefined;
  }

  /** Until a set arrives, the earliest pending time is due, or the dispatcher closes. */
  private sleep(): Promise<void> {
    return new Promise<void>((resolve) => {
      let earliest = Number.POSITIVE_INFINITY;
      for (const e of this.pending.values()) earliest = Math.min(earliest, e.dueNs);
      const done = () => {
        this.wake = undefined;
        this.dueTimer?.cancel();
        this.dueTimer = undefined;
        resolve();
      };
      this.wake = done;
      if (Number.isFinite(earliest)) this.dueTimer = this.clock.setTimerNs(earliest, done);
    });
  }

  private isIdle(): boolean {
    return this.pending.size === 0 && this.inFlight === undefined && this.engineInFlight === 0;
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private drop(reason: string): void {
    this.counts.dropped[reason] = (this.counts.dropped[reason] ?? 0) + 1;
  }

  /** One line per failed write, at most one a second (a failing bus under a storm would flood the log). */
  private noteFailure(id: string, e: unknown, source?: string): void {
    const now = this.clock.nowNs();
    if (now - this.lastFailureLogNs < 1e9) {
      this.unloggedFailures++;
      return;
    }
    const more = this.unloggedFailures ? ` (and ${this.unloggedFailures} more failed writes in the last second)` : '';
    this.unloggedFailures = 0;
    this.lastFailureLogNs = now;
    this.log(`control: ${id}${source ? ` from ${source}` : ''} was not applied: ${(e as Error).message}${more}`);
  }
}

/** The pending table's key: controls that are one control on the chip (sameAs) share one entry, so the newest value of any of them wins. */
function groupKey(d: ControlDescriptor): string {
  let k = d.id;
  for (const s of d.sameAs ?? []) if (s < k) k = s;
  return k;
}
