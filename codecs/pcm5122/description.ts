/**
 * TI PCM5122 (PCM512x family): stereo DAC with I2C control, paged registers.
 *
 * Every figure below is one of the facts in codecs/pcm5122/FACTS.md, which
 * names its origin: TI-5122 = TI PCM5121/5122 datasheet ZHCSAC2C; K = Linux
 * sound/soc/codecs/pcm512x.c/.h. Figures that are not among those facts are 'unknown'.
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const FACTS = 'codecs/pcm5122/FACTS.md';
const SRC = {
  page: `${FACTS}: page select reg 0 (0x100 window), pages 0, 1, 44 (K: pcm512x.h)`,
  power: `${FACTS}: page 0 reg 2 standby RQST bit 4, powerdown RQPD bit 0 (K: pcm512x.h)`,
  mute: `${FACTS}: page 0 reg 3 mute RQML bit 4, RQMR bit 0 (K: pcm512x.h)`,
  filter: `${FACTS}: page 0 reg 43 filter select 1 normal, 2 low-latency, 3 high-attenuation, 5 fixed flow, 7 asymmetric (K)`,
  link: `${FACTS}: page 0 reg 60 [1:0] L/R volume link (K: pcm512x.h)`,
  volume: `${FACTS}: page 0 reg 61 (L) / 62 (R): 0x00 = +24 dB, 0x30 = 0 dB, 0xFE = -103 dB, 0xFF = mute, 0.5 dB steps (K: TLV -10350, 50, mute)`,
  amd: `${FACTS}: page 0 reg 108 ANALOG_MUTE_DET, polled up to 10 ms before stopping clocks; bits [1:0] read 0 when both channels are in analog mute (K: pcm512x.c digital-mute poll condition, 200 µs interval)`,
  again: `${FACTS}: page 1 reg 2 analog gain 0 / -6 dB (bit layout not among the facts)`,
  boost: `${FACTS}: page 1 reg 7 analog gain boost 0 / +0.8 dB (bit layout not among the facts)`,
  formats: `${FACTS}: 8-384 kHz; 16/20/24/32-bit; I2S/RJ/LJ/DSP_A/B; stereo (left/right volume registers)`,
  delay: 'TI-5122 (via codecs/pcm5122/FACTS.md): DAC group delay normal filter 20/fs, low-latency filter 3.5/fs',
};
const NO_RESET = 'unknown' as const; // codecs/pcm5122/FACTS.md gives no reset defaults for the PCM5122

const PAGE0 = 0x000;
const PAGE1 = 0x100;

const FORMATS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT20_IN32 | SAMPLE_FORMAT.BIT24_IN32 | SAMPLE_FORMAT.BIT32;

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
      // name                 addr            reset
      { name: 'POWER', addr: PAGE0 + 2, reset: NO_RESET, source: SRC.power,
        fields: [{ name: 'RQST', bits: 4, doc: 'standby request' }, { name: 'RQPD', bits: 0, doc: 'powerdown request' }] },
      { name: 'MUTE', addr: PAGE0 + 3, reset: NO_RESET, source: SRC.mute,
        fields: [{ name: 'RQML', bits: 4, doc: 'soft mute left' }, { name: 'RQMR', bits: 0, doc: 'soft mute right' }] },
      { name: 'DSP_PROGRAM', addr: PAGE0 + 43, reset: NO_RESET, source: SRC.filter,
        doc: 'digital filter: 1 normal, 2 low-latency, 3 high-attenuation, 5 fixed flow, 7 asymmetric' },
      { name: 'DIGITAL_VOLUME_CTRL', addr: PAGE0 + 60, reset: NO_RESET, source: SRC.link,
        fields: [{ name: 'LINK', bits: [1, 0], doc: 'left/right volume link (value meanings not among the facts)' }] },
      { name: 'DIGITAL_VOLUME_L', addr: PAGE0 + 61, reset: NO_RESET, source: SRC.volume },
      { name: 'DIGITAL_VOLUME_R', addr: PAGE0 + 62, reset: NO_RESET, source: SRC.volume },
      { name: 'ANALOG_MUTE_DET', addr: PAGE0 + 108, reset: NO_RESET, access: 'ro', volatile: true, source: SRC.amd,
        fields: [{ name: 'ACTIVE', bits: [1, 0], doc: '0 = both channels in analog mute' }] },
      { name: 'ANALOG_GAIN_CTRL', addr: PAGE1 + 2, reset: NO_RESET, source: SRC.again },
      { name: 'ANALOG_GAIN_BOOST', addr: PAGE1 + 7, reset: NO_RESET, source: SRC.boost },
    ],
  },

  probe: { reg: 'ANALOG_MUTE_DET', alsoReads: ['ANALOG_GAIN_CTRL'], why: 'a page 0 then a page 1 register: the chip answers and its page select works' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'DIGITAL_VOLUME_L' }, { reg: 'DIGITAL_VOLUME_R' }],
      min: 0x00, max: 0xff, default: 'unknown', unit: 'dB', stepDb: 0.5,
      scale: [{ from: 0x00, to: 0xfe, db: 24, stepDb: -0.5 }],
      muteCodes: [0xff],
      source: SRC.volume,
    },
    {
      name: 'DSP Program', kind: 'enum', direction: 'output',
      channels: [{ reg: 'DSP_PROGRAM' }],
      min: 1, max: 7, default: 'unknown', unit: 'none',
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
    mclk: { unknown: 'codecs/pcm5122/FACTS.md states no master-clock requirement for the PCM5122' },
    notes: [{ text: 'clocks must keep running until the analog mute detect shows both channels muted', source: `${FACTS}: Pop` }],
  },

  options: {
    filter: 'DAC filter: normal (default), low-latency, high-attenuation, fixed-flow, asymmetric',
  },

  sequences: {
    init: [
      { op: 'update', reg: 'MUTE', fields: { RQML: 1, RQMR: 1 }, why: 'soft mute before anything else' },
      { op: 'update', reg: 'POWER', fields: { RQST: 1, RQPD: 0 }, why: 'standby while configuring' },
      { op: 'hook', name: 'filter', why: 'DSP_PROGRAM from codec.options.filter' },
      { op: 'write', reg: 'DIGITAL_VOLUME_L', value: 0x30, why: '0 dB' },
      { op: 'write', reg: 'DIGITAL_VOLUME_R', value: 0x30, why: '0 dB' },
    ],
    powerUp: [
      { op: 'update', reg: 'POWER', fields: { RQST: 0, RQPD: 0 }, why: 'leave standby (clocks running)' },
      { op: 'update', reg: 'MUTE', fields: { RQML: 0, RQMR: 0 }, why: 'soft unmute' },
    ],
    powerDown: [
      { op: 'update', reg: 'MUTE', fields: { RQML: 1, RQMR: 1 }, why: 'soft mute' },
      { op: 'poll', reg: 'ANALOG_MUTE_DET', field: 'ACTIVE', equals: 0, timeoutMs: 10, intervalMs: 0.2, onTimeout: 'continue',
        source: SRC.amd, why: 'the soft mute must have settled before the clocks stop' },
      { op: 'update', reg: 'POWER', fields: { RQST: 1 }, why: 'standby: the clocks may stop now' },
    ],
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
