/**
 * The test LADSPA library (tests/fixtures/ladspa/sbc_test_plugins.c), compiled with the system C
 * compiler on first use. The result is kept in .cache/ladspa-test/<hash of the source>/ so that a
 * run (and parallel runs) compile it once: a changed source gets a new directory. It is built to
 * a temporary name in that directory and renamed into place, so a concurrent run never loads a
 * half-written file.
 *
 * Needs `cc` (Debian: gcc or build-essential) and ladspa.h (Debian: ladspa-sdk).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, buildCachedLibrary } from './cc-build.ts';

export const TEST_PLUGINS_SOURCE = path.join(ROOT, 'tests/fixtures/ladspa/sbc_test_plugins.c');
/** The library's file name in the directory buildTestPlugins returns. */
export const TEST_PLUGINS_FILE = 'sbc_test_plugins.so';

let built: string | undefined;

/** Compiles the test library (once per source) and returns its directory, for LADSPA_PATH. */
export function buildTestPlugins(): string {
  if (built && existsSync(path.join(built, TEST_PLUGINS_FILE))) return built;
  built = buildCachedLibrary('buildTestPlugins', TEST_PLUGINS_SOURCE, TEST_PLUGINS_FILE, 'ladspa-test');
  return built;
}
