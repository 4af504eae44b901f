/**
 * `sbc-audio setup --time-server` / `--time-from HOST` (issue 28): chrony's drop-in
 * /etc/chrony/conf.d/sbc-audio.conf on a fake Raspberry Pi root, its removal, and the shipped files
 * read by a real chronyd (`chronyd -p`: parse the configuration, print it, exit; chronyd(8)) from
 * scripts/timesync-tools.sh — no daemon is started here.
 *
 * Expected directives are chrony.conf(5)'s, as the plan (docs/deploy-raspberry-pi.md) chose them:
 * the server `local stratum 10`, `allow` for the private ranges, `makestep 1 -1`, `rtcsync`; the
 * others `server HOST iburst minpoll 0 maxpoll 4 prefer`, `makestep 1 -1`, `rtcsync`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER_TEMPLATE = path.join(ROOT, 'deploy/chrony/time-server.conf');
const CLIENT_TEMPLATE = path.join(ROOT, 'deploy/chrony/time-client.conf');
const DROP_IN = 'etc/chrony/conf.d/sbc-audio.conf';
const CONFIG = ['# Raspberry Pi OS', 'dtparam=audio=on', ''].join('\n');
// Debian 12's /etc/chrony/chrony.conf, its lines that matter here (package chrony 4.3).
const DEBIAN_CHRONY_CONF = ['pool 2.debian.pool.ntp.org iburst', 'sourcedir /run/chrony-dhcp', 'sourcedir /etc/chrony/sources.d', 'confdir /etc/chrony/conf.d', ''].join('\n');

/** Every path under dir with its type and content (a link: its target), sorted. */
function tree(dir: string): string[] {
  const walk = (rel: string): string[] => readdirSync(path.join(dir, rel)).flatMap((name) => {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(path.join(dir, r));
    if (st.isSymbolicLink()) return [`${r} link -> ${readlinkSync(path.join(dir, r))}`];
    if (st.isDirectory()) return [`${r} dir ${(st.mode & 0o7777).toString(8)}`, ...walk(r)];
    return [`${r} file ${readFileSync(path.join(dir, r)).toString('base64')}`];
  });
  return walk('').sort();
}

/** The directives a file holds: no comments, no blank lines. */
const directives = (text: string) => text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);

describe('setup: chrony drop-in for an appliance group (--time-server / --time-from)', function () {
  this.timeout(60_000);
  let root: string;
  let chronyd = '';
  const at = (p: string) => path.join(root, p);

  before(function () {
    this.timeout(180_000); // timesync-tools.sh downloads ~1 MB the first time
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/timesync-tools.sh')], { encoding: 'utf8', timeout: 170_000 });
    assert.equal(r.status, 0, `scripts/timesync-tools.sh: ${r.stderr}`);
    chronyd = path.join(r.stdout.trim(), 'usr/sbin/chronyd');
  });

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'sbc-setup-chrony-'));
    mkdirSync(at('boot/firmware'), { recursive: true });
    writeFileSync(at('boot/firmware/config.txt'), CONFIG);
    mkdirSync(at('etc'));
    writeFileSync(at('etc/modules'), '# /etc/modules\n');
    writeFileSync(at('etc/group'), 'root:x:0:\naudio:x:29:\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const setup = async (...more: string[]) => {
    const out: string[] = [];
    const code = await main(['setup', '--board', 'hifiberry-dacplus', '--root', root, '--no-alsa-in', ...more], { out: (t) => out.push(t), err: (t) => out.push(t), isTTY: false });
    return { code, text: out.join('\n') };
  };
  /** chronyd -p on a file: its exit status and what it printed (the directives it parsed). */
  const chronydParse = (file: string) => {
    const r = spawnSync(chronyd, ['-p', '-x', '-u', 'root', '-f', file], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, directives: r.stdout.trim().split('\n').filter(Boolean), stderr: r.stderr };
  };

  it('--time-server installs deploy/chrony/time-server.conf, which chronyd parses into the documented directives', async () => {
    const r = await setup('--time-server', '--apply');
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /^created .*\/etc\/chrony\/conf\.d\/sbc-audio\.conf: chrony serves time to the group/m);
    assert.deepEqual(readFileSync(at(DROP_IN)), readFileSync(SERVER_TEMPLATE), 'the template, byte for byte');
    const parsed = chronydParse(at(DROP_IN));
    assert.equal(parsed.status, 0, parsed.stderr);
    assert.deepEqual(parsed.directives, [
      'local stratum 10', 'allow 10.0.0.0/8', 'allow 172.16.0.0/12', 'allow 192.168.0.0/16', 'allow fe80::/10', 'allow fc00::/7', 'makestep 1 -1', 'rtcsync',
    ]);
    // Negative control for chronyd -p: a directive it does not know fails.
    const bad = path.join(root, 'bad.conf');
    writeFileSync(bad, `${readFileSync(SERVER_TEMPLATE, 'utf8')}\nlocal_stratum 10\n`);
    assert.notEqual(chronydParse(bad).status, 0, 'chronyd -p accepted an unknown directive: the check above could not fail');
    // chrony not installed in this root: the note says so.
    assert.match(r.text, /^note: chrony is not installed: sudo apt-get install chrony/m);
  });

  it('--time-from HOST fills in the server line; chronyd parses it; no placeholder is left', async () => {
    mkdirSync(at('etc/chrony/conf.d'), { recursive: true });
    writeFileSync(at('etc/chrony/chrony.conf'), DEBIAN_CHRONY_CONF);
    const r = await setup('--time-from', 'snapserver.local', '--apply');
    assert.equal(r.code, 0, r.text);
    const text = readFileSync(at(DROP_IN), 'utf8');
    assert.doesNotMatch(text, /@TIME_SERVER@/);
    assert.deepEqual(directives(text), ['server snapserver.local iburst minpoll 0 maxpoll 4 prefer', 'makestep 1 -1', 'rtcsync']);
    assert.equal(text, readFileSync(CLIENT_TEMPLATE, 'utf8').replaceAll('@TIME_SERVER@', 'snapserver.local'), 'only the placeholder changed');
    const parsed = chronydParse(at(DROP_IN));
    assert.equal(parsed.status, 0, parsed.stderr);
    assert.deepEqual(parsed.directives, ['server snapserver.local iburst minpoll 0 maxpoll 4 prefer', 'makestep 1 -1', 'rtcsync']);
    assert.doesNotMatch(r.text, /confdir|not installed/, 'Debian\'s chrony.conf reads conf.d: no note');
    // An IPv6 address is a host too.
    const v6 = await setup('--time-from', 'fe80::1%eth0', '--dry-run');
    assert.equal(v6.code, 0, v6.text);
    assert.match(v6.text, /^\+server fe80::1%eth0 iburst minpoll 0 maxpoll 4 prefer$/m);
  });

  it('a chrony.conf without the confdir line gets a note; neither option plans no chrony file (control); bad arguments are refused', async () => {
    mkdirSync(at('etc/chrony'), { recursive: true });
    writeFileSync(at('etc/chrony/chrony.conf'), 'pool 2.debian.pool.ntp.org iburst\n');
    const r = await setup('--time-server', '--json');
    const report = JSON.parse(r.text) as { changes: { path: string }[]; notes: string[] };
    assert.ok(report.changes.some((c) => c.path === '/etc/chrony/conf.d/sbc-audio.conf'));
    assert.ok(report.notes.includes('/etc/chrony/chrony.conf has no "confdir /etc/chrony/conf.d" line: add it, or /etc/chrony/conf.d/sbc-audio.conf is not read'), report.notes.join('\n'));
    const plain = JSON.parse((await setup('--json')).text) as { changes: { path: string }[] };
    assert.ok(!plain.changes.some((c) => c.path.startsWith('/etc/chrony')), 'no chrony file without --time-server / --time-from');
    assert.deepEqual(plain.changes.map((c) => c.path), report.changes.map((c) => c.path).filter((p) => !p.startsWith('/etc/chrony')), 'the rest is the same');
    const both = await setup('--time-server', '--time-from', 'a.local');
    assert.equal(both.code, 2);
    assert.match(both.text, /--time-server and --time-from exclude each other/);
    const spaced = await setup('--time-from', 'a.local iburst');
    assert.equal(spaced.code, 2);
    assert.match(spaced.text, /--time-from: "a\.local iburst" is not a host name or an IP address/);
    const removeWith = await main(['setup', '--remove', '--root', root, '--time-server'], { out: () => undefined, err: () => undefined, isTTY: false });
    assert.equal(removeWith, 2);
  });

  it('--remove takes the drop-in away (and the conf.d directory setup made), leaving the tree as it was', async () => {
    const before = tree(root);
    const r = await setup('--time-from', '10.0.0.2', '--apply');
    assert.equal(r.code, 0, r.text);
    assert.ok(existsSync(at(DROP_IN)));
    const out: string[] = [];
    const code = await main(['setup', '--remove', '--root', root, '--apply'], { out: (t) => out.push(t), err: (t) => out.push(t), isTTY: false });
    assert.equal(code, 0, out.join('\n'));
    assert.match(out.join('\n'), /^deleted .*\/etc\/chrony\/conf\.d\/sbc-audio\.conf: chrony takes the time from 10\.0\.0\.2/m);
    assert.deepEqual(tree(root), before);
  });
});
