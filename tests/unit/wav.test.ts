/**
 * WAV reading and conversion (src/stream/wav.ts), one case per kind of file: 8 / 16 / 24 /
 * 32-bit integer, 32 / 64-bit float, WAVE_FORMAT_EXTENSIBLE, mono and 6 channels, 44.1 / 96 kHz,
 * odd chunks and LIST before the data, the streamed size placeholders, a header truncated at
 * every byte, data cut short or mid-frame, and files that are not WAVs.
 *
 * The files are built here byte by byte from the format as Microsoft's RIFF/WAVE and
 * WAVEFORMATEXTENSIBLE documents describe it (not with the code under test), and the expected
 * samples are literals: what 8-bit 0x00 / 0x80 / 0xFF, 24-bit 0x7FFFFF, float 1.5 ... become.
 * Where sox is installed, sox-made files of each kind are read too (skipped without it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  WavError, conversionNote, convertSamples, decodeWav, encodeWav, parseWav, preferredStreamEncodings, readWavHeader, shortDataWarning, wavHeader,
} from '../../src/stream/wav.ts';

// ---- building WAV files from the spec ----

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const u16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const chunk = (id: string, body: number[], size = body.length) => [...ascii(id), ...u32(size), ...body, ...(body.length & 1 ? [0] : [])];
/** The 16 bytes every fmt chunk starts with. */
const fmt16 = (tag: number, ch: number, rate: number, bits: number, container = Math.ceil(bits / 8)) =>
  [...u16(tag), ...u16(ch), ...u32(rate), ...u32(rate * ch * container), ...u16(ch * container), ...u16(bits)];
/** A 40-byte WAVE_FORMAT_EXTENSIBLE fmt body with a KSDATAFORMAT_SUBTYPE GUID for `sub` (1 PCM, 3 float). */
const fmtExt = (sub: number, ch: number, rate: number, bits: number, valid = bits) =>
  [...fmt16(0xfffe, ch, rate, bits), ...u16(22), ...u16(valid), ...u32(ch === 2 ? 3 : 0), ...u16(sub), 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
function riff(chunks: number[][], riffSize?: number): Uint8Array {
  const body = [...ascii('WAVE'), ...chunks.flat()];
  return Uint8Array.from([...ascii('RIFF'), ...u32(riffSize ?? body.length), ...body]);
}
const le16 = (vals: number[]) => vals.flatMap((v) => u16(v & 0xffff));
const le24 = (vals: number[]) => vals.flatMap((v) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
const le32 = (vals: number[]) => vals.flatMap((v) => u32(v >>> 0));
const f32 = (vals: number[]) => { const b = new Uint8Array(vals.length * 4); const dv = new DataView(b.buffer); vals.forEach((v, i) => dv.setFloat32(i * 4, v, true)); return [...b]; };
const f64 = (vals: number[]) => { const b = new Uint8Array(vals.length * 8); const dv = new DataView(b.buffer); vals.forEach((v, i) => dv.setFloat64(i * 8, v, true)); return [...b]; };
const s16s = (b: Uint8Array) => { const dv = new DataView(b.buffer, b.byteOffset, b.byteLength); return Array.from({ length: b.length / 2 }, (_, i) => dv.getInt16(i * 2, true)); };
const s32s = (b: Uint8Array) => { const dv = new DataView(b.buffer, b.byteOffset, b.byteLength); return Array.from({ length: b.length / 4 }, (_, i) => dv.getInt32(i * 4, true)); };
const f32s = (b: Uint8Array) => { const dv = new DataView(b.buffer, b.byteOffset, b.byteLength); return Array.from({ length: b.length / 4 }, (_, i) => dv.getFloat32(i * 4, true)); };

describe('WAV files: each kind read, converted to what a stream takes, or refused with its reason', () => {
  describe('the kinds that play', () => {
    it('8-bit unsigned mono at 44.1 kHz: (x − 128) << 8 into 16 bits exactly, << 24 into 32', () => {
      const d = decodeWav(riff([chunk('fmt ', fmt16(1, 1, 44100, 8)), chunk('data', [0x00, 0x80, 0xff, 0x81])]), 'u8.wav');
      assert.deepEqual([d.header.rate, d.header.channels, d.header.encoding, d.frames], [44100, 1, 'u8', 4]);
      assert.deepEqual(s16s(convertSamples(d.data, 'u8', 's16')), [-32768, 0, 32512, 256]);
      assert.deepEqual(s32s(convertSamples(d.data, 'u8', 's32')), [-2147483648, 0, 2130706432, 16777216]);
      assert.deepEqual(preferredStreamEncodings('u8')[0], 's16');
      assert.equal(conversionNote('u8', 's16'), undefined, 'exact: no note');
    });

    it('16-bit stereo at 48 kHz: played as it is (the same bytes)', () => {
      const data = le16([1, -1, 32767, -32768]);
      const d = decodeWav(riff([chunk('fmt ', fmt16(1, 2, 48000, 16)), chunk('data', data)]));
      assert.deepEqual([d.header.encoding, d.header.channels, d.frames, d.header.frameBytes], ['s16', 2, 2, 4]);
      assert.deepEqual([...convertSamples(d.data, 's16', 's16')], data);
      assert.deepEqual(s32s(convertSamples(d.data, 's16', 's32')), [65536, -65536, 2147418112, -2147483648]);
    });

    it('24-bit stereo at 96 kHz: << 8 into 32 bits exactly; into 16 bits truncated (the low byte dropped), with a note', () => {
      const d = decodeWav(riff([chunk('fmt ', fmt16(1, 2, 96000, 24)), chunk('data', le24([0x7fffff, -0x800000, 0x0000ff, -1]))]));
      assert.deepEqual([d.header.rate, d.header.encoding, d.header.frameBytes, d.frames], [96000, 's24', 6, 2]);
      assert.deepEqual(s32s(convertSamples(d.data, 's24', 's32')), [0x7fffff00, -0x80000000, 0xff00, -256]);
      assert.deepEqual(s16s(convertSamples(d.data, 's24', 's16')), [32767, -32768, 0, -1], 'truncation: an arithmetic shift (−1 stays −1, 0xFF goes to 0)');
      assert.deepEqual(preferredStreamEncodings('s24'), ['s32', 'f32', 's16']);
      assert.match(conversionNote('s24', 's16')!, /24-bit samples truncated to 16 bits \(the low 8 bits dropped/);
      assert.equal(conversionNote('s24', 's32'), undefined);
    });

    it('32-bit integer: as it is into 32, >> 16 into 16', () => {
      const d = decodeWav(riff([chunk('fmt ', fmt16(1, 1, 48000, 32)), chunk('data', le32([0x7fffffff, -0x80000000, 0x00018000]))]));
      assert.equal(d.header.encoding, 's32');
      assert.deepEqual(s32s(convertSamples(d.data, 's32', 's32')), [0x7fffffff, -0x80000000, 0x18000]);
      assert.deepEqual(s16s(convertSamples(d.data, 's32', 's16')), [32767, -32768, 1]);
    });

    it('32-bit float: as it is into float; into integers × full scale, rounded, clipped at full scale (NaN → 0)', () => {
      const d = decodeWav(riff([chunk('fmt ', fmt16(3, 2, 48000, 32)), chunk('data', f32([0.5, -0.5, 1.0, -1.0, 1.5, -1.5, NaN, 0.25]))]));
      assert.deepEqual([d.header.encoding, d.header.formatTag, d.frames], ['f32', 3, 4]);
      assert.deepEqual(s16s(convertSamples(d.data, 'f32', 's16')), [16384, -16384, 32767, -32768, 32767, -32768, 0, 8192]);
      assert.deepEqual(s32s(convertSamples(d.data, 'f32', 's32')), [1073741824, -1073741824, 2147483647, -2147483648, 2147483647, -2147483648, 0, 536870912]);
      assert.deepEqual([...convertSamples(d.data, 'f32', 'f32')], f32([0.5, -0.5, 1.0, -1.0, 1.5, -1.5, NaN, 0.25]), 'float into float: the same bytes');
      assert.match(conversionNote('f32', 's16')!, /rounded, clipped at full scale/);
    });

    it('64-bit float: rounded to 32-bit float', () => {
      const d = decodeWav(riff([chunk('fmt ', fmt16(3, 1, 48000, 64)), chunk('data', f64([0.1, -2]))]));
      assert.equal(d.header.encoding, 'f64');
      assert.deepEqual(f32s(convertSamples(d.data, 'f64', 'f32')), [Math.fround(0.1), -2]);
      assert.deepEqual(s16s(convertSamples(d.data, 'f64', 's16')), [3277, -32768]);
    });

    it('WAVE_FORMAT_EXTENSIBLE with the PCM and the float sub-format GUIDs (as sox writes past 2 channels or 16 bits)', () => {
      const pcm = decodeWav(riff([chunk('fmt ', fmtExt(1, 6, 48000, 16)), chunk('data', le16([1, 2, 3, 4, 5, 6]))]));
      assert.deepEqual([pcm.header.formatTag, pcm.header.encoding, pcm.header.channels, pcm.header.frameBytes, pcm.frames], [0xfffe, 's16', 6, 12, 1]);
      const fl = decodeWav(riff([chunk('fmt ', fmtExt(3, 2, 48000, 32)), chunk('data', f32([0.5, -0.5]))]));
      assert.deepEqual([fl.header.encoding, fl.frames], ['f32', 1]);
      // 24 valid bits left-justified in 32-bit containers: read as 32-bit.
      const s24in32 = decodeWav(riff([chunk('fmt ', fmtExt(1, 1, 48000, 32, 24)), chunk('data', le32([0x12345600]))]));
      assert.deepEqual(s32s(convertSamples(s24in32.data, s24in32.header.encoding, 's32')), [0x12345600]);
      // The negative control: any other GUID is refused, naming it.
      const other = fmtExt(1, 2, 48000, 16);
      other[other.length - 1] = 0x72;
      assert.throws(() => decodeWav(riff([chunk('fmt ', other), chunk('data', [])]), 'x.wav'), /x\.wav: unsupported WAV encoding: WAVE_FORMAT_EXTENSIBLE with sub-format GUID 01 00 00 00 00 00 10 00 80 00 00 aa 00 38 9b 72/);
    });

    it('unknown chunks (LIST, an odd-sized one and its pad byte) before the data are skipped', () => {
      const d = decodeWav(riff([chunk('fmt ', fmt16(1, 1, 8000, 16)), chunk('LIST', ascii('INFOabc')), chunk('odd ', [1, 2, 3]), chunk('data', le16([1234, -1234]))]));
      assert.deepEqual(s16s(d.data), [1234, -1234]);
      assert.equal(d.header.dataOffset, 12 + 24 + 16 + 12 + 8, 'the 7-byte LIST and the 3-byte chunk each take a pad byte');
    });

    it('a chunk after the data is not played (the data size says where the samples end)', () => {
      const d = decodeWav(riff([chunk('fmt ', fmt16(1, 1, 8000, 16)), chunk('data', le16([7, 8])), chunk('LIST', ascii('INFO'))]));
      assert.deepEqual(s16s(d.data), [7, 8]);
      assert.equal(shortDataWarning('x', d.frames, d.declaredFrames, d.partialBytes, 2), undefined);
    });

    it('streamed sizes (0xFFFFFFFF, sox\'s 0x7FFFF000, arecord\'s 0x80000000): the data runs to the end, no warning', () => {
      for (const size of [0xffffffff, 0x7ffff000, 0x80000000]) {
        const d = decodeWav(riff([chunk('fmt ', fmt16(1, 2, 48000, 16)), chunk('data', le16([1, 2, 3, 4]), size)], size));
        assert.equal(d.declaredFrames, undefined, `0x${size.toString(16)}`);
        assert.equal(d.frames, 2);
        assert.equal(shortDataWarning('x', d.frames, d.declaredFrames, d.partialBytes, d.header.frameBytes), undefined);
      }
    });
  });

  describe('damaged files: reported as such', () => {
    const good = riff([chunk('fmt ', fmt16(1, 2, 48000, 16)), chunk('data', le16([1, 2, 3, 4, 5, 6]))]);

    it('a header truncated at any byte: "truncated WAV header ... at byte N", never a RangeError', () => {
      for (let n = 1; n < 44; n++) {
        const cut = good.subarray(0, n);
        assert.throws(() => decodeWav(cut, 'cut.wav'), (e: Error) => {
          assert.ok(e instanceof WavError, `${n} bytes: ${e.name}: ${e.message}`);
          assert.match(e.message, new RegExp(`^cut\\.wav: truncated WAV header: .* the file ends at byte ${n}$`), `${n} bytes`);
          return true;
        });
      }
      assert.match(String((() => { try { decodeWav(good.subarray(0, 30), 'h.wav'); } catch (e) { return (e as Error).message; } return ''; })()),
        /^h\.wav: truncated WAV header: the fmt chunk \(16 bytes from byte 20\) needs bytes up to 36, the file ends at byte 30$/);
      // The control: the whole header reads.
      assert.equal(decodeWav(good).frames, 3);
    });

    it('from a pipe, a header not yet complete asks for more; at the end of input it is truncated', () => {
      assert.equal(readWavHeader(good.subarray(0, 30), false), undefined);
      assert.throws(() => readWavHeader(good.subarray(0, 30), true, 'stdin'), /^WavError: stdin: truncated WAV header/);
      assert.equal(readWavHeader(good.subarray(0, 44), false)!.dataOffset, 44);
    });

    it('data shorter than the header says: "the file ends after N of M frames", what is there is played', () => {
      const cut = good.subarray(0, 44 + 8); // 2 of 3 frames
      const d = decodeWav(cut, 'cut.wav');
      assert.deepEqual([d.frames, d.declaredFrames, d.partialBytes], [2, 3, 0]);
      assert.deepEqual(s16s(d.data), [1, 2, 3, 4]);
      assert.equal(shortDataWarning('cut.wav', d.frames, d.declaredFrames, d.partialBytes, 4), 'cut.wav: the file ends after 2 of 3 frames: cut short, playing what is there');
    });

    it('data cut mid-frame: the partial frame is dropped, and said so', () => {
      const d = decodeWav(good.subarray(0, 44 + 10), 'mid.wav');
      assert.deepEqual([d.frames, d.partialBytes], [2, 2]);
      assert.equal(shortDataWarning('mid.wav', d.frames, d.declaredFrames, d.partialBytes, 4),
        'mid.wav: the file ends after 2 of 3 frames and mid-frame (the last 2 bytes of a 4-byte frame are dropped): cut short, playing what is there');
    });

    it('a header whose fields contradict each other, or a data chunk before fmt', () => {
      const badAlign = fmt16(1, 2, 48000, 16);
      badAlign[12] = 3;
      assert.throws(() => decodeWav(riff([chunk('fmt ', badAlign), chunk('data', [])]), 'a.wav'), /a\.wav: damaged WAV header: block align 3 bytes, but 2 channels of 16-bit samples take 4/);
      assert.throws(() => decodeWav(riff([chunk('fmt ', fmt16(1, 0, 48000, 16, 2)), chunk('data', [])])), /damaged WAV header: 0 channels/);
      assert.throws(() => decodeWav(riff([chunk('data', [1, 2]), chunk('fmt ', fmt16(1, 1, 48000, 16))])), /the data chunk \(byte 12\) comes before any fmt chunk/);
    });

    it('encodings that are not PCM or float are named (A-law, 12-bit)', () => {
      assert.throws(() => decodeWav(riff([chunk('fmt ', fmt16(6, 1, 8000, 8)), chunk('data', [])]), 'alaw.wav'), /alaw\.wav: unsupported WAV encoding: A-law \(format tag 6\)/);
      assert.throws(() => decodeWav(riff([chunk('fmt ', fmt16(1, 1, 8000, 12, 2)), chunk('data', [])])), /unsupported WAV sample size: 12-bit integer/);
    });
  });

  describe('not a WAV: the message names what was found', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['an empty file', new Uint8Array(0), /not a WAV file: it is empty/],
      ['text', Uint8Array.from(ascii('hello world\n')), /not a WAV file: it starts with 68 65 6c 6c 6f 20 77 6f \("hello wo"\)/],
      ['FLAC', Uint8Array.from([...ascii('fLaC'), 0, 0, 0, 34]), /not a WAV file: it is a FLAC file/],
      ['an AVI (RIFF, another form)', Uint8Array.from([...ascii('RIFF'), ...u32(4), ...ascii('AVI ')]), /it is a RIFF file of form "AVI ", not "WAVE"/],
      ['RIFX', Uint8Array.from([...ascii('RIFX'), 0, 0, 0, 4, ...ascii('WAVE')]), /big-endian RIFX/],
      ['MP3 with ID3', Uint8Array.from([...ascii('ID3'), 3, 0, 0, 0, 0, 0, 0]), /an MP3 file/],
    ];
    for (const [what, bytes, re] of cases) {
      it(what, () => {
        assert.throws(() => decodeWav(bytes, 'f.wav'), (e: Error) => e instanceof WavError && re.test(e.message) && e.message.startsWith('f.wav: '));
      });
    }
  });

  describe('writing', () => {
    it('encodeWav writes the 44-byte PCM header of the spec; parseWav reads it back', () => {
      const w = encodeWav({ rate: 44100, channels: 1, samples: Int16Array.of(1, -2) });
      assert.deepEqual([...w], riff([chunk('fmt ', fmt16(1, 1, 44100, 16)), chunk('data', le16([1, -2]))]).reduce((a, b) => [...a, b], [] as number[]));
      assert.deepEqual([...parseWav(w).samples], [1, -2]);
    });

    it('a streamed header carries 0xFFFFFFFF as both sizes', () => {
      const h = wavHeader(48000, 2, 's16');
      const dv = new DataView(h.buffer);
      assert.deepEqual([dv.getUint32(4, true), dv.getUint32(40, true)], [0xffffffff, 0xffffffff]);
      assert.deepEqual([...h.subarray(0, 4), ...h.subarray(36, 40)], [...ascii('RIFF'), ...ascii('data')]);
      assert.equal(new DataView(wavHeader(48000, 2, 's16', 400).buffer).getUint32(40, true), 400);
    });
  });

  describe('sox-made files (where sox is installed)', function () {
    const hasSox = spawnSync('sox', ['--version']).status === 0;
    let dir: string;
    before(function () {
      if (!hasSox) this.skip();
      dir = mkdtempSync(path.join(tmpdir(), 'sbc-wav-'));
    });
    after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
    const kinds: [string, string[], { rate: number; channels: number; encoding: string; formatTag: number }][] = [
      ['8-bit mono 44.1 kHz', ['-r', '44100', '-c', '1', '-b', '8'], { rate: 44100, channels: 1, encoding: 'u8', formatTag: 1 }],
      ['16-bit stereo 48 kHz', ['-r', '48000', '-c', '2', '-b', '16'], { rate: 48000, channels: 2, encoding: 's16', formatTag: 1 }],
      ['24-bit stereo 96 kHz (extensible)', ['-r', '96000', '-c', '2', '-b', '24'], { rate: 96000, channels: 2, encoding: 's24', formatTag: 0xfffe }],
      ['32-bit integer', ['-r', '48000', '-c', '2', '-b', '32', '-e', 'signed-integer'], { rate: 48000, channels: 2, encoding: 's32', formatTag: 0xfffe }],
      ['32-bit float', ['-r', '48000', '-c', '2', '-b', '32', '-e', 'floating-point'], { rate: 48000, channels: 2, encoding: 'f32', formatTag: 3 }],
      ['6 channels (extensible)', ['-r', '48000', '-c', '6', '-b', '16'], { rate: 48000, channels: 6, encoding: 's16', formatTag: 0xfffe }],
    ];
    for (const [what, args, want] of kinds) {
      it(what, () => {
        const f = path.join(dir, 'k.wav');
        const r = spawnSync('sox', ['-n', ...args, '--no-dither', f, 'synth', '0.1', 'sine', '440'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const d = decodeWav(new Uint8Array(readFileSync(f)), 'k.wav');
        const { rate, channels, encoding, formatTag } = d.header;
        assert.deepEqual({ rate, channels, encoding, formatTag }, want);
        assert.equal(d.frames, Math.round(want.rate * 0.1));
        assert.equal(d.declaredFrames, d.frames);
      });
    }
    it('sox writing to a pipe (its 0x7FFFF000 placeholder): read to the end', () => {
      const r = spawnSync('sox', ['-n', '-r', '48000', '-c', '2', '-b', '16', '-t', 'wav', '-', 'synth', '0.1', 'sine', '440']);
      assert.equal(r.status, 0);
      const d = decodeWav(new Uint8Array(r.stdout), 'pipe');
      assert.deepEqual([d.declaredFrames, d.frames], [undefined, 4800]);
    });
  });
});
