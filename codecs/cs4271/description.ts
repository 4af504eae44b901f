/**
 * Cirrus Logic CS4271: stereo audio codec with an I2C control port, registers 0x01..0x08.
 *
 * Every figure below is one of the facts in codecs/cs4271/FACTS.md. What the
 * facts do not give stays unknown, and is said here:
 *  - the registers other than the two volumes (their names, layouts, reset values), so the power
 *    and mode steps are `unknown` steps (recorded, not run) and the volumes' mute bits are what the
 *    sequences use;
 *  - the sample widths (the rates are 8..192 kHz), and the input side;
 *  - the CS4271's latency (the facts give the CS4270's, a different part: not used).
 */
import { RANGE_FLAG } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const FACTS = 'codecs/cs4271/FACTS.md';
const SRC = {
  wire: `${FACTS}: CS4271 I2C 0x10; registers 0x01-0x08 (8-bit register numbers; 8-bit values: the volume registers use bits 7..0)`,
  vol: `${FACTS}: VOLA 0x04 / VOLB 0x05 [6:0]: 0 .. -127 dB in 1 dB steps; bit 7 mute`,
  formats: `${FACTS}: 8-192 kHz; stereo (volume A and B)`,
};
const NOT_AMONG_FACTS = 'not among the collected facts (codecs/cs4271/FACTS.md)';

const S_UNKNOWN = 0;
const WIDTHS_UNKNOWN = `the CS4271's sample widths are ${NOT_AMONG_FACTS}`;
const VOL_FIELDS = [{ name: 'MUTE', bits: 7, doc: '1 = muted' }, { name: 'VOL', bits: [6, 0] as const, doc: 'attenuation, 1 dB per code' }];

export const description: CodecDescription = {
  meta: {
    id: 'cs4271',
    name: 'CS4271 stereo codec',
    vendor: 'Cirrus Logic',
    datasheet: 'Cirrus Logic CS4271 datasheet (figures via codecs/cs4271/FACTS.md)',
  },

  regmap: {
    addrBits: 8,
    valueBits: 8,
    source: SRC.wire,
    registers: [
      { name: 'VOLA', addr: 0x04, reset: 'unknown', source: SRC.vol, doc: 'channel A (left) DAC volume', fields: VOL_FIELDS },
      { name: 'VOLB', addr: 0x05, reset: 'unknown', source: SRC.vol, doc: 'channel B (right) DAC volume', fields: VOL_FIELDS },
    ],
  },

  probe: { reg: 'VOLA', why: 'the chip answers on its address' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'VOLA', field: 'VOL' }, { reg: 'VOLB', field: 'VOL' }],
      min: 0, max: 127, default: 'unknown', unit: 'dB', stepDb: 1,
      scale: [{ from: 0, to: 127, db: 0, stepDb: -1 }],
      muteField: 'MUTE',
      source: SRC.vol,
    },
  ],

  formats: [
    { direction: 'output', source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 8000, maxFps: 192000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction: 'output', source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 11025, maxFps: 176400, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ],

  clocks: {
    mclk: { unknown: `the CS4271's master-clock requirements are ${NOT_AMONG_FACTS}` },
  },

  options: {
    sampleBits: 'the sample widths the board uses, { "bits": [...], "source": "..." }: the CS4271 widths are not among the facts',
    groupDelay: 'a delay figure the facts lack: { "frames": N } or { "ns": N } with "source"',
  },

  sequences: {
    init: [
      { op: 'unknown', what: 'enable the control port and leave power-down', why: `the mode and power registers are ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'mute bits (VOLA/VOLB bit 7) until power-up' },
      { op: 'set-gain', control: 'Digital Playback Volume', db: 0, why: 'stream gain 0 dB, written on release' },
    ],
    powerUp: [
      { op: 'unknown', what: 'power up the DAC', why: `the power register is ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'mute bits clear: the stream gain back' },
    ],
    powerDown: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'mute bits set' },
      { op: 'unknown', what: 'power down the DAC', why: `the power register is ${NOT_AMONG_FACTS}` },
    ],
  },

  latency: {
    output: { what: 'DAC group delay', defaultMode: 'default',
      modes: { default: { unknown: 'CS4271 latency unverified (codecs/cs4271/FACTS.md; its CS4270 figure, 10/fs, is for another part): a board file may supply codec.options.groupDelay' } } },
  },
};
