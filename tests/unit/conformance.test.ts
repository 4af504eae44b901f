/**
 * `sbc-audio conformance <endpoint> --json` (src/stream/conformance/, src/cli/commands/conformance.ts):
 *   - against `sbc-audio serve` on every simulated board, as child processes: the JSON is parsed and
 *     every rule passes or is not applicable with a written reason. The full check list runs on
 *     the sim board (an output with a monitor, and an input); on the other simulated boards one
 *     endpoint each runs the checks whose outcome depends on the board (formats, gain, plug,
 *     identity, delay, ring buffer, client death on the monitor) — SBC_CONFORMANCE_FULL=1 runs
 *     the full list there too (the format walk, R-FMT-6, runs on every board in
 *     stream-format-walk.test.ts);
 *   - the negative control: a test double of the service (tests/protocol/double.ts) passes with no
 *     switch, and with each switch the report names exactly that rule as failed (in-process, and
 *     once through the CLI, exit status 1).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHECKED_RULES, type ConformanceReport, runConformance } from '../../src/stream/conformance/index.ts';
import { definedRuleIds } from '../protocol/rules.ts';
import { BREAKS, startDouble } from '../protocol/double.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');

/** Simulated boards: "hal": "sim", or a twin of a real board. */
function simBoards(): string[] {
  return readdirSync(path.join(ROOT, 'board')).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(path.join(ROOT, 'board', f), 'utf8')) as { name: string; hal?: string; twinOf?: string })
    .filter((b) => b.hal === 'sim' || b.twinOf).map((b) => b.name).sort();
}

/** Runs the CLI as a child process; resolves with its exit code and output (no wall-clock bound but a hang guard). */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`sbc-audio ${args.join(' ')}: no exit within 300 s\n${stdout}${stderr}`)); }, 300000);
    child.once('exit', (code) => { clearTimeout(guard); resolve({ code, stdout, stderr }); });
  });
}

function parseReport(stdout: string, what: string): ConformanceReport {
  try {
    return JSON.parse(stdout) as ConformanceReport;
  } catch (e) {
    throw new Error(`${what}: --json output is not JSON (${(e as Error).message}):\n${stdout.slice(0, 2000)}`);
  }
}

/** Every result passes, or is not applicable with a written reason; fails name their rule and reason. */
function assertConforms(r: ConformanceReport, want: readonly string[]): void {
  const failed = r.results.filter((x) => x.outcome === 'fail');
  assert.deepEqual(failed.map((x) => `${x.rule}: ${x.reason}`), [], `${r.endpoint}: failed rules`);
  assert.deepEqual(r.results.map((x) => x.rule), [...want], `${r.endpoint}: one result per rule asked`);
  for (const x of r.results) {
    assert.ok(['pass', 'not-applicable'].includes(x.outcome), `${x.rule}: outcome ${x.outcome}`);
    if (x.outcome === 'not-applicable') assert.ok(x.reason.length > 20, `${r.endpoint} ${x.rule}: not applicable without a reason`);
  }
  assert.ok(r.counts.pass > r.counts['not-applicable'], `${r.endpoint}: ${JSON.stringify(r.counts)}`);
  assert.equal(r.ok, true);
}

/** The checks run on the other simulated boards (see the file comment). */
const BOARD_RULES = ['R-FMT-1', 'R-FMT-2', 'R-FMT-4', 'R-RB-5', 'R-RB-8', 'R-RB-12', 'R-GAIN-1', 'R-GAIN-2', 'R-GAIN-3', 'R-GAIN-4', 'R-GAIN-5',
  'R-PLUG-1', 'R-PLUG-2', 'R-INFO-1', 'R-INFO-2', 'R-INFO-3', 'R-EXT-1', 'R-EXT-4', 'R-EXT-7'];

describe('sbc-audio conformance', function () {
  this.timeout(600000);

  it('checks every rule id of docs/PROTOCOL.md, once each, in document order', () => {
    assert.deepEqual([...CHECKED_RULES], definedRuleIds());
  });

  describe('against serve on each simulated board (child processes)', () => {
    let dir: string;
    const serves: ChildProcess[] = [];

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'sbc-conf-'));
    });
    after(() => {
      for (const s of serves) if (s.exitCode === null) s.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    });

    /** Starts `serve --board NAME`; resolves once it says it serves (all endpoints published). */
    const serve = (board: string) => new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'serve', '--board', board, '--runtime-dir', dir, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
      serves.push(child);
      let out = '';
      const guard = setTimeout(() => reject(new Error(`serve --board ${board} did not publish within 60 s: ${out}`)), 60000);
      const seen = (d: Buffer) => {
        out += d;
        if (/serving \d+ streams/.test(out)) { clearTimeout(guard); resolve(); }
      };
      child.stdout!.on('data', seen);
      child.stderr!.on('data', (d: Buffer) => { out += d; });
      child.once('exit', (code) => { clearTimeout(guard); reject(new Error(`serve --board ${board} exited ${code}: ${out}`)); });
    });

    it('sim: the full check list on an output with a monitor (sim.speaker), on the input (sim.mic) and on the monitor endpoint (sim.speaker.monitor): all pass or not applicable with a reason', async () => {
      await serve('sim');
      for (const ep of ['audio-output/sim.speaker', 'audio-input/sim.mic', 'audio-input/sim.speaker.monitor']) {
        const r = await cli(['conformance', path.join(dir, ep), '--json']);
        const rep = parseReport(r.stdout, ep);
        assertConforms(rep, CHECKED_RULES);
        assert.equal(r.code, 0, r.stderr);
        const outcome = (id: string) => rep.results.find((x) => x.rule === id)!.outcome;
        // Where a check can run here, it ran: these are not excused as not applicable.
        for (const id of ['R-RB-9', 'R-RB-10', 'R-FMT-6', 'R-EXT-8', 'R-OWN-3', 'R-FLOW-1']) assert.equal(outcome(id), 'pass', `${ep} ${id}`);
        if (ep === 'audio-output/sim.speaker') assert.equal(outcome('R-RB-12'), 'pass', 'client death → silence, seen on sim.speaker.monitor');
      }
    });

    for (const board of simBoards().filter((b) => b !== 'sim')) {
      it(`${board}: one endpoint, the board-dependent checks${process.env.SBC_CONFORMANCE_FULL ? ' (full list)' : ''}`, async () => {
        await serve(board);
        const outputs = readdirSync(path.join(dir, 'audio-output')).filter((n) => n.startsWith(`${board}.`)).sort();
        const inputs = readdirSync(path.join(dir, 'audio-input')).filter((n) => n.startsWith(`${board}.`) && !n.endsWith('.monitor')).sort();
        const ep = outputs.length ? path.join(dir, 'audio-output', outputs[0]!) : path.join(dir, 'audio-input', inputs[0]!);
        const rules = process.env.SBC_CONFORMANCE_FULL ? CHECKED_RULES : BOARD_RULES;
        const r = await cli(['conformance', ep, '--json', ...(process.env.SBC_CONFORMANCE_FULL ? [] : rules.flatMap((id) => ['--rule', id]))]);
        const rep = parseReport(r.stdout, ep);
        assertConforms(rep, rules);
        assert.equal(r.code, 0, r.stderr);
        serves.pop()!.kill('SIGTERM');
      });
    }
  });

  describe('against the test double (the negative control)', () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sbc-dbl-')); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    // Hang guards for the double, which answers at once: a check that waits for an answer that
    // never comes (the point of several switches) gives up after these.
    const guards = { timeoutMs: 1500, rbTimeoutMs: 3000 };

    it('with no switch: every rule passes or is not applicable with a reason', async () => {
      const d = await startDouble(dir);
      try {
        assertConforms(await runConformance(d.endpoint, guards), CHECKED_RULES);
      } finally {
        await d.close();
      }
    });

    it('has a switch for every rule that a client can check on it', () => {
      const noSwitch = CHECKED_RULES.filter((id) => !BREAKS[id]);
      // Not applicable on the double, whatever it does: a client rule, the service's restart, a
      // capture of the PCM, a monitor (the double has none), a jack to move.
      assert.deepEqual(noSwitch, ['R-DISC-3', 'R-DISC-4', 'R-RB-11', 'R-RB-12', 'R-PLUG-4']);
    });

    it('with each switch the report names exactly that rule as failed', async () => {
      const wrong: string[] = [];
      const queue = Object.keys(BREAKS);
      const one = async (id: string) => {
        const sub = mkdtempSync(path.join(dir, 'b-'));
        const d = await startDouble(sub, { break: id });
        try {
          const r = await runConformance(d.endpoint, guards);
          const failed = r.results.filter((x) => x.outcome === 'fail');
          if (failed.length !== 1 || failed[0]!.rule !== id) wrong.push(`${id} (${BREAKS[id]}): failed ${JSON.stringify(failed.map((x) => `${x.rule}: ${x.reason}`))}`);
        } finally {
          await d.close();
        }
      };
      await Promise.all([0, 1, 2].map(async () => { while (queue.length) await one(queue.shift()!); }));
      assert.deepEqual(wrong, []);
    });

    it('through the CLI: --json names the broken rule (R-RB-9: STOP before GET_BUFFER answered OK) and exits 1; the text output says FAIL', async () => {
      const d = await startDouble(dir, { break: 'R-RB-9' });
      try {
        const j = await cli(['conformance', d.endpoint, '--json', '--timeout-ms', '1500']);
        assert.equal(j.code, 1, j.stderr);
        const rep = parseReport(j.stdout, d.endpoint);
        assert.deepEqual(rep.results.filter((x) => x.outcome === 'fail').map((x) => x.rule), ['R-RB-9']);
        assert.match(rep.results.find((x) => x.rule === 'R-RB-9')!.reason, /STOP before GET_BUFFER: got 0, expected -20/);
        const t = await cli(['conformance', d.endpoint, '--rule', 'R-RB-9', '--rule', 'R-RB-8']);
        assert.equal(t.code, 1);
        assert.match(t.stdout, /^FAIL {2}R-RB-9 /m);
        assert.match(t.stdout, /^PASS {2}R-RB-8 /m);
        assert.match(t.stdout, /1 passed, 1 failed, 0 not applicable/);
      } finally {
        await d.close();
      }
    });

    it('usage errors exit 2; an endpoint that is not there exits 3 (not reachable) naming it', async () => {
      assert.equal((await cli(['conformance'])).code, 2);
      assert.equal((await cli(['conformance', '/tmp/x', '--rule', 'RB-9'])).code, 2);
      const missing = await cli(['conformance', path.join(dir, 'audio-output', 'nope.out')]);
      assert.equal(missing.code, 3);
      assert.match(missing.stderr, /nope\.out: no such endpoint/);
    });
  });
});
