/**
 * `sbc-audio doctor` on a fake machine: a root with the sysfs, procfs, /dev, /run and /etc files
 * each check reads, and a simulated HAL for the codec's bus and the GPIO chip. A healthy setup
 * passes every check (the negative control of each failure below); each broken one fails exactly
 * its check, with its fix.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCodecPart } from '../../codecs/index.ts';
import { loadBoard } from '../../src/board/load.ts';
import type { SimI2cDevice } from '../../src/hal/sim/i2c-device.ts';
import { createSimHal, type SimHal } from '../../src/hal/sim/index.ts';
import { main } from '../../src/cli/main.ts';
import { type CheckResult, hardwareProblems, runDoctor } from '../../src/system/doctor.ts';
import type { ClockSyncState } from '../../src/system/clock-sync.ts';
import { hostRoot, parseAsoundCards, parseLimits } from '../../src/system/host.ts';

const LIMITS_OK = `Limit                     Soft Limit           Hard Limit           Units
Max locked memory         unlimited            unlimited            bytes
Max realtime priority     95                   95
`;
const LIMITS_TIGHT = `Limit                     Soft Limit           Hard Limit           Units
Max locked memory         8388608              8388608              bytes
Max realtime priority     0                    0
`;
const CARDS_OK = ` 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones
                      bcm2835 Headphones
 1 [sndrpihifiberry]: RPi-simple - snd_rpi_hifiberry_dac
                      snd_rpi_hifiberry_dac
`;
const AUDIO_GID = 29;
const SYNCED_CLOCK: ClockSyncState = { source: 'chrony', synchronised: true, reference: '192.168.1.10', stratum: 3, offsetNs: 12_000, leap: 'Normal', detail: 'chronyd synchronised to 192.168.1.10' };

interface Machine {
  dir: string;
  sim: SimHal;
  servers: net.Server[];
}

/** A healthy machine for board iqaudio-dacplus (PCM5122 at 0x4c on i2c-1, mute on gpiochip0 line 22). */
async function healthy(): Promise<Machine> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-doctor-'));
  const w = (p: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), text);
  };
  w('dev/i2c-1', '');
  w('dev/gpiochip0', '');
  mkdirSync(path.join(dir, 'sys/bus/i2c/devices/i2c-1'), { recursive: true });
  w('proc/asound/cards', CARDS_OK);
  w('proc/self/limits', LIMITS_OK);
  w('etc/group', `root:x:0:\naudio:x:${AUDIO_GID}:pi\n`);
  const run = path.join(dir, 'run/sbc-audio');
  mkdirSync(path.join(run, 'audio-output'), { recursive: true });
  chownSync(run, 0, AUDIO_GID);
  chmodSync(run, 0o750);
  const servers: net.Server[] = [];
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(path.join(run, 'audio-output', 'iqaudio-dacplus.line-out'), resolve));
  servers.push(server);
  const sim = createSimHal();
  const part = await loadCodecPart('pcm5122');
  sim.simBus(1).attach(0x4c, part.createModel!() as SimI2cDevice);
  return { dir, sim, servers };
}

async function doctor(m: Machine, board = 'iqaudio-dacplus', uid = 0): Promise<Record<string, CheckResult>> {
  // The clock's state is tests/unit/clock-sync.test.ts's subject (real chronyd): here a synchronised one.
  const checks = await runDoctor(loadBoard(board), { root: hostRoot(m.dir), hal: async () => m.sim, uid, clockSync: async () => SYNCED_CLOCK });
  return Object.fromEntries(checks.map((c) => [c.id, c]));
}

function statuses(r: Record<string, CheckResult>): string {
  return Object.values(r).map((c) => `${c.id}:${c.status}`).join(' ');
}

describe('sbc-audio doctor', function () {
  this.timeout(20_000);
  let m: Machine;
  beforeEach(async () => { m = await healthy(); });
  afterEach(async () => {
    for (const s of m.servers) await new Promise((r) => s.close(r));
    await m.sim.close();
    rmSync(m.dir, { recursive: true, force: true });
  });

  it('a healthy setup passes every check, in the documented order', async () => {
    const r = await doctor(m);
    assert.equal(statuses(r), 'i2c-bus:pass codec-not-bound:pass codec-answers:pass alsa-card:pass gpio-lines:pass memlock:pass rtprio:pass runtime-dir:pass service:pass clock-sync:pass');
    assert.equal(r['codec-answers']!.detail, 'the pcm5122 answers at 0x4c on i2c-1 (read ANALOG_MUTE_DET, ANALOG_GAIN_CTRL)');
    assert.equal(r['runtime-dir']!.detail, `${m.dir}/run/sbc-audio: mode 0750, owner root, group audio`);
    assert.equal(r.service!.detail, `1 stream of iqaudio-dacplus published under ${m.dir}/run/sbc-audio, accepting connections`);
  });

  it('i2c-dev not loaded: /dev/i2c-1 missing while the kernel has the bus; the probe is not tried', async () => {
    rmSync(path.join(m.dir, 'dev/i2c-1'));
    const r = await doctor(m);
    assert.equal(r['i2c-bus']!.status, 'fail');
    assert.equal(r['i2c-bus']!.detail, '/dev/i2c-1 is missing but the kernel has bus i2c-1: the i2c-dev module is not loaded');
    assert.equal(r['i2c-bus']!.fix, 'sudo modprobe i2c-dev, and add a line i2c-dev to /etc/modules (sbc-audio setup --board iqaudio-dacplus --apply, then reboot does both)');
    assert.equal(r['codec-answers']!.status, 'skip');
    assert.equal(r['codec-answers']!.detail, 'not tried: i2c-bus failed');
  });

  it('the bus not enabled at all: the fix is dtparam=i2c_arm=on', async () => {
    rmSync(path.join(m.dir, 'dev/i2c-1'));
    rmSync(path.join(m.dir, 'sys'), { recursive: true });
    const r = await doctor(m);
    assert.equal(r['i2c-bus']!.detail, '/dev/i2c-1 is missing and the kernel has no bus i2c-1');
    assert.match(r['i2c-bus']!.fix, /^enable the bus with dtparam=i2c_arm=on in \/boot\/firmware\/config.txt/);
  });

  it("the codec's address claimed by a kernel driver: names the driver and the HAT overlay to remove", async () => {
    const client = path.join(m.dir, 'sys/bus/i2c/devices/1-004c');
    mkdirSync(client, { recursive: true });
    mkdirSync(path.join(m.dir, 'sys/bus/i2c/drivers/pcm512x'), { recursive: true });
    symlinkSync('../../drivers/pcm512x', path.join(client, 'driver'));
    const r = await doctor(m);
    assert.equal(r['codec-not-bound']!.status, 'fail');
    assert.equal(r['codec-not-bound']!.detail, '0x4c on i2c-1 is bound to the kernel driver pcm512x (/sys/bus/i2c/devices/1-004c/driver): sbc-audio\'s I2C access gets EBUSY');
    assert.equal(r['codec-not-bound']!.fix, 'remove dtoverlay=iqaudio-dacplus from /boot/firmware/config.txt and use dtoverlay=hifiberry-dac (sbc-audio setup --board iqaudio-dacplus --apply, then reboot); until the reboot: echo 1-004c | sudo tee /sys/bus/i2c/drivers/pcm512x/unbind');
    assert.equal(r['codec-answers']!.detail, 'not tried: codec-not-bound failed');
  });

  it('the codec not answering: the probe fails with the part and address', async () => {
    await m.sim.close();
    m.sim = createSimHal(); // no chip on the bus
    const r = await doctor(m);
    assert.equal(r['codec-answers']!.status, 'fail');
    assert.match(r['codec-answers']!.detail, /^pcm5122: no PCM5122 answering at 0x4c on sim-i2c-1: /);
    assert.equal(r['codec-answers']!.fix, 'check that the board is seated and powered and answers at 0x4c: sudo i2cdetect -y 1 (a number, not UU, at 4c)');
  });

  it('the ALSA card missing: lists the cards there are and the overlay line', async () => {
    writeFileSync(path.join(m.dir, 'proc/asound/cards'), CARDS_OK.split('\n').slice(0, 2).join('\n'));
    const r = await doctor(m);
    assert.equal(r['alsa-card']!.status, 'fail');
    assert.equal(r['alsa-card']!.detail, 'card sndrpihifiberry is not in /proc/asound/cards (cards: Headphones)');
    assert.equal(r['alsa-card']!.fix, 'put dtparam=i2s=on and dtoverlay=hifiberry-dac in /boot/firmware/config.txt (sbc-audio setup --board iqaudio-dacplus --apply, then reboot); aplay -l lists the cards');
    rmSync(path.join(m.dir, 'proc/asound'), { recursive: true });
    assert.equal((await doctor(m))['alsa-card']!.detail, 'card sndrpihifiberry is not in /proc/asound/cards (cards: none)');
  });

  it('a GPIO line held by another program: names the holder', async () => {
    const held = await (await m.sim.gpioChip('gpiochip0')).requestLines([22], { direction: 'output' }, 'other-program');
    const r = await doctor(m);
    assert.equal(r['gpio-lines']!.status, 'fail');
    assert.equal(r['gpio-lines']!.detail, "mute: line 22 of gpiochip0 is held by 'other-program'");
    assert.match(r['gpio-lines']!.fix, /^gpioinfo shows who holds each line/);
    await held.release();
    assert.equal((await doctor(m))['gpio-lines']!.status, 'pass');
  });

  it('a line held by the running service itself passes; the same holder with no stream published fails (negative control)', async () => {
    const held = await (await m.sim.gpioChip('gpiochip0')).requestLines([22], { direction: 'output' }, 'sbc-audio mute');
    try {
      let r = await doctor(m);
      assert.equal(r['gpio-lines']!.status, 'pass');
      assert.equal(r['gpio-lines']!.detail, 'free: mute (gpiochip0 line 22, held by the running service)');
      for (const s of m.servers) await new Promise((res) => s.close(res));
      m.servers = [];
      r = await doctor(m);
      assert.equal(r['gpio-lines']!.status, 'fail');
      assert.equal(r['gpio-lines']!.detail, "mute: line 22 of gpiochip0 is held by 'sbc-audio mute'");
    } finally {
      await held.release();
    }
  });

  it('the runtime directory closed to this user: the service check says which group to join', async function () {
    if (process.geteuid?.() !== 0) this.skip(); // reason: needs root to run a check as another user
    chmodSync(m.dir, 0o755); // mkdtemp's 0700 would hide the runtime directory's group as well
    const { spawnSync } = await import('node:child_process');
    const script = `import { runDoctor } from './src/system/doctor.ts'; import { loadBoard } from './src/board/load.ts'; import { hostRoot } from './src/system/host.ts';
      const checks = await runDoctor(loadBoard('iqaudio-dacplus'), { root: hostRoot(${JSON.stringify(m.dir)}), hal: async () => { throw new Error('no hal'); } });
      console.log(JSON.stringify(checks.find((c) => c.id === 'service')));`;
    const run = () => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { uid: 4242, gid: 4242, encoding: 'utf8', cwd: path.resolve(import.meta.dirname, '../..') });
    let res = run();
    assert.equal(res.status, 0, res.stderr);
    const service = JSON.parse(res.stdout) as CheckResult;
    assert.equal(service.status, 'fail');
    // The group's name comes from this machine's /etc/group (the service's own), else its number.
    const name = spawnSync('getent', ['group', String(AUDIO_GID)], { encoding: 'utf8' }).stdout.split(':')[0] || `gid ${AUDIO_GID}`;
    assert.equal(service.detail, `permission denied: ${m.dir}/run/sbc-audio (join group ${name})`);
    assert.equal(service.fix, 'sudo usermod -aG audio $USER, then log in again');
    // Negative control: the directory opened to others, the same user finds the stream.
    chmodSync(path.join(m.dir, 'run/sbc-audio'), 0o755);
    res = run();
    assert.equal(res.status, 0, res.stderr);
    // (the listing now works: the check reaches the endpoint itself)
    assert.match((JSON.parse(res.stdout) as CheckResult).detail, /audio-output\/iqaudio-dacplus\.line-out|1 stream of iqaudio-dacplus/);
  });

  it('memlock and RT priority limited for a user: both fail with the unit settings as the fix', async () => {
    writeFileSync(path.join(m.dir, 'proc/self/limits'), LIMITS_TIGHT);
    const r = await doctor(m, 'iqaudio-dacplus', 1000);
    assert.equal(r.memlock!.status, 'fail');
    assert.equal(r.memlock!.detail, 'the memlock limit is 8388608 bytes: the engine does not lock its memory (page faults can cost an underrun)');
    assert.match(r.memlock!.fix, /LimitMEMLOCK=infinity/);
    assert.equal(r.rtprio!.status, 'fail');
    assert.match(r.rtprio!.fix, /LimitRTPRIO=95/);
    // root may always ask for SCHED_FIFO
    assert.equal((await doctor(m, 'iqaudio-dacplus', 0)).rtprio!.status, 'pass');
  });

  it('the runtime directory open to others, or missing, fails; the service check then fails too', async () => {
    chmodSync(path.join(m.dir, 'run/sbc-audio'), 0o757);
    let r = await doctor(m);
    assert.equal(r['runtime-dir']!.status, 'fail');
    assert.equal(r['runtime-dir']!.detail, `${m.dir}/run/sbc-audio (mode 0757): writable by anyone`);
    chmodSync(path.join(m.dir, 'run/sbc-audio'), 0o750);
    chownSync(path.join(m.dir, 'run/sbc-audio'), 0, 0);
    r = await doctor(m);
    assert.equal(r['runtime-dir']!.detail, `${m.dir}/run/sbc-audio (mode 0750): group 0, not audio (29)`);
    for (const s of m.servers) await new Promise((res) => s.close(res));
    m.servers = [];
    rmSync(path.join(m.dir, 'run'), { recursive: true });
    r = await doctor(m);
    assert.equal(r['runtime-dir']!.detail, `${m.dir}/run/sbc-audio does not exist (the service is not running, or runs elsewhere)`);
    assert.equal(r.service!.status, 'fail');
    assert.equal(r.service!.detail, `no stream of board iqaudio-dacplus under ${m.dir}/run/sbc-audio`);
    assert.equal(r.service!.fix, 'sudo systemctl enable --now sbc-audio (after sbc-audio setup --board iqaudio-dacplus --apply, then reboot); its log: journalctl -u sbc-audio');
  });

  it('a part without a control bus skips the I2C checks (pimoroni-phat-dac)', async () => {
    const r = await doctor(m, 'pimoroni-phat-dac');
    assert.equal(statuses(r).split(' ').slice(0, 5).join(' '), 'i2c-bus:skip codec-not-bound:skip codec-answers:skip alsa-card:pass gpio-lines:skip');
  });

  it("serve's start check: nothing on a healthy machine, each missing part on a broken one", () => {
    const board = loadBoard('iqaudio-dacplus');
    assert.deepEqual(hardwareProblems(board, hostRoot(m.dir)), []);
    const empty = mkdtempSync(path.join(tmpdir(), 'sbc-empty-'));
    try {
      assert.deepEqual(hardwareProblems(board, hostRoot(empty)).map((c) => c.detail), [
        'card sndrpihifiberry is not in /proc/asound/cards (cards: none)',
        '/dev/i2c-1 is missing and the kernel has no bus i2c-1',
        'no GPIO chip gpiochip0 (under /dev)',
      ]);
      assert.deepEqual(hardwareProblems(loadBoard('iqaudio-dacplus-sim'), hostRoot(empty)), [], 'a simulated board has no hardware to miss');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('the CLI: --json, exit 1 when a check fails, --root for the tree', async () => {
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => out.push(t), isTTY: false };
    // (--chronyc /nonexistent: no chronyd asked, whatever this machine runs; clock-sync warns, which is no failure.)
    const code = await main(['doctor', '--board', 'pimoroni-phat-dac', '--root', m.dir, '--json', '--chronyc', '/nonexistent/chronyc', '--pmc', '/nonexistent/pmc'], io);
    const report = JSON.parse(out.join('')) as { board: string; ok: boolean; checks: CheckResult[] };
    assert.equal(report.board, 'pimoroni-phat-dac');
    assert.equal(report.ok, false, 'no stream of pimoroni-phat-dac is published');
    assert.deepEqual(report.checks.filter((c) => c.status === 'fail').map((c) => c.id), ['service']);
    assert.deepEqual(report.checks.filter((c) => c.status === 'warn').map((c) => c.id), ['clock-sync']);
    assert.equal(code, 1);
  });

  it('parses /proc/asound/cards and /proc/PID/limits', () => {
    assert.deepEqual(parseAsoundCards(CARDS_OK).map((c) => `${c.index}:${c.id}`), ['0:Headphones', '1:sndrpihifiberry']);
    assert.deepEqual(parseLimits(LIMITS_OK), { memlockSoft: Infinity, rtprioSoft: 95 });
    assert.deepEqual(parseLimits(LIMITS_TIGHT), { memlockSoft: 8388608, rtprioSoft: 0 });
  });
});
