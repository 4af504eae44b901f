/**
 * The stand-in "sim-codec" (a made-up part for the sim board; its one-page "datasheet" is the
 * comment at the top of ./model.ts). The simplest complete description: six registers, one
 * volume with a mute code, two power sequences.
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
    ],
  },
  probe: { reg: 'CHIP_ID', id: { value: 0x5a, source: DS } },
  controls: [{
    name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
    channels: [{ reg: 'VOL_L' }, { reg: 'VOL_R' }],
    min: 0x00, max: 0xff, default: 0xff, unit: 'dB', stepDb: 0.5,
    scale: [{ from: 0x00, to: 0xfe, db: 0, stepDb: -0.5 }], muteCodes: [0xff], source: DS,
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
