import { strict as assert } from 'node:assert';
import { checkCodecDir, codecCommand } from '../../src/cli/commands/codec.ts';

const FIX = 'tests/fixtures/codecs';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTTY: false }, out, err };
}

async function problems(dir: string): Promise<string[]> {
  return (await checkCodecDir(dir)).problems.map((p) => `${p.where}: ${p.message}`);
}

describe('sbc-audio codec check', () => {
  for (const part of ['pcm5122', 'pcm5102a', 'max98357a', 'sim-codec']) {
    it(`accepts codecs/${part}`, async () => {
      assert.deepEqual(await problems(`codecs/${part}`), []);
    });
  }

  it('accepts the sound fixture', async () => {
    assert.deepEqual(await problems(`${FIX}/good`), []);
  });

  const broken: [string, string][] = [
    ['overlapping-fields', 'regmap.registers[0] (POWER).fields[1] (MODE): bits [3:1] overlap field EN'],
    ['wide-field', 'regmap.registers[0] (POWER).fields[1] (MODE): bits [8:1] are wider than the 8-bit register'],
    ['bad-default', 'regmap.registers[1] (VOL): reset default 304 is out of range for a 8-bit register (0..0xff)'],
    ['unknown-register', 'controls[0] (Volume): names unknown register "DAC_VOL"'],
    ['unsourced-figure', 'latency.output.modes.normal: figure without a source (give the datasheet section, or mark it { unknown })'],
    ['bad-default-control', 'controls[0] (Volume): default code 144 is outside min..max (0..127)'],
    ['sequence-unknown-field', 'sequences.powerUp[0]: names unknown field "ENABLE" of register POWER'],
  ];
  for (const [dir, message] of broken) {
    it(`rejects ${dir} with one message`, async () => {
      assert.deepEqual(await problems(`${FIX}/${dir}`), [message]);
    });
  }

  it('prints every problem with the folder and exits 1; exits 0 on sound descriptions', async () => {
    const bad = capture();
    assert.equal(await codecCommand.run(['check', `${FIX}/wide-field`], bad.io), 1);
    assert.deepEqual(bad.err, [
      `${FIX}/wide-field: regmap.registers[0] (POWER).fields[1] (MODE): bits [8:1] are wider than the 8-bit register`,
      `${FIX}/wide-field: 1 problem`,
    ]);
    const good = capture();
    assert.equal(await codecCommand.run(['check', 'codecs/pcm5122'], good.io), 0);
    assert.deepEqual(good.out, ['codecs/pcm5122: OK (PCM5122 stereo DAC: 61 registers, 2 controls, 2 format ranges)']);
  });

  it('names a missing folder and a folder whose id differs', async () => {
    assert.deepEqual(await problems(`${FIX}/nope`), [`description.ts: no ${FIX}/nope/description.ts (a codec folder holds description.ts exporting "description")`]);
    await assert.rejects(codecCommand.run(['check'], capture().io), /codec check needs a codec folder/);
  });
});
