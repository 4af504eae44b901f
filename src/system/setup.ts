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
 * - the group that may connect;
 * - the ALSA way in (unless `alsaIn: false`): snd-aloop loaded at boot as card `Loopback`, kept off
 *   card slot 0, and the ALSA name `sbc-audio` players open (alsa/50-sbc-audio.conf; issue 27,
 *   docs/plans/issue-27-alsa-way-in.md §1.4);
 * - with `timeServer` or `timeFrom`: chrony's drop-in /etc/chrony/conf.d/sbc-audio.conf
 *   (deploy/chrony/time-server.conf or time-client.conf; issue 28), for the appliances of a group
 *   to share one clock.
 *
 * `--apply` also keeps a record of what it wrote (SETUP_RECORD: each file's SHA-256 as written, the
 * backups, the directories it made, the lines it changed in a file it edited), so that
 * `setup --remove` takes away exactly that and nothing else, and can tell a file the user changed
 * since (its SHA-256 is no longer the one written) from one setup left as it was.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
/** The ALSA configuration players' `sbc-audio` name comes from (alsa-lib reads /etc/alsa/conf.d/*.conf: /usr/share/alsa/alsa.conf). */
export const ALSA_CONF_TEMPLATE = path.join(PACKAGE_ROOT, 'alsa', '50-sbc-audio.conf');
export const ALSA_CONF_PATH = '/etc/alsa/conf.d/50-sbc-audio.conf';
/** systemd-modules-load reads /etc/modules-load.d/*.conf at boot (modules-load.d(5)). */
export const MODULES_LOAD_PATH = '/etc/modules-load.d/sbc-audio.conf';
/** modprobe reads options from /etc/modprobe.d/*.conf (modprobe.d(5)). */
export const MODPROBE_PATH = '/etc/modprobe.d/sbc-audio.conf';
/** chrony's drop-ins: Debian's /etc/chrony/chrony.conf has `confdir /etc/chrony/conf.d` (chrony.conf(5), `confdir`: every *.conf there). */
export const CHRONY_CONF_PATH = '/etc/chrony/conf.d/sbc-audio.conf';
export const CHRONY_SERVER_TEMPLATE = path.join(PACKAGE_ROOT, 'deploy', 'chrony', 'time-server.conf');
export const CHRONY_CLIENT_TEMPLATE = path.join(PACKAGE_ROOT, 'deploy', 'chrony', 'time-client.conf');
/** The placeholder of time-client.conf's `server` line. */
export const TIME_SERVER_PLACEHOLDER = '@TIME_SERVER@';

/** A name or an address chrony's `server` directive takes: host name, IPv4 or IPv6 (no spaces, no option). */
export function isTimeServerName(host: string): boolean {
  return /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host) || (host.includes(':') && /^[0-9A-Fa-f:]+(%[A-Za-z0-9_.-]+)?$/.test(host));
}

/** The chrony drop-in for the time server of a group, or for an appliance that takes its time from `timeFrom`. */
export function chronyDropIn(role: { timeServer: true } | { timeFrom: string }): string {
  if ('timeServer' in role) return readFileSync(CHRONY_SERVER_TEMPLATE, 'utf8');
  if (!isTimeServerName(role.timeFrom)) throw new Error(`--time-from: "${role.timeFrom}" is not a host name or an IP address`);
  const text = readFileSync(CHRONY_CLIENT_TEMPLATE, 'utf8');
  if (!text.includes(`server ${TIME_SERVER_PLACEHOLDER} `)) throw new Error(`${CHRONY_CLIENT_TEMPLATE}: no "server ${TIME_SERVER_PLACEHOLDER}" line to fill in`);
  return text.replaceAll(TIME_SERVER_PLACEHOLDER, role.timeFrom);
}

/** What setup --apply wrote, for setup --remove. */
export const SETUP_RECORD = '/etc/sbc-audio/setup-record.json';

/** /etc/modules-load.d/sbc-audio.conf: one module name a line, `#` comments (modules-load.d(5)). */
export const MODULES_LOAD_TEXT = [
  '# sbc-audio setup: the loopback card players write to (aplay -D sbc-audio); sbc-audio setup --remove takes this away',
  'snd-aloop',
  '',
].join('\n');

/**
 * /etc/modprobe.d/sbc-audio.conf. id=Loopback is the card name alsa/50-sbc-audio.conf and the
 * service look for; pcm_substreams=8 (the module's maximum: aloop.c) lets up to eight players play
 * at once. index=-2: the kernel's ALSA driver configuration guide (Documentation/sound/
 * alsa-configuration.rst, "Common parameters for top sound card modules": index "if negative,
 * interpret as a bitmask of permissible indices; the first free permitted index is assigned"; the
 * same document calls -2 "the first slot is excluded" for modem cards) — so the loopback never takes
 * card slot 0 and never becomes the system's default card, whichever module loads first.
 */
export const MODPROBE_TEXT = [
  '# sbc-audio setup: the loopback card `Loopback` for the ALSA name sbc-audio (/etc/alsa/conf.d/50-sbc-audio.conf).',
  '# index=-2: any free card slot but 0 (a bitmask of allowed slots: Linux Documentation/sound/alsa-configuration.rst),',
  '# so the loopback never becomes the default card. sbc-audio setup --remove takes this away.',
  'options snd-aloop id=Loopback index=-2 pcm_substreams=8',
  '',
].join('\n');

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
  /** Install the ALSA way in (snd-aloop and the `sbc-audio` PCM name); default true (`--no-alsa-in`: false). */
  alsaIn?: boolean;
  /** Install chrony's drop-in for the group's time server (`--time-server`). */
  timeServer?: boolean;
  /** Install chrony's drop-in taking the time from this host (`--time-from HOST`). */
  timeFrom?: string;
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
  if (opts.alsaIn !== false) {
    add(ALSA_CONF_PATH, 'text', readFileSync(ALSA_CONF_TEMPLATE), 'the ALSA name sbc-audio that players open (aplay -D sbc-audio), from alsa/50-sbc-audio.conf');
    add(MODULES_LOAD_PATH, 'text', Buffer.from(MODULES_LOAD_TEXT), 'snd-aloop at boot: the loopback card players write to');
    add(MODPROBE_PATH, 'text', Buffer.from(MODPROBE_TEXT), 'the loopback card as Loopback, 8 players, never card 0 (the default card)');
  }
  if (opts.timeServer && opts.timeFrom !== undefined) throw new Error('--time-server and --time-from exclude each other: an appliance serves the time or takes it');
  if (opts.timeServer || opts.timeFrom !== undefined) {
    const role = opts.timeServer ? { timeServer: true as const } : { timeFrom: opts.timeFrom! };
    add(CHRONY_CONF_PATH, 'text', Buffer.from(chronyDropIn(role)), opts.timeServer
      ? 'chrony serves time to the group (local stratum 10, the LAN allowed), from deploy/chrony/time-server.conf'
      : `chrony takes the time from ${opts.timeFrom} (polling every 1-16 s), from deploy/chrony/time-client.conf`);
    const main = read(root, '/etc/chrony/chrony.conf')?.toString('utf8');
    if (main === undefined) notes.push('chrony is not installed: sudo apt-get install chrony (its /etc/chrony/chrony.conf reads /etc/chrony/conf.d)');
    else if (!/^\s*confdir\s+(\S+\s+)*\/etc\/chrony\/conf\.d\b/m.test(main)) notes.push(`/etc/chrony/chrony.conf has no "confdir /etc/chrony/conf.d" line: add it, or ${CHRONY_CONF_PATH} is not read`);
    notes.push('then: sudo systemctl restart chrony; chronyc tracking (or sbc-audio doctor, check clock-sync) shows the state');
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

/** The backup name of a file (host path): FILE.sbc-audio.bak, or .bak.N where that exists. */
function backupName(root: HostRoot, file: string): string {
  let name = `${file}.sbc-audio.bak`;
  for (let n = 1; existsSync(root.at(name)); n++) name = `${file}.sbc-audio.bak.${n}`;
  return name;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Lines setup changed in a text file: at line `at` of what it wrote, `added` stand where `removed` stood. */
export interface Hunk {
  at: number;
  removed: string[];
  added: string[];
}

/** One file setup --apply wrote, as SETUP_RECORD keeps it. */
export interface RecordedFile {
  path: string;
  kind: FileChange['kind'];
  why: string;
  /** SHA-256 of what setup wrote last (a link: of its target): another one now means the user changed it. */
  sha256: string;
  /** The file did not exist before setup. */
  created: boolean;
  /** SHA-256 of the file before the first setup that changed it (files setup edited). */
  originalSha256?: string;
  /** The backups setup made of it (host paths), oldest first: the first holds the original. */
  backups: string[];
  /** A text file setup edited: its changes from the original to what setup wrote. */
  hunks?: Hunk[];
}

export interface SetupRecord {
  version: 1;
  files: RecordedFile[];
  /** Directories setup made (host paths), in the order it made them. */
  dirs: string[];
}

export function readSetupRecord(root: HostRoot): SetupRecord | undefined {
  const b = read(root, SETUP_RECORD);
  if (!b) return undefined;
  const r = JSON.parse(b.toString('utf8')) as SetupRecord;
  if (r.version !== 1 || !Array.isArray(r.files) || !Array.isArray(r.dirs)) throw new Error(`${root.at(SETUP_RECORD)}: not a record this version of sbc-audio setup wrote`);
  return r;
}

/**
 * Text as lines, each with its newline (as diff(1) sees them: a last line without one is a line of
 * its own, and join('') gives the text back).
 */
const linesOf = (text: string): string[] => text.match(/[^\n]*\n|[^\n]+$/g) ?? [];

/** The hunks that turn text `before` into `after` (a longest common subsequence of lines; setup's files are small). */
export function diffHunks(before: string, after: string): Hunk[] {
  const a = linesOf(before);
  const b = linesOf(after);
  const w = b.length + 1;
  const lcs = new Int32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const hunks: Hunk[] = [];
  let i = 0, j = 0;
  let open: Hunk | undefined;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      open = undefined;
      i++; j++;
      continue;
    }
    if (!open) hunks.push(open = { at: j, removed: [], added: [] });
    if (j < b.length && (i >= a.length || lcs[i * w + j + 1]! >= lcs[(i + 1) * w + j]!)) open.added.push(b[j++]!);
    else open.removed.push(a[i++]!);
  }
  return hunks;
}

const blockAt = (lines: string[], block: string[], at: number) => block.every((l, k) => lines[at + k] === l);

/**
 * Takes setup's hunks out of `lines` (the file as it is now): each hunk's added lines, found as a
 * block — where setup put them, else the nearest place they stand together — give way to the lines
 * they replaced. Hunks whose lines are no longer there are returned as missed and left alone.
 * `asWritten`: `lines` is exactly what setup wrote (then the result is exactly the original).
 */
export function revertHunks(text: string, hunks: readonly Hunk[], asWritten = false): { text: string; missed: Hunk[] } {
  const out = linesOf(text);
  const missed: Hunk[] = [];
  for (const h of [...hunks].reverse()) { // last first: the earlier hunks' positions stay right
    let at = -1;
    // Lines setup only took away have nothing to be found by: put back only in the file as setup wrote it.
    if (h.added.length === 0) at = asWritten ? h.at : -1;
    else if (blockAt(out, h.added, h.at)) at = h.at;
    else {
      for (let k = 0; k + h.added.length <= out.length; k++) {
        if (blockAt(out, h.added, k) && (at < 0 || Math.abs(k - h.at) < Math.abs(at - h.at))) at = k;
      }
    }
    if (at < 0) missed.push(h);
    else out.splice(at, h.added.length, ...h.removed);
  }
  return { text: out.join(''), missed: missed.reverse() };
}

/** The directories above `dir` (a host path) that do not exist under the root, outermost first. */
function missingDirs(root: HostRoot, dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; d !== '/' && !existsSync(root.at(d)); d = path.posix.dirname(d)) out.unshift(d);
  return out;
}

/**
 * Makes the changes; returns the backups made (paths under the root). Records what it wrote in
 * SETUP_RECORD (merged with an earlier record: a file's first backup and original stay).
 */
export function applySetup(plan: SetupPlan, root: HostRoot, opts: { groupadd?: (name: string) => void } = {}): string[] {
  const backups: string[] = [];
  const record: SetupRecord = readSetupRecord(root) ?? { version: 1, files: [], dirs: [] };
  const makeDir = (dir: string) => {
    record.dirs.push(...missingDirs(root, dir));
    mkdirSync(root.at(dir), { recursive: true });
  };
  for (const c of plan.changes) {
    const file = root.at(c.path);
    makeDir(path.posix.dirname(c.path));
    let bak: string | undefined;
    if (c.before !== undefined) {
      bak = backupName(root, c.path);
      if (c.kind === 'symlink') writeFileSync(root.at(bak), c.before);
      else copyFileSync(file, root.at(bak));
      backups.push(root.at(bak));
    }
    if (c.kind === 'symlink') {
      rmSync(file, { force: true });
      symlinkSync(c.after.toString(), file);
    } else {
      writeFileSync(file, c.after, { mode: 0o644 });
    }
    let entry = record.files.find((f) => f.path === c.path);
    if (!entry) {
      entry = { path: c.path, kind: c.kind, why: c.why, sha256: '', created: c.before === undefined, backups: [], ...(c.before ? { originalSha256: sha256(c.before) } : {}) };
      record.files.push(entry);
    }
    if (bak) entry.backups.push(bak);
    Object.assign(entry, { kind: c.kind, why: c.why, sha256: sha256(c.after) });
    if (c.kind === 'text' && !entry.created) {
      const original = entry.backups[0] !== undefined ? read(root, entry.backups[0]) : undefined;
      entry.hunks = diffHunks((original ?? c.before ?? Buffer.alloc(0)).toString('utf8'), c.after.toString('utf8'));
    }
  }
  if (plan.changes.length > 0) {
    makeDir(path.posix.dirname(SETUP_RECORD));
    writeFileSync(root.at(SETUP_RECORD), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
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

/** One step of `setup --remove`. */
export interface RemoveAction {
  /** Host path. */
  path: string;
  /**
   * delete: a file, link or backup setup made; restore: a file setup changed, back to what it was;
   * edit: a file setup changed and the user changed since: setup's lines taken out, the user's kept;
   * rmdir: a directory setup made, empty once the rest is done.
   */
  action: 'delete' | 'restore' | 'edit' | 'rmdir';
  kind: FileChange['kind'] | 'directory';
  why: string;
  /** restore / edit: the content now and the content it gets. */
  before?: Buffer;
  after?: Buffer;
}

export interface RemovePlan {
  /** False: no SETUP_RECORD under the root (setup --apply never ran there, or --remove already did). */
  recorded: boolean;
  actions: RemoveAction[];
  /** Files kept and why, and what is left to do by hand. */
  notes: string[];
}

/** What `setup --remove` would do under the root: everything SETUP_RECORD names, and nothing else. */
export function planRemove(root: HostRoot): RemovePlan {
  const record = readSetupRecord(root);
  if (!record) return { recorded: false, actions: [], notes: [`no record of sbc-audio setup under ${root.root} (${SETUP_RECORD}): nothing to remove`] };
  const actions: RemoveAction[] = [];
  const notes: string[] = [];
  const dropBackups = (f: RecordedFile, from: number) => {
    for (const b of f.backups.slice(from)) if (read(root, b) !== undefined) actions.push({ path: b, action: 'delete', kind: 'binary', why: `the backup setup made of ${f.path}` });
  };
  for (const f of record.files) {
    const now = f.kind === 'symlink' ? readLink(root, f.path) : read(root, f.path);
    if (now === undefined) {
      notes.push(`${f.path} is gone already${f.backups.length ? `; its backup ${f.backups[0]} is kept` : ''}`);
      continue;
    }
    const unchanged = sha256(now) === f.sha256;
    if (f.created) {
      if (unchanged) actions.push({ path: f.path, action: 'delete', kind: f.kind, why: f.why });
      else notes.push(`${f.path} was changed since setup wrote it (its SHA-256 is not the one setup recorded): kept`);
      if (unchanged) dropBackups(f, 0);
      continue;
    }
    const backup = f.backups[0] !== undefined ? read(root, f.backups[0]) : undefined;
    if (unchanged && backup !== undefined && sha256(backup) === f.originalSha256) {
      actions.push({ path: f.path, action: 'restore', kind: f.kind, why: `${f.why}: back to what it was, from ${f.backups[0]}`, before: now, after: backup });
      dropBackups(f, 0);
      continue;
    }
    if (f.kind === 'text' && f.hunks) {
      const r = revertHunks(now.toString('utf8'), f.hunks, unchanged);
      const after = Buffer.from(r.text);
      if (unchanged) {
        actions.push({ path: f.path, action: 'restore', kind: f.kind, why: `${f.why}: setup's lines taken out (no intact backup)`, before: now, after });
        dropBackups(f, 0);
        continue;
      }
      if (!after.equals(now)) actions.push({ path: f.path, action: 'edit', kind: f.kind, why: `${f.why}: changed since setup, so only setup's lines are taken out`, before: now, after });
      for (const h of r.missed) notes.push(`${f.path}: setup's line${h.added.length === 1 ? '' : 's'} ${h.added.map((l) => JSON.stringify(l.replace(/\n$/, ''))).join(', ')} (in place of ${h.removed.length ? h.removed.map((l) => JSON.stringify(l.replace(/\n$/, ''))).join(', ') : 'nothing'}) no longer there as setup wrote ${h.added.length === 1 ? 'it' : 'them'}: left as it is`);
      if (f.backups.length) notes.push(`${f.path} was changed since setup: the backup from before setup, ${f.backups[0]}, is kept`);
      continue;
    }
    notes.push(`${f.path} was changed since setup wrote it (its SHA-256 is not the one setup recorded): kept${f.backups.length ? `, and so is its backup ${f.backups[0]}` : ''}`);
  }
  actions.push({ path: SETUP_RECORD, action: 'delete', kind: 'text', why: 'the record of what setup wrote' });
  // Directories setup made, deepest first, each once it is empty: what it holds now, less what goes.
  const going = new Set(actions.filter((a) => a.action === 'delete').map((a) => a.path));
  for (const d of [...new Set(record.dirs)].sort((x, y) => y.split('/').length - x.split('/').length)) {
    let names: string[];
    try {
      names = readdirSync(root.at(d));
    } catch {
      continue;
    }
    const left = names.filter((n) => !going.has(path.posix.join(d, n)));
    if (left.length === 0) {
      actions.push({ path: d, action: 'rmdir', kind: 'directory', why: 'a directory setup made, empty now' });
      going.add(d);
    } else notes.push(`${d} (made by setup) is kept: it holds ${left.join(', ')}`);
  }
  if (root.root === '/') notes.push('stop the service first (sudo systemctl disable --now sbc-audio); afterwards: sudo systemctl daemon-reload, and sudo modprobe -r snd-aloop (or reboot)');
  return { recorded: true, actions, notes };
}

/** Does what planRemove planned, in its order. */
export function applyRemove(plan: RemovePlan, root: HostRoot): void {
  for (const a of plan.actions) {
    const p = root.at(a.path);
    if (a.action === 'delete') rmSync(p, { force: true });
    else if (a.action === 'rmdir') rmdirSync(p);
    else if (a.kind === 'symlink') {
      rmSync(p, { force: true });
      symlinkSync(a.after!.toString(), p);
    } else {
      // Written beside and renamed over: a crash leaves the old file or the new one, never half.
      const tmp = `${p}.sbc-audio-remove.tmp`;
      writeFileSync(tmp, a.after!, { mode: lstatSync(p).mode & 0o7777 });
      renameSync(tmp, p);
    }
  }
}

/** A dry run's line (or diff) for one step of --remove. */
export function removeActionText(a: RemoveAction): string {
  if (a.action === 'delete') return `delete ${a.path}: ${a.why}`;
  if (a.action === 'rmdir') return `remove directory ${a.path}: ${a.why}`;
  return changeDiff({ path: a.path, kind: a.kind as FileChange['kind'], before: a.before!, after: a.after!, why: a.why });
}
