/**
 * The instrumented test DSSI library (tests/fixtures/dssi/sbc_test_dssi.c), compiled with the system
 * C compiler on first use and kept in .cache/dssi-test/<hash of the source>/, as
 * tests/support/ladspa-fixtures.ts does for the LADSPA one (built to a temporary name and renamed
 * into place, so a concurrent run never loads a half-written file).
 *
 * Its instrumentation (calls, thread ids, call-class violations, the call log) is process-wide
 * static state in the library: readTestDssiReport loads the same file (the same dlopen'd library
 * in this process) and asks for it.
 *
 * Needs `cc` (Debian: gcc) and dssi.h (Debian: dssi-dev, whose dssi.h includes alsa/seq_event.h from
 * libasound2-dev, and ladspa.h from ladspa-sdk).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, buildCachedLibrary, compileError } from './cc-build.ts';
import koffi from 'koffi';

export const TEST_DSSI_SOURCE = path.join(ROOT, 'tests/fixtures/dssi/sbc_test_dssi.c');
/** The library's file name in the directory buildTestDssi returns. */
export const TEST_DSSI_FILE = 'sbc_test_dssi.so';

let built: string | undefined;

/** Compiles the test DSSI library (once per source) and returns its directory, for DSSI_PATH. */
export function buildTestDssi(): string {
  if (built && existsSync(path.join(built, TEST_DSSI_FILE))) return built;
  built = buildCachedLibrary('buildTestDssi', TEST_DSSI_SOURCE, TEST_DSSI_FILE, 'dssi-test');
  return built;
}

export { compileError };

export interface TestDssiEntry {
  calls: number;
  threads: number[];
}

export interface TestDssiReport {
  entries: Record<string, TestDssiEntry>;
  violations: number;
  firstViolation: string | null;
  /** Events run_synth was given, in all. */
  events: number;
  log: string[];
}

interface TestDssiFunctions {
  report: (buf: Buffer, len: number) => number;
  reset: () => void;
  gettid: () => number;
}

const functions = new Map<string, TestDssiFunctions>();

function load(dir: string): TestDssiFunctions {
  const known = functions.get(dir);
  if (known) return known;
  const lib = koffi.load(path.join(dir, TEST_DSSI_FILE));
  const fns = {
    report: lib.func('int sbc_test_dssi_report(_Out_ uint8_t *buf, int len)') as TestDssiFunctions['report'],
    reset: lib.func('void sbc_test_dssi_reset(void)') as TestDssiFunctions['reset'],
    gettid: lib.func('int sbc_test_dssi_gettid(void)') as TestDssiFunctions['gettid'],
  };
  functions.set(dir, fns);
  return fns;
}

/** The library's instrumentation report (process-wide), parsed. */
export function readTestDssiReport(dir: string): TestDssiReport {
  const buf = Buffer.alloc(1 << 20);
  const n = load(dir).report(buf, buf.length);
  if (n < 0) throw new Error(`readTestDssiReport: the report did not fit in ${buf.length} bytes`);
  return JSON.parse(buf.subarray(0, n).toString('utf8')) as TestDssiReport;
}

/** Clears the instrumentation (counts, threads, violations, log, the configure sleep). */
export function resetTestDssi(dir: string): void {
  load(dir).reset();
}

/** The calling thread's kernel thread id, as the library records it. */
export function testDssiThreadId(dir: string): number {
  return load(dir).gettid();
}
