/**
 * From a fresh Pi to a running service, on this machine: `serve` refusing a board whose hardware is
 * absent before it publishes anything; `setup` on a fake root (dry run, apply with backups, apply
 * again changing nothing); the systemd unit through `systemd-analyze verify`; `serve --group`
 * giving the group its sockets and shared buffers; clients finding a system service.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import { loadBoard } from '../../src/board/load.ts';
import { main } from '../../src/cli/main.ts';
import { serveBoard } from '../../src/cli/wiring.ts';
import { StreamClient } from '../../src/stream/client.ts';
import { clientRuntimeDir, clientRuntimeDirs, listEndpoints } from '../../src/stream/discovery.ts';
import { hostRoot } from '../../src/system/host.ts';
import { editConfigTxt, planSetup } from '../../src/system/setup.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
const UNIT = path.join(ROOT, 'systemd/sbc-audio.service');
const AUDIO_GID = 29;

/** Runs the CLI in a child process; the limit is a hang guard only (nothing is timed). */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`hang guard: sbc-audio ${args.join(' ')} still running after 30 s`)); }, 30_000);
    child.on('close', (code) => { clearTimeout(guard); resolve({ code, stdout, stderr }); });
  });
}

function collect() {
  const out: string[] = [];
  return { out, io: { out: (t: string) => out.push(t), err: (t: string) => out.push(t), isTTY: false } };
}

describe('deploying on a Pi', function () {
  this.timeout(60_000);

  describe('serve without the hardware', () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sbc-serve-')); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('serve --board hifiberry-dacplus on this machine (no such card): exit 1, names what is missing and doctor, publishes nothing', async function () {
      const cards = existsSync('/proc/asound/cards') ? readFileSync('/proc/asound/cards', 'utf8') : '';
      if (cards.includes('[sndrpihifiberry')) this.skip(); // a Pi with the card: the next test still runs
      const rt = path.join(dir, 'rt');
      const r = await runCli(['serve', '--board', 'hifiberry-dacplus', '--runtime-dir', rt]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^sbc-audio serve: board hifiberry-dacplus: hardware missing, nothing published:\n/);
      assert.match(r.stderr, /\n {2}- card sndrpihifiberry is not in \/proc\/asound\/cards \(cards: [^)]*\)\n/);
      assert.match(r.stderr, /\nrun 'sbc-audio doctor --board hifiberry-dacplus' for the fixes\n$/);
      assert.equal(r.stdout, '', 'no "serving" line');
      assert.equal(existsSync(rt), false, 'the runtime directory was not even made');
    });

    it('the same on an empty host root: every missing part named (card, bus), for a board without a control bus too', async () => {
      const empty = path.join(dir, 'root');
      mkdirSync(empty);
      const rt = path.join(dir, 'rt');
      let r = await runCli(['serve', '--board', 'hifiberry-dacplus', '--runtime-dir', rt], { SBC_AUDIO_HOST_ROOT: empty });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, [
        'sbc-audio serve: board hifiberry-dacplus: hardware missing, nothing published:',
        '  - card sndrpihifiberry is not in /proc/asound/cards (cards: none)',
        '  - /dev/i2c-1 is missing and the kernel has no bus i2c-1',
        "run 'sbc-audio doctor --board hifiberry-dacplus' for the fixes", ''].join('\n'));
      r = await runCli(['serve', '--board', 'pimoroni-phat-dac', '--runtime-dir', rt], { SBC_AUDIO_HOST_ROOT: empty });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /card sndrpihifiberry is not in \/proc\/asound\/cards/);
      assert.equal(existsSync(rt), false);
    });

    it('negative control: the simulated twin on the same empty root publishes its stream', async () => {
      const empty = path.join(dir, 'root');
      mkdirSync(empty);
      const served = await serveBoard('pimoroni-phat-dac-sim', { runtimeDir: path.join(dir, 'rt'), hostRoot: hostRoot(empty), ringBuffer: false });
      try {
        assert.deepEqual(listEndpoints(path.join(dir, 'rt')).map((e) => e.name), ['pimoroni-phat-dac-sim.line-out', 'pimoroni-phat-dac-sim.line-out.monitor']);
      } finally {
        await served.close();
      }
    });

    it('refuses a runtime directory that anyone may write to, or that is a symbolic link', async () => {
      const rt = path.join(dir, 'rt');
      mkdirSync(rt, { mode: 0o777 });
      spawnSync('chmod', ['0777', rt]);
      await assert.rejects(serveBoard('sim', { runtimeDir: rt, ringBuffer: false }), /runtime directory .*\/rt is writable by anyone \(mode 777\); not using it/);
      const link = path.join(dir, 'link');
      spawnSync('ln', ['-s', rt, link]);
      await assert.rejects(serveBoard('sim', { runtimeDir: link, ringBuffer: false }), /runtime directory .*\/link is not a directory \(a symbolic link\); not using it/);
    });
  });

  describe('setup on a fake root', () => {
    let root: string;
    const CONFIG = [
      '# For more options and information see',
      '#dtparam=i2c_arm=on',
      '#dtparam=i2s=on',
      'dtparam=audio=on',
      '',
      '[cm4]',
      'otg_mode=1',
      '',
      '[all]',
      'dtoverlay=seeed-2mic-voicecard',
      '',
    ].join('\n');
    beforeEach(() => {
      root = mkdtempSync(path.join(tmpdir(), 'sbc-setup-'));
      mkdirSync(path.join(root, 'boot/firmware'), { recursive: true });
      mkdirSync(path.join(root, 'etc'), { recursive: true });
      writeFileSync(path.join(root, 'boot/firmware/config.txt'), CONFIG);
      writeFileSync(path.join(root, 'etc/modules'), '# /etc/modules\n');
      writeFileSync(path.join(root, 'etc/group'), `root:x:0:\naudio:x:${AUDIO_GID}:\n`);
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    const files = () => spawnSync('find', ['.', '-mindepth', '1'], { cwd: root, encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();

    it('--dry-run prints the diff and changes nothing', async () => {
      const before = files();
      const { out, io } = collect();
      assert.equal(await main(['setup', '--board', 'respeaker-2mic-v2', '--root', root, '--dry-run'], io), 0);
      const text = out.join('\n');
      assert.match(text, /^new binary file \/boot\/firmware\/overlays\/sbc-i2s-duplex-codec-master\.dtbo \(\d+ bytes\)/m);
      assert.match(text, /^-#dtparam=i2c_arm=on\n-#dtparam=i2s=on\n\+dtparam=i2c_arm=on\n\+dtparam=i2s=on$/m);
      assert.match(text, /^-dtoverlay=seeed-2mic-voicecard\n\+#dtoverlay=seeed-2mic-voicecard # sbc-audio: replaced by dtoverlay=sbc-i2s-duplex-codec-master \(board respeaker-2mic-v2\)$/m);
      assert.match(text, /^\+dtoverlay=sbc-i2s-duplex-codec-master$/m);
      assert.match(text, /^\+i2c-dev$/m);
      assert.match(text, /9 changes under .* \(dry run: nothing changed; --apply makes them\)/);
      assert.deepEqual(files(), before);
    });

    it('--apply writes the files with a backup of each it changes; a second --apply changes nothing', async () => {
      let c = collect();
      assert.equal(await main(['setup', '--board', 'respeaker-2mic-v2', '--root', root, '--apply'], c.io), 0);
      assert.deepEqual(files(), [
        './boot', './boot/firmware', './boot/firmware/config.txt', './boot/firmware/config.txt.sbc-audio.bak',
        './boot/firmware/overlays', './boot/firmware/overlays/sbc-i2s-duplex-codec-master.dtbo',
        './etc', './etc/alsa', './etc/alsa/conf.d', './etc/alsa/conf.d/50-sbc-audio.conf', './etc/group',
        './etc/modprobe.d', './etc/modprobe.d/sbc-audio.conf', './etc/modules', './etc/modules-load.d', './etc/modules-load.d/sbc-audio.conf',
        './etc/modules.sbc-audio.bak', './etc/sbc-audio', './etc/sbc-audio/config.json', './etc/sbc-audio/setup-record.json',
        './etc/systemd', './etc/systemd/system', './etc/systemd/system/multi-user.target.wants',
        './etc/systemd/system/multi-user.target.wants/sbc-audio.service', './etc/systemd/system/sbc-audio.service',
      ]);
      assert.equal(readFileSync(path.join(root, 'boot/firmware/config.txt'), 'utf8'), [
        '# For more options and information see',
        'dtparam=i2c_arm=on',
        'dtparam=i2s=on',
        'dtparam=audio=on',
        '',
        '[cm4]',
        'otg_mode=1',
        '',
        '[all]',
        '#dtoverlay=seeed-2mic-voicecard # sbc-audio: replaced by dtoverlay=sbc-i2s-duplex-codec-master (board respeaker-2mic-v2)',
        '',
        '# sbc-audio: board respeaker-2mic-v2 (I2S-only card; the codec is driven over I2C by sbc-audio)',
        'dtoverlay=sbc-i2s-duplex-codec-master',
        '',
      ].join('\n'));
      assert.equal(readFileSync(path.join(root, 'boot/firmware/config.txt.sbc-audio.bak'), 'utf8'), CONFIG);
      assert.equal(readFileSync(path.join(root, 'etc/modules'), 'utf8'), '# /etc/modules\ni2c-dev\n');
      assert.deepEqual(JSON.parse(readFileSync(path.join(root, 'etc/sbc-audio/config.json'), 'utf8')), { board: 'respeaker-2mic-v2', group: 'audio' });
      assert.equal(readlinkSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/sbc-audio.service')), '/etc/systemd/system/sbc-audio.service');
      const unit = readFileSync(path.join(root, 'etc/systemd/system/sbc-audio.service'), 'utf8');
      assert.ok(unit.includes(`\nExecStart=${process.execPath} ${BIN} serve --group audio\n`), unit);
      // The .dtbo is the overlay dtc makes from the source, and fdtget reads its card name.
      const dtbo = path.join(root, 'boot/firmware/overlays/sbc-i2s-duplex-codec-master.dtbo');
      assert.match(spawnSync('fdtdump', [dtbo], { encoding: 'utf8' }).stdout, /simple-audio-card,name = "sbci2sduplexcm"/);
      const snapshot = files().map((f) => `${f}:${lstatSync(path.join(root, f)).mtimeMs}`);

      c = collect();
      assert.equal(await main(['setup', '--board', 'respeaker-2mic-v2', '--root', root, '--apply', '--json'], c.io), 0);
      const second = JSON.parse(c.out.join('')) as { changes: unknown[]; backups: unknown[] };
      assert.deepEqual(second.changes, []);
      assert.deepEqual(second.backups, []);
      assert.deepEqual(files().map((f) => `${f}:${lstatSync(path.join(root, f)).mtimeMs}`), snapshot, 'a second --apply touched a file');
    });

    it('a firmware overlay (hifiberry-dacplus) installs no .dtbo; a board without a control bus gets no i2c lines', async () => {
      const plan = planSetup(loadBoard('hifiberry-dacplus'), { root: hostRoot(root) });
      assert.deepEqual(plan.changes.map((c) => c.path), [
        '/boot/firmware/config.txt', '/etc/modules', '/etc/systemd/system/sbc-audio.service',
        '/etc/systemd/system/multi-user.target.wants/sbc-audio.service', '/etc/sbc-audio/config.json',
        '/etc/alsa/conf.d/50-sbc-audio.conf', '/etc/modules-load.d/sbc-audio.conf', '/etc/modprobe.d/sbc-audio.conf',
      ]);
      assert.equal(plan.notes[0], 'dtoverlay=hifiberry-dac is one of the Pi firmware\'s own overlays: nothing to install in /boot/firmware/overlays/');
      const phat = editConfigTxt('dtoverlay=hifiberry-dac\n', loadBoard('pimoroni-phat-dac'));
      assert.equal(phat, 'dtoverlay=hifiberry-dac\n\n# sbc-audio: board pimoroni-phat-dac (I2S-only card; the codec is driven over I2C by sbc-audio)\ndtparam=i2s=on\n');
    });

    it('the HAT overlay with parameters is commented out too; under a [pi4] section our lines go under [all]', () => {
      const text = editConfigTxt('[pi4]\ndtoverlay=hifiberry-dacplus,slave\n', loadBoard('hifiberry-dacplus-pro'));
      assert.equal(text, [
        '[pi4]',
        '#dtoverlay=hifiberry-dacplus,slave # sbc-audio: replaced by dtoverlay=sbc-i2s-dac-codec-master (board hifiberry-dacplus-pro)',
        '',
        '[all]',
        '# sbc-audio: board hifiberry-dacplus-pro (I2S-only card; the codec is driven over I2C by sbc-audio)',
        'dtparam=i2c_arm=on',
        'dtparam=i2s=on',
        'dtoverlay=sbc-i2s-dac-codec-master',
        '',
      ].join('\n'));
      assert.equal(editConfigTxt(text, loadBoard('hifiberry-dacplus-pro')), text, 'a second edit changes nothing');
    });

    it('refuses a root without config.txt, a simulated board, and --dry-run with --apply', async () => {
      rmSync(path.join(root, 'boot'), { recursive: true });
      let c = collect();
      assert.equal(await main(['setup', '--board', 'hifiberry-dacplus', '--root', root], c.io), 1);
      assert.match(c.out.join(''), /no config.txt in .*\/boot\/firmware or .*\/boot: not a Raspberry Pi OS root/);
      c = collect();
      assert.equal(await main(['setup', '--board', 'sim', '--root', root], c.io), 1);
      assert.match(c.out.join(''), /board sim is simulated: nothing to set up on a Pi/);
      c = collect();
      assert.equal(await main(['setup', '--board', 'sim', '--root', root, '--apply', '--dry-run'], c.io), 2);
    });
  });

  describe('the systemd unit', () => {
    it('has the settings the service needs', () => {
      const unit = readFileSync(UNIT, 'utf8');
      for (const line of ['RuntimeDirectory=sbc-audio', 'RuntimeDirectoryMode=0750', 'Group=audio', 'StateDirectory=sbc-audio',
        'LimitMEMLOCK=infinity', 'LimitRTPRIO=95', 'Restart=on-failure', 'StandardError=journal', 'WantedBy=multi-user.target']) {
        assert.ok(unit.split('\n').includes(line), `missing: ${line}`);
      }
      assert.match(unit, /^ExecStart=\/usr\/bin\/env sbc-audio serve --group audio$/m);
    });

    it('passes systemd-analyze verify with nothing printed; a misspelt key is reported (negative control)', () => {
      const ok = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
      assert.equal(ok.error, undefined, "systemd-analyze is missing: 'make setup' installs Debian's systemd");
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stderr.trim(), '');
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-unit-'));
      try {
        const bad = path.join(dir, 'sbc-audio.service');
        writeFileSync(bad, readFileSync(UNIT, 'utf8').replace('LimitMEMLOCK=', 'LimitMEMLOK='));
        const r = spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' });
        assert.match(r.stderr, /Unknown key 'LimitMEMLOK' in section \[Service\]/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('the unit setup installs (ExecStart naming this node and checkout) passes systemd-analyze verify', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-unit-'));
      try {
        mkdirSync(path.join(dir, 'boot'));
        writeFileSync(path.join(dir, 'boot/config.txt'), '');
        const plan = planSetup(loadBoard('hifiberry-dacplus'), { root: hostRoot(dir) });
        const unit = plan.changes.find((c) => c.path === '/etc/systemd/system/sbc-audio.service')!;
        const file = path.join(dir, 'sbc-audio.service');
        writeFileSync(file, unit.after);
        const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr.trim(), '');
        assert.equal(plan.bootDir, '/boot', 'before Bookworm the firmware files are in /boot');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('serve --group', () => {
    it('sockets 0660 with the group, shared buffers 0660 with the group', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-group-'));
      const served = await serveBoard('sim', { runtimeDir: dir, group: { name: 'audio', gid: AUDIO_GID } });
      try {
        const endpoint = path.join(dir, 'audio-output', 'sim.speaker');
        const st = statSync(endpoint);
        assert.equal(st.mode & 0o777, 0o660);
        assert.equal(st.gid, AUDIO_GID);
        const c = await StreamClient.connect(endpoint);
        try {
          const f = await c.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
          assert.equal(f.result, 0);
          const rb = await c.openRingBuffer(f.token!);
          const b = await rb.getBuffer(4800, 0);
          assert.equal(b.result, 0);
          const bst = statSync(b.bufferPath!);
          assert.equal(bst.mode & 0o777, 0o660);
          assert.equal(bst.gid, AUDIO_GID);
          await rb.close();
        } finally {
          await c.close();
        }
      } finally {
        await served.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('negative control: without --group, buffers stay 0600', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-group-'));
      const served = await serveBoard('sim', { runtimeDir: dir });
      try {
        const c = await StreamClient.connect(path.join(dir, 'audio-output', 'sim.speaker'));
        const f = await c.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
        const rb = await c.openRingBuffer(f.token!);
        const b = await rb.getBuffer(4800, 0);
        assert.equal(statSync(b.bufferPath!).mode & 0o777, 0o600);
        await rb.close();
        await c.close();
      } finally {
        await served.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('serve --group with an unknown group is a usage error', async () => {
      const c = collect();
      assert.equal(await main(['serve', '--board', 'sim', '--group', 'no-such-group-here'], c.io), 2);
      assert.match(c.out.join(''), /--group no-such-group-here: no such group in \/etc\/group/);
    });
  });

  describe('clients find a system service', () => {
    it('look in $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio: the first with streams', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-client-'));
      try {
        const xdg = path.join(dir, 'xdg');
        const system = path.join(dir, 'run', 'sbc-audio');
        assert.deepEqual(clientRuntimeDirs({ XDG_RUNTIME_DIR: xdg }), [path.join(xdg, 'sbc-audio'), '/run/sbc-audio']);
        assert.deepEqual(clientRuntimeDirs({}), ['/run/sbc-audio']);
        const dirs = [path.join(xdg, 'sbc-audio'), system];
        assert.equal(clientRuntimeDir({}, dirs), dirs[0], 'nothing anywhere: the first');
        const served = await serveBoard('sim', { runtimeDir: system, ringBuffer: false });
        try {
          assert.equal(clientRuntimeDir({}, dirs), system, 'only the system service has streams');
          mkdirSync(path.join(xdg, 'sbc-audio', 'audio-output'), { recursive: true });
          assert.equal(clientRuntimeDir({}, dirs), system, 'an empty user directory does not hide the system service');
        } finally {
          await served.close();
        }
        assert.ok(readdirSync(dir).length > 0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
