/**
 * TI PCM5122 (PCM512x family): stereo DAC with I2C control, paged registers.
 *
 * Every figure below is one of the facts in codecs/pcm5122/FACTS.md, which names its origin:
 * TI-5122 = TI PCM5121/5122 datasheet ZHCSAC2C; K = Linux sound/soc/codecs/pcm512x.c/.h; R = the
 * Raspberry Pi machine drivers (hifiberry_dacplus.c). Figures that are not among those facts are
 * 'unknown'; registers whose meaning the facts do not give are declared by number (P0_R7 ...) only
 * because the facts list their reset default or say they are volatile.
 *
 * The bring-up (codecs/pcm5122/FACTS.md#bring-up-as-clock-slave): init resets the chip, puts it in
 * standby and soft mute, and sets up the board's clocking mode (codec.options.clocking, a
 * sub-sequence per mode); setFormat writes the format and word length (and, as clock master, picks
 * the oscillator and the dividers for the stream); powerUp leaves standby, which needs BCK running
 * (the PCM starts before power-up), and unmutes last; powerDown mutes, waits for the analog mute
 * detect and goes to standby.
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription, SequenceStep } from '../../src/codec/description.ts';
import type { RegisterDef } from '../../src/codec/regmap.ts';
import type { FormatRange } from '../../src/codec/types.ts';

const FACTS = 'codecs/pcm5122/FACTS.md';
const F = {
  pages: 'codecs/pcm5122/FACTS.md#bus-and-pages',
  volume: 'codecs/pcm5122/FACTS.md#volume',
  gain: 'codecs/pcm5122/FACTS.md#analog-gain',
  standby: 'codecs/pcm5122/FACTS.md#mute-and-standby',
  formats: 'codecs/pcm5122/FACTS.md#formats-and-rates',
  filters: 'codecs/pcm5122/FACTS.md#filters',
  latency: 'codecs/pcm5122/FACTS.md#latency',
  pop: 'codecs/pcm5122/FACTS.md#pop',
  slave: 'codecs/pcm5122/FACTS.md#bring-up-as-clock-slave',
  resets: 'codecs/pcm5122/FACTS.md#reset-defaults',
  master: 'codecs/pcm5122/FACTS.md#clock-master-hifiberry-dac-pro',
} as const;
const SRC = {
  page: `${F.pages}: page select reg 0 (0x100 window), pages 0, 1, 44 (K: pcm512x.h)`,
  reset: `${F.slave}: page 0 reg 1, reset modules (bit 4) and registers (bit 0), 0x11 then 0x00 (K pcm512x_probe); reset default ${F.resets}`,
  power: `${F.standby}: page 0 reg 2 standby RQST bit 4, powerdown RQPD bit 0 (K: pcm512x.h); reset default ${F.resets}`,
  mute: `${F.standby}: page 0 reg 3 mute RQML bit 4, RQMR bit 0 (K: pcm512x.h); reset default ${F.resets}`,
  pll: `${F.master}: page 0 reg 4 bit 0 = 0, PLL off (R + K); volatile: ${F.resets}`,
  gpioEn: `${F.master}: page 0 reg 8, GPIO3 (bit 2) and GPIO6 (bit 5) outputs select the oscillators, GPIO4 (bit 3) the LED (R + K); reset default not among the facts`,
  gpioSel: `${F.master}: page 0 regs 82 (GPIO3), 83 (GPIO4), 85 (GPIO6) [3:0] = 0x2, the GPIO driven from a register (R + K); reset default not among the facts`,
  gpioOut: `${F.master}: page 0 reg 86, GPIO outputs: under mask 0x24, 0x04 = 24.576 MHz (GPIO3), 0x20 = 22.5792 MHz (GPIO6), 0 = none; bit 3 the LED (GPIO4) (R + K); reset default not among the facts`,
  dir: `${F.slave}: page 0 reg 9, BCKP bit 5, BCKO bit 4, LRKO bit 0: inputs = 0 (K pcm512x_set_fmt); master: under mask 0x31 = 0x11 (${F.master}); reset default ${F.resets}`,
  masterDiv: `${F.slave}: page 0 reg 12 [1:0] = 0, master-mode dividers held in reset (K pcm512x_set_fmt); master: under mask 0x03 = 0x03 (${F.master}); reset default ${F.resets}`,
  pllRef: `${F.slave}: page 0 reg 13 [6:4], PLL reference 0 SCK, 1 BCK, 3 GPIO (K dai_startup_slave; pcm512x.h); reset default ${F.resets}`,
  dacClk: `${F.master}: page 0 reg 14 = 0x30, DAC clock from SCK (R + K); reset default ${F.resets}`,
  sync: `${F.resets}: page 0 reg 19 bit 0 halts the clocks; ${F.master}: reg 19 = 1 (halt), then 0 (resume) around the divider writes; reset default 0x10`,
  divider: (what: string) => `${F.master}: page 0 ${what} (derived: the divider is the register value + 1, from the facts' pairs 0 = ÷1, 3 = ÷4, 7 = ÷8, 15 = ÷16, 31 = ÷32); reset default ${F.resets}`,
  speed: `${F.master}: page 0 reg 34 = 0, 48 kHz speed mode; ${F.resets}: reg 34 [1:0] = speed mode; reset default 0x00`,
  idac: `${F.master}: page 0 regs 35/36 = 0x02/0x00, IDAC 512 (derived); reset defaults 0x01/0x00 (${F.resets})`,
  detect: `${F.slave}: page 0 reg 37, set bit 3 (ignore missing SCK), bit 1 = 0 (automatic dividers) (K dai_startup_slave, hw_params); master: [6:0] = 0x7B (${F.master}); reset default ${F.resets}`,
  format: `${F.slave}: page 0 reg 40 [5:4] 0 = I2S (1 DSP, 2 RJ, 3 LJ), [1:0] 0/1/2/3 = 16/20/24/32-bit (K set_fmt, hw_params; pcm512x.h); reset default 0x02 (24-bit) (${F.resets})`,
  offset: `${F.slave}: page 0 reg 41 = 0x00, data offset (K set_fmt); reset default ${F.resets}`,
  filter: `${F.filters}: page 0 reg 43 filter select 1 normal, 2 low-latency, 3 high-attenuation, 5 fixed flow, 7 asymmetric (K); reset default 0x01 (${F.resets})`,
  link: `${F.volume}: page 0 reg 60 [1:0] L/R volume link (K: pcm512x.h); reset default ${F.resets}`,
  volume: `${F.volume}: page 0 reg 61 (L) / 62 (R): 0x00 = +24 dB, 0x30 = 0 dB, 0xFE = -103 dB, 0xFF = mute, 0.5 dB steps (K: TLV -10350, 50, mute); reset default 0x30 (${F.resets})`,
  sck: `${F.master}: page 0 reg 94 bit 6 = SCK missing: 1 with no oscillator selected, 0 with one (R + K); volatile: ${F.resets}`,
  amd: `${F.pop}: page 0 reg 108 ANALOG_MUTE_DET, polled up to 10 ms before stopping clocks; bits [1:0] read 0 when both channels are in analog mute (K: pcm512x.c digital-mute poll condition, 200 µs interval); volatile: ${F.resets}`,
  again: `${F.gain}: page 1 reg 2 analog gain 0 / -6 dB (bit layout not among the facts); reset default ${F.resets}`,
  boost: `${F.gain}: page 1 reg 7 analog gain boost 0 / +0.8 dB (bit layout not among the facts); reset default ${F.resets}`,
  listed: `${F.resets}: reset default from K pcm512x_reg_defaults; what the register does is not among the facts`,
  volatile: `${F.resets}: volatile (K: the regmap's volatile registers); what it does and its reset value are not among the facts`,
  formats: `${F.formats}: 8-384 kHz; 16/20/24/32-bit; I2S/RJ/LJ/DSP_A/B; stereo (left/right volume registers)`,
  masterFormats: `${F.master}: dividers are given (derived) for SCK 24.576 MHz at 48 kHz with 32 BCK per frame (16-bit words) and 64 (32-bit words), and the same ratios from 22.5792 MHz at 44.1 kHz (derived); other rates and widths as clock master are not among the facts`,
  delay: `TI-5122 (via ${F.latency}): DAC group delay normal filter 20/fs, low-latency filter 3.5/fs`,
  settle: `${F.master}: wait 3-4 ms for the selected oscillator to settle (the upper end is waited)`,
};
const UNKNOWN = 'unknown' as const; // not among codecs/pcm5122/FACTS.md's reset defaults

const PAGE0 = 0x000;
const PAGE1 = 0x100;

const FORMATS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT20_IN32 | SAMPLE_FORMAT.BIT24_IN32 | SAMPLE_FORMAT.BIT32;

/** Registers the facts list a reset default for but do not explain: by number. */
const listed = (page: number, reg: number, reset: number): RegisterDef =>
  ({ name: `P${page}_R${reg}`, addr: page * 0x100 + reg, reset, source: SRC.listed });
/** Registers the facts list as volatile but do not explain: by number. */
const volatile = (page: number, reg: number): RegisterDef =>
  ({ name: `P${page}_R${reg}`, addr: page * 0x100 + reg, reset: UNKNOWN, volatile: true, source: SRC.volatile });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The clocking modes a board chooses with codec.options.clocking; the first is the default. */
export const CLOCKING_MODES = ['slave-bck-pll', 'master-oscillators'] as const;
export type ClockingMode = (typeof CLOCKING_MODES)[number];

/**
 * The DAC+ Pro as clock master (codecs/pcm5122/FACTS.md#clock-master-hifiberry-dac-pro): the
 * oscillator sub-sequence per rate, the divider sub-sequence per word length, and the format
 * ranges those cover (the facts give dividers for nothing else).
 */
export const MASTER = {
  oscillatorForRate: { 48000: 'oscillator:24.576MHz', 44100: 'oscillator:22.5792MHz' } as Readonly<Record<number, string>>,
  dividersForBits: { 16: 'dividers:32-bck', 32: 'dividers:64-bck' } as Readonly<Record<number, string>>,
  formats: [
    { sampleFormats: SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT32, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY },
    { sampleFormats: SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT32, minFps: 44100, maxFps: 44100, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY },
  ] as readonly FormatRange[],
  source: SRC.masterFormats,
};

/** Master-mode dividers for SCK = 512 fs (FACTS.md, derived): reg 32 and 33 set the BCK per frame. */
function dividers(bckDiv: number, lrckDiv: number, what: string): SequenceStep[] {
  return [
    { op: 'write', reg: 'CLOCK_SYNC', value: 0x01, why: 'halt the clocks while the dividers change' },
    { op: 'write', reg: 'DSP_DIV', value: 0, why: 'DSP clock = SCK ÷ 1 (derived)' },
    { op: 'write', reg: 'DAC_DIV', value: 3, why: 'DAC clock = SCK ÷ 4 (derived)' },
    { op: 'write', reg: 'NCP_DIV', value: 3, why: 'NCP clock = DAC clock ÷ 4 (derived)' },
    { op: 'write', reg: 'OSR_DIV', value: 7, why: 'OSR ÷ 8 (derived)' },
    { op: 'write', reg: 'BCK_DIV', value: bckDiv, why: `BCK = SCK ÷ ${bckDiv + 1} (derived; ${what})` },
    { op: 'write', reg: 'LRCK_DIV', value: lrckDiv, why: `LRCK = BCK ÷ ${lrckDiv + 1}: ${lrckDiv + 1} BCK per frame (derived; ${what})` },
    { op: 'write', reg: 'IDAC_HI', value: 0x02, why: 'IDAC 512 (derived)' },
    { op: 'write', reg: 'IDAC_LO', value: 0x00, why: 'IDAC 512 (derived)' },
    { op: 'write', reg: 'FS_SPEED_MODE', value: 0, why: '48 kHz speed mode (the 44.1 kHz family uses the same, derived)' },
    { op: 'write', reg: 'CLOCK_SYNC', value: 0x00, why: 'resume the clocks' },
  ];
}

/** Selects one oscillator (or none) through GPIO3 / GPIO6, then waits for it to settle. */
function oscillator(gpio3: 0 | 1, gpio6: 0 | 1, what: string): SequenceStep[] {
  return [
    { op: 'update', reg: 'GPIO_OUTPUT', fields: { GPIO3: gpio3, GPIO6: gpio6 }, why: what },
    { op: 'delay', ms: 4, source: SRC.settle, why: 'the oscillator settles' },
  ];
}

export const description: CodecDescription = {
  meta: {
    id: 'pcm5122',
    name: 'PCM5122 stereo DAC',
    vendor: 'Texas Instruments',
    datasheet: 'TI PCM5121/PCM5122 datasheet ZHCSAC2C (figures via codecs/pcm5122/FACTS.md)',
  },

  regmap: {
    addrBits: 8,
    valueBits: 8,
    paging: { selectReg: 0x00, pageSize: 0x100, pages: [0, 1, 44], source: SRC.page },
    source: FACTS,
    registers: [
      // page 0
      { name: 'RESET', addr: PAGE0 + 1, reset: 0x00, source: SRC.reset,
        fields: [{ name: 'RSTM', bits: 4, doc: 'reset modules' }, { name: 'RSTR', bits: 0, doc: 'reset registers' }] },
      { name: 'POWER', addr: PAGE0 + 2, reset: 0x00, source: SRC.power,
        fields: [{ name: 'RQST', bits: 4, doc: 'standby request' }, { name: 'RQPD', bits: 0, doc: 'powerdown request' }] },
      { name: 'MUTE', addr: PAGE0 + 3, reset: 0x00, source: SRC.mute,
        fields: [{ name: 'RQML', bits: 4, doc: 'soft mute left' }, { name: 'RQMR', bits: 0, doc: 'soft mute right' }] },
      { name: 'PLL_CTRL', addr: PAGE0 + 4, reset: UNKNOWN, volatile: true, source: SRC.pll,
        fields: [{ name: 'PLLE', bits: 0, doc: 'PLL on' }] },
      listed(0, 7, 0x00),
      { name: 'GPIO_EN', addr: PAGE0 + 8, reset: UNKNOWN, source: SRC.gpioEn,
        fields: [{ name: 'GPIO6', bits: 5, doc: 'GPIO6 output (22.5792 MHz oscillator on the DAC+ Pro)' },
          { name: 'GPIO4', bits: 3, doc: 'GPIO4 output (the LED)' }, { name: 'GPIO3', bits: 2, doc: 'GPIO3 output (24.576 MHz oscillator on the DAC+ Pro)' }] },
      { name: 'BCK_LRCK_CFG', addr: PAGE0 + 9, reset: 0x00, source: SRC.dir,
        fields: [{ name: 'BCKP', bits: 5, doc: 'BCK polarity (0 normal)' }, { name: 'BCKO', bits: 4, doc: 'BCK output (master)' },
          { name: 'LRKO', bits: 0, doc: 'LRCK output (master)' }] },
      { name: 'MASTER_MODE', addr: PAGE0 + 12, reset: 0x7c, source: SRC.masterDiv,
        fields: [{ name: 'DIVIDERS', bits: [1, 0], values: { held: 0, running: 3 }, doc: 'master-mode BCK/LRCK dividers: 0 held in reset (slave), 3 running (master)' }] },
      { name: 'PLL_REF', addr: PAGE0 + 13, reset: 0x00, source: SRC.pllRef,
        fields: [{ name: 'SREF', bits: [6, 4], values: { SCK: 0, BCK: 1, GPIO: 3 }, doc: 'PLL reference' }] },
      { name: 'DAC_CLK_SRC', addr: PAGE0 + 14, reset: 0x00, source: SRC.dacClk, doc: '0x30 = DAC clock from SCK (no other code among the facts)' },
      listed(0, 16, 0x00),
      listed(0, 18, 0x00),
      { name: 'CLOCK_SYNC', addr: PAGE0 + 19, reset: 0x10, source: SRC.sync,
        fields: [{ name: 'HALT', bits: 0, doc: 'halt the clocks' }] },
      ...range(20, 24).map((r) => listed(0, r, 0x00)),
      { name: 'DSP_DIV', addr: PAGE0 + 27, reset: 0x00, source: SRC.divider('reg 27: DSP clock divider') },
      { name: 'DAC_DIV', addr: PAGE0 + 28, reset: 0x00, source: SRC.divider('reg 28: DAC clock divider') },
      { name: 'NCP_DIV', addr: PAGE0 + 29, reset: 0x00, source: SRC.divider('reg 29: NCP clock divider') },
      { name: 'OSR_DIV', addr: PAGE0 + 30, reset: 0x00, source: SRC.divider('reg 30: OSR divider') },
      { name: 'BCK_DIV', addr: PAGE0 + 32, reset: 0x00, source: SRC.divider('reg 32: master BCK = SCK ÷ (n + 1)') },
      { name: 'LRCK_DIV', addr: PAGE0 + 33, reset: 0x00, source: SRC.divider('reg 33: master LRCK = BCK ÷ (n + 1)') },
      { name: 'FS_SPEED_MODE', addr: PAGE0 + 34, reset: 0x00, source: SRC.speed,
        fields: [{ name: 'MODE', bits: [1, 0], doc: 'speed mode (0 = 48 kHz)' }] },
      { name: 'IDAC_HI', addr: PAGE0 + 35, reset: 0x01, source: SRC.idac },
      { name: 'IDAC_LO', addr: PAGE0 + 36, reset: 0x00, source: SRC.idac },
      { name: 'ERROR_DETECT', addr: PAGE0 + 37, reset: 0x00, source: SRC.detect,
        fields: [{ name: 'IGNORE_MISSING_SCK', bits: 3, doc: 'ignore a missing SCK' }, { name: 'MANUAL_DIVIDERS', bits: 1, doc: '0 = the chip sets its own dividers' }] },
      { name: 'I2S_FORMAT', addr: PAGE0 + 40, reset: 0x02, source: SRC.format,
        fields: [{ name: 'AFMT', bits: [5, 4], values: { I2S: 0, DSP: 1, RJ: 2, LJ: 3 }, doc: 'audio format' },
          { name: 'ALEN', bits: [1, 0], values: { 16: 0, 20: 1, 24: 2, 32: 3 }, doc: 'word length' }] },
      { name: 'DATA_OFFSET', addr: PAGE0 + 41, reset: 0x00, source: SRC.offset },
      listed(0, 42, 0x11),
      { name: 'DSP_PROGRAM', addr: PAGE0 + 43, reset: 0x01, source: SRC.filter,
        doc: 'digital filter: 1 normal, 2 low-latency, 3 high-attenuation, 5 fixed flow, 7 asymmetric' },
      listed(0, 44, 0x00),
      listed(0, 59, 0x00),
      { name: 'DIGITAL_VOLUME_CTRL', addr: PAGE0 + 60, reset: 0x00, source: SRC.link,
        fields: [{ name: 'LINK', bits: [1, 0], doc: 'left/right volume link (value meanings not among the facts)' }] },
      { name: 'DIGITAL_VOLUME_L', addr: PAGE0 + 61, reset: 0x30, source: SRC.volume },
      { name: 'DIGITAL_VOLUME_R', addr: PAGE0 + 62, reset: 0x30, source: SRC.volume },
      listed(0, 63, 0x22),
      listed(0, 64, 0x00),
      listed(0, 65, 0x07),
      { name: 'GPIO3_OUTPUT', addr: PAGE0 + 82, reset: UNKNOWN, source: SRC.gpioSel,
        fields: [{ name: 'SEL', bits: [3, 0], values: { register: 0x2 }, doc: 'GPIO3 output source (0x2: a register)' }] },
      { name: 'GPIO4_OUTPUT', addr: PAGE0 + 83, reset: UNKNOWN, source: SRC.gpioSel,
        fields: [{ name: 'SEL', bits: [3, 0], values: { register: 0x2 }, doc: 'GPIO4 output source (0x2: a register)' }] },
      { name: 'GPIO6_OUTPUT', addr: PAGE0 + 85, reset: UNKNOWN, source: SRC.gpioSel,
        fields: [{ name: 'SEL', bits: [3, 0], values: { register: 0x2 }, doc: 'GPIO6 output source (0x2: a register)' }] },
      { name: 'GPIO_OUTPUT', addr: PAGE0 + 86, reset: UNKNOWN, source: SRC.gpioOut,
        fields: [{ name: 'GPIO6', bits: 5, doc: '22.5792 MHz oscillator (DAC+ Pro)' }, { name: 'GPIO4', bits: 3, doc: 'the LED' },
          { name: 'GPIO3', bits: 2, doc: '24.576 MHz oscillator (DAC+ Pro)' }] },
      ...[90, 91, 92, 93].map((r) => volatile(0, r)),
      { name: 'CLOCK_STATUS', addr: PAGE0 + 94, reset: UNKNOWN, volatile: true, source: SRC.sck,
        fields: [{ name: 'SCK_MISSING', bits: 6, readOnly: true, doc: '1 = SCK missing' }] },
      volatile(0, 95),
      { name: 'ANALOG_MUTE_DET', addr: PAGE0 + 108, reset: UNKNOWN, access: 'ro', volatile: true, source: SRC.amd,
        fields: [{ name: 'ACTIVE', bits: [1, 0], doc: '0 = both channels in analog mute' }] },
      volatile(0, 119),
      volatile(0, 120),
      // page 1
      listed(1, 1, 0x00),
      { name: 'ANALOG_GAIN_CTRL', addr: PAGE1 + 2, reset: 0x00, source: SRC.again },
      listed(1, 5, 0x00),
      listed(1, 6, 0x00),
      { name: 'ANALOG_GAIN_BOOST', addr: PAGE1 + 7, reset: 0x00, source: SRC.boost },
      listed(1, 8, 0x00),
      listed(1, 9, 0x01),
      // page 44
      volatile(44, 1),
    ],
  },

  probe: { reg: 'ANALOG_MUTE_DET', alsoReads: ['ANALOG_GAIN_CTRL'], why: 'a page 0 then a page 1 register: the chip answers and its page select works' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'DIGITAL_VOLUME_L' }, { reg: 'DIGITAL_VOLUME_R' }],
      min: 0x00, max: 0xff, default: 0x30, unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0xfe, db: 24, stepDb: -0.5 }],
      muteCodes: [0xff],
      source: SRC.volume,
    },
    {
      name: 'DSP Program', kind: 'enum', direction: 'output',
      channels: [{ reg: 'DSP_PROGRAM' }],
      min: 1, max: 7, default: 1, unit: 'none',
      values: { normal: 1, 'low-latency': 2, 'high-attenuation': 3, 'fixed-flow': 5, asymmetric: 7 },
      source: SRC.filter,
    },
  ],

  formats: [
    { direction: 'output', source: SRC.formats,
      range: { sampleFormats: FORMATS, minFps: 8000, maxFps: 384000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction: 'output', source: SRC.formats,
      range: { sampleFormats: FORMATS, minFps: 11025, maxFps: 176400, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ],

  clocks: {
    mclk: { unknown: 'no SCK with the Pi as clock master (the PLL runs from BCK); as clock master (DAC+ Pro) the SCK comes from the board\'s oscillators, which the chip selects itself' },
    notes: [
      { text: 'clocks must keep running until the analog mute detect shows both channels muted', source: F.pop },
      { text: 'as clock slave the PLL runs from BCK (reg 13 = 0x10), ignoring the missing SCK (reg 37 bit 3): BCK must run before standby is left', source: F.slave },
      { text: 'as clock master (DAC+ Pro) SCK is a 24.576 MHz (48 kHz family) or 22.5792 MHz (44.1 kHz family) oscillator selected through GPIO3/GPIO6', source: F.master },
    ],
  },

  options: {
    filter: 'DAC filter: normal (default), low-latency, high-attenuation, fixed-flow, asymmetric',
    clocking: 'slave-bck-pll (default: the Pi drives BCK/LRCK, the PLL runs from BCK; DAC+ standard, IQaudio DAC+, Pro in slave mode) or master-oscillators (DAC+ Pro: the PCM5122 drives BCK/LRCK from the oscillator it selects)',
    led: 'true: the LED on the PCM5122\'s GPIO4 (DAC+ Pro) is lit while the codec is powered up',
  },

  sequences: {
    init: [
      { op: 'write', reg: 'RESET', value: 0x11, why: 'reset modules (bit 4) and registers (bit 0)' },
      { op: 'write', reg: 'RESET', value: 0x00, why: 'release the reset' },
      { op: 'hook', name: 'registers-reset', why: 'the chip holds its reset defaults now: the register cache starts over from them' },
      { op: 'write', reg: 'POWER', value: 0x10, why: 'standby (RQST) while configuring' },
      { op: 'update', reg: 'MUTE', fields: { RQML: 1, RQMR: 1 }, why: 'soft mute until power-up' },
      { op: 'hook', name: 'filter', why: 'DSP_PROGRAM from codec.options.filter' },
      { op: 'write', reg: 'DIGITAL_VOLUME_L', value: 0x30, why: '0 dB' },
      { op: 'write', reg: 'DIGITAL_VOLUME_R', value: 0x30, why: '0 dB' },
      { op: 'hook', name: 'clocking', why: 'the clocking mode of codec.options.clocking: sub-sequence "clocking:<mode>"' },
      { op: 'hook', name: 'led-setup', why: 'with codec.options.led: GPIO4 an output driven from a register, the LED off' },
    ],
    powerUp: [
      { op: 'hook', name: 'led-on', why: 'with codec.options.led' },
      { op: 'update', reg: 'POWER', fields: { RQST: 0, RQPD: 0 }, why: 'leave standby: BCK runs now (the PCM started before power-up; as clock master the chip\'s own clocks run)' },
      { op: 'update', reg: 'MUTE', fields: { RQML: 0, RQMR: 0 }, why: 'unmute, last' },
    ],
    powerDown: [
      { op: 'update', reg: 'MUTE', fields: { RQML: 1, RQMR: 1 }, why: 'soft mute' },
      { op: 'poll', reg: 'ANALOG_MUTE_DET', field: 'ACTIVE', equals: 0, timeoutMs: 10, intervalMs: 0.2, onTimeout: 'continue',
        source: SRC.amd, why: 'the soft mute must have settled before the clocks stop' },
      { op: 'update', reg: 'POWER', fields: { RQST: 1 }, why: 'standby: the clocks may stop now' },
      { op: 'hook', name: 'led-off', why: 'with codec.options.led' },
    ],
  },

  subSequences: {
    // init, codec.options.clocking = slave-bck-pll (FACTS.md, "Bring-up as clock slave")
    'clocking:slave-bck-pll': [
      { op: 'update', reg: 'BCK_LRCK_CFG', fields: { BCKP: 0, BCKO: 0, LRKO: 0 }, why: 'BCK and LRCK are inputs, normal BCK polarity' },
      { op: 'update', reg: 'MASTER_MODE', fields: { DIVIDERS: 'held' }, why: 'master-mode dividers held in reset' },
      { op: 'update', reg: 'ERROR_DETECT', fields: { IGNORE_MISSING_SCK: 1, MANUAL_DIVIDERS: 0 }, why: 'no SCK on the board: ignore it; the chip sets its own dividers' },
      { op: 'update', reg: 'PLL_REF', fields: { SREF: 'BCK' }, why: 'the PLL runs from BCK (0x10)' },
    ],
    // init, codec.options.clocking = master-oscillators (FACTS.md, "Clock master (HiFiBerry DAC+ Pro)")
    'clocking:master-oscillators': [
      { op: 'hook', name: 'detect-pro', why: 'an oscillator answers on GPIO3 (page 0 reg 94 bit 6), else the board is no DAC+ Pro' },
      { op: 'update', reg: 'BCK_LRCK_CFG', fields: { BCKP: 0, BCKO: 1, LRKO: 1 }, why: 'BCK and LRCK are outputs (under mask 0x31: 0x11)' },
      { op: 'update', reg: 'MASTER_MODE', fields: { DIVIDERS: 'running' }, why: 'master-mode dividers running (under mask 0x03: 0x03)' },
      { op: 'write', reg: 'ERROR_DETECT', value: 0x7b, why: 'ignore clock errors, manual dividers' },
      { op: 'update', reg: 'PLL_CTRL', fields: { PLLE: 0 }, why: 'no PLL' },
      { op: 'write', reg: 'DAC_CLK_SRC', value: 0x30, why: 'the DAC clock from SCK' },
    ],
    // Pro detection and oscillator selection through the PCM5122's own GPIOs
    'oscillator-gpios': [
      { op: 'update', reg: 'GPIO_EN', fields: { GPIO3: 1, GPIO6: 1 }, why: 'GPIO3 and GPIO6 outputs (set bits 0x24)' },
      { op: 'update', reg: 'GPIO3_OUTPUT', fields: { SEL: 'register' }, why: 'GPIO3 driven from reg 86' },
      { op: 'update', reg: 'GPIO6_OUTPUT', fields: { SEL: 'register' }, why: 'GPIO6 driven from reg 86' },
    ],
    'oscillator:none': oscillator(0, 0, 'no oscillator (reg 86 under mask 0x24: 0)'),
    'oscillator:24.576MHz': oscillator(1, 0, 'the 24.576 MHz oscillator, 48 kHz family (reg 86 under mask 0x24: 0x04)'),
    'oscillator:22.5792MHz': oscillator(0, 1, 'the 22.5792 MHz oscillator, 44.1 kHz family (reg 86 under mask 0x24: 0x20)'),
    // setFormat
    format: [
      { op: 'update', reg: 'I2S_FORMAT', fields: { AFMT: 'I2S' }, why: 'I2S' },
      { op: 'hook', name: 'word-length', why: 'I2S_FORMAT.ALEN from the stream\'s word length (16/20/24/32-bit = 0/1/2/3)' },
      { op: 'write', reg: 'DATA_OFFSET', value: 0x00, why: 'no data offset' },
    ],
    // setFormat as clock master: SCK = 512 fs
    'dividers:32-bck': dividers(15, 31, '16-bit words, 32 BCK per frame'),
    'dividers:64-bck': dividers(7, 63, '32-bit words, 64 BCK per frame'),
    // codec.options.led (FACTS.md: LED on the PCM5122's GPIO4)
    'led:setup': [
      { op: 'update', reg: 'GPIO_EN', fields: { GPIO4: 1 }, why: 'GPIO4 output (bit 3)' },
      { op: 'write', reg: 'GPIO4_OUTPUT', value: 0x02, why: 'GPIO4 driven from reg 86' },
      { op: 'update', reg: 'GPIO_OUTPUT', fields: { GPIO4: 0 }, why: 'LED off' },
    ],
    'led:on': [{ op: 'update', reg: 'GPIO_OUTPUT', fields: { GPIO4: 1 }, why: 'LED on' }],
    'led:off': [{ op: 'update', reg: 'GPIO_OUTPUT', fields: { GPIO4: 0 }, why: 'LED off' }],
  },

  latency: {
    output: {
      what: 'DAC interpolation filter group delay',
      modeOption: 'filter',
      defaultMode: 'normal',
      modes: {
        normal: { frames: 20, source: SRC.delay },
        'low-latency': { frames: 3.5, source: SRC.delay },
        'high-attenuation': { unknown: 'no group delay figure among the collected facts' },
        'fixed-flow': { unknown: 'no group delay figure among the collected facts' },
        asymmetric: { unknown: 'no group delay figure among the collected facts' },
      },
    },
  },
};
