/**
 * `sbc-audio setup`'s ALSA way in (issue 27, docs/plans/issue-27-alsa-way-in.md §1.4) and
 * `setup --remove`, on a fake Raspberry Pi root: the three files setup installs (the ALSA name
 * `sbc-audio`, snd-aloop at boot, its options), `--no-alsa-in`, and a removal that gives back the
 * tree exactly as it was before setup (every path, type, mode, content and link target compared)
 * while keeping what the user changed since. alsa-lib itself (libasound on this machine, through the
 * project's binding in a child process: alsa-lib-messages-child.ts) reads the installed file.
 *
 * Expected values come from the plan and from the kernel's documentation, not from
 * src/system/setup.ts: `options snd-aloop id=Loopback index=-2 pcm_substreams=8` (index -2: "a
 * bitmask of permissible indices", slot 0 excluded: Linux Documentation/sound/alsa-configuration.rst).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { diffHunks, revertHunks } from '../../src/system/setup.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TEMPLATE = path.join(ROOT, 'alsa/50-sbc-audio.conf');
const CHILD = path.join(ROOT, 'tests/unit/alsa-lib-messages-child.ts');
const ALSA_FILES = ['/etc/alsa/conf.d/50-sbc-audio.conf', '/etc/modules-load.d/sbc-audio.conf', '/etc/modprobe.d/sbc-audio.conf'];

const CONFIG = ['# Raspberry Pi OS', '#dtparam=i2c_arm=on', '#dtparam=i2s=on', 'dtparam=audio=on', '', '[all]', 'dtoverlay=wm8960-soundcard', ''].join('\n');

function collect() {
  const out: string[] = [];
  return { out, io: { out: (t: string) => out.push(t), err: (t: string) => out.push(t), isTTY: false } };
}

/** Every path under dir with its type, permission bits and content (a link: its target), sorted. */
function tree(dir: string): string[] {
  const walk = (rel: string): string[] => readdirSync(path.join(dir, rel)).flatMap((name) => {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(path.join(dir, r));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) return [`${r} link -> ${readlinkSync(path.join(dir, r))}`];
    if (st.isDirectory()) return [`${r} dir ${mode}`, ...walk(r)];
    return [`${r} file ${mode} ${readFileSync(path.join(dir, r)).toString('base64')}`];
  });
  return walk('').sort();
}

/** A PCM or ctl open through the project's libasound binding, in a child with this ALSA configuration. */
function alsaOpen(kind: 'captured' | 'control', name: string, configPath: string): { message?: string; opened?: boolean } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, kind, name], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ALSA_CONFIG_PATH: configPath },
  });
  assert.equal(r.status, 0, `child ${kind} ${name} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as { message?: string; opened?: boolean };
}

const hasLoopbackCard = (() => {
  try {
    return /\[Loopback\s*\]/.test(readFileSync('/proc/asound/cards', 'utf8'));
  } catch {
    return false;
  }
})();

describe('setup: the ALSA way in, and setup --remove (fake root)', function () {
  this.timeout(60_000);
  let root: string;
  const at = (p: string) => path.join(root, p);
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'sbc-setup-alsa-'));
    mkdirSync(at('boot/firmware'), { recursive: true });
    mkdirSync(at('etc/modprobe.d'), { recursive: true }); // Raspberry Pi OS has one with its own files: setup's must sit beside them
    writeFileSync(at('etc/modprobe.d/blacklist-rtl8192cu.conf'), 'blacklist rtl8192cu\n');
    writeFileSync(at('boot/firmware/config.txt'), CONFIG);
    writeFileSync(at('etc/modules'), '# /etc/modules\n');
    writeFileSync(at('etc/group'), 'root:x:0:\naudio:x:29:\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const setup = async (...more: string[]) => {
    const c = collect();
    const code = await main(['setup', '--board', 'waveshare-wm8960-hat', '--root', root, ...more], c.io);
    return { code, text: c.out.join('\n') };
  };
  const remove = async (...more: string[]) => {
    const c = collect();
    const code = await main(['setup', '--remove', '--root', root, ...more], c.io);
    return { code, text: c.out.join('\n') };
  };

  it('--apply installs the three files with the documented contents; the dry run shows each with its why', async () => {
    const dry = await setup('--dry-run');
    assert.equal(dry.code, 0, dry.text);
    assert.match(dry.text, /^# the ALSA name sbc-audio that players open .*\n--- \/dev\/null\n\+\+\+ \/etc\/alsa\/conf\.d\/50-sbc-audio\.conf$/m);
    assert.match(dry.text, /^# snd-aloop at boot.*\n--- \/dev\/null\n\+\+\+ \/etc\/modules-load\.d\/sbc-audio\.conf\n@@[^\n]*\n\+#[^\n]*\n\+snd-aloop$/m);
    assert.match(dry.text, /^\+options snd-aloop id=Loopback index=-2 pcm_substreams=8$/m);
    const r = await setup('--apply');
    assert.equal(r.code, 0, r.text);
    assert.deepEqual(readFileSync(at('etc/alsa/conf.d/50-sbc-audio.conf')), readFileSync(TEMPLATE), 'the template, byte for byte');
    const modulesLoad = readFileSync(at('etc/modules-load.d/sbc-audio.conf'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(modulesLoad, ['snd-aloop']);
    const modprobe = readFileSync(at('etc/modprobe.d/sbc-audio.conf'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(modprobe, ['options snd-aloop id=Loopback index=-2 pcm_substreams=8']);
    assert.equal(readFileSync(at('etc/modprobe.d/blacklist-rtl8192cu.conf'), 'utf8'), 'blacklist rtl8192cu\n', 'the neighbour is untouched');
    // The template: the plan's alias (plug over hw Loopback device 0, no subdevice; a hint) and ctl.
    const conf = readFileSync(TEMPLATE, 'utf8').replace(/#.*$/gm, '');
    // (device 0 is hw's default, left out so that aplay -L lists the name: checked below with alsa-lib.)
    assert.match(conf, /pcm\.sbc-audio\s*\{\s*type plug\s*slave\.pcm\s*\{\s*type hw\s*card Loopback\s*\}\s*hint\s*\{\s*show on\s*description "[^"]+"\s*\}\s*\}/);
    assert.match(conf, /ctl\.sbc-audio\s*\{\s*type hw\s*card Loopback\s*\}/);
    assert.doesNotMatch(conf, /subdevice|dmix|device\s+\d/);
    // Idempotent: a second --apply changes nothing, not even a time stamp.
    const before = tree(root);
    const mtimes = ALSA_FILES.map((f) => lstatSync(at(f)).mtimeMs);
    const again = await setup('--apply', '--json');
    assert.deepEqual((JSON.parse(again.text) as { changes: unknown[] }).changes, []);
    assert.deepEqual(tree(root), before);
    assert.deepEqual(ALSA_FILES.map((f) => lstatSync(at(f)).mtimeMs), mtimes);
  });

  it('--no-alsa-in leaves the three files out (and the default has them: the control)', async () => {
    const without = await setup('--no-alsa-in', '--json');
    const paths = (JSON.parse(without.text) as { changes: { path: string }[] }).changes.map((c) => c.path);
    for (const f of ALSA_FILES) assert.ok(!paths.includes(f), `${f} planned with --no-alsa-in`);
    assert.ok(paths.includes('/etc/systemd/system/sbc-audio.service'), 'the rest of setup is still there');
    const withIt = await setup('--json');
    const all = (JSON.parse(withIt.text) as { changes: { path: string }[] }).changes.map((c) => c.path);
    for (const f of ALSA_FILES) assert.ok(all.includes(f), `${f} not planned by default`);
    assert.deepEqual(all.filter((p) => !ALSA_FILES.includes(p)), paths);
  });

  it('--remove gives back the tree exactly as it was before setup; a second --remove does nothing', async () => {
    const pristine = tree(root);
    assert.equal((await setup('--apply')).code, 0);
    assert.equal((await setup('--apply')).code, 0, 'a second setup in between changes nothing either');
    const installed = tree(root);
    assert.notDeepEqual(installed, pristine);
    // The dry run names every step and changes nothing.
    const dry = await remove('--dry-run');
    assert.equal(dry.code, 0, dry.text);
    for (const f of ALSA_FILES) assert.match(dry.text, new RegExp(`^delete ${f.replace(/[.]/g, '\\.')}: `, 'm'));
    assert.match(dry.text, /^-dtoverlay=sbc-i2s-duplex$/m, 'config.txt: the diff back to the backup');
    assert.match(dry.text, /^\+dtoverlay=wm8960-soundcard$/m);
    assert.match(dry.text, /^remove directory \/etc\/alsa\/conf\.d: /m);
    assert.doesNotMatch(dry.text, /modprobe\.d: a directory/, 'a directory that was there before is not setup\'s');
    assert.deepEqual(tree(root), installed, 'the dry run changed nothing');
    const r = await remove('--apply');
    assert.equal(r.code, 0, r.text);
    assert.deepEqual(tree(root), pristine);
    const again = await remove('--apply', '--json');
    assert.equal(again.code, 0);
    assert.deepEqual(JSON.parse(again.text).actions, []);
    assert.equal(JSON.parse(again.text).recorded, false);
    assert.deepEqual(tree(root), pristine);
  });

  it('files the user changed since setup are kept; in config.txt only setup\'s lines go (negative control of the exact restore)', async () => {
    assert.equal((await setup('--apply')).code, 0);
    // The user adds a field to the config file setup created, an option to the modprobe file, and a
    // line of their own to config.txt below setup's.
    const cfg = at('etc/sbc-audio/config.json');
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), binds: ['headphone'] }, null, 2));
    appendFileSync(at('etc/modprobe.d/sbc-audio.conf'), 'options snd-aloop pcm_notify=1\n');
    appendFileSync(at('boot/firmware/config.txt'), 'dtparam=act_led_trigger=heartbeat\n');
    const r = await remove('--apply');
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /^note: \/etc\/sbc-audio\/config\.json was changed since setup wrote it \(its SHA-256 is not the one setup recorded\): kept$/m);
    assert.match(r.text, /^note: \/etc\/modprobe\.d\/sbc-audio\.conf was changed since setup wrote it .*: kept$/m);
    assert.deepEqual(JSON.parse(readFileSync(cfg, 'utf8')).binds, ['headphone']);
    assert.match(readFileSync(at('etc/modprobe.d/sbc-audio.conf'), 'utf8'), /pcm_notify=1/);
    // config.txt: the original with the user's line, setup's lines gone (the user's line sits after the
    // lines setup appended, which were one block: the blank line, the comment and the lines).
    assert.equal(readFileSync(at('boot/firmware/config.txt'), 'utf8'), `${CONFIG}dtparam=act_led_trigger=heartbeat\n`);
    assert.match(r.text, /^note: \/boot\/firmware\/config\.txt was changed since setup: the backup from before setup, \/boot\/firmware\/config\.txt\.sbc-audio\.bak, is kept$/m);
    assert.equal(readFileSync(at('boot/firmware/config.txt.sbc-audio.bak'), 'utf8'), CONFIG);
    // Unchanged files went as usual, and the directories that still hold a kept file stay.
    for (const f of ['/etc/alsa/conf.d/50-sbc-audio.conf', '/etc/modules-load.d/sbc-audio.conf', '/etc/systemd/system/sbc-audio.service']) {
      assert.throws(() => lstatSync(at(f)), /ENOENT/, `${f} should be gone`);
    }
    assert.equal(readFileSync(at('etc/modules'), 'utf8'), '# /etc/modules\n');
    assert.match(r.text, /^note: \/etc\/sbc-audio \(made by setup\) is kept: it holds config\.json$/m);
  });

  it('taking out setup\'s lines: each block where it stands, a line the user edited is left with a note', () => {
    const a = 'x\n#dtparam=i2s=on\ny\n';
    const b = 'x\ndtparam=i2s=on\ny\n\n# sbc-audio\ndtoverlay=o\n';
    const hunks = diffHunks(a, b);
    assert.deepEqual(revertHunks(b, hunks, true), { text: a, missed: [] }, 'the file as written: exactly the original');
    assert.equal(revertHunks(`top\n${b}mine\n`, hunks).text, `top\n${a}mine\n`, 'lines of the user before and after stay');
    const r = revertHunks(b.replace('dtparam=i2s=on\n', 'dtparam=i2s=on,foo\n'), hunks);
    assert.equal(r.text, 'x\ndtparam=i2s=on,foo\ny\n', 'the appended block goes; the line the user edited stays as the user left it');
    assert.deepEqual(r.missed.map((h) => h.added), [['dtparam=i2s=on\n']]);
    // Negative control: a file without setup's lines is given back unchanged, every hunk missed.
    const none = revertHunks(a, hunks);
    assert.equal(none.text, a);
    assert.equal(none.missed.length, hunks.length);
  });

  it('alsa-lib reads the installed file: sbc-audio resolves to card Loopback (PCM and ctl); without it, or broken, it does not', async () => {
    assert.equal((await setup('--apply')).code, 0);
    const installed = `/usr/share/alsa/alsa.conf:${at('etc/alsa/conf.d/50-sbc-audio.conf')}`;
    for (const kind of ['captured', 'control'] as const) {
      const o = alsaOpen(kind, 'sbc-audio', installed);
      if (hasLoopbackCard) assert.equal(o.opened, true, JSON.stringify(o));
      // The name was found and expanded down to its hw slave: the only complaint is the missing card.
      else assert.match(o.message ?? '', /alsa-lib: .*Cannot get card index for Loopback/, JSON.stringify(o));
    }
    // Controls: without the file the name is unknown; a broken copy is a parse error of that file.
    assert.match(alsaOpen('captured', 'sbc-audio', '/usr/share/alsa/alsa.conf').message ?? '', /Unknown PCM sbc-audio/);
    assert.match(alsaOpen('control', 'sbc-audio', '/usr/share/alsa/alsa.conf').message ?? '', /Invalid CTL sbc-audio/);
    const broken = at('broken.conf');
    writeFileSync(broken, readFileSync(TEMPLATE, 'utf8').replace(/\n\}\n*$/, '\n'));
    const b = alsaOpen('captured', 'sbc-audio', `/usr/share/alsa/alsa.conf:${broken}`).message ?? '';
    assert.match(b, /broken\.conf may be old or corrupted|Unexpected end of file|Unexpected char/, b);
    // aplay -L (alsa-lib's name hints, what players' device pickers show) lists it with its description
    // and prints nothing on stderr; aplay comes with alsa-utils (tests/hil/run-vm.sh installs it).
    const listed = spawnSync('aplay', ['-L'], { encoding: 'utf8', env: { ...process.env, ALSA_CONFIG_PATH: installed } });
    assert.equal(listed.error, undefined, 'aplay is missing: apt-get install alsa-utils');
    assert.equal(listed.stderr, '');
    assert.match(listed.stdout, /^sbc-audio\n\s+sbc-audio: play through the appliance's board$/m);
    const plain = spawnSync('aplay', ['-L'], { encoding: 'utf8', env: { ...process.env, ALSA_CONFIG_PATH: '/usr/share/alsa/alsa.conf' } });
    assert.doesNotMatch(plain.stdout, /^sbc-audio$/m, 'control: not listed without the file');
    // And a `device 0` in the slave (what the plan first wrote) hides it: the reason the template leaves it out.
    const withDevice = at('with-device.conf');
    writeFileSync(withDevice, readFileSync(TEMPLATE, 'utf8').replace(/card Loopback\n/, 'card Loopback\n\t\tdevice 0\n'));
    const hidden = spawnSync('aplay', ['-L'], { encoding: 'utf8', env: { ...process.env, ALSA_CONFIG_PATH: `/usr/share/alsa/alsa.conf:${withDevice}` } });
    assert.equal(hidden.stderr, '');
    assert.doesNotMatch(hidden.stdout, /^sbc-audio$/m);
  });
});
