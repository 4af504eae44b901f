import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { playTone } from '../../src/cli/commands/tone.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');

function capture(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', isTTY: false, out(t: string) { io.stdout += `${t}\n`; }, err(t: string) { io.stderr += `${t}\n`; } };
  return io;
}

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
}

describe('sbc-audio CLI', () => {
  it('prints help for the program and for every command, exit 0', async () => {
    const io = capture();
    assert.equal(await main(['--help'], io), 0);
    for (const name of ['boards', 'info', 'tone']) assert.match(io.stdout, new RegExp(`\\n  ${name} `));
    const names = [...io.stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]!);
    for (const name of names) {
      const c = capture();
      assert.equal(await main([name, '--help'], c), 0, name);
      assert.match(c.stdout, new RegExp(`^usage: sbc-audio ${name}`), name);
    }
  });

  it('exits 2 on usage errors: unknown command, unknown option, missing --board, bad number', async () => {
    for (const argv of [['frobnicate'], ['info', '--bogus'], ['info'], ['tone', '--board', 'sim', '--level', 'loud'], ['tone', '--board', 'sim', '--level', '3']]) {
      const io = capture();
      assert.equal(await main(argv, io), 2, argv.join(' '));
      assert.ok(io.stderr.length > 0);
    }
  });

  it('exits 1 with the board file error on an invalid board', async () => {
    const io = capture();
    assert.equal(await main(['info', '--board', 'tests/fixtures/boards/bad-hal.json'], io), 1);
    assert.match(io.stderr, /invalid board file: tests\/fixtures\/boards\/bad-hal\.json: hal: expected one of "linux", "sim"/);
  });

  it('info --board sim --json prints valid JSON with devices, controls and the latency breakdown', () => {
    const r = run(['info', '--board', 'sim', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.board.name, 'sim');
    assert.equal(info.codec.address, 0x1b);
    assert.deepEqual(info.streams.map((s: { id: string }) => s.id), ['speaker', 'headphone', 'mic']);
    assert.ok(info.gainControls.some((c: { main: boolean }) => c.main));
    assert.ok(info.controls.some((c: { id: string }) => c.id === 'sim.speaker.gain'), 'every control with its metadata');
    const out48 = info.latency.find((l: { direction: string; rate: number }) => l.direction === 'output' && l.rate === 48000);
    // board/sim.json declares a 2000 ns analog output delay; it must appear with its source.
    assert.ok(out48.items.some((i: { ns: number; source: string }) => i.ns === 2000 && i.source.includes('board/sim.json')));
  });

  it('boards lists the sim board', () => {
    const r = run(['boards', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).some((b: { name: string; hal: string }) => b.name === 'sim' && b.hal === 'sim'));
  });

  it('tone --board sim --seconds 1 exits 0; the simulated device played seconds × rate frames at the requested peak', async function () {
    this.timeout(30000);
    const r = run(['tone', '--board', 'sim', '--seconds', '1', '--level', '-6', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.framesPlayed, 48000);
    assert.ok(Math.abs(res.peakDbfs - -6) < 0.01, `peak ${res.peakDbfs} dBFS`);
    assert.equal(res.xruns, 0);
  });

  it('plays a tone whose peak follows --level (in process, on the sim board)', async function () {
    this.timeout(30000);
    const res = await playTone({ boardName: 'sim', streamId: 'speaker', rate: 8000, freq: 1000, seconds: 0.25, level: -20 });
    assert.equal(res.framesPlayed, 2000);
    // 1 kHz at 8 kHz: samples at 45° steps reach the full peak; -20 dBFS is 0.1 of full scale.
    assert.ok(Math.abs(res.peakDbfs! - -20) < 0.01, `peak ${res.peakDbfs}`);
  });
});
