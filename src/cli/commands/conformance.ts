import { existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { type RuleResult, runConformance } from '../../stream/conformance/index.ts';
import { clientRuntimeDir, listEndpoints } from '../../stream/discovery.ts';
import {
  type Command, EXIT_FAILURE, EXIT_OK, ServiceUnreachableError, UsageError, numberOption, parseOptions, runtimeDirOption, streamNameMatches,
} from '../command.ts';

/**
 * The endpoint: a path to a socket, or a name looked up under the runtime directory: the endpoint
 * name (`sim.headphone`, `sim.speaker.monitor`) or the stream's id alone (`headphone`) where one
 * endpoint has it.
 */
function resolveEndpoint(arg: string, runtimeDir: string | undefined): string {
  if (arg.includes('/')) return path.resolve(arg);
  const dir = runtimeDir ?? clientRuntimeDir();
  for (const d of ['audio-output', 'audio-input']) {
    const p = path.join(dir, d, arg);
    if (existsSync(p)) return p;
  }
  const all = listEndpoints(dir);
  if (all.length === 0) throw new ServiceUnreachableError(`no endpoints under ${dir}/audio-output or ${dir}/audio-input (is 'sbc-audio serve' running there? give the endpoint's path, or --runtime-dir)`);
  const hits = all.filter((e) => streamNameMatches(e.name, arg));
  if (hits.length === 1) return hits[0]!.path;
  if (hits.length > 1) throw new UsageError(`endpoint ${arg} is ambiguous: ${hits.map((e) => e.name).join(', ')}`);
  throw new ServiceUnreachableError(`no endpoint named "${arg}" under ${dir} (there are: ${all.map((e) => e.name).join(', ')})`);
}

export const conformanceCommand: Command = {
  name: 'conformance',
  usage: `usage: sbc-audio conformance <endpoint> [--json] [--runtime-dir DIR] [--rule ID]... [--timeout-ms MS] [--no-monitor]

Runs the protocol's checks against one live stream — this service or another implementation —
as a client: through the endpoint's socket, the shared buffer GET_BUFFER names, and, for the
silence after a client's death (R-RB-12), the stream's monitor endpoint
(audio-input/<endpoint>.monitor) where the service offers one. Every rule id of docs/PROTOCOL.md
gets one line: PASS, FAIL (what broke) or N/A (why it cannot be checked from a client, e.g. it
needs the jack moved or a fault injected). The checks take the stream (they own it while they
run: run them where no application uses it), change its format and put its gain back.

  <endpoint>          a socket path, or an endpoint name (sim.headphone) or a stream id (headphone)
                      under the runtime directory
  --runtime-dir DIR   where to look a name up (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio)
  --json              machine-readable output: { endpoint, ok, counts, results: [{ rule, title, outcome, reason, ms }] }
                      (outcome "pass", "fail" or "not-applicable")
  --rule ID           only this rule (repeatable)
  --timeout-ms MS     hang guard per stream request (default 5000; ring-buffer requests: 4 × that)
  --no-monitor        do not use the monitor endpoint (R-RB-12 is then not applicable)

Exit status: 0 when no rule failed (passes and not-applicable only), 1 when a rule failed, 2 on a
usage error, 3 when the endpoint cannot be found or reached.`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      json: { type: 'boolean' }, 'runtime-dir': { type: 'string' }, rule: { type: 'string', multiple: true },
      'timeout-ms': { type: 'string' }, 'no-monitor': { type: 'boolean' },
    }, true);
    if (positionals.length !== 1) throw new UsageError('give one endpoint (a socket path or an endpoint name)');
    for (const r of values.rule ?? []) if (!/^R-[A-Z]+-\d+$/.test(r)) throw new UsageError(`--rule must be a rule id like R-RB-9, got "${r}"`);
    const endpoint = resolveEndpoint(positionals[0]!, runtimeDirOption(values['runtime-dir']));
    if (!existsSync(endpoint)) throw new ServiceUnreachableError(`${endpoint}: no such endpoint`);
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
