/**
 * Wolfson (Cirrus Logic) WM8960: stereo codec with headphone and class-D speaker drivers,
 * controlled over a write-only I2C interface with 7-bit register addresses and 9-bit values.
 *
 * Every figure below is one of the facts in codecs/wm8960/FACTS.md, which names its origin: the
 * WM8960 datasheet (Table 15 for the DAC volume), K = Linux sound/soc/codecs/wm8960.c/.h, WS =
 * Waveshare's patched wm8960.c (the bring-up on the HAT, the reset defaults). The bring-up
 * (codecs/wm8960/FACTS.md#bring-up-on-the-waveshare-hat), as data:
 *  - init: software reset (R15), the volume-update latches, the DAC and ADC held muted, the
 *    stream gains and the headphone/speaker volumes at 0 dB;
 *  - setFormat: R7 (I2S, slave, word length of the stream);
 *  - powerUp: anti-pop on (R28), VMID 2×50 kΩ and its 100 ms, VREF and its 100 ms, anti-pop off,
 *    the clocking of the board option codec.options.clocking (R4 from MCLK, or the PLL with its
 *    250 ms lock), the paths in use, the volumes back, the DAC soft mute released last (R5 bit 3);
 *  - the paths, each powered only while a board stream of its purpose runs: the DAC into the
 *    output mixers (shared), headphone (LOUT1/ROUT1), speaker (SPKL/SPKR, class-D), microphone
 *    (input PGAs, ADCs, mic bias, boost, PGA unmuted);
 *  - powerDown: soft mute, the paths down, anti-pop (R28 = 0x09C), R25 = 0, 600 ms discharge.
 * What stays unknown, and is said where it applies: the R4 divider codings other than the facts'
 * two values (so 48 kHz is the only rate either clocking makes), the mic boost coding (R32/R33
 * [5:4]), which of R47 bits 5:4 and R49 bits 7:6 is which channel, the headphone/speaker coding
 * below 0x30, the jack-detect bit positions, the registers the reset defaults do not list, latency.
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription, SequenceStep } from '../../src/codec/description.ts';
import type { FieldDef, RegisterDef } from '../../src/codec/regmap.ts';

const F = {
  bus: 'codecs/wm8960/FACTS.md#bus',
  dac: 'codecs/wm8960/FACTS.md#dac-volume',
  out: 'codecs/wm8960/FACTS.md#headphone-and-speaker-volume',
  capture: 'codecs/wm8960/FACTS.md#capture',
  jack: 'codecs/wm8960/FACTS.md#jack-detect',
  formats: 'codecs/wm8960/FACTS.md#formats-and-rates',
  latency: 'codecs/wm8960/FACTS.md#latency',
  pop: 'codecs/wm8960/FACTS.md#pop',
  hat: 'codecs/wm8960/FACTS.md#bring-up-on-the-waveshare-hat',
  speaker: 'codecs/wm8960/FACTS.md#speaker-path',
  mic: 'codecs/wm8960/FACTS.md#capture-path',
  off: 'codecs/wm8960/FACTS.md#power-off',
  pll: 'codecs/wm8960/FACTS.md#pll-from-a-24-mhz-clock',
  clocks: 'codecs/wm8960/FACTS.md#clock-register-layouts',
  resets: 'codecs/wm8960/FACTS.md#reset-defaults',
  boards: 'docs/facts/boards.md#clock-masters',
} as const;
const SRC = {
  wire: `${F.bus}: I2C 0x1A; 7-bit register address, 9-bit data; write-only (every value is cached)`,
  reset: `${F.hat}: step 1, R15 (any value) = software reset; ${F.resets}: R15 is the only volatile register (on a write-only chip the layer never reads it anyway)`,
  dac: `${F.dac}: DAC volume R10/R11 [7:0]: 0x00 = digital mute, 0x01 = -127 dB, 0.5 dB steps up to 0xFF = 0 dB (default); bit 8 DACVU latches left/right (WM8960 datasheet Table 15); reset default ${F.resets}`,
  out: `${F.out}: headphone R2/R3 and speaker R40/R41 [6:0]: 1 dB steps, 0x7F = +6 dB, 0x79 = 0 dB (K); bit 7 = zero-cross; bit 8 = update latch (${F.bus}); reset default ${F.resets}`,
  outLow: `${F.out}: the WM8960 coding of headphone/speaker codes 0x00..0x2F is unverified (Linux declares TLV -121 dB with mute, the WM8731 datasheet says mute; neither is the WM8960 datasheet)`,
  pga: `${F.capture}: capture PGA R0/R1 [5:0]: -17.25 .. +30 dB in 0.75 dB steps; ${F.mic}: bit 7 = 0 unmutes the PGA (it resets muted); bit 8 = update latch (${F.bus}); reset default ${F.resets}`,
  adc: `${F.capture}: ADC volume R21/R22 [7:0]: 0x00 = mute, 0xC3 = 0 dB, 0xFF = +30 dB, 0.5 dB steps; bit 8 = update latch (${F.bus}); reset default ${F.resets}`,
  clock: `${F.clocks}: R4 bit 0 = clock from the PLL, [2:1] SYSCLK divider, [5:3] DAC divider, [8:6] ADC divider (the divider codings are not among the facts); ${F.hat}: step 8, R4 = 0x000 with a 12.288 MHz MCLK (MCLK direct, 256fs); ${F.pll}: R4 = 0x049; reset default ${F.resets}`,
  dacCtrl: `${F.hat}: step 13, R5 bit 3 = DAC soft mute (R5 resets to 0x008: muted); reset default ${F.resets}`,
  iface: `${F.hat}: step 7, R7 = 0x002 (16-bit), 0x00A (24), 0x00E (32): I2S ([1:0] = 2), slave (bit 6 = 0), word length [3:2] 0/2/3 = 16/24/32-bit; 20-bit = 1 is derived (the one code left for the fourth format of ${F.formats}); reset default 0x00A ${F.resets}`,
  listed: `${F.resets}: reset default from WS 56-108; what the register does is not among the facts`,
  jackSw: `${F.jack}: HPSWEN/HPSWPOL in R24 (bit positions not among the facts); the registers cannot be read, so the host learns the jack state only through a GPIO a board wires to the codec's GPIO1; reset default ${F.resets}`,
  hpSel: `${F.jack}: HPSEL in R48 (position not among the facts); reset default ${F.resets}`,
  power1: `${F.hat}: steps 4, 5, 9, R25 VMID [8:7] (0x080 = 2×50 kΩ while active, 0x100 = 2×250 kΩ idle), VREF 0x040; ${F.mic}: AINL 0x020, AINR 0x010, ADCL 0x008, ADCR 0x004, MICB 0x002; ${F.off}: R25 = 0; reset default ${F.resets}`,
  power2: `${F.hat}: step 10, R26 DACL 0x100, DACR 0x080, LOUT1 0x040, ROUT1 0x020; ${F.speaker}: SPKL 0x010, SPKR 0x008; ${F.pll}: bit 0 = PLL on; reset default ${F.resets}`,
  r27: `${F.mic}: R27 [2:0] = 0 at 48 kHz (what the bits mean is not among the facts); reset default ${F.resets}`,
  antiPop: `${F.hat}: steps 3 and 6, R28 = 0x09C (POBCTRL 0x80, BUFDCOPEN 0x10, BUFIOEN 0x08, SOFT_ST 0x04), then 0x008; ${F.off}: R28 = 0x09C; reset default ${F.resets}`,
  antiPop2: `${F.pop}: anti-pop controls in R28/R29 (R29's layout is not among the facts); reset default ${F.resets}`,
  boost: `${F.mic}: R32/R33 bit 3 = 1 (input boost), [5:4] mic boost (its coding is not among the facts); reset default ${F.resets}`,
  outMix: `${F.hat}: step 12, R34/R37 set 0x100 = left/right DAC into the output mixer; reset default 0x050 ${F.resets}`,
  power3: `${F.hat}: step 11, R47 LOMIX 0x008, ROMIX 0x004; ${F.mic}: R47 set 0x030 (LMIC, RMIC: which bit is which is not among the facts); reset default ${F.resets}`,
  classD: `${F.speaker}: R49 bits 7:6 = class-D outputs enable (which bit enables which channel is not among the facts; R49 resets to 0x037)`,
  pllRegs: `${F.clocks}: R52-R55 PLL N, fractional enable 0x20, prescale 0x10 (R52), K in three bytes (R53-R55); ${F.pll}: R52 = 0x036, R53 = 0x24, R54 = 0xDD, R55 = 0x2F for 48 kHz from 24 MHz (derived); reset default ${F.resets}`,
  vmid: `${F.pop}: VMID 100 ms (${F.hat}: step 4, wait 100 ms)`,
  vref: `${F.pop}: VREF 100 ms`,
  lock: `${F.pll}: wait 250 ms (${F.pop}: PLL lock 250 ms)`,
  discharge: `${F.off}: wait 600 ms (discharge)`,
  formats: `${F.formats}: 8-48 kHz (K; WS gives the same range); S16, S20_3, S24, S32 (WS); playback and capture share one rate (WS); stereo (left/right DAC and ADC volume registers)`,
};

/** The clocking a board chooses with codec.options.clocking (the facts conflict on the HAT's clock: docs/facts/boards.md). */
export const CLOCKING_MODES = ['mclk-12m288', 'pll-24m'] as const;
export type ClockingMode = (typeof CLOCKING_MODES)[number];

/**
 * The rate each clocking makes: the facts give R4 = 0x000 (MCLK direct, 256fs: 12.288 MHz / 256 =
 * 48 kHz) and the PLL setting derived for 48 kHz from 24 MHz; every other rate needs R4 divider
 * codings that are not among the facts.
 */
export const CLOCKING_RATE: Readonly<Record<ClockingMode, { rate: number; mclkHz: number; source: string }>> = {
  'mclk-12m288': { rate: 48000, mclkHz: 12_288_000, source: `${F.hat}: step 8, R4 = 0x000 with a 12.288 MHz MCLK: MCLK direct, 256fs (12,288,000 / 256 = 48,000 Hz); other rates need the R4 divider codings, which are not among the facts (${F.clocks})` },
  'pll-24m': { rate: 48000, mclkHz: 24_000_000, source: `${F.pll}: the PLL values are derived for 48 kHz from a 24 MHz clock; no other rate's values are among the facts` },
};

const WIDTHS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT20_IN32 | SAMPLE_FORMAT.BIT24_IN32 | SAMPLE_FORMAT.BIT32;

/** A volume register's layout: [8] update latch, [7] zero-cross, [6:0] volume (headphone, speaker). */
const OUT_FIELDS: readonly FieldDef[] = [
  { name: 'VU', bits: 8, doc: 'update latch: left and right take effect together' },
  { name: 'ZC', bits: 7, doc: 'zero-cross' },
  { name: 'VOL', bits: [6, 0] },
];
/** The input PGA: [8] update latch, [7] mute (1 = muted, the reset state), [5:0] volume; bit 6 not among the facts (resets 0). */
const PGA_FIELDS: readonly FieldDef[] = [
  { name: 'IPVU', bits: 8, doc: 'update latch' },
  { name: 'INMUTE', bits: 7, doc: '1 = PGA muted (reset); the capture path clears it' },
  { name: 'VOL', bits: [5, 0] },
];
const BOOST_FIELDS: readonly FieldDef[] = [
  { name: 'MICBOOST', bits: [5, 4], doc: 'mic boost (coding not among the facts; left at its reset value)' },
  { name: 'BOOST', bits: 3, doc: 'input boost (the capture path sets it)' },
];

/** Registers whose reset default the facts list but whose layout they do not give: by number. */
const listed = (reg: number, reset: number): RegisterDef => ({ name: `R${reg}`, addr: reg, reset, source: SRC.listed });

/** Sets (1) or clears (0) one-bit fields of a register, as one update. */
const set = (reg: string, fields: Record<string, number | string>, why: string): SequenceStep => ({ op: 'update', reg, fields, why });

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
      { name: 'LEFT_INPUT_VOL', addr: 0, reset: 0x0a7, source: SRC.pga, doc: 'R0: left input PGA', fields: PGA_FIELDS },
      { name: 'RIGHT_INPUT_VOL', addr: 1, reset: 0x0a7, source: SRC.pga, doc: 'R1: right input PGA', fields: PGA_FIELDS },
      { name: 'LOUT1_VOL', addr: 2, reset: 0x000, source: SRC.out, doc: 'R2: left headphone volume', fields: OUT_FIELDS },
      { name: 'ROUT1_VOL', addr: 3, reset: 0x000, source: SRC.out, doc: 'R3: right headphone volume', fields: OUT_FIELDS },
      { name: 'CLOCKING1', addr: 4, reset: 0x000, source: SRC.clock, doc: 'R4: SYSCLK source and dividers',
        fields: [{ name: 'ADCDIV', bits: [8, 6] }, { name: 'DACDIV', bits: [5, 3] }, { name: 'SYSCLKDIV', bits: [2, 1] }, { name: 'CLKSEL', bits: 0, values: { MCLK: 0, PLL: 1 } }] },
      { name: 'DAC_CTRL1', addr: 5, reset: 0x008, source: SRC.dacCtrl, doc: 'R5', fields: [{ name: 'SOFT_MUTE', bits: 3, doc: 'DAC soft mute (1 at reset)' }] },
      listed(6, 0x000),
      { name: 'AUDIO_IFACE', addr: 7, reset: 0x00a, source: SRC.iface, doc: 'R7: audio interface',
        fields: [{ name: 'MS', bits: 6, values: { slave: 0 }, doc: '0 = slave (the only mode among the facts)' },
          { name: 'WL', bits: [3, 2], values: { 16: 0, 20: 1, 24: 2, 32: 3 }, doc: 'word length (20-bit = 1 derived)' },
          { name: 'FORMAT', bits: [1, 0], values: { I2S: 2 }, doc: '2 = I2S (the only format among the facts)' }] },
      listed(8, 0x1c0),
      listed(9, 0x000),
      { name: 'LEFT_DAC_VOL', addr: 10, reset: 0x0ff, source: SRC.dac, doc: 'R10',
        fields: [{ name: 'DACVU', bits: 8 }, { name: 'DACVOL', bits: [7, 0] }] },
      { name: 'RIGHT_DAC_VOL', addr: 11, reset: 0x0ff, source: SRC.dac, doc: 'R11',
        fields: [{ name: 'DACVU', bits: 8 }, { name: 'DACVOL', bits: [7, 0] }] },
      { name: 'RESET', addr: 15, reset: 'unknown', access: 'wo', source: SRC.reset, doc: 'R15: writing any value resets every register to its default' },
      listed(16, 0x000),
      listed(17, 0x07b),
      listed(18, 0x100),
      listed(19, 0x032),
      listed(20, 0x000),
      { name: 'LEFT_ADC_VOL', addr: 21, reset: 0x0c3, source: SRC.adc, doc: 'R21',
        fields: [{ name: 'ADCVU', bits: 8 }, { name: 'ADCVOL', bits: [7, 0] }] },
      { name: 'RIGHT_ADC_VOL', addr: 22, reset: 0x0c3, source: SRC.adc, doc: 'R22',
        fields: [{ name: 'ADCVU', bits: 8 }, { name: 'ADCVOL', bits: [7, 0] }] },
      listed(23, 0x1c0),
      { name: 'JACK_SWITCH', addr: 24, reset: 0x000, source: SRC.jackSw, doc: 'R24: HPSWEN, HPSWPOL (positions unknown; never written)' },
      { name: 'POWER1', addr: 25, reset: 0x000, source: SRC.power1, doc: 'R25: power management 1',
        fields: [{ name: 'VMIDSEL', bits: [8, 7], values: { off: 0, '2x50k': 1, '2x250k': 2 }, doc: 'VMID divider: 0x080 = 2×50 kΩ (active), 0x100 = 2×250 kΩ (idle)' },
          { name: 'VREF', bits: 6 }, { name: 'AINL', bits: 5 }, { name: 'AINR', bits: 4 }, { name: 'ADCL', bits: 3 }, { name: 'ADCR', bits: 2 },
          { name: 'MICB', bits: 1, doc: 'microphone bias' }] },
      { name: 'POWER2', addr: 26, reset: 0x000, source: SRC.power2, doc: 'R26: power management 2',
        fields: [{ name: 'DACL', bits: 8 }, { name: 'DACR', bits: 7 }, { name: 'LOUT1', bits: 6 }, { name: 'ROUT1', bits: 5 },
          { name: 'SPKL', bits: 4 }, { name: 'SPKR', bits: 3 }, { name: 'PLL_EN', bits: 0 }] },
      { name: 'R27', addr: 27, reset: 0x000, source: SRC.r27, fields: [{ name: 'LOW3', bits: [2, 0], doc: '0 at 48 kHz' }] },
      { name: 'ANTI_POP1', addr: 28, reset: 0x000, source: SRC.antiPop, doc: 'R28: anti-pop 1',
        fields: [{ name: 'POBCTRL', bits: 7 }, { name: 'BUFDCOPEN', bits: 4 }, { name: 'BUFIOEN', bits: 3 }, { name: 'SOFT_ST', bits: 2 }] },
      { name: 'ANTI_POP2', addr: 29, reset: 0x000, source: SRC.antiPop2, doc: 'R29: anti-pop 2 (layout unknown; never written)' },
      { name: 'LEFT_BOOST', addr: 32, reset: 0x100, source: SRC.boost, doc: 'R32: left input boost', fields: BOOST_FIELDS },
      { name: 'RIGHT_BOOST', addr: 33, reset: 0x100, source: SRC.boost, doc: 'R33: right input boost', fields: BOOST_FIELDS },
      { name: 'LEFT_OUT_MIX', addr: 34, reset: 0x050, source: SRC.outMix, doc: 'R34: left output mixer',
        fields: [{ name: 'DAC_TO_MIX', bits: 8, doc: 'left DAC into the left output mixer' }] },
      { name: 'RIGHT_OUT_MIX', addr: 37, reset: 0x050, source: SRC.outMix, doc: 'R37: right output mixer',
        fields: [{ name: 'DAC_TO_MIX', bits: 8, doc: 'right DAC into the right output mixer' }] },
      listed(38, 0x000),
      listed(39, 0x000),
      { name: 'LOUT2_VOL', addr: 40, reset: 0x000, source: SRC.out, doc: 'R40: left speaker volume', fields: OUT_FIELDS },
      { name: 'ROUT2_VOL', addr: 41, reset: 0x000, source: SRC.out, doc: 'R41: right speaker volume', fields: OUT_FIELDS },
      listed(42, 0x040),
      listed(43, 0x000),
      listed(44, 0x000),
      listed(45, 0x050),
      listed(46, 0x050),
      { name: 'POWER3', addr: 47, reset: 0x000, source: SRC.power3, doc: 'R47: power management 3',
        fields: [{ name: 'MIC', bits: [5, 4], values: { off: 0, on: 3 }, doc: 'LMIC and RMIC together (which bit is which is not among the facts)' },
          { name: 'LOMIX', bits: 3 }, { name: 'ROMIX', bits: 2 }] },
      { name: 'HP_SELECT', addr: 48, reset: 0x002, source: SRC.hpSel, doc: 'R48: HPSEL (position unknown; never written)' },
      { name: 'CLASSD_CTRL1', addr: 49, reset: 0x037, source: `${SRC.classD}; reset default ${F.resets}`, doc: 'R49',
        fields: [{ name: 'SPK_OP_EN', bits: [7, 6], values: { off: 0, both: 3 }, doc: 'class-D outputs enable, both channels together' }] },
      listed(51, 0x080),
      { name: 'PLL_N', addr: 52, reset: 0x008, source: SRC.pllRegs, doc: 'R52: PLL N, fractional enable, prescale',
        fields: [{ name: 'FRAC', bits: 5, doc: 'fractional mode' }, { name: 'PRESCALE', bits: 4 }] },
      { name: 'PLL_K1', addr: 53, reset: 0x031, source: SRC.pllRegs, doc: 'R53: PLL K, first byte' },
      { name: 'PLL_K2', addr: 54, reset: 0x026, source: SRC.pllRegs, doc: 'R54: PLL K, second byte' },
      { name: 'PLL_K3', addr: 55, reset: 0x0e9, source: SRC.pllRegs, doc: 'R55: PLL K, third byte' },
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
      // Resets to 0x00, whose WM8960 coding is unverified: the default stays unknown.
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
      min: 0x00, max: 0xff, default: 0xc3, unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0xff, to: 0x01, db: 30, stepDb: -0.5 }],
      muteCodes: [0x00],
      latch: { field: 'ADCVU' },
      source: SRC.adc,
    },
    {
      // The PGA's mute (bit 7) is the microphone path's, not the stream's: a gain change keeps it.
      name: 'Capture PGA Volume', kind: 'volume', direction: 'input',
      channels: [{ reg: 'LEFT_INPUT_VOL', field: 'VOL' }, { reg: 'RIGHT_INPUT_VOL', field: 'VOL' }],
      min: 0x00, max: 0x3f, default: 0x27, unit: 'dB', stepDb: 0.75,
      scale: [{ from: 0x00, to: 0x3f, db: -17.25, stepDb: 0.75 }],
      latch: { field: 'IPVU' },
      source: SRC.pga,
    },
  ],

  // The chip's ranges (FACTS: 8-48 kHz, 16/20/24/32-bit); the driver offers the rate the board's
  // clocking makes (CLOCKING_RATE: 48 kHz), one rate for playback and capture.
  formats: (['output', 'input'] as const).flatMap((direction) => [
    { direction, source: SRC.formats,
      range: { sampleFormats: WIDTHS, minFps: 8000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction, source: SRC.formats,
      range: { sampleFormats: WIDTHS, minFps: 11025, maxFps: 44100, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ]),

  clocks: {
    mclk: { value: 'required', source: `${F.hat}: step 8, SYSCLK from MCLK (R4 = 0x000), or the PLL from it (${F.pll}); the HAT's clock is 12.288 or 24 MHz, a conflict between the overlays and WS (${F.boards})` },
    notes: [
      { text: 'codec.options.clocking "mclk-12m288": a 12.288 MHz MCLK straight to SYSCLK (R4 = 0x000, 256fs): 48 kHz', source: CLOCKING_RATE['mclk-12m288'].source },
      { text: 'codec.options.clocking "pll-24m": a 24 MHz MCLK through the PLL (R52-R55, R26 bit 0, 250 ms lock, R4 = 0x049): 48 kHz (derived)', source: CLOCKING_RATE['pll-24m'].source },
      { text: 'the codec is an I2S slave (R7 bit 6 = 0): the Pi drives BCLK/LRCLK', source: SRC.iface },
    ],
  },

  options: {
    clocking: 'mclk-12m288 (default: the HAT\'s clock is 12.288 MHz, as the overlays declare; R4 = 0x000) or pll-24m (a 24 MHz clock through the PLL, as WS\'s driver assumes). The facts conflict (docs/facts/boards.md#clock-masters): neither is verified on hardware.',
    groupDelay: 'a delay figure the facts lack: { "frames": N } or { "ns": N } with "source"',
  },

  sequences: {
    init: [
      { op: 'write', reg: 'RESET', value: 0x000, why: 'software reset (R15, any value)' },
      { op: 'hook', name: 'registers-reset', why: 'the chip holds its reset defaults now: the register cache starts over from them' },
      // Step 2: the update latches set in the cache, so each volume pair takes effect (FACTS WS 1487-1496).
      ...(['LEFT_INPUT_VOL', 'RIGHT_INPUT_VOL'] as const).map((reg) => set(reg, { IPVU: 1 }, 'volume update latch')),
      ...(['LOUT1_VOL', 'ROUT1_VOL'] as const).map((reg) => set(reg, { VU: 1 }, 'volume update latch')),
      ...(['LEFT_DAC_VOL', 'RIGHT_DAC_VOL'] as const).map((reg) => set(reg, { DACVU: 1 }, 'volume update latch')),
      ...(['LEFT_ADC_VOL', 'RIGHT_ADC_VOL'] as const).map((reg) => set(reg, { ADCVU: 1 }, 'volume update latch')),
      ...(['LOUT2_VOL', 'ROUT2_VOL'] as const).map((reg) => set(reg, { VU: 1 }, 'volume update latch')),
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC digital mute (code 0x00) until power-up' },
      { op: 'mute-control', control: 'ADC Capture Volume', muted: true, why: 'ADC mute (code 0x00) until power-up' },
      { op: 'set-gain', control: 'ADC Capture Volume', db: 0, why: 'stream gain 0 dB (0xC3), written on release' },
      { op: 'set-gain', control: 'Capture PGA Volume', db: 0, why: 'input PGA 0 dB (0x17), still muted (bit 7) until the microphone path' },
      // Whole registers: volume 0x79 = 0 dB, zero-cross off, latch on the right.
      { op: 'write', reg: 'LOUT1_VOL', value: 0x079, why: 'headphone left 0 dB' },
      { op: 'write', reg: 'ROUT1_VOL', value: 0x179, why: 'headphone right 0 dB, update latch' },
      { op: 'write', reg: 'LOUT2_VOL', value: 0x079, why: 'speaker left 0 dB' },
      { op: 'write', reg: 'ROUT2_VOL', value: 0x179, why: 'speaker right 0 dB, update latch' },
    ],
    powerUp: [
      { op: 'write', reg: 'ANTI_POP1', value: 0x09c, why: 'anti-pop on: POBCTRL, BUFDCOPEN, BUFIOEN, SOFT_ST' },
      set('POWER1', { VMIDSEL: '2x50k' }, 'VMID 2×50 kΩ (R25 0x080)'),
      { op: 'delay', ms: 100, source: SRC.vmid, why: 'VMID ramps' },
      set('POWER1', { VREF: 1 }, 'VREF on (R25 0x040)'),
      { op: 'delay', ms: 100, source: SRC.vref, why: 'VREF settles' },
      { op: 'write', reg: 'ANTI_POP1', value: 0x008, why: 'anti-pop off, BUFIOEN kept' },
      { op: 'hook', name: 'clocking', why: 'SYSCLK as codec.options.clocking says: sub-sequence "clocking:<mode>"' },
      { op: 'paths', action: 'up', why: 'power and route the paths the board\'s running streams use' },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'the stream gain back (DACVU on the right channel)' },
      { op: 'mute-control', control: 'ADC Capture Volume', muted: false, why: 'the stream gain back (ADCVU on the right channel)' },
      set('DAC_CTRL1', { SOFT_MUTE: 0 }, 'DAC soft mute off (R5 bit 3), last'),
    ],
    powerDown: [
      set('DAC_CTRL1', { SOFT_MUTE: 1 }, 'DAC soft mute (R5 bit 3)'),
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC digital mute (0x00, latched on the right channel)' },
      { op: 'mute-control', control: 'ADC Capture Volume', muted: true, why: 'ADC mute' },
      { op: 'paths', action: 'down', why: 'the outputs and inputs off before VMID goes' },
      { op: 'hook', name: 'clocking-off', why: 'the PLL off where the clocking used it: sub-sequence "clocking-off:<mode>"' },
      { op: 'write', reg: 'ANTI_POP1', value: 0x09c, why: 'anti-pop on for the power-down' },
      { op: 'write', reg: 'POWER1', value: 0x000, why: 'VMID, VREF and the inputs off (R25 = 0)' },
      { op: 'delay', ms: 600, source: SRC.discharge, why: 'the outputs discharge' },
    ],
  },

  subSequences: {
    // powerUp, codec.options.clocking = mclk-12m288 (FACTS: bring-up step 8)
    'clocking:mclk-12m288': [
      { op: 'write', reg: 'CLOCKING1', value: 0x000, why: 'SYSCLK = MCLK (12.288 MHz), undivided: 256fs at 48 kHz' },
    ],
    // powerUp, codec.options.clocking = pll-24m (FACTS: PLL from a 24 MHz clock, derived for 48 kHz)
    'clocking:pll-24m': [
      { op: 'write', reg: 'PLL_N', value: 0x036, why: 'PLL N, fractional mode (derived for 48 kHz from 24 MHz)' },
      { op: 'write', reg: 'PLL_K1', value: 0x024, why: 'PLL K (derived)' },
      { op: 'write', reg: 'PLL_K2', value: 0x0dd, why: 'PLL K (derived)' },
      { op: 'write', reg: 'PLL_K3', value: 0x02f, why: 'PLL K (derived)' },
      set('POWER2', { PLL_EN: 1 }, 'PLL on (R26 bit 0)'),
      { op: 'delay', ms: 250, source: SRC.lock, why: 'PLL lock' },
      { op: 'write', reg: 'CLOCKING1', value: 0x049, why: 'SYSCLK from the PLL, with its dividers' },
    ],
    'clocking-off:mclk-12m288': [],
    'clocking-off:pll-24m': [set('POWER2', { PLL_EN: 0 }, 'PLL off (R26 bit 0), the reverse of its power-up')],
    // setFormat (FACTS: bring-up step 7; capture path: R27 at 48 kHz)
    format: [
      { op: 'hook', name: 'word-length', why: 'R7 written whole: I2S, slave, the stream\'s word length (0x002 / 0x006 / 0x00A / 0x00E)' },
      set('R27', { LOW3: 0 }, 'R27 [2:0] = 0 at 48 kHz'),
    ],
  },

  paths: {
    // The DAC into the output mixers: shared by the headphone and the speaker (FACTS: steps 10-12).
    playback: {
      up: [
        set('POWER2', { DACL: 1, DACR: 1 }, 'left and right DAC on (R26 0x180)'),
        set('POWER3', { LOMIX: 1, ROMIX: 1 }, 'output mixers on (R47 0x00C)'),
        set('LEFT_OUT_MIX', { DAC_TO_MIX: 1 }, 'left DAC into the left output mixer (R34 bit 8)'),
        set('RIGHT_OUT_MIX', { DAC_TO_MIX: 1 }, 'right DAC into the right output mixer (R37 bit 8)'),
      ],
      down: [
        set('LEFT_OUT_MIX', { DAC_TO_MIX: 0 }, 'left DAC out of the mixer'),
        set('RIGHT_OUT_MIX', { DAC_TO_MIX: 0 }, 'right DAC out of the mixer'),
        set('POWER3', { LOMIX: 0, ROMIX: 0 }, 'output mixers off'),
        set('POWER2', { DACL: 0, DACR: 0 }, 'DACs off'),
      ],
      doc: 'DAC → output mixers, for every output path',
    },
    headphone: {
      direction: 'output', needs: ['playback'],
      up: [set('POWER2', { LOUT1: 1, ROUT1: 1 }, 'headphone drivers on (R26 0x060)')],
      down: [set('POWER2', { LOUT1: 0, ROUT1: 0 }, 'headphone drivers off')],
      doc: 'LOUT1/ROUT1 from the output mixers (FACTS: step 10)',
    },
    speaker: {
      direction: 'output', needs: ['playback'],
      up: [
        set('POWER2', { SPKL: 1, SPKR: 1 }, 'speaker drivers on (R26 0x018)'),
        set('CLASSD_CTRL1', { SPK_OP_EN: 'both' }, 'class-D outputs enabled (R49 bits 7:6)'),
      ],
      down: [
        set('CLASSD_CTRL1', { SPK_OP_EN: 'off' }, 'class-D outputs disabled'),
        set('POWER2', { SPKL: 0, SPKR: 0 }, 'speaker drivers off'),
      ],
      doc: 'SPK L/R, class-D (FACTS: speaker path)',
    },
    microphone: {
      direction: 'input',
      up: [
        set('POWER1', { AINL: 1, AINR: 1, ADCL: 1, ADCR: 1, MICB: 1 }, 'input PGAs, ADCs and mic bias on (R25 0x03E)'),
        set('POWER3', { MIC: 'on' }, 'LMIC, RMIC on (R47 0x030)'),
        set('LEFT_BOOST', { BOOST: 1 }, 'left input boost (R32 bit 3)'),
        set('RIGHT_BOOST', { BOOST: 1 }, 'right input boost (R33 bit 3)'),
        set('LEFT_INPUT_VOL', { INMUTE: 0, IPVU: 0 }, 'left input PGA unmuted (R0 bit 7), taking effect with the right'),
        set('RIGHT_INPUT_VOL', { INMUTE: 0, IPVU: 1 }, 'right input PGA unmuted (R1 bit 7), update latch'),
      ],
      down: [
        set('LEFT_INPUT_VOL', { INMUTE: 1, IPVU: 0 }, 'left input PGA muted'),
        set('RIGHT_INPUT_VOL', { INMUTE: 1, IPVU: 1 }, 'right input PGA muted, update latch'),
        set('LEFT_BOOST', { BOOST: 0 }, 'left input boost off'),
        set('RIGHT_BOOST', { BOOST: 0 }, 'right input boost off'),
        set('POWER3', { MIC: 'off' }, 'LMIC, RMIC off'),
        set('POWER1', { AINL: 0, AINR: 0, ADCL: 0, ADCR: 0, MICB: 0 }, 'input PGAs, ADCs and mic bias off'),
      ],
      doc: 'microphones → input PGAs → boost → ADCs (FACTS: capture path)',
    },
  },

  latency: {
    output: { what: 'DAC filter group delay', defaultMode: 'default',
      modes: { default: { unknown: `WM8960 latency unverified (${F.latency}): a board file may supply codec.options.groupDelay` } } },
    input: { what: 'ADC filter group delay', defaultMode: 'default',
      modes: { default: { unknown: `WM8960 latency unverified (${F.latency})` } } },
  },
};
