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
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TEST_DSSI_SOURCE = path.join(ROOT, 'tests/fixtures/dssi/sbc_test_dssi.c');
/** The library's file name in the directory buildTestDssi returns. */
export const TEST_DSSI_FILE = 'sbc_test_dssi.so';

let built: string | undefined;

/** Compiles the test DSSI library (once per source) and returns its directory, for DSSI_PATH. */
export function buildTestDssi(): string {
  if (built && existsSync(path.join(built, TEST_DSSI_FILE))) return built;
  const source = readFileSync(TEST_DSSI_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(ROOT, '.cache/dssi-test', hash);
  const target = path.join(dir, TEST_DSSI_FILE);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    const partial = path.join(dir, `.${TEST_DSSI_FILE}.${process.pid}.${Date.now()}`);
    try {
      execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', partial, TEST_DSSI_SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      rmSync(partial, { force: true });
      throw compileError('buildTestDssi', TEST_DSSI_SOURCE, e);
    }
    renameSync(partial, target);
  }
  built = dir;
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
