/**
 * The clock-sync state (src/system/clock-sync.ts) and doctor's `clock-sync` check, against real
 * chronyd and ptp4l (Debian's binaries, unpacked by scripts/timesync-tools.sh, not installed), and
 * from literal outputs.
 *
 * Every daemon started here must not be able to touch this machine's clock: chronyd runs with -x
 * (no clock control), ptp4l with `free_running 1`, each under `capsh --drop=cap_sys_time --`, and
 * each one's CapEff (/proc/PID/status) is checked for CAP_SYS_TIME (bit 25, linux/capability.h)
 * being clear. The negative control: a process started without capsh has bit 25 set (as root).
 *
 * Literal outputs: chronyc -c tracking lines captured from chrony 4.3 (Debian 4.3-2+deb12u3) on this
 * kind of machine: a client synchronised to a `local stratum 8` server on 127.0.0.1, the server
 * itself (reference ID 7F7F0101, no name: chronyc(1)'s local reference mode), a client whose server
 * does not exist. pmc outputs: captured from linuxptp 3.1.1 (ptp4l on lo, software time stamping);
 * the slave case (gmPresent true, an offset) is that capture with the values a slave reports
 * written in by hand — two ptp4l on `lo` do not see each other here (no MAC: the same clock
 * identity), so no real slave runs in this test.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { main } from '../../src/cli/main.ts';
import { chronyState, parseChronyTracking, parsePmcPortState, parsePmcTimeStatus, ptp4lState, readClockSync } from '../../src/system/clock-sync.ts';
import { type CheckResult, checkClockSync, runDoctor } from '../../src/system/doctor.ts';
import { hostRoot } from '../../src/system/host.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// chrony 4.3, chronyc -c tracking (see the header).
const TRACKING_SYNCED = '7F000001,127.0.0.1,9,1796051107.463454771,-0.000000524,0.000000082,0.000000067,-0.048,0.009,0.085,0.000005758,0.000000802,0.1,Normal\n';
const TRACKING_LOCAL = '7F7F0101,,8,1796051101.487771606,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,0.000000000,0.000000000,0.0,Normal\n';
// TRACKING_SYNCED with its system time field (5) written in by hand: chrony's sign, positive = the
// clock is slow of NTP time. 2.5 s slow: what a clock just after the boot looks like while chronyd
// slews it (makestep's updates spent); 0.0009 s and -0.0011 s: just inside and just outside 1 ms.
const TRACKING_SLOW_2_5_S = TRACKING_SYNCED.replace(',-0.000000524,', ',2.500000000,');
const TRACKING_FAST_1_1_MS = TRACKING_SYNCED.replace(',-0.000000524,', ',-0.001100000,');
const TRACKING_SLOW_0_9_MS = TRACKING_SYNCED.replace(',-0.000000524,', ',0.000900000,');
const TRACKING_UNSYNCED = '00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised\n';
// chronyc's words when no chronyd answers (stderr or stdout, exit status 1).
const NO_DAEMON_UNIX = 'Could not open connection to daemon\n';
const NO_DAEMON_UDP = '506 Cannot talk to daemon\n';

// linuxptp 3.1.1, pmc -u -b 0 'GET TIME_STATUS_NP' 'GET PORT_DATA_SET' (see the header).
const PMC_GRANDMASTER = `sending: GET TIME_STATUS_NP
sending: GET PORT_DATA_SET
\t000000.fffe.000000-0 seq 0 RESPONSE MANAGEMENT TIME_STATUS_NP 
\t\tmaster_offset              0
\t\tingress_time               0
\t\tcumulativeScaledRateOffset +0.000000000
\t\tscaledLastGmPhaseChange    0
\t\tgmTimeBaseIndicator        0
\t\tlastGmPhaseChange          0x0000'0000000000000000.0000
\t\tgmPresent                  false
\t\tgmIdentity                 000000.fffe.000000
\t000000.fffe.000000-1 seq 1 RESPONSE MANAGEMENT PORT_DATA_SET 
\t\tportIdentity            000000.fffe.000000-1
\t\tportState               MASTER
\t\tlogMinDelayReqInterval  0
\t\tpeerMeanPathDelay       0
\t\tlogAnnounceInterval     1
\t\tannounceReceiptTimeout  3
\t\tlogSyncInterval         0
\t\tdelayMechanism          1
\t\tlogMinPdelayReqInterval 0
\t\tversionNumber           2
`;
const PMC_SLAVE = PMC_GRANDMASTER
  .replace('master_offset              0', 'master_offset              -1234')
  .replace('gmPresent                  false', 'gmPresent                  true')
  .replace('gmIdentity                 000000.fffe.000000', 'gmIdentity                 b827eb.fffe.123456')
  .replace('portState               MASTER', 'portState               SLAVE');
const PMC_NO_ANSWER = 'sending: GET TIME_STATUS_NP\nsending: GET PORT_DATA_SET\n';

/** A root where the sim board's checks other than clock-sync pass (as tests/unit/doctor.test.ts builds one). */
async function healthyRoot(): Promise<{ dir: string; server: net.Server }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-clock-doctor-'));
  mkdirSync(path.join(dir, 'proc/self'), { recursive: true });
  writeFileSync(path.join(dir, 'proc/self/limits'), 'Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         unlimited            unlimited            bytes\nMax realtime priority     95                   95\n');
  mkdirSync(path.join(dir, 'etc'), { recursive: true });
  writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\naudio:x:29:\n');
  const run = path.join(dir, 'run/sbc-audio');
  mkdirSync(path.join(run, 'audio-output'), { recursive: true });
  chownSync(run, 0, 29);
  chmodSync(run, 0o750);
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(path.join(run, 'audio-output', 'sim.speaker'), resolve));
  return { dir, server };
}

/** CAP_SYS_TIME's bit in the capability sets (linux/capability.h: #define CAP_SYS_TIME 25). */
const CAP_SYS_TIME_BIT = 25n;

/** CapEff of a process, from /proc/PID/status. */
function capEff(pid: number): bigint {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  assert.ok(m, `/proc/${pid}/status has no CapEff line`);
  return BigInt(`0x${m[1]}`);
}
const hasSysTime = (pid: number) => ((capEff(pid) >> CAP_SYS_TIME_BIT) & 1n) === 1n;

describe('clock sync: parsing chronyc and pmc output (literals)', () => {
  it('chronyc -c tracking, synchronised: reference, stratum, offset (chrony\'s "slow" sign turned into "ahead"), leap', () => {
    const t = parseChronyTracking(TRACKING_SYNCED);
    assert.equal(t.referenceId, '7F000001');
    assert.equal(t.referenceName, '127.0.0.1');
    assert.equal(t.stratum, 9);
    assert.equal(t.systemTimeS, -0.000000524);
    assert.equal(t.rootDelayS, 0.000005758);
    assert.equal(t.updateIntervalS, 0.1);
    assert.equal(t.leap, 'Normal');
    const s = chronyState(t);
    assert.deepEqual({ ...s, detail: undefined }, {
      source: 'chrony', synchronised: true, offsetNs: 524, stratum: 9, reference: '127.0.0.1', leap: 'Normal', detail: undefined,
    });
    assert.equal(s.detail, 'chronyd synchronised to 127.0.0.1, stratum 9, offset 0.5 µs, leap status Normal');
  });

  it('chronyc -c tracking, the local reference (a time server with no upstream): synchronised, reference local', () => {
    const s = chronyState(parseChronyTracking(TRACKING_LOCAL));
    assert.equal(s.synchronised, true);
    assert.equal(s.reference, 'local');
    assert.equal(s.stratum, 8);
    assert.match(s.detail, /^chronyd serves its own clock \(local reference, stratum 8\): no upstream source/);
  });

  it('chronyc -c tracking, a source but the system clock seconds off: not synchronised, the offset said; within 1 ms: synchronised (the control)', () => {
    const slow = chronyState(parseChronyTracking(TRACKING_SLOW_2_5_S));
    assert.equal(slow.synchronised, false);
    assert.equal(slow.offsetNs, -2_500_000_000);
    assert.equal(slow.leap, 'Normal');
    assert.equal(slow.detail, 'chronyd has a source (127.0.0.1, stratum 9, leap status Normal) but the system clock is 2.500 s behind 127.0.0.1 (more than 1000.0 µs): it is being slewed, or chronyd may not step it (makestep)');
    const fast = chronyState(parseChronyTracking(TRACKING_FAST_1_1_MS));
    assert.equal(fast.synchronised, false);
    assert.equal(fast.offsetNs, 1_100_000);
    assert.match(fast.detail, /the system clock is 1\.1 ms ahead of 127\.0\.0\.1 \(more than 1000\.0 µs\)/);
    const near = chronyState(parseChronyTracking(TRACKING_SLOW_0_9_MS));
    assert.equal(near.synchronised, true);
    assert.equal(near.detail, 'chronyd synchronised to 127.0.0.1, stratum 9, offset -900.0 µs, leap status Normal');
  });

  it('chronyc -c tracking, not synchronised: synchronised false, no offset claimed', () => {
    const s = chronyState(parseChronyTracking(TRACKING_UNSYNCED));
    assert.equal(s.synchronised, false);
    assert.equal(s.leap, 'Not synchronised');
    assert.equal(s.offsetNs, undefined);
    assert.equal(s.detail, 'chronyd is not synchronised (leap status Not synchronised, reference ID 00000000)');
  });

  it("chronyc's no-daemon messages, a short line and a bad field are refused with the field named", () => {
    assert.throws(() => parseChronyTracking(NO_DAEMON_UNIX), /expected 14 comma-separated fields, got 1/);
    assert.throws(() => parseChronyTracking(NO_DAEMON_UDP), /expected 14 comma-separated fields, got 1/);
    assert.throws(() => parseChronyTracking(TRACKING_SYNCED.replace(',9,', ',x,')), /field 3 \(stratum\) is not a number: "x"/);
    assert.throws(() => parseChronyTracking(TRACKING_SYNCED.replace('Normal', 'Fine')), /field 14 \(leap status\)/);
    assert.throws(() => parseChronyTracking(TRACKING_SYNCED.replace('7F000001', '127.0.0.1')), /field 1 \(reference ID\)/);
  });

  it('pmc: a grandmaster passes, a slave with its offset, a slave too far off and no answer do not', () => {
    const gm = parsePmcTimeStatus(PMC_GRANDMASTER)!;
    assert.deepEqual(gm, { masterOffsetNs: 0, gmPresent: false, gmIdentity: '000000.fffe.000000' });
    assert.equal(parsePmcPortState(PMC_GRANDMASTER), 'MASTER');
    assert.equal(ptp4lState(gm, 'MASTER').synchronised, true);
    // The same answer from a port that is not MASTER: no grandmaster, not synchronised (control).
    assert.equal(ptp4lState(gm, 'LISTENING').synchronised, false);
    const slave = parsePmcTimeStatus(PMC_SLAVE)!;
    assert.deepEqual(slave, { masterOffsetNs: -1234, gmPresent: true, gmIdentity: 'b827eb.fffe.123456' });
    const s = ptp4lState(slave, parsePmcPortState(PMC_SLAVE));
    assert.deepEqual({ source: s.source, synchronised: s.synchronised, offsetNs: s.offsetNs, reference: s.reference }, { source: 'ptp4l', synchronised: true, offsetNs: -1234, reference: 'b827eb.fffe.123456' });
    assert.equal(ptp4lState({ ...slave, masterOffsetNs: 5_000_000 }, 'SLAVE').synchronised, false);
    assert.equal(parsePmcTimeStatus(PMC_NO_ANSWER), undefined);
    assert.equal(parsePmcPortState(PMC_NO_ANSWER), undefined);
  });

  it("doctor's check: pass with the detail when synchronised, warn with the fix otherwise (and when nothing answers)", async () => {
    const sim = loadBoard('sim');
    const synced = await checkClockSync(sim, { root: hostRoot('/'), hal: () => Promise.reject(new Error('unused')), clockSync: async () => chronyState(parseChronyTracking(TRACKING_SYNCED)) });
    assert.deepEqual(synced, { id: 'clock-sync', status: 'pass', detail: 'chronyd synchronised to 127.0.0.1, stratum 9, offset 0.5 µs, leap status Normal', fix: '' });
    const unsynced = await checkClockSync(sim, { root: hostRoot('/'), hal: () => Promise.reject(new Error('unused')), clockSync: async () => chronyState(parseChronyTracking(TRACKING_UNSYNCED)) });
    assert.equal(unsynced.status, 'warn');
    assert.match(unsynced.fix, /sudo systemctl enable --now chrony/);
    // setup requires --board: the fix names the board checked.
    assert.match(unsynced.fix, /sbc-audio setup --board sim --time-server .* --time-from HOST .*--apply/);
    assert.match((await checkClockSync(loadBoard('hifiberry-dacplus-sim'), { root: hostRoot('/'), hal: () => Promise.reject(new Error('unused')), clockSync: async () => chronyState(parseChronyTracking(TRACKING_UNSYNCED)) })).fix, /sbc-audio setup --board hifiberry-dacplus-sim --time-server/);
    // A source but seconds off: a warning with the figure, and the step as the fix.
    const slow = await checkClockSync(sim, { root: hostRoot('/'), hal: () => Promise.reject(new Error('unused')), clockSync: async () => chronyState(parseChronyTracking(TRACKING_SLOW_2_5_S)) });
    assert.equal(slow.status, 'warn');
    assert.match(slow.detail, /2\.500 s behind/);
    assert.match(slow.fix, /^sudo chronyc makestep steps the clock now/);
    const none = await checkClockSync(sim, { root: hostRoot('/'), hal: () => Promise.reject(new Error('unused')), clockSync: { chronyc: false, pmc: false } });
    assert.equal(none.status, 'warn');
    assert.match(none.detail, /^neither chronyd nor ptp4l answers/);
  });
});

describe('clock sync: real chronyd and ptp4l on loopback (no CAP_SYS_TIME)', function () {
  this.timeout(60_000);
  let tools = '';
  let dir = '';
  const children: ChildProcess[] = [];
  const pidfiles: string[] = [];
  let serverPort = 0;

  before(function () {
    // reason: capsh --drop needs CAP_SETPCAP and chronyd -u root needs root; CI and the HIL rig run as root.
    if (process.geteuid?.() !== 0) this.skip();
    this.timeout(180_000); // timesync-tools.sh downloads ~1 MB the first time
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/timesync-tools.sh')], { encoding: 'utf8', timeout: 170_000 });
    assert.equal(r.status, 0, `scripts/timesync-tools.sh: ${r.stderr}`);
    tools = r.stdout.trim();
    assert.ok(existsSync(path.join(tools, 'usr/sbin/chronyd')), `no chronyd under ${tools}`);
    assert.equal(spawnSync('capsh', ['--help'], { encoding: 'utf8' }).error, undefined, 'capsh (Debian package libcap2-bin) is needed');
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-clock-sync-'));
  });

  after(() => {
    // Every daemon goes, whatever failed: by its pidfile and by the process we spawned.
    for (const f of pidfiles) {
      try {
        process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGTERM');
      } catch {
        // gone already, or never written
      }
    }
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A free UDP port on 127.0.0.1 (bound, read, closed). */
  async function freeUdpPort(): Promise<number> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const { port } = s.address();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }

  /** Starts PROGRAM ARGS under capsh --drop=cap_sys_time; the child is the program itself (exec). */
  function startWithoutSysTime(name: string, program: string, args: string[]): ChildProcess {
    const quoted = [program, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const log = path.join(dir, `${name}.log`);
    const child = spawn('capsh', ['--drop=cap_sys_time', '--', '-c', `exec ${quoted} >'${log}' 2>&1`], { stdio: 'ignore' });
    children.push(child);
    return child;
  }

  /** A chronyd -x with this configuration; its socket in a 0700 directory (chronyd refuses others). */
  function startChronyd(name: string, conf: string[]): { child: ChildProcess; socket: string; pidfile: string } {
    const home = path.join(dir, name);
    mkdirSync(home, { mode: 0o700 });
    chmodSync(home, 0o700);
    const socket = path.join(home, 'sock');
    const pidfile = path.join(home, 'chronyd.pid');
    pidfiles.push(pidfile);
    const file = path.join(dir, `${name}.conf`);
    writeFileSync(file, [...conf, 'cmdport 0', `bindcmdaddress ${socket}`, `pidfile ${pidfile}`, ''].join('\n'));
    // -u root: as root chronyd would switch to the user _chrony, which this machine need not have.
    const child = startWithoutSysTime(name, path.join(tools, 'usr/sbin/chronyd'), ['-x', '-u', 'root', '-d', '-f', file]);
    return { child, socket, pidfile };
  }

  /** Polls until `ok` (a guard against a hang, not a timing assertion). */
  async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, guardMs = 40_000): Promise<T> {
    const end = Date.now() + guardMs;
    let v = await get();
    while (!ok(v)) {
      if (Date.now() > end) assert.fail(`${what}: still ${JSON.stringify(v)} after ${guardMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
      v = await get();
    }
    return v;
  }

  const chronyc = () => path.join(tools, 'usr/bin/chronyc');
  const pidOf = (pidfile: string) => until(`${pidfile} written`, async () => (existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8').trim()) : 0), (p) => p > 0);
  const doctorClock = async (socket: string): Promise<CheckResult> => {
    const checks = await runDoctor(loadBoard('sim'), {
      root: hostRoot(dir), hal: () => Promise.reject(new Error('unused')), clockSync: { chronyc: chronyc(), chronycSocket: socket, pmc: false },
    });
    return checks.find((c) => c.id === 'clock-sync')!;
  };

  let server: ReturnType<typeof startChronyd>;
  let client: ReturnType<typeof startChronyd>;

  it('a chronyd server (local stratum 8) and a client, both without CAP_SYS_TIME; a plain child has it (negative control)', async () => {
    serverPort = await freeUdpPort();
    server = startChronyd('server', ['local stratum 8', `port ${serverPort}`, 'bindaddress 127.0.0.1', 'allow 127.0.0.1']);
    client = startChronyd('client', [`server 127.0.0.1 port ${serverPort} minpoll -4 maxpoll -4 iburst`, 'makestep 0.1 -1', 'port 0']);
    for (const d of [server, client]) {
      const pid = await pidOf(d.pidfile);
      assert.equal(pid, d.child.pid, 'the pidfile names the process capsh exec\'d into');
      assert.equal(hasSysTime(pid), false, `chronyd ${pid}: CapEff ${capEff(pid).toString(16)} has CAP_SYS_TIME`);
    }
    const plain = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(plain);
    try {
      assert.equal(hasSysTime(plain.pid!), true, `a child started without capsh (CapEff ${capEff(plain.pid!).toString(16)}) lacks CAP_SYS_TIME: the check above could not fail`);
    } finally {
      plain.kill('SIGKILL');
    }
  });

  it('doctor: the client synchronised passes (source chrony, reference 127.0.0.1, stratum 9); the server is its local reference', async () => {
    const state = await until('the client synchronised', () => readClockSync({ chronyc: chronyc(), chronycSocket: client.socket, pmc: false }), (s) => s.synchronised === true);
    assert.equal(state.source, 'chrony');
    assert.equal(state.reference, '127.0.0.1');
    assert.equal(state.stratum, 9, 'one above the server\'s local stratum 8');
    assert.equal(state.leap, 'Normal');
    assert.equal(typeof state.offsetNs, 'number');
    const c = await doctorClock(client.socket);
    assert.equal(c.status, 'pass', c.detail);
    assert.match(c.detail, /^chronyd synchronised to 127\.0\.0\.1, stratum 9, offset -?\d+\.\d µs, leap status Normal$/);
    const s = await readClockSync({ chronyc: chronyc(), chronycSocket: server.socket, pmc: false });
    assert.equal(s.reference, 'local');
    assert.equal(s.stratum, 8);
  });

  it('doctor: the client daemon stopped warns; the CLI prints WARN with the fix and exits 0 (a warning is no failure)', async () => {
    process.kill(client.child.pid!, 'SIGTERM');
    await until('the client stopped', async () => client.child.exitCode !== null || client.child.signalCode !== null, (gone) => gone);
    const c = await doctorClock(client.socket);
    assert.equal(c.status, 'warn');
    assert.match(c.detail, /^neither chronyd nor ptp4l answers: chronyc: Could not open connection to daemon/);
    assert.match(c.fix, /sudo systemctl enable --now chrony/);
    // The CLI on a fake root where every other check passes: the warning alone leaves exit status 0.
    const healthy = await healthyRoot();
    try {
      const cli = async (...more: string[]) => {
        const out: string[] = [];
        const code = await main(['doctor', '--board', 'sim', '--root', healthy.dir, '--chronyc', chronyc(), '--pmc', '/nonexistent/pmc', ...more], { out: (t) => out.push(t), err: (t) => out.push(t), isTTY: false });
        return { code, text: out.join('\n') };
      };
      const warned = await cli('--chronyc-socket', client.socket);
      assert.match(warned.text, /^ {2}WARN {2}clock-sync +neither chronyd nor ptp4l answers: chronyc: Could not open connection to daemon; \/nonexistent\/pmc: not an executable program$/m, warned.text);
      assert.match(warned.text, /^ +fix: sudo apt-get install chrony/m);
      assert.match(warned.text, /^no check failed, 1 warning$/m);
      assert.equal(warned.code, 0, warned.text);
      const json = await cli('--chronyc-socket', client.socket, '--json');
      const report = JSON.parse(json.text) as { ok: boolean; checks: CheckResult[] };
      assert.equal(report.checks.find((x) => x.id === 'clock-sync')!.status, 'warn');
      assert.equal(report.ok, true, 'ok counts failures only');
      assert.equal(json.code, 0);
      // Control: the server's socket answers (its local reference), the same root passes every check.
      const passed = await cli('--chronyc-socket', server.socket);
      assert.match(passed.text, /^ {2}PASS {2}clock-sync +chronyd serves its own clock/m, passed.text);
      assert.match(passed.text, /^all checks passed$/m);
      // And a real failure still exits 1 with the warning beside it (the runtime directory opened to all).
      chmodSync(path.join(healthy.dir, 'run/sbc-audio'), 0o757);
      const failed = await cli('--chronyc-socket', client.socket);
      assert.match(failed.text, /^1 check failed, 1 warning$/m, failed.text);
      assert.equal(failed.code, 1);
    } finally {
      await new Promise((r) => healthy.server.close(r));
      rmSync(healthy.dir, { recursive: true, force: true });
    }
  });

  it('doctor: a client whose server does not exist is not synchronised: warn', async () => {
    const lonely = startChronyd('lonely', [`server 127.0.0.1 port ${await freeUdpPort()} minpoll -4 maxpoll -4 iburst`, 'port 0']);
    const pid = await pidOf(lonely.pidfile);
    assert.equal(hasSysTime(pid), false);
    const state = await until('chronyd answering', () => readClockSync({ chronyc: chronyc(), chronycSocket: lonely.socket, pmc: false }), (s) => s.source === 'chrony');
    assert.equal(state.synchronised, false);
    assert.equal(state.leap, 'Not synchronised');
    const c = await doctorClock(lonely.socket);
    assert.equal(c.status, 'warn');
    assert.equal(c.detail, 'chronyd is not synchronised (leap status Not synchronised, reference ID 00000000)');
  });

  it('ptp4l (free_running 1, software time stamps on lo): the grandmaster passes; a slaveOnly port with no master warns', async () => {
    const ptp = (name: string, extra: string[]) => {
      const home = path.join(dir, name);
      mkdirSync(home, { mode: 0o700 });
      const socket = path.join(home, 'ptp4l');
      const conf = path.join(dir, `${name}.cfg`);
      // linuxptp's ptp4l(8): free_running 1 never adjusts a clock; uds_address is pmc's way in.
      writeFileSync(conf, ['[global]', 'free_running 1', `uds_address ${socket}`, 'time_stamping software', 'network_transport UDPv4', ...extra, ''].join('\n'));
      const child = startWithoutSysTime(name, path.join(tools, 'usr/sbin/ptp4l'), ['-f', conf, '-i', 'lo', '-m']);
      return { child, socket };
    };
    const gm = ptp('ptp-gm', []);
    const listener = ptp('ptp-listen', ['slaveOnly 1']);
    for (const p of [gm, listener]) {
      await until(`${p.socket} made`, async () => existsSync(p.socket), (x) => x);
      assert.equal(hasSysTime(p.child.pid!), false, `ptp4l ${p.child.pid}: CapEff ${capEff(p.child.pid!).toString(16)} has CAP_SYS_TIME`);
    }
    const pmc = path.join(tools, 'usr/sbin/pmc');
    // The grandmaster role comes after announceReceiptTimeout (3 announce intervals of 2 s): polled.
    const gmState = await until('ptp4l takes the grandmaster role', () => readClockSync({ chronyc: false, pmc, ptp4lSocket: gm.socket }), (s) => s.synchronised === true);
    assert.equal(gmState.source, 'ptp4l');
    assert.equal(gmState.reference, 'local');
    const c = await checkClockSync(loadBoard('sim'), { root: hostRoot(dir), hal: () => Promise.reject(new Error('unused')), clockSync: { chronyc: false, pmc, ptp4lSocket: listener.socket } });
    assert.equal(c.status, 'warn');
    assert.match(c.detail, /^ptp4l has no grandmaster \(port (LISTENING|INITIALIZING)\)$/);
    assert.match(c.fix, /pmc -u -b 0 'GET TIME_STATUS_NP'/);
    for (const p of [gm, listener]) p.child.kill('SIGTERM');
    // No ptp4l at that socket any more: unknown.
    const gone = await until('ptp4l gone', () => readClockSync({ chronyc: false, pmc, ptp4lSocket: gm.socket }), (s) => s.source === 'none');
    assert.equal(gone.synchronised, undefined);
    assert.match(gone.detail, /pmc: no ptp4l answered on /);
  });

  it('the timesync tools are real programs (a control for the literals above): chronyc -c tracking of the server has 14 fields', () => {
    const line = execFileSync(chronyc(), ['-n', '-c', '-h', server.socket, 'tracking'], { encoding: 'utf8' });
    assert.equal(line.trim().split(',').length, 14);
  });
});
