/**
 * Switches and enums set at run time (CodecDriver.setSetting / getSetting / settingControls), and
 * the checks of their `values` (src/codec/controls.ts checkControls).
 *
 * Expected values are literals from the parts' definitions, never read from the code under test:
 *  - sim-codec (its datasheet is the header of codecs/sim-codec/model.ts, also codecs/sim-codec/FACTS.md):
 *    "0x06 DAC_CTRL bit0 SOFT_MUTE: 1 = both DAC channels muted; bits[2:1] FILTER: 0 = sharp,
 *    1 = slow, 2 = low-latency, 3 = reserved (reset 0x00)"; "DAC Playback Switch" on = 0, off = 1.
 *  - PCM5122 (codecs/pcm5122/FACTS.md#filters, #latency): "page 0 reg 43, filter select: 1 normal,
 *    2 low-latency"; group delay normal 20/fs, low-latency 3.5/fs (72,917 ns at 48 kHz).
 *  - −6 dBFS = 0.5012 of full scale (10^(−6/20)).
 */
import { strict as assert } from 'node:assert';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard, type BoardRuntime } from '../../src/board/runtime.ts';
import { checkControls, type ControlDef, settingCode, settingValueName } from '../../src/codec/controls.ts';
import type { CodecDescription } from '../../src/codec/description.ts';
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { RegmapDef } from '../../src/codec/regmap.ts';
import type { StreamFormat } from '../../src/codec/types.ts';
import type { SimI2cBus } from '../../src/hal/sim/i2c.ts';
import { SimHal, VirtualClock } from '../../src/hal/sim/index.ts';
import { toneSamples } from '../../src/stream/player.ts';
import { description as simCodec } from '../../codecs/sim-codec/description.ts';
import { SimCodecDriver } from '../../codecs/sim-codec/driver.ts';
import { SimCodecModel } from '../../codecs/sim-codec/model.ts';

const MINUS_6 = 0.501187; // 10^(-6/20)
const S16_48K: StreamFormat = { rate: 48000, channels: 2, bits: 16 };

// --- checkControls: values of switches and enums ------------------------------------------

const MAP: RegmapDef = {
  addrBits: 8, valueBits: 8, source: 'test',
  registers: [{ name: 'CTRL', addr: 0, reset: 0, source: 'test', fields: [{ name: 'MUTE', bits: 0 }, { name: 'MODE', bits: [3, 1] }] }],
};
const SWITCH: ControlDef = {
  name: 'Test Switch', kind: 'switch', direction: 'output', channels: [{ reg: 'CTRL', field: 'MUTE' }],
  min: 0, max: 1, default: 0, unit: 'none', values: { on: 0, off: 1 }, source: 'test',
};
const ENUM: ControlDef = {
  name: 'Test Mode', kind: 'enum', direction: 'output', channels: [{ reg: 'CTRL', field: 'MODE' }],
  min: 0, max: 7, default: 1, unit: 'none', reservedCodes: [6], values: { a: 1, 'b-2': 2, c: 5 }, source: 'test',
};
const problems = (...cs: ControlDef[]) => checkControls(cs, MAP).map((p) => `${p.where}: ${p.message}`);

describe('checkControls: switch and enum values', () => {
  it('sound controls pass (negative control for every case below), an inverted switch too', () => {
    assert.deepEqual(problems(SWITCH, ENUM), []);
    assert.deepEqual(problems({ ...SWITCH, values: { off: 0, on: 1 }, default: 'unknown' }), []);
  });

  it('a switch needs exactly off and on', () => {
    assert.deepEqual(problems({ ...SWITCH, values: { on: 0, mute: 1 } }), ['controls[0] (Test Switch): values: a switch\'s values are exactly "off" and "on", got "on", "mute"']);
    assert.deepEqual(problems({ ...SWITCH, values: { on: 0 } }), ['controls[0] (Test Switch): values: a switch\'s values are exactly "off" and "on", got "on"']);
    assert.deepEqual(problems({ ...SWITCH, values: undefined }), ['controls[0] (Test Switch): values: a switch needs its values (name → code), exactly { off, on }']);
  });

  it('a switch\'s two codes are distinct', () => {
    assert.deepEqual(problems({ ...SWITCH, values: { on: 0, off: 0 } }), ['controls[0] (Test Switch): values.off: code 0 is also "on" (each value needs its own code)']);
  });

  it('an enum needs values; its names are lowercase with dashes', () => {
    assert.deepEqual(problems({ ...ENUM, values: {} }), ['controls[0] (Test Mode): values: a enum needs its values (name → code)']);
    assert.deepEqual(problems({ ...ENUM, values: { a: 1, 'Low Latency': 2 } }), [
      'controls[0] (Test Mode): values: name "Low Latency" must be lowercase letters, digits and dashes (^[a-z0-9][a-z0-9-]*$)',
    ]);
    assert.deepEqual(problems({ ...ENUM, values: { a: 1, '-b': 2 } }), [
      'controls[0] (Test Mode): values: name "-b" must be lowercase letters, digits and dashes (^[a-z0-9][a-z0-9-]*$)',
    ]);
  });

  it('an enum\'s codes lie inside min..max, are not reserved, and name one value each', () => {
    assert.deepEqual(problems({ ...ENUM, values: { a: 1, b: 8 } }), ['controls[0] (Test Mode): values.b: code 8 is outside min..max (0..7)']);
    assert.deepEqual(problems({ ...ENUM, values: { a: 1, b: 6 } }), ['controls[0] (Test Mode): values.b: code 6 is reserved']);
    assert.deepEqual(problems({ ...ENUM, values: { a: 1, b: 1 } }), ['controls[0] (Test Mode): values.b: code 1 is also "a" (each value needs its own code)']);
    assert.deepEqual(problems({ ...ENUM, values: { a: 1, b: 2.5 } }), ['controls[0] (Test Mode): values.b: code 2.5 is outside min..max (0..7)']);
  });

  it('the default of a switch or enum is one of its values\' codes, or unknown', () => {
    assert.deepEqual(problems({ ...ENUM, default: 3 }), ['controls[0] (Test Mode): default code 3 is none of its values (a (1), b-2 (2), c (5)): give one of them, or \'unknown\'']);
    assert.deepEqual(problems({ ...ENUM, default: 'unknown' }), []);
    assert.deepEqual(problems({ ...SWITCH, default: 1 }), [], 'off is a value');
  });

  it('a volume has no named values', () => {
    const vol: ControlDef = {
      name: 'Vol', kind: 'volume', direction: 'output', channels: [{ reg: 'CTRL' }], min: 0, max: 1, default: 0, unit: 'dB',
      scale: [{ from: 0, to: 1, db: 0, stepDb: -1 }], source: 'test',
    };
    assert.deepEqual(problems(vol), []);
    assert.deepEqual(problems({ ...vol, values: { on: 0 } }), ['controls[0] (Vol): values: a volume has a dB scale, not named values (values are for switches and enums)']);
  });

  it('settingValueName and settingCode map both ways; an unknown name is refused with the values', () => {
    assert.equal(settingValueName(SWITCH, 1), 'off');
    assert.equal(settingValueName(SWITCH, 0), 'on');
    assert.equal(settingValueName(ENUM, 6), undefined);
    assert.equal(settingCode(ENUM, 'b-2'), 2);
    assert.throws(() => settingCode(ENUM, 'd'), /control "Test Mode" has no value "d" \(its values: a \(1\), b-2 \(2\), c \(5\)\)/);
    assert.throws(() => settingCode(ENUM, 'toString'), /has no value "toString"/, 'an inherited property is no value');
  });

  it('the parts\' descriptions pass (sim-codec: DAC Playback Switch, DAC Filter; PCM5122: DSP Program)', async () => {
    const { description: pcm5122 } = await import('../../codecs/pcm5122/description.ts');
    assert.deepEqual(checkControls(simCodec.controls, simCodec.regmap), []);
    assert.deepEqual(checkControls(pcm5122.controls, pcm5122.regmap), []);
  });
});

// --- the sim-codec model by its bytes (its header is the datasheet) -----------------------------

describe('sim-codec model: DAC_CTRL (0x06) by bus bytes', () => {
  /** Powered, 0 dB both channels, 16-bit at 48 kHz (header: VOL 0x00 = 0 dB, POWER bit0 = DAC on, RATE 48). */
  const up = () => {
    const m = new SimCodecModel();
    m.write(Uint8Array.of(0x01, 0x00, 0x00, 0x01)); // VOL_L, VOL_R, POWER (auto-increment)
    return m;
  };

  it('SOFT_MUTE = 1 silences both outputs at 0 dB; FILTER codes leave the level; reset reads 0x00', () => {
    const m = up();
    m.write(Uint8Array.of(DAC_CTRL));
    assert.equal(m.read(1)[0], 0x00, 'reset 0x00');
    assert.deepEqual(m.analogState().outputs.speaker!.gains, [1, 1], 'negative control: sound at 0 dB');
    for (const filter of [0, 1, 2]) {
      m.write(Uint8Array.of(DAC_CTRL, filter << 1));
      assert.deepEqual(m.analogState().outputs.headphone!.gains, [1, 1], `FILTER ${filter}: the same level`);
    }
    m.write(Uint8Array.of(DAC_CTRL, 0x01));
    const st = m.analogState();
    for (const o of ['speaker', 'headphone']) {
      assert.deepEqual(st.outputs[o]!.gains, [0, 0], o);
      assert.match(st.outputs[o]!.silentBecause ?? '', /SOFT_MUTE/);
    }
    assert.equal(st.muted, true);
  });

  it('the pointer auto-increments through 0x06 and wraps from 0x07 (no register) to 0x00', () => {
    const m = up();
    m.write(Uint8Array.of(0x05, 48, 0x04, 0x7f)); // RATE, DAC_CTRL, then 0x07: ignored
    m.write(Uint8Array.of(0x05));
    assert.deepEqual([...m.read(4)], [48, 0x04, 0x00, 0x5a], 'RATE, DAC_CTRL, 0x07 reads 0, CHIP_ID after the wrap');
  });
});

// --- sim board: the switch and the enum at the analog output --------------------------------

/** The sim board on a virtual clock, brought up: init, 48 kHz 16-bit, stream gain 0 dB. */
async function openSim(): Promise<{ rt: BoardRuntime; clock: VirtualClock; model: SimCodecModel; bus: SimI2cBus }> {
  const clock = new VirtualClock(1e9, false);
  const rt = await openBoard(loadBoard('sim'), { clock });
  const model = rt.chipModel as SimCodecModel;
  const bus = rt.sim!.simBus(rt.board.codec.bus!);
  await rt.codec.probe();
  await rt.codec.init();
  await rt.codec.setFormat(S16_48K);
  await rt.codec.setGain('Digital Playback Volume', 0);
  return { rt, clock, model, bus };
}

/** Counts the bus writes that start at register `reg` of the codec (an observer rule: it fails nothing). */
function countWrites(bus: SimI2cBus, addr: number, reg: number): { n: number } {
  const c = { n: 0 };
  bus.injectFaults({ fault: 'bus-error', addr, when: (op) => { if (op.kind === 'write' && op.data && op.data.length >= 2 && op.data[0] === reg) c.n++; return false; } });
  return c;
}

const DAC_CTRL = 0x06;

describe('sim board: DAC Playback Switch and DAC Filter (register 0x06 DAC_CTRL)', function () {
  this.timeout(60000);

  it('lists both controls with their values', async () => {
    const { rt } = await openSim();
    try {
      const info = rt.codec.settingControls!();
      assert.deepEqual(info.map((c) => [c.name, c.kind, c.values, c.default, c.channels]), [
        ['DAC Playback Switch', 'switch', { on: 0, off: 1 }, 0, [{ reg: 'DAC_CTRL', field: 'SOFT_MUTE' }]],
        ['DAC Filter', 'enum', { sharp: 0, slow: 1, 'low-latency': 2 }, 0, [{ reg: 'DAC_CTRL', field: 'FILTER' }]],
      ]);
      // Nothing set: the register's value (reset 0x00: on, sharp).
      assert.equal(await rt.codec.getSetting!('DAC Playback Switch'), 0);
      assert.equal(await rt.codec.getSetting!('DAC Filter'), 0);
      await assert.rejects(rt.codec.getSetting!('Digital Playback Volume'), /no switch or enum control "Digital Playback Volume" \(it has "DAC Playback Switch", "DAC Filter"\)/);
    } finally {
      await rt.close();
    }
  });

  it('switch off → SOFT_MUTE = 1 and silence while a tone plays; on → the tone again', async () => {
    const { rt, clock, model } = await openSim();
    const pcm = await rt.sim!.pcm.open('sim:0,0', { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 480, bufferFrames: 4800, startThreshold: Infinity });
    try {
      const seconds = 1.2;
      const tone = toneSamples(1000, seconds, 48000, 2, -6);
      const bytes = new Uint8Array(tone.buffer, tone.byteOffset, tone.byteLength);
      const total = tone.length / 2;
      let written = pcm.write(bytes, 4800);
      pcm.start();
      const t0 = clock.nowNs();
      await rt.power.powerUp();
      /** Plays on for `ms` of virtual time, keeping the PCM's buffer full. */
      const playFor = (ms: number) => {
        for (let t = 0; t < ms; t += 10) {
          clock.advanceBy(10e6);
          written += pcm.write(bytes.subarray(written * 4), total - written);
        }
      };
      /** Peak of the speaker output over [fromMs, toMs) after t0. */
      const peakBetween = (fromMs: number, toMs: number) => {
        const out = rt.analog!.render('speaker', t0 + fromMs * 1e6, Math.round(((toMs - fromMs) / 1000) * 48000), 48000, 2);
        return out.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      };

      playFor(300);
      await rt.codec.setSetting!('DAC Playback Switch', 1); // off
      const offAt = (clock.nowNs() - t0) / 1e6;
      assert.equal(model.regs[DAC_CTRL]! & 0x01, 1, 'SOFT_MUTE = 1 on the chip model');
      assert.equal(model.analogState().muted, true);
      playFor(300);
      await rt.codec.setSetting!('DAC Playback Switch', 0); // on
      const onAt = (clock.nowNs() - t0) / 1e6;
      assert.equal(model.regs[DAC_CTRL]! & 0x01, 0, 'SOFT_MUTE = 0');
      playFor(300);

      const before = peakBetween(100, offAt - 20);
      const during = peakBetween(offAt + 20, onAt - 20);
      const after = peakBetween(onAt + 20, onAt + 250);
      assert.ok(Math.abs(before - MINUS_6) < 0.01, `negative control: the tone at −6 dBFS with the switch on (${before})`);
      assert.equal(during, 0, 'switch off: silence');
      assert.ok(Math.abs(after - MINUS_6) < 0.01, `switch on again: the tone is back (${after})`);
      assert.equal(await rt.codec.getSetting!('DAC Playback Switch'), 0);
    } finally {
      pcm.close();
      await rt.close();
    }
  });

  it('DAC Filter sets bits [2:1]; an unknown name and the reserved code are refused and change nothing; the level stays', async () => {
    const { rt, model } = await openSim();
    try {
      await rt.codec.powerUp();
      const gains = () => model.analogState().outputs.speaker!.gains;
      const level = [...gains()];
      assert.equal(await rt.codec.setSetting!('DAC Filter', 2), 2); // low-latency
      assert.equal(model.regs[DAC_CTRL], 0x04, 'FILTER = 2 in bits [2:1], SOFT_MUTE still 0');
      assert.deepEqual(gains(), level, 'the filter changes nothing of the level');
      await rt.codec.setSetting!('DAC Filter', 1); // slow
      assert.equal(model.regs[DAC_CTRL], 0x02);
      await rt.codec.setSetting!('DAC Playback Switch', 1);
      assert.equal(model.regs[DAC_CTRL], 0x03, 'the switch keeps the filter field');

      const ctl = rt.codec.settingControls!().find((c) => c.name === 'DAC Filter')!;
      assert.throws(() => settingCode({ ...simCodec.controls.find((c) => c.name === 'DAC Filter')! }, 'medium'),
        /control "DAC Filter" has no value "medium" \(its values: sharp \(0\), slow \(1\), low-latency \(2\)\)/);
      assert.equal(Object.hasOwn(ctl.values, 'medium'), false);
      await assert.rejects(rt.codec.setSetting!('DAC Filter', 3), /sim-codec: control "DAC Filter": code 3 is none of its values \(sharp \(0\), slow \(1\), low-latency \(2\)\)/);
      await assert.rejects(rt.codec.setSetting!('DAC Playback Switch', 2), /control "DAC Playback Switch": code 2 is none of its values \(on \(0\), off \(1\)\)/);
      await assert.rejects(rt.codec.setSetting!('No Such', 0), /no switch or enum control "No Such"/);
      assert.equal(model.regs[DAC_CTRL], 0x03, 'refused: the register is unchanged');
      assert.equal(await rt.codec.getSetting!('DAC Filter'), 1, 'refused: the setting is unchanged');
    } finally {
      await rt.close();
    }
  });

  it('a setting survives init and power-up, with no needless write', async () => {
    const { rt, model, bus } = await openSim();
    try {
      await rt.codec.setSetting!('DAC Filter', 2);
      await rt.codec.setSetting!('DAC Playback Switch', 1);
      const writes = countWrites(bus, rt.board.codec.address!, DAC_CTRL);
      await rt.codec.init();
      await rt.codec.setFormat(S16_48K);
      await rt.codec.powerUp();
      assert.equal(model.regs[DAC_CTRL], 0x05, 'SOFT_MUTE = 1, FILTER = 2');
      assert.equal(await rt.codec.getSetting!('DAC Filter'), 2);
      assert.equal(await rt.codec.getSetting!('DAC Playback Switch'), 1);
      assert.equal(writes.n, 0, 'the sequences left DAC_CTRL alone: nothing re-written');
    } finally {
      bus.clearFaults();
      await rt.close();
    }
  });

  it('a write fault is thrown and the previous setting stays', async () => {
    const { rt, model, bus } = await openSim();
    try {
      await rt.codec.setSetting!('DAC Filter', 1);
      bus.injectFaults({ fault: 'bus-error', addr: rt.board.codec.address!, when: (op) => op.kind === 'write' && op.data?.[0] === DAC_CTRL });
      await assert.rejects(rt.codec.setSetting!('DAC Filter', 2), /"DAC Filter" stays slow/);
      bus.clearFaults();
      assert.equal(await rt.codec.getSetting!('DAC Filter'), 1);
      assert.equal(model.regs[DAC_CTRL], 0x02, 'the chip holds slow still');
      assert.equal(await rt.codec.setSetting!('DAC Filter', 2), 2, 'negative control: without the fault it goes through');
      assert.equal(model.regs[DAC_CTRL], 0x04);
    } finally {
      bus.clearFaults();
      await rt.close();
    }
  });
});

// --- re-written after a sequence that overwrites it; kept while the bus is closed ------------

/** The sim-codec driver's format hook over another copy of its description. */
class SimCodecOver extends DescribedCodec {
  protected override async applyFormat(fmt: StreamFormat): Promise<void> {
    await (SimCodecDriver.prototype as unknown as { applyFormat(this: DescribedCodec, f: StreamFormat): Promise<void> }).applyFormat.call(this, fmt);
  }
}

function rig(description: CodecDescription) {
  const clock = new VirtualClock(1e9, false);
  const hal = new SimHal({ clock });
  const model = new SimCodecModel();
  const bus = hal.simBus(1);
  bus.attach(0x1b, model);
  const codec = new SimCodecOver(description, { clock, bus, addr: 0x1b, gpio: new Map(), options: {}, sleepMs: (ms) => clock.sleepUntilNs(clock.nowNs() + ms * 1e6) });
  return { codec, model, bus };
}

describe('settings and the driver\'s own sequences (copies of the sim-codec description)', () => {
  it('init and power-up steps that overwrite DAC_CTRL: the setting is re-written once after each', async () => {
    const overwriting: CodecDescription = {
      ...simCodec,
      sequences: {
        ...simCodec.sequences,
        init: [...simCodec.sequences.init, { op: 'write', reg: 'DAC_CTRL', value: 0x00, why: 'test: a reset of the register' }],
        powerUp: [...simCodec.sequences.powerUp, { op: 'write', reg: 'DAC_CTRL', value: 0x00, why: 'test: a power-up step writing it' }],
      },
    };
    const { codec, model, bus } = rig(overwriting);
    await codec.init();
    assert.equal(model.regs[DAC_CTRL], 0x00, 'negative control: nothing set, init leaves its own 0x00');
    await codec.setSetting('DAC Filter', 1);
    assert.equal(model.regs[DAC_CTRL], 0x02);
    const writes = countWrites(bus, 0x1b, DAC_CTRL);
    await codec.init();
    assert.equal(model.regs[DAC_CTRL], 0x02, 'slow again after init');
    assert.equal(writes.n, 2, 'init\'s own write, then the setting once');
    await codec.setFormat(S16_48K);
    await codec.powerUp();
    assert.equal(model.regs[DAC_CTRL], 0x02, 'slow again after power-up');
    assert.equal(writes.n, 4);
  });

  it('a part whose bus is closed until its MCLK runs: the setting is kept, written at the next init', async () => {
    const gated: CodecDescription = { ...simCodec, clocks: { ...simCodec.clocks, mclkBeforeBus: { value: true, source: 'test: as the SGTL5000' } } };
    const { codec, model } = rig(gated);
    await assert.rejects(codec.init(), /master clock \(MCLK\) is not running/, 'negative control: the bus is closed');
    assert.equal(await codec.setSetting('DAC Playback Switch', 1), 1);
    assert.equal(model.regs[DAC_CTRL], 0x00, 'nothing reached the chip');
    assert.equal(await codec.getSetting('DAC Playback Switch'), 1, 'kept');
    await assert.rejects(codec.setSetting('DAC Playback Switch', 5), /code 5 is none of its values/, 'a bad code is refused all the same');
    await codec.setMclkRunning(true);
    await codec.init();
    assert.equal(model.regs[DAC_CTRL], 0x01, 'written at init');
  });
});

// --- PCM5122: the DSP Program setting wins over the board option --------------------------

describe('hifiberry-dacplus-sim (PCM5122): DSP Program at run time', function () {
  this.timeout(60000);

  const open = async (filter?: string) => {
    const b = loadBoard('hifiberry-dacplus-sim');
    const board = filter === undefined ? b : { ...b, codec: { ...b.codec, options: { ...b.codec.options, filter } } };
    const rt = await openBoard(board, { clock: new VirtualClock(1e9, true) });
    const reg43 = () => (rt.chipModel as { pages: Map<number, Uint8Array> }).pages.get(0)![43];
    await rt.codec.probe();
    await rt.codec.init();
    return { rt, reg43 };
  };

  it('setSetting 2 → page 0 reg 43 = 2, the output latency is the low-latency filter\'s, and it survives init (the reset) and power-up', async () => {
    const { rt, reg43 } = await open();
    try {
      assert.equal(reg43(), 1, 'negative control: the normal filter after init (no board option)');
      assert.equal(rt.codec.latency('output', 48000)[0]!.frames, 20);
      assert.equal(await rt.codec.setSetting!('DSP Program', 2), 2);
      assert.equal(reg43(), 2);
      const l = rt.codec.latency('output', 48000)[0]!;
      assert.equal(l.frames, 3.5);
      assert.equal(Math.round(l.ns!), 72917);
      assert.match(l.what, /low-latency/);
      await rt.codec.setGain('Digital Playback Volume', -10);
      await rt.codec.init();
      assert.equal((rt.chipModel as { pages: Map<number, Uint8Array> }).pages.get(0)![61], 0x30, 'init did reset the chip (volume back to 0 dB, 0x30)');
      assert.equal(reg43(), 2, 'after init');
      await rt.codec.setFormat({ rate: 48000, channels: 2, bits: 32 });
      await rt.codec.powerUp();
      assert.equal(reg43(), 2, 'after power-up');
      assert.equal(await rt.codec.getSetting!('DSP Program'), 2);
      assert.equal(rt.codec.latency('output', 48000)[0]!.frames, 3.5);
    } finally {
      await rt.close();
    }
  });

  it('the board option is the default; a setting wins over it', async () => {
    const { rt, reg43 } = await open('low-latency');
    try {
      assert.equal(reg43(), 2, 'the board option low-latency');
      assert.equal(await rt.codec.getSetting!('DSP Program'), 2, 'nothing set: the register');
      assert.equal(rt.codec.latency('output', 48000)[0]!.frames, 3.5);
      await rt.codec.setSetting!('DSP Program', 1);
      assert.equal(reg43(), 1);
      assert.equal(rt.codec.latency('output', 48000)[0]!.frames, 20);
      await rt.codec.init();
      assert.equal(reg43(), 1, 'the setting, not the option, after init');
      await assert.rejects(rt.codec.setSetting!('DSP Program', 4), /pcm5122: control "DSP Program": code 4 is none of its values \(normal \(1\), low-latency \(2\), high-attenuation \(3\), fixed-flow \(5\), asymmetric \(7\)\)/);
      assert.equal(reg43(), 1);
    } finally {
      await rt.close();
    }
  });
});
