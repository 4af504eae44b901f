/**
 * The control state file (src/control/state-file.ts; contract: docs/CONTROL.md, "The state file"):
 * where it lives, what a good one round-trips, what a bad one costs (one warning, the defaults,
 * and the file moved aside before the next save with its bytes intact), how often it is written
 * (at most once per interval, on the virtual clock), and that a symbolic link at its path is
 * never read or written through.
 *
 * Real files in temporary directories; time is a VirtualClock, but a write itself runs on real
 * I/O, so the tests wait for it with `settled()` after moving the clock.
 */
import assert from 'node:assert/strict';
import {
  chmodSync, closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync,
  readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, ftruncateSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultStatePath, openStateStore, type StateStore } from '../../src/control/state-file.ts';
import { VirtualClock } from '../../src/hal/sim/clock.ts';

const MS = 1e6;
const MIB = 1024 * 1024;
const isRoot = process.geteuid?.() === 0;
/** `<file>.bad-<ISO time with ':' as '-'>`, as the contract names a file moved aside. */
const BAD_NAME = /^state\.json\.bad-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z(-\d+)?$/;

describe('control state file (docs/CONTROL.md, "The state file")', function () {
  this.timeout(60000);

  describe('defaultStatePath', () => {
    const home = '/home/pi';
    it('is $STATE_DIRECTORY/state.json when systemd sets it, for root and users alike', () => {
      assert.equal(defaultStatePath({ STATE_DIRECTORY: '/var/lib/sbc-audio' }, 0, home), '/var/lib/sbc-audio/state.json');
      assert.equal(defaultStatePath({ STATE_DIRECTORY: '/srv/state', XDG_STATE_HOME: '/x' }, 1000, home), '/srv/state/state.json');
    });
    it('takes the first of several colon-separated state directories', () => {
      assert.equal(defaultStatePath({ STATE_DIRECTORY: '/var/lib/a:/var/lib/b' }, 0, home), '/var/lib/a/state.json');
    });
    it('is /var/lib/sbc-audio/state.json for root without it (XDG_STATE_HOME does not apply to root)', () => {
      assert.equal(defaultStatePath({}, 0, home), '/var/lib/sbc-audio/state.json');
      assert.equal(defaultStatePath({ XDG_STATE_HOME: '/root/.xs', STATE_DIRECTORY: '' }, 0, '/root'), '/var/lib/sbc-audio/state.json');
    });
    it('is $XDG_STATE_HOME/sbc-audio/state.json for a user when it is absolute', () => {
      assert.equal(defaultStatePath({ XDG_STATE_HOME: '/home/pi/st' }, 1000, home), '/home/pi/st/sbc-audio/state.json');
    });
    it('is <home>/.local/state/sbc-audio/state.json for a user when XDG_STATE_HOME is unset, empty or relative', () => {
      const dflt = '/home/pi/.local/state/sbc-audio/state.json';
      assert.equal(defaultStatePath({}, 1000, home), dflt);
      assert.equal(defaultStatePath({ XDG_STATE_HOME: '' }, 1000, home), dflt);
      assert.equal(defaultStatePath({ XDG_STATE_HOME: 'relative/st' }, 1000, home), dflt);
    });
  });

  describe('the store', () => {
    let tmp: string;
    let lines: string[];
    let clock: VirtualClock;
    const stores: StateStore[] = [];

    beforeEach(() => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'sbc-state-'));
      lines = [];
      clock = new VirtualClock();
    });
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
      rmSync(tmp, { recursive: true, force: true });
    });

    const open = (file: string, minIntervalMs = 1000): StateStore => {
      const s = openStateStore(file, { clock, log: (l) => lines.push(l), minIntervalMs });
      stores.push(s);
      return s;
    };
    /** Moves the virtual clock by `ms` and waits for any write that started meanwhile. */
    const advance = async (s: StateStore, ms: number) => {
      await clock.runUntil(clock.nowNs() + ms * MS);
      await s.settled();
    };
    const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
    const badFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('state.json.bad-'));
    const stateText = (boards: unknown) => JSON.stringify({ format: 'sbc-audio-state', version: 1, boards }, null, 2);

    it('round-trips the values of two boards; a save of one keeps the other entry as read', async () => {
      const file = path.join(tmp, 'var', 'lib', 'state.json'); // directories missing
      const a = { 'a.speaker.gain': -20.5, 'a.speaker.mute': false, 'a.pcm5122.dsp-program': 'Fixed process flow' };
      const b = { 'b.headphone.gain': -6, 'b.headphone.mute': true };

      const s1 = open(file);
      assert.deepEqual(s1.load('a'), {});
      s1.update('a', a);
      await s1.flush();
      assert.equal(s1.writes, 1);
      // The contract's modes: the created directories 0750, the file 0640.
      assert.equal(statSync(path.join(tmp, 'var')).mode & 0o777, 0o750);
      assert.equal(statSync(path.join(tmp, 'var', 'lib')).mode & 0o777, 0o750);
      assert.equal(statSync(file).mode & 0o777, 0o640);
      const first = readJson(file);
      assert.equal(first.format, 'sbc-audio-state');
      assert.equal(first.version, 1);
      assert.match(first.boards.a.savedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.deepEqual(first.boards.a.controls, a);

      const s2 = open(file);
      assert.deepEqual(s2.load('b'), {});
      assert.deepEqual(s2.load('a'), a);
      s2.update('b', b);
      await s2.flush();
      assert.equal(s2.writes, 1);
      const second = readJson(file);
      assert.deepEqual(second.boards.a, first.boards.a, "board a's entry (and its savedAt) is kept as read");

      const s3 = open(file);
      assert.deepEqual(s3.load('a'), a);
      assert.deepEqual(s3.load('b'), b);
      assert.deepEqual(lines, [], 'no warnings for good files');
      assert.deepEqual(readdirSync(path.dirname(file)), ['state.json'], 'no temporary or .bad- files left');
    });

    it('keeps another board entry verbatim, fields it does not know included', async () => {
      const file = path.join(tmp, 'state.json');
      const other = { savedAt: '2020-01-01T00:00:00.000Z', controls: { 'other.speaker.gain': -3 }, note: 'hand-written' };
      writeFileSync(file, stateText({ other }));
      const s = open(file);
      assert.deepEqual(s.load('sim'), {});
      s.update('sim', { 'sim.speaker.gain': -20 });
      await s.flush();
      assert.deepEqual(readJson(file).boards.other, other);
      assert.deepEqual(readJson(file).boards.sim.controls, { 'sim.speaker.gain': -20 });
    });

    it('a missing file: {} with no warning, and nothing written until a change', async () => {
      const file = path.join(tmp, 'state.json');
      const s = open(file);
      assert.deepEqual(s.load('sim'), {});
      await advance(s, 5000);
      await s.flush();
      assert.equal(s.writes, 0);
      assert.equal(existsSync(file), false);
      assert.deepEqual(lines, []);
    });

    interface BadCase {
      what: string;
      make: (file: string) => void;
      warning: RegExp;
      /** Checks that what was moved aside is the original. */
      kept: (moved: string) => void;
      /** Another board's entry the new file must still hold. */
      other?: unknown;
    }
    const bytesCase = (what: string, bytes: Buffer | string, warning: RegExp, other?: unknown): BadCase => ({
      what,
      make: (f) => writeFileSync(f, bytes),
      warning,
      kept: (moved) => assert.deepEqual(readFileSync(moved), Buffer.from(bytes)),
      other,
    });
    const otherEntry = { savedAt: '2026-11-29T20:00:00.000Z', controls: { 'other.speaker.gain': -30 } };
    const badCases: BadCase[] = [
      bytesCase('not JSON', '{"format": "sbc-audio-state", "version": 1, "boards": {', /not JSON/),
      bytesCase('empty', '', /not JSON/),
      bytesCase('JSON but not an object', '[1, 2, 3]\n', /not a state file/),
      bytesCase('another format', JSON.stringify({ format: 'alsactl', version: 1, boards: {} }), /"format" is "alsactl"/),
      bytesCase('no format', JSON.stringify({ version: 1, boards: {} }), /"format" is missing/),
      bytesCase('another version', JSON.stringify({ format: 'sbc-audio-state', version: 2, boards: {} }), /version 2/),
      bytesCase('boards not an object', JSON.stringify({ format: 'sbc-audio-state', version: 1, boards: [] }), /"boards" is not an object/),
      bytesCase('the board entry not an object', stateText({ other: otherEntry, sim: 'loud' }), /board "sim": the entry is not an object/, otherEntry),
      bytesCase('the board entry without controls object', stateText({ sim: { savedAt: 'x', controls: [-20] }, other: otherEntry }), /board "sim": "controls"/, otherEntry),
      bytesCase('not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not UTF-8/),
      {
        what: 'a directory',
        make: (f) => { mkdirSync(f); writeFileSync(path.join(f, 'marker'), 'm'); },
        warning: /not a regular file \(a directory\)/,
        kept: (moved) => assert.equal(readFileSync(path.join(moved, 'marker'), 'utf8'), 'm'),
      },
      {
        what: 'a symbolic link loop',
        make: (f) => symlinkSync(f, f),
        warning: /symbolic link/,
        kept: (moved) => assert.equal(readlinkSync(moved), path.join(path.dirname(moved), 'state.json')),
      },
      {
        // Sparse: 8 GiB on paper and no blocks; reading it whole would take the test's time and memory.
        what: 'larger than 1 MiB (8 GiB sparse)',
        make: (f) => { const fd = openSync(f, 'w'); ftruncateSync(fd, 8 * 1024 * MIB); closeSync(fd); },
        warning: /larger than 1 MiB/,
        kept: (moved) => assert.equal(statSync(moved).size, 8 * 1024 * MIB),
      },
      bytesCase('1 MiB + 1 byte', stateText({}).padEnd(MIB + 1, ' '), /larger than 1 MiB \(1048577 bytes\)/),
    ];
    if (!isRoot) {
      // Root reads any file; the EACCES case needs a user.
      badCases.push({
        what: 'unreadable (EACCES)',
        make: (f) => { writeFileSync(f, stateText({})); chmodSync(f, 0); },
        warning: /unreadable \(EACCES/,
        kept: (moved) => assert.equal(statSync(moved).mode & 0o777, 0),
      });
    }

    for (const c of badCases) {
      it(`a bad file (${c.what}): one warning naming the file, {}, and the file moved aside at the next save`, async () => {
        const file = path.join(tmp, 'state.json');
        c.make(file);
        const s = open(file);
        assert.deepEqual(s.load('sim'), {});
        assert.equal(lines.length, 1, `one warning: ${JSON.stringify(lines)}`);
        assert.ok(lines[0]!.includes(file), `the warning names the file: ${lines[0]}`);
        assert.match(lines[0]!, c.warning);
        assert.match(lines[0]!, /the defaults apply/);
        assert.deepEqual(badFiles(tmp), [], 'nothing moved before a save');

        s.update('sim', { 'sim.speaker.gain': -12 });
        await s.flush();
        assert.equal(s.writes, 1);
        const moved = badFiles(tmp);
        assert.equal(moved.length, 1, `one .bad- entry: ${readdirSync(tmp).join(', ')}`);
        assert.match(moved[0]!, BAD_NAME);
        c.kept(path.join(tmp, moved[0]!));
        assert.ok(lstatSync(file).isFile(), 'the new state file is a regular file');
        const doc = readJson(file);
        assert.equal(doc.format, 'sbc-audio-state');
        assert.equal(doc.version, 1);
        assert.deepEqual(doc.boards.sim.controls, { 'sim.speaker.gain': -12 });
        if (c.other) assert.deepEqual(doc.boards.other, c.other, "the other board's good entry is kept");
        assert.equal(lines.length, 1, 'no further warnings');

        // The new file is good: a new store reads it without a warning and moves nothing.
        const s2 = open(file);
        assert.deepEqual(s2.load('sim'), { 'sim.speaker.gain': -12 });
        s2.update('sim', { 'sim.speaker.gain': -13 });
        await s2.flush();
        assert.equal(badFiles(tmp).length, 1);
        assert.equal(lines.length, 1);
      });
    }

    it('a file of exactly 1 MiB is read (the limit is on the far side)', () => {
      const file = path.join(tmp, 'state.json');
      writeFileSync(file, stateText({ sim: { savedAt: 'x', controls: { 'sim.speaker.gain': -7 } } }).padEnd(MIB, ' '));
      assert.equal(statSync(file).size, MIB);
      assert.deepEqual(open(file).load('sim'), { 'sim.speaker.gain': -7 });
      assert.deepEqual(lines, []);
    });

    it('a partly good entry: the good values are restored, one warning names the dropped ids', async () => {
      const file = path.join(tmp, 'state.json');
      const controls = { 'sim.x.a': -20, 'sim.x.b': null, 'sim.x.c': { db: 1 }, 'sim.x.d': true, 'sim.x.e': 'on', 'sim.x.f': [1] };
      writeFileSync(file, stateText({ sim: { savedAt: '2026-11-29T20:00:00.000Z', controls } }));
      const s = open(file);
      assert.deepEqual(s.load('sim'), { 'sim.x.a': -20, 'sim.x.d': true, 'sim.x.e': 'on' });
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.includes(file));
      assert.match(lines[0]!, /sim\.x\.b, sim\.x\.c, sim\.x\.f/);
      assert.doesNotMatch(lines[0]!, /sim\.x\.[ade]\b/, 'the good ids are not named');
      // Saving the same good values still rewrites the entry (the dropped ones were on disk).
      s.update('sim', { 'sim.x.a': -20, 'sim.x.d': true, 'sim.x.e': 'on' });
      await s.flush();
      assert.equal(s.writes, 1);
      assert.deepEqual(readJson(file).boards.sim.controls, { 'sim.x.a': -20, 'sim.x.d': true, 'sim.x.e': 'on' });
      assert.deepEqual(badFiles(tmp), [], 'a partly good file is not moved aside');
    });

    it('names at most 10 dropped ids, then "and N more"', () => {
      const file = path.join(tmp, 'state.json');
      const controls: Record<string, unknown> = { 'sim.ok.gain': -1 };
      for (let i = 1; i <= 13; i++) controls[`sim.bad.v${i}`] = null;
      writeFileSync(file, stateText({ sim: { savedAt: 'x', controls } }));
      assert.deepEqual(open(file).load('sim'), { 'sim.ok.gain': -1 });
      assert.equal(lines.length, 1);
      for (let i = 1; i <= 10; i++) assert.ok(lines[0]!.includes(`sim.bad.v${i},`) || lines[0]!.includes(`sim.bad.v${i} and`), `v${i} named`);
      for (let i = 11; i <= 13; i++) assert.ok(!lines[0]!.includes(`sim.bad.v${i}`), `v${i} not named`);
      assert.match(lines[0]!, /and 3 more/);
    });

    /** 1000 updates at 100 Hz over 10 s of virtual time; returns the write times and what each wrote. */
    const stream = async (s: StateStore, file: string) => {
      const t0 = clock.nowNs();
      const written: { atNs: number; gain: number; last: number }[] = [];
      let last = NaN;
      for (let i = 0; i < 1000; i++) {
        await clock.runUntil(t0 + i * 10 * MS);
        await s.settled();
        if (s.writes > written.length) written.push({ atNs: clock.nowNs(), gain: readJson(file).boards.sim.controls['sim.speaker.gain'], last });
        last = -(i + 1) / 10;
        s.update('sim', { 'sim.speaker.gain': last, 'sim.speaker.mute': false });
      }
      await advance(s, 10);
      if (s.writes > written.length) written.push({ atNs: clock.nowNs(), gain: readJson(file).boards.sim.controls['sim.speaker.gain'], last });
      return { t0, written, last };
    };

    it('a stream of 1000 changes over 10 s is written at most 11 times, 1 s apart, each change on disk within 1 s', async () => {
      const file = path.join(tmp, 'state.json');
      const s = open(file, 1000);
      s.load('sim');
      const { written, last } = await stream(s, file);
      assert.ok(s.writes <= 11, `writes: ${s.writes}`);
      // Not vacuous: changes never stop, so the writes keep coming, one per interval.
      assert.ok(s.writes >= 10, `writes: ${s.writes}`);
      for (let k = 1; k < written.length; k++) {
        const gapMs = (written[k]!.atNs - written[k - 1]!.atNs) / MS;
        assert.ok(gapMs >= 1000 && gapMs <= 1010, `writes ${k - 1} and ${k} are 1 s apart (seen one 10 ms step late at most): ${gapMs} ms`);
      }
      // Each write holds the last value set before it (observed at most one 10 ms step later):
      // a change waits at most the interval.
      for (const w of written) assert.equal(w.gain, w.last);
      await s.flush();
      assert.equal(readJson(file).boards.sim.controls['sim.speaker.gain'], last);
      assert.equal(last, -100);
    });

    it('negative control: with minIntervalMs 0 the same stream is written far more often', async () => {
      const file = path.join(tmp, 'state.json');
      const s = open(file, 0);
      s.load('sim');
      await stream(s, file);
      await s.flush();
      assert.ok(s.writes > 500, `writes: ${s.writes}`);
    });

    it('writes nothing when the values equal those on disk (in any key order)', async () => {
      const file = path.join(tmp, 'state.json');
      const s1 = open(file);
      s1.update('sim', { 'sim.speaker.gain': -20, 'sim.speaker.mute': false });
      await s1.flush();
      const before = readFileSync(file);

      const s2 = open(file);
      assert.deepEqual(s2.load('sim'), { 'sim.speaker.gain': -20, 'sim.speaker.mute': false });
      s2.update('sim', { 'sim.speaker.mute': false, 'sim.speaker.gain': -20 });
      await advance(s2, 2000);
      await s2.flush();
      assert.equal(s2.writes, 0);
      // A change and its undoing within the interval: still nothing to write.
      s2.update('sim', { 'sim.speaker.gain': -10, 'sim.speaker.mute': false });
      s2.update('sim', { 'sim.speaker.gain': -20, 'sim.speaker.mute': false });
      await advance(s2, 2000);
      assert.equal(s2.writes, 0);
      assert.deepEqual(readFileSync(file), before);

      // Negative control: a different value is written.
      s2.update('sim', { 'sim.speaker.gain': -21, 'sim.speaker.mute': false });
      await advance(s2, 999);
      assert.equal(s2.writes, 0, 'not before the interval');
      await advance(s2, 1);
      assert.equal(s2.writes, 1, 'at the interval');
      assert.equal(readJson(file).boards.sim.controls['sim.speaker.gain'], -21);
    });

    it('a symbolic link at the path is neither read nor written through', async () => {
      const file = path.join(tmp, 'state.json');
      const target = path.join(tmp, 'elsewhere.json');
      // A good state file behind the link: following it would restore -5.
      const targetText = stateText({ sim: { savedAt: 'x', controls: { 'sim.speaker.gain': -5 } } });
      writeFileSync(target, targetText);
      symlinkSync(target, file);
      const s = open(file);
      assert.deepEqual(s.load('sim'), {});
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.includes(file));
      assert.match(lines[0]!, /symbolic link/);
      s.update('sim', { 'sim.speaker.gain': -12 });
      await s.flush();
      assert.equal(readFileSync(target, 'utf8'), targetText, 'the link target is untouched');
      assert.ok(lstatSync(file).isFile());
      assert.equal(readJson(file).boards.sim.controls['sim.speaker.gain'], -12);
      const moved = badFiles(tmp);
      assert.equal(moved.length, 1);
      assert.equal(readlinkSync(path.join(tmp, moved[0]!)), target, 'the link itself is kept aside');
    });

    it('a link planted after the read (at the path or at the temporary name) is replaced, not written through', async () => {
      const file = path.join(tmp, 'state.json');
      const target = path.join(tmp, 'elsewhere');
      writeFileSync(target, 'precious');
      const s = open(file);
      assert.deepEqual(s.load('sim'), {});
      symlinkSync(target, file);
      symlinkSync(target, `${file}.tmp-${process.pid}`);
      s.update('sim', { 'sim.speaker.gain': -12 });
      await s.flush();
      assert.equal(s.writes, 1);
      assert.equal(readFileSync(target, 'utf8'), 'precious');
      assert.ok(lstatSync(file).isFile());
      assert.equal(readJson(file).boards.sim.controls['sim.speaker.gain'], -12);
      assert.equal(existsSync(`${file}.tmp-${process.pid}`), false);
    });

    it('an unwritable place: one warning for repeated failures, no throw, and the next change after the fault writes', async () => {
      // Root passes permission checks, so the fault is one root meets too: a file where the
      // directory should be (mkdir fails with ENOTDIR / EEXIST on every try).
      const blocker = path.join(tmp, 'blocker');
      writeFileSync(blocker, 'x');
      const file = path.join(blocker, 'state.json');
      const s = open(file);
      assert.deepEqual(s.load('sim'), {});
      assert.equal(lines.length, 0, 'nothing to read there is not a bad file');
      for (let i = 0; i < 5; i++) {
        s.update('sim', { 'sim.speaker.gain': -i });
        await advance(s, 1500);
      }
      await s.flush();
      await s.flush();
      assert.equal(s.writes, 0);
      assert.equal(lines.length, 1, `one warning: ${JSON.stringify(lines)}`);
      assert.ok(lines[0]!.includes(file));
      assert.match(lines[0]!, /cannot write/);

      rmSync(blocker);
      s.update('sim', { 'sim.speaker.gain': -9 });
      await advance(s, 1000);
      assert.equal(s.writes, 1);
      assert.equal(readJson(file).boards.sim.controls['sim.speaker.gain'], -9);
      assert.equal(lines.length, 1);
    });

    if (!isRoot) {
      it('an unwritable directory (mode 0500): one warning for repeated failures, no throw', async () => {
        const dir = path.join(tmp, 'ro');
        mkdirSync(dir, { mode: 0o500 });
        const file = path.join(dir, 'state.json');
        const s = open(file);
        s.load('sim');
        for (let i = 0; i < 5; i++) {
          s.update('sim', { 'sim.speaker.gain': -i });
          await advance(s, 1500);
        }
        await s.flush();
        assert.equal(s.writes, 0);
        assert.equal(lines.length, 1);
        assert.match(lines[0]!, /cannot write \(EACCES/);
        chmodSync(dir, 0o700);
      });
    }

    it('a value a control cannot take (NaN) is not saved: one warning naming it, the rest saved', async () => {
      const file = path.join(tmp, 'state.json');
      const s = open(file);
      s.update('sim', { 'sim.speaker.gain': NaN, 'sim.speaker.mute': true });
      s.update('sim', { 'sim.speaker.gain': NaN, 'sim.speaker.mute': true });
      await s.flush();
      assert.equal(lines.length, 1, `one warning: ${JSON.stringify(lines)}`);
      assert.match(lines[0]!, /sim\.speaker\.gain/);
      assert.deepEqual(readJson(file).boards.sim.controls, { 'sim.speaker.mute': true });
    });

    it('after close, the last values are on disk and later updates are ignored', async () => {
      const file = path.join(tmp, 'state.json');
      const s = open(file);
      s.update('sim', { 'sim.speaker.gain': -3 });
      await s.close();
      assert.equal(s.writes, 1);
      s.update('sim', { 'sim.speaker.gain': -4 });
      await advance(s, 5000);
      assert.equal(s.writes, 1);
      assert.equal(clock.nextTimerNs(), undefined, 'no timer left');
      assert.equal(readJson(file).boards.sim.controls['sim.speaker.gain'], -3);
    });
  });
});
