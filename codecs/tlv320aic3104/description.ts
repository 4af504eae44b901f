/**
 * TI TLV320AIC3104: low-power stereo codec with headphone drivers, I2C control, two register
 * pages selected by register 0.
 *
 * Every figure below is one of the facts in codecs/tlv320aic3104/FACTS.md; the group
 * delays come from the TI TLV320AIC3104 datasheet through it. The facts list registers by number
 * without a page; they are taken as page 0 registers (the facts name no page-1 register). What
 * the facts do not give stays unknown, and is said here:
 *  - any reset default; the software reset; every power bit (DAC, headphone drivers), so the power
 *    steps are `unknown` steps (recorded, not run) and the DAC mute bit is what the sequences use;
 *  - the headphone level's step: the facts give its ends (0 and 9 dB in [7:4]), so only codes 0 and
 *    9 are used, and codes 1..8 and 10..15 are unknown;
 *  - PGA codes above 0x77 (59.5 dB), and bit 7 of the PGA registers;
 *  - the bit layout of the headset detect (R13/R14, debounce 16..512 ms): declared, not used;
 *  - the sample widths.
 */
import { RANGE_FLAG } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const FACTS = 'codecs/tlv320aic3104/FACTS.md';
const SRC = {
  wire: `${FACTS}: I2C 0x18; 8-bit register address, 8-bit data`,
  page: `${FACTS}: page select reg 0 (pages 0/1)`,
  dac: `${FACTS}: DAC volume R43 (L) / R44 (R) [6:0] inverted, 0 .. -63.5 dB in 0.5 dB steps; bit 7 mute`,
  hp: `${FACTS}: headphone output level R51 (HPLOUT) / R65 (HPROUT) [7:4]: 0 .. 9 dB`,
  pga: `${FACTS}: PGA R15 (L) / R16 (R) [6:0]: 0 .. 59.5 dB in 0.5 dB steps`,
  headset: `${FACTS}: headset detect R13/R14, debounce 16-512 ms (bit layout not among the facts)`,
  formats: `${FACTS}: 8-96 kHz; stereo (left/right DAC and PGA registers)`,
  delay: 'TI TLV320AIC3104 datasheet (via codecs/tlv320aic3104/FACTS.md): DAC group delay 21/fs, ADC group delay 17/fs',
};
const NOT_AMONG_FACTS = 'not among the collected facts (codecs/tlv320aic3104/FACTS.md)';
const NO_RESET = 'unknown' as const;

const PAGE0 = 0x000;

const S_UNKNOWN = 0;
const WIDTHS_UNKNOWN = `the TLV320AIC3104's sample widths are ${NOT_AMONG_FACTS}`;

export const description: CodecDescription = {
  meta: {
    id: 'tlv320aic3104',
    name: 'TLV320AIC3104 stereo codec',
    vendor: 'Texas Instruments',
    datasheet: 'TI TLV320AIC3104 datasheet (figures via codecs/tlv320aic3104/FACTS.md)',
  },

  regmap: {
    addrBits: 8,
    valueBits: 8,
    paging: { selectReg: 0x00, pageSize: 0x100, pages: [0, 1], source: SRC.page },
    source: SRC.wire,
    registers: [
      { name: 'HEADSET_DETECT_A', addr: PAGE0 + 13, reset: NO_RESET, source: SRC.headset, doc: 'R13: headset detect (layout unknown; never written)' },
      { name: 'HEADSET_DETECT_B', addr: PAGE0 + 14, reset: NO_RESET, source: SRC.headset, doc: 'R14: headset detect (layout unknown; never written)' },
      { name: 'LEFT_PGA_VOL', addr: PAGE0 + 15, reset: NO_RESET, source: SRC.pga, doc: 'R15; bit 7 not among the facts',
        fields: [{ name: 'VOL', bits: [6, 0] }] },
      { name: 'RIGHT_PGA_VOL', addr: PAGE0 + 16, reset: NO_RESET, source: SRC.pga, doc: 'R16; bit 7 not among the facts',
        fields: [{ name: 'VOL', bits: [6, 0] }] },
      { name: 'LEFT_DAC_VOL', addr: PAGE0 + 43, reset: NO_RESET, source: SRC.dac,
        fields: [{ name: 'MUTE', bits: 7, doc: '1 = muted' }, { name: 'VOL', bits: [6, 0], doc: 'attenuation, 0.5 dB per code' }] },
      { name: 'RIGHT_DAC_VOL', addr: PAGE0 + 44, reset: NO_RESET, source: SRC.dac,
        fields: [{ name: 'MUTE', bits: 7, doc: '1 = muted' }, { name: 'VOL', bits: [6, 0], doc: 'attenuation, 0.5 dB per code' }] },
      { name: 'HPLOUT_LEVEL', addr: PAGE0 + 51, reset: NO_RESET, source: SRC.hp, doc: 'R51; bits 3..0 not among the facts',
        fields: [{ name: 'LEVEL', bits: [7, 4] }] },
      { name: 'HPROUT_LEVEL', addr: PAGE0 + 65, reset: NO_RESET, source: SRC.hp, doc: 'R65; bits 3..0 not among the facts',
        fields: [{ name: 'LEVEL', bits: [7, 4] }] },
    ],
  },

  probe: { reg: 'LEFT_DAC_VOL', why: 'the chip answers through its page select' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'LEFT_DAC_VOL', field: 'VOL' }, { reg: 'RIGHT_DAC_VOL', field: 'VOL' }],
      min: 0x00, max: 0x7f, default: 'unknown', unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0x7f, db: 0, stepDb: -0.5 }],
      muteField: 'MUTE',
      source: SRC.dac,
    },
    {
      name: 'Headphone Playback Volume', kind: 'volume', direction: 'output',
      channels: [{ reg: 'HPLOUT_LEVEL', field: 'LEVEL' }, { reg: 'HPROUT_LEVEL', field: 'LEVEL' }],
      min: 0, max: 15, default: 'unknown', unit: 'dB',
      stepDb: 9, // between the two codes the facts name
      scale: [{ from: 0, to: 0, db: 0, stepDb: 0 }, { from: 9, to: 9, db: 9, stepDb: 0 }],
      unknownCodes: [
        { from: 1, to: 8, why: `the facts give the ends of the range (0 and 9 dB), not the step: codes 1..8 are ${NOT_AMONG_FACTS}` },
        { from: 10, to: 15, why: `codes above 9 dB are ${NOT_AMONG_FACTS}` },
      ],
      source: SRC.hp,
    },
    {
      name: 'PGA Capture Volume', kind: 'volume', direction: 'input',
      channels: [{ reg: 'LEFT_PGA_VOL', field: 'VOL' }, { reg: 'RIGHT_PGA_VOL', field: 'VOL' }],
      min: 0x00, max: 0x7f, default: 'unknown', unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0x77, db: 0, stepDb: 0.5 }],
      unknownCodes: [{ from: 0x78, to: 0x7f, why: `codes above 0x77 (59.5 dB) are ${NOT_AMONG_FACTS}` }],
      source: SRC.pga,
    },
  ],

  formats: (['output', 'input'] as const).flatMap((direction) => [
    { direction, source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 8000, maxFps: 96000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction, source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 11025, maxFps: 88200, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ]),

  clocks: {
    mclk: { unknown: `the TLV320AIC3104's master-clock requirements are ${NOT_AMONG_FACTS}` },
  },

  options: {
    sampleBits: 'the sample widths the board uses, { "bits": [...], "source": "..." }: the TLV320AIC3104 widths are not among the facts',
  },

  sequences: {
    init: [
      { op: 'unknown', what: 'software reset', why: `the reset register is ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC mute bits (R43/R44 bit 7) until power-up' },
      { op: 'set-gain', control: 'Digital Playback Volume', db: 0, why: 'stream gain 0 dB, written on release' },
      { op: 'set-gain', control: 'Headphone Playback Volume', db: 0, why: 'headphone level 0 dB (code 0)' },
    ],
    powerUp: [
      { op: 'unknown', what: 'power up the DAC and the headphone drivers', why: `the power bits are ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'DAC mute bits clear: the stream gain back' },
    ],
    powerDown: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC mute bits set' },
      { op: 'unknown', what: 'power down the headphone drivers and the DAC', why: `the power bits are ${NOT_AMONG_FACTS}` },
    ],
  },

  latency: {
    output: { what: 'DAC group delay', defaultMode: 'default', modes: { default: { frames: 21, source: SRC.delay } } },
    input: { what: 'ADC group delay', defaultMode: 'default', modes: { default: { frames: 17, source: SRC.delay } } },
  },
};
