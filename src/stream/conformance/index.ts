/**
 * `sbc-audio conformance`: the protocol's rules (docs/PROTOCOL.md) checked against one live
 * endpoint — this service or another implementation — from the client side only: the socket, the
 * shared buffer file GET_BUFFER names, and for client-death silence (R-RB-12) the stream's
 * monitor endpoint where the service offers one. Every rule id gets one result: pass, fail or
 * not-applicable, each with its reason.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CHECKS } from './checks.ts';
import { CheckFailed, type ConformanceOptions, Ctx, NotApplicable } from './context.ts';

export { CHECKS, CHECKED_RULES } from './checks.ts';
export type { ConformanceOptions } from './context.ts';

export type Outcome = 'pass' | 'fail' | 'not-applicable';

export interface RuleResult {
  rule: string;
  title: string;
  outcome: Outcome;
  /** Pass: what was seen (may be empty); fail: what broke; not-applicable: why it cannot be checked here. */
  reason: string;
  ms: number;
}

export interface ConformanceReport {
  endpoint: string;
  results: RuleResult[];
  counts: Record<Outcome, number>;
  ok: boolean;
}

/** Endpoints beside `endpoint` in its runtime directory (for the cross-stream checks). */
function endpointsBeside(endpoint: string): string[] {
  const root = path.dirname(path.dirname(endpoint));
  const out: string[] = [];
  for (const d of ['audio-output', 'audio-input']) {
    const dir = path.join(root, d);
    if (!existsSync(dir)) continue;
    for (const n of readdirSync(dir).sort()) if (!n.startsWith('.')) out.push(path.join(dir, n));
  }
  return out;
}

export async function runConformance(endpoint: string, opts: ConformanceOptions & { onResult?: (r: RuleResult) => void } = {}): Promise<ConformanceReport> {
  const all = endpointsBeside(endpoint);
  const results: RuleResult[] = [];
  for (const check of CHECKS) {
    if (opts.only && !opts.only.includes(check.rule)) continue;
    const ctx = new Ctx(endpoint, opts);
    const t0 = Date.now();
    let r: Omit<RuleResult, 'ms'>;
    try {
      const note = await check.run(ctx, all);
      r = { rule: check.rule, title: check.title, outcome: 'pass', reason: note ?? '' };
    } catch (e) {
      if (e instanceof NotApplicable) r = { rule: check.rule, title: check.title, outcome: 'not-applicable', reason: e.message };
      else if (e instanceof CheckFailed) r = { rule: check.rule, title: check.title, outcome: 'fail', reason: e.message };
      else r = { rule: check.rule, title: check.title, outcome: 'fail', reason: `${(e as Error).message ?? e}` };
    } finally {
      await ctx.closeAll();
    }
    const full = { ...r, ms: Date.now() - t0 };
    results.push(full);
    opts.onResult?.(full);
  }
  const counts: Record<Outcome, number> = { pass: 0, fail: 0, 'not-applicable': 0 };
  for (const r of results) counts[r.outcome]++;
  return { endpoint, results, counts, ok: counts.fail === 0 };
}
