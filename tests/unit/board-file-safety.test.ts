/**
 * Issue 19: a board file names data only and is read within bounds. `twinOf` is a board name in
 * the same folder, never a path; a cycle of twins is reported with file and field (no stack
 * overflow); a symbolic-link loop and an unreadable file are reported as such (not as a missing
 * board or field); a file over 1 MiB is refused without being read whole or printed; an unknown
 * codec part names file and field.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_BOARD_FILE_BYTES, loadBoard } from '../../src/board/load.ts';
import { BoardFileError } from '../../src/board/schema.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** A valid board (the package's sim board), to vary one field at a time. */
const SIM = JSON.parse(readFileSync(path.join(ROOT, 'board/sim.json'), 'utf8')) as Record<string, unknown>;
const KNOWN_PARTS = 'cs4271, max98357a, pcm5102a, pcm5122, sgtl5000, sim-codec, tlv320aic3104, wm8960';

describe('board file safety (issue 19)', () => {
  let dir: string;
  /** Paths as the loader shows them (relative to the working directory). */
  const shown = (f: string) => path.relative(process.cwd(), f);
  const write = (name: string, body: unknown) => {
    const f = path.join(dir, `${name}.json`);
    writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
    return f;
  };
  const board = (name: string, extra: Record<string, unknown> = {}) => ({ ...SIM, name, ...extra });
  const twin = (name: string, of: unknown) => ({ name, description: `twin of ${String(of)}`, twinOf: of });
  const fails = (f: string, field: string, message: RegExp) => {
    assert.throws(() => loadBoard(f), (e: unknown) => {
      assert.ok(e instanceof BoardFileError, String(e));
      assert.equal(e.field, field, e.message);
      assert.ok(e.message.startsWith(`${shown(f)}: ${field || '(top level)'}: `), e.message);
      assert.match(e.message, message);
      return true;
    });
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sbc-boards-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Issue 29: plugins are code; a board file names none (they belong to the machine's config.json).
  for (const field of ['plugins', 'ladspaPath']) {
    it(`a board file with "${field}" (a plugin path) is refused by validation, naming file and field`, () => {
      const f = write('plug', board('plug', { [field]: field === 'plugins' ? { speaker: [{ library: '/tmp/evil.so', label: 'x' }] } : ['/tmp'] }));
      fails(f, field, /a board file names no plugins or plugin paths \(it is data only\)/);
    });
  }

  it('a twin of a board in the same folder loads (negative control for the refusals below)', () => {
    write('base', board('base'));
    const b = loadBoard(write('base-sim', twin('base-sim', 'base')));
    assert.equal(b.twinOf, 'base');
    assert.equal(b.hal, 'sim');
  });

  for (const bad of ['../../x', '../base', '/etc/passwd', 'sub/base', 'base.json']) {
    it(`twinOf ${JSON.stringify(bad)} is refused as a path, naming file and field, and nothing outside the folder is read`, () => {
      // A readable board one folder up: a path would reach it.
      const outside = path.join(dir, 'outside');
      mkdirSync(outside);
      mkdirSync(path.join(dir, 'inner'));
      writeFileSync(path.join(dir, 'base.json'), JSON.stringify(board('base')));
      const f = path.join(dir, 'inner', 'evil.json');
      writeFileSync(f, JSON.stringify(twin('evil', bad)));
      fails(f, 'twinOf', /expected the name of a board file in the same folder \(lowercase letters, digits and dashes\)/);
    });
  }

  it('a cycle of twins (a → b → a) is reported with file and field, not as a stack overflow', () => {
    const a = write('a', twin('a', 'b'));
    const b = write('b', twin('b', 'a'));
    // Loading a: b's twinOf is the one that comes back.
    assert.throws(() => loadBoard(a), (e: unknown) => {
      assert.ok(e instanceof BoardFileError, String(e));
      assert.equal(e.message, `${shown(b)}: twinOf: "a" makes a cycle of twins (a.json → b.json → a.json); a twin names a board that is not, through its own twinOf, this one`);
      return true;
    });
    assert.throws(() => loadBoard(b), new RegExp(`^BoardFileError: ${shown(a)}: twinOf: "b" makes a cycle of twins \\(b\\.json → a\\.json → b\\.json\\)`));
  });

  it('a board that is its own twin is a cycle too', () => {
    fails(write('self', twin('self', 'self')), 'twinOf', /"self" makes a cycle of twins \(self\.json → self\.json\)/);
  });

  it('a twin of a missing board names twinOf (as before)', () => {
    fails(write('lonely', twin('lonely', 'no-such-board')), 'twinOf', /expected a board in .*, got "no-such-board"/);
  });

  it('a symbolic-link loop is reported as one, not as a missing board or field', () => {
    const f = path.join(dir, 'loop.json');
    symlinkSync(f, f);
    fails(f, '', /cannot read the board file: a symbolic link loop \(ELOOP\)/);
    // ...also when it is a twin's base: the base's own trouble, in the base's name.
    const base = path.join(dir, 'base.json');
    symlinkSync(base, base);
    assert.throws(() => loadBoard(write('base-sim', twin('base-sim', 'base'))), new RegExp(`^BoardFileError: ${shown(base)}: \\(top level\\): cannot read the board file: a symbolic link loop`));
  });

  it('an unreadable board file is reported as unreadable (as another user: root reads everything)', async function () {
    if (process.geteuid?.() !== 0) this.skip();
    const f = write('secret', board('secret'));
    chmodSync(f, 0o000);
    chmodSync(dir, 0o755);
    const script = `import('${path.join(ROOT, 'src/board/load.ts')}').then((m) => m.loadBoard(${JSON.stringify(f)})).then(() => console.log('read'), (e) => { console.log(e.message); process.exitCode = 1; })`;
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, uid: 12345, gid: 12345, env: { ...process.env, HOME: os.tmpdir() } });
      let out = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { out += d; });
      const guard = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('no exit within 120 s (hang guard)')); }, 120000);
      p.on('close', (code) => { clearTimeout(guard); resolve({ code, out }); });
    });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /\(top level\): cannot read the board file: not readable by this user \(EACCES\)/);
  }).timeout(120000);

  it(`a board file over ${MAX_BOARD_FILE_BYTES} bytes is refused without being printed; one just under the limit is read`, () => {
    const big = path.join(dir, 'big.json');
    // Valid JSON, 50 MB: a long description.
    const filler = 'x'.repeat(50 * 1024 * 1024);
    writeFileSync(big, JSON.stringify(board('big', { description: filler })));
    assert.throws(() => loadBoard(big), (e: unknown) => {
      assert.ok(e instanceof BoardFileError);
      assert.match(e.message, /\(top level\): the board file is \d+ bytes; a board file is at most 1048576 bytes \(1 MiB\)/);
      assert.ok(e.message.length < 300, `the message is short (${e.message.length} characters)`);
      return true;
    });
    // Negative control: a board padded to just under the limit loads.
    const body = JSON.stringify(board('near', { description: '' }));
    const near = write('near', JSON.stringify(board('near', { description: 'y'.repeat(MAX_BOARD_FILE_BYTES - body.length - 10) })));
    assert.equal(loadBoard(near).name, 'near');
  });

  it('a long malformed file is refused with a short excerpt, never whole', () => {
    const f = write('junk', `{"name": "junk", ${'"a": 1, '.repeat(50000)} oops`);
    assert.throws(() => loadBoard(f), (e: unknown) => {
      assert.match((e as Error).message, /\(top level\): expected valid JSON/);
      assert.ok((e as Error).message.length < 400, `${(e as Error).message.length} characters`);
      return true;
    });
  });

  it('an unknown codec part names file, field and the known parts', () => {
    const f = write('foo-board', board('foo-board', { codec: { ...(SIM.codec as object), part: 'foo' } }));
    fails(f, 'codec.part', new RegExp(`^unknown part "foo" \\(known: ${KNOWN_PARTS}\\)$`.replace('^', '.*')));
    assert.throws(() => loadBoard(f), new RegExp(`${shown(f)}: codec\\.part: unknown part "foo" \\(known: ${KNOWN_PARTS}\\)$`));
  });
});
