/**
 * Finding and reading board files. A board name is looked up in the system's board folder
 * (`/etc/sbc-audio/boards/`, or `$SBC_AUDIO_CONFIG_DIR/boards/`) and then in the package's board/;
 * a path names a file directly. A board file names data only: its twin (`twinOf`) is looked up in
 * the same folder and never outside it, its codec part is a folder name under codecs/ (checked in
 * ./schema.ts), and an overlay of its own must be one of alsa/overlays/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Board, BoardFileError, validateBoard } from './schema.ts';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

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

function readBoardFile(nameOrPath: string): Board {
  const file = boardPath(nameOrPath);
  const shown = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) {
    throw new BoardFileError(shown, '', `a board file (known boards: ${listBoardNames().join(', ')})`, undefined);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BoardFileError(shown, '', 'valid JSON', (e as Error).message);
  }
  const twinOf = (raw as { twinOf?: unknown } | null)?.twinOf;
  let board: Board;
  if (twinOf !== undefined) {
    // A name, never a path: a board file reads nothing outside its own folder.
    if (typeof twinOf !== 'string' || !BOARD_NAME.test(twinOf)) {
      throw new BoardFileError(shown, 'twinOf', 'the name of a board file in the same folder (lowercase letters, digits and dashes)', twinOf);
    }
    const basePath = path.join(path.dirname(file), `${twinOf}.json`);
    if (!existsSync(basePath)) throw new BoardFileError(shown, 'twinOf', `a board in ${path.dirname(shown)}/`, twinOf);
    board = validateBoard(shown, raw, readBoardFile(basePath));
  } else {
    board = validateBoard(shown, raw);
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
