/**
 * MIDI controllers mapped to controls (src/control/midi-map.ts): the curves, 14-bit pairing, the
 * channel match, learn mode and the parser's errors.
 *
 * Expected values are worked by hand from the formulas the issue states, not read from the code:
 * - 'db': min + raw/full · (max − min); over −60..0 at raw 64 of 127: −60 + 64·60/127 = −29.7637795…
 * - 'cubic': max + 60·log10(raw/full), below min (and raw 0) min; raw 64 of 127 over −60..0:
 *   60·log10(64/127) = 60·(1.80618 − 2.10380) = −17.85742…; raw 13: 60·log10(13/127) = −59.39162…;
 *   raw 1: 60·log10(1/127) = −126.2 → below −60: −60.
 * - 14-bit: MSB 64 alone is 64·128 = 8192 → −60 + 8192·60/16383 = −29.99817…; then LSB 100 is
 *   8192 + 100 = 8292 → −60 + 8292·60/16383 = −29.63194…
 * - MIDI 1.0 switch: 0..63 off, 64..127 on (14 bits: 8192 and above on).
 * - zones of 3 over 0..127: 128/3 = 42.67 values each: 0..42, 43..85, 86..127.
 */
import assert from 'node:assert/strict';
import type { MidiEvent } from '../../src/hal/midi.ts';
import { VirtualClock, flushMicrotasks } from '../../src/hal/sim/index.ts';
import { MappingSpecError, type MidiMapping, parseMidiMappings } from '../../src/board/knob-specs.ts';
import { MidiMapper, checkMapping, curveValue, defaultCurve, resolveMapping } from '../../src/control/midi-map.ts';
import type { ControlDescriptor } from '../../src/control/types.ts';

const base = {
  owner: { kind: 'stream', id: 'speaker' }, realtimeSafe: false, writable: true, source: 'test fixture', persistent: true,
} as const;

/** A volume −127..0 dB in 0.5 dB steps, drawn by UIs over its top 60 dB. */
const GAIN: ControlDescriptor = {
  ...base, id: 'sim.speaker.gain', name: 'Gain', kind: 'volume', unit: 'dB', default: -20,
  range: { min: -127, max: 0, step: 0.5 }, display: { curve: 'dB', percent: { minDb: -60, maxDb: 0, why: 'test' } },
};
/** The same without a percent mapping: the travel is the range. */
const TRIM: ControlDescriptor = { ...base, id: 'sim.speaker.trim', name: 'Trim', kind: 'volume', unit: 'dB', default: 0, range: { min: -127, max: 0, step: 0 } };
const MUTE: ControlDescriptor = { ...base, id: 'sim.speaker.mute', name: 'Mute', kind: 'switch', unit: 'none', default: false, values: ['off', 'on'] };
const FILTER: ControlDescriptor = {
  ...base, id: 'sim.sim-codec.dac-filter', name: 'DAC Filter', kind: 'enum', unit: 'none', default: 'sharp',
  owner: { kind: 'part', id: 'sim-codec' }, values: ['sharp', 'slow', 'low-latency'],
};
const JACK: ControlDescriptor = { ...MUTE, id: 'sim.board.jack', name: 'Jack', writable: false, readOnlyWhy: 'the jack says it' };
const ALL = [GAIN, TRIM, MUTE, FILTER, JACK];

function map(p: Partial<MidiMapping> & Pick<MidiMapping, 'control' | 'curve'>): MidiMapping {
  return { channel: 1, cc: 7, resolution: 7, invert: false, ...p };
}

function close(actual: unknown, expected: number, what = ''): void {
  assert.equal(typeof actual, 'number', `${what}: ${String(actual)} is not a number`);
  assert.ok(Math.abs((actual as number) - expected) < 1e-9, `${what}: ${String(actual)}, expected ${expected}`);
}

describe('MIDI curves (curveValue)', () => {
  it("'db': linear in dB over the percent mapping (−60..0): raw 0 → −60, 64 → −29.7637…, 127 → 0", () => {
    const m = map({ control: 'speaker.gain', curve: 'db' });
    close(curveValue(m, GAIN, 0, undefined), -60, 'raw 0');
    close(curveValue(m, GAIN, 64, undefined), -29.763779527559056, 'raw 64');
    close(curveValue(m, GAIN, 127, undefined), 0, 'raw 127');
  });

  it("'db' without a percent mapping spans the range (−127..0); given min/max win (−40..−10 at 100: −16.377…)", () => {
    close(curveValue(map({ control: 'speaker.trim', curve: 'db' }), TRIM, 0, undefined), -127, 'trim raw 0');
    // Negative control: with the percent mapping the bottom is −60, not the range's −127.
    close(curveValue(map({ control: 'speaker.gain', curve: 'db' }), GAIN, 0, undefined), -60, 'gain raw 0');
    close(curveValue(map({ control: 'speaker.gain', curve: 'db', min: -40, max: -10 }), GAIN, 100, undefined), -40 + (100 * 30) / 127, 'raw 100 over −40..−10');
  });

  it("'cubic': max + 60·log10(x), floored at min", () => {
    const m = map({ control: 'speaker.gain', curve: 'cubic' });
    close(curveValue(m, GAIN, 127, undefined), 0, 'top');
    close(curveValue(m, GAIN, 64, undefined), -17.857424818324183, 'raw 64');
    close(curveValue(m, GAIN, 13, undefined), -59.391622118947204, 'raw 13 (just above the floor)');
    close(curveValue(m, GAIN, 1, undefined), -60, 'raw 1 (below the floor)');
    close(curveValue(m, GAIN, 0, undefined), -60, 'raw 0');
  });

  it('invert turns the travel round (raw → full − raw)', () => {
    const m = map({ control: 'speaker.gain', curve: 'db', invert: true });
    close(curveValue(m, GAIN, 127, undefined), -60, 'raw 127 inverted');
    close(curveValue(m, GAIN, 0, undefined), 0, 'raw 0 inverted');
    close(curveValue(m, GAIN, 63, undefined), -60 + (64 * 60) / 127, 'raw 63 inverted is raw 64');
  });

  it("'switch': 0..63 off, 64..127 on; at 14 bits 8191 off, 8192 on", () => {
    const m = map({ control: 'speaker.mute', curve: 'switch' });
    assert.equal(curveValue(m, MUTE, 63, undefined), false);
    assert.equal(curveValue(m, MUTE, 64, undefined), true);
    const m14 = map({ control: 'speaker.mute', curve: 'switch', resolution: 14 });
    assert.equal(curveValue(m14, MUTE, 8191, undefined), false);
    assert.equal(curveValue(m14, MUTE, 8192, undefined), true);
    assert.equal(curveValue(map({ control: 'speaker.mute', curve: 'switch', invert: true }), MUTE, 127, undefined), false, 'inverted: 127 is 0, off');
  });

  it("'toggle': only a rise from below half to half or above toggles", () => {
    const m = map({ control: 'speaker.mute', curve: 'toggle' });
    assert.equal(curveValue(m, MUTE, 127, 0), 'toggle', 'press');
    assert.equal(curveValue(m, MUTE, 64, 63), 'toggle', 'just through the middle');
    assert.equal(curveValue(m, MUTE, 127, undefined), 'toggle', 'first press after a start (released assumed)');
    assert.equal(curveValue(m, MUTE, 0, 127), undefined, 'release');
    assert.equal(curveValue(m, MUTE, 127, 127), undefined, 'held');
    assert.equal(curveValue(m, MUTE, 100, 64), undefined, 'moving above half');
    assert.equal(curveValue(m, MUTE, 63, 0), undefined, 'moving below half');
  });

  it("'zones': three values over 0..127 split at 42/43 and 85/86", () => {
    const m = map({ control: 'sim-codec.dac-filter', curve: 'zones' });
    const at = (raw: number) => curveValue(m, FILTER, raw, undefined);
    assert.deepEqual([0, 42, 43, 85, 86, 127].map(at), ['sharp', 'sharp', 'slow', 'slow', 'low-latency', 'low-latency']);
  });

  it('a curve that does not fit the control, or a raw value beyond full scale, gives nothing', () => {
    assert.equal(curveValue(map({ control: 'speaker.mute', curve: 'db' }), MUTE, 64, undefined), undefined);
    assert.equal(curveValue(map({ control: 'speaker.gain', curve: 'db' }), GAIN, 128, undefined), undefined, '128 at 7 bits');
    close(curveValue(map({ control: 'speaker.gain', curve: 'db', resolution: 14 }), GAIN, 16383, undefined), 0, '16383 at 14 bits is the top');
  });

  it('defaultCurve by kind, and checkMapping names the field of a misfit', () => {
    assert.deepEqual([GAIN, MUTE, FILTER].map(defaultCurve), ['db', 'switch', 'zones']);
    assert.throws(() => checkMapping({ channel: 1, cc: 7, resolution: 7, control: 'speaker.mute', curve: 'cubic', invert: false }, MUTE, 'midi.map[3]'),
      (e: unknown) => e instanceof MappingSpecError && e.field === 'midi.map[3].curve' && /sim\.speaker\.mute, a switch: "switch" or "toggle", got "cubic"/.test(e.message));
    assert.throws(() => checkMapping({ channel: 1, cc: 7, resolution: 7, control: 'speaker.gain', min: -130, invert: false }, GAIN, 'midi.map[0]'),
      (e: unknown) => e instanceof MappingSpecError && e.field === 'midi.map[0].min' && /-127 \.\. 0/.test(e.message));
    assert.throws(() => checkMapping({ channel: 1, cc: 7, resolution: 7, control: 'board.jack', invert: false }, JACK, 'm'),
      (e: unknown) => e instanceof MappingSpecError && e.field === 'm.control' && /the jack says it/.test(e.message));
    // Negative control: a fitting one passes, and gets its default curve filled in.
    assert.equal(resolveMapping({ channel: 1, cc: 7, resolution: 7, control: 'speaker.gain', invert: false }, GAIN, 'm').curve, 'db');
  });
});

interface Call { id: string; value: unknown; source: string }

function rig(opts: { clock?: VirtualClock; refuse?: boolean } = {}) {
  const calls: Call[] = [];
  const logs: string[] = [];
  const byRel = new Map(ALL.map((d) => [d.id.slice('sim.'.length), d]));
  const mapper = new MidiMapper({
    resolve: (id) => byRel.get(id) ?? ALL.find((d) => d.id === id),
    set: async (id, value, o) => {
      calls.push({ id, value, source: o.source });
      return opts.refuse ? { status: 'refused', error: 'no thanks' } : { status: 'applied' };
    },
    log: (l) => logs.push(l),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  return { mapper, calls, logs };
}

/** A controller change as the sequencer delivers it: channel 0..15 on the wire. */
function cc(channel: number, controller: number, value: number): MidiEvent {
  return { type: 'controller', channel, controller, value, source: { client: 20, port: 0 }, receivedNs: 0 };
}

describe('MidiMapper', () => {
  it('sets the mapped control through set(), with source "midi"; channel 1 is wire channel 0', () => {
    const { mapper, calls } = rig();
    mapper.setMappings([map({ control: 'speaker.gain', curve: 'db' })], []);
    mapper.handle(cc(0, 7, 64));
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.id, 'sim.speaker.gain');
    assert.equal(calls[0]!.source, 'midi');
    close(calls[0]!.value, -29.763779527559056);
    // Negative controls: another channel, another controller, a program change: nothing.
    mapper.handle(cc(1, 7, 10));
    mapper.handle(cc(0, 8, 10));
    mapper.handle({ type: 'program', channel: 0, program: 3, source: { client: 20, port: 0 }, receivedNs: 0 });
    assert.equal(calls.length, 1);
  });

  it("'any' matches every channel; a channel number only its own", () => {
    const { mapper, calls } = rig();
    mapper.setMappings([map({ channel: 'any', cc: 7, control: 'speaker.gain', curve: 'db' }), map({ channel: 2, cc: 8, control: 'speaker.mute', curve: 'switch' })], []);
    mapper.handle(cc(0, 7, 0));
    mapper.handle(cc(15, 7, 127));
    mapper.handle(cc(1, 8, 127)); // channel 2
    mapper.handle(cc(2, 8, 0)); // channel 3: not mapped
    assert.deepEqual(calls.map((c) => [c.id, c.value]), [['sim.speaker.gain', -60], ['sim.speaker.gain', 0], ['sim.speaker.mute', true]]);
  });

  it('does not send the same value twice (a 7-bit knob repeating, two 14-bit raws on one 0.5 dB step)', () => {
    const { mapper, calls } = rig();
    mapper.setMappings([map({ control: 'speaker.gain', curve: 'db' })], []);
    mapper.handle(cc(0, 7, 127));
    mapper.handle(cc(0, 7, 127));
    assert.equal(calls.length, 1);
    mapper.handle(cc(0, 7, 126)); // −0.4724 dB: a new value
    assert.equal(calls.length, 2, 'a different value is sent');
    const { mapper: m2, calls: c2 } = rig();
    m2.setMappings([map({ cc: 1, resolution: 14, control: 'speaker.gain', curve: 'db' })], []);
    m2.handle(cc(0, 1, 127)); // 16256: −60 + 16256·60/16383 = −0.4651 dB, −0.5 on the grid
    m2.handle(cc(0, 33, 1)); // 16257: −0.4615 dB, −0.5 on the grid: not sent
    assert.equal(c2.length, 1);
    m2.handle(cc(0, 33, 127)); // 16383: 0 dB
    assert.equal(c2.length, 2);
    close(c2[1]!.value, 0);
  });

  it('14 bits: an MSB applies with LSB 0, an LSB completes it, a new MSB resets the LSB', () => {
    const { mapper, calls } = rig();
    mapper.setMappings([map({ cc: 7, resolution: 14, control: 'speaker.gain', curve: 'db' })], []);
    mapper.handle(cc(0, 7, 64));
    close(calls[0]?.value, -29.99816883354697, 'MSB 64 alone: 8192');
    mapper.handle(cc(0, 39, 100));
    close(calls[1]?.value, -29.63193554294085, 'then LSB 100: 8292');
    mapper.handle(cc(0, 7, 64));
    close(calls[2]?.value, -29.99816883354697, 'MSB 64 again: LSB back to 0');
    assert.equal(calls.length, 3);
  });

  it('14 bits: an LSB before any MSB is ignored (negative control: after an MSB it applies)', () => {
    const { mapper, calls } = rig();
    mapper.setMappings([map({ cc: 7, resolution: 14, control: 'speaker.gain', curve: 'db' })], []);
    mapper.handle(cc(0, 39, 100));
    mapper.handle(cc(1, 7, 64)); // an MSB on another channel does not pair with channel 1's LSB
    mapper.handle(cc(0, 39, 101));
    assert.equal(calls.length, 0);
    mapper.handle(cc(0, 7, 0));
    mapper.handle(cc(0, 39, 100));
    assert.equal(calls.length, 2);
    close(calls[1]!.value, -60 + (100 * 60) / 16383, 'MSB 0, LSB 100');
  });

  it("'toggle' on a button: press toggles, release does not", () => {
    const { mapper, calls } = rig();
    mapper.setMappings([map({ cc: 20, control: 'speaker.mute', curve: 'toggle' })], []);
    for (const v of [127, 0, 127, 0]) mapper.handle(cc(0, 20, v));
    assert.deepEqual(calls.map((c) => c.value), ['toggle', 'toggle']);
  });

  it('learned mappings hide board ones on the same channel and controller, and only there', () => {
    const { mapper, calls } = rig();
    mapper.setMappings([map({ channel: 'any', cc: 7, control: 'speaker.gain', curve: 'db' })], [map({ channel: 1, cc: 7, control: 'speaker.trim', curve: 'db' })]);
    mapper.handle(cc(0, 7, 0));
    mapper.handle(cc(1, 7, 0));
    assert.deepEqual(calls.map((c) => [c.id, c.value]), [['sim.speaker.trim', -127], ['sim.speaker.gain', -60]]);
    assert.deepEqual(mapper.mappings().map((m) => [m.from, m.channel, m.control]), [['learned', 1, 'speaker.trim'], ['board', 'any', 'speaker.gain']]);
  });

  it('never throws from handle: an unknown control, a misfit and a refusal are logged once each', async () => {
    const { mapper, calls, logs } = rig({ refuse: true });
    mapper.setMappings([
      map({ cc: 1, control: 'speaker.nope', curve: 'db' }),
      map({ cc: 2, control: 'speaker.mute', curve: 'db' }),
      map({ cc: 3, control: 'speaker.gain', curve: 'db' }),
    ], []);
    for (let v = 0; v < 5; v++) for (const c of [1, 2, 3]) mapper.handle(cc(0, c, v * 20));
    mapper.handle({ type: 'controller', channel: 99, controller: 7, value: 1, source: { client: 20, port: 0 }, receivedNs: 0 });
    await flushMicrotasks();
    assert.equal(calls.length, 5, 'the good mapping still sends');
    assert.equal(logs.filter((l) => /speaker\.nope: no such control/.test(l)).length, 1, logs.join('\n'));
    assert.equal(logs.filter((l) => /a curve for sim\.speaker\.mute/.test(l)).length, 1, logs.join('\n'));
    assert.equal(logs.filter((l) => /refused: no thanks/.test(l)).length, 1, logs.join('\n'));
    assert.equal(logs.filter((l) => /out of range/.test(l)).length, 1, logs.join('\n'));
  });

  describe('learn', () => {
    it('binds the next controller (any channel) without applying it; later moves apply', async () => {
      const { mapper, calls } = rig();
      const p = mapper.learn('speaker.gain', { timeoutMs: 1000 });
      mapper.handle(cc(4, 21, 64));
      const m = await p;
      assert.deepEqual(m, { channel: 5, cc: 21, resolution: 7, control: 'speaker.gain', curve: 'db', invert: false });
      assert.equal(calls.length, 0, 'the learned event itself is not applied');
      assert.deepEqual(mapper.learned(), [m]);
      mapper.handle(cc(4, 21, 127));
      assert.deepEqual(calls.map((c) => [c.id, c.value]), [['sim.speaker.gain', 0]]);
    });

    it('replaces a learned mapping on the same channel and controller', async () => {
      const { mapper, calls } = rig();
      const first = mapper.learn('speaker.gain', { timeoutMs: 1000 });
      mapper.handle(cc(0, 21, 1));
      await first;
      const second = mapper.learn('speaker.mute', { timeoutMs: 1000 });
      mapper.handle(cc(0, 21, 2));
      assert.equal((await second).curve, 'switch');
      assert.deepEqual(mapper.learned().map((m) => m.control), ['speaker.mute']);
      mapper.handle(cc(0, 21, 127));
      assert.deepEqual(calls.map((c) => [c.id, c.value]), [['sim.speaker.mute', true]]);
    });

    it('14 bits: learns the MSB, skips its LSB that follows; a one-byte controller is learned at 7 bits and said so', async () => {
      const { mapper, calls, logs } = rig();
      const p = mapper.learn('speaker.gain', { timeoutMs: 1000, resolution: 14 });
      mapper.handle(cc(0, 7, 64));
      mapper.handle(cc(0, 39, 5));
      assert.deepEqual(await p, { channel: 1, cc: 7, resolution: 14, control: 'speaker.gain', curve: 'db', invert: false });
      assert.equal(calls.length, 0, 'neither half of the learned move applied');
      mapper.handle(cc(0, 39, 6));
      assert.equal(calls.length, 1, 'the next LSB applies');
      close(calls[0]!.value, -60 + (((64 << 7) | 6) * 60) / 16383);
      const q = mapper.learn('speaker.trim', { timeoutMs: 1000, resolution: 14 });
      mapper.handle(cc(0, 80, 64));
      assert.equal((await q).resolution, 7);
      assert.ok(logs.some((l) => /controller 80 has no LSB.*7 bits/.test(l)), logs.join('\n'));
    });

    it('times out saying no controller moved within N ms (negative control: one moved in time resolves)', async () => {
      const clock = new VirtualClock();
      const { mapper } = rig({ clock });
      const p = mapper.learn('speaker.gain', { timeoutMs: 250 });
      const caught = p.catch((e: Error) => e);
      clock.advanceBy(249e6);
      mapper.handle(cc(0, 1, 1));
      assert.equal((await p).cc, 1);
      const late = mapper.learn('speaker.gain', { timeoutMs: 250 }).catch((e: Error) => e);
      clock.advanceBy(250e6);
      const e = await late;
      assert.ok(e instanceof Error && /no controller moved within 250 ms/.test(e.message), String(e));
      assert.ok(!((await caught) instanceof Error));
    });

    it('a second learn cancels the first; a control that is not there is refused', async () => {
      const { mapper } = rig();
      const first = mapper.learn('speaker.gain', { timeoutMs: 1000 }).catch((e: Error) => e);
      const second = mapper.learn('speaker.mute', { timeoutMs: 1000 });
      mapper.handle(cc(0, 9, 127));
      const e = await first;
      assert.ok(e instanceof Error && /speaker\.gain: cancelled by a newer learn/.test(e.message), String(e));
      assert.equal((await second).control, 'speaker.mute');
      await assert.rejects(mapper.learn('speaker.nope', { timeoutMs: 1000 }), /no control "speaker\.nope"/);
      await assert.rejects(mapper.learn('speaker.mute', { timeoutMs: 1000, curve: 'db' }), /"switch" or "toggle", got "db"/);
    });

    it('unmap removes a learned mapping (not a board one)', async () => {
      const { mapper, calls } = rig();
      mapper.setMappings([map({ cc: 7, control: 'speaker.gain', curve: 'db' })], [map({ cc: 8, control: 'speaker.mute', curve: 'switch' })]);
      assert.equal(mapper.unmap(1, 7), false);
      assert.equal(mapper.unmap(1, 8), true);
      assert.equal(mapper.unmap(1, 8), false);
      mapper.handle(cc(0, 8, 127));
      assert.equal(calls.length, 0);
    });
  });
});

describe('parseMidiMappings', () => {
  const bad = (raw: unknown, field: string, re: RegExp) => assert.throws(() => parseMidiMappings(raw, 'midi.map'),
    (e: unknown) => e instanceof MappingSpecError && e.field === field && re.test(e.message) && e.message.startsWith(`${field}: `), `${field} ${re}`);

  it('reads mappings with their defaults (resolution 7, invert false, curve left to the control)', () => {
    assert.deepEqual(parseMidiMappings([{ channel: 1, cc: 7, control: 'speaker.gain' }, { channel: 'any', cc: 0, resolution: 14, control: 'sim.speaker.trim', curve: 'cubic', min: -50, max: -5, invert: true }], 'midi.map'), [
      { channel: 1, cc: 7, resolution: 7, control: 'speaker.gain', invert: false },
      { channel: 'any', cc: 0, resolution: 14, control: 'sim.speaker.trim', curve: 'cubic', min: -50, max: -5, invert: true },
    ]);
  });

  it('names the field, what it must be and what it was', () => {
    bad({}, 'midi.map', /expected a list of mappings/);
    bad([{ channel: 1, cc: 7, control: 'a.b' }, 3], 'midi.map[1]', /expected an object, got 3/);
    bad([{ channel: 17, cc: 7, control: 'a.b' }], 'midi.map[0].channel', /expected a MIDI channel 1\.\.16 or "any", got 17/);
    bad([{ channel: 1, cc: 7, control: 'a.b' }, { channel: 1, cc: 7, control: 'a.b' }, { channel: 1, cc: 128, control: 'a.b' }], 'midi.map[1].cc', /not mapped already on channel 1 \(midi\.map\[0\] maps it\)/);
    bad([{ channel: 1, cc: 7, control: 'a.b' }, { channel: 1, cc: 128, control: 'a.b' }], 'midi.map[1].cc', /expected a controller number 0\.\.127, got 128/);
    bad([{ channel: 1, cc: 32, resolution: 14, control: 'a.b' }], 'midi.map[0].cc', /0\.\.31 \(a 14-bit controller's MSB; its LSB is cc \+ 32\), got 32/);
    bad([{ channel: 1, cc: 7, resolution: 8, control: 'a.b' }], 'midi.map[0].resolution', /7 or 14/);
    bad([{ channel: 1, cc: 7, control: 'Speaker Gain' }], 'midi.map[0].control', /a control id/);
    bad([{ channel: 1, cc: 7, control: 'a.b', curve: 'log' }], 'midi.map[0].curve', /one of "db", "cubic", "switch", "toggle", "zones", got "log"/);
    bad([{ channel: 1, cc: 7, control: 'a.b', min: -10, max: -20 }], 'midi.map[0].max', /a dB above min \(-10\)/);
    bad([{ channel: 1, cc: 7, control: 'a.b', curve: 'switch', min: -10 }], 'midi.map[0].min', /for the volume curves/);
    bad([{ channel: 1, cc: 7, control: 'a.b', invert: 'yes' }], 'midi.map[0].invert', /true or false, got "yes"/);
    bad([{ channel: 1, cc: 7, control: 'a.b', chanel: 2 }], 'midi.map[0].chanel', /no such field/);
    bad([{ channel: 'any', cc: 7, resolution: 14, control: 'a.b' }, { channel: 3, cc: 39, control: 'a.c' }], 'midi.map[1].cc', /the LSB of the 14-bit controller 7 that midi\.map\[0\] maps/);
  });

  it('negative control: the same controller on two channels, and an LSB number on another channel, are fine', () => {
    assert.equal(parseMidiMappings([{ channel: 1, cc: 7, control: 'a.b' }, { channel: 2, cc: 7, control: 'a.b' }], 'm').length, 2);
    assert.equal(parseMidiMappings([{ channel: 1, cc: 7, resolution: 14, control: 'a.b' }, { channel: 2, cc: 39, control: 'a.c' }], 'm').length, 2);
  });
});
