/**
 * Wolfson (Cirrus Logic) WM8960: stereo codec with headphone and class-D speaker drivers,
 * controlled over a write-only I2C interface with 7-bit register addresses and 9-bit values.
 *
 * Every figure below is one of the facts in codecs/wm8960/FACTS.md, which names its
 * origin: the WM8960 datasheet (Table 15 for the DAC volume) or K = Linux
 * sound/soc/codecs/wm8960.c/.h. What the facts do not give stays unknown, and is said here:
 *  - no reset default of any whole register (only the DAC volume's 0xFF = 0 dB default is given);
 *  - the bit positions of the anti-pop controls POBCTRL, BUFDCOPEN, SOFT_ST (R28/R29), of the
 *    power-management registers (VMID, VREF, DAC and output enables), of the software reset and of
 *    the PLL; so those steps of the power sequences are `unknown` steps (recorded, not run);
 *  - the headphone/speaker volume coding below 0x30 (unverified for the WM8960);
 *  - bits 7..6 of the input PGA registers R0/R1 (so the PGA cannot be written before something
 *    known sets the whole register: the chip cannot be read back);
 *  - the jack-detect bits (HPSWEN/HPSWPOL in R24, HPSEL in R48: names only);
 *  - the sample widths, and any latency figure.
 */
import { RANGE_FLAG } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const FACTS = 'codecs/wm8960/FACTS.md';
const SRC = {
  wire: `${FACTS}: I2C 0x1A; 7-bit register address, 9-bit data; write-only (every value is cached)`,
  latch: `${FACTS}: volume registers' bit 8 = update latch (left and right take effect together)`,
  dac: `${FACTS}: DAC volume R10/R11 [7:0]: 0x00 = digital mute, 0x01 = -127 dB, 0.5 dB steps up to 0xFF = 0 dB (default); bit 8 DACVU latches left/right (WM8960 datasheet Table 15)`,
  out: `${FACTS}: headphone R2/R3 and speaker R40/R41 [6:0]: 1 dB steps, 0x7F = +6 dB, 0x79 = 0 dB (K); bit 7 = zero-cross; bit 8 = update latch`,
  outLow: 'codecs/wm8960/FACTS.md: the WM8960 coding of headphone/speaker codes 0x00..0x2F is unverified (Linux declares TLV -121 dB with mute, the WM8731 datasheet says mute; neither is the WM8960 datasheet)',
  pga: `${FACTS}: capture PGA R0/R1 [5:0]: -17.25 .. +30 dB in 0.75 dB steps; bit 8 = update latch`,
  adc: `${FACTS}: ADC volume R21/R22 [7:0]: 0x00 = mute, 0xC3 = 0 dB, 0xFF = +30 dB, 0.5 dB steps; bit 8 = update latch`,
  jack: `${FACTS}: jack detect on-chip: HPSWEN/HPSWPOL in R24, HPSEL in R48 (bit positions not among the facts); the registers cannot be read, so the host learns the jack state only through a GPIO a board wires to the codec's GPIO1`,
  pop: `${FACTS}: Pop: POBCTRL/BUFDCOPEN/SOFT_ST (R28/R29) (bit positions not among the facts)`,
  vmid: `${FACTS}: Pop: VMID 100 ms`,
  vref: `${FACTS}: Pop: VREF 100 ms`,
  pll: `${FACTS}: PLL lock 250 ms`,
  formats: `${FACTS}: 8-48 kHz (K); stereo (left/right DAC and ADC volume registers)`,
};
const NOT_AMONG_FACTS = 'not among the collected facts (codecs/wm8960/FACTS.md)';

const S_UNKNOWN = 0;
const WIDTHS_UNKNOWN = `the WM8960's sample widths are ${NOT_AMONG_FACTS}`;

/** A volume register's layout: [8] update latch, [7] zero-cross, [6:0] volume (headphone, speaker). */
const OUT_FIELDS = [
  { name: 'VU', bits: 8, doc: 'update latch: left and right take effect together' },
  { name: 'ZC', bits: 7, doc: 'zero-cross' },
  { name: 'VOL', bits: [6, 0] as const },
];

export const description: CodecDescription = {
  meta: {
    id: 'wm8960',
    name: 'WM8960 stereo codec',
    vendor: 'Cirrus Logic (Wolfson Microelectronics)',
    datasheet: 'Wolfson/Cirrus Logic WM8960 datasheet (figures via codecs/wm8960/FACTS.md)',
  },

  regmap: {
    addrBits: 7,
    valueBits: 9,
    readable: false,
    source: SRC.wire,
    registers: [
      { name: 'LEFT_INPUT_VOL', addr: 0x00, reset: 'unknown', source: SRC.pga,
        doc: 'R0; bits 7..6 not among the facts: never written as a whole, so the PGA volume cannot be set until they are known',
        fields: [{ name: 'IPVU', bits: 8 }, { name: 'VOL', bits: [5, 0] }] },
      { name: 'RIGHT_INPUT_VOL', addr: 0x01, reset: 'unknown', source: SRC.pga, doc: 'R1; as R0',
        fields: [{ name: 'IPVU', bits: 8 }, { name: 'VOL', bits: [5, 0] }] },
      { name: 'LOUT1_VOL', addr: 0x02, reset: 'unknown', source: SRC.out, doc: 'R2: left headphone volume', fields: OUT_FIELDS },
      { name: 'ROUT1_VOL', addr: 0x03, reset: 'unknown', source: SRC.out, doc: 'R3: right headphone volume', fields: OUT_FIELDS },
      { name: 'LEFT_DAC_VOL', addr: 0x0a, reset: 'unknown', source: SRC.dac,
        doc: 'R10; [7:0] resets to 0xFF (0 dB), the reset of bit 8 is not among the facts',
        fields: [{ name: 'DACVU', bits: 8 }, { name: 'DACVOL', bits: [7, 0] }] },
      { name: 'RIGHT_DAC_VOL', addr: 0x0b, reset: 'unknown', source: SRC.dac, doc: 'R11; as R10',
        fields: [{ name: 'DACVU', bits: 8 }, { name: 'DACVOL', bits: [7, 0] }] },
      { name: 'LEFT_ADC_VOL', addr: 0x15, reset: 'unknown', source: SRC.adc, doc: 'R21',
        fields: [{ name: 'ADCVU', bits: 8 }, { name: 'ADCVOL', bits: [7, 0] }] },
      { name: 'RIGHT_ADC_VOL', addr: 0x16, reset: 'unknown', source: SRC.adc, doc: 'R22',
        fields: [{ name: 'ADCVU', bits: 8 }, { name: 'ADCVOL', bits: [7, 0] }] },
      { name: 'JACK_SWITCH', addr: 0x18, reset: 'unknown', source: SRC.jack, doc: 'R24: HPSWEN, HPSWPOL (positions unknown; never written)' },
      { name: 'ANTI_POP1', addr: 0x1c, reset: 'unknown', source: SRC.pop, doc: 'R28: anti-pop controls (positions unknown; never written)' },
      { name: 'ANTI_POP2', addr: 0x1d, reset: 'unknown', source: SRC.pop, doc: 'R29: anti-pop controls (positions unknown; never written)' },
      { name: 'LOUT2_VOL', addr: 0x28, reset: 'unknown', source: SRC.out, doc: 'R40: left speaker volume', fields: OUT_FIELDS },
      { name: 'ROUT2_VOL', addr: 0x29, reset: 'unknown', source: SRC.out, doc: 'R41: right speaker volume', fields: OUT_FIELDS },
      { name: 'HP_SELECT', addr: 0x30, reset: 'unknown', source: SRC.jack, doc: 'R48: HPSEL (position unknown; never written)' },
    ],
  },

  probe: { none: 'the chip cannot be read over I2C (write-only): a missing chip shows as no acknowledge on init\'s first write' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'LEFT_DAC_VOL', field: 'DACVOL' }, { reg: 'RIGHT_DAC_VOL', field: 'DACVOL' }],
      min: 0x00, max: 0xff, default: 0xff, unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x01, to: 0xff, db: -127, stepDb: 0.5 }],
      muteCodes: [0x00],
      latch: { field: 'DACVU' },
      source: SRC.dac,
    },
    {
      name: 'Headphone Playback Volume', kind: 'volume', direction: 'output',
      channels: [{ reg: 'LOUT1_VOL', field: 'VOL' }, { reg: 'ROUT1_VOL', field: 'VOL' }],
      min: 0x00, max: 0x7f, default: 'unknown', unit: 'dB', stepDb: 1,
      scale: [{ from: 0x7f, to: 0x30, db: 6, stepDb: -1 }],
      unknownCodes: [{ from: 0x00, to: 0x2f, why: SRC.outLow }],
      latch: { field: 'VU' },
      source: SRC.out,
    },
    {
      name: 'Speaker Playback Volume', kind: 'volume', direction: 'output',
      channels: [{ reg: 'LOUT2_VOL', field: 'VOL' }, { reg: 'ROUT2_VOL', field: 'VOL' }],
      min: 0x00, max: 0x7f, default: 'unknown', unit: 'dB', stepDb: 1,
      scale: [{ from: 0x7f, to: 0x30, db: 6, stepDb: -1 }],
      unknownCodes: [{ from: 0x00, to: 0x2f, why: SRC.outLow }],
      latch: { field: 'VU' },
      source: SRC.out,
    },
    {
      name: 'ADC Capture Volume', kind: 'volume', direction: 'input', main: true,
      channels: [{ reg: 'LEFT_ADC_VOL', field: 'ADCVOL' }, { reg: 'RIGHT_ADC_VOL', field: 'ADCVOL' }],
      min: 0x00, max: 0xff, default: 'unknown', unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0xff, to: 0x01, db: 30, stepDb: -0.5 }],
      muteCodes: [0x00],
      latch: { field: 'ADCVU' },
      source: SRC.adc,
    },
    {
      name: 'Capture PGA Volume', kind: 'volume', direction: 'input',
      channels: [{ reg: 'LEFT_INPUT_VOL', field: 'VOL' }, { reg: 'RIGHT_INPUT_VOL', field: 'VOL' }],
      min: 0x00, max: 0x3f, default: 'unknown', unit: 'dB', stepDb: 0.75,
      scale: [{ from: 0x00, to: 0x3f, db: -17.25, stepDb: 0.75 }],
      latch: { field: 'IPVU' },
      source: SRC.pga,
    },
  ],

  formats: (['output', 'input'] as const).flatMap((direction) => [
    { direction, source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 8000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction, source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 11025, maxFps: 44100, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ]),

  clocks: {
    mclk: { unknown: `whether the WM8960 needs MCLK, and its ratios, are ${NOT_AMONG_FACTS}` },
    notes: [{ text: 'with the PLL in use (codec.options.pll), power-up waits 250 ms for it to lock', source: SRC.pll }],
  },

  options: {
    pll: 'true when the board clocks the codec from its PLL: power-up then waits 250 ms for lock (the PLL registers are not among the facts). Default false.',
    sampleBits: 'the sample widths the board uses, { "bits": [...], "source": "..." }: the WM8960 widths are not among the facts',
    groupDelay: 'a delay figure the facts lack: { "frames": N } or { "ns": N } with "source"',
  },

  sequences: {
    init: [
      { op: 'unknown', what: 'software reset', why: `the reset register is ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC digital mute (code 0x00) until power-up' },
      { op: 'mute-control', control: 'ADC Capture Volume', muted: true, why: 'ADC mute (code 0x00) until power-up' },
      { op: 'set-gain', control: 'ADC Capture Volume', db: 0, why: 'stream gain 0 dB (0xC3), written on release' },
      // Whole registers (the chip cannot be read back): volume 0x79 = 0 dB, zero-cross off, latch on the right.
      { op: 'write', reg: 'LOUT1_VOL', value: 0x079, why: 'headphone left 0 dB' },
      { op: 'write', reg: 'ROUT1_VOL', value: 0x179, why: 'headphone right 0 dB, update latch' },
      { op: 'write', reg: 'LOUT2_VOL', value: 0x079, why: 'speaker left 0 dB' },
      { op: 'write', reg: 'ROUT2_VOL', value: 0x179, why: 'speaker right 0 dB, update latch' },
    ],
    powerUp: [
      { op: 'unknown', what: 'anti-pop start-up: set POBCTRL, BUFDCOPEN and SOFT_ST (R28/R29)', why: `their bit positions are ${NOT_AMONG_FACTS}` },
      { op: 'unknown', what: 'enable VMID', why: `the power-management register and its bits are ${NOT_AMONG_FACTS}` },
      { op: 'delay', ms: 100, source: SRC.vmid, why: 'VMID settles' },
      { op: 'unknown', what: 'enable VREF', why: `the power-management register and its bits are ${NOT_AMONG_FACTS}` },
      { op: 'delay', ms: 100, source: SRC.vref, why: 'VREF settles' },
      { op: 'hook', name: 'pll', why: 'PLL set-up and lock wait, when the board uses it' },
      { op: 'unknown', what: 'power up the DAC, ADC and the headphone/speaker drivers', why: `the power-management bits are ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'the stream gain back (DACVU on the right channel)' },
      { op: 'mute-control', control: 'ADC Capture Volume', muted: false, why: 'the stream gain back (ADCVU on the right channel)' },
    ],
    powerDown: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC digital mute (0x00, latched on the right channel)' },
      { op: 'mute-control', control: 'ADC Capture Volume', muted: true, why: 'ADC mute' },
      { op: 'unknown', what: 'anti-pop power-down (POBCTRL/BUFDCOPEN, R28/R29), then the drivers, DAC, ADC and VMID off', why: `those bits are ${NOT_AMONG_FACTS}` },
    ],
  },

  latency: {
    output: { what: 'DAC filter group delay', defaultMode: 'default',
      modes: { default: { unknown: 'WM8960 latency unverified (codecs/wm8960/FACTS.md): a board file may supply codec.options.groupDelay' } } },
    input: { what: 'ADC filter group delay', defaultMode: 'default',
      modes: { default: { unknown: 'WM8960 latency unverified (codecs/wm8960/FACTS.md)' } } },
  },
};
