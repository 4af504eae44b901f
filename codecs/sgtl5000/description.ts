/**
 * NXP (Freescale) SGTL5000: low-power stereo codec with headphone amplifier; 16-bit register
 * addresses and 16-bit values over I2C, and no I2C at all until its master clock runs.
 *
 * Every figure below is one of the facts in codecs/sgtl5000/FACTS.md (the bring-up and the reset
 * defaults are K's, Linux sgtl5000.c). The bring-up (codecs/sgtl5000/FACTS.md#bring-up), as data:
 *  - MCLK runs before any access: the register map's bus gate (clocks.mclkBeforeBus) stays closed
 *    until the board says its clock runs (a board oscillator: codec.mclk in the board file);
 *  - probe: CHIP_ID (0x0000) [15:8] = 0xA0;
 *  - init: the chip has no reset, so every reset default the facts list is written; VAG cleared
 *    and 500 ms waited where it is already on; the analog power (ANA_POWER 0x7060, with the
 *    internal LDO 0x0200 and LINREG_CTRL [3:0] = 8, as the board's VDDD says), the reference
 *    (REF_CTRL VAG code for the board's VDDA, small-pop), SHORT_CTRL = 0, DIG_POWER = 0x0060,
 *    ADCDAC_CTRL 0x020C then 0x0200, the DAC held muted (volume code 0xFC);
 *  - setFormat: CLK_CTRL = 0x0008 (48 kHz from a 12.288 MHz MCLK), I2S_CTRL = 0x0130 (16-bit,
 *    slave: bit 0x0080 clear);
 *  - powerUp: I2S in and out (DIG_POWER bits 0, 1), DAC, headphone, ADC and VAG (ANA_POWER 0x0008,
 *    0x0010, 0x0002, 0x0080), the headphone fed from the DAC and unmuted (ANA_CTRL bits 6 and 4
 *    clear), the DAC volume back;
 *  - powerDown: the reverse, with the 500 ms VAG needs off before it comes on again.
 * What stays unknown, and is said where it applies: the byte order on the wire (most significant
 * byte first is assumed: the layer's default and I2C's usual order), every rate and word length
 * but 48 kHz 16-bit, the reset defaults of the registers the facts do not list (ANA_POWER among
 * them), what the bring-up's other bits mean, LINE_OUT_CTRL's value, the values of ANA_CTRL bits
 * 2 and 0 for the ADC (so no capture format is offered), DAC volume codes 0xF1..0xFB, the layouts
 * of the capture and microphone gains, the latency.
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription, SequenceStep } from '../../src/codec/description.ts';
import type { RegisterDef } from '../../src/codec/regmap.ts';

const F = {
  bus: 'codecs/sgtl5000/FACTS.md#bus',
  dac: 'codecs/sgtl5000/FACTS.md#dac-volume',
  hp: 'codecs/sgtl5000/FACTS.md#headphone-volume',
  capture: 'codecs/sgtl5000/FACTS.md#capture-and-microphone-gain',
  latency: 'codecs/sgtl5000/FACTS.md#latency',
  bringup: 'codecs/sgtl5000/FACTS.md#bring-up',
  resets: 'codecs/sgtl5000/FACTS.md#reset-defaults',
} as const;
const SRC = {
  wire: `${F.bus}: I2C 0x0A or 0x2A; 16-bit register address, 16-bit data, stride 2 (byte order not stated: MSB first assumed)`,
  mclk: `${F.bus}: MCLK must run before any I2C access; ${F.bringup}: step 1, MCLK running (≥ 8 cycles) before any I2C access`,
  chipId: `${F.bringup}: step 2, CHIP_ID 0x0000 reads [15:8] = 0xA0; ${F.resets}: volatile`,
  digPower: `${F.bringup}: step 6, DIG_POWER 0x0002 = 0x0060; step 8, bit 0 = I2S in, bit 1 = I2S out; reset 0 (${F.resets})`,
  clkCtrl: `${F.bringup}: step 7, CLK_CTRL 0x0004 = 0x0008 for 48 kHz with a 12.288 MHz MCLK (its layout and reset default are not among the facts)`,
  i2sCtrl: `${F.bringup}: step 7, I2S_CTRL 0x0006 = 0x0130 for 16-bit (| 0x0080 when the codec is the clock master); reset 0x0010 (${F.resets})`,
  adcdac: `${F.bringup}: step 6, ADCDAC_CTRL 0x000E = 0x020C, then 0x0200; reset 0x020C, volatile (${F.resets})`,
  dac: `${F.dac}: DAC volume reg 0x0010: left [7:0], right [15:8]; 0x3C = 0 dB .. 0xF0 = -90 dB in 0.5 dB steps; >= 0xFC mute; <= 0x3B reserved; reset 0x3C3C (${F.resets})`,
  hp: `${F.hp}: headphone volume reg 0x0022: left [6:0], right [14:8]; 0x00 = +12 dB, 0x18 = 0 dB, 0x7F = -51.5 dB, 0.5 dB steps; reset 0x1818 (${F.resets})`,
  capture: `${F.capture}: capture gain reg 0x0020: 0 .. +22.5 dB in 1.5 dB steps (bit layout and reset default not among the facts)`,
  mic: `${F.capture}: microphone gain reg 0x002A: 0 / 20 / 30 / 40 dB (bit layout and reset default not among the facts)`,
  anaCtrl: `${F.bringup}: step 8, ANA_CTRL 0x0024 bit 4 = 0 (headphone unmute), bit 6 = 0 (headphone from the DAC); ADC: bits 2 and 0 (their values not among the facts); reset 0x0111 (${F.resets})`,
  linreg: `${F.bringup}: step 4, with the internal LDO LINREG_CTRL 0x0026 [3:0] = 8 (reset default not among the facts)`,
  refCtrl: `${F.bringup}: step 5, REF_CTRL 0x0028 [8:4] = VAG code (31 at VDDA 3.3 V), bit 0 = small-pop (reset default not among the facts)`,
  lineOut: `${F.bringup}: step 5 names LINE_OUT_CTRL 0x002C (its value, layout and reset default are not among the facts)`,
  anaPower: `${F.bringup}: step 3, VAG = ANA_POWER 0x0030 bit 7; step 4, ANA_POWER = 0x7060, with the internal LDO also 0x0200; step 5, |= 0x4000 | 0x0040 | 0x0020; step 8, DAC 0x0008, HP 0x0010, VAG 0x0080, ADC 0x0002 (reset default not among the facts)`,
  shortCtrl: `${F.bringup}: step 6, SHORT_CTRL 0x003C = 0 (reset default not among the facts)`,
  listed: `${F.resets}: reset default (K writes it at probe); what the register does is not among the facts`,
  vag: `${F.bringup}: step 3, if VAG is already on: clear it, wait 500 ms`,
  formats: `${F.bringup}: step 7, 48 kHz with a 12.288 MHz MCLK (CLK_CTRL 0x0008) and I2S_CTRL 0x0130 for 16-bit: the only rate and width among the facts; stereo (left/right DAC volume)`,
};
const NOT_AMONG_FACTS = 'not among the collected facts (codecs/sgtl5000/FACTS.md)';

/** The supplies a board names (codec.options.vddd, codec.options.vdda): each picks a sub-sequence. */
export const VDDD_SUPPLIES = ['external', 'internal-ldo'] as const;
export const VDDA_SUPPLIES = ['3.3V'] as const;

/** A register the facts list with a reset default but no name or layout: by address. */
const listed = (addr: number, reset: number, volatile = false): RegisterDef =>
  ({ name: `R${addr.toString(16).toUpperCase().padStart(4, '0')}`, addr, reset, source: SRC.listed, ...(volatile ? { volatile } : {}) });

const set = (reg: string, fields: Record<string, number | string>, why: string): SequenceStep => ({ op: 'update', reg, fields, why });
const reset = (reg: string, value: number): SequenceStep => ({ op: 'write', reg, value, why: `no reset: the reset default written (0x${value.toString(16).toUpperCase().padStart(4, '0')})` });

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
      { name: 'CHIP_ID', addr: 0x0000, reset: 'unknown', access: 'ro', volatile: true, source: SRC.chipId,
        fields: [{ name: 'PARTID', bits: [15, 8], doc: '0xA0' }, { name: 'REVID', bits: [7, 0], doc: 'revision (not among the facts)' }] },
      { name: 'DIG_POWER', addr: 0x0002, reset: 0x0000, source: SRC.digPower,
        fields: [{ name: 'B6_5', bits: [6, 5], doc: 'set by the bring-up (0x0060); meaning not among the facts' }, { name: 'I2S_OUT', bits: 1 }, { name: 'I2S_IN', bits: 0 }] },
      { name: 'CLK_CTRL', addr: 0x0004, reset: 'unknown', source: SRC.clkCtrl, doc: '0x0008: 48 kHz from 12.288 MHz' },
      { name: 'I2S_CTRL', addr: 0x0006, reset: 0x0010, source: SRC.i2sCtrl, doc: '0x0130: 16-bit I2S',
        fields: [{ name: 'MASTER', bits: 7, doc: '1 = the codec drives the I2S clocks (0x0080)' }] },
      listed(0x000a, 0x0010),
      { name: 'ADCDAC_CTRL', addr: 0x000e, reset: 0x020c, volatile: true, source: SRC.adcdac, doc: '0x020C, then 0x0200 (bits 0x000C: meaning not among the facts)' },
      { name: 'DAC_VOL', addr: 0x0010, reset: 0x3c3c, source: SRC.dac,
        fields: [{ name: 'RIGHT', bits: [15, 8] }, { name: 'LEFT', bits: [7, 0] }] },
      listed(0x0014, 0x015f),
      { name: 'ADC_CAPTURE_GAIN', addr: 0x0020, reset: 'unknown', source: SRC.capture, doc: 'layout unknown: never written' },
      { name: 'HP_VOL', addr: 0x0022, reset: 0x1818, source: SRC.hp, doc: 'bits 15 and 7 not among the facts',
        fields: [{ name: 'RIGHT', bits: [14, 8] }, { name: 'LEFT', bits: [6, 0] }] },
      { name: 'ANA_CTRL', addr: 0x0024, reset: 0x0111, source: SRC.anaCtrl,
        fields: [{ name: 'HP_SEL', bits: 6, values: { DAC: 0 }, doc: '0 = headphone from the DAC' }, { name: 'HP_MUTE', bits: 4, doc: '1 = headphone muted (reset)' },
          { name: 'ADC_B2', bits: 2, doc: 'the ADC path (its values not among the facts)' }, { name: 'ADC_B0', bits: 0, doc: 'the ADC path (its values not among the facts)' }] },
      { name: 'LINREG_CTRL', addr: 0x0026, reset: 'unknown', source: SRC.linreg, fields: [{ name: 'VDDD', bits: [3, 0], doc: '8 with the internal LDO' }] },
      { name: 'REF_CTRL', addr: 0x0028, reset: 'unknown', source: SRC.refCtrl,
        fields: [{ name: 'VAG_VAL', bits: [8, 4], doc: 'VAG code: 31 at VDDA 3.3 V' }, { name: 'SMALL_POP', bits: 0 }] },
      { name: 'MIC_GAIN', addr: 0x002a, reset: 'unknown', source: SRC.mic, doc: 'layout unknown: never written' },
      { name: 'LINE_OUT_CTRL', addr: 0x002c, reset: 'unknown', source: SRC.lineOut, doc: 'value unknown: never written' },
      listed(0x002e, 0x0404),
      { name: 'ANA_POWER', addr: 0x0030, reset: 'unknown', source: SRC.anaPower,
        fields: [{ name: 'B14', bits: 14, doc: '0x4000 (bring-up steps 4, 5; meaning not among the facts)' },
          { name: 'B13_12', bits: [13, 12], doc: '0x3000 (bring-up step 4; meaning not among the facts)' },
          { name: 'LDO', bits: 9, doc: '0x0200: the internal LDO' }, { name: 'VAG', bits: 7 },
          { name: 'B6', bits: 6, doc: '0x0040 (steps 4, 5; meaning not among the facts)' }, { name: 'B5', bits: 5, doc: '0x0020 (steps 4, 5; meaning not among the facts)' },
          { name: 'HP', bits: 4, doc: 'headphone amplifier' }, { name: 'DAC', bits: 3 }, { name: 'ADC', bits: 1 }] },
      listed(0x0032, 0x5000),
      { name: 'R0036', addr: 0x0036, reset: 'unknown', volatile: true, source: `${F.resets}: volatile (reset default and meaning not among the facts)` },
      { name: 'SHORT_CTRL', addr: 0x003c, reset: 'unknown', source: SRC.shortCtrl },
    ],
  },

  probe: { reg: 'CHIP_ID', id: { value: 0xa000, mask: 0xff00, source: SRC.chipId }, why: 'CHIP_ID [15:8] = 0xA0 (the revision in [7:0] is not among the facts)' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'DAC_VOL', field: 'LEFT' }, { reg: 'DAC_VOL', field: 'RIGHT' }],
      min: 0x00, max: 0xff, default: 0x3c, unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x3c, to: 0xf0, db: 0, stepDb: -0.5 }],
      muteCodes: [0xfc, 0xfd, 0xfe, 0xff],
      reservedCodes: Array.from({ length: 0x3c }, (_, i) => i),
      unknownCodes: [{ from: 0xf1, to: 0xfb, why: `the facts name 0xF0 = -90 dB and >= 0xFC mute; codes between are ${NOT_AMONG_FACTS}` }],
      source: SRC.dac,
    },
    {
      name: 'Headphone Playback Volume', kind: 'volume', direction: 'output',
      channels: [{ reg: 'HP_VOL', field: 'LEFT' }, { reg: 'HP_VOL', field: 'RIGHT' }],
      min: 0x00, max: 0x7f, default: 0x18, unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0x7f, db: 12, stepDb: -0.5 }],
      source: SRC.hp,
    },
  ],

  formats: [
    { direction: 'output', source: SRC.formats,
      range: { sampleFormats: SAMPLE_FORMAT.BIT16, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
  ],

  clocks: {
    mclk: { value: 'required', source: SRC.mclk },
    mclkBeforeBus: { value: true, source: SRC.mclk },
    notes: [
      { text: 'CLK_CTRL = 0x0008: 48 kHz from a 12.288 MHz MCLK, the only clocking among the facts', source: SRC.clkCtrl },
      { text: 'the codec is an I2S slave (I2S_CTRL bit 0x0080 clear): the host drives the bit and frame clocks', source: SRC.i2sCtrl },
    ],
  },

  options: {
    vddd: `the board's digital core supply: "external" (ANA_POWER = 0x7060) or "internal-ldo" (ANA_POWER also 0x0200, LINREG_CTRL [3:0] = 8). Required: which one a board has is its schematic's, ${NOT_AMONG_FACTS}`,
    vdda: `the board's analog supply, for the VAG code in REF_CTRL [8:4]: "3.3V" (code 31) is the only one among the facts. Required`,
    groupDelay: 'a delay figure the facts lack: { "frames": N } or { "ns": N } with "source"',
  },

  sequences: {
    init: [
      // Step 0 (Reset defaults): the chip has no reset pin or register, so K writes every default.
      reset('DIG_POWER', 0x0000),
      reset('I2S_CTRL', 0x0010),
      reset('R000A', 0x0010),
      reset('ADCDAC_CTRL', 0x020c),
      reset('DAC_VOL', 0x3c3c),
      reset('R0014', 0x015f),
      reset('HP_VOL', 0x1818),
      reset('ANA_CTRL', 0x0111),
      reset('R002E', 0x0404),
      reset('R0032', 0x5000),
      { op: 'hook', name: 'vag-off', why: 'step 3: VAG (ANA_POWER bit 7) read from the chip; if on, sub-sequence "vag-off" (clear it, wait 500 ms)' },
      { op: 'hook', name: 'supplies', why: 'steps 4-5: sub-sequences "analog-power:<vddd>" and "reference:<vdda>" as the board names its supplies' },
      set('ANA_POWER', { B14: 1, B6: 1, B5: 1 }, 'step 5: ANA_POWER |= 0x4000 | 0x0040 | 0x0020 (already set by step 4: no bus write)'),
      { op: 'unknown', what: 'set LINE_OUT_CTRL (0x002C)', why: `step 5 names the register but its value depends on the line output's levels, ${NOT_AMONG_FACTS}` },
      { op: 'write', reg: 'SHORT_CTRL', value: 0x0000, why: 'step 6: SHORT_CTRL = 0' },
      { op: 'write', reg: 'DIG_POWER', value: 0x0060, why: 'step 6: DIG_POWER = 0x0060' },
      { op: 'write', reg: 'ADCDAC_CTRL', value: 0x020c, why: 'step 6: ADCDAC_CTRL = 0x020C' },
      { op: 'write', reg: 'ADCDAC_CTRL', value: 0x0200, why: 'step 6: then 0x0200' },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC volume mute code 0xFC until power-up' },
      { op: 'set-gain', control: 'Digital Playback Volume', db: 0, why: 'stream gain 0 dB (0x3C), written on release' },
      { op: 'set-gain', control: 'Headphone Playback Volume', db: 0, why: 'headphone 0 dB (0x18)' },
    ],
    powerUp: [
      set('DIG_POWER', { I2S_IN: 1, I2S_OUT: 1 }, 'step 8: I2S in (bit 0) and out (bit 1)'),
      set('ANA_POWER', { DAC: 1, HP: 1, ADC: 1, VAG: 1 }, 'step 8: DAC 0x0008, headphone 0x0010, ADC 0x0002, VAG 0x0080'),
      set('ANA_CTRL', { HP_SEL: 'DAC', HP_MUTE: 0 }, 'step 8: headphone from the DAC (bit 6 = 0), unmuted (bit 4 = 0)'),
      { op: 'unknown', what: 'route and unmute the ADC (ANA_CTRL bits 2 and 0)', why: `step 8 names the bits but not their values: ${NOT_AMONG_FACTS}` },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'the stream gain back' },
    ],
    powerDown: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC volume mute code 0xFC first' },
      set('ANA_CTRL', { HP_MUTE: 1 }, 'headphone muted (bit 4)'),
      set('ANA_POWER', { DAC: 0, HP: 0, ADC: 0, VAG: 0 }, 'DAC, headphone, ADC and VAG off'),
      { op: 'delay', ms: 500, source: SRC.vag, why: 'VAG stays off 500 ms before it may come on again' },
      set('DIG_POWER', { I2S_IN: 0, I2S_OUT: 0 }, 'I2S in and out off'),
    ],
  },

  subSequences: {
    // init step 3 (FACTS: bring-up), run by the vag-off hook only when VAG reads on.
    'vag-off': [
      set('ANA_POWER', { VAG: 0 }, 'VAG off (ANA_POWER bit 7)'),
      { op: 'delay', ms: 500, source: SRC.vag, why: 'VAG discharges' },
    ],
    // init step 4, codec.options.vddd
    'analog-power:external': [
      { op: 'write', reg: 'ANA_POWER', value: 0x7060, why: 'step 4: ANA_POWER = 0x7060' },
    ],
    'analog-power:internal-ldo': [
      { op: 'write', reg: 'ANA_POWER', value: 0x7260, why: 'step 4: ANA_POWER = 0x7060 | 0x0200 (the internal LDO)' },
      set('LINREG_CTRL', { VDDD: 8 }, 'step 4: LINREG_CTRL [3:0] = 8'),
    ],
    // init step 5, codec.options.vdda
    'reference:3.3V': [
      set('REF_CTRL', { VAG_VAL: 31, SMALL_POP: 1 }, 'step 5: VAG code 31 (VDDA 3.3 V), small-pop (bit 0)'),
    ],
    // setFormat (FACTS: bring-up step 7): 48 kHz, 16-bit, slave
    format: [
      { op: 'write', reg: 'CLK_CTRL', value: 0x0008, why: 'step 7: 48 kHz from a 12.288 MHz MCLK' },
      { op: 'write', reg: 'I2S_CTRL', value: 0x0130, why: 'step 7: 16-bit I2S, the codec a slave (0x0080 clear)' },
    ],
  },

  latency: {
    output: { what: 'DAC group delay', defaultMode: 'default',
      modes: { default: { unknown: `SGTL5000 latency unverified (${F.latency}): a board file may supply codec.options.groupDelay` } } },
    input: { what: 'ADC group delay', defaultMode: 'default', modes: { default: { unknown: `SGTL5000 latency unverified (${F.latency})` } } },
  },
};
