/**
 * The Python client (tests/py-client/stream_client.py, standard library only, written from
 * docs/PROTOCOL.md) against `sbc-audio serve --board sim` as a process, on real time: it
 * negotiates, plays a tone at 0 dB and records it over the speaker's monitor endpoint, and gets
 * back exactly the samples it played, at the frame the documented timing predicts. Negative
 * control: at -0.5 dB the samples are not the same.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLIENT = path.join(ROOT, 'tests/py-client/stream_client.py');

describe('Python client (standard library) against serve --board sim', function () {
  this.timeout(120000);
  let dir: string;
  let child: ChildProcess;

  before(async function () {
    try {
      await run('python3', ['--version']);
    } catch {
      this.skip(); // reason: no python3 on this machine
    }
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-py-'));
    child = spawn(process.execPath, [path.join(ROOT, 'bin/sbc-audio.js'), 'serve', '--board', 'sim', '--runtime-dir', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    const deadline = Date.now() + 30000;
    while (!/serving \d+ streams/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(() => {
    if (child && child.exitCode === null) child.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('plays a tone at 0 dB and records exactly those samples over the monitor, at the predicted frame', async () => {
    type Report = { exact: boolean; framesAfterPrediction: number; toneFrames: number; monitorExternalDelayNs: number; underrunsReported: number; monitorErrorsReported: number };
    // A run in which the service reported an underrun or a monitor overrun (a machine too busy to
    // run the engine or the reader in time drops frames) proves nothing either way: at most four
    // more are made (CI runs beside other work; two more were not always enough there). One without either must come back exact, at the predicted frame.
    let r: Report | undefined;
    let stdout = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      stdout = await run('python3', [CLIENT, dir, 'sim', 'speaker', '--json']).then((x) => x.stdout, (e: { stdout?: string; stderr?: string }) => e.stdout || `${e.stderr}`);
      r = JSON.parse(stdout) as Report;
      if ((r.exact && Math.abs(r.framesAfterPrediction) <= 1) || (r.underrunsReported === 0 && r.monitorErrorsReported === 0)) break;
      console.log(`      (attempt ${attempt}: ${r.underrunsReported} underruns and ${r.monitorErrorsReported} monitor errors reported by the service; again)`);
    }
    assert.equal(r!.exact, true, stdout);
    assert.equal(r!.toneFrames, 24000);
    assert.equal(r!.monitorExternalDelayNs, 50e6);
    assert.ok(Math.abs(r!.framesAfterPrediction) <= 1, `found ${r!.framesAfterPrediction} frames from the documented prediction`);
  });

  it('negative control: at -0.5 dB the recording is not the samples played (exit 1)', async () => {
    const e = await run('python3', [CLIENT, dir, 'sim', 'speaker', '--json', '--gain=-0.5']).then(() => undefined, (x: { code: number; stdout: string }) => x);
    assert.ok(e, 'the client must fail');
    assert.equal(e.code, 1);
    assert.equal((JSON.parse(e.stdout) as { exact: boolean }).exact, false);
  });
});
