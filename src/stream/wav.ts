/**
 * WAV (RIFF/WAVE) reading, sample conversion and writing for `sbc-audio play` and `record`.
 *
 * The format, in our words, after Microsoft's "Multimedia Programming Interface and Data
 * Specifications 1.0" (1991, the RIFF and WAVE chapters) and the WAVEFORMATEXTENSIBLE
 * documentation (Windows SDK, mmreg.h / ksmedia.h):
 * - A RIFF file is "RIFF", a u32 little-endian size of what follows, a four-character form type
 *   ("WAVE" here), then chunks. A chunk is a four-character id, a u32 LE size of its body, the
 *   body, and one pad byte (not counted in the size) when the size is odd. Readers skip chunks
 *   they do not know (LIST, fact, cue, bext, ...).
 * - "fmt " comes before "data". Its first 16 bytes: u16 format tag, u16 channels, u32 frames per
 *   second, u32 average bytes per second, u16 block align (bytes per frame), u16 bits per sample.
 *   Tag 1 is integer PCM, 3 IEEE float (32- or 64-bit, full scale ±1.0). A longer fmt adds u16
 *   cbSize; tag 0xFFFE (WAVE_FORMAT_EXTENSIBLE) has cbSize ≥ 22 and then u16 valid bits per
 *   sample, u32 channel mask and a 16-byte SubFormat GUID whose first two bytes are the real tag
 *   (1 PCM, 3 float) and whose other 14 bytes are the fixed 00 00 00 00 10 00 80 00 00 AA 00 38 9B 71.
 * - "data" holds frames of one sample per channel, interleaved, each sample in a container of
 *   bits-per-sample rounded up to whole bytes (block align = channels × container). Integer
 *   samples of 8 bits are unsigned (0x80 is zero), wider ones signed two's complement; with
 *   fewer valid bits than the container they are left-justified (the low bits are zero).
 * - A writer that cannot seek back (a pipe) cannot know the data size: it writes a placeholder.
 *   Observed here: sox 14.4.2 writes 0x7FFFF000, alsa-utils' arecord 0x80000000, and 0xFFFFFFFF is
 *   the other common one. A declared size from 0x7FFFF000 up that is more than the file holds is
 *   read as "to the end" (not as damage); any other size the file does not hold is a file cut short.
 *
 * Why our own parser and not the `wavefile` package: wavefile parses a whole buffer
 * (`fromBuffer`), while `play -` must read the header from a pipe before the data has arrived
 * (and play while it arrives); the messages a damaged file gets ("truncated WAV header: ... at
 * byte N", "the file ends after N of M frames") are ours to word; and the conversions to what
 * the stream takes (16-bit, 32-bit, float) are the stream's rules (exact where they can be,
 * truncation and clipping stated below), which we would have to check in the library anyway.
 * The header is some 150 lines; the package would be one more runtime dependency to ship.
 */

/** Sample encodings a WAV file can have here. */
export type WavEncoding = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64';
/** The sample encodings a stream carries (docs/PROTOCOL.md section 5: 16-bit, 32-bit, float; signed LE). */
export type StreamEncoding = 's16' | 's32' | 'f32';

const BYTES: Record<WavEncoding, number> = { u8: 1, s16: 2, s24: 3, s32: 4, f32: 4, f64: 8 };

/** Bytes per sample of an encoding. */
export function bytesOf(e: WavEncoding): number {
  return BYTES[e];
}

/** How an encoding is called in messages ("24-bit integer", "32-bit float"). */
export function encodingName(e: WavEncoding): string {
  return e === 'f32' || e === 'f64' ? `${BYTES[e] * 8}-bit float` : `${BYTES[e] * 8}-bit integer`;
}

export interface WavHeader {
  rate: number;
  channels: number;
  encoding: WavEncoding;
  /** Bytes per frame (block align). */
  frameBytes: number;
  /** The fmt chunk's format tag (1 PCM, 3 float, 0xFFFE extensible). */
  formatTag: number;
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** The data chunk's declared size in bytes, or undefined when the writer could not know it (streamed). */
  dataBytes: number | undefined;
}

/** A file that is not a WAV this reader can play, or one damaged: the message names what and where. */
export class WavError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WavError';
  }
}

/** Declared data sizes from here up are a streaming writer's placeholder (see the module comment). */
export const STREAMED_SIZE_FROM = 0x7ffff000;

const TAG_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM', 6: 'A-law', 7: 'µ-law', 0x11: 'IMA ADPCM', 0x31: 'GSM 6.10', 0x55: 'MPEG layer 3', 0x50: 'MPEG',
};

/** The GUID bytes after the first two of a KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT SubFormat. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

function fourcc(b: Uint8Array, o: number): string {
  return String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);
}

function printable(b: Uint8Array, n: number): string {
  const s = b.subarray(0, n);
  const hex = [...s].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  const text = [...s].every((x) => x >= 0x20 && x < 0x7f) ? ` ("${String.fromCharCode(...s)}")` : '';
  return `${hex}${text}`;
}

/** What a file that is not RIFF/WAVE looks like, for the message. */
function whatItIs(b: Uint8Array): string {
  if (b.length === 0) return 'it is empty';
  if (b.length >= 4) {
    const m = fourcc(b, 0);
    if (m === 'RIFF' && b.length >= 12) return `it is a RIFF file of form "${fourcc(b, 8)}", not "WAVE"`;
    if (m === 'RIFX') return 'it is a big-endian RIFX file (only little-endian RIFF WAVE is read)';
    if (m === 'RF64') return 'it is an RF64 (64-bit size) WAVE file, which is not read';
    if (m === 'fLaC') return 'it is a FLAC file';
    if (m === 'OggS') return 'it is an Ogg file';
    if (m === 'FORM') return 'it is an IFF/AIFF file';
    if (m === '.snd') return 'it is a Sun/NeXT .au file';
  }
  if (b.length >= 3 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33) return 'it is an MP3 file (ID3 tag)';
  return `it starts with ${printable(b, Math.min(8, b.length))}`;
}

/**
 * Reads the header (RIFF, fmt, chunks up to data) from the bytes so far. Returns undefined when
 * more bytes are needed and `atEnd` is false (reading from a pipe); with `atEnd` a header cut
 * short is a WavError "NAME: truncated WAV header: ... at byte N". Never reads out of bounds.
 */
export function readWavHeader(b: Uint8Array, atEnd: boolean, name = 'WAV'): WavHeader | undefined {
  const fail = (msg: string) => new WavError(`${name}: ${msg}`);
  const short = (what: string, need: number) => {
    if (!atEnd) return undefined;
    throw fail(`truncated WAV header: ${what} needs bytes up to ${need}, the file ends at byte ${b.length}`);
  };
  // Identify before asking for more: a file that is not a WAV should say so at once.
  if (b.length >= 4 && fourcc(b, 0) !== 'RIFF') throw fail(`not a WAV file: ${whatItIs(b)}`);
  if (b.length < 12) {
    if (atEnd && b.length === 0) throw fail('not a WAV file: it is empty');
    return short('the RIFF header (12 bytes)', 12);
  }
  if (fourcc(b, 8) !== 'WAVE') throw fail(`not a WAV file: ${whatItIs(b)}`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let fmt: Omit<WavHeader, 'dataOffset' | 'dataBytes'> | undefined;
  for (let o = 12; ;) {
    if (o + 8 > b.length) return short(`the chunk header at byte ${o}`, o + 8);
    const id = fourcc(b, o);
    const size = dv.getUint32(o + 4, true);
    const body = o + 8;
    if (id === 'data') {
      if (!fmt) throw fail(`damaged WAV header: the data chunk (byte ${o}) comes before any fmt chunk`);
      return { ...fmt, dataOffset: body, dataBytes: size >= STREAMED_SIZE_FROM ? undefined : size };
    }
    if (id === 'fmt ') {
      if (size < 16) throw fail(`damaged WAV header: the fmt chunk at byte ${o} is ${size} bytes, at least 16 expected`);
      if (body + size > b.length) return short(`the fmt chunk (${size} bytes from byte ${body})`, body + size);
      fmt = readFmt(dv, b, body, size, fail);
    } else if (body + size + (size & 1) > b.length) {
      return short(`the "${id}" chunk (${size} bytes from byte ${body}) before the data`, body + size + (size & 1));
    }
    o = body + size + (size & 1);
  }
}

function readFmt(dv: DataView, b: Uint8Array, at: number, size: number, fail: (m: string) => WavError): Omit<WavHeader, 'dataOffset' | 'dataBytes'> {
  const formatTag = dv.getUint16(at, true);
  const channels = dv.getUint16(at + 2, true);
  const rate = dv.getUint32(at + 4, true);
  const blockAlign = dv.getUint16(at + 12, true);
  const bits = dv.getUint16(at + 14, true);
  let tag = formatTag;
  let where = `format tag ${formatTag}`;
  if (formatTag === 0xfffe) {
    const cb = size >= 18 ? dv.getUint16(at + 16, true) : 0;
    if (size < 40 || cb < 22) throw fail(`damaged WAV header: WAVE_FORMAT_EXTENSIBLE fmt chunk of ${size} bytes (cbSize ${cb}); 40 bytes and cbSize 22 expected`);
    const valid = dv.getUint16(at + 18, true);
    if (valid > bits) throw fail(`damaged WAV header: ${valid} valid bits in a ${bits}-bit container`);
    tag = dv.getUint16(at + 24, true);
    const tail = b.subarray(at + 26, at + 40);
    const known = dv.getUint16(at + 26, true) === 0 && GUID_TAIL.every((x, i) => tail[i] === x);
    if (!known) throw fail(`unsupported WAV encoding: WAVE_FORMAT_EXTENSIBLE with sub-format GUID ${printable(b.subarray(at + 24, at + 40), 16)} (PCM or IEEE float only)`);
    where = `WAVE_FORMAT_EXTENSIBLE sub-format ${tag}`;
  }
  let encoding: WavEncoding | undefined;
  if (tag === 1) encoding = bits === 8 ? 'u8' : bits === 16 ? 's16' : bits === 24 ? 's24' : bits === 32 ? 's32' : undefined;
  else if (tag === 3) encoding = bits === 32 ? 'f32' : bits === 64 ? 'f64' : undefined;
  else throw fail(`unsupported WAV encoding: ${TAG_NAMES[tag] ?? 'unknown'} (${where}); integer PCM or IEEE float only`);
  if (!encoding) throw fail(`unsupported WAV sample size: ${bits}-bit ${tag === 3 ? 'float' : 'integer'} (${where}); integer 8/16/24/32-bit or float 32/64-bit only`);
  if (channels === 0) throw fail('damaged WAV header: 0 channels');
  if (rate === 0) throw fail('damaged WAV header: a rate of 0 Hz');
  if (blockAlign !== channels * BYTES[encoding]) throw fail(`damaged WAV header: block align ${blockAlign} bytes, but ${channels} channels of ${bits}-bit samples take ${channels * BYTES[encoding]}`);
  return { rate, channels, encoding, frameBytes: blockAlign, formatTag };
}

export interface WavData {
  header: WavHeader;
  /** The whole frames present, as in the file. */
  data: Uint8Array;
  frames: number;
  /** The frames the header declares (undefined: streamed, to the end). */
  declaredFrames: number | undefined;
  /** Bytes of an incomplete last frame (dropped). */
  partialBytes: number;
}

/** Reads a whole WAV file held in memory. Throws WavError for what cannot be played (not a WAV, a truncated header). */
export function decodeWav(buf: Uint8Array, name = 'WAV'): WavData {
  const header = readWavHeader(buf, true, name)!;
  const avail = buf.length - header.dataOffset;
  const bytes = header.dataBytes === undefined ? avail : Math.min(header.dataBytes, avail);
  const frames = Math.floor(bytes / header.frameBytes);
  const declaredBytes = header.dataBytes;
  return {
    header, frames,
    data: buf.subarray(header.dataOffset, header.dataOffset + frames * header.frameBytes),
    declaredFrames: declaredBytes === undefined ? undefined : Math.floor(declaredBytes / header.frameBytes),
    partialBytes: bytes - frames * header.frameBytes,
  };
}

/**
 * The warning for data that is shorter than the header says, or ends mid-frame, or undefined
 * when the data is whole. (Playing goes on with what is there, as aplay does.)
 */
export function shortDataWarning(name: string, frames: number, declaredFrames: number | undefined, partialBytes: number, frameBytes: number): string | undefined {
  const parts: string[] = [];
  if (declaredFrames !== undefined && frames < declaredFrames) parts.push(`the file ends after ${frames} of ${declaredFrames} frames`);
  if (partialBytes > 0) parts.push(`${parts.length ? 'and ' : 'the data ends '}mid-frame (the last ${partialBytes} bytes of a ${frameBytes}-byte frame are dropped)`);
  return parts.length ? `${name}: ${parts.join(' ')}: cut short, playing what is there` : undefined;
}

/**
 * The stream encodings to ask for, best first, for a file's encoding: the one that carries the
 * samples exactly first (8 and 16 bits in 16; 24 and 32 bits in 32, 24-bit exactly in float too;
 * float in float), then the others.
 */
export function preferredStreamEncodings(e: WavEncoding): StreamEncoding[] {
  switch (e) {
    case 'u8':
    case 's16': return ['s16', 's32', 'f32'];
    case 's24': return ['s32', 'f32', 's16'];
    case 's32': return ['s32', 'f32', 's16'];
    case 'f32':
    case 'f64': return ['f32', 's32', 's16'];
  }
}

/** What a conversion loses, in words, or undefined when it is exact. */
export function conversionNote(from: WavEncoding, to: StreamEncoding): string | undefined {
  const bits = { u8: 8, s16: 16, s24: 24, s32: 32 } as Record<string, number>;
  if (to === 's16' && (from === 's24' || from === 's32')) return `${bits[from]}-bit samples truncated to 16 bits (the low ${bits[from]! - 16} bits dropped, no dither): the stream takes no wider format at this rate and channel count`;
  if (to === 'f32' && from === 's32') return '32-bit samples carried as 32-bit float (24 significant bits)';
  if (to === 'f32' && from === 'f64') return '64-bit float samples rounded to 32-bit float';
  if ((from === 'f32' || from === 'f64') && to !== 'f32') return `float samples converted to ${to === 's16' ? 16 : 32}-bit integer (rounded, clipped at full scale)`;
  return undefined;
}

/**
 * Converts interleaved samples (whole frames, little-endian) of a WAV encoding to a stream
 * encoding, into a new array. Integer widening is exact: 8-bit (x − 128) << 8 into 16, << 24
 * into 32; 16 << 16 and 24 << 8 into 32. Narrowing to 16 bits truncates (an arithmetic shift
 * right: the low bits dropped). Integers into float divide by the full scale (2^15, 2^23, 2^31);
 * float into integers multiply by it (2^15, 2^31), round, and clip at full scale (NaN is 0).
 */
export function convertSamples(data: Uint8Array, from: WavEncoding, to: StreamEncoding): Uint8Array {
  const n = Math.floor(data.length / BYTES[from]);
  const src = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const outBytes = to === 's16' ? 2 : 4;
  if (from === to) return data.slice(0, n * outBytes);
  const out = new Uint8Array(n * outBytes);
  const dst = new DataView(out.buffer);
  // Each sample as a signed integer left-justified in 32 bits, or as a float.
  const int32 = (i: number): number => {
    switch (from) {
      case 'u8': return (src.getUint8(i) - 128) << 24;
      case 's16': return src.getInt16(i * 2, true) << 16;
      case 's24': return ((src.getUint8(i * 3) << 8) | (src.getUint8(i * 3 + 1) << 16) | (src.getUint8(i * 3 + 2) << 24));
      default: return src.getInt32(i * 4, true);
    }
  };
  const isFloat = from === 'f32' || from === 'f64';
  const float = (i: number): number => (from === 'f32' ? src.getFloat32(i * 4, true) : src.getFloat64(i * 8, true));
  const clip = (v: number, scale: number) => (Number.isNaN(v) ? 0 : Math.max(-scale, Math.min(scale - 1, Math.round(v * scale))));
  for (let i = 0; i < n; i++) {
    if (to === 's16') dst.setInt16(i * 2, isFloat ? clip(float(i), 32768) : int32(i) >> 16, true);
    else if (to === 's32') dst.setInt32(i * 4, isFloat ? clip(float(i), 2147483648) : int32(i), true);
    else dst.setFloat32(i * 4, isFloat ? float(i) : int32(i) / 2147483648, true);
  }
  return out;
}

/**
 * A WAV header for `channels` × `encoding` at `rate` (tag 1 PCM for integers, 3 for float; a
 * plain 16-byte fmt chunk, 44 bytes in all). `dataBytes` undefined writes 0xFFFFFFFF for the
 * RIFF and data sizes: the streamed convention, for a pipe that cannot be seeked back.
 */
export function wavHeader(rate: number, channels: number, encoding: StreamEncoding | 'u8' | 's24', dataBytes?: number): Uint8Array {
  const out = new Uint8Array(44);
  const dv = new DataView(out.buffer);
  const put = (o: number, s: string) => { for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i); };
  const bps = BYTES[encoding];
  put(0, 'RIFF'); dv.setUint32(4, dataBytes === undefined ? 0xffffffff : 36 + dataBytes + (dataBytes & 1), true); put(8, 'WAVE');
  put(12, 'fmt '); dv.setUint32(16, 16, true); dv.setUint16(20, encoding === 'f32' ? 3 : 1, true); dv.setUint16(22, channels, true);
  dv.setUint32(24, rate, true); dv.setUint32(28, rate * channels * bps, true); dv.setUint16(32, channels * bps, true); dv.setUint16(34, bps * 8, true);
  put(36, 'data'); dv.setUint32(40, dataBytes === undefined ? 0xffffffff : dataBytes, true);
  return out;
}

/** Byte offsets of the two sizes in a header from wavHeader (for fixing them up once the length is known). */
export const WAV_RIFF_SIZE_AT = 4;
export const WAV_DATA_SIZE_AT = 40;

export interface Wav {
  rate: number;
  channels: number;
  /** Interleaved S16 samples. */
  samples: Int16Array;
}

/** A 16-bit PCM WAV file of interleaved S16 samples. */
export function encodeWav(w: Wav): Uint8Array {
  const data = w.samples.length * 2;
  const out = new Uint8Array(44 + data + (data & 1));
  out.set(wavHeader(w.rate, w.channels, 's16', data));
  const dv = new DataView(out.buffer);
  for (let i = 0; i < w.samples.length; i++) dv.setInt16(44 + i * 2, w.samples[i]!, true);
  return out;
}

/** Any WAV this reader takes, as interleaved S16 (converted as convertSamples does); for tests and tools. */
export function parseWav(buf: Uint8Array, name = 'WAV'): Wav {
  const d = decodeWav(buf, name);
  const s16 = convertSamples(d.data, d.header.encoding, 's16');
  const samples = new Int16Array(s16.length / 2);
  const dv = new DataView(s16.buffer);
  for (let i = 0; i < samples.length; i++) samples[i] = dv.getInt16(i * 2, true);
  return { rate: d.header.rate, channels: d.header.channels, samples };
}
