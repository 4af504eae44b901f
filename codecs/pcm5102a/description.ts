/**
 * TI PCM5102A: stereo DAC with no control bus. Everything is pins: XSMT (low = soft mute),
 * FLT (filter: normal / low-latency), FMT (I2S / left-justified), DEMP (de-emphasis). A board
 * either ties them or wires them to host GPIOs; the driver drives those a board wires.
 *
 * Figures: codecs/pcm5102a/FACTS.md (K = Linux sound/soc/codecs/pcm5102a.c).
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const FACTS = 'codecs/pcm5102a/FACTS.md';
const FORMATS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT24_IN32 | SAMPLE_FORMAT.BIT32;
const FORMATS_SRC = `${FACTS}: 8-192 kHz (driver); stereo, S16_LE / S24_LE / S32_LE (K: pcm5102a.c DAI: channels 2..2)`;
const UNVERIFIED = 'latency figures unverified for the PCM5102A (codecs/pcm5102a/FACTS.md): a board file may supply one as codec.options.groupDelay';

export const description: CodecDescription = {
  meta: {
    id: 'pcm5102a',
    name: 'PCM5102A stereo DAC (pin-controlled)',
    vendor: 'Texas Instruments',
    datasheet: 'TI PCM510xA datasheet (figures via codecs/pcm5102a/FACTS.md)',
  },
  controls: [],
  formats: [
    { direction: 'output', source: FORMATS_SRC,
      range: { sampleFormats: FORMATS, minFps: 8000, maxFps: 192000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction: 'output', source: FORMATS_SRC,
      range: { sampleFormats: FORMATS, minFps: 11025, maxFps: 176400, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ],
  clocks: {
    mclk: { unknown: 'codecs/pcm5102a/FACTS.md states no master-clock requirement for the PCM5102A' },
    notes: [{ text: 'slave only: the host provides the I2S bit and frame clocks', source: `${FACTS}: slave only` }],
  },
  gpioRoles: {
    mute: 'XSMT pin: logical 1 = soft mute (the pin is low-active: the board file sets activeLow)',
    'filter-select': 'FLT pin: logical 1 = low-latency filter',
    'format-select': 'FMT pin: logical 1 = left-justified',
    deemphasis: 'DEMP pin',
  },
  options: {
    filter: 'normal (default) or low-latency: driven on the FLT pin where the board wires it, else what the board ties',
    groupDelay: 'a delay figure the datasheet facts lack: { "frames": N } or { "ns": N } with "source"',
  },
  sequences: {
    init: [
      { op: 'gpio', role: 'mute', value: 1, optional: true, why: 'XSMT low: soft mute' },
      { op: 'gpio', role: 'format-select', value: 0, optional: true, why: 'FMT: I2S' },
      { op: 'gpio', role: 'deemphasis', value: 0, optional: true, why: 'DEMP off' },
      { op: 'hook', name: 'filter', why: 'FLT from codec.options.filter' },
    ],
    powerUp: [
      { op: 'gpio', role: 'mute', value: 0, optional: true, why: 'XSMT high: unmute (clocks running)' },
    ],
    powerDown: [
      { op: 'gpio', role: 'mute', value: 1, optional: true, why: 'XSMT low: soft mute before the clocks stop' },
    ],
  },
  latency: {
    output: {
      what: 'DAC interpolation filter group delay',
      modeOption: 'filter',
      defaultMode: 'normal',
      modes: { normal: { unknown: UNVERIFIED }, 'low-latency': { unknown: UNVERIFIED } },
    },
  },
};
