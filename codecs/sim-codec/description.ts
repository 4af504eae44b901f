/**
 * The stand-in "sim-codec" (a made-up part for the sim board; its one-page "datasheet" is the
 * comment at the top of ./model.ts). The simplest complete description: seven registers, one
 * volume with a mute code, a switch and an enum (the DAC's soft mute and filter, which no sequence
 * touches: they are the user's), two power sequences.
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const DS = 'codecs/sim-codec/model.ts header (stand-in part, no datasheet)';
const FORMATS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT24_IN32;

export const description: CodecDescription = {
  meta: { id: 'sim-codec', name: 'Simulated stand-in codec', vendor: 'sbc-audio (simulation)', datasheet: DS },
  regmap: {
    addrBits: 8, valueBits: 8, source: DS,
    registers: [
      { name: 'CHIP_ID', addr: 0x00, reset: 0x5a, access: 'ro', source: DS },
      { name: 'VOL_L', addr: 0x01, reset: 0xff, source: DS },
      { name: 'VOL_R', addr: 0x02, reset: 0xff, source: DS },
      { name: 'POWER', addr: 0x03, reset: 0x00, source: DS, fields: [{ name: 'DAC', bits: 0 }, { name: 'ADC', bits: 1 }] },
      { name: 'FORMAT', addr: 0x04, reset: 0x00, source: DS, fields: [{ name: 'WLEN', bits: [1, 0], values: { '16': 0, '20': 1, '24': 2, '32': 3 } }] },
      { name: 'RATE', addr: 0x05, reset: 48, source: DS, doc: 'sample rate / 1000, rounded' },
      { name: 'DAC_CTRL', addr: 0x06, reset: 0x00, source: DS, fields: [
        { name: 'SOFT_MUTE', bits: 0, doc: '1 = both DAC channels muted' },
        { name: 'FILTER', bits: [2, 1], values: { sharp: 0, slow: 1, 'low-latency': 2 }, doc: 'DAC filter: 0 sharp, 1 slow, 2 low-latency, 3 reserved; the level is the same with each' },
      ] },
    ],
  },
  probe: { reg: 'CHIP_ID', id: { value: 0x5a, source: DS } },
  controls: [{
    name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
    channels: [{ reg: 'VOL_L' }, { reg: 'VOL_R' }],
    min: 0x00, max: 0xff, default: 0xff, unit: 'dB', stepDb: 0.5,
    scale: [{ from: 0x00, to: 0xfe, db: 0, stepDb: -0.5 }], muteCodes: [0xff], source: DS,
  }, {
    // SOFT_MUTE read as a "Playback Switch": on (sound) is the bit clear.
    name: 'DAC Playback Switch', kind: 'switch', direction: 'output',
    channels: [{ reg: 'DAC_CTRL', field: 'SOFT_MUTE' }],
    min: 0, max: 1, default: 0, unit: 'none', values: { on: 0, off: 1 }, source: DS,
  }, {
    name: 'DAC Filter', kind: 'enum', direction: 'output',
    channels: [{ reg: 'DAC_CTRL', field: 'FILTER' }],
    min: 0, max: 3, default: 0, unit: 'none', reservedCodes: [3],
    values: { sharp: 0, slow: 1, 'low-latency': 2 }, source: DS,
  }],
  formats: (['output', 'input'] as const).flatMap((direction) => [
    { direction, source: DS, range: { sampleFormats: FORMATS, minFps: 8000, maxFps: 192000, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction, source: DS, range: { sampleFormats: FORMATS, minFps: 11025, maxFps: 176400, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ]),
  clocks: { mclk: { value: 'not-used', source: DS } },
  sequences: {
    init: [
      { op: 'write', reg: 'VOL_L', value: 0xff, why: 'muted' },
      { op: 'write', reg: 'VOL_R', value: 0xff, why: 'muted' },
    ],
    powerUp: [
      { op: 'update', reg: 'POWER', fields: { DAC: 1, ADC: 1 } },
    ],
    powerDown: [
      { op: 'update', reg: 'POWER', fields: { DAC: 0, ADC: 0 } },
    ],
  },
  latency: {
    output: { what: 'DAC filter group delay (simulated figure)', defaultMode: 'default', modes: { default: { frames: 8, source: DS } } },
    input: { what: 'ADC filter group delay (simulated figure)', defaultMode: 'default', modes: { default: { frames: 6, source: DS } } },
  },
};
