/**
 * The stream protocol's sample formats and format ranges (docs/facts/stream-protocol.md#flag-values,
 * "Flag values"): the sample-format bits and flags, the format-range flags and rate families, the
 * FormatRange itself, and what follows from them (bytes and I2S bits per sample, which rates and
 * formats a range admits).
 *
 * The codec layer (descriptions in codecs/<part>/, src/codec/) and the stream layer (src/stream/,
 * which re-exports these names from wire.ts) share this one declaration. A second one anywhere in
 * src/, codecs/ or alsa/ fails tests/unit/single-home/formats.test.ts.
 */

/** Sample formats (u32 bitfield): one base format, plus the flags UNSIGNED and INVERT_ENDIAN. */
export const SAMPLE_FORMAT = {
  BITSTREAM: 1 << 0, BIT8: 1 << 1, BIT16: 1 << 2, BIT20_PACKED: 1 << 4, BIT24_PACKED: 1 << 5, BIT20_IN32: 1 << 6,
  BIT24_IN32: 1 << 7, BIT32: 1 << 8, BIT32_FLOAT: 1 << 9, FLAG_UNSIGNED: 1 << 30, FLAG_INVERT_ENDIAN: 0x80000000,
} as const;

/** The two flag bits of a sample format (UNSIGNED | INVERT_ENDIAN), unsigned. */
export const SAMPLE_FORMAT_FLAGS = (SAMPLE_FORMAT.FLAG_UNSIGNED | SAMPLE_FORMAT.FLAG_INVERT_ENDIAN) >>> 0;

/** Every bit the protocol defines in a sample format (base formats and flags), unsigned. */
export const SAMPLE_FORMAT_KNOWN_BITS = Object.values(SAMPLE_FORMAT).reduce((acc, b) => acc | b, 0) >>> 0;

/** Format-range flags (u16). */
export const RANGE_FLAG = { FPS_CONTINUOUS: 1 << 0, FPS_48000_FAMILY: 1 << 1, FPS_44100_FAMILY: 1 << 2 } as const;

/**
 * The sample formats the stream service's ring-buffer engine carries byte for byte (16-bit,
 * 32-bit, 32-bit float; signed little-endian): the only ones a stream offers
 * (src/stream/board-device.ts `offeredRanges`, docs/PROTOCOL.md section 5).
 */
export const CARRIED_SAMPLE_FORMATS = (SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT32 | SAMPLE_FORMAT.BIT32_FLOAT) >>> 0;

/** Every format-range flag the protocol defines. */
export const RANGE_FLAG_KNOWN_BITS = RANGE_FLAG.FPS_CONTINUOUS | RANGE_FLAG.FPS_48000_FAMILY | RANGE_FLAG.FPS_44100_FAMILY;

/** The rates of the 48 kHz family (a range with FPS_48000_FAMILY admits those within min..max). */
export const FPS_48000_FAMILY = [8000, 16000, 32000, 48000, 96000, 192000, 384000, 768000] as const;
/** The rates of the 44.1 kHz family. */
export const FPS_44100_FAMILY = [11025, 22050, 44100, 88200, 176400] as const;

/** A format range in the stream protocol's terms (GET_FORMATS carries these; codecs describe theirs so). */
export interface FormatRange {
  /** Bitfield of SAMPLE_FORMAT values. */
  sampleFormats: number;
  minFps: number;
  maxFps: number;
  minChannels: number;
  maxChannels: number;
  /** Bitfield of RANGE_FLAG values. */
  flags: number;
}

/** An I2S sample width, in bits (the valid bits of a sample on the bus). */
export type SampleBits = 16 | 20 | 24 | 32;

/** The sample-format bit a host sends for an I2S sample width (past 16 bits, in a 32-bit container). */
export const SAMPLE_FORMAT_FOR_BITS: Readonly<Record<number, number>> = {
  16: SAMPLE_FORMAT.BIT16,
  20: SAMPLE_FORMAT.BIT20_IN32,
  24: SAMPLE_FORMAT.BIT24_IN32,
  32: SAMPLE_FORMAT.BIT32,
};

/**
 * Every sample format whose samples are an I2S sample width: the 3-byte packed container and the
 * 32-bit one alike (ALSA's S20_3LE / S24_3LE and S24_LE carry the same word on the bus).
 */
export const SAMPLE_FORMATS_OF_BITS: Readonly<Record<number, number>> = {
  16: SAMPLE_FORMAT.BIT16,
  20: SAMPLE_FORMAT.BIT20_PACKED | SAMPLE_FORMAT.BIT20_IN32,
  24: SAMPLE_FORMAT.BIT24_PACKED | SAMPLE_FORMAT.BIT24_IN32,
  32: SAMPLE_FORMAT.BIT32,
};

/** The single sample-format bit of a SET_FORMAT sample_format (flags removed), or 0 if not exactly one. */
export function sampleFormatBase(sampleFormat: number): number {
  const base = (sampleFormat & ~SAMPLE_FORMAT_FLAGS) >>> 0;
  return base !== 0 && (base & (base - 1)) === 0 ? base : 0;
}

/** Bytes per sample of a single sample format (without flags), or 0 for BITSTREAM/unknown. */
export function bytesPerSample(sampleFormat: number): number {
  switch (sampleFormatBase(sampleFormat)) {
    case SAMPLE_FORMAT.BIT8: return 1;
    case SAMPLE_FORMAT.BIT16: return 2;
    case SAMPLE_FORMAT.BIT20_PACKED:
    case SAMPLE_FORMAT.BIT24_PACKED: return 3;
    case SAMPLE_FORMAT.BIT20_IN32:
    case SAMPLE_FORMAT.BIT24_IN32:
    case SAMPLE_FORMAT.BIT32:
    case SAMPLE_FORMAT.BIT32_FLOAT: return 4;
    default: return 0;
  }
}

/** I2S sample width for a protocol sample format (the container's valid bits; 32 for anything else). */
export function bitsOfSampleFormat(sampleFormat: number): SampleBits {
  switch (sampleFormatBase(sampleFormat)) {
    case SAMPLE_FORMAT.BIT16: return 16;
    case SAMPLE_FORMAT.BIT20_PACKED:
    case SAMPLE_FORMAT.BIT20_IN32: return 20;
    case SAMPLE_FORMAT.BIT24_PACKED:
    case SAMPLE_FORMAT.BIT24_IN32: return 24;
    default: return 32;
  }
}

/** Whether a rate is inside a range, as the range's flags define it. */
export function rangeHasRate(r: FormatRange, fps: number): boolean {
  if (fps < r.minFps || fps > r.maxFps) return false;
  if (r.flags & RANGE_FLAG.FPS_CONTINUOUS) return true;
  if ((r.flags & RANGE_FLAG.FPS_48000_FAMILY) && (FPS_48000_FAMILY as readonly number[]).includes(fps)) return true;
  if ((r.flags & RANGE_FLAG.FPS_44100_FAMILY) && (FPS_44100_FAMILY as readonly number[]).includes(fps)) return true;
  return false;
}

/** Whether a SET_FORMAT (rate, sample format, channels) falls in a range. */
export function rangeAccepts(r: FormatRange, fps: number, sampleFormat: number, channels: number): boolean {
  const base = sampleFormatBase(sampleFormat);
  if (base === 0 || (r.sampleFormats & base) === 0) return false;
  const flags = (sampleFormat & SAMPLE_FORMAT_FLAGS) >>> 0;
  if (((r.sampleFormats & SAMPLE_FORMAT_FLAGS) & flags) >>> 0 !== flags) return false;
  if (channels < r.minChannels || channels > r.maxChannels) return false;
  return rangeHasRate(r, fps);
}

/** A format range as --json gives it: sample formats and rate families by name, not as bitmasks. */
export interface FormatRangeJson {
  sampleFormats: string[];
  minChannels: number;
  maxChannels: number;
  minFps: number;
  maxFps: number;
  /** "continuous" (any rate in the range), "48000-family", "44100-family". */
  rates: string[];
  /** Sample format flags by name ("unsigned", "invert-endian"); empty for the usual signed little-endian. */
  formatFlags: string[];
}

/** JSON names of the sample formats (docs/PROTOCOL.md's names, in the protocol's bit order). */
const FORMAT_JSON_NAMES: [number, string][] = [
  [SAMPLE_FORMAT.BITSTREAM, 'bitstream'], [SAMPLE_FORMAT.BIT8, '8'], [SAMPLE_FORMAT.BIT16, '16'], [SAMPLE_FORMAT.BIT20_PACKED, '20-packed'],
  [SAMPLE_FORMAT.BIT24_PACKED, '24-packed'], [SAMPLE_FORMAT.BIT20_IN32, '20-in-32'], [SAMPLE_FORMAT.BIT24_IN32, '24-in-32'],
  [SAMPLE_FORMAT.BIT32, '32'], [SAMPLE_FORMAT.BIT32_FLOAT, 'float32'],
];

export function formatRangeJson(r: FormatRange): FormatRangeJson {
  return {
    sampleFormats: FORMAT_JSON_NAMES.filter(([bit]) => r.sampleFormats & bit).map(([, n]) => n),
    minChannels: r.minChannels, maxChannels: r.maxChannels, minFps: r.minFps, maxFps: r.maxFps,
    rates: [
      r.flags & RANGE_FLAG.FPS_CONTINUOUS ? 'continuous' : '', r.flags & RANGE_FLAG.FPS_48000_FAMILY ? '48000-family' : '',
      r.flags & RANGE_FLAG.FPS_44100_FAMILY ? '44100-family' : '',
    ].filter(Boolean),
    formatFlags: [r.sampleFormats & SAMPLE_FORMAT.FLAG_UNSIGNED ? 'unsigned' : '', r.sampleFormats & SAMPLE_FORMAT.FLAG_INVERT_ENDIAN ? 'invert-endian' : ''].filter(Boolean),
  };
}
