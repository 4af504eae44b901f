/**
 * One home each for two things once written in every part: the board amplifier's steps (the
 * board's power, src/board/power.ts) and the probe (data in the description, one implementation
 * in src/codec/driver.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CODEC_PARTS } from '../../../codecs/index.ts';
import { type CodecDescription, checkDescription } from '../../../src/codec/description.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PROBE_OVERRIDE = /\boverride\s+async\s+probe\s*\(/;

describe('single home: the amplifier lines and the probe', () => {
  it('no codec description drives a board amplifier line: every gpio step names one of the part\'s own pins', async () => {
    for (const id of Object.keys(CODEC_PARTS)) {
      const { description } = await CODEC_PARTS[id]!();
      const wrong = checkDescription(description).filter((p) => /own pins/.test(p.message));
      assert.deepEqual(wrong, [], `${id}: ${JSON.stringify(wrong)}`);
    }
  });

  it('negative control: a planted amplifier step in a description is reported', async () => {
    const { description } = await CODEC_PARTS['sim-codec']!();
    const planted: CodecDescription = {
      ...description,
      sequences: { ...description.sequences, powerUp: [...description.sequences.powerUp, { op: 'gpio', role: 'amp-enable', value: 1, optional: true }] },
    };
    const found = checkDescription(planted).filter((p) => /own pins/.test(p.message));
    assert.equal(found.length, 1);
    assert.equal(found[0]!.where, 'sequences.powerUp[1]');
  });

  it('no part driver overrides probe(): the probe is the description\'s data', () => {
    const dir = path.join(ROOT, 'codecs');
    const offenders = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())
      .map((d) => path.join('codecs', d.name, 'driver.ts'))
      .filter((f) => PROBE_OVERRIDE.test(readFileSync(path.join(ROOT, f), 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('negative control: the probe scan flags a planted override', () => {
    assert.ok(PROBE_OVERRIDE.test('class X extends DescribedCodec {\n  override async probe(): Promise<void> {}\n}'));
  });

  it('every part with a control bus declares its probe', async () => {
    for (const id of Object.keys(CODEC_PARTS)) {
      const { description } = await CODEC_PARTS[id]!();
      if (description.regmap) assert.ok(description.probe, `${id} has a register map but no probe`);
    }
  });
});
