/**
 * Guest only: `sbc-audio doctor` on a real kernel. The board is written below: a PCM5122 on the
 * i2c-stub bus at 0x4c (banked by page, tests/hil/guest-init.sh), its mute pin on gpio-sim line 5,
 * the ALSA card snd-dummy's `Dummy`. A healthy setup — the service running as root with
 * `--group audio` in /run/sbc-audio root:audio 0750, as systemd's RuntimeDirectory makes it, and
 * doctor run with the unit's LimitMEMLOCK=infinity — passes every check; then each break is a real
 * one, each failing its own check with its fix and passing again once undone (the negative control):
 *   (a) i2c-dev unloaded (rmmod i2c_dev: /dev/i2c-N goes while the kernel keeps bus i2c-N);
 *   (b) the codec's address claimed by a kernel driver (at24 bound as a 24c02 at 0x4c through
 *       /sys/bus/i2c/devices/i2c-N/new_device: /sys/bus/i2c/devices/N-004c/driver -> at24);
 *   (c) the ALSA card missing (rmmod snd_dummy);
 *   (d) the GPIO line held by another process (libgpiod's gpioset holding line 5).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../../src/cli/main.ts';
import { hilEnv } from '../env.ts';
import { finishChild, run } from '../peers.ts';

const env = hilEnv();
const ADDR = 0x4c;
const MUTE_LINE = 5;
const BOARD = 'guest-doctor';
const AUDIO_GID = 29;
const RUNTIME = '/run/sbc-audio';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
/** A hang guard only: nothing is timed (TCG makes every start slow). */
const HANG_GUARD_MS = 120_000;

interface Check { id: string; status: 'pass' | 'fail' | 'skip' | 'warn'; detail: string; fix: string }

/** The command under `sh` (busybox): `ulimit -l unlimited` as the unit's LimitMEMLOCK=infinity. */
function sbcAudio(args: string[]): ChildProcess {
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const env2 = { ...process.env };
  delete env2.XDG_RUNTIME_DIR;
  return spawn('sh', ['-c', `ulimit -l unlimited && exec '${process.execPath}' '${BIN}' ${quoted}`], { cwd: ROOT, env: env2, stdio: ['ignore', 'pipe', 'pipe'] });
}

const finish = (child: ChildProcess) => finishChild(child, HANG_GUARD_MS);

describe('sbc-audio doctor on a real kernel (guest)', function () {
  this.timeout(300_000);
  const ready = env.tier === 'guest' && env.i2c?.pcm5122Addrs.includes(ADDR) && env.gpio?.simDir !== undefined && env.alsa.dummy;
  if (!ready) {
    it('needs the QEMU guest (tests/hil/run-vm.sh)', function () { this.skip(); }); // reason: outside the guest there is no i2c-stub/gpio-sim/snd-dummy to break
    return;
  }
  const i2c = env.i2c!;
  const gpio = env.gpio!;
  const client = `${i2c.bus}-00${ADDR.toString(16)}`;
  let dir: string;
  let boardFile: string;

  /**
   * `sbc-audio doctor --json`: in a child under the unit's memlock limit (the healthy case), or
   * in this process through the CLI's own entry (the breaks: faster under TCG; this process's
   * memlock limit then fails that check, which the breaks do not look at).
   */
  async function doctor(where: 'child' | 'here' = 'here'): Promise<{ code: number | null; checks: Record<string, Check>; text: string }> {
    const args = ['doctor', '--board', boardFile, '--json', '--group', 'audio', '--runtime-dir', RUNTIME];
    let r: { code: number | null; stdout: string; stderr: string };
    if (where === 'child') {
      r = await finish(sbcAudio(args));
    } else {
      const out: string[] = [], err: string[] = [];
      const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false });
      r = { code, stdout: out.join('\n'), stderr: err.join('\n') };
    }
    let report: { checks: Check[] };
    try {
      report = JSON.parse(r.stdout) as { checks: Check[] };
    } catch {
      throw new Error(`doctor printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code, checks: Object.fromEntries(report.checks.map((c) => [c.id, c])), text: r.stdout };
  }
  const hardware = (c: Record<string, Check>) => ['i2c-bus', 'codec-not-bound', 'codec-answers', 'alsa-card', 'gpio-lines'].map((id) => `${id}:${c[id]!.status}`).join(' ');

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-guest-doctor-'));
    boardFile = path.join(dir, `${BOARD}.json`);
    writeFileSync(boardFile, JSON.stringify({
      name: BOARD,
      description: 'HIL guest: PCM5122 on i2c-stub, mute on a gpio-sim line, the snd-dummy card',
      manufacturer: 'sbc-audio HIL guest',
      hal: 'linux',
      codec: { part: 'pcm5122', bus: i2c.bus, address: `0x${ADDR.toString(16)}`, options: { filter: 'normal' } },
      gpio: { mute: { chip: gpio.chip, line: MUTE_LINE } },
      alsaCard: 'Dummy',
      streams: [{ id: 'line-out', direction: 'output', purpose: 'line-out', pcm: 'hw:Dummy', plug: 'hardwired' }],
    }));
    // The group the unit names (Group=audio); the guest's /etc is in RAM.
    const groups = readFileSync('/etc/group', 'utf8');
    if (!/^audio:/m.test(groups)) writeFileSync('/etc/group', `${groups.trimEnd()}\naudio:x:${AUDIO_GID}:\n`);
    // i2c-stub models no chip: page 0 and the registers init touches from zero (analog mute detect 0 = settled).
    const i2cset = (reg: number, v: number) => run('i2cset', ['-y', String(i2c.bus), `0x${ADDR.toString(16)}`, `0x${reg.toString(16)}`, `0x${v.toString(16)}`]);
    await i2cset(0x00, 0x00);
    for (const reg of [0x02, 0x03, 0x2b, 0x3d, 0x3e, 0x6c]) await i2cset(reg, 0x00);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(RUNTIME, { recursive: true, force: true });
  });

  it('a healthy setup: the service running (root, --group audio), every check passes and doctor exits 0', async () => {
    rmSync(RUNTIME, { recursive: true, force: true });
    mkdirSync(RUNTIME);
    chownSync(RUNTIME, 0, AUDIO_GID);
    chmodSync(RUNTIME, 0o750); // as RuntimeDirectory=sbc-audio, RuntimeDirectoryMode=0750, Group=audio
    const serve = sbcAudio(['serve', '--board', boardFile, '--group', 'audio', '--runtime-dir', RUNTIME]);
    const served = finish(serve);
    try {
      // Published once "serving" is printed (after the endpoints are bound).
      await new Promise<void>((resolve, reject) => {
        let out = '';
        serve.stdout!.on('data', (d) => { out += d; if (/^serving /m.test(out)) resolve(); });
        void served.then((r) => reject(new Error(`serve exited (${r.code}) before publishing:\n${r.stderr}`)), reject);
      });
      const { code, checks, text } = await doctor('child');
      assert.equal(Object.values(checks).map((c) => `${c.id}:${c.status}`).join(' '),
        // clock-sync warns: no chronyd or ptp4l runs in this guest (the rooms rig checks it with chronyd: tests/hil/rooms/rooms.hil.ts); a warning keeps exit 0.
        'i2c-bus:pass codec-not-bound:pass codec-answers:pass alsa-card:pass gpio-lines:pass memlock:pass rtprio:pass runtime-dir:pass service:pass clock-sync:warn', text);
      assert.equal(code, 0);
      assert.equal(checks['i2c-bus']!.detail, `/dev/i2c-${i2c.bus} is there`);
      assert.equal(checks['codec-answers']!.detail, `the pcm5122 answers at 0x4c on i2c-${i2c.bus} (read ANALOG_MUTE_DET, ANALOG_GAIN_CTRL)`);
      assert.equal(checks['alsa-card']!.detail, 'card Dummy is in /proc/asound/cards');
      // The service holds its own mute line ('sbc-audio mute'): that is not "held by another process".
      assert.equal(checks['gpio-lines']!.detail, `free: mute (${gpio.chip} line ${MUTE_LINE}, held by the running service)`);
      assert.equal(checks['runtime-dir']!.detail, `${RUNTIME}: mode 0750, owner root, group audio`);
      assert.equal(checks.service!.detail, `1 stream of ${BOARD} published under ${RUNTIME}, accepting connections`);
    } finally {
      serve.kill('SIGTERM');
      await served;
    }
    // Negative control: the service stopped, doctor fails (exit 1) on the service alone.
    const { code, checks } = await doctor('child');
    assert.equal(code, 1);
    assert.equal(hardware(checks), 'i2c-bus:pass codec-not-bound:pass codec-answers:pass alsa-card:pass gpio-lines:pass');
    assert.equal(checks.service!.status, 'fail');
    assert.equal(checks.service!.detail, `no stream of board ${BOARD} under ${RUNTIME}`);
  });

  it('(a) i2c-dev not loaded: i2c-bus fails with the modprobe fix, the probe is not tried; reloaded, it passes', async () => {
    await run('rmmod', ['i2c_dev']);
    try {
      assert.equal(existsSync(`/dev/i2c-${i2c.bus}`), false, 'rmmod i2c_dev removed the device node');
      const { code, checks } = await doctor();
      assert.equal(code, 1);
      assert.equal(hardware(checks), 'i2c-bus:fail codec-not-bound:pass codec-answers:skip alsa-card:pass gpio-lines:pass');
      assert.equal(checks['i2c-bus']!.detail, `/dev/i2c-${i2c.bus} is missing but the kernel has bus i2c-${i2c.bus}: the i2c-dev module is not loaded`);
      assert.equal(checks['i2c-bus']!.fix, `sudo modprobe i2c-dev, and add a line i2c-dev to /etc/modules (sbc-audio setup --board ${BOARD} --apply, then reboot does both)`);
      assert.equal(checks['codec-answers']!.detail, 'not tried: i2c-bus failed');
    } finally {
      await run('modprobe', ['i2c-dev']);
    }
    const { checks } = await doctor();
    assert.equal(hardware(checks), 'i2c-bus:pass codec-not-bound:pass codec-answers:pass alsa-card:pass gpio-lines:pass');
  });

  it('(b) the codec address claimed by a kernel driver (at24 at 0x4c): codec-not-bound names it and the unbind; removed, it passes', async () => {
    await run('modprobe', ['at24']);
    writeFileSync(`/sys/bus/i2c/devices/i2c-${i2c.bus}/new_device`, `24c02 0x${ADDR.toString(16)}`);
    try {
      const link = `/sys/bus/i2c/devices/${client}/driver`;
      assert.equal(path.basename(readlinkSync(link)), 'at24', 'the kernel bound at24 to the address');
      const { code, checks } = await doctor();
      assert.equal(code, 1);
      assert.equal(hardware(checks), 'i2c-bus:pass codec-not-bound:fail codec-answers:skip alsa-card:pass gpio-lines:pass');
      assert.equal(checks['codec-not-bound']!.detail,
        `0x4c on i2c-${i2c.bus} is bound to the kernel driver at24 (/sys/bus/i2c/devices/${client}/driver): sbc-audio's I2C access gets EBUSY`);
      assert.equal(checks['codec-not-bound']!.fix,
        `remove the HAT's own dtoverlay line from /boot/firmware/config.txt and use dtoverlay=(the board's overlay) (sbc-audio setup --board ${BOARD} --apply, then reboot); until the reboot: echo ${client} | sudo tee /sys/bus/i2c/drivers/at24/unbind`);
    } finally {
      writeFileSync(`/sys/bus/i2c/devices/i2c-${i2c.bus}/delete_device`, `0x${ADDR.toString(16)}`);
    }
    const { checks } = await doctor();
    assert.equal(hardware(checks), 'i2c-bus:pass codec-not-bound:pass codec-answers:pass alsa-card:pass gpio-lines:pass');
  });

  it('(c) the ALSA card missing (snd-dummy unloaded): alsa-card lists the cards there are; reloaded, it passes', async () => {
    await run('rmmod', ['snd_dummy']);
    try {
      const { code, checks } = await doctor();
      assert.equal(code, 1);
      assert.equal(hardware(checks), 'i2c-bus:pass codec-not-bound:pass codec-answers:pass alsa-card:fail gpio-lines:pass');
      assert.match(checks['alsa-card']!.detail, /^card Dummy is not in \/proc\/asound\/cards \(cards: (?!.*\bDummy\b).*Loopback.*\)$/);
      assert.equal(checks['alsa-card']!.fix, "put dtparam=i2s=on and the overlay that creates it in /boot/firmware/config.txt (sbc-audio setup --board guest-doctor --apply, then reboot); aplay -l lists the cards");
    } finally {
      await run('modprobe', ['snd-dummy']);
    }
    const { checks } = await doctor();
    assert.equal(checks['alsa-card']!.status, 'pass');
  });

  it('(d) a GPIO line held by another process (gpioset): gpio-lines names the holder; released, it passes', async () => {
    const holder = spawn('gpioset', ['--mode=signal', gpio.chip, `${MUTE_LINE}=1`], { stdio: 'ignore' });
    const exited = new Promise((r) => holder.once('exit', r));
    try {
      // gpioset holds the line once gpioinfo shows it as its consumer (polled; the guard is the test's timeout).
      for (;;) {
        const info = await run('gpioinfo', [gpio.chip]);
        if (new RegExp(`line\\s+${MUTE_LINE}:.*"gpioset"`).test(info)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const { code, checks } = await doctor();
      assert.equal(code, 1);
      assert.equal(hardware(checks), 'i2c-bus:pass codec-not-bound:pass codec-answers:pass alsa-card:pass gpio-lines:fail');
      assert.equal(checks['gpio-lines']!.detail, `mute: line ${MUTE_LINE} of ${gpio.chip} is held by 'gpioset'`);
      assert.match(checks['gpio-lines']!.fix, /^gpioinfo shows who holds each line: stop that program/);
    } finally {
      holder.kill('SIGTERM');
      await exited;
    }
    const { checks } = await doctor();
    assert.equal(checks['gpio-lines']!.status, 'pass');
    assert.equal(checks['gpio-lines']!.detail, `free: mute (${gpio.chip} line ${MUTE_LINE})`);
  });
});
