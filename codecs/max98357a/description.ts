/**
 * Maxim MAX98357A: I2S class-D mono amplifier with no control bus. SD_MODE (a host GPIO on the
 * Adafruit board) is raised when a stream starts and lowered when it stops; a board may ask for a
 * delay after raising it. Its gain is set by a pin (3/6/9/12/15 dB), not by software.
 *
 * Figures: codecs/max98357a/FACTS.md (K = Linux sound/soc/codecs/max98357a.c).
 */
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const FACTS = 'codecs/max98357a/FACTS.md';
const FORMATS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT24_IN32 | SAMPLE_FORMAT.BIT32;
const FORMATS_SRC = `${FACTS}: 8-96 kHz; 16/24/32-bit (channels 1..2: K max98357a.c DAI)`;
const UNVERIFIED = 'latency unverified for the MAX98357A (codecs/max98357a/FACTS.md): a board file may supply one as codec.options.groupDelay';

export const description: CodecDescription = {
  meta: {
    id: 'max98357a',
    name: 'MAX98357A I2S class-D amplifier',
    vendor: 'Maxim Integrated (Analog Devices)',
    datasheet: 'Maxim MAX98357A/MAX98357B datasheet (figures via codecs/max98357a/FACTS.md)',
  },
  controls: [],
  formats: [
    { direction: 'output', source: FORMATS_SRC,
      range: { sampleFormats: FORMATS, minFps: 8000, maxFps: 96000, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction: 'output', source: FORMATS_SRC,
      range: { sampleFormats: FORMATS, minFps: 11025, maxFps: 88200, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ],
  clocks: { mclk: { value: 'not-used', source: `${FACTS}: no MCLK` } },
  gpioRoles: { 'amp-enable': 'SD_MODE: logical 1 = amplifier on' },
  options: {
    sdmodeDelayMs: 'delay after raising SD_MODE at stream start, ms (optional; default 0)',
    gainDb: 'the gain the board strapped on the GAIN pin (3, 6, 9, 12 or 15 dB), for information',
    groupDelay: 'a delay figure the datasheet facts lack: { "frames": N } or { "ns": N } with "source"',
  },
  sequences: {
    init: [{ op: 'gpio', role: 'amp-enable', value: 0, optional: true, why: 'SD_MODE low: shut down until a stream starts' }],
    powerUp: [
      { op: 'gpio', role: 'amp-enable', value: 1, optional: true, why: 'SD_MODE high at stream start (clocks running)' },
      { op: 'delay-option', option: 'sdmodeDelayMs', why: 'optional SD_MODE delay from the board file' },
    ],
    powerDown: [{ op: 'gpio', role: 'amp-enable', value: 0, optional: true, why: 'SD_MODE low at stream stop, before the clocks stop' }],
  },
  latency: {
    output: { what: 'amplifier digital path delay', defaultMode: 'default', modes: { default: { unknown: UNVERIFIED } } },
  },
};
