/**
 * The control state file: the persistent control values of the boards served on this machine,
 * saved on change and restored at the next start, as `alsactl store` / `alsactl restore` do for
 * ALSA mixers. docs/CONTROL.md, "The state file", is the contract; this module is its reader and
 * writer. The control model (./model.ts) decides what is persistent and what a restored value
 * means; here a value is only a number, a boolean or a string.
 *
 * Nothing here throws at its caller: a state file is a convenience, and a service that cannot
 * read or write one still runs on its defaults, with a warning line saying why.
 */
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Clock, TimerHandle } from '../hal/clock.ts';
import { NS_PER_MS } from '../hal/clock.ts';
import { readAtMost } from '../util/read-bounded.ts';
import type { ControlValue } from './types.ts';

/** The file's `format` field: what kind of file it is (another program's JSON is not ours to read). */
export const STATE_FORMAT = 'sbc-audio-state';
/** The file's `version` field: the layout this module reads and writes. */
export const STATE_VERSION = 1;
/**
 * Larger files are refused unread. A board's state is a few hundred values of a few dozen bytes
 * (tens of KiB); a file a thousand times that size is not one we wrote, and reading it whole would
 * hold the service's start-up hostage to it.
 */
export const STATE_MAX_BYTES = 1024 * 1024;
/** How many dropped ids a warning names before "and N more" (a line stays readable). */
const IDS_NAMED = 10;

/**
 * Where the state file lives when `serve --state-file` does not say (docs/CONTROL.md's table):
 * 1. `$STATE_DIRECTORY/state.json`: systemd sets STATE_DIRECTORY for a unit with StateDirectory=
 *    (systemd.exec(5), "RuntimeDirectory=, StateDirectory=, ..."); with several directories it
 *    joins their paths with ':', and ours is the first.
 * 2. `/var/lib/sbc-audio/state.json` for root (the FHS's place for a program's persistent state).
 * 3. `$XDG_STATE_HOME/sbc-audio/state.json` for a user, or `<home>/.local/state/sbc-audio/state.json`
 *    when it is unset, empty or relative: the XDG Base Directory Specification 0.8 gives that
 *    default and says a relative path in its variables is invalid and to be ignored.
 */
export function defaultStatePath(
  env: NodeJS.ProcessEnv = process.env,
  euid: number = process.geteuid?.() ?? 0,
  home: string = os.homedir(),
): string {
  const stateDirectory = env.STATE_DIRECTORY?.split(':')[0];
  if (stateDirectory) return path.join(stateDirectory, 'state.json');
  if (euid === 0) return '/var/lib/sbc-audio/state.json';
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'state');
  return path.join(base, 'sbc-audio', 'state.json');
}

export interface StateStoreOptions {
  /** Times the debounce (a VirtualClock in tests: no wall-time waits). */
  clock: Clock;
  /** Warning lines (default: dropped). */
  log?: (line: string) => void;
  /** The least time between two writes, and the most a change waits before its write (default 1000). */
  minIntervalMs?: number;
}

export interface StateStore {
  /**
   * The saved values of `board` (ids as the file has them; the model checks each against its
   * controls). The file is read on the first call (or the first update) and never again. Missing:
   * `{}`. Bad: `{}`, one warning, and the file is moved aside at the next save.
   */
  load(board: string): Record<string, ControlValue>;
  /**
   * The board's full set of persistent values now. Written `minIntervalMs` after the first change
   * not yet on disk; later changes join that write (only the last values of each board are
   * written). Values equal to the file's are not written. Other boards' entries stay as read.
   */
  update(board: string, controls: Record<string, ControlValue>): void;
  /** Writes what is pending now, whatever the interval (the service stopping). Never rejects. */
  flush(): Promise<void>;
  /** Flushes and cancels the timer; later updates are ignored. Never rejects. */
  close(): Promise<void>;
  /** Resolves when no write is in progress (tests: a write runs on real I/O, not on the clock). */
  settled(): Promise<void>;
  /** How many times the file was written (renamed into place). */
  readonly writes: number;
}

export function openStateStore(file: string, opts: StateStoreOptions): StateStore {
  return new FileStateStore(file, opts);
}

type Boards = Record<string, unknown>;

/** What reading the file found. */
type ReadResult =
  | { kind: 'missing' }
  | { kind: 'bad'; why: string }
  | { kind: 'ok'; boards: Boards };

class FileStateStore implements StateStore {
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly intervalNs: number;
  private read = false;
  /** The file's `boards` as it is on disk (raw JSON: other boards' entries are kept as read). */
  private boards: Boards = {};
  /** Why the file on disk is bad: it is moved aside before the next write (nothing is lost). */
  private badWhy: string | undefined;
  /** Per board, the values to write next (the last update's). */
  private pending = new Map<string, Record<string, ControlValue>>();
  private timer: TimerHandle | undefined;
  /** Writes run one after another on this chain (a timer may fire while a slow write is running). */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Warnings about reading (each said once in the store's life). */
  private readonly readWarned = new Set<string>();
  /** Write errors already reported (cleared by a good write, so a recurring fault is told again). */
  private readonly writeWarned = new Set<string>();
  private writeCount = 0;

  constructor(private readonly file: string, opts: StateStoreOptions) {
    this.clock = opts.clock;
    this.log = opts.log ?? (() => {});
    const ms = opts.minIntervalMs ?? 1000;
    if (!(ms >= 0 && Number.isFinite(ms))) throw new RangeError(`openStateStore: minIntervalMs must be a finite number ≥ 0 (got ${ms})`);
    this.intervalNs = ms * NS_PER_MS;
  }

  get writes(): number {
    return this.writeCount;
  }

  load(board: string): Record<string, ControlValue> {
    try {
      this.ensureRead();
      const pending = this.pending.get(board);
      if (pending) return { ...pending };
      const entry = this.boards[board];
      if (entry === undefined) return {};
      const why = malformedEntry(entry);
      if (why) {
        this.badWhy ??= `board "${board}": ${why}`;
        this.warnRead(`board "${board}": ${why}; the defaults apply and the file is moved aside (${path.basename(this.file)}.bad-<time>) at the next save`);
        return {};
      }
      const { good, dropped } = sortValues((entry as { controls: Record<string, unknown> }).controls);
      if (dropped.length) {
        this.warnRead(`board "${board}": ${dropped.length} value(s) dropped, not a number, true/false or a string: ${listIds(dropped)}; the other values are restored`);
      }
      return good;
    } catch (e) {
      // Nothing above should throw; if it does, the service still runs on its defaults.
      this.warnRead(`cannot be used (${(e as Error).message}); the defaults apply`);
      return {};
    }
  }

  update(board: string, controls: Record<string, ControlValue>): void {
    if (this.closed) return;
    try {
      this.ensureRead();
      const { good, dropped } = sortValues(controls);
      if (dropped.length) {
        // A caller's bug (NaN would be written as null): warn once per set of ids, keep the rest.
        this.warnWrite(`board "${board}": not saved, not a finite number, true/false or a string: ${listIds(dropped)}`);
      }
      this.pending.set(board, good);
      this.timer ??= this.clock.setTimerNs(this.clock.nowNs() + this.intervalNs, () => {
        this.timer = undefined;
        void this.enqueueWrite();
      });
    } catch (e) {
      this.warnWrite(`cannot schedule a save (${(e as Error).message})`);
    }
  }

  flush(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    return this.enqueueWrite();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.timer?.cancel();
    this.timer = undefined;
  }

  async settled(): Promise<void> {
    for (;;) {
      const c = this.chain;
      await c;
      if (c === this.chain) return;
    }
  }

  private enqueueWrite(): Promise<void> {
    // writePending reports its errors; the catch only keeps the chain alive if `log` throws.
    this.chain = this.chain.then(() => this.writePending()).catch(() => {});
    return this.chain;
  }

  /** Reads the file once; a bad one leaves `boards` empty and `badWhy` set. */
  private ensureRead(): void {
    if (this.read) return;
    this.read = true;
    const r = readStateFile(this.file);
    if (r.kind === 'ok') {
      this.boards = r.boards;
    } else if (r.kind === 'bad') {
      this.badWhy = r.why;
      this.warnRead(`${r.why}; the defaults apply and the file is moved aside (${path.basename(this.file)}.bad-<time>) at the next save`);
    }
  }

  /** True when the file on disk holds exactly these values for the board (in any key order). */
  private onDisk(board: string, controls: Record<string, ControlValue>): boolean {
    if (this.badWhy !== undefined) return false;
    const entry = this.boards[board];
    if (malformedEntry(entry)) return false;
    const saved = (entry as { controls: Record<string, unknown> }).controls;
    const keys = Object.keys(controls);
    if (Object.keys(saved).length !== keys.length) return false;
    return keys.every((k) => Object.hasOwn(saved, k) && saved[k] === controls[k]);
  }

  /** One write of everything pending (never rejects: errors are warnings). */
  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    const changed = [...taken].filter(([board, controls]) => !this.onDisk(board, controls));
    if (changed.length === 0) return;
    const savedAt = new Date().toISOString();
    const boards: Boards = { ...this.boards };
    for (const [board, controls] of changed) boards[board] = { savedAt, controls };
    try {
      await this.writeFile(boards);
      this.boards = boards;
      this.writeCount++;
      this.writeWarned.clear();
    } catch (e) {
      // Keep the values for the next try (a later update of a board replaces them).
      for (const [board, controls] of taken) if (!this.pending.has(board)) this.pending.set(board, controls);
      this.warnWrite(`cannot write (${(e as Error).message}); the values stay in memory and the next change tries again`);
    }
  }

  private async writeFile(boards: Boards): Promise<void> {
    const dir = path.dirname(this.file);
    await makeDir(dir);
    if (this.badWhy !== undefined) {
      await moveAside(this.file);
      this.badWhy = undefined;
    }
    const text = JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION, boards }, null, 2) + '\n';
    const tmp = `${this.file}.tmp-${process.pid}`;
    // A leftover of a crashed write of this pid (or anything planted there): unlink removes a
    // link itself, never its target, and 'wx' (O_CREAT|O_EXCL) refuses to open through one.
    await unlink(tmp).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
    const fh = await open(tmp, 'wx', 0o640);
    try {
      try {
        await fh.chmod(0o640); // the mode the contract states, whatever the umask
        await fh.writeFile(text, 'utf8');
        await fh.sync(); // the data is on disk before the rename makes it the file
      } finally {
        await fh.close();
      }
      // rename replaces whatever is at `file` (even a symbolic link planted since the read) and
      // never writes through it.
      await rename(tmp, this.file);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    // The rename is durable once the directory is synced; some filesystems refuse: best effort.
    try {
      const d = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
      try { await d.sync(); } finally { await d.close(); }
    } catch { /* best effort */ }
  }

  private warnRead(what: string): void {
    this.warnOnce(this.readWarned, what);
  }

  private warnWrite(what: string): void {
    this.warnOnce(this.writeWarned, what);
  }

  /** One line per distinct warning while it is in `said`. */
  private warnOnce(said: Set<string>, what: string): void {
    const line = `state file ${this.file}: ${what}`;
    if (said.has(line)) return;
    said.add(line);
    this.log(line);
  }
}

/** Reads and checks the file (without following a symbolic link at its path). */
function readStateFile(file: string): ReadResult {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: a component of the path is a file, so there is no state file to lose; the first
    // write reports the path as unwritable.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'bad', why: `unreadable (${(e as Error).message})` };
  }
  if (st.isSymbolicLink()) return { kind: 'bad', why: 'a symbolic link, not followed (the state file must be a regular file)' };
  if (!st.isFile()) return { kind: 'bad', why: `not a regular file (${fileType(st)})` };
  if (st.size > STATE_MAX_BYTES) return { kind: 'bad', why: `larger than 1 MiB (${st.size} bytes), not read` };

  let bytes: Buffer;
  let fd: number | undefined;
  try {
    // O_NOFOLLOW: a link swapped in since the lstat is refused (ELOOP); O_NONBLOCK: a FIFO swapped
    // in does not hang the start-up (fstat below then refuses it).
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    const fst = fstatSync(fd);
    if (!fst.isFile()) return { kind: 'bad', why: `not a regular file (${fileType(fst)})` };
    const read = readAtMost(fd, STATE_MAX_BYTES, fst.size);
    if (!read) return { kind: 'bad', why: 'larger than 1 MiB, not read' };
    bytes = read;
  } catch (e) {
    return { kind: 'bad', why: `unreadable (${(e as Error).message})` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { kind: 'bad', why: 'not UTF-8 text' };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { kind: 'bad', why: `not JSON (${(e as Error).message})` };
  }
  if (!isPlainObject(doc)) return { kind: 'bad', why: `not a state file (not a JSON object with "format": "${STATE_FORMAT}")` };
  if (doc.format !== STATE_FORMAT) return { kind: 'bad', why: `not a state file ("format" is ${shortJson(doc.format)}, not "${STATE_FORMAT}")` };
  if (doc.version !== STATE_VERSION) return { kind: 'bad', why: `version ${shortJson(doc.version)}, and this release reads version ${STATE_VERSION}` };
  if (!isPlainObject(doc.boards)) return { kind: 'bad', why: '"boards" is not an object' };
  return { kind: 'ok', boards: doc.boards };
}

/** Why a board's entry cannot be used at all, or undefined when it is `{ controls: { ... } }`. `savedAt` is informational and not checked. */
function malformedEntry(entry: unknown): string | undefined {
  if (!isPlainObject(entry)) return 'the entry is not an object';
  if (!isPlainObject(entry.controls)) return '"controls" is missing or not an object';
  return undefined;
}

/** Splits values into those a control can take (finite number, boolean, string) and the ids of the others. */
function sortValues(controls: Record<string, unknown>): { good: Record<string, ControlValue>; dropped: string[] } {
  const good: Record<string, ControlValue> = {};
  const dropped: string[] = [];
  for (const [id, v] of Object.entries(controls)) {
    if (typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) good[id] = v;
    else dropped.push(id);
  }
  return { good, dropped };
}

/** At most IDS_NAMED ids, then "and N more". */
function listIds(ids: readonly string[]): string {
  const named = ids.slice(0, IDS_NAMED).join(', ');
  return ids.length > IDS_NAMED ? `${named} and ${ids.length - IDS_NAMED} more` : named;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field's value for a message, cut short (a file may hold anything there). */
function shortJson(v: unknown): string {
  const s = v === undefined ? 'missing' : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

function fileType(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** Creates the directory (and missing parents) with mode 0750 exactly; an existing one is left as it is. */
async function makeDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o750 });
  if (first === undefined) return;
  // mkdir's mode is masked by the umask; set the created directories' mode as the contract says.
  for (let d = dir; ; d = path.dirname(d)) {
    await chmod(d, 0o750);
    if (d === first || d === path.dirname(d)) break;
  }
}

/**
 * Renames the bad file (or link, or directory) to `<file>.bad-<ISO time, ':' as '-'>` so nothing
 * is lost; a name already taken gets `-2`, `-3`, ... (rename would replace it).
 */
async function moveAside(file: string): Promise<void> {
  const stamp = new Date().toISOString().replaceAll(':', '-');
  let target = `${file}.bad-${stamp}`;
  for (let n = 2; await exists(target); n++) target = `${file}.bad-${stamp}-${n}`;
  try {
    await rename(file, target);
  } catch (e) {
    // Gone since it was read: nothing to keep. Anything else stops the write (the file stays).
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}
