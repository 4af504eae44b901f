/** Finding and reading board files. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Board, BoardFileError, validateBoard } from './schema.ts';

/** The project's board/ folder. */
export const BOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../board');

/** Resolves a board name ('sim') or a path to a board file. */
export function boardPath(nameOrPath: string): string {
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.json')) return path.resolve(nameOrPath);
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
  if (twinOf !== undefined) {
    if (typeof twinOf !== 'string') throw new BoardFileError(shown, 'twinOf', 'the name of a board file', twinOf);
    const basePath = path.join(path.dirname(file), `${twinOf}.json`);
    if (!existsSync(basePath)) throw new BoardFileError(shown, 'twinOf', `a board in ${path.dirname(shown)}/`, twinOf);
    return validateBoard(shown, raw, readBoardFile(basePath));
  }
  return validateBoard(shown, raw);
}

export function listBoardNames(dir = BOARD_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}
