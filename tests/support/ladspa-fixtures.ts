/**
 * The test LADSPA library (tests/fixtures/ladspa/sbc_test_plugins.c), compiled with the system C
 * compiler on first use. The result is kept in .cache/ladspa-test/<hash of the source>/ so that a
 * run (and parallel runs) compile it once: a changed source gets a new directory. It is built to
 * a temporary name in that directory and renamed into place, so a concurrent run never loads a
 * half-written file.
 *
 * Needs `cc` (Debian: gcc or build-essential) and ladspa.h (Debian: ladspa-sdk).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TEST_PLUGINS_SOURCE = path.join(ROOT, 'tests/fixtures/ladspa/sbc_test_plugins.c');
/** The library's file name in the directory buildTestPlugins returns. */
export const TEST_PLUGINS_FILE = 'sbc_test_plugins.so';

let built: string | undefined;

/** Compiles the test library (once per source) and returns its directory, for LADSPA_PATH. */
export function buildTestPlugins(): string {
  if (built && existsSync(path.join(built, TEST_PLUGINS_FILE))) return built;
  const source = readFileSync(TEST_PLUGINS_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(ROOT, '.cache/ladspa-test', hash);
  const target = path.join(dir, TEST_PLUGINS_FILE);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    const partial = path.join(dir, `.${TEST_PLUGINS_FILE}.${process.pid}.${Date.now()}`);
    try {
      execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', partial, TEST_PLUGINS_SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      rmSync(partial, { force: true });
      const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
      if (err.code === 'ENOENT') {
        throw new Error(`buildTestPlugins: no C compiler: 'cc' is not on PATH (Debian: apt-get install gcc), needed to build ${TEST_PLUGINS_SOURCE}`);
      }
      const why = err.stderr?.toString().trim() || err.message;
      throw new Error(`buildTestPlugins: cc failed on ${TEST_PLUGINS_SOURCE} (ladspa.h comes with Debian's ladspa-sdk):\n${why}`);
    }
    renameSync(partial, target);
  }
  built = dir;
  return dir;
}
