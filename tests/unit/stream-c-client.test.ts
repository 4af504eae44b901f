/**
 * The C client (tests/c-client/stream_client.c, written from docs/PROTOCOL.md and
 * docs/facts/stream-protocol.md only) compiled with gcc and run against the sim board's service: the wire format does not
 * depend on the TypeScript encoder. Expected lines are literals from board/sim.json and the
 * sim codec's register description.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';

const run = promisify(execFile);
const SOURCE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../c-client/stream_client.c');

describe('C client (gcc, _Static_assert on every struct) against the sim board', function () {
  this.timeout(60000);
  let dir: string;
  let exe: string;
  const boards: { rt: BoardRuntime; svc: StreamService }[] = [];

  before(async function () {
    try {
      await run('gcc', ['--version']);
    } catch {
      this.skip(); // no compiler on this machine
    }
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-cclient-'));
    exe = path.join(dir, 'stream_client');
    // The build command documented in the source's header comment (and tests/c-client/README.md).
    await run('gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2', '-o', exe, SOURCE]);
    const clock = new VirtualClock(1e9, true);
    for (const name of ['sim', 'sim-many-formats']) {
      const rt = await openBoard(loadBoard(name), { clock });
      boards.push({ rt, svc: await startStreamService(rt, { runtimeDir: path.join(dir, 'run') }) });
    }
  });

  after(async () => {
    for (const { rt, svc } of boards) {
      await svc.close();
      await rt.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists formats, reads the gain, sets -10.25 dB (a tie: -10.5 dB) and reads it back', async () => {
    const { stdout } = await run(exe, [path.join(dir, 'run/audio-output/sim.headphone'), '-10.25']);
    assert.equal(stdout, [
      'manufacturer result=0 "sbc-audio (simulation)"',
      'range 0 sample_formats=0x4 min_fps=8000 max_fps=192000 min_channels=1 max_channels=2 flags=0x2',
      'range 1 sample_formats=0x4 min_fps=11025 max_fps=176400 min_channels=1 max_channels=2 flags=0x4',
      'formats 2',
      // The sim board's stated default (board/sim.json controlDefaults): -20 dB, unmuted.
      'gain cur=-20.000 mute=0 can_mute=1 can_agc=0 min=-127.000 max=0.000 step=0.500',
      'set_gain result=0 cur=-10.500 mute=0',
      'gain cur=-10.500 mute=0 can_mute=1 can_agc=0 min=-127.000 max=0.000 step=0.500',
      '',
    ].join('\n'));
  });

  it('reads all three GET_FORMATS pages of a stream with 42 ranges', async () => {
    const { stdout } = await run(exe, [path.join(dir, 'run/audio-output/sim-many-formats.speaker')]);
    const lines = stdout.trim().split('\n');
    assert.ok(lines.includes('formats 42'));
    assert.equal(lines.filter((l) => l.startsWith('range ')).length, 42);
    assert.equal(lines.find((l) => l.startsWith('range 41 ')), 'range 41 sample_formats=0x4 min_fps=12000 max_fps=12000 min_channels=1 max_channels=2 flags=0x1');
  });

  it('ring buffer: STOP and START before GET_BUFFER are BAD_STATE (-20); then buffer, START, a position, STOP', async () => {
    const { stdout } = await run(exe, [path.join(dir, 'run/audio-output/sim.speaker'), '--ring-buffer']);
    const lines = stdout.trim().split('\n');
    assert.deepEqual(lines.slice(lines.indexOf('formats 2') + 2), [
      'set_format result=0 external_delay_nsec=168667',
      'stop_before_buffer result=-20',
      'start_before_buffer result=-20',
      'fifo_depth result=0 bytes=1024',
      'get_buffer result=0 frames=4800 path=/dev/shm/...',
      'start result=0 start_time_nonzero=1',
      'position pos=4800 after_start=1',
      'stop result=0',
    ]);
  });

  it('the fixed-gain microphone reports 0/0/0 and refuses nothing in range', async () => {
    const { stdout } = await run(exe, [path.join(dir, 'run/audio-input/sim.mic'), '0']);
    assert.match(stdout, /^gain cur=0\.000 mute=0 can_mute=0 can_agc=0 min=0\.000 max=0\.000 step=0\.000$/m);
    assert.match(stdout, /^set_gain result=0 cur=0\.000 mute=0$/m);
  });
});
