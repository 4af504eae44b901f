/**
 * `sbc-audio setup`: what a Raspberry Pi needs to run a board with sbc-audio, as a plan of file
 * changes under a root ('/' on the Pi; a fake tree in tests), shown as a diff (--dry-run) or made
 * (--apply) with a backup of each file it changes. Running it again changes nothing.
 *
 * - the board's overlay: an overlay of sbc-audio compiled with `dtc -@` into the firmware's
 *   overlays/ (one of the firmware's own needs nothing there);
 * - config.txt: dtparam=i2c_arm=on (boards with a control bus), dtparam=i2s=on, dtoverlay=NAME, and
 *   the HAT's own dtoverlay lines commented out (docs/facts/boards.md#building-and-installing-an-overlay);
 * - i2c-dev in /etc/modules;
 * - the systemd unit (systemd/sbc-audio.service, ExecStart naming this install), enabled;
 * - /etc/sbc-audio/config.json naming the board and the group;
 * - the group that may connect.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { overlaySource } from '../board/load.ts';
import type { Board } from '../board/schema.ts';
import { readGroups } from '../util/groups.ts';
import { packageRoot } from '../util/package-files.ts';
import type { HostRoot } from './host.ts';
import { compileDts } from './overlays.ts';

const PACKAGE_ROOT = packageRoot(import.meta.url, 2);
export const UNIT_TEMPLATE = path.join(PACKAGE_ROOT, 'systemd', 'sbc-audio.service');
export const UNIT_PATH = '/etc/systemd/system/sbc-audio.service';
export const UNIT_WANTS = '/etc/systemd/system/multi-user.target.wants/sbc-audio.service';

export interface FileChange {
  /** Host path ('/boot/firmware/config.txt'). */
  path: string;
  kind: 'text' | 'binary' | 'symlink';
  /** Current content (undefined: the file does not exist). A symlink's content is its target. */
  before?: Buffer;
  after: Buffer;
  /** Why, in one line. */
  why: string;
}

export interface SetupPlan {
  board: string;
  bootDir: string;
  changes: FileChange[];
  /** What happens besides files, and what is left to do by hand. */
  notes: string[];
}

export interface SetupOptions {
  root: HostRoot;
  group?: string;
  /** The ExecStart command line of the unit (default: this node and this install's bin/sbc-audio.js). */
  execStart?: string;
}

/** The firmware's folder: /boot/firmware (Bookworm) or /boot before it. */
export function bootDir(root: HostRoot): string {
  if (existsSync(root.at('/boot/firmware/config.txt'))) return '/boot/firmware';
  if (existsSync(root.at('/boot/config.txt'))) return '/boot';
  throw new Error(`no config.txt in ${root.at('/boot/firmware')} or ${root.at('/boot')}: not a Raspberry Pi OS root (give --root DIR for another tree)`);
}

function read(root: HostRoot, p: string): Buffer | undefined {
  try {
    return readFileSync(root.at(p));
  } catch {
    return undefined;
  }
}

/** Whether a config.txt line at index i is in effect for every Pi: before any [filter], or under [all]. */
function globalLines(lines: string[]): boolean[] {
  let global = true;
  return lines.map((l) => {
    const m = /^\s*\[([^\]]*)\]/.exec(l);
    if (m) global = m[1]!.trim().toLowerCase() === 'all';
    return global && !m;
  });
}

/** The config.txt a board needs, from the current one. */
export function editConfigTxt(text: string, board: Board): string {
  const overlay = board.overlay!;
  const lines = text.length ? text.replace(/\n$/, '').split('\n') : [];
  const wanted = [
    ...(board.codec.bus !== undefined ? ['dtparam=i2c_arm=on'] : []),
    'dtparam=i2s=on',
    `dtoverlay=${overlay.name}`,
  ];
  // The HAT's own overlays (with or without parameters): commented out, wherever they are.
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*dtoverlay\s*=\s*([^,\s#]+)/.exec(lines[i]!);
    if (m && overlay.replaces.includes(m[1]!)) lines[i] = `#${lines[i]} # sbc-audio: replaced by dtoverlay=${overlay.name} (board ${board.name})`;
  }
  const isGlobal = globalLines(lines);
  const missing: string[] = [];
  for (const want of wanted) {
    const key = want.slice(0, want.indexOf('='));
    const value = want.slice(want.indexOf('=') + 1);
    const same = (l: string) => new RegExp(`^\\s*${key}\\s*=\\s*${value.replace(/[-[\]{}()*+?.,\\^$|#]/g, '\\$&')}\\s*$`).test(l);
    if (lines.some((l, i) => isGlobal[i] && same(l))) continue;
    // `#dtparam=i2s=on` or `dtparam=i2s=off` in the global part: that line is changed in place.
    const param = key === 'dtparam' ? value.split('=')[0]! : undefined;
    const near = lines.findIndex((l, i) => isGlobal[i] && (
      new RegExp(`^#\\s*${key}\\s*=\\s*${value.replace(/[-[\]{}()*+?.,\\^$|#]/g, '\\$&')}\\s*$`).test(l) ||
      (param !== undefined && new RegExp(`^\\s*dtparam\\s*=\\s*${param}\\s*=\\s*off\\s*$`).test(l))));
    if (near >= 0) lines[near] = want;
    else missing.push(want);
  }
  if (missing.length) {
    const lastSection = [...lines].reverse().find((l) => /^\s*\[[^\]]*\]/.test(l));
    const needAll = lastSection !== undefined && !/^\s*\[all\]/i.test(lastSection);
    lines.push('', ...(needAll ? ['[all]'] : []), `# sbc-audio: board ${board.name} (I2S-only card; the codec is driven over I2C by sbc-audio)`, ...missing);
  }
  return `${lines.join('\n')}\n`;
}

export function editModules(text: string): string {
  if (text.split('\n').some((l) => l.trim() === 'i2c-dev')) return text;
  return `${text}${text.length && !text.endsWith('\n') ? '\n' : ''}i2c-dev\n`;
}

/** The unit as installed: the template with ExecStart naming this install and the group. */
export function unitText(execStart: string, group: string): string {
  return readFileSync(UNIT_TEMPLATE, 'utf8')
    .replace(/^ExecStart=.*$/m, `ExecStart=${execStart}`)
    .replace(/^Group=.*$/m, `Group=${group}`);
}

export function defaultExecStart(group: string): string {
  return `${process.execPath} ${path.join(PACKAGE_ROOT, 'bin', 'sbc-audio.js')} serve --group ${group}`;
}

function configJson(before: Buffer | undefined, board: Board, group: string): string {
  let o: Record<string, unknown> = {};
  if (before) {
    try {
      o = JSON.parse(before.toString('utf8')) as Record<string, unknown>;
    } catch {
      o = {};
    }
  }
  return `${JSON.stringify({ ...o, board: board.name, group }, null, 2)}\n`;
}

/** What setup would change under the root. Compiles the overlay (needs dtc). */
export function planSetup(board: Board, opts: SetupOptions): SetupPlan {
  const { root } = opts;
  if (board.hal !== 'linux') throw new Error(`board ${board.name} is simulated: nothing to set up on a Pi`);
  if (!board.overlay) throw new Error(`${board.file}: overlay: the board names no overlay, so setup does not know which card to create`);
  const group = opts.group ?? 'audio';
  const boot = bootDir(root);
  const changes: FileChange[] = [];
  const notes: string[] = [];
  const add = (p: string, kind: FileChange['kind'], after: Buffer, why: string) => {
    const before = kind === 'symlink' ? readLink(root, p) : read(root, p);
    if (!before || !before.equals(after)) changes.push({ path: p, kind, ...(before ? { before } : {}), after, why });
  };

  if (board.overlay.source === 'sbc-audio') {
    const tmp = mkdtempSync(path.join(tmpdir(), 'sbc-setup-'));
    try {
      const out = path.join(tmp, `${board.overlay.name}.dtbo`);
      const r = compileDts(overlaySource(board.overlay.name), out);
      if (!r.ok) throw new Error(`cannot compile alsa/overlays/${board.overlay.name}.dts: ${r.stderr}`);
      add(`${boot}/overlays/${board.overlay.name}.dtbo`, 'binary', readFileSync(out), `the overlay, compiled from alsa/overlays/${board.overlay.name}.dts`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    notes.push(`dtoverlay=${board.overlay.name} is one of the Pi firmware's own overlays: nothing to install in ${boot}/overlays/`);
  }
  const cfg = read(root, `${boot}/config.txt`)!.toString('utf8');
  add(`${boot}/config.txt`, 'text', Buffer.from(editConfigTxt(cfg, board)), 'the I2S card and the I2C bus');
  if (board.codec.bus !== undefined) add('/etc/modules', 'text', Buffer.from(editModules(read(root, '/etc/modules')?.toString('utf8') ?? '')), `/dev/i2c-${board.codec.bus} at boot`);
  add(UNIT_PATH, 'text', Buffer.from(unitText(opts.execStart ?? defaultExecStart(group), group)), 'the system service');
  add(UNIT_WANTS, 'symlink', Buffer.from(UNIT_PATH), 'the service starts at boot (systemctl enable)');
  const cfgPath = '/etc/sbc-audio/config.json';
  add(cfgPath, 'text', Buffer.from(configJson(read(root, cfgPath), board, group)), 'the board the service runs');
  if (!readGroups(root.at('/etc/group')).some((g) => g.name === group)) {
    const groups = readGroups(root.at('/etc/group'));
    if (root.root === '/') notes.push(`the group ${group} is made with groupadd --system ${group}`);
    else {
      const used = new Set(groups.map((g) => g.gid));
      let gid = 999;
      while (used.has(gid)) gid--;
      const before = read(root, '/etc/group') ?? Buffer.alloc(0);
      const text = before.toString('utf8');
      add('/etc/group', 'text', Buffer.from(`${text}${text.length && !text.endsWith('\n') ? '\n' : ''}${group}:x:${gid}:\n`), `the group that may connect (${group})`);
    }
  }
  notes.push(`members of ${group} may connect: sudo usermod -aG ${group} USER (then log in again)`);
  return { board: board.name, bootDir: boot, changes, notes };
}

function readLink(root: HostRoot, p: string): Buffer | undefined {
  try {
    return lstatSync(root.at(p)).isSymbolicLink() ? Buffer.from(readlinkSync(root.at(p))) : readFileSync(root.at(p));
  } catch {
    return undefined;
  }
}

/** A unified diff of one change (diff -u; a line for a binary file or a link). */
export function changeDiff(c: FileChange): string {
  if (c.kind === 'binary') return `${c.before ? 'changed' : 'new'} binary file ${c.path} (${c.after.length} bytes): ${c.why}`;
  if (c.kind === 'symlink') return `${c.before ? 'changed' : 'new'} link ${c.path} -> ${c.after.toString()}: ${c.why}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-diff-'));
  try {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    writeFileSync(a, c.before ?? '');
    writeFileSync(b, c.after);
    const r = spawnSync('diff', ['-u', '--label', c.before ? c.path : '/dev/null', '--label', c.path, a, b], { encoding: 'utf8' });
    return `# ${c.why}\n${r.stdout.trimEnd()}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The backup name of a file: FILE.sbc-audio.bak, or .bak.N where that exists. */
function backupName(file: string): string {
  let name = `${file}.sbc-audio.bak`;
  for (let n = 1; existsSync(name); n++) name = `${file}.sbc-audio.bak.${n}`;
  return name;
}

/** Makes the changes; returns the backups made (host paths). */
export function applySetup(plan: SetupPlan, root: HostRoot, opts: { groupadd?: (name: string) => void } = {}): string[] {
  const backups: string[] = [];
  for (const c of plan.changes) {
    const file = root.at(c.path);
    mkdirSync(path.dirname(file), { recursive: true });
    if (c.before !== undefined) {
      const bak = backupName(file);
      if (c.kind === 'symlink') writeFileSync(bak, c.before);
      else copyFileSync(file, bak);
      backups.push(bak);
    }
    if (c.kind === 'symlink') {
      rmSync(file, { force: true });
      symlinkSync(c.after.toString(), file);
    } else {
      writeFileSync(file, c.after, { mode: 0o644 });
    }
  }
  for (const n of plan.notes) {
    const m = /^the group (\S+) is made with groupadd/.exec(n);
    if (m) (opts.groupadd ?? ((g: string) => {
      const r = spawnSync('groupadd', ['--system', g], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`groupadd --system ${g}: ${r.stderr.trim() || r.error?.message}`);
    }))(m[1]!);
  }
  return backups;
}
