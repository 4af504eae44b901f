/**
 * A rotary encoder turning a control (docs/CONTROL.md, "Knobs"): two contacts A and B give a
 * 2-bit Gray code (quadrature), one step of the code per transition; a mechanical encoder has a
 * detent (a click) every 1, 2 or 4 transitions (its pulses per revolution against its detents per
 * revolution: the part's datasheet says). An optional push switch toggles a switch control.
 *
 * Pure of the hardware: the lines come as a GpioLineRequest (src/hal/gpio.ts; the kernel's uAPI v2
 * on a board, src/hal/sim/gpio.ts in tests), with the kernel's debounce asked for in the request;
 * each detent goes out through `set` (the control dispatcher's, src/control/dispatch.ts) as a step
 * from the value in force ("+0.5dB", "next", on/off), so the dispatcher adds quick detents to the
 * pending value and none is lost however fast the knob turns.
 */
import type { Clock } from '../hal/clock.ts';
import type { GpioEdgeEvent, GpioLineRequest, GpioValue } from '../hal/gpio.ts';
import { type EncoderSpec, MappingSpecError } from '../board/knob-specs.ts';

export type { EncoderSpec };
import type { ControlDescriptor } from './types.ts';

/**
 * The Gray-code position of a state (A, B) on the cycle 00 → 01 → 11 → 10 → 00, which this
 * project calls +1 (clockwise). Which way a given part turns the code depends on the part and its
 * wiring: `reverse` turns the sign round.
 */
const POSITION = [0, 1, 3, 2]; // index: (A << 1) | B

/**
 * Pure quadrature decoder: feed each line's new level (in the order the changes happened) and it
 * answers +1 or −1 when a detent completes, else 0. A transition is one line changing; a change
 * that skips a position (both lines changed at once, or an edge that repeats a line's level: an
 * edge was lost) cannot say which way it went: it is counted in `invalid`, not decoded, and the
 * detent in progress starts again from where the lines are.
 */
export class QuadratureDecoder {
  private a: GpioValue;
  private b: GpioValue;
  /** Transitions toward the next detent: + one way, − the other (a step back undoes a step forward). */
  private count = 0;
  /** Transitions that could not be decoded. */
  invalid = 0;
  /** Transitions decoded. */
  transitions = 0;
  /** When the last transition was seen (ns, as given). */
  lastNs = Number.NaN;
  private readonly sign: 1 | -1;

  /**
   * The position of a detent (a click): where the lines were at the start, an encoder at rest
   * sitting in one. Detents repeat every transitionsPerDetent positions from it.
   */
  private readonly restPosition: number;

  constructor(initialA: GpioValue, initialB: GpioValue, readonly transitionsPerDetent: 1 | 2 | 4 = 4, reverse = false) {
    if (transitionsPerDetent !== 1 && transitionsPerDetent !== 2 && transitionsPerDetent !== 4) {
      throw new RangeError(`QuadratureDecoder: transitionsPerDetent must be 1, 2 or 4, got ${transitionsPerDetent}`);
    }
    this.a = initialA;
    this.b = initialB;
    this.restPosition = POSITION[(initialA << 1) | initialB]!;
    this.sign = reverse ? -1 : 1;
  }

  /**
   * The count toward the next detent that the current position means, counted from the nearest
   * detent position (ties toward +): after lost edges, detents still complete at the clicks
   * rather than between them from then on. At most the one detent in progress is lost.
   */
  private alignedCount(): number {
    const n = this.transitionsPerDetent;
    const off = (((POSITION[(this.a << 1) | this.b]! - this.restPosition) % n) + n) % n;
    return off > n / 2 ? off - n : off;
  }

  /** The levels the decoder holds now. */
  levels(): { a: GpioValue; b: GpioValue } {
    return { a: this.a, b: this.b };
  }

  /** One line's new level. */
  edge(line: 'a' | 'b', level: GpioValue, timeNs: number): -1 | 0 | 1 {
    if (line === 'a') {
      if (level === this.a) return this.lost(timeNs);
      return this.step(level, this.b, timeNs);
    }
    if (level === this.b) return this.lost(timeNs);
    return this.step(this.a, level, timeNs);
  }

  /** Both lines' levels at once (a sampled reading): a change of both is invalid. */
  sample(a: GpioValue, b: GpioValue, timeNs: number): -1 | 0 | 1 {
    if (a === this.a && b === this.b) return 0;
    return this.step(a, b, timeNs);
  }

  /** Starts the detent in progress again from these levels (after lost events). */
  resync(a: GpioValue, b: GpioValue): void {
    this.a = a;
    this.b = b;
    this.count = this.alignedCount();
  }

  /** An edge that leaves its line where it was: one before it was lost, direction unknown. */
  private lost(timeNs: number): 0 {
    this.invalid++;
    this.count = this.alignedCount();
    this.lastNs = timeNs;
    return 0;
  }

  private step(a: GpioValue, b: GpioValue, timeNs: number): -1 | 0 | 1 {
    const from = POSITION[(this.a << 1) | this.b]!;
    const to = POSITION[(a << 1) | b]!;
    this.a = a;
    this.b = b;
    this.lastNs = timeNs;
    const delta = (to - from + 4) % 4;
    if (delta === 2) {
      // Two positions at once: forward two or back two look the same.
      this.invalid++;
      this.count = this.alignedCount();
      return 0;
    }
    this.transitions++;
    this.count += delta === 1 ? 1 : -1;
    if (this.count >= this.transitionsPerDetent) {
      this.count = 0;
      return this.sign;
    }
    if (this.count <= -this.transitionsPerDetent) {
      this.count = 0;
      return (-this.sign) as -1 | 1;
    }
    return 0;
  }
}

/**
 * The steps one detent counts: `factor` of the first rule (ascending belowMs) whose belowMs the
 * time since the previous detent in the same direction is under; 1 when none is (or there was no
 * such detent: `sinceNs` NaN or infinite).
 */
export function accelerationFactor(rules: readonly { belowMs: number; factor: number }[], sinceNs: number): number {
  if (!Number.isFinite(sinceNs)) return 1;
  let best: { belowMs: number; factor: number } | undefined;
  for (const r of rules) if (sinceNs < r.belowMs * 1e6 && (!best || r.belowMs < best.belowMs)) best = r;
  return best?.factor ?? 1;
}

/** "1.5" not "1.5000000000000002", never "1e-7": the dispatcher's relative value takes digits and a point. */
function formatStep(x: number): string {
  return String(Number(x.toFixed(6)));
}

export interface EncoderStats {
  /** Detents decoded, net: clockwise (after `reverse`) minus counter-clockwise. */
  detents: number;
  /** Steps sent, net (detents times their acceleration factor). */
  steps: number;
  /** Transitions that could not be decoded (both lines at once, a lost edge, a gap in the kernel's sequence numbers). */
  invalid: number;
  /** Presses of the push switch. */
  presses: number;
}

export interface EncoderControlOptions {
  /** One request holding both A and B (one request: the kernel keeps the order of its events across the lines), edges 'both'. */
  request: GpioLineRequest;
  a: number;
  b: number;
  /** The push switch's line (logical 1 = pressed), edges 'rising' or 'both'. */
  push?: { request: GpioLineRequest; offset: number };
  spec: EncoderSpec;
  /** The control's full id and its descriptor (the kind decides what a detent sends; a volume's step defaults to its range's). */
  controlId: string;
  descriptor: ControlDescriptor;
  /** The switch each press toggles (full id); default spec.push.toggle. */
  pushId?: string;
  set: (id: string, value: unknown, opts: { source: string }) => Promise<unknown>;
  clock: Clock;
  log?: (line: string) => void;
}

const SOURCE = 'encoder';

/**
 * Wires an encoder's lines to a control: reads where A and B are, then decodes their edges in the
 * order they come and sends one set per detent:
 * - a volume: a step from the value in force, `+<step·factor>dB` / `-<step·factor>dB`;
 * - an enum: `next` / `previous` (one value per detent, no wrap; acceleration does not apply);
 * - a switch: on for a detent one way, off for the other.
 * Each press of the push switch sends `toggle` to its switch.
 */
export class EncoderControl {
  private readonly decoder: QuadratureDecoder;
  private readonly offs: (() => void)[] = [];
  private readonly spec: EncoderSpec;
  /** Control units per detent (a volume: the spec's step, else its range's; 1 for switches and enums, one value per detent). */
  readonly step: number;
  private readonly d: ControlDescriptor;
  private readonly log: (line: string) => void;
  private readonly logged = new Set<string>();
  private readonly counts: EncoderStats = { detents: 0, steps: 0, invalid: 0, presses: 0 };
  private lastSeqno: number | undefined;
  private lastDetent: { dir: 1 | -1; ns: number } | undefined;
  private closed = false;

  constructor(private readonly opts: EncoderControlOptions) {
    this.spec = opts.spec;
    this.d = opts.descriptor;
    this.log = opts.log ?? (() => {});
    if (opts.a === opts.b) throw new RangeError(`encoder ${opts.controlId}: A and B are the same line (${opts.a})`);
    for (const o of [opts.a, opts.b]) {
      if (!opts.request.offsets.includes(o)) throw new RangeError(`encoder ${opts.controlId}: line ${o} is not in the request (it holds ${opts.request.offsets.join(', ')}): A and B must be one request`);
    }
    if (this.d.kind === 'volume') {
      const step = opts.spec.step ?? this.d.range?.step;
      if (!(typeof step === 'number' && step > 0)) {
        throw new MappingSpecError('encoder.step', `control units per detent: ${opts.controlId} has no step of its own (its range's step is ${this.d.range?.step ?? 'unknown'})`, opts.spec.step);
      }
      this.step = step;
    } else this.step = 1;
    if (opts.push && !(opts.pushId ?? opts.spec.push?.toggle)) throw new MappingSpecError('encoder.push.toggle', 'the switch the push switch toggles', undefined);
    this.decoder = new QuadratureDecoder(opts.request.getValue(opts.a), opts.request.getValue(opts.b), opts.spec.transitionsPerDetent, opts.spec.reverse);
    this.offs.push(opts.request.onEdge((ev) => this.onTurn(ev)));
    const push = opts.push;
    if (push) this.offs.push(push.request.onEdge((ev) => { if (ev.offset === push.offset && ev.edge === 'rising') this.onPress(); }));
  }

  stats(): EncoderStats {
    return { ...this.counts, invalid: this.decoder.invalid + this.counts.invalid };
  }

  /** Stops listening (the requests stay the caller's to release). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
  }

  private onTurn(ev: GpioEdgeEvent): void {
    if (this.closed) return;
    const line = ev.offset === this.opts.a ? 'a' : ev.offset === this.opts.b ? 'b' : undefined;
    // Sequence numbers count the request's events: a gap is events the kernel dropped (its buffer
    // overflowed), so where the lines are is no longer known from the events alone.
    const gap = this.lastSeqno !== undefined && Number.isInteger(ev.seqno) && ev.seqno > this.lastSeqno + 1;
    if (Number.isInteger(ev.seqno)) this.lastSeqno = ev.seqno;
    if (gap) {
      this.counts.invalid++;
      this.once('gap', `encoder ${this.opts.controlId}: edge events were lost (sequence jumped to ${ev.seqno}); the detent in progress starts again`);
      // Past this event, the levels now are the best knowledge of where the lines are.
      this.decoder.resync(this.opts.request.getValue(this.opts.a), this.opts.request.getValue(this.opts.b));
      return;
    }
    if (!line) return;
    // The level after the edge: logical 1 after a rising edge, 0 after a falling one.
    const level: GpioValue = ev.edge === 'rising' ? 1 : 0;
    // The kernel's stamp (when the debounce period ended); the clock's now only if a backend gives none.
    const ns = Number.isFinite(ev.timestampNs) ? ev.timestampNs : this.opts.clock.nowNs();
    const dir = this.decoder.edge(line, level, ns);
    if (dir !== 0) this.detent(dir, ns);
  }

  private detent(dir: 1 | -1, ns: number): void {
    const since = this.lastDetent && this.lastDetent.dir === dir ? ns - this.lastDetent.ns : Number.POSITIVE_INFINITY;
    this.lastDetent = { dir, ns };
    this.counts.detents += dir;
    let value: unknown;
    if (this.d.kind === 'volume') {
      const factor = accelerationFactor(this.spec.acceleration, since);
      this.counts.steps += dir * factor;
      value = `${dir > 0 ? '+' : '-'}${formatStep(this.step * factor)}dB`;
    } else if (this.d.kind === 'enum') {
      this.counts.steps += dir;
      value = dir > 0 ? 'next' : 'previous';
    } else {
      this.counts.steps += dir;
      value = dir > 0;
    }
    this.send(this.opts.controlId, value);
  }

  private onPress(): void {
    if (this.closed) return;
    this.counts.presses++;
    this.send((this.opts.pushId ?? this.spec.push?.toggle)!, 'toggle');
  }

  private send(id: string, value: unknown): void {
    let p: Promise<unknown>;
    try {
      p = this.opts.set(id, value, { source: SOURCE });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then((o) => {
      const out = o as { status?: string; error?: string } | undefined;
      if (out?.status === 'refused') this.once(`refused:${id}`, `encoder: ${id} ${String(value)} refused: ${out.error ?? 'no reason given'}`);
    }, (e: unknown) => this.once(`failed:${id}`, `encoder: ${id} ${String(value)} not set: ${(e as Error)?.message ?? String(e)}`));
  }

  private once(key: string, line: string): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log(`${line} (logged once)`);
  }
}
