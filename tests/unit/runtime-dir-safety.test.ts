/**
 * Issue 19: the runtime directory and the socket entries in it cannot be turned against the
 * service by another user. The service makes its directories 0750 (its user and group) and
 * refuses a runtime directory, or any parent of it, that is a symbolic link, writable by everyone
 * without the sticky bit, or owned by another non-root user; `serve` then exits 1 naming the
 * path. Only ECONNREFUSED makes an existing socket entry stale; anything else (EACCES: a live
 * endpoint this process may not reach) is left alone.
 *
 * The tests run as root (root passes every permission check), so "another user" is uid 12345:
 * a directory chowned to it, and a child process spawned as it for the EACCES case.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { startStreamService } from '../../src/stream/service.ts';
import { ensureRuntimeDir, prepareSocketPath, socketEntryVerdict } from '../../src/stream/transport.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
const CHILD = path.join(ROOT, 'tests/unit/helpers/prepare-socket-child.ts');
const OTHER_UID = 12345;
const isRoot = process.geteuid?.() === 0;

/** Runs a command to its end (a hang guard, not a timing bound). */
function run(cmd: string, args: string[], opts: { uid?: number; gid?: number } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, ...opts, env: { ...process.env, HOME: os.tmpdir() } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const guard = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')}: no exit within 120 s (hang guard)`)); }, 120000);
    p.on('close', (code) => { clearTimeout(guard); resolve({ code, out, err }); });
  });
}

/** A socket entry nobody listens on: its server process was SIGKILLed, so the entry stayed. */
async function staleSocket(p: string): Promise<void> {
  const r = await run(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(r.code, null, 'the listener died by SIGKILL');
  assert.ok(lstatSync(p).isSocket(), 'its entry is left behind');
}

function listen(p: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(p, () => resolve(s));
  });
}

describe('runtime directory safety (issue 19)', function () {
  this.timeout(120000);
  let tmp: string;
  let rt: BoardRuntime | undefined;

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sbc-rtdir-'));
    chmodSync(tmp, 0o755); // others may search it (the child running as another user)
  });
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
    rmSync(tmp, { recursive: true, force: true });
  });

  const serveIn = async (runtimeDir: string, look?: (s: Awaited<ReturnType<typeof startStreamService>>) => void) => {
    rt ??= await openBoard(loadBoard('sim'));
    const service = await startStreamService(rt, { runtimeDir, ringBuffer: false });
    try {
      look?.(service);
    } finally {
      await service.close();
    }
    return service;
  };

  it('makes the runtime directory and its subdirectories 0750, the sockets 0660', async () => {
    const dir = path.join(tmp, 'a', 'sbc');
    const service = await serveIn(dir, (s) => {
      for (const e of s.endpoints) assert.equal((lstatSync(e.path).mode & 0o777).toString(8), '660', e.path);
      assert.equal((lstatSync(s.simControlPath!).mode & 0o777).toString(8), '660');
    });
    for (const d of [path.join(tmp, 'a'), dir, path.join(dir, 'audio-output'), path.join(dir, 'audio-input'), path.join(dir, 'sim')]) {
      assert.equal((statSync(d).mode & 0o7777).toString(8), '750', d);
      assert.equal(statSync(d).uid, process.geteuid?.());
    }
    assert.ok(service.endpoints.length > 0);
  });

  it('tightens an existing runtime directory of its own that others could enter (0755 → 0750)', async () => {
    const dir = path.join(tmp, 'old');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    ensureRuntimeDir(dir);
    assert.equal((statSync(dir).mode & 0o7777).toString(8), '750');
  });

  it('refuses a runtime directory that is a symbolic link, and creates nothing where it points', async () => {
    const target = path.join(tmp, 'elsewhere');
    mkdirSync(target);
    const link = path.join(tmp, 'link');
    symlinkSync(target, link);
    await assert.rejects(serveIn(link), new RegExp(`runtime directory ${link} is a symbolic link`));
    assert.equal(existsSync(path.join(target, 'audio-output')), false, 'nothing was made through the link');
  });

  it('refuses a runtime directory whose parent is a symbolic link', async () => {
    const target = path.join(tmp, 'elsewhere');
    mkdirSync(target);
    symlinkSync(target, path.join(tmp, 'link'));
    const dir = path.join(tmp, 'link', 'sbc');
    await assert.rejects(serveIn(dir), new RegExp(`runtime directory ${dir} \\(its parent ${path.join(tmp, 'link')}\\) is a symbolic link`));
    assert.equal(existsSync(path.join(target, 'sbc')), false);
  });

  it('refuses a parent writable by everyone without the sticky bit; with the sticky bit (as /tmp) it is accepted', async () => {
    const ww = path.join(tmp, 'ww');
    mkdirSync(ww);
    chmodSync(ww, 0o777);
    const dir = path.join(ww, 'sbc');
    await assert.rejects(serveIn(dir), /\(its parent .*\/ww\) is writable by everyone without the sticky bit \(mode 0777\)/);
    assert.equal(existsSync(dir), false);
    chmodSync(ww, 0o1777); // negative control: the same directory with the sticky bit
    await serveIn(dir);
    assert.ok(existsSync(path.join(dir, 'audio-output')));
  });

  it('refuses a runtime directory writable by everyone (the directory itself)', async () => {
    const dir = path.join(tmp, 'sbc');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    await assert.rejects(serveIn(dir), new RegExp(`runtime directory ${dir} is writable by everyone without the sticky bit`));
  });

  it('refuses a runtime directory or a parent owned by another non-root user; root-owned is accepted', async function () {
    if (!isRoot) this.skip(); // only root can give a directory to another user
    const alice = path.join(tmp, 'alice');
    mkdirSync(alice);
    chownSync(alice, OTHER_UID, OTHER_UID);
    await assert.rejects(serveIn(path.join(alice, 'sbc')), new RegExp(`\\(its parent ${alice}\\) belongs to uid ${OTHER_UID}, neither root nor this user`));
    await assert.rejects(serveIn(alice), new RegExp(`runtime directory ${alice} belongs to uid ${OTHER_UID}`));
    chownSync(alice, 0, 0); // negative control
    await serveIn(path.join(alice, 'sbc'));
  });

  it('`serve` exits 1 naming the refused directory', async () => {
    const target = path.join(tmp, 'elsewhere');
    mkdirSync(target);
    symlinkSync(target, path.join(tmp, 'link'));
    const dir = path.join(tmp, 'link', 'sbc');
    const r = await run(process.execPath, [BIN, 'serve', '--board', 'sim', '--runtime-dir', dir]);
    assert.equal(r.code, 1, `exit status (stderr: ${r.err})`);
    assert.match(r.err, /its parent .*\/link\) is a symbolic link/);
    assert.equal(existsSync(path.join(target, 'sbc')), false);
  });

  describe('existing socket entries: only ECONNREFUSED makes one stale', () => {
    it('the verdict by connect() outcome', () => {
      assert.equal(socketEntryVerdict(undefined), 'live');
      assert.equal(socketEntryVerdict('ECONNREFUSED'), 'stale');
      assert.equal(socketEntryVerdict('EACCES'), 'unknown');
      assert.equal(socketEntryVerdict('EPERM'), 'unknown');
      assert.equal(socketEntryVerdict('ETIMEDOUT'), 'unknown');
      assert.equal(socketEntryVerdict('ENOENT'), 'gone');
    });

    it('a stale entry (ECONNREFUSED) is removed; a live one is refused and kept', async () => {
      const p = path.join(tmp, 'ep');
      await staleSocket(p);
      await prepareSocketPath(p);
      assert.equal(existsSync(p), false, 'the stale entry is gone');
      const server = await listen(p);
      try {
        await assert.rejects(prepareSocketPath(p), /is already served by another process/);
        assert.ok(lstatSync(p).isSocket(), 'negative control: the live entry stays');
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    it('EACCES on connect: a live endpoint this user may not reach is not unlinked, and the error names the path', async function () {
      if (!isRoot) this.skip(); // the other user is made by spawning a child as uid 12345
      const dir = path.join(tmp, 'shared');
      mkdirSync(dir);
      chmodSync(dir, 0o777); // the other user could unlink in it (no sticky bit): only the check stops it
      const p = path.join(dir, 'ep');
      const server = await listen(p);
      try {
        chmodSync(p, 0o600); // root's, live: connect() as another user fails with EACCES
        const r = await run(process.execPath, ['--import', 'tsx', CHILD, p], { uid: OTHER_UID, gid: OTHER_UID });
        assert.equal(r.code, 1, `the child refuses (stdout ${r.out.trim()}, stderr ${r.err.trim()})`);
        assert.match(r.err, new RegExp(`${p}: connecting to the existing socket failed with EACCES, not ECONNREFUSED: it may be a live endpoint; not removing it`));
        assert.ok(lstatSync(p).isSocket(), 'the live endpoint is still there');
        // Negative control: the same child removes a stale entry it can reach (ECONNREFUSED).
        const stale = path.join(dir, 'stale');
        await staleSocket(stale);
        chmodSync(stale, 0o666);
        const r2 = await run(process.execPath, ['--import', 'tsx', CHILD, stale], { uid: OTHER_UID, gid: OTHER_UID });
        assert.equal(r2.code, 0, r2.err);
        assert.equal(existsSync(stale), false);
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  });
});
