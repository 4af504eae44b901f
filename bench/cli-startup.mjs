// Start-up of the installed command line (issue 25), measured as a user meets it: `npm pack`, then
// `npm install -g <tarball> --prefix <tmp>`, then the installed `sbc-audio` (its bin shim, through
// PATH's node) against `node -e 0` in the same run, interleaved, median of N runs each (default 5).
// Targets: `sbc-audio --help` ≤ 1.5 × `node -e 0`, `sbc-audio info --board sim` ≤ 2 ×.
// Exit 0 when both hold, 1 when one does not. Not part of `make test`.
//
//   node bench/cli-startup.mjs [--runs N] [--prefix DIR]   (--prefix: an install made before; no pack)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { runs: { type: 'string' }, prefix: { type: 'string' } } });
const runs = Number(values.runs ?? 5);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number from 1, got "${values.runs}"`);

const nodeDir = path.dirname(process.execPath);
const env = { ...process.env, PATH: `${nodeDir}:${process.env.PATH ?? ''}` };
let prefix = values.prefix;
let made;
if (!prefix) {
  made = mkdtempSync(path.join(tmpdir(), 'sbc-cli-startup-'));
  prefix = path.join(made, 'global');
  const packDir = path.join(made, 'pack');
  execFileSync('mkdir', ['-p', packDir]);
  console.log('npm pack (builds dist/) ...');
  execFileSync('npm', ['pack', '--pack-destination', packDir, '--silent'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const tgz = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack left no tarball in ${packDir}`);
  console.log(`npm install -g ${tgz} --prefix ${prefix} ...`);
  execFileSync('npm', ['install', '-g', path.join(packDir, tgz), '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', '--silent'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}
const shim = path.join(prefix, 'bin', 'sbc-audio');
if (!existsSync(shim)) throw new Error(`no ${shim}: not an install of the package (npm install -g … --prefix ${prefix})`);

const cases = [
  { name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'] },
  { name: 'sbc-audio --help', cmd: shim, args: ['--help'], limit: 1.5 },
  { name: 'sbc-audio info --board sim', cmd: shim, args: ['info', '--board', 'sim'], limit: 2 },
];

function once(c) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

// One warm-up each (the page cache, not a measure), then the runs interleaved so that a slower
// moment of the machine falls on every case alike.
for (const c of cases) once(c);
const times = cases.map(() => []);
for (let i = 0; i < runs; i++) cases.forEach((c, k) => times[k].push(once(c)));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const base = median(times[0]);
let ok = true;
console.log(`node ${process.version}, median of ${runs} runs, installed at ${prefix}`);
for (const [k, c] of cases.entries()) {
  const med = median(times[k]);
  const ratio = med / base;
  const verdict = c.limit === undefined ? 'baseline' : ratio <= c.limit ? `ok (≤ ${c.limit}×)` : `OVER (limit ${c.limit}×)`;
  if (c.limit !== undefined && ratio > c.limit) ok = false;
  console.log(`  ${c.name.padEnd(28)} ${med.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2).padStart(5)}×  ${verdict}   runs: ${times[k].map((t) => t.toFixed(0)).join(' ')} ms`);
}
if (made) rmSync(made, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
