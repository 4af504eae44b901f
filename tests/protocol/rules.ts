/**
 * Rule ids: docs/PROTOCOL.md defines them (list items starting with **R-AREA-N**); each protocol
 * test names the ids it covers in its title through `covers()`. `checkRuleCoverage` fails on an
 * id without a test and on a test naming an id the document does not define.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROTOCOL_MD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/PROTOCOL.md');

const covered = new Set<string>();

/** Registers the ids a test covers and returns them as the start of its title: '[R-GAIN-3 R-GAIN-5] '. */
export function covers(...ids: string[]): string {
  for (const id of ids) {
    if (!/^R-[A-Z]+-\d+$/.test(id)) throw new Error(`not a rule id: ${id}`);
    covered.add(id);
  }
  return `[${ids.join(' ')}] `;
}

export function coveredRuleIds(): ReadonlySet<string> {
  return covered;
}

/** The rule ids docs/PROTOCOL.md defines, in document order. */
export function definedRuleIds(markdown = readFileSync(PROTOCOL_MD, 'utf8')): string[] {
  const ids: string[] = [];
  for (const m of markdown.matchAll(/^\s*[-*]\s+\*\*(R-[A-Z]+-\d+)\*\*/gm)) ids.push(m[1]!);
  return ids;
}

export function checkRuleCoverage(defined: readonly string[], named: ReadonlySet<string>): { untested: string[]; unknown: string[]; duplicates: string[] } {
  const seen = new Set<string>();
  const duplicates = defined.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
  return {
    untested: defined.filter((id) => !named.has(id)),
    unknown: [...named].filter((id) => !seen.has(id)).sort(),
    duplicates,
  };
}
