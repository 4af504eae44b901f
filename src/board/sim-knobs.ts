/**
 * The simulated knobs of a simulated board (docs/CONTROL.md, "Knobs"): a hand on its rotary
 * encoder and a MIDI controller plugged into its sequencer, for users without hardware
 * (`sbc-audio sim encoder|midi`, src/stream/sim-control.ts) and for tests.
 *
 * - `simEncoder(rt)` drives the encoder's lines on the simulated GPIO chip (src/hal/sim/gpio.ts),
 *   electrically, as the contacts would: the kernel's debounce in the line request, the board's
 *   activeLow and the quadrature decoder (src/control/encoder.ts) see what they would see on a
 *   board. Times are the board clock's (a virtual clock jumps, a monotonic one sleeps).
 * - `simMidiSource(rt, port)` is a controller (a source client of the simulated sequencer,
 *   src/hal/sim/midi.ts) connected to the service's input port, as aconnect would connect one.
 *
 * The board layer knows nothing of the service (the eslint wall "codecs/board"): what the service
 * owns, the address of its MIDI port, comes in as an argument.
 */
import type { GpioValue } from '../hal/gpio.ts';
import { type MidiAddress, formatMidiAddress } from '../hal/midi.ts';
import type { SimMidiSequencer, SimMidiSource } from '../hal/sim/midi.ts';
import type { SimGpioChip } from '../hal/sim/gpio.ts';
import type { BoardLine, BoardRuntime } from './runtime.ts';

/** What a simulated knob cannot do, as `field: expected …, got …` (the callers add the command). */
export class SimKnobError extends Error {
  constructor(readonly field: string, readonly expected: string, readonly got: string) {
    super(`${field}: expected ${expected}, got ${got}`);
    this.name = 'SimKnobError';
  }
}

/** The most detents one turn drives (a full turn of a 24-detent part is 24; 10000 is ~400 turns). */
export const MAX_TURN_DETENTS = 10_000;
/** The longest one turn or press may take on the board's clock (a user waits for it). */
export const MAX_TURN_MS = 60_000;

export interface SimTurnOptions {
  /**
   * The time from one transition (one contact changing) to the next, ms; at least this (a late
   * timer makes it longer, never shorter). Default: twice the lines' debounce, so every edge
   * survives it. Each contact changes every second transition: below half the debounce, a
   * contact's pulses are shorter than the debounce and the kernel reports none of them.
   */
  spacingMs?: number;
  /** Contact bounce on every transition, µs: the contact goes over, back and over again within it. 0: none (default). Must end before the next transition. */
  bounceUs?: number;
  /**
   * A steady rate (a bench's knob at N detents a second): transition k is due at start + k ·
   * spacingMs, one that comes late (a busy main thread) catching up, but never sooner than 1.2
   * times the debounce after its own contact's previous change (its pulse must outlast the
   * debounce). Default false: each transition at least spacingMs after the one before.
   */
  paced?: boolean;
}

export interface SimTurnResult {
  detents: number;
  /** Transitions driven (detents × transitionsPerDetent). */
  transitions: number;
  spacingMs: number;
  bounceUs: number;
  /** Board clock when the last edge had passed its debounce. */
  endNs: number;
}

export interface SimPressOptions {
  /** How long the switch is held down, ms (default: twice the push line's debounce). */
  holdMs?: number;
  /** Contact bounce on press and release, µs (default none). */
  bounceUs?: number;
}

export interface SimEncoder {
  readonly board: string;
  /** The A/B lines' debounce (µs, the board file's). */
  readonly debounceUs: number;
  readonly transitionsPerDetent: 1 | 2 | 4;
  /** Whether the encoder has a push switch (gpio encoder-push). */
  readonly hasPush: boolean;
  /**
   * Turns the knob `detents` clicks: positive is the code's +1 direction, (A, B) 00 → 01 → 11 → 10
   * in logical levels (src/control/encoder.ts); which way that moves the control is the board's
   * business (`encoder.reverse`). Resolves once the last edge has passed its debounce and its event
   * was delivered. Turns and presses of one board run one after the other. Rejects with
   * SimKnobError (nothing driven) for a count or an option out of its range.
   */
  turn(detents: number, opts?: SimTurnOptions): Promise<SimTurnResult>;
  /** Pushes the switch: down, held, released; resolves once the release has passed its debounce. */
  press(opts?: SimPressOptions): Promise<{ holdMs: number; endNs: number }>;
}

/** The Gray-code cycle 00 → 01 → 11 → 10 (as (A << 1) | B): position → levels. */
const CYCLE: readonly [GpioValue, GpioValue][] = [[0, 0], [0, 1], [1, 1], [1, 0]];
/** Levels ((A << 1) | B) → position on CYCLE. */
const POSITION = [0, 1, 3, 2];

const encoders = new WeakMap<BoardRuntime, SimEncoder>();

function checkNumber(field: string, v: number | undefined, min: number, max: number, what: string): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new SimKnobError(field, `${what} from ${min} to ${max}`, JSON.stringify(v) ?? String(v));
}

/** One simulated line as a contact: its chip, offset and polarity. */
class Contact {
  readonly chip: SimGpioChip;
  readonly offset: number;
  readonly activeLow: boolean;
  readonly debounceUs: number;

  constructor(rt: BoardRuntime, readonly line: BoardLine) {
    this.chip = rt.sim!.simChip(line.chip);
    this.offset = line.offset;
    this.activeLow = line.spec.activeLow;
    this.debounceUs = line.spec.debounceUs;
  }

  /** Logical level now (what the request reads): electrical, through activeLow. */
  level(): GpioValue {
    return (this.chip.sense(this.offset) ^ (this.activeLow ? 1 : 0)) as GpioValue;
  }

  /** Drives a logical level (electrical = logical ^ activeLow: an active-low contact closed pulls the line low). */
  set(level: GpioValue): void {
    this.chip.drive(this.offset, (level ^ (this.activeLow ? 1 : 0)) as GpioValue);
  }
}

/**
 * The simulated encoder of a simulated board (one per board runtime: its turns are serialised).
 * Throws SimKnobError when the board is not simulated or has no encoder.
 */
export function simEncoder(rt: BoardRuntime): SimEncoder {
  const known = encoders.get(rt);
  if (known) return known;
  const name = rt.board.name;
  if (!rt.sim) throw new SimKnobError('board', 'a simulated board (hal "sim")', `board ${name}, hal "${rt.board.hal}"`);
  const a = rt.lines.get('encoder-a');
  const b = rt.lines.get('encoder-b');
  const spec = rt.board.encoder;
  if (!a || !b || !spec) {
    throw new SimKnobError('encoder', 'a board with a rotary encoder (gpio encoder-a and encoder-b, and an encoder section)', `board ${name} without one (${rt.board.file})`);
  }
  const pushLine = rt.lines.get('encoder-push');
  const clock = rt.hal.clock;
  const A = new Contact(rt, a);
  const B = new Contact(rt, b);
  const P = pushLine ? new Contact(rt, pushLine) : undefined;
  const tpd = spec.transitionsPerDetent;
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => {});
    return p;
  };

  /**
   * Drives one contact to `level` at or after `atNs`, with bounce (over, back, over again in
   * `bounceNs`); resolves with when it was driven, and when it settled.
   */
  const edge = async (c: Contact, level: GpioValue, atNs: number, bounceNs: number): Promise<{ atNs: number; settledNs: number }> => {
    await clock.sleepUntilNs(atNs);
    const at = clock.nowNs();
    c.set(level);
    if (bounceNs > 0) {
      await clock.sleepUntilNs(at + bounceNs / 2);
      c.set((level ^ 1) as GpioValue);
      await clock.sleepUntilNs(at + bounceNs);
      c.set(level);
    }
    return { atNs: at, settledNs: clock.nowNs() };
  };

  /** Past the debounce of the last edge (settled then), and its event delivered (a microtask, src/hal/sim/gpio.ts). */
  const afterDebounce = async (settledNs: number, debounceUs: number): Promise<number> => {
    await clock.sleepUntilNs(settledNs + debounceUs * 1000 + 1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    return clock.nowNs();
  };

  const encoder: SimEncoder = {
    board: name,
    debounceUs: A.debounceUs,
    transitionsPerDetent: tpd,
    hasPush: P !== undefined,

    async turn(detents, opts = {}) {
      if (!Number.isInteger(detents) || Math.abs(detents) > MAX_TURN_DETENTS) {
        throw new SimKnobError('detents', `a whole number from -${MAX_TURN_DETENTS} to ${MAX_TURN_DETENTS} (negative: the other way)`, JSON.stringify(detents) ?? String(detents));
      }
      const defaultSpacingMs = Math.max(2 * A.debounceUs, 1000) / 1000; // a 1 ms floor: lines without debounce
      checkNumber('spacingMs', opts.spacingMs, 0.001, MAX_TURN_MS, 'ms between transitions');
      const spacingMs = opts.spacingMs ?? defaultSpacingMs;
      const bounceUs = opts.bounceUs ?? 0;
      checkNumber('bounceUs', opts.bounceUs, 0, Math.max(0, spacingMs * 1000 - 1), 'µs of contact bounce (over before the next transition)');
      const transitions = Math.abs(detents) * tpd;
      if (transitions * spacingMs > MAX_TURN_MS) {
        throw new SimKnobError('detents', `a turn of at most ${MAX_TURN_MS / 1000} s (${Math.floor(MAX_TURN_MS / (tpd * spacingMs))} detents at ${spacingMs} ms per transition, ${tpd} transitions per detent)`, `${detents}`);
      }
      return serial(async () => {
        const dir = detents > 0 ? 1 : 3; // +1 or −1 position, mod 4
        const spacingNs = spacingMs * 1e6;
        let pos = POSITION[(A.level() << 1) | B.level()]!;
        const t0 = clock.nowNs();
        let last = { atNs: t0 - spacingNs, settledNs: t0 };
        const lastOf = new Map<Contact, number>([[A, -Infinity], [B, -Infinity]]);
        const minSameNs = 1.2 * A.debounceUs * 1000;
        for (let i = 0; i < transitions; i++) {
          const next = (pos + dir) % 4;
          const [na, nb] = CYCLE[next]!;
          const [ca] = CYCLE[pos]!;
          // One contact changes per transition (a Gray code): the one whose level differs.
          const c = na !== ca ? A : B;
          // Paced: on the rate's grid, the contact's own pulse kept above its debounce; else at
          // least `spacing` after the previous transition was actually driven.
          const due = opts.paced ? Math.max(t0 + i * spacingNs, lastOf.get(c)! + minSameNs) : last.atNs + spacingNs;
          last = await edge(c, c === A ? na : nb, due, bounceUs * 1000);
          lastOf.set(c, last.atNs);
          pos = next;
        }
        const endNs = transitions > 0 ? await afterDebounce(last.settledNs, A.debounceUs) : clock.nowNs();
        return { detents, transitions, spacingMs, bounceUs, endNs };
      });
    },

    async press(opts = {}) {
      if (!P) {
        throw new SimKnobError('press', 'an encoder with a push switch (gpio encoder-push and encoder.push)', `board ${name}'s encoder without one (${rt.board.file})`);
      }
      const holdMs = opts.holdMs ?? Math.max(2 * P.debounceUs, 1000) / 1000;
      checkNumber('holdMs', opts.holdMs, 0.001, MAX_TURN_MS, 'ms held down');
      const bounceUs = opts.bounceUs ?? 0;
      checkNumber('bounceUs', opts.bounceUs, 0, Math.max(0, holdMs * 1000 - 1), 'µs of contact bounce (over before the release)');
      return serial(async () => {
        const down = await edge(P, 1, clock.nowNs(), bounceUs * 1000);
        const up = await edge(P, 0, down.atNs + holdMs * 1e6, bounceUs * 1000);
        return { holdMs, endNs: await afterDebounce(up.settledNs, P.debounceUs) };
      });
    },
  };
  encoders.set(rt, encoder);
  return encoder;
}

/** The client and port name of the simulated controller (`sbc-audio sim` as aconnect -l lists it). */
export const SIM_MIDI_CLIENT = 'sbc-audio sim';
export const SIM_MIDI_PORT = 'knob';

const sources = new WeakMap<SimMidiSequencer, Map<string, SimMidiSource>>();

function parseAddress(s: string): MidiAddress | undefined {
  const m = /^(\d{1,3})[:.](\d{1,3})$/.exec(s);
  return m ? { client: Number(m[1]), port: Number(m[2]) } : undefined;
}


/**
 * A simulated controller (a source client "sbc-audio sim", port "knob") connected to the input
 * port at `port` ("128:0": the service's, `knobs.info().midi.address`), made once per sequencer and
 * port and reused (the simulated sequencer has 108 source clients in all). Send with
 * `controlChange(channel0to15, cc, value)` / `programChange(channel0to15, program)`.
 * Throws SimKnobError when the board is not simulated or no input port is at that address.
 */
export async function simMidiSource(rt: BoardRuntime, port: string): Promise<SimMidiSource> {
  const name = rt.board.name;
  if (!rt.sim) throw new SimKnobError('board', 'a simulated board (hal "sim")', `board ${name}, hal "${rt.board.hal}"`);
  const address = parseAddress(port);
  if (!address) throw new SimKnobError('port', 'a sequencer address "client:port" (e.g. "128:0")', JSON.stringify(port));
  const seq = rt.sim.simMidi();
  const inputs = seq.listPorts().filter((p) => p.destination);
  const target = seq.inputAt(address);
  if (!target) {
    const there = inputs.map((p) => `${formatMidiAddress(p.address)} "${p.clientName}:${p.portName}"`).join(', ') || 'none';
    throw new SimKnobError('port', `an input port of board ${name}'s simulated sequencer (input ports: ${there})`, JSON.stringify(port));
  }
  let byPort = sources.get(seq);
  if (!byPort) sources.set(seq, (byPort = new Map()));
  const key = formatMidiAddress(address);
  let source = byPort.get(key);
  if (!source || !seq.listPorts().some((p) => p.address.client === source!.address.client)) {
    source = seq.addSource(SIM_MIDI_CLIENT, SIM_MIDI_PORT);
    byPort.set(key, source);
  }
  const from = source.address;
  // Connected again if someone disconnected it (`sbc-audio midi disconnect`, the port reopened).
  if (!target.connections().some((c) => c.client === from.client && c.port === from.port)) await target.connectFrom(formatMidiAddress(from));
  return source;
}
