/**
 * NXP (Freescale) SGTL5000: low-power stereo codec with headphone amplifier; 16-bit register
 * addresses and 16-bit values over I2C, and no I2C at all until its master clock runs.
 *
 * Every figure below is one of the facts in codecs/sgtl5000/FACTS.md. What the facts do
 * not give stays unknown, and is said here:
 *  - the byte order of addresses and values on the wire: most significant byte first is assumed
 *    (the register-map layer's default, and I2C's usual order), not a collected figure;
 *  - any reset default, and every power, reference and routing register: the power steps are
 *    `unknown` steps (recorded, not run) and the DAC volume's mute codes are what the sequences use;
 *  - DAC volume codes 0xF1..0xFB (between -90 dB and the mute codes);
 *  - the bit layout of the capture gain (0x0020) and microphone gain (0x002A) registers: declared,
 *    no controls;
 *  - every format (rates and widths) and any latency figure.
 */
import type { CodecDescription } from '../../src/codec/description.ts';

const FACTS = 'codecs/sgtl5000/FACTS.md';
const SRC = {
  wire: `${FACTS}: I2C 0x0A or 0x2A; 16-bit register address, 16-bit data, stride 2 (byte order not stated: MSB first assumed)`,
  mclk: `${FACTS}: MCLK must run before I2C access`,
  dac: `${FACTS}: DAC volume reg 0x0010: left [7:0], right [15:8]; 0x3C = 0 dB .. 0xF0 = -90 dB in 0.5 dB steps; >= 0xFC mute; <= 0x3B reserved`,
  hp: `${FACTS}: headphone volume reg 0x0022: left [6:0], right [14:8]; 0x00 = +12 dB, 0x18 = 0 dB, 0x7F = -51.5 dB, 0.5 dB steps`,
  capture: `${FACTS}: capture gain reg 0x0020: 0 .. +22.5 dB in 1.5 dB steps (bit layout not among the facts)`,
  mic: `${FACTS}: microphone gain reg 0x002A: 0 / 20 / 30 / 40 dB (bit layout not among the facts)`,
};
const NOT_AMONG_FACTS = 'not among the collected facts (codecs/sgtl5000/FACTS.md)';
const NO_RESET = 'unknown' as const;

export const description: CodecDescription = {
  meta: {
    id: 'sgtl5000',
    name: 'SGTL5000 stereo codec',
    vendor: 'NXP (Freescale)',
    datasheet: 'NXP SGTL5000 datasheet (figures via codecs/sgtl5000/FACTS.md)',
  },

  regmap: {
    addrBits: 16,
    valueBits: 16,
    byteOrder: 'big',
    stride: 2,
    source: SRC.wire,
    registers: [
      { name: 'DAC_VOL', addr: 0x0010, reset: NO_RESET, source: SRC.dac,
        fields: [{ name: 'RIGHT', bits: [15, 8] }, { name: 'LEFT', bits: [7, 0] }] },
      { name: 'ADC_CAPTURE_GAIN', addr: 0x0020, reset: NO_RESET, source: SRC.capture, doc: 'layout unknown: never written' },
      { name: 'HP_VOL', addr: 0x0022, reset: NO_RESET, source: SRC.hp, doc: 'bits 15 and 7 not among the facts',
        fields: [{ name: 'RIGHT', bits: [14, 8] }, { name: 'LEFT', bits: [6, 0] }] },
      { name: 'MIC_GAIN', addr: 0x002a, reset: NO_RESET, source: SRC.mic, doc: 'layout unknown: never written' },
    ],
  },

  probe: { reg: 'DAC_VOL', why: 'the chip answers on its address (a 16-bit read)' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'DAC_VOL', field: 'LEFT' }, { reg: 'DAC_VOL', field: 'RIGHT' }],
      min: 0x00, max: 0xff, default: 'unknown', unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x3c, to: 0xf0, db: 0, stepDb: -0.5 }],
      muteCodes: [0xfc, 0xfd, 0xfe, 0xff],
      reservedCodes: Array.from({ length: 0x3c }, (_, i) => i),
      unknownCodes: [{ from: 0xf1, to: 0xfb, why: `the facts name 0xF0 = -90 dB and >= 0xFC mute; codes between are ${NOT_AMONG_FACTS}` }],
      source: SRC.dac,
    },
    {
      name: 'Headphone Playback Volume', kind: 'volume', direction: 'output',
      channels: [{ reg: 'HP_VOL', field: 'LEFT' }, { reg: 'HP_VOL', field: 'RIGHT' }],
      min: 0x00, max: 0x7f, default: 'unknown', unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0x7f, db: 12, stepDb: -0.5 }],
      source: SRC.hp,
    },
  ],

  formats: [],
  formatsUnknown: `the SGTL5000's rates and sample widths are ${NOT_AMONG_FACTS}`,

  clocks: {
    mclk: { value: 'required', source: SRC.mclk },
    mclkBeforeBus: { value: true, source: SRC.mclk },
  },

  options: {
    mclk: '"free-running" when the board\'s MCLK oscillator runs whenever the board is powered; otherwise the host calls setMclkRunning(true) once MCLK runs, and no register access happens before',
  },

  sequences: {
    init: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC volume mute code 0xFC until power-up' },
      { op: 'set-gain', control: 'Digital Playback Volume', db: 0, why: 'stream gain 0 dB (0x3C), written on release' },
      { op: 'set-gain', control: 'Headphone Playback Volume', db: 0, why: 'headphone 0 dB (0x18)' },
    ],
    powerUp: [
      { op: 'unknown', what: 'power up the references, the DAC and the headphone amplifier', why: `the power registers are ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'the stream gain back' },
    ],
    powerDown: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC volume mute code 0xFC' },
      { op: 'unknown', what: 'power down the headphone amplifier, the DAC and the references', why: `the power registers are ${NOT_AMONG_FACTS}` },
    ],
  },

  latency: {
    output: { what: 'DAC group delay', defaultMode: 'default',
      modes: { default: { unknown: 'SGTL5000 latency unverified (codecs/sgtl5000/FACTS.md): a board file may supply codec.options.groupDelay' } } },
    input: { what: 'ADC group delay', defaultMode: 'default', modes: { default: { unknown: 'SGTL5000 latency unverified (codecs/sgtl5000/FACTS.md)' } } },
  },
};
