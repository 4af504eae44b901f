/**
 * Rotary encoders (src/control/encoder.ts): the quadrature decoder, acceleration, and the encoder
 * on a simulated GPIO chip (src/hal/sim/gpio.ts: the kernel's debounce, contact bounce) on a
 * virtual clock; then through a real ControlDispatcher, to show quick detents add up exactly.
 * Also the "toggle", "next" and "previous" values of src/control/values.ts the encoder sends.
 *
 * The Gray code, as this project names it (A, B): 00 → 01 → 11 → 10 → 00 is +1 (clockwise), the
 * reverse −1; a full cycle (4 transitions) is one detent unless transitionsPerDetent says 2 or 1.
 */
import assert from 'node:assert/strict';
import { ControlDispatcher, InstantiationLock } from '../../src/control/dispatch.ts';
import { EncoderControl, type EncoderSpec, QuadratureDecoder, accelerationFactor } from '../../src/control/encoder.ts';
import { MappingSpecError, parseEncoderSpec } from '../../src/board/knob-specs.ts';
import type { ControlModel } from '../../src/control/model.ts';
import type { ControlDescriptor, ControlInfo, ControlValue } from '../../src/control/types.ts';
import { ControlValueError, isRelativeValue, parseControlValue } from '../../src/control/values.ts';
import type { GpioValue } from '../../src/hal/gpio.ts';
import { SimGpioChip, VirtualClock } from '../../src/hal/sim/index.ts';

const base = {
  owner: { kind: 'stream', id: 'speaker' }, realtimeSafe: false, writable: true, source: 'test fixture', persistent: true,
} as const;
const GAIN: ControlDescriptor = { ...base, id: 'sim.speaker.gain', name: 'Gain', kind: 'volume', unit: 'dB', default: -20, range: { min: -127, max: 0, step: 0.5 } };
const MUTE: ControlDescriptor = { ...base, id: 'sim.speaker.mute', name: 'Mute', kind: 'switch', unit: 'none', default: false, values: ['off', 'on'] };
const FILTER: ControlDescriptor = {
  ...base, id: 'sim.sim-codec.dac-filter', name: 'DAC Filter', kind: 'enum', unit: 'none', default: 'sharp',
  owner: { kind: 'part', id: 'sim-codec' }, values: ['sharp', 'slow', 'low-latency'],
};

/** Sequences of (A, B) levels: +1 (clockwise) goes forward through this cycle. */
const CYCLE: [GpioValue, GpioValue][] = [[0, 0], [0, 1], [1, 1], [1, 0]];

describe('quadrature decoder', () => {
  /** Feeds the decoder the single-line changes of `n` transitions in direction `dir` from where it is. */
  function turn(q: QuadratureDecoder, dir: 1 | -1, n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const { a, b } = q.levels();
      const at = CYCLE.findIndex(([x, y]) => x === a && y === b);
      const [na, nb] = CYCLE[(at + dir + 4) % 4]!;
      out.push(na !== a ? q.edge('a', na, i) : q.edge('b', nb, i));
    }
    return out;
  }

  it('00 → 01 → 11 → 10 → 00 is one detent +1; the other way −1', () => {
    const q = new QuadratureDecoder(0, 0, 4);
    assert.deepEqual([q.edge('b', 1, 1), q.edge('a', 1, 2), q.edge('b', 0, 3), q.edge('a', 0, 4)], [0, 0, 0, 1]);
    assert.deepEqual([q.edge('a', 1, 5), q.edge('b', 1, 6), q.edge('a', 0, 7), q.edge('b', 0, 8)], [0, 0, 0, -1]);
    assert.equal(q.invalid, 0);
  });

  it('reverse swaps the sign; 2 and 1 transitions per detent', () => {
    assert.deepEqual(turn(new QuadratureDecoder(0, 0, 4, true), 1, 4), [0, 0, 0, -1]);
    assert.deepEqual(turn(new QuadratureDecoder(1, 1, 2), 1, 4), [0, 1, 0, 1]);
    assert.deepEqual(turn(new QuadratureDecoder(1, 0, 1), -1, 3), [-1, -1, -1]);
  });

  it('a step back undoes a step forward (jitter on one contact gives no detent)', () => {
    const q = new QuadratureDecoder(0, 0, 4);
    for (let i = 0; i < 50; i++) {
      assert.equal(q.edge('b', 1, i), 0);
      assert.equal(q.edge('b', 0, i), 0);
    }
    assert.deepEqual(turn(q, 1, 4), [0, 0, 0, 1], 'then a real detent still counts once');
  });

  it('both lines at once, or an edge repeating a level (a lost edge), is invalid, counted, not decoded', () => {
    const q = new QuadratureDecoder(0, 0, 4);
    assert.equal(q.sample(1, 1, 1), 0);
    assert.equal(q.invalid, 1);
    assert.equal(q.edge('a', 1, 2), 0, 'A is 1 already: an edge was lost');
    assert.equal(q.invalid, 2);
    // Negative control: valid transitions from where the lines are now (11) are not counted invalid.
    // The detent completes at a click (00, where the lines were at the start), not 4 transitions
    // after the lost edge: from 11, back through 00 (undoing half a detent) and on to 00 again.
    assert.deepEqual(turn(q, -1, 6), [0, 0, 0, 0, 0, -1]);
    assert.deepEqual(q.levels(), { a: 0, b: 0 });
    assert.equal(q.invalid, 2);
    assert.equal(q.sample(0, 0, 9), 0, 'no change');
    assert.equal(q.invalid, 2);
  });

  it('refuses a transitionsPerDetent other than 1, 2, 4', () => {
    assert.throws(() => new QuadratureDecoder(0, 0, 3 as 4), /transitionsPerDetent must be 1, 2 or 4, got 3/);
  });
});

describe('acceleration', () => {
  const rules = [{ belowMs: 20, factor: 4 }, { belowMs: 50, factor: 2 }];
  it('the smallest matching belowMs wins; none matching (or no previous detent) is 1', () => {
    assert.equal(accelerationFactor(rules, 19.999e6), 4);
    assert.equal(accelerationFactor(rules, 20e6), 2, 'not below 20 ms');
    assert.equal(accelerationFactor(rules, 49e6), 2);
    assert.equal(accelerationFactor(rules, 50e6), 1);
    assert.equal(accelerationFactor(rules, Number.POSITIVE_INFINITY), 1);
    assert.equal(accelerationFactor([...rules].reverse(), 10e6), 4, 'whatever the order given');
    assert.equal(accelerationFactor([], 1e6), 1);
  });
});

describe('parseEncoderSpec', () => {
  it('reads a section with its defaults, acceleration sorted', () => {
    assert.deepEqual(parseEncoderSpec({ control: 'speaker.gain' }, 'encoder'), { control: 'speaker.gain', transitionsPerDetent: 4, reverse: false, acceleration: [] });
    assert.deepEqual(parseEncoderSpec({
      control: 'speaker.gain', step: 1, transitionsPerDetent: 2, reverse: true,
      acceleration: [{ belowMs: 50, factor: 2 }, { belowMs: 20, factor: 4 }], push: { toggle: 'speaker.mute' },
    }, 'encoder'), {
      control: 'speaker.gain', step: 1, transitionsPerDetent: 2, reverse: true,
      acceleration: [{ belowMs: 20, factor: 4 }, { belowMs: 50, factor: 2 }], push: { toggle: 'speaker.mute' },
    });
  });

  it('names the field, what it must be and what it was', () => {
    const bad = (raw: unknown, field: string, re: RegExp) => assert.throws(() => parseEncoderSpec(raw, 'encoder'),
      (e: unknown) => e instanceof MappingSpecError && e.field === field && re.test(e.message) && e.message.startsWith(`${field}: `), `${field} ${re}`);
    bad([], 'encoder', /expected an object/);
    bad({}, 'encoder.control', /a control id.*got nothing/);
    bad({ control: 'speaker.gain', step: 0 }, 'encoder.step', /above 0 and at most 100.*got 0/);
    bad({ control: 'speaker.gain', transitionsPerDetent: 3 }, 'encoder.transitionsPerDetent', /4, 2 or 1.*got 3/);
    bad({ control: 'speaker.gain', reverse: 1 }, 'encoder.reverse', /true or false, got 1/);
    bad({ control: 'speaker.gain', acceleration: { belowMs: 1 } }, 'encoder.acceleration', /a list/);
    bad({ control: 'speaker.gain', acceleration: [{ belowMs: 20, factor: 1.5 }] }, 'encoder.acceleration[0].factor', /integer 1\.\.100.*got 1\.5/);
    bad({ control: 'speaker.gain', acceleration: [{ belowMs: 20, factor: 2 }, { belowMs: -1, factor: 2 }] }, 'encoder.acceleration[1].belowMs', /got -1/);
    bad({ control: 'speaker.gain', acceleration: [{ belowMs: 20, factor: 2 }, { belowMs: 20, factor: 3 }] }, 'encoder.acceleration[1].belowMs', /encoder\.acceleration\[0\] has it/);
    bad({ control: 'speaker.gain', push: { toggle: 'Mute' } }, 'encoder.push.toggle', /the switch each press toggles, got "Mute"/);
    bad({ control: 'speaker.gain', detents: 20 }, 'encoder.detents', /no such field/);
  });
});

describe('values.ts: the steps an encoder and a MIDI button send', () => {
  it('"toggle" is relative and flips a known switch; unknown is a ControlValueError', () => {
    assert.equal(isRelativeValue('toggle'), true);
    assert.equal(isRelativeValue(' Toggle '), true);
    assert.equal(isRelativeValue('on'), false, 'negative control: an absolute value');
    assert.equal(parseControlValue(MUTE, 'toggle', false), true);
    assert.equal(parseControlValue(MUTE, 'toggle', true), false);
    assert.throws(() => parseControlValue(MUTE, 'toggle', null), (e: unknown) => e instanceof ControlValueError && /sim\.speaker\.mute: "toggle" flips the switch, but its value is not known now/.test(e.message));
    assert.throws(() => parseControlValue(GAIN, 'toggle', -20), ControlValueError, 'a volume does not toggle');
  });

  it('"next" / "previous" step an enum one value, without wrapping', () => {
    assert.equal(isRelativeValue('next'), true);
    assert.equal(parseControlValue(FILTER, 'next', 'sharp'), 'slow');
    assert.equal(parseControlValue(FILTER, 'next', 'low-latency'), 'low-latency');
    assert.equal(parseControlValue(FILTER, 'previous', 'slow'), 'sharp');
    assert.equal(parseControlValue(FILTER, 'previous', 'sharp'), 'sharp');
    assert.throws(() => parseControlValue(FILTER, 'next', null), /not known now/);
    const NAMED: ControlDescriptor = { ...FILTER, values: ['first', 'next', 'last'] };
    assert.equal(parseControlValue(NAMED, 'next', 'last'), 'next', 'a value called "next" is that value');
  });
});

/** mulberry32: a small seeded PRNG, so the "random" spacing is the same every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const A = 3;
const B = 4;
const PUSH = 5;
const DEBOUNCE_US = 1000;

interface Call { id: string; value: unknown }

async function encoderRig(spec: Partial<EncoderSpec> = {}, d: ControlDescriptor = GAIN, opts: { set?: (id: string, v: unknown) => Promise<unknown>; push?: boolean } = {}) {
  const clock = new VirtualClock();
  const chip = new SimGpioChip('gpiochip0', clock);
  const request = await chip.requestLines([A, B], { direction: 'input', edge: 'both', debounceUs: DEBOUNCE_US }, 'encoder');
  const push = opts.push ? await chip.requestLines([PUSH], { direction: 'input', edge: 'both', debounceUs: DEBOUNCE_US }, 'encoder-push') : undefined;
  const calls: Call[] = [];
  const events: number[] = [];
  request.onEdge((ev) => events.push(ev.offset));
  const enc = new EncoderControl({
    request, a: A, b: B, ...(push ? { push: { request: push, offset: PUSH } } : {}),
    spec: { control: 'speaker.gain', step: 0.5, transitionsPerDetent: 4, reverse: false, acceleration: [], ...spec },
    controlId: d.id, descriptor: d, ...(push ? { pushId: MUTE.id } : {}),
    set: opts.set ?? (async (id, value) => {
      calls.push({ id, value });
      return { status: 'applied' };
    }),
    clock,
  });
  /** Where the rig's contacts are (A, B), as driven. */
  const at: [GpioValue, GpioValue] = [chip.sense(A), chip.sense(B)];
  /** Schedules `n` transitions in direction `dir`, the first at `t`, then `gap()` ns apart; returns when the last is. */
  const turn = (dir: 1 | -1, n: number, t: number, gap: () => number): number => {
    for (let i = 0; i < n; i++) {
      const pos = CYCLE.findIndex(([x, y]) => x === at[0] && y === at[1]);
      const next = CYCLE[(pos + dir + 4) % 4]!;
      const line = next[0] !== at[0] ? A : B;
      const level = line === A ? next[0] : next[1];
      at[0] = next[0];
      at[1] = next[1];
      clock.setTimerNs(t, () => chip.drive(line, level));
      if (i < n - 1) t += gap();
    }
    return t;
  };
  return { clock, chip, request, enc, calls, events, turn };
}

/** Net steps of a list of '+0.5dB' / '-0.5dB' sets, in units of `step`. */
function netSteps(calls: Call[], step: number): number {
  let n = 0;
  for (const c of calls) {
    const m = /^([+-])(\d+(?:\.\d+)?)dB$/.exec(String(c.value));
    assert.ok(m, `not a relative step: ${String(c.value)}`);
    n += (m[1] === '-' ? -1 : 1) * Number(m[2]) / step;
  }
  return n;
}

describe('EncoderControl on a simulated GPIO chip (debounce 1 ms, virtual clock)', () => {
  it('100 detents clockwise then 37 back at random spacing above the debounce: exactly +63 steps', async () => {
    const r = await encoderRig();
    const rand = prng(23);
    const gap = () => (DEBOUNCE_US + 50 + Math.floor(rand() * 4000)) * 1000;
    let t = r.clock.nowNs() + 1e6;
    t = r.turn(1, 400, t, gap);
    r.turn(-1, 148, t + gap(), gap);
    await r.clock.runUntilIdle();
    assert.equal(r.calls.length, 137, 'one set per detent');
    assert.equal(r.calls.filter((c) => c.value === '+0.5dB').length, 100);
    assert.equal(r.calls.filter((c) => c.value === '-0.5dB').length, 37);
    assert.equal(netSteps(r.calls, 0.5), 63);
    assert.ok(r.calls.every((c) => c.id === 'sim.speaker.gain'));
    assert.deepEqual(r.enc.stats(), { detents: 63, steps: 63, invalid: 0, presses: 0 });
  });

  it('reverse: the same turn counts the other way', async () => {
    const r = await encoderRig({ reverse: true });
    r.turn(1, 8, r.clock.nowNs() + 1e6, () => 2e6);
    await r.clock.runUntilIdle();
    assert.deepEqual(r.calls.map((c) => c.value), ['-0.5dB', '-0.5dB']);
  });

  it('contact bounce shorter than the debounce adds nothing; a bounce longer than it adds events (negative control)', async () => {
    const r = await encoderRig();
    // A at rest (0) chatters four times within 0.3 ms and settles back at 0.
    r.chip.bounce(A, 0, [0, 100e3, 200e3, 300e3]);
    await r.clock.runUntilIdle();
    assert.deepEqual(r.events, [], 'no edge event');
    // A detent whose every transition chatters for 0.4 ms before settling: still exactly one detent.
    const seq: [number, GpioValue][] = [[B, 1], [A, 1], [B, 0], [A, 0]];
    let t = 0;
    for (const [line, level] of seq) {
      r.clock.setTimerNs(r.clock.nowNs() + t, () => r.chip.bounce(line, level, [0, 100e3, 250e3, 300e3, 400e3]));
      t += 3e6;
    }
    await r.clock.runUntilIdle();
    assert.equal(r.events.length, 4, 'one event per settled transition');
    assert.deepEqual(r.calls.map((c) => c.value), ['+0.5dB']);
    // Negative control: A up for 2 ms (longer than the 1 ms debounce) and back is two real edges.
    r.chip.bounce(A, 0, [0, 2e6]);
    await r.clock.runUntilIdle();
    assert.equal(r.events.length, 6, 'the long bounce gave two events');
    assert.equal(r.calls.length, 1, 'a step out and back is no detent');
    assert.equal(r.enc.stats().invalid, 0);
  });

  it('an edge that repeats what was read at the start is counted invalid, not decoded', async () => {
    const clock = new VirtualClock();
    const chip = new SimGpioChip('gpiochip0', clock);
    const request = await chip.requestLines([A, B], { direction: 'input', edge: 'both', debounceUs: DEBOUNCE_US }, 'encoder');
    chip.drive(A, 1); // its event is due when the debounce ends, after the encoder has read A = 1
    const calls: Call[] = [];
    const enc = new EncoderControl({
      request, a: A, b: B, spec: { control: 'speaker.gain', step: 0.5, transitionsPerDetent: 4, reverse: false, acceleration: [] },
      controlId: GAIN.id, descriptor: GAIN, set: async (id, value) => { calls.push({ id, value }); return {}; }, clock,
    });
    await clock.runUntilIdle();
    assert.equal(enc.stats().invalid, 1);
    assert.equal(calls.length, 0);
  });

  it('acceleration: 30 ms after a detent the same way ×2, 10 ms ×4, 100 ms ×1, turning back ×1', async () => {
    const r = await encoderRig({ acceleration: [{ belowMs: 20, factor: 4 }, { belowMs: 50, factor: 2 }] });
    // Four transitions per detent, 1.5 ms apart (above the debounce), so a detent completes 4.5 ms
    // after it starts; the starts (and so the completions) are 30, 10 and 100 ms apart, then the
    // knob turns back from 5 ms after the last one completed: that detent completes 9.5 ms after
    // the last clockwise one, sooner than 20 ms but the other way, so ×1.
    let t = r.clock.nowNs() + 1e6;
    for (const dt of [0, 30e6, 10e6, 100e6]) {
      t += dt;
      r.turn(1, 4, t, () => 1.5e6);
    }
    r.turn(-1, 4, t + 4.5e6 + 5e6, () => 1.5e6);
    await r.clock.runUntilIdle();
    assert.deepEqual(r.calls.map((c) => c.value), ['+0.5dB', '+1dB', '+2dB', '+0.5dB', '-0.5dB']);
    assert.deepEqual(r.enc.stats(), { detents: 3, steps: 7, invalid: 0, presses: 0 });
  });

  it('the push switch: each press toggles the switch; a release sends nothing', async () => {
    const r = await encoderRig({}, GAIN, { push: true });
    for (const [dt, level] of [[1e6, 1], [50e6, 0], [100e6, 1], [150e6, 0]] as const) r.clock.setTimerNs(r.clock.nowNs() + dt, () => r.chip.drive(PUSH, level));
    await r.clock.runUntilIdle();
    assert.deepEqual(r.calls, [{ id: MUTE.id, value: 'toggle' }, { id: MUTE.id, value: 'toggle' }]);
    assert.equal(r.enc.stats().presses, 2);
  });

  it('an enum steps next/previous; a switch goes on one way, off the other', async () => {
    const e = await encoderRig({ control: 'sim-codec.dac-filter' }, FILTER);
    const t = e.turn(1, 8, e.clock.nowNs() + 1e6, () => 2e6);
    e.turn(-1, 4, t + 2e6, () => 2e6);
    await e.clock.runUntilIdle();
    assert.deepEqual(e.calls.map((c) => c.value), ['next', 'next', 'previous']);
    const s = await encoderRig({ control: 'speaker.mute' }, MUTE);
    const t2 = s.turn(1, 4, s.clock.nowNs() + 1e6, () => 2e6);
    s.turn(-1, 4, t2 + 2e6, () => 2e6);
    await s.clock.runUntilIdle();
    assert.deepEqual(s.calls.map((c) => c.value), [true, false]);
  });

  it('a volume with no step of its own needs one in the spec; close() stops it', async () => {
    const CONT: ControlDescriptor = { ...GAIN, range: { min: -127, max: 0, step: 0 } };
    await assert.rejects(encoderRig({ step: undefined }, CONT), (e: unknown) => e instanceof MappingSpecError && e.field === 'encoder.step');
    const r = await encoderRig({ step: undefined });
    assert.equal(r.enc.step, 0.5, 'the range step');
    r.enc.close();
    r.turn(1, 4, r.clock.nowNs() + 1e6, () => 2e6);
    await r.clock.runUntilIdle();
    assert.equal(r.calls.length, 0);
  });
});

/**
 * A control model of one register control whose writes take `busNs` on the virtual clock: what
 * the dispatcher needs (persistentValues, onChange, set), no board.
 */
class SlowModel {
  value: ControlValue;
  writes = 0;
  private readonly listeners = new Set<(c: ControlInfo) => void>();
  constructor(private readonly d: ControlDescriptor, start: ControlValue, private readonly clock: VirtualClock, private readonly busNs: number) {
    this.value = start;
  }

  persistentValues(): Record<string, ControlValue> {
    return { [this.d.id]: this.value };
  }

  onChange(fn: (c: ControlInfo) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async set(id: string, input: unknown): Promise<ControlInfo> {
    assert.equal(id, this.d.id);
    const v = parseControlValue(this.d, input, this.value);
    await this.clock.sleepUntilNs(this.clock.nowNs() + this.busNs);
    this.value = v;
    this.writes++;
    const info: ControlInfo = { ...this.d, value: v, state: 'idle' };
    for (const l of this.listeners) l(info);
    return info;
  }
}

describe('EncoderControl through a ControlDispatcher', function () {
  this.timeout(60000);

  async function run(busNs: number) {
    const WIDE: ControlDescriptor = { ...GAIN, range: { min: -600, max: 0, step: 0.5 } };
    const clock = new VirtualClock();
    const model = new SlowModel(WIDE, -600, clock, busNs);
    const d = new ControlDispatcher(model as unknown as ControlModel, { instantiation: new InstantiationLock(), clock, descriptors: [WIDE] });
    const chip = new SimGpioChip('gpiochip0', clock);
    const request = await chip.requestLines([A, B], { direction: 'input', edge: 'both', debounceUs: 100 }, 'encoder');
    const enc = new EncoderControl({
      request, a: A, b: B, spec: { control: 'speaker.gain', transitionsPerDetent: 4, reverse: false, acceleration: [] },
      controlId: WIDE.id, descriptor: WIDE, set: (id, v, o) => d.set(id, v, o), clock,
    });
    // 1000 detents, one every 1 ms (a transition every 250 µs): far faster than the writes land.
    const at: [GpioValue, GpioValue] = [0, 0];
    let t = clock.nowNs() + 1e6;
    const turn = (dir: 1 | -1, detents: number) => {
      for (let i = 0; i < detents * 4; i++) {
        const pos = CYCLE.findIndex(([x, y]) => x === at[0] && y === at[1]);
        const next = CYCLE[(pos + dir + 4) % 4]!;
        const line = next[0] !== at[0] ? A : B;
        const level = line === A ? next[0] : next[1];
        [at[0], at[1]] = next;
        clock.setTimerNs(t, () => chip.drive(line, level));
        t += 250e3;
      }
    };
    return { clock, model, d, enc, turn };
  }

  it('1000 quick detents land exactly: −600 + 1000 × 0.5 = −100 dB; 1000 more stop at the top, 0 dB', async () => {
    const r = await run(0);
    r.turn(1, 1000);
    await r.clock.runUntilIdle();
    await r.d.idle();
    assert.equal(r.enc.stats().detents, 1000);
    assert.equal(r.model.value, -100);
    r.turn(1, 1000);
    await r.clock.runUntilIdle();
    await r.d.idle();
    assert.equal(r.model.value, 0);
    r.d.close();
  });

  // A step that arrives while the control's previous value is being written builds on the value
  // in flight (src/control/dispatch.ts): taken from the last value seen instead, the in-flight
  // write's steps would be lost (this run ended at −350 dB, not −100, before that was so).
  it('1000 quick detents land exactly while each write takes 5 ms', async () => {
    const r = await run(5e6);
    r.turn(1, 1000);
    await r.clock.runUntilIdle();
    await r.d.idle();
    assert.equal(r.enc.stats().detents, 1000);
    assert.ok(r.model.writes < 500, `coalesced: ${r.model.writes} writes`);
    assert.equal(r.model.value, -100);
    r.d.close();
  });
});
