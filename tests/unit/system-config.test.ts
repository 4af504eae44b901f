/**
 * The system's configuration file (/etc/sbc-audio/config.json, here $SBC_AUDIO_CONFIG_DIR): each
 * field read, each wrong one an error naming the file and the field; "binds" limiting the streams
 * `serve` publishes, checked against the board (negative control: without binds, every stream).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { ConfigFileError, boundStreams, loadConfig } from '../../src/system/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');

/** Runs the CLI in a child; the limit is a hang guard only (nothing is timed). */
function runCli(args: string[], env: NodeJS.ProcessEnv, untilServing = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    let stopped = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      // serve: everything is published once the endpoint list is printed (stdout is one write per
      // line). One SIGTERM: lines after the list (osc, alsa-in) must not send a second, which
      // would find serve's handler gone and kill it.
      if (untilServing && !stopped && /^serving (\d+) /m.test(stdout)) {
        const n = Number(/^serving (\d+) /m.exec(stdout)![1]);
        if (stdout.split('\n').filter((l) => /^ {2}(output|input) /.test(l)).length === n) {
          stopped = true;
          child.kill('SIGTERM');
        }
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`hang guard: sbc-audio ${args.join(' ')} still running after 30 s\n${stderr}`)); }, 30_000);
    child.on('close', (code) => { clearTimeout(guard); resolve({ code, stdout, stderr }); });
  });
}

describe('the system configuration file', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;
  const write = (o: unknown) => writeFileSync(file, typeof o === 'string' ? o : JSON.stringify(o));
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-config-'));
    file = path.join(dir, 'config.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every field; no file is no config', () => {
    assert.equal(loadConfig(undefined, file), undefined);
    write({ board: 'waveshare-wm8960-hat', group: 'audio', runtimeDir: '/run/sbc-audio', idlePowerDownMs: 3000, binds: ['headphone', 'microphone'] });
    assert.deepEqual(loadConfig(undefined, file), {
      file, board: 'waveshare-wm8960-hat', group: 'audio', runtimeDir: '/run/sbc-audio', idlePowerDownMs: 3000, binds: ['headphone', 'microphone'],
    });
  });

  it('each wrong field is an error naming the file and the field', () => {
    const cases: [unknown, string][] = [
      ['{ not json', `${file}: (top level): expected valid JSON`],
      [{ board: 'Bad Name' }, `${file}: board: expected a board name`],
      [{ group: 7 }, `${file}: group: expected a group name`],
      [{ runtimeDir: 'run/sbc-audio' }, `${file}: runtimeDir: expected an absolute path`],
      [{ idlePowerDownMs: -1 }, `${file}: idlePowerDownMs: expected an integer from 0 to 3600000 (ms)`],
      [{ bind: ['line-out'] }, `${file}: bind: expected no such field (known fields: board, group, runtimeDir, idlePowerDownMs, binds, mqtt, plugins, ladspaPath, dssiPath)`],
      // Issue 29: a stage names a library file in the plugin directories, never a path.
      [{ plugins: { speaker: [{ library: '/tmp/evil.so', label: 'x' }] } }, `${file}: plugins.speaker[0].library: a library's file name in the plugin directories (e.g. "cmt.so"), never a path`],
      [{ plugins: { speaker: [{ library: '../evil.so', label: 'x' }] } }, `${file}: plugins.speaker[0].library: a library's file name`],
      [{ plugins: { speaker: [{ library: 'cmt.so' }] } }, `${file}: plugins.speaker[0].label: a plugin label`],
      [{ plugins: { speaker: [{ library: 'cmt.so', label: 'amp_mono', controls: { Gain: 'loud' } }] } }, `${file}: plugins.speaker[0].controls.Gain: a number`],
      [{ plugins: { speaker: [{ library: 'cmt.so', label: 'amp_mono', gain: 1 }] } }, `${file}: plugins.speaker[0].gain: no such field`],
      [{ ladspaPath: ['lib/ladspa'] }, `${file}: ladspaPath: expected a list of absolute directories`],
      // Issue 30: DSSI directories absolute too; a stage's configure values are text, DSSI: keys the host's.
      [{ dssiPath: ['lib/dssi'] }, `${file}: dssiPath: expected a list of absolute directories`],
      [{ plugins: { speaker: [{ library: 'hexter.so', label: 'hexter', configure: { polyphony: 8 } }] } }, `${file}: plugins.speaker[0].configure.polyphony: a string`],
      [{ plugins: { speaker: [{ library: 'hexter.so', label: 'hexter', configure: { 'DSSI:PROJECT_DIRECTORY': '/' } }] } }, `${file}: plugins.speaker[0].configure.DSSI:PROJECT_DIRECTORY: keys starting with DSSI: are reserved`],
      [{ plugins: { speaker: [{ library: 'hexter.so', label: 'hexter', midiChannel: 16 }] } }, `${file}: plugins.speaker[0].midiChannel: a MIDI channel 0..15`],
      [{ plugins: { speaker: [{ library: 'hexter.so', label: 'hexter', program: [0] }] } }, `${file}: plugins.speaker[0].program: [bank, program]`],
      [{ binds: 'line-out' }, `${file}: binds: expected a non-empty array of stream ids`],
      [{ binds: [] }, `${file}: binds: expected a non-empty array of stream ids`],
      [{ binds: ['line-out', 'Line Out'] }, `${file}: binds[1]: expected a stream id (lowercase letters, digits and dashes), got "Line Out"`],
      [{ binds: ['line-out', 'line-out'] }, `${file}: binds[1]: expected each stream once, got "line-out"`],
    ];
    for (const [content, message] of cases) {
      write(content);
      assert.throws(() => loadConfig(undefined, file), (e: Error) => e instanceof ConfigFileError && e.message.startsWith(message), `${JSON.stringify(content)} -> ${message}`);
    }
  });

  it('binds: the streams of the board, in the board\'s order; one the board lacks names the file, field and the streams there are', () => {
    const board = loadBoard('sim');
    write({ binds: ['mic', 'speaker'] });
    assert.deepEqual(boundStreams(board, loadConfig(undefined, file)), ['speaker', 'mic']);
    write({ binds: ['speaker', 'line-out'] });
    assert.throws(() => boundStreams(board, loadConfig(undefined, file)),
      { message: `${file}: binds[1]: expected a stream of board sim (speaker, headphone, mic), got "line-out"` });
    // Negative control: no binds, or no file: every stream.
    write({ board: 'sim' });
    assert.deepEqual(boundStreams(board, loadConfig(undefined, file)), ['speaker', 'headphone', 'mic']);
    assert.deepEqual(boundStreams(board, undefined), ['speaker', 'headphone', 'mic']);
  });

  describe('serve with the file (SBC_AUDIO_CONFIG_DIR)', () => {
    const endpoints = (stdout: string) => stdout.split('\n').filter((l) => /^ {2}(output|input) /.test(l)).map((l) => path.basename(l.trim().split(/\s+/)[1]!));

    it('publishes only the bound streams of the config\'s board (and the monitor of the bound output)', async () => {
      write({ board: 'sim', binds: ['speaker', 'mic'] });
      const r = await runCli(['serve', '--runtime-dir', path.join(dir, 'rt'), '--quiet'], { SBC_AUDIO_CONFIG_DIR: dir }, true);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(endpoints(r.stdout), ['sim.speaker', 'sim.mic', 'sim.speaker.monitor']);
    });

    it('negative control: without binds every stream is published; --board naming another board ignores them', async () => {
      write({ board: 'sim' });
      let r = await runCli(['serve', '--runtime-dir', path.join(dir, 'rt'), '--quiet'], { SBC_AUDIO_CONFIG_DIR: dir }, true);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(endpoints(r.stdout), ['sim.speaker', 'sim.headphone', 'sim.mic', 'sim.speaker.monitor', 'sim.headphone.monitor']);
      write({ board: 'sim', binds: ['speaker'] });
      r = await runCli(['serve', '--board', 'pimoroni-phat-dac-sim', '--runtime-dir', path.join(dir, 'rt'), '--quiet'], { SBC_AUDIO_CONFIG_DIR: dir }, true);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(endpoints(r.stdout), ['pimoroni-phat-dac-sim.line-out', 'pimoroni-phat-dac-sim.line-out.monitor']);
    });

    it('a bind the board lacks: exit 1 before anything is published, naming the file and the field', async () => {
      write({ board: 'sim', binds: ['line-out'] });
      const rt = path.join(dir, 'rt');
      mkdirSync(rt);
      const r = await runCli(['serve', '--runtime-dir', rt], { SBC_AUDIO_CONFIG_DIR: dir });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `sbc-audio serve: ${file}: binds[0]: expected a stream of board sim (speaker, headphone, mic), got "line-out"\n`);
      assert.equal(r.stdout, '');
    });
  });
});
