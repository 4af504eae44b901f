/**
 * `sbc-audio setup --apply --root DIR` in the QEMU guest (issue 17): on a fake Raspberry Pi root
 * (boot/firmware/config.txt with the HAT's own overlay, etc/modules, etc/group) it compiles the
 * board's I2S-only overlay with the guest's dtc, writes config.txt, /etc/modules, the config file
 * and the unit, keeping a backup of each file it changes; a second --apply changes nothing.
 * Expected lines are the and the Pi firmware's (dtparam=i2c_arm=on, dtparam=i2s=on,
 * dtoverlay=…, the HAT's line commented out), not read from src/system/setup.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { hilEnv } from '../env.ts';

const env = hilEnv();

describe('sbc-audio setup on a fake Pi root (guest)', function () {
  this.timeout(120_000);
  if (env.tier !== 'guest') {
    it('needs the QEMU guest (tests/hil/run-vm.sh)', function () { this.skip(); }); // reason: the host suite has its own fake-root test (tests/unit/deploy.test.ts); this one is the guest's
    return;
  }
  let root: string;
  const HAT_CONFIG = ['# Raspberry Pi OS', '#dtparam=i2c_arm=on', '#dtparam=i2s=on', 'dtparam=audio=on', '', '[all]', 'dtoverlay=wm8960-soundcard', ''].join('\n');
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'sbc-guest-setup-'));
    mkdirSync(path.join(root, 'boot/firmware'), { recursive: true });
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    writeFileSync(path.join(root, 'boot/firmware/config.txt'), HAT_CONFIG);
    writeFileSync(path.join(root, 'etc/modules'), '# /etc/modules\n');
    writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\naudio:x:29:\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const walk = (rel = '.'): string[] => readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => {
    const p = `${rel}/${e.name}`;
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
  const snapshot = () => walk().sort().map((f) => `${f}:${lstatSync(path.join(root, f)).mtimeMs}`);
  const setup = async (...more: string[]) => {
    const out: string[] = [], err: string[] = [];
    const code = await main(['setup', '--board', 'waveshare-wm8960-hat', '--root', root, '--apply', ...more], { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('--apply: the .dtbo from the guest\'s dtc, config.txt, /etc/modules, the unit, with backups; a second --apply changes nothing', async () => {
    const first = await setup();
    assert.equal(first.code, 0, first.err);
    const config = readFileSync(path.join(root, 'boot/firmware/config.txt'), 'utf8').split('\n');
    for (const line of ['dtparam=i2c_arm=on', 'dtparam=i2s=on']) assert.ok(config.includes(line), `config.txt lacks ${line}:\n${config.join('\n')}`);
    assert.ok(config.some((l) => /^#dtoverlay=wm8960-soundcard\b/.test(l)), 'the HAT\'s own overlay line is commented out');
    const ours = config.filter((l) => /^dtoverlay=/.test(l));
    assert.equal(ours.length, 1, `one dtoverlay line of ours: ${ours.join(', ')}`);
    const dtbo = path.join(root, 'boot/firmware/overlays', `${ours[0]!.slice('dtoverlay='.length)}.dtbo`);
    assert.ok(existsSync(dtbo) && lstatSync(dtbo).size > 100, `${dtbo} was not compiled`);
    assert.equal(readFileSync(dtbo).readUInt32BE(0), 0xd00dfeed, 'a flattened device tree (magic 0xd00dfeed)');
    assert.equal(readFileSync(path.join(root, 'boot/firmware/config.txt.sbc-audio.bak'), 'utf8'), HAT_CONFIG, 'config.txt kept as it was');
    assert.ok(readFileSync(path.join(root, 'etc/modules'), 'utf8').split('\n').includes('i2c-dev'));
    assert.ok(existsSync(path.join(root, 'etc/modules.sbc-audio.bak')));
    assert.match(readFileSync(path.join(root, 'etc/systemd/system/sbc-audio.service'), 'utf8'), /^RuntimeDirectory=sbc-audio$/m);
    const before = snapshot();
    const second = await setup('--json');
    assert.equal(second.code, 0, second.err);
    const report = JSON.parse(second.out) as { changes: unknown[]; backups: unknown[] };
    assert.deepEqual([report.changes, report.backups], [[], []]);
    assert.deepEqual(snapshot(), before, 'a second --apply touched a file');
  });
});
