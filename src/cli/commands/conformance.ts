import { existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { type RuleResult, runConformance } from '../../stream/conformance/index.ts';
import { clientRuntimeDir } from '../../stream/discovery.ts';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, numberOption, parseOptions } from '../command.ts';

/** The endpoint: a path to a socket, or a name (`sim.headphone`) looked up under the runtime directory. */
function resolveEndpoint(arg: string, runtimeDir: string | undefined): string {
  if (arg.includes('/')) return path.resolve(arg);
  const dir = runtimeDir ?? clientRuntimeDir();
  for (const d of ['audio-output', 'audio-input']) {
    const p = path.join(dir, d, arg);
    if (existsSync(p)) return p;
  }
  throw new UsageError(`no endpoint named "${arg}" under ${dir}/audio-output or ${dir}/audio-input (give its path, or --runtime-dir)`);
}

export const conformanceCommand: Command = {
  name: 'conformance',
  summary: 'check a live stream endpoint against the protocol rules (docs/PROTOCOL.md), rule by rule',
  usage: `usage: sbc-audio conformance <endpoint> [--json] [--runtime-dir DIR] [--rule ID]... [--timeout-ms MS] [--no-monitor]

Runs the protocol's checks against one live stream — this service or another implementation —
as a client: through the endpoint's socket, the shared buffer GET_BUFFER names, and, for the
silence after a client's death (R-RB-12), the stream's monitor endpoint
(audio-input/<endpoint>.monitor) where the service offers one. Every rule id of docs/PROTOCOL.md
gets one line: PASS, FAIL (what broke) or N/A (why it cannot be checked from a client, e.g. it
needs the jack moved or a fault injected). The checks take the stream (they own it while they
run: run them where no application uses it), change its format and put its gain back.

  <endpoint>          a socket path, or an endpoint name (sim.headphone) under the runtime directory
  --runtime-dir DIR   where to look a name up (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio)
  --json              machine-readable output: { endpoint, ok, counts, results: [{ rule, title, outcome, reason, ms }] }
                      (outcome "pass", "fail" or "not-applicable")
  --rule ID           only this rule (repeatable)
  --timeout-ms MS     hang guard per stream request (default 5000; ring-buffer requests: 4 × that)
  --no-monitor        do not use the monitor endpoint (R-RB-12 is then not applicable)

Exit status: 0 when no rule failed (passes and not-applicable only), 1 when a rule failed or the
endpoint cannot be reached, 2 on a usage error.`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      json: { type: 'boolean' }, 'runtime-dir': { type: 'string' }, rule: { type: 'string', multiple: true },
      'timeout-ms': { type: 'string' }, 'no-monitor': { type: 'boolean' },
    }, true);
    if (positionals.length !== 1) throw new UsageError('give one endpoint (a socket path or an endpoint name)');
    for (const r of values.rule ?? []) if (!/^R-[A-Z]+-\d+$/.test(r)) throw new UsageError(`--rule must be a rule id like R-RB-9, got "${r}"`);
    const endpoint = resolveEndpoint(positionals[0]!, values['runtime-dir']);
    if (!existsSync(endpoint)) throw new Error(`${endpoint}: no such endpoint`);
    if (!lstatSync(endpoint).isSocket()) throw new Error(`${endpoint}: not a socket`);
    const timeoutMs = numberOption(values['timeout-ms'], 'timeout-ms', 5000, 100, 600000);
    const line = (r: RuleResult) => `${r.outcome === 'pass' ? 'PASS' : r.outcome === 'fail' ? 'FAIL' : 'N/A '}  ${r.rule.padEnd(9)}  ${r.title}${r.reason ? `\n      ${r.reason}` : ''}`;
    if (!values.json) io.out(`conformance of ${endpoint}`);
    const report = await runConformance(endpoint, {
      timeoutMs, rbTimeoutMs: 4 * timeoutMs, monitor: values['no-monitor'] ? null : undefined, only: values.rule,
      onResult: values.json ? undefined : (r) => io.out(line(r)),
    });
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else io.out(`${report.counts.pass} passed, ${report.counts.fail} failed, ${report.counts['not-applicable']} not applicable`);
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  },
};
