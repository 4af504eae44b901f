/**
 * The scanner behind the single-home guard tests: reads every source file under src/, codecs/ and
 * alsa/ (readFileSync, line by line) and reports each line a rule matches, as file:line, except in
 * the family's home. Rules look at one line at a time; a rule is a regular expression or, where
 * a regular expression alone would be too blunt, a predicate.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The trees a second declaration must not appear in. */
export const SCANNED_DIRS = ['src', 'codecs', 'alsa'];

/**
 * Left out of the scan: the conformance checker (`sbc-audio conformance`, docs/PROTOCOL.md section
 * 16) is a client written from the documents, for any implementation. Its wire literals and its own
 * step arithmetic are the point: taking them from the service's homes would check the service
 * against itself.
 */
export const INDEPENDENT_DIRS = ['src/stream/conformance'];

const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

export interface Rule {
  name: string;
  test: RegExp | ((line: string) => boolean);
}

export interface Finding {
  /** Path relative to the scanned root, with '/'. */
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** Every line of `text` that a rule matches (1-based line numbers). */
export function scanText(file: string, text: string, rules: readonly Rule[]): Finding[] {
  const out: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    for (const r of rules) {
      const hit = typeof r.test === 'function' ? r.test(line) : r.test.test(line);
      if (hit) out.push({ file, line: i + 1, rule: r.name, text: line.trim() });
    }
  });
  return out;
}

/** The source files under `root`'s scanned folders, relative to `root`, sorted. */
export function sourceFiles(root: string = REPO_ROOT): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.') && !INDEPENDENT_DIRS.includes(child)) walk(child);
      } else if (e.isFile() && SOURCE.test(e.name)) {
        out.push(child);
      }
    }
  };
  for (const d of SCANNED_DIRS) if (existsSync(path.join(root, d))) walk(d);
  return out.sort();
}

/** Scans the tree under `root`, skipping the family's `home` files (relative paths). */
export function scanTree(rules: readonly Rule[], home: readonly string[], root: string = REPO_ROOT): Finding[] {
  return sourceFiles(root)
    .filter((f) => !home.includes(f))
    .flatMap((f) => scanText(f, readFileSync(path.join(root, f), 'utf8'), rules));
}

/** One line per finding: `file:line: rule: text`. */
export function listFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.file}:${f.line}: ${f.rule}: ${f.text}`).join('\n');
}

