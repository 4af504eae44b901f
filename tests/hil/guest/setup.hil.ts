/**
 * `sbc-audio setup --apply --root DIR` in the QEMU guest (issue 17): on a fake Raspberry Pi root
 * (boot/firmware/config.txt with the HAT's own overlay, etc/modules, etc/group) it compiles the
 * board's I2S-only overlay with the guest's dtc, writes config.txt, /etc/modules, the config file
 * and the unit, keeping a backup of each file it changes; a second --apply changes nothing.
 * Expected lines are the and the Pi firmware's (dtparam=i2c_arm=on, dtparam=i2s=on,
 * dtoverlay=…, the HAT's line commented out), not read from src/system/setup.ts.
 * The ALSA way in (issue 27): the installed /etc/alsa/conf.d/50-sbc-audio.conf, read by the guest's
 * real alsa-lib through a copy of /usr/share/alsa/alsa.conf whose conf.d entry points into the fake
 * root, makes `aplay -L` list sbc-audio and `aplay -D sbc-audio` play into the guest's snd-aloop card
 * Loopback; after `setup --remove --apply` the name is gone and the fake root is as it was.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { hilEnv } from '../env.ts';
import { run } from '../peers.ts';

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
  const cli = async (args: string[]) => {
    const out: string[] = [], err: string[] = [];
    const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const setup = (...more: string[]) => cli(['setup', '--board', 'waveshare-wm8960-hat', '--root', root, '--apply', ...more]);
  /** The guest's alsa.conf with its /etc/alsa/conf.d entry moved into the fake root: the installed file is read as on a Pi. */
  const alsaConfig = () => {
    const file = path.join(tmpdir(), `sbc-guest-alsa-${process.pid}.conf`);
    const conf = readFileSync('/usr/share/alsa/alsa.conf', 'utf8');
    assert.ok(conf.includes('"/etc/alsa/conf.d"'), 'alsa.conf loads /etc/alsa/conf.d');
    writeFileSync(file, conf.replace('"/etc/alsa/conf.d"', JSON.stringify(path.join(root, 'etc/alsa/conf.d'))));
    return file;
  };
  const aplay = async (args: string[], config: string) => {
    const prev = process.env.ALSA_CONFIG_PATH;
    process.env.ALSA_CONFIG_PATH = config; // run() passes this process's environment to aplay
    try {
      return await run('aplay', args).then((out) => ({ ok: true, out }), (e: Error) => ({ ok: false, out: e.message }));
    } finally {
      if (prev === undefined) delete process.env.ALSA_CONFIG_PATH;
      else process.env.ALSA_CONFIG_PATH = prev;
    }
  };
  /** A short WAV: 0.25 s of a 1 kHz tone, 48 kHz S16_LE stereo. */
  const wav = () => {
    const frames = 12000, data = Buffer.alloc(frames * 4);
    for (let i = 0; i < frames; i++) {
      const v = Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 48000));
      data.writeInt16LE(v, i * 4);
      data.writeInt16LE(v, i * 4 + 2);
    }
    const h = Buffer.alloc(44);
    h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8); h.write('fmt ', 12);
    h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(2, 22); h.writeUInt32LE(48000, 24);
    h.writeUInt32LE(48000 * 4, 28); h.writeUInt16LE(4, 32); h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(data.length, 40);
    const file = path.join(tmpdir(), `sbc-guest-tone-${process.pid}.wav`);
    writeFileSync(file, Buffer.concat([h, data]));
    return file;
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

  it('the ALSA way in: aplay -L lists sbc-audio, aplay -D sbc-audio plays into card Loopback; after --remove the name is gone', async () => {
    assert.match(readFileSync('/proc/asound/cards', 'utf8'), /\[Loopback\s*\]/, 'the guest has snd-aloop as card Loopback');
    const pristineAlsa = path.join(root, 'etc/alsa');
    if (!existsSync(path.join(root, 'etc/alsa/conf.d/50-sbc-audio.conf'))) assert.equal((await setup()).code, 0);
    const config = alsaConfig();
    const tone = wav();
    try {
      const listed = await aplay(['-L'], config);
      assert.ok(listed.ok, listed.out);
      const lines = listed.out.split('\n');
      const at = lines.indexOf('sbc-audio');
      assert.ok(at >= 0, `aplay -L does not list sbc-audio:\n${listed.out}`);
      assert.match(lines[at + 1] ?? '', /^\s+sbc-audio: play through/, 'with its description');
      const played = await aplay(['-q', '-D', 'sbc-audio', tone], config);
      assert.ok(played.ok, `aplay -D sbc-audio failed: ${played.out}`);
      // Negative control: the guest's own configuration (no installed file) has no such name.
      const plain = await aplay(['-q', '-D', 'sbc-audio', tone], '/usr/share/alsa/alsa.conf');
      assert.equal(plain.ok, false);
      assert.match(plain.out, /Unknown PCM sbc-audio/);

      const removed = await cli(['setup', '--remove', '--root', root, '--apply']);
      assert.equal(removed.code, 0, removed.err);
      assert.equal(existsSync(pristineAlsa), false, 'etc/alsa (made by setup) is gone');
      assert.equal(readFileSync(path.join(root, 'boot/firmware/config.txt'), 'utf8'), HAT_CONFIG, 'config.txt as it was');
      assert.equal(readFileSync(path.join(root, 'etc/modules'), 'utf8'), '# /etc/modules\n');
      assert.deepEqual(walk().sort(), ['./boot', './boot/firmware', './boot/firmware/config.txt', './etc', './etc/group', './etc/modules']);
      const after = await aplay(['-L'], config);
      assert.ok(after.ok, after.out);
      assert.ok(!after.out.split('\n').includes('sbc-audio'), `still listed after --remove:\n${after.out}`);
      const gone = await aplay(['-q', '-D', 'sbc-audio', tone], config);
      assert.equal(gone.ok, false);
      assert.match(gone.out, /Unknown PCM sbc-audio/);
    } finally {
      rmSync(config, { force: true });
      rmSync(tone, { force: true });
    }
  });
});
