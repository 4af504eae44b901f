/**
 * Guest only: a root service and users. `sbc-audio serve --board sim --group audio` runs as root
 * in /run/sbc-audio, made root:audio 0750 as systemd's RuntimeDirectory=sbc-audio does. Two
 * users are created here (the guest's /etc is in RAM): `sbcin`, a member of audio through
 * /etc/group (a supplementary group, as after `usermod -aG audio`), and `sbcout`, in no such group.
 * Each runs the CLI as a login would: a small wrapper calls initgroups (the groups /etc/group
 * gives the user), setgid and setuid, then imports the CLI (node's spawn with uid/gid would drop
 * the supplementary groups). `sbcin` can `ls`, `play` (its samples reach the service: the ring
 * buffer's position passes the whole tone, through the shared buffer the service made 0660
 * root:audio) and `record`; `sbcout` gets "permission denied: /run/sbc-audio (join group audio)"
 * for each, exit 1.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_FORMAT } from '../../../src/audio/formats.ts';
import { StreamClient } from '../../../src/stream/client.ts';
import { finishChild, stopChild } from '../peers.ts';
import { hilEnv } from '../env.ts';

const env = hilEnv();
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
const RUNTIME = '/run/sbc-audio';
const AUDIO_GID = 29;
const USERS = { sbcin: { uid: 2001, gid: 2001 }, sbcout: { uid: 2002, gid: 2002 } } as const;
type User = keyof typeof USERS;
/** A hang guard only: nothing is timed (TCG makes every start slow). */
const HANG_GUARD_MS = 120_000;

const WRAPPER = `// as-user: initgroups, setgid, setuid, then the CLI (as login(1) would leave a user)
const [user, uid, gid, bin, ...args] = process.argv.slice(2);
process.initgroups(user, Number(gid));
process.setgid(Number(gid));
process.setuid(Number(uid));
process.argv = [process.argv[0], bin, ...args];
if (process.env.AS_USER_SHOW_GROUPS) console.error('groups: ' + process.getgroups().join(','));
await import(bin);
`;

const finish = (child: ChildProcess) => finishChild(child, HANG_GUARD_MS);

describe('a root service and its users (guest)', function () {
  this.timeout(300_000);
  if (env.tier !== 'guest') {
    it('needs the QEMU guest (tests/hil/run-vm.sh)', function () { this.skip(); }); // reason: creates users and groups in /etc, which only the guest's RAM root allows
    return;
  }
  let dir: string;
  let wrapper: string;
  let serve: ChildProcess;
  let served: Promise<{ code: number | null; stdout: string; stderr: string }>;

  const as = (user: User, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const e: NodeJS.ProcessEnv = { ...process.env, HOME: dir, ...extraEnv };
    delete e.XDG_RUNTIME_DIR; // the system service's directory, found as a client finds it
    return finish(spawn(process.execPath, [wrapper, user, String(USERS[user].uid), String(USERS[user].gid), BIN, ...args], { cwd: dir, env: e, stdio: ['ignore', 'pipe', 'pipe'] }));
  };

  before(async () => {
    dir = mkdtempSync('/tmp/sbc-guest-users-');
    chmodSync(dir, 0o1777); // the users write their recordings and tsx's cache here
    wrapper = path.join(dir, 'as-user.mjs');
    writeFileSync(wrapper, WRAPPER, { mode: 0o644 });
    // Users and groups, as adduser would leave them; the guest's /etc is in RAM.
    const add = (file: string, lines: string[]) => {
      const text = readFileSync(file, 'utf8');
      const keep = text.split('\n').filter((l) => l && !lines.some((n) => l.split(':')[0] === n.split(':')[0]));
      writeFileSync(file, `${[...keep, ...lines].join('\n')}\n`);
    };
    add('/etc/passwd', Object.entries(USERS).map(([n, u]) => `${n}:x:${u.uid}:${u.gid}:${n}:${dir}:/bin/sh`));
    add('/etc/group', [`audio:x:${AUDIO_GID}:sbcin`, ...Object.entries(USERS).map(([n, u]) => `${n}:x:${u.gid}:`)]);

    rmSync(RUNTIME, { recursive: true, force: true });
    mkdirSync(RUNTIME);
    chownSync(RUNTIME, 0, AUDIO_GID);
    chmodSync(RUNTIME, 0o750); // RuntimeDirectory=sbc-audio, RuntimeDirectoryMode=0750, Group=audio
    const e = { ...process.env };
    delete e.XDG_RUNTIME_DIR;
    serve = spawn(process.execPath, [BIN, 'serve', '--board', 'sim', '--group', 'audio', '--runtime-dir', RUNTIME], { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    served = finishChild(serve, null); // guarded from SIGTERM on (after()), not from its start
    await new Promise<void>((resolve, reject) => {
      let out = '';
      serve.stdout!.on('data', (d) => { out += d; if (/^serving /m.test(out)) resolve(); });
      void served.then((r) => reject(new Error(`serve exited (${r.code}) before publishing:\n${r.stderr}`)), reject);
    });
    // Warm-up, as root, on another stream: the service's first engine thread starts cold (tsx
    // compiling its modules) and under TCG takes longer than the CLI clients' fixed 5 s request
    // timeout (src/stream/client.ts), so a first `play` would time out on RB_GET_FIFO_DEPTH. This
    // client waits as long as the hang guard.
    const c = await StreamClient.connect(path.join(RUNTIME, 'audio-output/sim.headphone'), { timeoutMs: HANG_GUARD_MS });
    try {
      const f = await c.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
      const rb = await c.openRingBuffer(f.token!);
      const t0 = process.hrtime.bigint();
      assert.equal((await rb.getFifoDepth()).result, 0, 'warm-up: RB_GET_FIFO_DEPTH answered OK');
      console.log(`      (warm-up: the first engine thread answered RB_GET_FIFO_DEPTH after ${Number(process.hrtime.bigint() - t0) / 1e6} ms)`);
      await rb.close();
    } finally {
      await c.close();
    }
  });
  after(async () => {
    if (serve) {
      const r = await stopChild(serve, served, 'SIGTERM', HANG_GUARD_MS);
      assert.equal(r.code, 0, `serve stopped cleanly on SIGTERM:\n${r.stderr}`);
    }
    rmSync(RUNTIME, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('the service publishes root:audio: sockets 0660, the directory 0750', () => {
    const st = statSync(RUNTIME);
    assert.equal((st.mode & 0o777).toString(8), '750');
    const sock = statSync(path.join(RUNTIME, 'audio-output/sim.speaker'));
    assert.equal((sock.mode & 0o777).toString(8), '660');
    assert.equal(sock.gid, AUDIO_GID);
  });

  it('a member of audio (a supplementary group from /etc/group) lists the streams with ls', async () => {
    const r = await as('sbcin', ['ls', '--json'], { AS_USER_SHOW_GROUPS: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^groups: (.*,)?${AUDIO_GID}(,.*)?$`, 'm'), 'initgroups gave the user audio');
    const listing = JSON.parse(r.stdout) as { runtimeDir: string; streams: { name: string }[] };
    assert.equal(listing.runtimeDir, RUNTIME, 'found the system service without --runtime-dir');
    assert.deepEqual(listing.streams.map((s) => s.name).sort(),
      ['sim.headphone', 'sim.headphone.monitor', 'sim.mic', 'sim.speaker', 'sim.speaker.monitor']);
  });

  it('the member plays a tone: the service consumes all of it through the group\'s shared buffer', async () => {
    const r = await as('sbcin', ['play', '--tone', '--seconds', '1', '--stream', 'sim.speaker']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `played a 440 Hz tone: 1.00 s at 48000 Hz, 2 ch, to ${RUNTIME}/audio-output/sim.speaker`);
  });

  it('the member records from the microphone: a WAV of the frames asked for', async () => {
    const file = path.join(dir, 'rec.wav');
    const r = await as('sbcin', ['record', file, '--seconds', '0.5', '--stream', 'sim.mic']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `recorded 0.50 s at 48000 Hz, 2 ch from ${RUNTIME}/audio-input/sim.mic into ${file}`);
    const st = statSync(file);
    assert.equal(st.uid, USERS.sbcin.uid, 'written by the user');
    assert.equal(st.size, 44 + 24000 * 4, 'a 44-byte header and 24000 stereo 16-bit frames');
  });

  it(`a user outside audio: ls, play and record each say "permission denied: ${RUNTIME} (join group audio)", exit 1`, async () => {
    const cmds = [['ls'], ['play', '--tone', '--seconds', '1'], ['record', 'out.wav', '--seconds', '1']];
    const results = await Promise.all(cmds.map((args) => as('sbcout', args))); // side by side: one TCG start-up for the three
    results.forEach((r, i) => {
      const cmd = cmds[i]![0]!;
      assert.equal(r.code, 1, `${cmd}: ${r.stdout}`);
      assert.equal(r.stderr.trim(), `sbc-audio ${cmd}: permission denied: ${RUNTIME} (join group audio)`);
      assert.equal(r.stdout, '');
    });
  });
});
