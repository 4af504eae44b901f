import { strict as assert } from 'node:assert';
import { codeToDb, type ControlDef, dbToCode, gainRange } from '../../src/codec/controls.ts';
import { description as pcm5122 } from '../../codecs/pcm5122/description.ts';

const vol = pcm5122.controls.find((c) => c.name === 'Digital Playback Volume')!;

describe('controls: PCM5122 digital volume (codecs/pcm5122/FACTS.md#volume: 0x00 = +24 dB, 0x30 = 0 dB, 0xFE = -103 dB, 0xFF = mute)', () => {
  it('maps codes to dB', () => {
    assert.equal(codeToDb(vol, 0x30), 0);
    assert.equal(codeToDb(vol, 0x00), 24);
    assert.equal(codeToDb(vol, 0xfe), -103);
    assert.equal(codeToDb(vol, 0xff), 'mute');
  });

  it('maps dB to codes', () => {
    assert.deepEqual(dbToCode(vol, 0), { code: 0x30, db: 0 });
    assert.deepEqual(dbToCode(vol, 24), { code: 0x00, db: 24 });
    assert.deepEqual(dbToCode(vol, -103), { code: 0xfe, db: -103 });
  });

  it('applies -33.5 dB (0x73) for a request of -33.3 dB', () => {
    assert.deepEqual(dbToCode(vol, -33.3), { code: 0x73, db: -33.5 });
  });

  it('rounds a request exactly halfway between two steps to the lower gain', () => {
    assert.deepEqual(dbToCode(vol, -33.25), { code: 0x73, db: -33.5 });
    assert.deepEqual(dbToCode(vol, 0.25), { code: 0x30, db: 0 });
  });

  it('reports the lowest audible step as the minimum (the mute code is not a gain)', () => {
    assert.deepEqual(gainRange(vol), { minDb: -103, maxDb: 24, stepDb: 0.5 });
  });

  it('refuses gains outside the range', () => {
    assert.throws(() => dbToCode(vol, 24.5), /Digital Playback Volume": 24.5 dB is outside its range -103 \.\. 24 dB/);
    assert.throws(() => dbToCode(vol, -104), /-104 dB is outside its range/);
  });
});

describe('controls: other scales as data', () => {
  // WM8731 headphone table (codecs/wm8960/FACTS.md#wm8731): 0x7F = +6 dB, 0x79 = 0 dB, 0x30 = -73 dB, 1 dB steps, 0x00..0x2F = mute.
  const hp: ControlDef = {
    name: 'Headphone Playback Volume', kind: 'volume', direction: 'output', channels: [{ reg: 'LHP' }], min: 0, max: 0x7f,
    default: 0x79, unit: 'dB', stepDb: 1, scale: [{ from: 0x30, to: 0x7f, db: -73, stepDb: 1 }],
    muteCodes: Array.from({ length: 0x30 }, (_, i) => i), source: 'codecs/wm8960/FACTS.md#wm8731',
  };
  // TLV320AIC3104 DAC volume (codecs/tlv320aic3104/FACTS.md#dac-volume): [6:0] inverted, 0 .. -63.5 dB in 0.5 dB steps.
  const aic: ControlDef = {
    name: 'PCM Playback Volume', kind: 'volume', direction: 'output', channels: [{ reg: 'LDAC_VOL', field: 'VOL' }], min: 0, max: 0x7f,
    default: 0, unit: 'dB', stepDb: 0.5, scale: [{ from: 0, to: 0x7f, db: 0, stepDb: -0.5 }], source: 'codecs/tlv320aic3104/FACTS.md',
  };
  // A two-segment (non-linear) scale: SGTL5000-like mic gain steps 0/20/30/40 dB (codecs/sgtl5000/FACTS.md#capture-and-microphone-gain).
  const mic: ControlDef = {
    name: 'Mic Boost', kind: 'volume', direction: 'input', channels: [{ reg: 'MIC' }], min: 0, max: 3, default: 0, unit: 'dB',
    scale: [{ from: 0, to: 0, db: 0, stepDb: 0 }, { from: 1, to: 3, db: 20, stepDb: 10 }], source: 'codecs/sgtl5000/FACTS.md#capture-and-microphone-gain: mic 0/20/30/40 dB',
  };

  it('a table with a block of mute codes', () => {
    assert.equal(codeToDb(hp, 0x7f), 6);
    assert.equal(codeToDb(hp, 0x79), 0);
    assert.equal(codeToDb(hp, 0x30), -73);
    assert.equal(codeToDb(hp, 0x2f), 'mute');
    assert.deepEqual(gainRange(hp), { minDb: -73, maxDb: 6, stepDb: 1 });
  });

  it('an inverted scale', () => {
    assert.deepEqual(dbToCode(aic, -63.5), { code: 0x7f, db: -63.5 });
    assert.deepEqual(dbToCode(aic, -10.2), { code: 20, db: -10 });
  });

  it('a non-linear scale, ties to the lower gain', () => {
    assert.deepEqual(dbToCode(mic, 10), { code: 0, db: 0 });
    assert.deepEqual(dbToCode(mic, 12), { code: 1, db: 20 });
    assert.deepEqual(dbToCode(mic, 35), { code: 2, db: 30 });
  });
});
