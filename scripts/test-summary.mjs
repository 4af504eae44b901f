#!/usr/bin/env node
// Adds up the counts every suite wrote into the results folder and prints the closing line
// `N passed, N failed, N skipped`. Exits 1 if anything failed or a suite that was expected
// (named on the command line) wrote no counts: a suite that did not report is not a pass.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [dir, ...expected] = process.argv.slice(2);
let passed = 0, failed = 0, skipped = 0;
const seen = new Set();
for (const f of existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : []) {
  const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  seen.add(r.suite);
  passed += r.passed; failed += r.failed; skipped += r.skipped ?? 0;
  console.log(`  ${r.suite}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}`);
  // Name each failure again here: the suite's own report scrolled away behind the later suites.
  for (const f of r.failures ?? []) {
    console.log(`    FAILED ${f.title}${f.file ? ` (${f.file})` : ''}`);
    for (const line of String(f.message).split('\n')) console.log(`      ${line}`);
  }
}
for (const s of expected) {
  if (!seen.has(s)) {
    console.log(`  ${s}: did not report (counted as one failure)`);
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
