/**
 * One home for the stream protocol's sample formats: src/audio/formats.ts holds the sample-format
 * bits and flags, the format-range flags, the rate families, FormatRange and the helpers built on
 * them. The codec layer and the stream layer import them; nothing else in src/, codecs/ or alsa/
 * declares them again. Expected values are the protocol's own (docs/facts/stream-protocol.md#flag-values,
 * "Flag values"), written here as literals, not read from the code under test.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as formats from '../../../src/audio/formats.ts';
import * as wire from '../../../src/stream/wire.ts';
import { description as pcm5102a } from '../../../codecs/pcm5102a/description.ts';
import { description as pcm5122 } from '../../../codecs/pcm5122/description.ts';
import { description as simCodec } from '../../../codecs/sim-codec/description.ts';
import { description as wm8960 } from '../../../codecs/wm8960/description.ts';
import { FORMAT_RULES } from './rules.ts';
import { listFindings, scanText, scanTree, sourceFiles } from './scan.ts';

const HOME = 'src/audio/formats.ts';

describe('single home: sample formats and format ranges (src/audio/formats.ts)', () => {
  it('holds the protocol\'s values', () => {
    const F = formats.SAMPLE_FORMAT;
    assert.deepEqual(
      [F.BITSTREAM, F.BIT8, F.BIT16, F.BIT20_PACKED, F.BIT24_PACKED, F.BIT20_IN32, F.BIT24_IN32, F.BIT32, F.BIT32_FLOAT],
      [1, 2, 4, 16, 32, 64, 128, 256, 512],
    );
    assert.equal(F.FLAG_UNSIGNED >>> 0, 0x40000000);
    assert.equal(F.FLAG_INVERT_ENDIAN >>> 0, 0x80000000);
    assert.equal(formats.SAMPLE_FORMAT_FLAGS, 0xc0000000);
    assert.equal(formats.SAMPLE_FORMAT_KNOWN_BITS, 0xc00003f7);
    assert.deepEqual({ ...formats.RANGE_FLAG }, { FPS_CONTINUOUS: 1, FPS_48000_FAMILY: 2, FPS_44100_FAMILY: 4 });
    assert.equal(formats.RANGE_FLAG_KNOWN_BITS, 7);
    assert.deepEqual([...formats.FPS_48000_FAMILY], [8000, 16000, 32000, 48000, 96000, 192000, 384000, 768000]);
    assert.deepEqual([...formats.FPS_44100_FAMILY], [11025, 22050, 44100, 88200, 176400]);
    assert.deepEqual({ ...formats.SAMPLE_FORMAT_FOR_BITS }, { 16: 4, 20: 64, 24: 128, 32: 256 });
  });

  it('derives bytes and bits per sample and rate membership from them', () => {
    assert.deepEqual([2, 4, 16, 32, 64, 128, 256, 512, 1].map(formats.bytesPerSample), [1, 2, 3, 3, 4, 4, 4, 4, 0]);
    assert.equal(formats.bytesPerSample(4 | 0x40000000), 2, 'flags do not change the width');
    assert.equal(formats.bytesPerSample(4 | 128), 0, 'two base formats are not one format');
    assert.deepEqual([4, 16, 64, 32, 128, 256].map(formats.bitsOfSampleFormat), [16, 20, 20, 24, 24, 32]);
    const r48 = { sampleFormats: 4, minFps: 8000, maxFps: 96000, minChannels: 1, maxChannels: 2, flags: 2 };
    assert.deepEqual([8000, 44100, 48000, 96000, 192000, 12345].map((f) => formats.rangeHasRate(r48, f)), [true, false, true, true, false, false]);
    assert.equal(formats.rangeHasRate({ ...r48, flags: 1 }, 12345), true);
    assert.equal(formats.rangeHasRate({ ...r48, flags: 4 }, 44100), true);
    assert.equal(formats.rangeAccepts(r48, 48000, 4, 2), true);
    assert.equal(formats.rangeAccepts(r48, 48000, 128, 2), false);
    assert.equal(formats.rangeAccepts(r48, 48000, 4, 3), false);
    assert.equal(formats.rangeAccepts(r48, 48000, 4 | 0x40000000, 2), false, 'UNSIGNED only where the range has it');
  });

  it('is what wire.ts exports under its old names (the same objects, not copies)', () => {
    assert.equal(wire.SAMPLE_FORMAT, formats.SAMPLE_FORMAT);
    assert.equal(wire.SAMPLE_FORMAT_FLAGS, formats.SAMPLE_FORMAT_FLAGS);
    assert.equal(wire.RANGE_FLAG, formats.RANGE_FLAG);
    assert.equal(wire.FPS_48000_FAMILY, formats.FPS_48000_FAMILY);
    assert.equal(wire.FPS_44100_FAMILY, formats.FPS_44100_FAMILY);
    assert.equal(wire.sampleFormatBase, formats.sampleFormatBase);
    assert.equal(wire.bytesPerSample, formats.bytesPerSample);
    assert.equal(wire.rangeHasRate, formats.rangeHasRate);
    assert.equal(wire.rangeAccepts, formats.rangeAccepts);
  });

  it('gives the codec descriptions their bits (values as the protocol has them)', () => {
    const ranges = (d: { formats: readonly { range: { sampleFormats: number; flags: number } }[] }) =>
      d.formats.map((f) => [f.range.sampleFormats, f.range.flags]);
    assert.deepEqual(ranges(pcm5102a), [[4 | 128 | 256, 2], [4 | 128 | 256, 4]]);
    assert.deepEqual(ranges(pcm5122), [[4 | 64 | 128 | 256, 2], [4 | 64 | 128 | 256, 4]]);
    assert.deepEqual(ranges(simCodec).slice(0, 2), [[4 | 128, 2], [4 | 128, 4]]);
    assert.deepEqual([...new Set(ranges(wm8960).map(([, flags]) => flags))], [2, 4]);
  });

  it('is declared nowhere else in src/, codecs/ or alsa/', () => {
    const files = sourceFiles();
    assert.ok(files.includes('src/stream/wire.ts') && files.includes('codecs/pcm5122/description.ts') && files.includes(HOME), 'the scan reaches the users');
    assert.ok(files.length > 50, `only ${files.length} files scanned`);
    const found = scanTree(FORMAT_RULES, [HOME]);
    assert.equal(found.length, 0, `a second declaration of the sample-format family (import it from ${HOME}):\n${listFindings(found)}`);
  });

  it('negative control: the scanner flags planted declarations, each at its line', () => {
    const planted = [
      ['const S16 = 1 << 2, S24_IN32 = 1 << 7;', 'sample-format or range-flag constant declared'],
      ['const FAMILY_48K = 1 << 1, FAMILY_44K = 1 << 2;', 'sample-format or range-flag constant declared'],
      ['export const SAMPLE_FORMAT = {', 'sample-format or range-flag constant declared'],
      ['  BIT16: 1 << 2, BIT24_IN32: 1 << 7,', 'protocol format bit given a value'],
      ['const r = { FPS_CONTINUOUS: 1, FPS_48000_FAMILY: 2 };', 'protocol format bit given a value'],
      ['  range: { sampleFormats: 1 << 2, minFps: 8000 },', 'shift used as a sample-format bit'],
      ['  16: 1 << 2, // 16BIT', 'sample-format bits for a width'],
      ['const F = [8000, 16000, 32000, 48000];', 'rate family listed'],
      ['const R = [11025, 22050, 44100];', 'rate family listed'],
      ['if ((sampleFormat & 0xc0000000) !== 0) return;', 'sample-format flag mask as a literal'],
      ['export interface FormatRangeWire {', 'FormatRange declared'],
      ['  minFps: number;', 'FormatRange declared'],
      ['export function rangeHasRate(r: R, fps: number): boolean {', 'format helper defined'],
    ] as const;
    const text = ['// line 1', ...planted.map(([code]) => code)].join('\n');
    const found = scanText('codecs/x/description.ts', text, FORMAT_RULES);
    planted.forEach(([code, rule], i) => {
      assert.ok(found.some((f) => f.line === i + 2 && f.rule === rule), `not flagged as "${rule}" at line ${i + 2}: ${code}\n${listFindings(found)}`);
    });
    // Lines that only use the home's names are not declarations.
    const clean = [
      "import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';",
      'const FORMATS = SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT24_IN32;',
      'range: { sampleFormats: FORMATS, minFps: 8000, maxFps: 96000, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY },',
      'export const GPIO_V2_LINE_FLAG_INPUT = 1 << 2;',
      'export type FormatRangeWire = FormatRange;',
    ].join('\n');
    assert.deepEqual(scanText('codecs/x/description.ts', clean, FORMAT_RULES), []);
  });

  it('negative control: the tree scan names the file and line of a planted second declaration, and spares the home', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'single-home-formats-'));
    try {
      const put = (rel: string, text: string) => {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), text);
      };
      put(HOME, 'export const SAMPLE_FORMAT = { BIT16: 1 << 2 } as const;\n');
      put('codecs/x/description.ts', "import type { X } from './x.ts';\nconst S16 = 1 << 2, S24_IN32 = 1 << 7;\n");
      put('alsa/y.ts', 'export const FPS_44100_FAMILY = [11025, 22050, 44100, 88200, 176400];\n');
      const found = scanTree(FORMAT_RULES, [HOME], root);
      assert.deepEqual([...new Set(found.map((f) => `${f.file}:${f.line}`))], ['alsa/y.ts:1', 'codecs/x/description.ts:2']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
