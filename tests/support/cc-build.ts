/**
 * A test library compiled with the system C compiler on first use (the LADSPA and DSSI test
 * plugins: tests/support/ladspa-fixtures.ts, tests/support/dssi-fixtures.ts). The result is kept in
 * .cache/<cacheName>/<hash of the source>/ so that a run (and parallel runs) compile it once: a
 * changed source gets a new directory. It is built to a temporary name in that directory and
 * renamed into place, so a concurrent run never loads a half-written file.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Compiles `source` into `<dir>/<file>` (once per source) and returns the directory. `who` names the caller in errors. */
export function buildCachedLibrary(who: string, source: string, file: string, cacheName: string): string {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const dir = path.join(ROOT, '.cache', cacheName, hash);
  const target = path.join(dir, file);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    const partial = path.join(dir, `.${file}.${process.pid}.${Date.now()}`);
    try {
      execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', partial, source], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      rmSync(partial, { force: true });
      throw compileError(who, source, e);
    }
    renameSync(partial, target);
  }
  return dir;
}

/** A clear error for a failed cc run: no compiler, or a missing header (and which package has it). */
export function compileError(who: string, source: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
  if (err.code === 'ENOENT') return new Error(`${who}: no C compiler: 'cc' is not on PATH (Debian: apt-get install gcc), needed to build ${source}`);
  const why = err.stderr?.toString().trim() || err.message;
  let hint = '';
  if (/dssi\.h/.test(why)) hint = ' dssi.h is missing: Debian package dssi-dev.';
  else if (/alsa\/seq_event\.h|alsa\//.test(why)) hint = ' alsa/seq_event.h is missing: Debian package libasound2-dev (dssi.h includes it).';
  else if (/ladspa\.h/.test(why)) hint = ' ladspa.h is missing: Debian package ladspa-sdk.';
  return new Error(`${who}: cc failed on ${source}.${hint}\n${why}`);
}
