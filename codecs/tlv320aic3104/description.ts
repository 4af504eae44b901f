/**
 * TI TLV320AIC3104: low-power stereo codec with headphone drivers, I2C control, two register
 * pages selected by register 0.
 *
 * Every figure below is one of the facts in codecs/tlv320aic3104/FACTS.md; the group delays come
 * from the TI TLV320AIC3104 datasheet through it, the bring-up from K (Linux tlv320aic3x.c/.h) and
 * the Seeed overlay. The facts list registers by number without a page; they are page 0 registers
 * here (the facts name no page-1 register). The bring-up on the ReSpeaker 2-Mic v2
 * (codecs/tlv320aic3104/FACTS.md#bring-up-on-the-respeaker-2-mic-v2), as data:
 *  - init: soft reset (reg 1 = 0x80), the DAC held muted (R43/R44 bit 7), the stream gains, the
 *    DAC routed to the headphone drivers at 0 dB (R47/R64 = 0x80), LINE1L/R connected to the ADCs
 *    at 0 dB (R19/R22 [6:3] = 0), the PGA at 0x20, the output common mode a board names;
 *  - setFormat: the codec as clock master from its 24.576 MHz MCLK (R102 clock inputs = MCLK, R3 =
 *    0x20: PLL off, Q = 4; R101 = 0x01; R7 = 0x0A; R2 = 0x00; R8 = 0xC0: it drives BCLK and WCLK),
 *    the interface (R9: I2S and the stream's word length; R10 = 0): all before the host's PCM
 *    starts, since the Pi is the clock consumer and the PCM runs from the codec's clocks;
 *  - powerUp: the DACs (R37 ⊇ 0xC0), the headphone drivers powered and unmuted (R51/R65 = 0x09),
 *    the ADCs (R19/R22 bit 2), MICBIAS 2.5 V (R25 = 0x80), the PGA unmuted (R15/R16 bit 7: it
 *    resets set), the 50 ms wait, then the DAC mute released;
 *  - powerDown: the reverse (DAC muted first).
 * What stays unknown, and is said where it applies: every rate but 48 kHz (fsref = MCLK / (128 ×
 * Q); the reg 2 divider codes other than 0 and the PLL values are not among the facts), the
 * headphone level's codes 1..8 and 10..15, PGA codes above 0x77, bits 2:1 of R51/R65 (0 in the
 * facts' 0x09, bit 2 set at reset), which common mode (R40) the ReSpeaker's supplies call for, the
 * headset detect's layout, the registers the facts do not name.
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription, SequenceStep } from '../../src/codec/description.ts';
import type { FieldDef } from '../../src/codec/regmap.ts';

const F = {
  bus: 'codecs/tlv320aic3104/FACTS.md#bus-and-pages',
  dac: 'codecs/tlv320aic3104/FACTS.md#dac-volume',
  hp: 'codecs/tlv320aic3104/FACTS.md#headphone-output',
  pga: 'codecs/tlv320aic3104/FACTS.md#pga',
  headset: 'codecs/tlv320aic3104/FACTS.md#headset-detect',
  formats: 'codecs/tlv320aic3104/FACTS.md#formats-and-rates',
  latency: 'codecs/tlv320aic3104/FACTS.md#latency',
  bringup: 'codecs/tlv320aic3104/FACTS.md#bring-up-on-the-respeaker-2-mic-v2',
  resets: 'codecs/tlv320aic3104/FACTS.md#reset-defaults',
  pll: 'codecs/tlv320aic3104/FACTS.md#pll',
  boards: 'docs/facts/boards.md#clock-masters',
} as const;
const SRC = {
  wire: `${F.bus}: I2C 0x18; 8-bit register address, 8-bit data`,
  page: `${F.bus}: page select reg 0 (pages 0/1)`,
  reset: `${F.bringup}: reg 1 = 0x80 soft reset (K aic3x_init); ${F.resets}: reg 1 is among "all others 0"`,
  rateDiv: `${F.bringup}: reg 2 = 0x00, ADC and DAC at fsref ÷ 1 (K hw_params; other divider codes are not among the facts); reset 0 (${F.resets})`,
  pllA: `${F.bringup}: reg 3 = 0x20, PLL off, Q = 4: 24.576 MHz / (128 × 4) = 48 kHz (K hw_params, PLL bypass); ${F.pll}: bit 7 = PLL enable, [6:3] Q, [2:0] P; reset 0x10 (${F.resets})`,
  datapath: `${F.bringup}: reg 7 = 0x0A, fsref 48 kHz, left DAC ← left, right DAC ← right; bit 7 = 44.1 kHz family (K hw_params); reset 0 (${F.resets})`,
  ifaceA: `${F.bringup}: reg 8 = 0xC0, the codec drives BCLK (0x80) and WCLK (0x40) (K set_dai_fmt); reset 0 (${F.resets})`,
  ifaceB: `${F.bringup}: reg 9 [7:6] 0 = I2S; [5:4] 0/1/2/3 = 16/20/24/32-bit (K set_dai_fmt, hw_params); reset 0 (${F.resets})`,
  ifaceC: `${F.bringup}: reg 10 = 0x00, data offset (K aic3x_prepare); reset 0 (${F.resets})`,
  headset: `${F.headset}: headset detect R13/R14, debounce 16-512 ms (bit layout not among the facts); reset 0 (${F.resets})`,
  pga: `${F.pga}: PGA R15 (L) / R16 (R) [6:0]: 0 .. 59.5 dB in 0.5 dB steps; ${F.bringup}: 15/16 = 0x20, bit 7 = 0 unmuted (K aic3x_init); reset 0x80: bit 7 set, muted (${F.resets})`,
  line1: `${F.bringup}: 19/22 = 0x04, LINE1L / LINE1R into the ADC at 0 dB, ADC powered ([6:3] gain, 0xF = disconnected; bit 2 ADC power) (K aic3x_init, DAPM); reset 0x78: disconnected, ADC off (${F.resets})`,
  micbias: `${F.bringup}: reg 25 = 0x80, MICBIAS 2.5 V (K component_probe + the Seeed overlay's MICBIAS setting 2: [7:6] = 2); reset 0 (${F.resets})`,
  dacPower: `${F.bringup}: reg 37 set 0xC0, left/right DAC power (K DAPM table); reset 0 (${F.resets})`,
  ocm: `${F.bringup}: reg 40 [7:6] = 0-3: 1.35 / 1.5 / 1.65 / 1.8 V, HP output common mode (K configure_ocmv); reset 0: 1.35 V (${F.resets})`,
  dac: `${F.dac}: DAC volume R43 (L) / R44 (R) [6:0] inverted, 0 .. -63.5 dB in 0.5 dB steps; bit 7 mute; ${F.bringup}: 0x80 at init (muted), then bit 7 cleared (K aic3x_init, aic3x_mute); reset 0x80 (${F.resets})`,
  route: `${F.bringup}: 47 / 64 = 0x80, DAC_L1 → HPLOUT, DAC_R1 → HPROUT routed at 0 dB (Linux uses 0xAF = -23.5 dB) (K aic3x_init); reset 0 (${F.resets})`,
  hp: `${F.hp}: headphone output level R51 (HPLOUT) / R65 (HPROUT) [7:4]: 0 .. 9 dB; ${F.bringup}: 51/65 = 0x09, unmute (bit 3) and power (bit 0) (K aic3x_init, DAPM); reset 0x04 (${F.resets}): bit 2 set, which the facts' 0x09 clears (bits 2:1 are not among the facts)`,
  codecClk: `${F.bringup}: reg 101 = 0x01, CODEC_CLK from the clock divider (K hw_params); reset 0 (${F.resets})`,
  clkSrc: `${F.bringup}: reg 102 [7:6] = 0, [5:4] = 0: clock divider and PLL input = MCLK (K set_dai_sysclk); reset 0x02 (${F.resets})`,
  settle: `${F.bringup}: wait 50 ms after power-up`,
  formats: `${F.formats}: 8-96 kHz; S16, S20_3, S24_3, S24, S32; 2 channels (K)`,
  delay: `TI TLV320AIC3104 datasheet (via ${F.latency}): DAC group delay 21/fs, ADC group delay 17/fs`,
};
const NOT_AMONG_FACTS = 'not among the collected facts (codecs/tlv320aic3104/FACTS.md)';

const PAGE0 = 0x000;

/**
 * The one clocking the facts give: the codec is the clock master from the board's 24.576 MHz MCLK,
 * fsref = MCLK / (128 × Q) with the PLL off and Q = 4: 48 kHz. Every other rate needs a Q, a reg 2
 * divider code or PLL values that are not among the facts.
 */
export const CLOCKING = {
  mode: 'master-mclk-24m576',
  mclkHz: 24_576_000,
  q: 4,
  rate: 48000,
  source: `${F.bringup}: reg 3 = 0x20 (PLL off, Q = 4): 24,576,000 / (128 × 4) = 48,000 Hz; the ReSpeaker's MCLK is 24.576 MHz (${F.boards}); ` +
    `other rates need reg 2 divider codes other than 0 or the PLL, whose values are ${NOT_AMONG_FACTS}`,
} as const;

/** The output common modes of reg 40 [7:6] (codec.options.outputCommonMode). */
export const OUTPUT_COMMON_MODES = ['1.35V', '1.5V', '1.65V', '1.8V'] as const;

const WIDTHS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT20_PACKED | SAMPLE_FORMAT.BIT24_PACKED | SAMPLE_FORMAT.BIT24_IN32 | SAMPLE_FORMAT.BIT32;

const DAC_FIELDS: readonly FieldDef[] = [{ name: 'MUTE', bits: 7, doc: '1 = muted (reset)' }, { name: 'VOL', bits: [6, 0], doc: 'attenuation, 0.5 dB per code' }];
const PGA_FIELDS: readonly FieldDef[] = [{ name: 'MUTE', bits: 7, doc: '1 = muted (reset); the power-up clears it' }, { name: 'VOL', bits: [6, 0], doc: 'gain, 0.5 dB per code' }];
const LINE1_FIELDS: readonly FieldDef[] = [
  { name: 'GAIN', bits: [6, 3], values: { '0dB': 0, disconnected: 0xf }, doc: 'LINE1 into the ADC: 0 = 0 dB, 0xF = disconnected (other codes not among the facts)' },
  { name: 'ADC_POWER', bits: 2, doc: 'ADC power' },
];
const HP_FIELDS: readonly FieldDef[] = [
  { name: 'LEVEL', bits: [7, 4], doc: 'output level: 0 = 0 dB, 9 = 9 dB (other codes not among the facts)' },
  { name: 'UNMUTE', bits: 3, doc: '1 = unmuted' },
  { name: 'B2_1', bits: [2, 1], doc: 'not among the facts: the bring-up\'s 0x09 has them 0 (bit 2 resets set)' },
  { name: 'POWER', bits: 0, doc: 'driver power' },
];

const set = (reg: string, fields: Record<string, number | string>, why: string): SequenceStep => ({ op: 'update', reg, fields, why });
const both = (left: string, right: string, fields: Record<string, number | string>, why: string): SequenceStep[] =>
  [set(left, fields, `${why} (left)`), set(right, fields, `${why} (right)`)];

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
      { name: 'RESET', addr: PAGE0 + 1, reset: 0x00, access: 'wo', source: SRC.reset, doc: 'R1: bit 7 = soft reset (clears itself)',
        fields: [{ name: 'SOFT_RESET', bits: 7 }] },
      { name: 'RATE_DIV', addr: PAGE0 + 2, reset: 0x00, source: SRC.rateDiv, doc: 'R2: ADC and DAC sample rate from fsref (0x00 = fsref ÷ 1)' },
      { name: 'PLL_A', addr: PAGE0 + 3, reset: 0x10, source: SRC.pllA, doc: 'R3: PLL enable, Q, P',
        fields: [{ name: 'PLL_EN', bits: 7 }, { name: 'Q', bits: [6, 3] }, { name: 'P', bits: [2, 0] }] },
      { name: 'DATAPATH', addr: PAGE0 + 7, reset: 0x00, source: SRC.datapath, doc: 'R7: fsref and the DAC data paths (0x0A = 48 kHz, left ← left, right ← right)',
        fields: [{ name: 'FS_44K1', bits: 7, doc: '1 = fsref of the 44.1 kHz family' }] },
      { name: 'IFACE_A', addr: PAGE0 + 8, reset: 0x00, source: SRC.ifaceA, doc: 'R8: who drives BCLK and WCLK',
        fields: [{ name: 'BCLK_OUT', bits: 7, doc: '1 = the codec drives BCLK' }, { name: 'WCLK_OUT', bits: 6, doc: '1 = the codec drives WCLK' }] },
      { name: 'IFACE_B', addr: PAGE0 + 9, reset: 0x00, source: SRC.ifaceB, doc: 'R9: data format and word length',
        fields: [{ name: 'FORMAT', bits: [7, 6], values: { I2S: 0 }, doc: '0 = I2S (the only format among the facts)' },
          { name: 'WL', bits: [5, 4], values: { 16: 0, 20: 1, 24: 2, 32: 3 }, doc: 'word length' }] },
      { name: 'IFACE_C', addr: PAGE0 + 10, reset: 0x00, source: SRC.ifaceC, doc: 'R10: data offset' },
      { name: 'HEADSET_DETECT_A', addr: PAGE0 + 13, reset: 0x00, source: SRC.headset, doc: 'R13: headset detect (layout unknown; never written)' },
      { name: 'HEADSET_DETECT_B', addr: PAGE0 + 14, reset: 0x00, source: SRC.headset, doc: 'R14: headset detect (layout unknown; never written)' },
      { name: 'LEFT_PGA_VOL', addr: PAGE0 + 15, reset: 0x80, source: SRC.pga, doc: 'R15: left PGA', fields: PGA_FIELDS },
      { name: 'RIGHT_PGA_VOL', addr: PAGE0 + 16, reset: 0x80, source: SRC.pga, doc: 'R16: right PGA', fields: PGA_FIELDS },
      { name: 'LINE1L_TO_LADC', addr: PAGE0 + 19, reset: 0x78, source: SRC.line1, doc: 'R19: LINE1L into the left ADC, left ADC power', fields: LINE1_FIELDS },
      { name: 'LINE1R_TO_RADC', addr: PAGE0 + 22, reset: 0x78, source: SRC.line1, doc: 'R22: LINE1R into the right ADC, right ADC power', fields: LINE1_FIELDS },
      { name: 'MICBIAS', addr: PAGE0 + 25, reset: 0x00, source: SRC.micbias, doc: 'R25: microphone bias',
        fields: [{ name: 'LEVEL', bits: [7, 6], values: { '2.5V': 2 }, doc: '2 = 2.5 V (the only setting among the facts)' }] },
      { name: 'DAC_POWER', addr: PAGE0 + 37, reset: 0x00, source: SRC.dacPower, doc: 'R37: DAC power',
        fields: [{ name: 'LEFT', bits: 7, doc: 'left DAC power' }, { name: 'RIGHT', bits: 6, doc: 'right DAC power' }] },
      { name: 'HP_OUTPUT_CM', addr: PAGE0 + 40, reset: 0x00, source: SRC.ocm, doc: 'R40: headphone output common mode',
        fields: [{ name: 'OCMV', bits: [7, 6], values: { '1.35V': 0, '1.5V': 1, '1.65V': 2, '1.8V': 3 } }] },
      { name: 'LEFT_DAC_VOL', addr: PAGE0 + 43, reset: 0x80, source: SRC.dac, doc: 'R43', fields: DAC_FIELDS },
      { name: 'RIGHT_DAC_VOL', addr: PAGE0 + 44, reset: 0x80, source: SRC.dac, doc: 'R44', fields: DAC_FIELDS },
      { name: 'DACL1_TO_HPLOUT', addr: PAGE0 + 47, reset: 0x00, source: SRC.route, doc: 'R47: DAC_L1 → HPLOUT (0x80 = routed at 0 dB)',
        fields: [{ name: 'ROUTE', bits: 7 }, { name: 'VOL', bits: [6, 0], doc: 'attenuation (0 = 0 dB; Linux\'s 0x2F = -23.5 dB)' }] },
      { name: 'HPLOUT_CTRL', addr: PAGE0 + 51, reset: 0x04, source: SRC.hp, doc: 'R51: HPLOUT level, mute, power', fields: HP_FIELDS },
      { name: 'DACR1_TO_HPROUT', addr: PAGE0 + 64, reset: 0x00, source: SRC.route, doc: 'R64: DAC_R1 → HPROUT (0x80 = routed at 0 dB)',
        fields: [{ name: 'ROUTE', bits: 7 }, { name: 'VOL', bits: [6, 0], doc: 'attenuation (0 = 0 dB; Linux\'s 0x2F = -23.5 dB)' }] },
      { name: 'HPROUT_CTRL', addr: PAGE0 + 65, reset: 0x04, source: SRC.hp, doc: 'R65: HPROUT level, mute, power', fields: HP_FIELDS },
      { name: 'CODEC_CLK', addr: PAGE0 + 101, reset: 0x00, source: SRC.codecClk, doc: 'R101: CODEC_CLK source (0x01 = the clock divider)' },
      { name: 'CLK_SRC', addr: PAGE0 + 102, reset: 0x02, source: SRC.clkSrc, doc: 'R102: clock divider and PLL inputs',
        fields: [{ name: 'CLKDIV_IN', bits: [7, 6], values: { MCLK: 0 } }, { name: 'PLLCLK_IN', bits: [5, 4], values: { MCLK: 0 } }] },
    ],
  },

  probe: { reg: 'LEFT_DAC_VOL', why: 'the chip answers through its page select' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'LEFT_DAC_VOL', field: 'VOL' }, { reg: 'RIGHT_DAC_VOL', field: 'VOL' }],
      min: 0x00, max: 0x7f, default: 0x00, unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0x7f, db: 0, stepDb: -0.5 }],
      muteField: 'MUTE',
      source: SRC.dac,
    },
    {
      name: 'Headphone Playback Volume', kind: 'volume', direction: 'output',
      channels: [{ reg: 'HPLOUT_CTRL', field: 'LEVEL' }, { reg: 'HPROUT_CTRL', field: 'LEVEL' }],
      min: 0, max: 15, default: 0, unit: 'dB',
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
      min: 0x00, max: 0x7f, default: 0x00, unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0x77, db: 0, stepDb: 0.5 }],
      unknownCodes: [{ from: 0x78, to: 0x7f, why: `codes above 0x77 (59.5 dB) are ${NOT_AMONG_FACTS}` }],
      source: SRC.pga,
    },
  ],

  // The chip's ranges (FACTS: 8-96 kHz, S16, S20_3, S24_3, S24, S32, stereo); the driver offers the
  // rate the facts' clocking makes (CLOCKING: 48 kHz), one rate for playback and capture.
  formats: (['output', 'input'] as const).flatMap((direction) => [
    { direction, source: SRC.formats,
      range: { sampleFormats: WIDTHS, minFps: 8000, maxFps: 96000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction, source: SRC.formats,
      range: { sampleFormats: WIDTHS, minFps: 11025, maxFps: 88200, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ]),

  clocks: {
    mclk: { value: 'required', source: `${F.bringup}: reg 102 clock divider input = MCLK, a 24.576 MHz MCLK on the board (${F.boards})` },
    notes: [
      { text: 'the codec is the I2S clock master: it drives BCLK and WCLK (reg 8 = 0xC0); the host (the Pi) is the clock consumer', source: SRC.ifaceA },
      { text: 'fsref = MCLK / (128 × Q) with the PLL off: 24.576 MHz, Q = 4 → 48 kHz, the only rate among the facts', source: CLOCKING.source },
      { text: 'the clocks are set up in setFormat, before the host\'s PCM starts (the PCM runs from them)', source: SRC.ifaceA },
    ],
  },

  options: {
    outputCommonMode: `the headphone output common mode (reg 40 [7:6]): "1.35V", "1.5V", "1.65V" or "1.8V". K picks it from the board's supplies (AVDD, DRVDD), which are ${NOT_AMONG_FACTS} for the ReSpeaker 2-Mic v2: without the option reg 40 stays at its reset 1.35 V, and the step is recorded as unknown`,
    groupDelay: 'a delay figure the facts lack: { "frames": N } or { "ns": N } with "source"',
  },

  sequences: {
    init: [
      { op: 'write', reg: 'RESET', value: 0x80, why: 'soft reset (reg 1 = 0x80)' },
      { op: 'hook', name: 'registers-reset', why: 'the chip holds its reset defaults now: the register cache starts over from them' },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC mute bits (R43/R44 = 0x80) until power-up' },
      { op: 'set-gain', control: 'Digital Playback Volume', db: 0, why: 'stream gain 0 dB, written on release' },
      { op: 'set-gain', control: 'Headphone Playback Volume', db: 0, why: 'headphone level 0 dB (R51/R65 [7:4] = 0)' },
      { op: 'set-gain', control: 'PGA Capture Volume', db: 16, why: 'PGA 0x20 (16 dB), as the bring-up sets it; still muted (bit 7) until power-up' },
      { op: 'write', reg: 'DACL1_TO_HPLOUT', value: 0x80, why: 'DAC_L1 → HPLOUT at 0 dB (R47 = 0x80)' },
      { op: 'write', reg: 'DACR1_TO_HPROUT', value: 0x80, why: 'DAC_R1 → HPROUT at 0 dB (R64 = 0x80)' },
      ...both('LINE1L_TO_LADC', 'LINE1R_TO_RADC', { GAIN: '0dB' }, 'LINE1 into the ADC at 0 dB (R19/R22 [6:3] = 0; the ADC powers up with the codec)'),
      { op: 'hook', name: 'output-common-mode', why: 'reg 40 [7:6] as codec.options.outputCommonMode says: sub-sequence "output-common-mode:<V>", else unknown' },
    ],
    powerUp: [
      set('DAC_POWER', { LEFT: 1, RIGHT: 1 }, 'left and right DAC on (R37 ⊇ 0xC0)'),
      ...both('HPLOUT_CTRL', 'HPROUT_CTRL', { UNMUTE: 1, B2_1: 0, POWER: 1 }, 'headphone driver powered and unmuted (R51/R65 = 0x09 at 0 dB)'),
      ...both('LINE1L_TO_LADC', 'LINE1R_TO_RADC', { ADC_POWER: 1 }, 'ADC on (R19/R22 = 0x04)'),
      set('MICBIAS', { LEVEL: '2.5V' }, 'MICBIAS 2.5 V (R25 = 0x80)'),
      ...both('LEFT_PGA_VOL', 'RIGHT_PGA_VOL', { MUTE: 0 }, 'PGA unmuted (R15/R16 bit 7, set at reset)'),
      { op: 'delay', ms: 50, source: SRC.settle, why: 'the outputs settle before the DAC is unmuted' },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'DAC mute bits clear: the stream gain back' },
    ],
    powerDown: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'DAC mute bits set first' },
      ...both('LEFT_PGA_VOL', 'RIGHT_PGA_VOL', { MUTE: 1 }, 'PGA muted'),
      ...both('HPLOUT_CTRL', 'HPROUT_CTRL', { UNMUTE: 0, POWER: 0 }, 'headphone driver muted and off'),
      set('DAC_POWER', { LEFT: 0, RIGHT: 0 }, 'DACs off'),
      ...both('LINE1L_TO_LADC', 'LINE1R_TO_RADC', { ADC_POWER: 0 }, 'ADC off'),
      { op: 'write', reg: 'MICBIAS', value: 0x00, why: 'MICBIAS back to its reset value (R25 = 0x00)' },
    ],
  },

  subSequences: {
    // setFormat: the codec as clock master from MCLK (FACTS: bring-up), then the interface.
    format: [
      set('CLK_SRC', { CLKDIV_IN: 'MCLK', PLLCLK_IN: 'MCLK' }, 'clock divider and PLL input = MCLK (R102 [7:4] = 0)'),
      { op: 'write', reg: 'PLL_A', value: 0x20, why: 'PLL off, Q = 4 (R3 = 0x20): fsref = 24.576 MHz / 512 = 48 kHz' },
      { op: 'write', reg: 'CODEC_CLK', value: 0x01, why: 'CODEC_CLK from the clock divider (R101 = 0x01)' },
      { op: 'write', reg: 'DATAPATH', value: 0x0a, why: 'fsref 48 kHz, left DAC ← left, right DAC ← right (R7 = 0x0A)' },
      { op: 'write', reg: 'RATE_DIV', value: 0x00, why: 'ADC and DAC at fsref ÷ 1 (R2 = 0x00)' },
      { op: 'write', reg: 'IFACE_A', value: 0xc0, why: 'the codec drives BCLK and WCLK (R8 = 0xC0): its clocks run from here' },
      { op: 'hook', name: 'word-length', why: 'R9: I2S ([7:6] = 0) and the stream\'s word length ([5:4] = 0/1/2/3 for 16/20/24/32-bit)' },
      { op: 'write', reg: 'IFACE_C', value: 0x00, why: 'no data offset (R10 = 0x00)' },
    ],
    // init, codec.options.outputCommonMode (FACTS: reg 40 [7:6])
    ...Object.fromEntries(OUTPUT_COMMON_MODES.map((v) => [`output-common-mode:${v}`, [set('HP_OUTPUT_CM', { OCMV: v }, `HP output common mode ${v} (R40 [7:6])`)]])),
    'output-common-mode:unknown': [
      { op: 'unknown', what: 'set the headphone output common mode (R40 [7:6])', why: `the board's supplies, from which K picks it, are ${NOT_AMONG_FACTS}: R40 stays at its reset 1.35 V (a board file may name it as codec.options.outputCommonMode)` },
    ],
  },

  latency: {
    output: { what: 'DAC group delay', defaultMode: 'default', modes: { default: { frames: 21, source: SRC.delay } } },
    input: { what: 'ADC group delay', defaultMode: 'default', modes: { default: { frames: 17, source: SRC.delay } } },
  },
};
