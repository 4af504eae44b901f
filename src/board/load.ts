/**
 * Finding and reading board files. A board name is looked up in the system's board folder
 * (`/etc/sbc-audio/boards/`, or `$SBC_AUDIO_CONFIG_DIR/boards/`) and then in the package's board/;
 * a path names a file directly. A board file names data only: its twin (`twinOf`) is looked up in
 * the same folder and never outside it, its codec part is a folder name under codecs/ (checked in
 * ./schema.ts), and an overlay of its own must be one of alsa/overlays/.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CODEC_PARTS } from '../../codecs/index.ts';
import { packageRoot } from '../util/package-files.ts';
import { readAtMost } from '../util/read-bounded.ts';
import { type Board, BoardFileError, validateBoard } from './schema.ts';

/** The largest board file read (the project's largest is a few kB): 1 MiB. */
export const MAX_BOARD_FILE_BYTES = 1 << 20;

/** The package's folder (board/, codecs/, package.json). */
export const PACKAGE_ROOT = packageRoot(import.meta.url, 2);

/** The project's board/ folder. */
export const BOARD_DIR = path.join(PACKAGE_ROOT, 'board');

/** The overlay sources of the project (alsa/overlays/NAME.dts). */
export const OVERLAY_DIR = path.join(PACKAGE_ROOT, 'alsa', 'overlays');

/** The system's configuration folder: `$SBC_AUDIO_CONFIG_DIR`, else /etc/sbc-audio. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const d = env.SBC_AUDIO_CONFIG_DIR;
  return d && path.isAbsolute(d) ? d : '/etc/sbc-audio';
}

/** Where board names are looked up, first match wins: the system's boards, then the package's. */
export function boardSearchDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return [path.join(configDir(env), 'boards'), BOARD_DIR];
}

const BOARD_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Resolves a board name ('sim') or a path to a board file. */
export function boardPath(nameOrPath: string): string {
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.json')) return path.resolve(nameOrPath);
  if (BOARD_NAME.test(nameOrPath)) {
    for (const dir of boardSearchDirs()) {
      const p = path.join(dir, `${nameOrPath}.json`);
      if (existsSync(p)) return p;
    }
  }
  return path.join(BOARD_DIR, `${nameOrPath}.json`);
}

/** Board files read in this process (a board is read once per process: tests count it). */
export const boardReads = { count: 0 };

export function loadBoard(nameOrPath: string): Board {
  boardReads.count++;
  return readBoardFile(nameOrPath);
}

/** At most this many characters of a file's text in an error message. */
const EXCERPT_CHARS = 120;

function excerpt(text: string): string {
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}... (${text.length} characters in all)` : text;
}

/**
 * A board file's text: a regular file of at most MAX_BOARD_FILE_BYTES, never more read than that.
 * A missing file, a symbolic-link loop, an unreadable file and a file too large each say so.
 */
function readBoardText(file: string, shown: string, missing: () => BoardFileError): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw missing();
    const why = code === 'ELOOP' ? 'a symbolic link loop (ELOOP): the path never reaches a file'
      : code === 'EACCES' || code === 'EPERM' ? `not readable by this user (${code})`
        : `cannot be opened (${code ?? (e as Error).message})`;
    throw new BoardFileError(shown, '', 'a readable board file', undefined, `cannot read the board file: ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BoardFileError(shown, '', 'a regular file', undefined, 'cannot read the board file: not a regular file');
    if (st.size > MAX_BOARD_FILE_BYTES) {
      throw new BoardFileError(shown, '', '', undefined, `the board file is ${st.size} bytes; a board file is at most ${MAX_BOARD_FILE_BYTES} bytes (1 MiB)`);
    }
    const bytes = readAtMost(fd, MAX_BOARD_FILE_BYTES, st.size);
    if (!bytes) {
      throw new BoardFileError(shown, '', '', undefined, `the board file is over ${MAX_BOARD_FILE_BYTES} bytes; a board file is at most ${MAX_BOARD_FILE_BYTES} bytes (1 MiB)`);
    }
    return bytes.toString('utf8');
  } catch (e) {
    if (e instanceof BoardFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new BoardFileError(shown, '', 'a readable board file', undefined, `cannot read the board file: ${code === 'EISDIR' ? 'a directory' : code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** `chain`: the files of the twins being read, outermost first (a twinOf cycle comes back to one). */
function readBoardFile(nameOrPath: string, chain: readonly string[] = [], missing?: () => BoardFileError): Board {
  const file = boardPath(nameOrPath);
  const shown = path.relative(process.cwd(), file) || file;
  const text = readBoardText(file, shown, missing ?? (() => new BoardFileError(shown, '', `a board file (known boards: ${listBoardNames().join(', ')})`, undefined)));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BoardFileError(shown, '', 'valid JSON', undefined, `expected valid JSON: ${excerpt((e as Error).message)}`);
  }
  const twinOf = (raw as { twinOf?: unknown } | null)?.twinOf;
  let board: Board;
  if (twinOf !== undefined) {
    // A name, never a path: a board file reads nothing outside its own folder.
    if (typeof twinOf !== 'string' || !BOARD_NAME.test(twinOf)) {
      throw new BoardFileError(shown, 'twinOf', 'the name of a board file in the same folder (lowercase letters, digits and dashes)', twinOf);
    }
    const basePath = path.join(path.dirname(file), `${twinOf}.json`);
    const seen = [...chain, file];
    const back = seen.indexOf(basePath);
    if (back >= 0) {
      const cycle = [...seen.slice(back), basePath].map((f) => path.basename(f)).join(' → ');
      throw new BoardFileError(shown, 'twinOf', '', twinOf, `"${twinOf}" makes a cycle of twins (${cycle}); a twin names a board that is not, through its own twinOf, this one`);
    }
    // A missing base is this file's twinOf that is wrong; any other trouble is the base file's own.
    const base = readBoardFile(basePath, seen, () => new BoardFileError(shown, 'twinOf', `a board in ${path.dirname(shown)}/`, twinOf));
    board = validateBoard(shown, raw, base);
  } else {
    board = validateBoard(shown, raw);
  }
  if (!Object.hasOwn(CODEC_PARTS, board.codec.part)) {
    throw new BoardFileError(shown, 'codec.part', '', board.codec.part, `unknown part "${board.codec.part}" (known: ${Object.keys(CODEC_PARTS).sort().join(', ')})`);
  }
  if (board.overlay?.source === 'sbc-audio' && !existsSync(overlaySource(board.overlay.name))) {
    const known = listOverlayNames();
    throw new BoardFileError(shown, 'overlay.name', `an overlay of sbc-audio's alsa/overlays/ (${known.join(', ') || 'none'}), or "source": "firmware"`, board.overlay.name);
  }
  return board;
}

/** The source of one of the project's overlays. */
export function overlaySource(name: string): string {
  return path.join(OVERLAY_DIR, `${name}.dts`);
}

export function listOverlayNames(): string[] {
  try {
    return readdirSync(OVERLAY_DIR).filter((f) => f.endsWith('.dts')).map((f) => f.slice(0, -4)).sort();
  } catch {
    return [];
  }
}

/** Board names in `dir`, or (by default) in every folder boards are looked up in. */
export function listBoardNames(dir?: string): string[] {
  const dirs = dir ? [dir] : boardSearchDirs();
  const names = new Set<string>();
  for (const d of dirs) {
    let files: string[];
    try {
      files = readdirSync(d);
    } catch {
      continue; // the system's folder is optional
    }
    for (const f of files) if (f.endsWith('.json')) names.add(f.slice(0, -5));
  }
  return [...names].sort();
}
