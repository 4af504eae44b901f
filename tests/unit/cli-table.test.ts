/**
 * The command line as a user meets it (issue 25): every command's bad values, unknown options and
 * missing values, each a usage error of at most two lines ("see 'sbc-audio CMD --help'"), never
 * node's parser words and never the whole help; the exit codes as the top help documents them
 * (0 ok, 1 failure, 2 usage, 3 service not reachable); `| head -1` ending quietly with exit 0;
 * `help CMD` equal to `CMD --help`; "did you mean"; `--version`; `ls --json` sample formats by
 * name; --stream by id or endpoint name and the default output; one real-time warning per serve
 * start; and `--help` loading no command module.
 *
 * bin/sbc-audio.js is spawned as a user runs it (two at a time: the machine has two cores). Time
 * appears only as hang guards.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIO } from '../../src/cli/command.ts';
import { didYouMean, editDistance, num } from '../../src/cli/command.ts';
import { commandLoads } from '../../src/cli/commands/index.ts';
import { realtimeWarningOnce } from '../../src/cli/commands/serve.ts';
import { main } from '../../src/cli/main.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
/** A hang guard for one command line, not a measure. */
const GUARD_MS = 60_000;

interface Result { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** Runs a shell command line (for pipes) or `sbc-audio ARGS`, to its end. */
function run(args: string[] | { sh: string }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = Array.isArray(args)
      ? spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('bash', ['-c', args.sh], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${JSON.stringify(args)}: still running after ${GUARD_MS} ms (hang guard)\n${out}\n${err}`)); }, GUARD_MS);
    child.once('close', (code, signal) => { clearTimeout(guard); resolve({ code, signal, out, err }); });
  });
}

/** Runs every command line, two at a time, in order of the answers. */
async function runAll<T>(items: readonly T[], f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => { while (next < items.length) await f(items[next++]!); };
  await Promise.all([worker(), worker()]);
}

const sh = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
const bin = `${sh(process.execPath)} ${sh(BIN)}`;

/** node's parseArgs wording and a stack trace: neither may reach the user. */
function assertOurWords(r: Result, what: string): void {
  assert.doesNotMatch(r.err, /To specify a positional|ERR_PARSE_ARGS|Unknown option '|argument missing|^\s+at /m, `${what}: node's words or a stack trace:\n${r.err}`);
}

describe('sbc-audio command line (issue 25): the table over every command', function () {
  this.timeout(10 * 60_000);
  let empty: string;

  before(() => { empty = mkdtempSync(path.join(tmpdir(), 'sbc-cli-empty-')); });
  after(() => rmSync(empty, { recursive: true, force: true }));

  // [command line, what stderr's first line must say]; all exit 2 with "see 'sbc-audio CMD --help'".
  const usage: [string[], RegExp][] = [
    [['boards', '--bogus'], /^sbc-audio boards: unknown option --bogus$/],
    [['boards', 'extra'], /^sbc-audio boards: unexpected argument "extra"/],
    [['info'], /^sbc-audio info: --board is required$/],
    [['info', '--board', 'nosuch'], /^sbc-audio info: no board named nosuch \(boards: .*\bsim\b.*\)$/],
    [['info', '--bord', 'sim'], /^sbc-audio info: unknown option --bord \(did you mean --board\?\)$/],
    [['info', '--board'], /^sbc-audio info: --board needs a value$/],
    [['info', '--board', '--json'], /^sbc-audio info: --board needs a value$/],
    [['info', '--board', 'sim', '--json=yes'], /^sbc-audio info: --json takes no value/],
    [['info', '--board', 'sim', '--rate', '1000'], /^sbc-audio info: --rate must be a number from 8000 Hz to 384000 Hz, got "1000"$/],
    [['regs', '--board', 'nosuch'], /no board named nosuch/],
    [['regs', '--board', 'sim', '--no-raed'], /unknown option --no-raed \(did you mean --no-read\?\)/],
    [['codec'], /^sbc-audio codec: a subcommand is required/],
    [['codec', 'check', '--jsn'], /unknown option --jsn \(did you mean --json\?\)/],
    [['tone', '--board', 'sim', '--level', '5'], /^sbc-audio tone: --level must be a number from -120 dBFS to 0 dBFS, got "5"$/],
    [['tone', '--board', 'sim', '--freq', '30000'], /^sbc-audio tone: --freq must be a number from 1 Hz to 24000 Hz, got "30000"$/],
    [['tone', '--board', 'sim', '--seconds', '-1'], /^sbc-audio tone: --seconds must be a positive number of seconds, got "-1"$/],
    [['tone', '--board', 'sim', '--seconds'], /^sbc-audio tone: --seconds needs a value$/],
    [['tone', '--board', 'sim', '--seconds', '90000'], /^sbc-audio tone: --seconds must be at most 86400 \(a day\), got "90000"$/],
    [['tone', '--board', 'sim', '--stream', 'nosuch'], /^sbc-audio tone: --stream: no output stream nosuch \(there are: sim\.speaker, sim\.headphone\)$/],
    [['tone', '--board', 'sim', '--stream', 'mic'], /no output stream mic/],
    [['run', '--board', 'sim', '--host', 'examples/tone.ts', '--option', 'nonsense=1', '--seconds', '0.1'], /^sbc-audio run: --option nonsense: examples\/tone\.ts has no option "nonsense" \(its options: freq, level\)$/],
    [['run', '--board', 'sim', '--host', 'examples/tone.ts', '--option', 'freqq=1'], /\(did you mean freq\?\)/],
    [['run', '--board', 'sim', '--host', 'examples/tone.ts', '--seconds', '0'], /--seconds must be a positive number of seconds, got "0"/],
    [['run', '--board', 'nosuch', '--host', 'examples/tone.ts'], /no board named nosuch/],
    [['serve', '--board', 'nosuch'], /^sbc-audio serve: no board named nosuch/],
    [['serve', '--board', 'sim', '--idle-power-down', 'soon'], /--idle-power-down must be a number/],
    [['ls', '--wtach'], /^sbc-audio ls: unknown option --wtach \(did you mean --watch\?\)$/],
    [['ls', '--runtime-dir'], /--runtime-dir needs a value/],
    [['ctl', 'frob'], /^sbc-audio ctl: unknown ctl command "frob"/],
    [['ctl'], /a ctl command is required/],
    [['gain'], /^sbc-audio gain: give a stream/],
    [['program', 'frob'], /unknown program command "frob"/],
    [['configure', 'a', 'b'], /configure takes no arguments \(list\) or OWNER KEY VALUE/],
    [['midi', 'frob'], /unknown midi command|midi command/],
    [['play'], /^sbc-audio play: give one FILE\.wav \(or - for stdin\) or --tone$/],
    [['play', '--tone', '--seconds', '-1'], /^sbc-audio play: --seconds must be a positive number of seconds, got "-1"$/],
    [['play', '--tone', '--level', '5'], /^sbc-audio play: --level must be a number from -120 dBFS to 0 dBFS, got "5"$/],
    [['play', '--tone', '--freq', '30000'], /^sbc-audio play: --freq must be a number from 1 Hz to 24000 Hz, got "30000"$/],
    [['play', '--tone', '--volume', 'loud'], /^sbc-audio play: --volume must be a gain in dB/],
    [['play', 'a.wav', '--freq', '100'], /--freq is for --tone only/],
    [['play', '-x'], /^sbc-audio play: unknown option -x$/],
    [['play', '--tone', '--stream'], /--stream needs a value/],
    [['record'], /give one FILE\.wav to write/],
    [['record', 'out.wav', '--rate', '100'], /^sbc-audio record: --rate must be a number from 8000 Hz to 384000 Hz, got "100"$/],
    [['record', 'out.wav', '--channels', '0'], /^sbc-audio record: --channels must be a number from 1 to 32, got "0"$/],
    [['record', 'out.wav', '--seconds', '0'], /--seconds must be a positive number of seconds, got "0"/],
    [['conformance'], /give one endpoint/],
    [['sim', 'frob'], /^sbc-audio sim: unknown sim command "frob"/],
    [['doctor', '--board', 'nosuch'], /no board named nosuch/],
    [['setup', '--board', 'nosuch'], /no board named nosuch/],
  ];

  it('usage errors: exit 2, one line of ours plus "see \'sbc-audio CMD --help\'", for every command', async () => {
    const failures: string[] = [];
    await runAll(usage, async ([args, first]) => {
      const r = await run(args);
      const lines = r.err.trimEnd().split('\n');
      const cmd = args[0]!;
      try {
        assert.equal(r.code, 2, `exit ${r.code}`);
        assert.ok(lines.length <= 2, `${lines.length} lines`);
        assert.match(lines[0]!, first);
        assert.equal(lines[1], `see 'sbc-audio ${cmd} --help'`);
        assert.equal(r.out, '', 'nothing on stdout (the help is not reprinted)');
        assertOurWords(r, args.join(' '));
      } catch (e) {
        failures.push(`sbc-audio ${args.join(' ')}: ${(e as Error).message}\n  stderr: ${r.err}`);
      }
    });
    assert.deepEqual(failures, []);
  });

  it('the top level: a mistyped command gets "did you mean", no command and help for an unknown one are usage errors', async () => {
    const typo = await run(['plya', '--tone']);
    assert.equal(typo.code, 2);
    assert.equal(typo.err, 'sbc-audio: unknown command "plya" (did you mean play?)\nsee \'sbc-audio --help\'\n');
    const far = await run(['frobnicate']);
    assert.equal(far.code, 2);
    assert.equal(far.err, 'sbc-audio: unknown command "frobnicate"\nsee \'sbc-audio --help\'\n', 'no guess when nothing is close (the negative control)');
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.ok(none.err.trimEnd().split('\n').length <= 2);
    const helpTypo = await run(['help', 'recrod']);
    assert.equal(helpTypo.code, 2);
    assert.match(helpTypo.err, /did you mean record\?/);
  });

  it('--version and -V print the version of package.json; --help documents the exit codes', async () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      assert.equal(r.code, 0);
      assert.equal(r.out, `${version}\n`);
    }
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /exit codes: 0 success, 1 failure, 2 usage error, 3 service not reachable/);
    assert.match(help.out, /128 \+ N a command ended by signal N/);
  });

  it("'help play' prints exactly what 'play --help' prints (and 'help record' does not)", async () => {
    const [a, b, c] = await Promise.all([run(['help', 'play']), run(['play', '--help']), run(['help', 'record'])]);
    assert.equal(a.code, 0);
    assert.equal(b.code, 0);
    assert.match(b.out, /^usage: sbc-audio play /);
    assert.equal(a.out, b.out);
    assert.notEqual(c.out, b.out);
    assert.match(c.out, /^usage: sbc-audio record /);
  });

  it('exit 3 for every client command when no service runs under the runtime directory', async () => {
    const rows: string[][] = [
      ['ls'], ['play', '--tone', '--seconds', '0.1'], ['record', path.join(empty, 'x.wav'), '--seconds', '0.1'],
      ['ctl', 'list'], ['gain', 'speaker'], ['program', 'list'], ['configure'], ['midi', 'list'],
      ['sim', 'state'], ['conformance', 'sim.speaker'],
    ];
    const failures: string[] = [];
    await runAll(rows, async (args) => {
      const r = await run([...args, '--runtime-dir', empty]);
      try {
        assert.equal(r.code, 3, `exit ${r.code}`);
        assert.ok(r.err.length > 0, 'says why');
        assertOurWords(r, args.join(' '));
      } catch (e) {
        failures.push(`sbc-audio ${args.join(' ')}: ${(e as Error).message}\n  stderr: ${r.err}`);
      }
    });
    assert.deepEqual(failures, []);
    assert.equal(existsSync(path.join(empty, 'x.wav')), false, 'record wrote nothing');
  });

  it('exit 1 for a failure that is not a usage error (an invalid board file)', async () => {
    const r = await run(['info', '--board', 'tests/fixtures/boards/bad-hal.json']);
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid board file/);
  });

  it('a reader that goes away ends the command quietly with exit 0: | head -1, | head -2, | true', async () => {
    const rows = [
      `${bin} boards | head -1`, `${bin} info --board sim | head -2`, `${bin} regs --board sim | head -1`,
      // `true` reads nothing and is gone before the first write: a certain EPIPE.
      `${bin} info --board sim | true`, `${bin} regs --board sim | true`, `${bin} boards | true`,
    ];
    const failures: string[] = [];
    await runAll(rows, async (line) => {
      const r = await run({ sh: `${line}; echo "rc=\${PIPESTATUS[0]}" >&2` });
      try {
        assert.match(r.err, /rc=0\n$/);
        assert.equal(r.err, 'rc=0\n', 'nothing else on stderr');
      } catch (e) {
        failures.push(`${line}: ${(e as Error).message}\n  stderr: ${r.err}`);
      }
    });
    assert.deepEqual(failures, []);
  });

  describe('against a served sim board', () => {
    let dir: string;
    let serve: ChildProcess;
    let serveErr = '';
    let serveOut = '';

    before(async function () {
      this.timeout(GUARD_MS);
      dir = mkdtempSync(path.join(tmpdir(), 'sbc-cli-serve-'));
      // A finite memlock limit (8 MiB, as a fresh login has): the engine does not lock and warns.
      const limit = existsSync('/usr/bin/prlimit') ? ['/usr/bin/prlimit', '--memlock=8388608:8388608', '--'] : [];
      const argv = [...limit, process.execPath, BIN, 'serve', '--board', 'sim', '--runtime-dir', dir, '--no-osc', '--no-http', '--no-midi', '--no-state'];
      const env = { ...process.env };
      delete env.INVOCATION_ID; // started from a shell, whatever runs the tests
      serve = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
      serve.stdout!.on('data', (d) => { serveOut += d; });
      serve.stderr!.on('data', (d) => { serveErr += d; });
      const deadline = Date.now() + GUARD_MS;
      while (!/serving \d+ streams/.test(serveOut)) {
        if (Date.now() > deadline || serve.exitCode !== null) throw new Error(`serve did not publish: ${serveOut}${serveErr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    after(async () => {
      if (serve.exitCode === null) {
        const exited = new Promise((r) => serve.once('exit', r));
        serve.kill('SIGTERM');
        const t = setTimeout(() => serve.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('ls | head -1 and ls --json | head -1: exit 0, nothing on stderr', async () => {
      for (const line of [`${bin} ls --runtime-dir ${sh(dir)} | head -1`, `${bin} ls --json --runtime-dir ${sh(dir)} | head -1`]) {
        const r = await run({ sh: `${line}; echo "rc=\${PIPESTATUS[0]}" >&2` });
        assert.equal(r.err, 'rc=0\n', line);
        assert.equal(r.out.split('\n').length, 2, 'one line');
      }
    });

    it('ls --json names the sample formats (no bitmasks)', async () => {
      const r = await run(['ls', '--json', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out) as { streams: { name: string; formats: { sampleFormats: unknown; rates: unknown }[] }[] };
      const speaker = j.streams.find((s) => s.name === 'sim.speaker')!;
      assert.ok(speaker.formats.length > 0);
      for (const f of speaker.formats) {
        assert.ok(Array.isArray(f.sampleFormats), `sampleFormats is ${JSON.stringify(f.sampleFormats)}`);
        // The sim streams carry 16-bit only (docs/PROTOCOL.md: BIT16).
        assert.deepEqual(f.sampleFormats, ['16']);
        assert.ok(Array.isArray(f.rates));
      }
      assert.doesNotMatch(r.out, /"sampleFormats": \d/);
    });

    it('play picks the speaker by default (hardwired; the headphone is unplugged, the monitors never); --stream takes the id or the endpoint name', async () => {
      const byDefault = await run(['play', '--tone', '--seconds', '0.1', '--runtime-dir', dir]);
      assert.equal(byDefault.code, 0, byDefault.err);
      assert.match(byDefault.out, /to \S*\/audio-output\/sim\.speaker\n$/);
      const byId = await run(['play', '--tone', '--seconds', '0.1', '--stream', 'headphone', '--runtime-dir', dir]);
      assert.equal(byId.code, 0, byId.err);
      assert.match(byId.out, /to \S*\/audio-output\/sim\.headphone\n$/);
      const byName = await run(['play', '--tone', '--seconds', '0.1', '--stream', 'sim.headphone', '--runtime-dir', dir]);
      assert.equal(byName.code, 0, byName.err);
      assert.match(byName.out, /to \S*\/audio-output\/sim\.headphone\n$/);
      const wrong = await run(['play', '--tone', '--seconds', '0.1', '--stream', 'mic', '--runtime-dir', dir]);
      assert.equal(wrong.code, 2);
      assert.match(wrong.err, /no output stream mic \(there are: .*sim\.speaker/);
    });

    it('exactly one real-time (memlock) warning for this serve start, naming the fix for a shell, after several engine starts', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await run(['play', '--tone', '--seconds', '0.1', '--stream', 'speaker', '--runtime-dir', dir]);
        assert.equal(r.code, 0, r.err);
      }
      const warnings = serveErr.split('\n').filter((l) => /memory was not locked|SCHED_FIFO was refused|real-time/.test(l));
      if (!/memory was not locked|SCHED_FIFO/.test(serveErr) && warnings.length === 0) {
        // Nothing to warn about where memlock is unlimited and SCHED_FIFO granted (no prlimit here).
        assert.ok(!existsSync('/usr/bin/prlimit'), `prlimit set a finite memlock limit, yet no warning:\n${serveErr}`);
        return;
      }
      assert.equal(warnings.length, 1, serveErr);
      assert.match(warnings[0]!, /ulimit -l unlimited/);
      assert.doesNotMatch(warnings[0]!, /LimitMEMLOCK/, 'not the systemd fix: started from a shell');
    });
  });

  it('tone: --stream takes the id or the endpoint name; the default is the board\'s first hardwired or plugged output', async () => {
    for (const stream of [[], ['--stream', 'speaker'], ['--stream', 'sim.speaker']]) {
      const r = await run(['tone', '--board', 'sim', '--seconds', '0.05', '--json', ...stream]);
      assert.equal(r.code, 0, r.err);
      assert.equal((JSON.parse(r.out) as { stream: string }).stream, 'speaker');
    }
    const hp = await run(['tone', '--board', 'sim', '--seconds', '0.05', '--json', '--stream', 'headphone']);
    assert.equal(hp.code, 0, hp.err);
    assert.equal((JSON.parse(hp.out) as { stream: string }).stream, 'headphone', 'the negative control: another stream when asked');
  });
});

describe('sbc-audio command line: in process', () => {
  const capture = (): CliIO & { o: string; e: string } => {
    const io = { o: '', e: '', isTTY: false, out(t: string) { io.o += `${t}\n`; }, err(t: string) { io.e += `${t}\n`; } };
    return io;
  };

  it('--help loads no command module; help CMD loads that one only', async () => {
    const before = commandLoads.count;
    assert.equal(await main(['--help'], capture()), 0);
    assert.equal(await main(['help'], capture()), 0);
    assert.equal(commandLoads.count, before, '--help loaded a command module');
    assert.equal(await main(['help', 'boards'], capture()), 0);
    assert.equal(commandLoads.count, before + 1, 'help boards loads boards (the negative control: the count moves)');
  });

  it('did you mean: typos within 1 edit (short words) or 2, or a unique prefix; nothing for a far word', () => {
    const names = ['boards', 'info', 'regs', 'play', 'record', 'serve', 'ls'];
    assert.equal(editDistance('plya', 'play'), 1, 'a swap of neighbours is one edit');
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(didYouMean('plya', names), 'play');
    assert.equal(didYouMean('recrod', names), 'record');
    assert.equal(didYouMean('bo', names), 'boards');
    assert.equal(didYouMean('frobnicate', names), undefined);
    assert.equal(didYouMean('xyzw', names), undefined);
  });

  it('numbers for people: sensible precision, the ASCII minus, no -0', () => {
    assert.equal(num(1024 / 4 / 48), '5.33');
    assert.equal(num(5), '5');
    assert.equal(num(-20), '-20');
    assert.equal(num(-0.001), '0');
    assert.equal(num(0.25), '0.25');
  });

  it('the real-time warning once per serve start: the first passes (with the fix for how serve was started), the next are dropped, other lines pass', () => {
    const raw = '/run/x/audio-output/sim.speaker: sbc-audio engine: memory was not locked (RLIMIT_MEMLOCK is 8 MiB, and mlockall under a finite limit makes V8 abort; run with LimitMEMLOCK=infinity to lock). Audio runs, with a higher risk of dropouts.';
    const shell = realtimeWarningOnce('shell');
    const first = shell(raw);
    assert.match(first!, /^real-time: memory was not locked/);
    assert.match(first!, /ulimit -l unlimited/);
    assert.match(first!, /prlimit --memlock=unlimited/);
    assert.equal(shell(raw), undefined, 'the second engine start says nothing');
    assert.equal(shell('client 3 dropped'), 'client 3 dropped');
    const unit = realtimeWarningOnce('systemd')(raw);
    assert.match(unit!, /LimitMEMLOCK=infinity/);
    assert.doesNotMatch(unit!, /ulimit/);
  });
});
